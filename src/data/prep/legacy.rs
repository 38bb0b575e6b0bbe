//! Preprocessing: raw `u8` images → `f32` network input (NCHW).
//!
//! Consumes: a [`Dataset`] (1-channel, rows×cols), the network's input shape
//! `(c, h, w)` and a [`Scaling`].
//!
//! Produces: a [`Prep`] that writes one `h × w` plane per image (`c == 1`),
//! with the image centred in the field and the border filled with the value
//! raw 0 (background) maps to.
//!
//! Rules: `c` must be 1; `h`/`w` must be at least the image size. Images are
//! never cropped or resampled. When `h - rows` (or `w - cols`) is odd the
//! extra padding row (column) goes at the bottom (right). For LeNet-5's
//! 32×32 input this reproduces LeCun et al. 1998 ("Gradient-based learning
//! applied to document recognition", Sec. II-B, the LeNet-5 description): the
//! 28×28 MNIST field centred in the 32×32 input, i.e. a 2-pixel border.

use crate::data::dataset::Dataset;
use crate::data::error::DataError;

/// Input value of background (raw 0) under [`Scaling::Lecun1998`].
pub const LECUN_BACKGROUND: f32 = -0.1;
/// Input value of full ink (raw 255) under [`Scaling::Lecun1998`].
pub const LECUN_INK: f32 = 1.175;

/// How raw bytes become input values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scaling {
    /// Linear map with background (0) → −0.1 and full ink (255) → 1.175, as
    /// in LeCun et al. 1998, Sec. II-B (LeNet-5), which makes the input mean roughly 0
    /// and variance roughly 1 to speed up learning.
    Lecun1998,
    /// `(x / 255 − mean) / std`, with `mean`/`std` from [`mean_std`] over the
    /// training split.
    Standardize {
        /// Mean of `x / 255` over the training pixels.
        mean: f32,
        /// Population standard deviation of `x / 255`; must be > 0.
        std: f32,
    },
}

impl Scaling {
    /// `Standardize` with moments computed from `train`.
    pub fn standardize_from(train: &Dataset) -> Result<Scaling, DataError> {
        let (mean, std) = mean_std(train)?;
        Ok(Scaling::Standardize { mean, std })
    }

    fn value(self, raw: u8) -> f32 {
        let x = f64::from(raw);
        let v = match self {
            Scaling::Lecun1998 => {
                let (lo, hi) = (f64::from(LECUN_BACKGROUND), f64::from(LECUN_INK));
                lo + x * (hi - lo) / 255.0
            }
            Scaling::Standardize { mean, std } => (x / 255.0 - f64::from(mean)) / f64::from(std),
        };
        v as f32
    }

