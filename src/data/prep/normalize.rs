//! The normalisation step: a raw byte of channel `c` → the net's input value.
//!
//! Consumes: a [`NormalizeOption`] (what the user asked for) and, for the default, the
//! training images after the channel step (for a split streamed from disk, the pixel
//! counts its files gave at load time, [`crate::data::pixel_counts`]: the same numbers).
//!
//! Produces: a [`Normalize`] with its constants, and per channel a table of the 256
//! values a byte can take (so that feeding is a lookup).
//!
//! The forms, all on `x / 255` as torchvision's `ToTensor` + `Normalize`:
//! - `MeanStd`: `(x / 255 − mean[c]) / std[c]`, with the constants of the training set
//!   (the default; population moments over every stored training pixel, computed exactly
//!   with integer sums), of ImageNet (0.485, 0.456, 0.406 / 0.229, 0.224, 0.225), given
//!   by the user, or none (mean 0, std 1: `x / 255`).
//! - `Lecun`: LeCun et al. 1998 (Sec. II-B): background (0) → −0.1, ink (255) → 1.175,
//!   linear in between, for every channel.
//!
//! The constants are `f32`; each table entry is computed in `f64` from them and rounded
//! once to `f32`.

use crate::data::dataset::Dataset;
use crate::data::error::DataError;
use crate::data::pixel_counts::Histogram;
use crate::data::prep::channels::{luma, Channels};

/// Input value of background (raw 0) under [`Normalize::Lecun`].
pub const LECUN_BACKGROUND: f32 = -0.1;
/// Input value of full ink (raw 255) under [`Normalize::Lecun`].
pub const LECUN_INK: f32 = 1.175;
/// ImageNet's per-channel mean of `x / 255` (R, G, B), as torchvision's models use it.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation of `x / 255` (R, G, B).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Where the mean and standard deviation of a [`Normalize::MeanStd`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Computed on the training images.
    TrainingSet,
    /// [`IMAGENET_MEAN`] and [`IMAGENET_STD`].
    Imagenet,
    /// Given by the user.
    Given,
    /// Mean 0, std 1: plain `x / 255`.
    Unit,
}

impl Origin {
    /// Name in `netc.preprocess`.
    pub fn key(self) -> &'static str {
        match self {
            Origin::TrainingSet => "training-set",
            Origin::Imagenet => "imagenet",
            Origin::Given => "given",
            Origin::Unit => "none",
        }
    }

    /// The origin named `key`.
    pub fn from_key(key: &str) -> Option<Origin> {
        [Origin::TrainingSet, Origin::Imagenet, Origin::Given, Origin::Unit].into_iter().find(|o| o.key() == key)
    }
}

/// How bytes become input values; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub enum Normalize {
    /// `(x / 255 − mean[c]) / std[c]`, one constant per net input channel.
    MeanStd { mean: Vec<f32>, std: Vec<f32>, origin: Origin },
    /// The LeNet-5 map: 0 → −0.1, 255 → 1.175.
    Lecun,
}

/// What the user asked for (`--normalize`, `--scaling`), before any statistics.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum NormalizeOption {
    /// Per-channel mean and std of the training set (`--normalize train`, the default).
    #[default]
    Train,
    /// `--normalize imagenet`.
    Imagenet,
    /// `--normalize none`: `x / 255`.
    Unit,
    /// `--normalize lecun` or `--scaling lecun`.
    Lecun,
    /// `--normalize MEAN/STD`: one value for every channel or one per channel.
    Given { mean: Vec<f32>, std: Vec<f32> },
}

impl std::str::FromStr for NormalizeOption {
    type Err = String;

    /// `train`, `imagenet`, `none`, `lecun`, or `MEAN/STD` where each side is a
    /// comma-separated list of numbers on the `x / 255` scale (`0.5/0.25`,
    /// `0.49,0.48,0.45/0.25,0.24,0.26`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => return Ok(NormalizeOption::Train),
            "imagenet" => return Ok(NormalizeOption::Imagenet),
            "none" => return Ok(NormalizeOption::Unit),
            "lecun" => return Ok(NormalizeOption::Lecun),
            _ => {}
        }
        let usage =
            "expected train, imagenet, none, lecun, or MEAN/STD such as 0.5/0.25 or 0.49,0.48,0.45/0.25,0.24,0.26";
        let Some((m, sd)) = s.split_once('/') else { return Err(format!("`{s}`: {usage}")) };
        let list = |text: &str, what: &str| -> Result<Vec<f32>, String> {
            text.split(',')
                .map(|t| {
                    let v: f32 =
                        t.trim().parse().map_err(|_| format!("`{s}`: the {what} `{t}` is not a number; {usage}"))?;
                    if !v.is_finite() {
                        return Err(format!("`{s}`: the {what} `{t}` is not finite"));
                    }
                    Ok(v)
                })
                .collect()
        };
        let (mean, std) = (list(m, "mean")?, list(sd, "standard deviation")?);
        if mean.len() != std.len() {
            return Err(format!("`{s}`: {} means but {} standard deviations", mean.len(), std.len()));
        }
        if let Some(bad) = std.iter().find(|&&v| v <= 0.0) {
            return Err(format!("`{s}`: a standard deviation must be positive, not {bad}"));
        }
        Ok(NormalizeOption::Given { mean, std })
    }
}

