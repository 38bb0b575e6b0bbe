//! The `synthetic` dataset: oriented bars, generated in memory.
//!
//! Consumes: a [`SyntheticConfig`] (seed and split sizes).
//!
//! Produces: [`Splits`] of 28×28 single-channel `u8` images in 10 classes,
//! MNIST-like (0 = background, bright strokes), so every network that takes
//! MNIST also takes this.
//!
//! Class `k` is a soft-edged bar of random length and thickness whose
//! orientation is `k × 18°` (0°, 18°, …, 162°) plus up to ±4° of jitter,
//! centred within ±2 px of the image centre, with random ink intensity and
//! additive Gaussian pixel noise. Neighbouring classes stay at least 10°
//! apart, so the task is learnable (a small CNN should reach high accuracy)
//! but not trivially pixel-identical. Labels are balanced (`count / 10` per
//! class, remainder spread over the lowest labels) and in shuffled order.
//!
//! Guarantees: the same config gives byte-identical output everywhere; the
//! training and test splits use independent random streams derived from
//! the seed.

use crate::data::dataset::{Dataset, Splits};
use crate::data::error::DataError;
use crate::data::images::ImageSet;
use crate::data::rng::{mix_seed, Rng};

/// Side length of synthetic images.
pub const SIDE: usize = 28;
/// Number of synthetic classes.
pub const CLASSES: usize = 10;

/// Parameters of the synthetic dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticConfig {
    /// Seed for everything generated.
    pub seed: u64,
    /// Training images (at least 1).
    pub train: usize,
    /// Test images (at least 1).
    pub test: usize,
}

impl Default for SyntheticConfig {
    /// Seed 1998, 6,000 training and 1,000 test images.
    fn default() -> Self {
        SyntheticConfig { seed: 1998, train: 6000, test: 1000 }
    }
}

/// Generates both splits.
pub fn generate(cfg: &SyntheticConfig) -> Result<Splits, DataError> {
    if cfg.train == 0 || cfg.test == 0 {
        return Err(DataError::InvalidOption {
            what: format!(
                "synthetic dataset needs at least 1 image per split (train {}, test {})",
                cfg.train, cfg.test
            ),
        });
    }
    Ok(Splits {
        train: generate_split(cfg.train, mix_seed(cfg.seed, 1))?,
        test: generate_split(cfg.test, mix_seed(cfg.seed, 2))?,
        warnings: Vec::new(),
    })
}

/// Class names: the orientation of each class's bar ("0°", "18°", …, "162°").
pub fn class_names() -> Vec<String> {
    (0..CLASSES).map(|k| format!("{}°", 18 * k)).collect()
}

fn generate_split(count: usize, seed: u64) -> Result<Dataset, DataError> {
    let mut rng = Rng::new(seed);
    let mut labels: Vec<u16> = (0..count).map(|i| (i % CLASSES) as u16).collect();
    rng.shuffle(&mut labels);
    let mut images = vec![0u8; count * SIDE * SIDE];
    for (img, &label) in images.chunks_exact_mut(SIDE * SIDE).zip(&labels) {
        draw_bar(img, label, &mut rng);
    }
    Ok(Dataset {
        name: "synthetic".to_string(),
        images: ImageSet::fixed(1, SIDE, SIDE, images)?,
        labels,
        classes: class_names(),
        files: Vec::new(),
    })
}

/// Random parameters of one bar.
struct Bar {
    cx: f32,
    cy: f32,
    dx: f32,
    dy: f32,
    half_len: f32,
    half_width: f32,
    ink: f32,
}

impl Bar {
    fn sample(label: u16, rng: &mut Rng) -> Bar {
        let degrees = 18.0 * f32::from(label) + rng.uniform(-4.0, 4.0);
        let (dy, dx) = degrees.to_radians().sin_cos();
        let mid = (SIDE as f32 - 1.0) / 2.0;
        Bar {
            cx: mid + rng.uniform(-2.0, 2.0),
            cy: mid + rng.uniform(-2.0, 2.0),
            dx,
            dy,
            half_len: rng.uniform(7.0, 11.0),
            half_width: rng.uniform(1.0, 2.0),
            ink: rng.uniform(190.0, 255.0),
        }
    }

    /// Distance from pixel centre (x, y) to the bar's centre segment.
    fn distance(&self, x: f32, y: f32) -> f32 {
        let (px, py) = (x - self.cx, y - self.cy);
        let along = (px * self.dx + py * self.dy).clamp(-self.half_len, self.half_len);
        let (qx, qy) = (px - along * self.dx, py - along * self.dy);
        (qx * qx + qy * qy).sqrt()
    }
}

/// Draws one bar of class `label` plus noise into a 28×28 image.
fn draw_bar(img: &mut [u8], label: u16, rng: &mut Rng) {
    let bar = Bar::sample(label, rng);
    for (i, px) in img.iter_mut().enumerate() {
        let (y, x) = ((i / SIDE) as f32, (i % SIDE) as f32);
        // Full ink inside the core, linear fall-off over 2 px at the edge.
        let cover = ((bar.half_width + 1.0 - bar.distance(x, y)) / 2.0).clamp(0.0, 1.0);
        let value = bar.ink * cover + rng.normal(0.0, 12.0);
        *px = value.round().clamp(0.0, 255.0) as u8;
    }
}
