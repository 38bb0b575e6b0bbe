//! Augmentation of training images: what `--augment` asks for, and each sample's random
//! draws.
//!
//! Consumes: an `--augment` text such as `crop=4,flip`, and per sample a generator
//! seeded from `(seed, epoch, dataset index)` ([`sample_seed`]).
//!
//! Produces: an [`Augment`] and, per sample, a [`Draw`]: a shift of the image in the
//! field, a horizontal flip and a resized-crop box, applied by the pipeline in this
//! order: random-resized crop (instead of the resize and centre crop) → shift → crop
//! with padding → flip, all in one pass with the normalisation.
//!
//! The items (torchvision's names in brackets):
//! - `shift=N`: move the image by a whole number of pixels in `−N..=N` along each axis,
//!   filling with raw 0 (background). Its draws come from one stream per epoch, taken
//!   in the epoch's order, as netc has always drawn them, so that MNIST runs are
//!   unchanged; the table is made before the epoch's first batch, so it does not depend
//!   on which thread fills which batch. `--augment N` (a bare number) means `shift=N`.
//! - `crop=P` (`RandomCrop(size, padding=P)`): pad P pixels of raw 0 on each side, then
//!   take a random field-sized window. torchvision pads the PIL image, i.e. raw 0 before
//!   `ToTensor` and `Normalize`, so the padding is what normalisation makes of 0 (the
//!   background), not 0 after normalisation. Same translations as `shift=P`, drawn per
//!   sample.
//! - `flip` (`RandomHorizontalFlip()`): mirror left-right with probability ½.
//! - `rrc[=SCALE[:RATIO]]` (`RandomResizedCrop(size, scale, ratio)`): a random box of
//!   the stored image, of area `scale` × the image's (default 0.08-1) and aspect
//!   (width / height) in `ratio` (default 3/4-4/3, drawn log-uniformly), resized to the
//!   field; after 10 boxes that do not fit, the central box of the image clamped to the
//!   ratio range, as torchvision. The box is taken from the image as stored (shorter
//!   side at most the resize size R, see the loader), not from the original file.
//!
//! `none` (or `0`) turns augmentation off. Evaluation never augments.

use crate::data::rng::{mix_seed, Rng};
use std::fmt;

/// Scale and aspect-ratio ranges of a random-resized crop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResizedCrop {
    /// Fraction of the image's area, `0 < lo ≤ hi ≤ 1`.
    pub scale: (f64, f64),
    /// Width / height, `0 < lo ≤ hi`.
    pub ratio: (f64, f64),
}

impl Default for ResizedCrop {
    fn default() -> Self {
        ResizedCrop { scale: (0.08, 1.0), ratio: (3.0 / 4.0, 4.0 / 3.0) }
    }
}

/// What to do to each training image; the default does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Augment {
    /// Largest shift in pixels (`shift=N`), 0 for none.
    pub shift: usize,
    /// Padding of the random crop (`crop=P`), 0 for none.
    pub crop: usize,
    /// Random horizontal flip.
    pub flip: bool,
    /// Random-resized crop.
    pub rrc: Option<ResizedCrop>,
}

/// A box of the stored image: top, left, height, width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    pub top: usize,
    pub left: usize,
    pub h: usize,
    pub w: usize,
}

/// The random decisions for one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Draw {
    /// Rows and columns the image moves down and right (shift and crop together).
    pub dy: isize,
    pub dx: isize,
    pub flip: bool,
    pub rrc: Option<CropBox>,
}

/// The seed of sample `index`'s draws in `epoch` of a run seeded with `seed`.
pub fn sample_seed(seed: u64, epoch: u64, index: usize) -> u64 {
    mix_seed(mix_seed(mix_seed(seed, epoch), 0xA06_0E47), index as u64)
}

/// The generator of the shifts of one epoch (see the module docs).
pub fn shift_stream(seed: u64, epoch: u64) -> Rng {
    Rng::new(mix_seed(mix_seed(seed, epoch), 0x5157))
}

