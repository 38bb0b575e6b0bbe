//! The training loop: epochs of shuffled mini-batches, an optimizer step after each,
//! a test pass after each epoch, and progress reported to an observer (the CLI draws
//! the progress bar and writes logs; nothing here prints).

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
    },
    Data(DataError),
    Observer(String),
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::Diverged { epoch, batch, step, loss } => write!(
                f,
                "the loss became {loss} at step {step} (epoch {}, batch {}); training stopped",
                epoch + 1,
                batch + 1
            ),
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
    let total_steps = (cfg.epochs * batches) as f64;
    let (classes, kind, _) = engine.scores();
    let mut history = Vec::new();
    for epoch in start_epoch..cfg.epochs {
        let started = Instant::now();
        let mut seen = Tally::default();
        let mut e = batcher.epoch(cfg.seed, epoch as u64);
        let mut b = 0;
        let mut lr = cfg.lr;
        while let Some(batch) = e.next_batch() {
            let step = (epoch * batches + b) as u64;
            lr = cfg.schedule.rate(cfg.lr, epoch, step as f64 / total_steps);
            let labels: Vec<f32> = batch.labels.iter().map(|&l| f32::from(l)).collect();
            let loss = engine.train_step(store, batch.images, &labels, batch.len(), step);
            if !loss.is_finite() {
                return Err(TrainError::Diverged { epoch, batch: b, step, loss });
            }
            seen.add(tally(engine.train_scores(batch.len()), batch.labels, classes, kind));
            optimizer.step(engine, store, lr as f32);
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
        let test = evaluate(engine, store, test_set, prep, cfg.batch)?;
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
pub fn evaluate(
    engine: &mut dyn Engine,
    store: &mut ParamStore,
    set: &Dataset,
    prep: &Prep,
    batch: usize,
) -> Result<Tally, TrainError> {
    let mut batcher = Batcher::new(set, prep.clone(), batch).map_err(TrainError::Data)?;
    let mut e = batcher.in_order();
    let mut total = Tally::default();
    let (classes, _, kind) = engine.scores();
    while let Some(b) = e.next_batch() {
        let scores = engine.infer(store, b.images, b.len());
        total.add(tally(scores, b.labels, classes, kind));
    }
    Ok(total)
}
