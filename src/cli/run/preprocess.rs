//! The preprocessing and augmentation of a `netc run`: from the options, the data and a
//! checkpoint's stored pipeline to the [`Pipeline`] and [`Augment`] the run uses.
//!
//! Decisions (also in the README):
//! - `--eval` and `--resume` use the pipeline stored in the checkpoint (`netc.preprocess`:
//!   its normalisation constants, never recomputed on other data) and say so. An
//!   explicit `--normalize`/`--scaling`, `--resize` or `--gray` wins over the stored
//!   value, with a note naming both. A checkpoint from an earlier netc, without the
//!   entry, gets the pipeline computed as training did (from the training split, or, for
//!   a folder evaluated whole, from its images), with a note. `--weights` with `--train`
//!   (fine-tuning) builds a new pipeline.
//! - `--scaling standard` is `--normalize train`, `--scaling lecun` is `--normalize
//!   lecun`; the two options cannot be given together.
//! - Default augmentation: `shift=1` for 1-channel data centred without resizing (MNIST,
//!   Fashion-MNIST, the synthetic set, a folder of such digits), as netc always did;
//!   none otherwise (colour or resized images), unless `--augment` asks. `--resume`
//!   continues with the checkpoint's augmentation unless `--augment` is given.

use super::{Fail, RunArgs, ScalingArg};
use crate::cli::{err, EXIT_INVALID, EXIT_USAGE};
use crate::data::prep::{Geometry, Normalize};
use crate::data::{Augment, NormalizeOption, Pipeline, PrepOptions, Splits};
use crate::train::checkpoint;
use std::path::Path;

/// A pipeline stored in a checkpoint, with the file it came from.
pub(super) struct Stored<'a> {
    pub path: &'a Path,
    /// `None` for a checkpoint written before netc stored pipelines.
    pub pipeline: Option<(Pipeline, Option<Augment>)>,
}

fn usage(msg: String) -> Fail {
    Fail(EXIT_USAGE, format!("error: {msg}"))
}

/// What the options ask for, before the data is seen.
pub(super) fn options(args: &RunArgs) -> PrepOptions {
    let normalize = match (&args.normalize, args.scaling) {
        (Some(n), _) => n.clone(),
        (None, Some(ScalingArg::Lecun)) => NormalizeOption::Lecun,
        (None, Some(ScalingArg::Standard) | None) => NormalizeOption::Train,
    };
    PrepOptions { gray: args.gray, resize: args.resize, normalize }
}

/// Whether the user chose the normalisation explicitly.
fn normalize_given(args: &RunArgs) -> bool {
    args.normalize.is_some() || args.scaling.is_some()
}

/// Reads the pipeline of the checkpoint that `--eval` evaluates or `--resume` continues.
pub(super) fn stored(args: &RunArgs) -> Result<Option<Stored<'_>>, Fail> {
    let path = match (&args.eval, &args.weights, &args.resume) {
        (Some(_), Some(w), _) => w.as_path(),
        (None, _, Some(r)) => r.as_path(),
        _ => return Ok(None),
    };
    let meta = checkpoint::read_metadata(path).map_err(|e| usage(e.to_string()))?;
    let pipeline = checkpoint::stored_preprocess(&meta).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    Ok(Some(Stored { path, pipeline }))
}

/// The shorter side the loader may shrink images to.
pub(super) fn stored_side(args: &RunArgs, input: (usize, usize, usize), stored: Option<&Stored<'_>>) -> usize {
    match (args.resize, stored.and_then(|s| s.pipeline.as_ref())) {
        (None, Some((p, _))) => p.stored_side(),
        _ => options(args).stored_side(input),
    }
}

/// The pipeline of the run, and the line that reports it.
pub(super) fn pipeline(
    args: &RunArgs,
    input: (usize, usize, usize),
    splits: &Splits,
    stored: Option<&Stored<'_>>,
) -> Result<(Pipeline, String), Fail> {
    let opts = options(args);
    let net = args.net.display();
    let data = |e: crate::data::DataError| Fail(EXIT_INVALID, format!("error: {net}: {e}"));
    // `--eval` of a folder with one tree has no training split: statistics can only come
    // from the images evaluated.
    let basis = if splits.train.count() > 0 { &splits.train } else { &splits.test };
    let from = if splits.train.count() > 0 { "the training split" } else { "the images evaluated (no training split)" };
    let Some(Stored { path, pipeline: Some((p, _)) }) = stored else {
        let p = Pipeline::build(&opts, basis, input).map_err(data)?;
        if let Some(s) = stored {
            err(&format!(
                "note: {} holds no preprocessing (saved by an earlier netc); it is computed from {from} of {}\n",
                s.path.display(),
                basis.name
            ));
        }
        return Ok((p.clone(), format!("preprocessing: {}", p.describe())));
    };
    let shown = path.display();
    if p.input_shape() != input {
        let (c, h, w) = p.input_shape();
        return Err(usage(format!(
            "{shown} was preprocessed for a {c}×{h}×{w} input, but {net} takes {}×{}×{}; was it saved from another net?",
            input.0, input.1, input.2
        )));
    }
    let mut geometry = p.geometry();
    if let Some(resize) = args.resize {
        if geometry != (Geometry::ResizeCrop { resize }) {
            err(&format!(
                "note: --resize {resize} overrides {shown}'s size rule ({})\n",
                geometry.describe((input.1, input.2))
            ));
        }
        geometry = Geometry::ResizeCrop { resize };
    }
    let mut normalize = p.normalize().clone();
    if normalize_given(args) {
        let channels = p.channels_for(basis.images.channels()).unwrap_or(p.channels());
        let given = Normalize::resolve(&opts.normalize, input.0, basis, channels)
            .map_err(|e| Fail(EXIT_INVALID, format!("error: {net}: {e}")))?;
        if given != normalize {
            err(&format!("note: the normalisation asked for overrides {shown}'s ({})\n", normalize.describe()));
        }
        normalize = given;
    }
    let p = p.with(geometry, normalize, p.gray() || args.gray).map_err(usage)?;
    p.check_dataset(&splits.test).map_err(data)?;
    Ok((p.clone(), format!("preprocessing (stored in {shown}): {}", p.describe())))
}

/// The augmentation of a training run (see the module docs for the default).
pub(super) fn augment(
    args: &RunArgs,
    splits: &Splits,
    pipeline: &Pipeline,
    stored: Option<&Stored<'_>>,
) -> Result<Augment, Fail> {
    let resumed = stored.and_then(|s| s.pipeline.as_ref()).and_then(|(_, a)| *a);
    let centred = matches!(pipeline.geometry(), Geometry::Centre { .. });
    let a = match (args.augment, resumed) {
        (Some(a), Some(r)) if a != r => {
            let path = stored.map_or(String::new(), |s| s.path.display().to_string());
            err(&format!("note: --augment {a} replaces {path}'s augmentation ({r})\n"));
            a
        }
        (Some(a), _) => a,
        (None, Some(a)) => a,
        (None, None) if centred && splits.train.images.channels() == 1 => Augment::shift(1),
        (None, None) => Augment::none(),
    };
    let (_, h, w) = pipeline.input_shape();
    let image = match pipeline.geometry() {
        Geometry::Centre { image } => image,
        Geometry::ResizeCrop { .. } => (h, w),
    };
    a.check(image, (h, w)).map_err(|e| usage(format!("--augment {a}: {e}")))?;
    Ok(a)
}
