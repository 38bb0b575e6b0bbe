//! A pipeline as JSON, for a checkpoint's `netc.preprocess` metadata entry, so that
//! `--eval`, `--resume` and `netc predict` repeat exactly what training did:
//!
//! ```json
//! {"format": "netc.preprocess/1", "input": [3, 32, 32], "channels": "keep", "gray": false,
//!  "size": {"rule": "centre", "image": [32, 32]},
//!  "normalize": {"rule": "mean-std", "from": "training-set",
//!                "mean": [0.4913996756076813, ...], "std": [0.24703224003314972, ...]},
//!  "augment": "crop=4,flip"}
//! ```
//!
//! `size` is `{"rule": "centre", "image": [h, w]}` or `{"rule": "resize-crop", "resize": R}`;
//! `normalize` is `{"rule": "mean-std", ...}` (`from`: `training-set`, `imagenet`,
//! `given`, `none`) or `{"rule": "lecun"}`. The constants are the `f32` values training
//! used, written as the `f64` numbers equal to them, so they read back bit for bit.
//! `augment` (training only) records the augmentation, which `--resume` continues with.

use super::{Channels, Geometry, Normalize, Origin, Pipeline};
use crate::data::augment::Augment;
use serde::{Deserialize, Serialize};

/// The `format` of the current layout.
pub const FORMAT: &str = "netc.preprocess/1";

#[derive(Serialize, Deserialize)]
struct Stored {
    format: String,
    input: [usize; 3],
    channels: String,
    gray: bool,
    size: Size,
    normalize: Norm,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    augment: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
enum Size {
    Centre { image: [usize; 2] },
    ResizeCrop { resize: usize },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
enum Norm {
    MeanStd { from: String, mean: Vec<f64>, std: Vec<f64> },
    Lecun,
}

impl Pipeline {
    /// The JSON of `netc.preprocess`, with the training augmentation.
    pub fn to_json(&self, augment: &Augment) -> String {
        let (c, h, w) = self.input;
        let stored = Stored {
            format: FORMAT.into(),
            input: [c, h, w],
            channels: self.channels.key().into(),
            gray: self.gray,
            size: match self.geometry {
                Geometry::Centre { image: (h, w) } => Size::Centre { image: [h, w] },
                Geometry::ResizeCrop { resize } => Size::ResizeCrop { resize },
            },
            normalize: match &self.normalize {
                Normalize::Lecun => Norm::Lecun,
                Normalize::MeanStd { mean, std, origin } => Norm::MeanStd {
                    from: origin.key().into(),
                    mean: mean.iter().map(|&v| f64::from(v)).collect(),
                    std: std.iter().map(|&v| f64::from(v)).collect(),
                },
            },
            augment: Some(augment.to_string()),
        };
        serde_json::to_string(&stored).expect("plain data serialises")
    }

    /// Reads `netc.preprocess`; returns the pipeline and the training augmentation, if
    /// recorded. The error says what is wrong with the entry.
    pub fn from_json(text: &str) -> Result<(Pipeline, Option<Augment>), String> {
        let s: Stored = serde_json::from_str(text).map_err(|e| format!("not a preprocessing description ({e})"))?;
        if s.format != FORMAT {
            return Err(format!("format `{}` is not {FORMAT}; was it written by a newer netc?", s.format));
        }
        let channels =
            Channels::from_key(&s.channels).ok_or_else(|| format!("unknown channel rule `{}`", s.channels))?;
        let geometry = match s.size {
            Size::Centre { image: [h, w] } => Geometry::Centre { image: (h, w) },
            Size::ResizeCrop { resize } => Geometry::ResizeCrop { resize },
        };
        let normalize = match s.normalize {
            Norm::Lecun => Normalize::Lecun,
            Norm::MeanStd { from, mean, std } => Normalize::MeanStd {
                origin: Origin::from_key(&from).ok_or_else(|| format!("unknown normalisation origin `{from}`"))?,
                mean: mean.iter().map(|&v| v as f32).collect(),
                std: std.iter().map(|&v| v as f32).collect(),
            },
        };
        let augment = match s.augment {
            Some(a) => Some(a.parse::<Augment>().map_err(|e| format!("augment: {e}"))?),
            None => None,
        };
        let [c, h, w] = s.input;
        Ok((Pipeline::new((c, h, w), channels, s.gray, geometry, normalize)?, augment))
    }
}
