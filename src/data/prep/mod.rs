//! Preprocessing: a stored image (`u8`, 1 or 3 planes, any size) → the net's
//! `C × H × W` `f32` input, every step explicit.
//!
//! Consumes: [`PrepOptions`] (`--gray`, `--resize`, `--normalize`), the training
//! [`Dataset`] (its channels, its size if fixed, its statistics) and the net's input
//! shape; or a pipeline stored in a checkpoint ([`Pipeline::from_json`]).
//!
//! Produces: a [`Pipeline`] of three steps, which [`Pipeline::describe`] puts in one
//! line and [`Pipeline::to_json`] stores in a checkpoint's `netc.preprocess`:
//! 1. channels ([`channels`]): kept, gray replicated to RGB, or RGB to gray (BT.601
//!    luma) with `--gray`;
//! 2. size ([`geometry`]): fixed-size data at most the field's size is centred
//!    (MNIST's 28×28 in LeNet-5's 32×32; CIFAR's 32×32 in a 32×32 net, untouched);
//!    anything else gets torchvision's evaluation transform, the shorter side resized to
//!    R (`--resize`, default `round(max(H, W) · 256/224)`) and a centred `H × W` crop;
//! 3. normalisation ([`normalize`]): per-channel mean/std of the training set by default.
//!
//! Training adds augmentation ([`crate::data::augment`]) to the same single pass.
//! Guarantees: the same pipeline gives the same floats for the same image, on any
//! thread; [`Pipeline::prepare`] (one decoded image) and [`Pipeline::prepare_file`] (an
//! image file) are what `netc predict` uses, and what evaluation batches hold.

pub mod channels;
pub mod geometry;
pub mod normalize;
mod sample;
mod stored;

pub use channels::{luma, Channels};
pub(crate) use geometry::Scratch;
pub use geometry::{centre_offset, default_resize, Geometry, MAX_RESIZE};
pub use normalize::{
    channel_stats, mean_std, Normalize, NormalizeOption, Origin, IMAGENET_MEAN, IMAGENET_STD, LECUN_BACKGROUND,
    LECUN_INK,
};

use crate::data::augment::Draw;
use crate::data::dataset::Dataset;
use crate::data::decode::{decode_file, DecodeOptions};
use crate::data::error::DataError;
use crate::data::images::Image;
use std::path::Path;

/// What the user asked for; [`Pipeline::build`] resolves it against the data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrepOptions {
    /// Allow RGB images into a 1-channel net (`--gray`).
    pub gray: bool,
    /// The shorter side to resize to before the centre crop (`--resize`); `None` for
    /// the default rule.
    pub resize: Option<usize>,
    /// `--normalize` (or `--scaling`).
    pub normalize: NormalizeOption,
}

impl PrepOptions {
    /// The shorter side images should be stored at (the loader only ever shrinks them to
    /// it): `--resize`, or the default for the net's `input`.
    pub fn stored_side(&self, input: (usize, usize, usize)) -> usize {
        self.resize.unwrap_or_else(|| default_resize(input.1, input.2))
    }
}

/// The steps from a stored image to the net's input; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    input: (usize, usize, usize),
    channels: Channels,
    gray: bool,
    geometry: Geometry,
    normalize: Normalize,
    tables: Vec<[f32; 256]>,
}

impl Pipeline {
    /// A pipeline from its parts, checked: an input of 1 or 3 channels, a resize in
    /// `1..=MAX_RESIZE`, normalisation constants for every channel.
    pub fn new(
        input: (usize, usize, usize),
        channels: Channels,
        gray: bool,
        geometry: Geometry,
        normalize: Normalize,
    ) -> Result<Pipeline, String> {
        let (c, h, w) = input;
        if !(c == 1 || c == 3) || h == 0 || w == 0 {
            return Err(format!("netc feeds inputs of 1 or 3 channels, not {c}×{h}×{w}"));
        }
        match geometry {
            Geometry::ResizeCrop { resize } if resize == 0 || resize > MAX_RESIZE => {
                return Err(format!("the resize size must be from 1 to {MAX_RESIZE}, not {resize}"))
            }
            Geometry::Centre { image: (ih, iw) } if ih == 0 || iw == 0 || ih > h || iw > w => {
                return Err(format!("a centred {ih}×{iw} image does not fit the {h}×{w} input"))
            }
            _ => {}
        }
        normalize.validate(c)?;
        let tables = normalize.tables(c);
        Ok(Pipeline { input, channels, gray, geometry, normalize, tables })
    }

    /// Resolves `opts` for the net's `input` and the training split `train`.
    pub fn build(opts: &PrepOptions, train: &Dataset, input: (usize, usize, usize)) -> Result<Pipeline, DataError> {
        let (c, h, w) = input;
        let shape = |reason: String| {
            let (rows, cols) = train.images.fixed_size().unwrap_or((0, 0));
            DataError::InputShape {
                dataset: train.name.clone(),
                channels: train.images.channels(),
                rows,
                cols,
                want: input,
                reason,
            }
        };
        let channels = Channels::resolve(train.images.channels(), c, opts.gray).map_err(shape)?;
        let geometry = match (opts.resize, train.images.fixed_size()) {
            (Some(resize), _) => Geometry::ResizeCrop { resize },
            (None, Some((ih, iw))) if ih <= h && iw <= w => Geometry::Centre { image: (ih, iw) },
            (None, _) => Geometry::ResizeCrop { resize: default_resize(h, w) },
        };
        let normalize = Normalize::resolve(&opts.normalize, c, train, channels)
            .map_err(|what| DataError::InvalidOption { what })?;
        Pipeline::new(input, channels, opts.gray, geometry, normalize).map_err(|what| DataError::InvalidOption { what })
    }

