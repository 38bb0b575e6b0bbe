//! The training loop: epochs of shuffled mini-batches, an optimizer step after each,
//! a test pass after each epoch, and progress reported to an observer (the CLI draws
//! the progress bar and writes logs; nothing here prints).

use super::evaluation::Evaluation;
use super::finite::{first_non_finite, largest_magnitude};
use super::metrics::{tally, Tally};
use super::optim::{Optimizer, Schedule};
use crate::data::{Batcher, DataError, Dataset, Prep};
use crate::runtime::{Engine, ParamStore};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub schedule: Schedule,
    pub seed: u64,
    /// Largest random shift of training images, in pixels (0: no augmentation).
    pub shift: usize,
}

/// Where a batch is, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchProgress {
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub images_per_sec: f64,
}

/// One line of the training log.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct EpochStats {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub test_loss: f64,
    pub test_acc: f64,
    pub seconds: f64,
    pub images_per_sec: f64,
    pub lr: f64,
}

/// Receives progress; returning an error from `epoch` (e.g. a failed checkpoint) stops training.
pub trait Observer {
    fn batch(&mut self, _p: &BatchProgress) {}
    fn epoch(&mut self, _s: &EpochStats, _store: &ParamStore, _optimizer: &Optimizer) -> Result<(), String> {
        Ok(())
    }
}

