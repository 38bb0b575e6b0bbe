//! What `netc run` will allocate, for the memory check: the parameter store, the
//! optimizer's moments, the datasets, checkpoint reading and writing, and per batch
//! size the engine's buffers (the JIT plans one arena per batch size it meets: full
//! batches and the last, smaller one, of training and of the test pass) and the
//! feeders' batch buffers.
//!
//! A split streamed from disk counts what streaming holds instead of its pixels: its
//! file names and sizes, and per thread that decodes (each data worker of the training
//! and the test feeder, or the training thread without workers) the buffers of one
//! image being decoded and prepared.
//!
//! While an image folder is loaded, [`image_budget`] gives the loader what is left for
//! its decoded images beside everything else, for the split sizes it chose (before any
//! bad file is left out, which can only lower the rest's needs); the check after the
//! load counts everything again. [`streamed_line`] tells the user when the images are
//! streamed, and why.

use super::{EngineKind, Fail, Optim, RunArgs};
use crate::autodiff::Program;
use crate::cli::resources::{Budget, Demand};
use crate::cli::EXIT_INVALID;
use crate::data::{Dataset, Splits, StreamReason};
use crate::driver::{self, Batches};
use crate::runtime::memory::footprint::{self, Bytes};
use crate::runtime::memory::human_bytes;

/// The batch sizes a run meets on a split of `count` images with batches of `batch`:
/// the full one (at most the split) and the remainder, if any.
pub(super) fn sizes(count: usize, batch: usize) -> Vec<usize> {
    let full = batch.min(count).max(1);
    std::iter::once(full).chain(Some(count % full).filter(|&r| r > 0)).collect()
}

/// Programs the engine will run: training (absent for `--eval`) and inference.
pub(super) struct Programs<'a> {
    pub train: Option<&'a Program>,
    pub eval: &'a Program,
}

/// Bytes that depend on the batch size `n`, for splits of `counts` (train, test) images.
pub(super) fn per_batch(args: &RunArgs, counts: (usize, usize), sample_len: usize, p: &Programs, n: usize) -> Bytes {
    let train_sizes = if p.train.is_some() { sizes(counts.0, n) } else { Vec::new() };
    let eval_sizes = sizes(counts.1, n);
    let engine = match (args.engine, p.train) {
        (EngineKind::Jit, train) => {
            let t: Bytes = train.map_or(Bytes::exact(0), |t| train_sizes.iter().map(|&k| footprint::arena(t, k)).sum());
            t + eval_sizes.iter().map(|&k| footprint::arena(p.eval, k)).sum()
        }
        // The reference executors are sized for the largest batch, once.
        (EngineKind::Reference, train) => {
            let t = train.map_or(Bytes::exact(0), |t| footprint::executor(t, train_sizes[0]));
            t + footprint::executor(p.eval, eval_sizes[0])
        }
    };
    // The feeders' rings of batch buffers (workers + 1 each), for training and for the
    // test pass, and the training labels as floats.
    let ring = args.data_workers as u128 + 1;
    let images =
        ring * (train_sizes.first().copied().unwrap_or(0) as u128 + eval_sizes[0] as u128) * sample_len as u128 * 4;
    let labels = train_sizes.first().copied().unwrap_or(0) as u128 * 4;
    engine + Bytes::exact(images + labels)
}

/// Bytes that do not depend on the batch size; the datasets' part only once they are
/// loaded.
pub(super) fn fixed(args: &RunArgs, splits: Option<&Splits>, p: &Programs) -> Vec<(&'static str, u128)> {
    let (params, trainable) = footprint::parameters(&p.train.unwrap_or(p.eval).params);
    let training = p.train.is_some();
    let moments = match (training, args.optimizer) {
        (false, _) | (true, Optim::Sgd) => 0,
        (true, Optim::Momentum | Optim::Nesterov) => trainable,
        (true, Optim::Adam | Optim::Rmsprop) => 2 * trainable,
    };
    // A checkpoint is about the size of the weights and moments. Loading holds the file
    // and the parsed tensors beside the current ones; saving holds the tensors' bytes and
    // the serialised file, plus a copy of the moments.
    let file = params + moments;
    let load = if args.weights.is_some() || args.resume.is_some() { 2 * file } else { 0 };
    let save = if args.save.is_some() { 2 * file + moments } else { 0 };
    let mut parts = vec![
        ("parameters", params),
        ("gradients", if training { trainable } else { 0 }),
        ("optimizer moments", moments),
        ("checkpoint I/O", load.max(save)),
    ];
    if let Some(s) = splits {
        parts.push(("the datasets", split_bytes(&s.train) + split_bytes(&s.test)));
        parts.push(("decoding streamed images", streaming_bytes(args, s, training)));
    }
    parts
}

/// Pixels (or a streamed split's file names and sizes), labels, file names and the
/// shuffling order of a split.
fn split_bytes(d: &Dataset) -> u128 {
    let files: usize = d.files.iter().map(|f| f.as_os_str().len() + std::mem::size_of::<std::path::PathBuf>()).sum();
    d.images.bytes() as u128 + 2 * d.labels.len() as u128 + 8 * d.count() as u128 + files as u128
}