/// Python's `round` (halves to even), for the box sizes torchvision computes.
fn round_even(x: f64) -> usize {
    let r = x.round();
    let r = if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 { r - x.signum() } else { r };
    r.max(0.0) as usize
}

/// torchvision's `RandomResizedCrop.get_params` for an `h × w` image.
pub fn resized_crop_box(rng: &mut Rng, (h, w): (usize, usize), range: &ResizedCrop) -> CropBox {
    let area = (h * w) as f64;
    let (log_lo, log_hi) = (range.ratio.0.ln(), range.ratio.1.ln());
    for _ in 0..10 {
        let target = area * (range.scale.0 + (range.scale.1 - range.scale.0) * rng.next_f64());
        let aspect = (log_lo + (log_hi - log_lo) * rng.next_f64()).exp();
        let bw = round_even((target * aspect).sqrt());
        let bh = round_even((target / aspect).sqrt());
        if bw > 0 && bw <= w && bh > 0 && bh <= h {
            let top = rng.below((h - bh + 1) as u64) as usize;
            let left = rng.below((w - bw + 1) as u64) as usize;
            return CropBox { top, left, h: bh, w: bw };
        }
    }
    fallback_box((h, w), range)
}

/// The box torchvision falls back to: the whole image, clamped to the ratio range, centred.
pub fn fallback_box((h, w): (usize, usize), range: &ResizedCrop) -> CropBox {
    let in_ratio = w as f64 / h as f64;
    let (bh, bw) = if in_ratio < range.ratio.0 {
        (round_even(w as f64 / range.ratio.0).clamp(1, h), w)
    } else if in_ratio > range.ratio.1 {
        (h, round_even(h as f64 * range.ratio.1).clamp(1, w))
    } else {
        (h, w)
    };
    CropBox { top: (h - bh) / 2, left: (w - bw) / 2, h: bh, w: bw }
}

impl Augment {
    /// Nothing at all.
    pub fn none() -> Augment {
        Augment::default()
    }

    /// `shift=n` only.
    pub fn shift(n: usize) -> Augment {
        Augment { shift: n, ..Augment::default() }
    }

    /// True when nothing is augmented.
    pub fn is_none(&self) -> bool {
        *self == Augment::default()
    }

    /// True when a sample needs its own generator (anything but shifts).
    pub fn draws_per_sample(&self) -> bool {
        self.crop > 0 || self.flip || self.rrc.is_some()
    }

    /// The draws of one sample whose stored image is `image` (h, w): `shift` is its entry
    /// of the epoch's shift table, `rng` its own generator (see [`sample_seed`]).
    pub fn draw(&self, rng: &mut Rng, image: (usize, usize), shift: (isize, isize)) -> Draw {
        let rrc = self.rrc.map(|r| resized_crop_box(rng, image, &r));
        let (mut dy, mut dx) = shift;
        if self.crop > 0 {
            // A window at (oy, ox) of the padded image moves the image by P − o.
            let span = 2 * self.crop as u64 + 1;
            dy += self.crop as isize - rng.below(span) as isize;
            dx += self.crop as isize - rng.below(span) as isize;
        }
        let flip = self.flip && rng.next_f64() < 0.5;
        Draw { dy, dx, flip, rrc }
    }

    /// Refuses shifts and paddings that can move the whole image out of the field: a
    /// shift of at least the (centred) `image`'s smaller side, a padding of at least the
    /// `field`'s.
    pub fn check(&self, image: (usize, usize), field: (usize, usize)) -> Result<(), String> {
        let small = image.0.min(image.1);
        if self.shift >= small {
            return Err(format!(
                "shift={} would move {}×{} images by up to their whole size, off the field; use at most {} \
                 (1 to 4 is typical, none turns augmentation off)",
                self.shift,
                image.0,
                image.1,
                small.saturating_sub(1)
            ));
        }
        let small = field.0.min(field.1);
        if self.crop >= small {
            return Err(format!(
                "crop={} pads by the whole {}×{} field, so a crop could hold no image; use at most {} \
                 (4 for 32×32 is typical)",
                self.crop,
                field.0,
                field.1,
                small.saturating_sub(1)
            ));
        }
        Ok(())
    }
}

