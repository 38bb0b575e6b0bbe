//! What `netc run` will allocate, for the memory check: the parameter store, the
//! optimizer's moments, the datasets, checkpoint reading and writing, and per batch
//! size the engine's buffers (the JIT plans one arena per batch size it meets: full
//! batches and the last, smaller one, of training and of the test pass) and the
//! feeders' batch buffers.

use super::{EngineKind, Optim, RunArgs};
use crate::autodiff::Program;
use crate::cli::resources::Demand;
use crate::data::Splits;
use crate::runtime::memory::footprint::{self, Bytes};

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

/// Bytes that depend on the batch size `n`.
pub(super) fn per_batch(args: &RunArgs, splits: &Splits, sample_len: usize, p: &Programs, n: usize) -> Bytes {
    let train_sizes = if p.train.is_some() { sizes(splits.train.count(), n) } else { Vec::new() };
    let eval_sizes = sizes(splits.test.count(), n);
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

/// Bytes that do not depend on the batch size.
pub(super) fn fixed(args: &RunArgs, splits: &Splits, p: &Programs) -> Vec<(&'static str, u128)> {
    let (params, trainable) = footprint::parameters(&p.train.unwrap_or(p.eval).params);
    let training = p.train.is_some();
    let moments = match (training, args.optimizer) {
        (false, _) | (true, Optim::Sgd) => 0,
        (true, Optim::Momentum) => trainable,
        (true, Optim::Adam) => 2 * trainable,
    };
    // Pixels, labels and the shuffling order of each split.
    let split =
        |d: &crate::data::Dataset| d.images.bytes() as u128 + 2 * d.labels.len() as u128 + 8 * d.count() as u128;
    // A checkpoint is about the size of the weights and moments. Loading holds the file
    // and the parsed tensors beside the current ones; saving holds the tensors' bytes and
    // the serialised file, plus a copy of the moments.
    let file = params + moments;
    let load = if args.weights.is_some() || args.resume.is_some() { 2 * file } else { 0 };
    let save = if args.save.is_some() { 2 * file + moments } else { 0 };
    vec![
        ("parameters", params),
        ("gradients", if training { trainable } else { 0 }),
        ("optimizer moments", moments),
        ("the datasets", split(&splits.train) + split(&splits.test)),
        ("checkpoint I/O", load.max(save)),
    ]
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