/// Population mean and standard deviation of `x / 255` from a histogram, as `f32`.
fn moments(hist: &Histogram) -> Option<(f32, f32)> {
    let (mut n, mut sum, mut sum_sq) = (0u64, 0u128, 0u128);
    for (v, &count) in hist.iter().enumerate() {
        n += count;
        sum += u128::from(count) * v as u128;
        sum_sq += u128::from(count) * (v * v) as u128;
    }
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let mean = sum as f64 / n / 255.0;
    let var = (sum_sq as f64 / n / (255.0 * 255.0) - mean * mean).max(0.0);
    Some((mean as f32, var.sqrt() as f32))
}

/// Mean and standard deviation of `x / 255` per net input channel over every stored
/// pixel of `ds`, after the channel step `channels` (gray replicated gives the gray
/// moments on every channel; RGB to gray gives the luma's).
pub fn channel_stats(ds: &Dataset, channels: Channels) -> Result<(Vec<f32>, Vec<f32>), DataError> {
    let stored = ds.images.channels();
    if let Some(stream) = ds.images.stream() {
        // A streamed split: the counts its files gave when the folder was loaded.
        let counts = stream.counts().ok_or_else(|| uncounted(ds))?;
        return stats_of(ds, counts.channel_histograms(stored, channels).iter().map(moments).collect());
    }
    let mut hists = vec![[0u64; 256]; stored.max(1)];
    let mut gray = [0u64; 256];
    for i in 0..ds.count() {
        let img = ds.image(i);
        if channels == Channels::RgbToGray {
            let n = img.h * img.w;
            for ((&r, &g), &b) in img.plane(0)[..n].iter().zip(&img.plane(1)[..n]).zip(&img.plane(2)[..n]) {
                gray[usize::from(luma(r, g, b))] += 1;
            }
            continue;
        }
        for (c, hist) in hists.iter_mut().enumerate() {
            for &p in img.plane(c) {
                hist[usize::from(p)] += 1;
            }
        }
    }
    let per_channel: Vec<Option<(f32, f32)>> = match channels {
        Channels::RgbToGray => vec![moments(&gray)],
        Channels::GrayToRgb => vec![moments(&hists[0]); 3],
        Channels::Keep => hists.iter().map(moments).collect(),
    };
    stats_of(ds, per_channel)
}

fn uncounted(ds: &Dataset) -> DataError {
    DataError::InvalidOption {
        what: format!("the pixel counts of the streamed set '{}' were dropped when it was cut", ds.name),
    }
}

/// The per-channel moments, or an error for a channel without pixels.
fn stats_of(ds: &Dataset, per_channel: Vec<Option<(f32, f32)>>) -> Result<(Vec<f32>, Vec<f32>), DataError> {
    let mut mean = Vec::new();
    let mut std = Vec::new();
    for m in per_channel {
        let Some((m, s)) = m else {
            return Err(DataError::InvalidOption {
                what: format!("cannot compute the mean and standard deviation of '{}': it has no pixels", ds.name),
            });
        };
        mean.push(m);
        std.push(s);
    }
    Ok((mean, std))
}

/// Mean and population standard deviation of `x / 255` over every pixel of every
/// channel of `ds` (computed exactly with integer sums).
pub fn mean_std(ds: &Dataset) -> Result<(f32, f32), DataError> {
    let mut hist = [0u64; 256];
    match ds.images.stream() {
        Some(stream) => hist = stream.counts().ok_or_else(|| uncounted(ds))?.all_planes(ds.images.channels()),
        None => ds.images.pixels().iter().for_each(|&p| hist[usize::from(p)] += 1),
    }
    moments(&hist).ok_or_else(|| DataError::InvalidOption {
        what: format!("cannot compute mean/std of empty dataset '{}'", ds.name),
    })
}