fn range(text: &str, what: &str) -> Result<(f64, f64), String> {
    let number = |t: &str| -> Result<f64, String> {
        let v = match t.split_once('/') {
            Some((a, b)) => a.trim().parse::<f64>().ok().zip(b.trim().parse::<f64>().ok()).map(|(a, b)| a / b),
            None => t.trim().parse().ok(),
        };
        v.filter(|v| v.is_finite() && *v > 0.0).ok_or_else(|| format!("the {what} `{t}` is not a positive number"))
    };
    let (lo, hi) = match text.split_once('-') {
        Some((lo, hi)) => (number(lo)?, number(hi)?),
        None => {
            let v = number(text)?;
            (v, v)
        }
    };
    if lo > hi {
        return Err(format!("the {what} range {text} runs backwards"));
    }
    Ok((lo, hi))
}

impl std::str::FromStr for Augment {
    type Err = String;

    /// `none`, `N` (= `shift=N`), or a comma-separated list of `shift=N`, `crop=P`,
    /// `flip`, `rrc`, `rrc=LO-HI`, `rrc=LO-HI:LO-HI` (scale, then ratio; `3/4` allowed).
    fn from_str(s: &str) -> Result<Augment, String> {
        let s = s.trim();
        if s == "none" {
            return Ok(Augment::none());
        }
        if let Ok(n) = s.parse::<usize>() {
            return Ok(Augment::shift(n));
        }
        let usage = "items are shift=N, crop=P, flip and rrc[=SCALE[:RATIO]], e.g. crop=4,flip or rrc=0.08-1,flip";
        let mut a = Augment::none();
        let mut seen = Vec::new();
        for item in s.split(',').map(str::trim) {
            let (key, value) = item.split_once('=').map_or((item, None), |(k, v)| (k.trim(), Some(v.trim())));
            if seen.contains(&key) {
                return Err(format!("`{key}` appears twice in `{s}`"));
            }
            seen.push(key);
            let count = |v: Option<&str>| -> Result<usize, String> {
                let v = v.ok_or_else(|| format!("`{key}` needs a number of pixels, e.g. {key}=4"))?;
                v.parse().map_err(|_| format!("`{key}={v}`: not a whole number of pixels"))
            };
            match key {
                "shift" => a.shift = count(value)?,
                "crop" => a.crop = count(value)?,
                "flip" if value.is_none() => a.flip = true,
                "flip" => return Err(format!("`{item}`: flip takes no value (it mirrors half the images)")),
                "rrc" => {
                    let mut r = ResizedCrop::default();
                    if let Some(v) = value {
                        let (scale, ratio) = v.split_once(':').map_or((v, None), |(a, b)| (a, Some(b)));
                        r.scale = range(scale, "scale")?;
                        if r.scale.1 > 1.0 {
                            return Err(format!("`{item}`: the scale is a fraction of the image's area, at most 1"));
                        }
                        if let Some(ratio) = ratio {
                            r.ratio = range(ratio, "ratio")?;
                        }
                    }
                    a.rrc = Some(r);
                }
                "" => return Err(format!("an empty item in `{s}`; {usage}")),
                other => return Err(format!("unknown augmentation `{other}`; {usage}, or none")),
            }
        }
        Ok(a)
    }
}

impl fmt::Display for Augment {
    /// The canonical text, which parses back to the same value: `none`, `shift=1`,
    /// `crop=4,flip`, `rrc,flip` (the default ranges), `rrc=0.25-1:0.5-2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        match self.rrc {
            Some(r) if r == ResizedCrop::default() => items.push("rrc".to_string()),
            Some(r) => items.push(format!("rrc={}-{}:{}-{}", r.scale.0, r.scale.1, r.ratio.0, r.ratio.1)),
            None => {}
        }
        if self.shift > 0 {
            items.push(format!("shift={}", self.shift));
        }
        if self.crop > 0 {
            items.push(format!("crop={}", self.crop));
        }
        if self.flip {
            items.push("flip".into());
        }
        if items.is_empty() {
            return write!(f, "none");
        }
        write!(f, "{}", items.join(","))
    }
}