#[derive(Debug)]
pub enum TrainError {
    /// The loss became NaN or infinite.
    Diverged {
        epoch: usize,
        batch: usize,
        step: u64,
        loss: f32,
        /// Updates this run had applied before the step (0: the starting weights give it).
        updates: u64,
    },
    /// After the last update of an epoch, a weight, a state tensor or an optimizer
    /// moment (`optimizer.m.…`, `optimizer.v.…`) holds NaN or infinity.
    NotFinite {
        epoch: usize,
        step: u64,
        tensor: String,
    },
    /// The net's output is NaN or infinite for a test image although every weight is
    /// finite: the values overflow on the way. `epoch` is `None` outside training.
    OutputNotFinite {
        epoch: Option<usize>,
        image: usize,
        /// The largest value in the weights, and its tensor.
        largest: Option<(String, f32)>,
    },
    Data(DataError),
    Observer(String),
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::Diverged { epoch, batch, step, loss, updates: 0 } => write!(
                f,
                "the loss became {loss} at step {step} (epoch {}, batch {}), before any update of this run; training stopped",
                epoch + 1,
                batch + 1
            ),
            TrainError::Diverged { epoch, batch, step, loss, .. } => write!(
                f,
                "the loss became {loss} at step {step} (epoch {}, batch {}); training stopped",
                epoch + 1,
                batch + 1
            ),
            TrainError::NotFinite { epoch, step, tensor } => write!(
                f,
                "after the last update of epoch {} (step {step}), tensor `{tensor}` is not finite (NaN or infinity), \
                 although every loss of the epoch was; training stopped and the epoch is not saved",
                epoch + 1
            ),
            TrainError::OutputNotFinite { epoch, image, largest } => {
                let during = epoch.map_or(String::new(), |e| format!(" in the test pass after epoch {}", e + 1));
                write!(f, "the net's output is not finite (NaN or infinity) for test image {image} (counting from 0){during}")?;
                if let Some((name, x)) = largest {
                    write!(f, "; every weight is finite, the largest is {x:e} in `{name}`")?;
                }
                if epoch.is_some() {
                    write!(f, "; training stopped and the epoch is not saved")?;
                }
                Ok(())
            }
            TrainError::Data(e) => write!(f, "{e}"),
            TrainError::Observer(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TrainError {}

/// Trains for `cfg.epochs` epochs starting after `start_epoch` completed ones, testing after each.
#[allow(clippy::too_many_arguments)]
pub fn train(
    engine: &mut dyn Engine,
    store: &mut ParamStore,
    optimizer: &mut Optimizer,
    train_set: &Dataset,
    test_set: &Dataset,
    prep: &Prep,
    cfg: &TrainConfig,
    start_epoch: usize,
    observer: &mut dyn Observer,
) -> Result<Vec<EpochStats>, TrainError> {
    let mut batcher = Batcher::new(train_set, prep.clone(), cfg.batch).map_err(TrainError::Data)?.with_shift(cfg.shift);
    let batches = batcher.batches_per_epoch();
    let total_steps = cfg.epochs.saturating_mul(batches) as f64;
    let mut updates = 0u64;
    let (classes, kind, _) = engine.scores();
    let mut history = Vec::new();
    for epoch in start_epoch..cfg.epochs {
        let started = Instant::now();
        let mut seen = Tally::default();
        let mut e = batcher.epoch(cfg.seed, epoch as u64);
        let mut b = 0;
        let mut lr = cfg.lr;
        while let Some(batch) = e.next_batch() {
            let step = (epoch as u64).saturating_mul(batches as u64).saturating_add(b as u64);
            lr = cfg.schedule.rate(cfg.lr, epoch, step as f64 / total_steps);
            let labels: Vec<f32> = batch.labels.iter().map(|&l| f32::from(l)).collect();
            let loss = engine.train_step(store, batch.images, &labels, batch.len(), step);
            if !loss.is_finite() {
                return Err(TrainError::Diverged { epoch, batch: b, step, loss, updates });
            }
            seen.add(tally(engine.train_scores(batch.len()), batch.labels, classes, kind));
            optimizer.step(engine, store, lr as f32);
            updates += 1;
            b += 1;
            let elapsed = started.elapsed().as_secs_f64();
            observer.batch(&BatchProgress {
                epoch,
                batch: b,
                batches,
                loss: seen.loss(),
                accuracy: seen.accuracy(),
                images_per_sec: seen.count as f64 / elapsed.max(1e-9),
            });
        }
        let train_seconds = started.elapsed().as_secs_f64();
        // The loss only vouches for the weights before each update: check what the last
        // one left, before the test pass and the observer (which saves) see it.
        let last_step = (epoch as u64).saturating_mul(batches as u64).saturating_add(b.saturating_sub(1) as u64);
        let broken = first_non_finite(store).map(String::from).or_else(|| optimizer.first_non_finite(store));
        if let Some(tensor) = broken {
            return Err(TrainError::NotFinite { epoch, step: last_step, tensor });
        }
        let test = evaluate(engine, store, test_set, prep, cfg.batch).map_err(|e| match e {
            TrainError::OutputNotFinite { image, largest, .. } => {
                TrainError::OutputNotFinite { epoch: Some(epoch), image, largest }
            }
            e => e,
        })?;
        let stats = EpochStats {
            epoch: epoch + 1,
            train_loss: seen.loss(),
            train_acc: seen.accuracy(),
            test_loss: test.loss(),
            test_acc: test.accuracy(),
            seconds: started.elapsed().as_secs_f64(),
            images_per_sec: seen.count as f64 / train_seconds.max(1e-9),
            lr,
        };
        observer.epoch(&stats, store, optimizer).map_err(TrainError::Observer)?;
        history.push(stats);
    }
    Ok(history)
}

/// Loss and accuracy of the net on a whole dataset, in order, with inference semantics.
/// An output that is NaN or infinite is an error ([`TrainError::OutputNotFinite`]),
/// never a NaN loss.
pub fn evaluate(
    engine: &mut dyn Engine,
    store: &mut ParamStore,
    set: &Dataset,
    prep: &Prep,
    batch: usize,
) -> Result<Tally, TrainError> {
    Ok(evaluate_report(engine, store, set, prep, batch)?.tally)
}

/// [`evaluate`] in detail: top-5 and per-class counts and confusions besides the tally.
pub fn evaluate_report(
    engine: &mut dyn Engine,
    store: &mut ParamStore,
    set: &Dataset,
    prep: &Prep,
    batch: usize,
) -> Result<Evaluation, TrainError> {
    let mut batcher = Batcher::new(set, prep.clone(), batch).map_err(TrainError::Data)?;
    let mut e = batcher.in_order();
    let (classes, _, kind) = engine.scores();
    let mut report = Evaluation::new(classes);
    while let Some(b) = e.next_batch() {
        let scores = engine.infer(store, b.images, b.len());
        if let Some(at) = scores.iter().position(|x| !x.is_finite()) {
            let image = b.indices[at / classes.max(1)];
            return Err(TrainError::OutputNotFinite { epoch: None, image, largest: largest_magnitude(store) });
        }
        report.add(scores, b.labels, kind);
    }
    Ok(report)
}