impl Normalize {
    /// Resolves `option` for a net of `net` input channels, computing the training set's
    /// moments (after the channel step) when asked.
    pub fn resolve(
        option: &NormalizeOption,
        net: usize,
        train: &Dataset,
        channels: Channels,
    ) -> Result<Normalize, String> {
        let fit = |v: &[f32]| if v.len() == 1 { vec![v[0]; net] } else { v.to_vec() };
        let n = match option {
            NormalizeOption::Lecun => Normalize::Lecun,
            NormalizeOption::Unit => {
                Normalize::MeanStd { mean: vec![0.0; net], std: vec![1.0; net], origin: Origin::Unit }
            }
            NormalizeOption::Imagenet if net != 3 => {
                return Err(format!(
                    "--normalize imagenet has 3 channels (R, G, B) but the net takes {net}; use --normalize train, \
                     or give one value per channel"
                ))
            }
            NormalizeOption::Imagenet => Normalize::MeanStd {
                mean: IMAGENET_MEAN.to_vec(),
                std: IMAGENET_STD.to_vec(),
                origin: Origin::Imagenet,
            },
            NormalizeOption::Given { mean, .. } if mean.len() != 1 && mean.len() != net => {
                return Err(format!(
                    "--normalize gives {} values per side but the net takes {net} channels; give 1 (for all) or {net}",
                    mean.len()
                ))
            }
            NormalizeOption::Given { mean, std } => {
                Normalize::MeanStd { mean: fit(mean), std: fit(std), origin: Origin::Given }
            }
            NormalizeOption::Train => {
                let (mean, std) = channel_stats(train, channels).map_err(|e| e.to_string())?;
                Normalize::MeanStd { mean, std, origin: Origin::TrainingSet }
            }
        };
        n.validate(net)?;
        Ok(n)
    }

    /// Checks the constants: one per channel, finite, std > 0.
    pub fn validate(&self, net: usize) -> Result<(), String> {
        let Normalize::MeanStd { mean, std, origin } = self else { return Ok(()) };
        if mean.len() != net || std.len() != net {
            return Err(format!(
                "{} means and {} standard deviations for a net of {net} channels",
                mean.len(),
                std.len()
            ));
        }
        let finite = mean.iter().chain(std).all(|v| v.is_finite());
        if !finite || std.iter().any(|&s| s <= 0.0) {
            let why = if *origin == Origin::TrainingSet {
                " (every training pixel of a channel has the same value: the images carry no information)"
            } else {
                ""
            };
            return Err(format!(
                "normalisation needs finite means and standard deviations > 0, got mean {mean:?}, std {std:?}{why}"
            ));
        }
        Ok(())
    }

    /// The value of a raw byte in channel `c`.
    pub fn value(&self, c: usize, raw: u8) -> f32 {
        let x = f64::from(raw);
        let v = match self {
            Normalize::Lecun => {
                let (lo, hi) = (f64::from(LECUN_BACKGROUND), f64::from(LECUN_INK));
                lo + x * (hi - lo) / 255.0
            }
            Normalize::MeanStd { mean, std, .. } => (x / 255.0 - f64::from(mean[c])) / f64::from(std[c]),
        };
        v as f32
    }

    /// The 256 values of each of `net` channels.
    pub fn tables(&self, net: usize) -> Vec<[f32; 256]> {
        (0..net)
            .map(|c| {
                let mut t = [0f32; 256];
                for (raw, v) in t.iter_mut().enumerate() {
                    *v = self.value(c, raw as u8);
                }
                t
            })
            .collect()
    }

    /// Words for the one-line report.
    pub fn describe(&self) -> String {
        let list = |v: &[f32]| {
            let first = v[0];
            if v.iter().all(|&x| x == first) {
                format!("{first:.4}")
            } else {
                v.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(",")
            }
        };
        match self {
            Normalize::Lecun => "LeNet map (0 → −0.1, 255 → 1.175)".into(),
            Normalize::MeanStd { origin: Origin::Unit, .. } => "x/255".into(),
            Normalize::MeanStd { mean, std, origin } => {
                let from = match origin {
                    Origin::TrainingSet => "training-set",
                    Origin::Imagenet => "ImageNet",
                    Origin::Given => "given",
                    Origin::Unit => "",
                };
                format!("(x/255 − mean)/std with {from} mean {} std {}", list(mean), list(std))
            }
        }
    }
}