/// The decoding buffers of the threads that decode streamed images.
fn streaming_bytes(args: &RunArgs, splits: &Splits, training: bool) -> u128 {
    let per_thread = |d: &Dataset| d.images.stream().map_or(0, |s| s.thread_bytes(d.images.channels()));
    let threads = args.data_workers.max(1) as u128;
    let feeders = if training { 2 } else { 1 };
    feeders * threads * u128::from(per_thread(&splits.train).max(per_thread(&splits.test)))
}

/// What the decoded images of an image folder with splits of `counts` (train, test)
/// images may take in memory: the budget less everything else the run will allocate
/// at its batch (see the module docs).
pub(super) fn image_budget(
    args: &RunArgs,
    budget: &Budget,
    sample_len: usize,
    p: &Programs,
    counts: (usize, usize),
) -> u64 {
    let fixed: u128 = fixed(args, None, p).iter().map(|(_, b)| b).sum();
    let rest = fixed.saturating_add(per_batch(args, counts, sample_len, p, args.batch).bytes);
    u64::try_from(budget.bytes.saturating_sub(rest)).unwrap_or(u64::MAX)
}

/// The demand of a run, for [`crate::cli::resources::check`].
pub(super) fn demand<'a>(
    training: bool,
    args: &'a RunArgs,
    per_batch: &'a dyn Fn(usize) -> Bytes,
    fixed: Vec<(&'static str, u128)>,
) -> Demand<'a> {
    Demand {
        what: if training { "training" } else { "evaluation" },
        fixed,
        per_batch_what: match args.engine {
            EngineKind::Jit => "the JIT's arenas and the batch buffers",
            EngineKind::Reference => "the reference executor's buffers and the batch buffers",
        },
        per_batch,
    }
}

/// What the decoded images of an image folder may take, for the loader: [`image_budget`]
/// for splits of the sizes it asks about, or the whole budget when the net is not a
/// classifier (that is reported after the data is loaded).
pub(super) fn image_room<'a>(
    args: &'a RunArgs,
    budget: Option<&'a Budget>,
    input: (usize, usize, usize),
    programs: &'a driver::Programs,
) -> impl Fn(usize, usize) -> u64 + 'a {
    let training = args.eval.is_none();
    move |train, test| {
        let Some(b) = budget else { return u64::MAX };
        match &programs.train {
            Ok(t) => {
                let p = Programs { train: training.then_some(t), eval: &programs.eval };
                image_budget(args, b, input.0 * input.1 * input.2, &p, (train, test))
            }
            Err(_) => u64::try_from(b.bytes).unwrap_or(u64::MAX),
        }
    }
}

/// Refuses a run that does not fit in the budget, with everything counted: the datasets
/// loaded and `programs` (of a classifier) at the batch size.
pub(super) fn check(
    args: &RunArgs,
    input: (usize, usize, usize),
    programs: &driver::Programs,
    splits: &Splits,
    budget: Option<&Budget>,
) -> Result<(), Fail> {
    let training = args.eval.is_none();
    let train = programs.classifier().ok();
    let p = Programs { train: train.filter(|_| training), eval: &programs.eval };
    let counts = (splits.train.count(), splits.test.count());
    let per_batch = |n| per_batch(args, counts, input.0 * input.1 * input.2, &p, n);
    let demand = demand(training, args, &per_batch, fixed(args, Some(splits), &p));
    crate::cli::resources::check(&crate::cli::shown(&args.net), &demand, args.batch, budget)
        .map_err(|e| Fail(EXIT_INVALID, e))
}

/// The batch sizes of the run: of training (none for `--eval`) and of the test pass.
pub(super) struct RunBatches {
    train: Vec<usize>,
    eval: Vec<usize>,
}

impl RunBatches {
    pub(super) fn sizes(&self) -> Batches<'_> {
        Batches { train: &self.train, eval: &self.eval }
    }
}

pub(super) fn batches(args: &RunArgs, splits: &Splits) -> RunBatches {
    let train = if args.eval.is_none() { sizes(splits.train.count(), args.batch) } else { Vec::new() };
    RunBatches { train, eval: sizes(splits.test.count(), args.batch) }
}

/// The line saying that an image folder is streamed from disk, and why, with the
/// numbers; `None` for data in memory.
pub(super) fn streamed_line(splits: &Splits, budget: Option<&Budget>) -> Option<String> {
    let stream = splits.train.images.stream().or(splits.test.images.stream())?;
    let why = match stream.why() {
        StreamReason::Asked => "as asked (--cache-images never)".to_string(),
        StreamReason::OverBudget { needed, budget: room } => format!(
            "decoded they would take {}, more than the {} left for them beside the rest of the run{}",
            human_bytes(needed.into()),
            human_bytes(room.into()),
            budget.map_or(String::new(), |b| format!(" ({} available, {})", human_bytes(b.bytes), b.source))
        ),
    };
    Some(format!(
        "images: streamed from disk, {why}; each image is decoded again when its batch is prepared \
         (--data-workers threads)"
    ))
}