    fn validate(self) -> Result<(), DataError> {
        match self {
            Scaling::Standardize { mean, std } if !(mean.is_finite() && std.is_finite() && std > 0.0) => {
                Err(DataError::InvalidOption {
                    what: format!("standardization needs a finite mean and std > 0 (got mean {mean}, std {std})"),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Mean and population standard deviation of `x / 255` over every pixel of
/// `ds` (computed exactly with integer sums).
pub fn mean_std(ds: &Dataset) -> Result<(f32, f32), DataError> {
    let pixels = ds.images.pixels();
    if pixels.is_empty() {
        return Err(DataError::InvalidOption {
            what: format!("cannot compute mean/std of empty dataset '{}'", ds.name),
        });
    }
    let (sum, sum_sq) = pixels.iter().fold((0u64, 0u64), |(s, q), &p| {
        let p = u64::from(p);
        (s + p, q + p * p)
    });
    let n = pixels.len() as f64;
    let mean = sum as f64 / n / 255.0;
    let var = (sum_sq as f64 / n / (255.0 * 255.0) - mean * mean).max(0.0);
    Ok((mean as f32, var.sqrt() as f32))
}

/// Maps images of one dataset onto a network input field.
#[derive(Debug, Clone)]
pub struct Prep {
    rows: usize,
    cols: usize,
    h: usize,
    w: usize,
    top: usize,
    left: usize,
    table: [f32; 256],
}

impl Prep {
    /// Checks `input = (c, h, w)` against `ds` and precomputes the mapping.
    pub fn new(ds: &Dataset, input: (usize, usize, usize), scaling: Scaling) -> Result<Prep, DataError> {
        let (c, h, w) = input;
        let (rows, cols) = ds.images.fixed_size().unwrap_or((0, 0));
        let fail = |reason: String| DataError::InputShape {
            dataset: ds.name.clone(),
            channels: ds.images.channels(),
            rows,
            cols,
            want: input,
            reason,
        };
        if ds.images.channels() != 1 {
            return Err(fail("only 1-channel datasets can be fed for now".into()));
        }
        if ds.images.fixed_size().is_none() {
            return Err(fail("the images differ in size and no resize rule is set".into()));
        }
        if c != 1 {
            return Err(fail(format!("the network's input must have 1 channel, not {c}")));
        }
        if h < rows || w < cols {
            return Err(fail(format!(
                "the input must be at least {rows}×{cols} (images are centred, never cropped or resized)"
            )));
        }
        scaling.validate()?;
        let mut table = [0f32; 256];
        for (raw, v) in table.iter_mut().enumerate() {
            *v = scaling.value(raw as u8);
        }
        let (top, left) = ((h - rows) / 2, (w - cols) / 2);
        Ok(Prep { rows, cols, h, w, top, left, table })
    }

    /// The input shape `(1, h, w)` this writes.
    pub fn input_shape(&self) -> (usize, usize, usize) {
        (1, self.h, self.w)
    }

    /// Source image size `(rows, cols)` this was built for.
    pub fn image_size(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Floats written per image (`h * w`).
    pub fn sample_len(&self) -> usize {
        self.h * self.w
    }

    /// Row and column in the field where image pixel (0, 0) lands.
    pub fn offset(&self) -> (usize, usize) {
        (self.top, self.left)
    }

    /// Value of a raw byte (padding uses `value(0)`).
    pub fn value(&self, raw: u8) -> f32 {
        self.table[raw as usize]
    }

    /// Writes one image (`rows * cols` bytes) into `out` (`h * w` floats).
    pub fn fill(&self, image: &[u8], out: &mut [f32]) -> Result<(), DataError> {
        if image.len() != self.rows * self.cols || out.len() != self.sample_len() {
            return Err(DataError::InvalidOption {
                what: format!(
                    "prep buffer sizes: image {} bytes (want {}), output {} floats (want {})",
                    image.len(),
                    self.rows * self.cols,
                    out.len(),
                    self.sample_len()
                ),
            });
        }
        self.fill_unchecked(image, out);
        Ok(())
    }

    /// `fill` for callers that have already matched the sizes.
    pub(crate) fn fill_unchecked(&self, image: &[u8], out: &mut [f32]) {
        self.fill_shifted(image, out, 0, 0);
    }

    /// Writes the image moved by `dy` rows and `dx` columns from its centred place;
    /// pixels moved out of the field are dropped and uncovered ones are background.
    pub fn fill_shifted(&self, image: &[u8], out: &mut [f32], dy: isize, dx: isize) {
        out.fill(self.table[0]);
        let (top, left) = (self.top as isize + dy, self.left as isize + dx);
        // Image columns c0..c1 land inside the field, at columns left + c.
        let c0 = (-left).clamp(0, self.cols as isize) as usize;
        let c1 = (self.w as isize - left).clamp(0, self.cols as isize) as usize;
        for (r, src) in image.chunks_exact(self.cols).enumerate() {
            let row = top + r as isize;
            if row < 0 || row >= self.h as isize || c0 >= c1 {
                continue;
            }
            let start = row as usize * self.w + (left + c0 as isize) as usize;
            for (d, &v) in out[start..start + (c1 - c0)].iter_mut().zip(&src[c0..c1]) {
                *d = self.table[v as usize];
            }
        }
    }

    /// Whole split as one `count × 1 × h × w` tensor.
    pub fn prepare(&self, ds: &Dataset) -> Result<Vec<f32>, DataError> {
        let n = self.sample_len();
        let mut out = vec![0f32; ds.count() * n];
        for (i, dst) in out.chunks_exact_mut(n).enumerate() {
            self.fill(ds.image(i).pixels, dst)?;
        }
        Ok(out)
    }
}