    /// The net's input shape `(c, h, w)`.
    pub fn input_shape(&self) -> (usize, usize, usize) {
        self.input
    }

    /// Floats per image, `c × h × w`.
    pub fn sample_len(&self) -> usize {
        self.input.0 * self.input.1 * self.input.2
    }

    /// The channel rule of the data the pipeline was built for.
    pub fn channels(&self) -> Channels {
        self.channels
    }

    /// Whether RGB images may become gray (`--gray`).
    pub fn gray(&self) -> bool {
        self.gray
    }

    /// The size rule.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The normalisation.
    pub fn normalize(&self) -> &Normalize {
        &self.normalize
    }

    /// The input value of raw byte `raw` in channel `c` (padding is `value(c, 0)`).
    pub fn value(&self, c: usize, raw: u8) -> f32 {
        self.tables[c][usize::from(raw)]
    }

    /// The same pipeline with another size rule or normalisation (an explicit option
    /// that overrides a stored pipeline).
    pub fn with(&self, geometry: Geometry, normalize: Normalize, gray: bool) -> Result<Pipeline, String> {
        Pipeline::new(self.input, self.channels, gray, geometry, normalize)
    }

    /// The shorter side images should be stored at for this pipeline: its resize size,
    /// or for centred data at least the default for the field (never below the image).
    pub fn stored_side(&self) -> usize {
        match self.geometry {
            Geometry::ResizeCrop { resize } => resize,
            Geometry::Centre { image: (h, w) } => default_resize(self.input.1, self.input.2).max(h).max(w),
        }
    }

    /// The channel rule for images of `data` channels (an error names both counts).
    pub fn channels_for(&self, data: usize) -> Result<Channels, String> {
        Channels::resolve(data, self.input.0, self.gray)
    }

    /// Checks that `ds` can go through this pipeline; returns its channel rule.
    pub fn check_dataset(&self, ds: &Dataset) -> Result<Channels, DataError> {
        self.channels_for(ds.images.channels()).map_err(|reason| {
            let (rows, cols) = ds.images.fixed_size().unwrap_or((0, 0));
            DataError::InputShape {
                dataset: ds.name.clone(),
                channels: ds.images.channels(),
                rows,
                cols,
                want: self.input,
                reason,
            }
        })
    }

    /// Writes one image, without augmentation, into `out` (`sample_len()` floats): what
    /// evaluation and `netc predict` feed the net. The image may have any size and 1 or
    /// 3 channels.
    pub fn prepare(&self, img: Image<'_>, out: &mut [f32]) -> Result<(), DataError> {
        let invalid = |what: String| DataError::InvalidOption { what };
        if out.len() != self.sample_len() {
            return Err(invalid(format!("{} floats for a {} float input", out.len(), self.sample_len())));
        }
        if img.h == 0 || img.w == 0 || img.pixels.len() != img.channels * img.h * img.w {
            return Err(invalid(format!(
                "{} bytes are not a {}×{}×{} image",
                img.pixels.len(),
                img.channels,
                img.h,
                img.w
            )));
        }
        let channels = self.channels_for(img.channels).map_err(invalid)?;
        self.write(img, channels, &Draw::default(), &mut Scratch::default(), out);
        Ok(())
    }

    /// Decodes the image file at `path` as the loader decodes a folder's files (alpha
    /// dropped, 16-bit samples rounded, shrunk to [`Pipeline::stored_side`], never
    /// enlarged; images over `max_pixels` refused before decoding) and writes it into
    /// `out` as [`Pipeline::prepare`] does: what `netc predict` feeds the net for a file,
    /// bit for bit what `--eval` feeds for the same file in a folder.
    pub fn prepare_file(&self, path: &Path, max_pixels: u64, out: &mut [f32]) -> Result<(), DataError> {
        let opts = DecodeOptions { max_pixels, max_shorter_side: Some(self.stored_side()) };
        let d = decode_file(path, &opts)?;
        let img = Image { channels: d.channels(), h: d.h, w: d.w, pixels: &d.pixels };
        self.channels_for(img.channels).map_err(|reason| DataError::InputShape {
            dataset: path.display().to_string(),
            channels: img.channels,
            rows: img.h,
            cols: img.w,
            want: self.input,
            reason,
        })?;
        self.prepare(img, out)
    }

    /// One line saying what happens to every image.
    pub fn describe(&self) -> String {
        let (c, h, w) = self.input;
        format!(
            "{} → {} → {} → {c}×{h}×{w}",
            self.channels.describe(c),
            self.geometry.describe((h, w)),
            self.normalize.describe()
        )
    }
}
