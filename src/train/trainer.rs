//! The training loop: epochs of shuffled mini-batches, an optimizer step after each,
//! a test pass after each epoch, and progress reported to an observer (the CLI draws
//! the progress bar and writes logs; nothing here prints).
//!
//! Batches come from [`crate::data::feeder`]s, one for the training split (shuffled and
//! augmented) and one for the test split (in order), each preparing batches on
//! `data_workers` threads while the engine computes; the time the loop waited for them
//! is reported per epoch.

use super::evaluation::Evaluation;
use super::finite::{first_non_finite, largest_magnitude};
use super::metrics::{tally, Tally};
use super::optim::{clip_gradients, Clock, Optimizer, Schedule, Warmup};
use crate::data::feeder::{feed, FeedSpec, Feeder};
use crate::data::{Augment, DataError, Dataset, Pipeline};
use crate::runtime::{Engine, ParamStore};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub schedule: Schedule,
    /// A warm-up before the schedule.
    pub warmup: Option<Warmup>,
    /// Clip the gradients to this global norm before each update ([`clip_gradients`]).
    pub clip_norm: Option<f64>,
    pub seed: u64,
    /// Augmentation of training images.
    pub augment: Augment,
    /// Threads preparing batches (0: the training thread prepares them between steps).
    pub data_workers: usize,
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
    /// The whole epoch, test pass included.
    pub seconds: f64,
    /// The training pass alone.
    pub train_seconds: f64,
    pub images_per_sec: f64,
    /// The learning rate of the epoch's last update.
    pub lr: f64,
    /// The learning rate of the epoch's first update.
    pub lr_first: f64,
    /// The mean learning rate over the epoch's updates.
    pub lr_mean: f64,
    /// With clipping: the mean and largest global gradient norm before clipping, and
    /// the fraction of the epoch's updates that were clipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_norm_mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_norm_max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clipped_fraction: Option<f64>,
    /// Seconds the training steps waited for batches (prepared them, without workers).
    pub data_wait_seconds: f64,
    /// The same for the test pass.
    pub test_data_wait_seconds: f64,
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
    pipeline: &Pipeline,
    cfg: &TrainConfig,
    start_epoch: usize,
    observer: &mut dyn Observer,
) -> Result<Vec<EpochStats>, TrainError> {
    let spec = |ds, augment| FeedSpec { ds, pipeline, augment, batch: cfg.batch, workers: cfg.data_workers };
    let (train_spec, test_spec) = (spec(train_set, cfg.augment), spec(test_set, Augment::none()));
    let fed = feed(&train_spec, |train_feed| {
        feed(&test_spec, |test_feed| {
            let mut run = Run { engine, store, optimizer, cfg, observer, updates: 0, labels: Vec::new() };
            run.epochs(train_feed, test_feed, start_epoch)
        })
    });
    match fed {
        Ok(Ok(result)) => result,
        Ok(Err(e)) | Err(e) => Err(TrainError::Data(e)),
    }
}

/// The state of one call of [`train`].
struct Run<'r> {
    engine: &'r mut dyn Engine,
    store: &'r mut ParamStore,
    optimizer: &'r mut Optimizer,
    cfg: &'r TrainConfig,
    observer: &'r mut dyn Observer,
    /// Updates applied by this call.
    updates: u64,
    /// The labels of a batch as the engine takes them.
    labels: Vec<f32>,
}

impl Run<'_> {
    fn epochs(
        &mut self,
        train_feed: &mut Feeder<'_, '_>,
        test_feed: &mut Feeder<'_, '_>,
        start_epoch: usize,
    ) -> Result<Vec<EpochStats>, TrainError> {
        let mut history = Vec::new();
        for epoch in start_epoch..self.cfg.epochs {
            let stats = self.epoch(train_feed, test_feed, epoch)?;
            self.observer.epoch(&stats, self.store, self.optimizer).map_err(TrainError::Observer)?;
            history.push(stats);
        }
        Ok(history)
    }

    fn epoch(
        &mut self,
        train_feed: &mut Feeder<'_, '_>,
        test_feed: &mut Feeder<'_, '_>,
        epoch: usize,
    ) -> Result<EpochStats, TrainError> {
        let cfg = self.cfg;
        let batches = train_feed.batches_per_epoch();
        let total = (cfg.epochs as u64).saturating_mul(batches as u64);
        let (classes, kind, _) = self.engine.scores();
        let smoothing = f64::from(self.engine.label_smoothing());
        let started = Instant::now();
        let mut seen = Tally::default();
        let mut e = train_feed.epoch(cfg.seed, epoch as u64);
        let mut b = 0;
        let mut lr = cfg.lr;
        let (mut lr_first, mut lr_sum) = (None, 0.0);
        let (mut norm_sum, mut norm_max, mut clipped) = (0.0f64, 0.0f64, 0usize);
        while let Some(fed) = e.next_batch().map_err(TrainError::Data)? {
            let batch = fed.batch();
            let step = (epoch as u64).saturating_mul(batches as u64).saturating_add(b as u64);
            lr = cfg.schedule.rate_at(cfg.lr, cfg.warmup.as_ref(), Clock { step, batches: batches as u64, total });
            lr_first.get_or_insert(lr);
            lr_sum += lr;
            self.labels.clear();
            self.labels.extend(batch.labels.iter().map(|&l| f32::from(l)));
            let loss = self.engine.train_step(self.store, batch.images, &self.labels, batch.len(), step);
            if !loss.is_finite() {
                return Err(TrainError::Diverged { epoch, batch: b, step, loss, updates: self.updates });
            }
            seen.add(tally(self.engine.train_scores(batch.len()), batch.labels, classes, kind, smoothing));
            drop(fed);
            if let Some(max) = cfg.clip_norm {
                let norm = clip_gradients(self.store, max);
                norm_sum += norm;
                norm_max = norm_max.max(norm);
                clipped += usize::from(norm > max);
            }
            self.optimizer.step(self.engine, self.store, lr as f32);
            self.updates += 1;
            b += 1;
            let elapsed = started.elapsed().as_secs_f64();
            self.observer.batch(&BatchProgress {
                epoch,
                batch: b,
                batches,
                loss: seen.loss(),
                accuracy: seen.accuracy(),
                images_per_sec: seen.count as f64 / elapsed.max(1e-9),
            });
        }
        let data_wait = e.waited().as_secs_f64();
        drop(e);
        let train_seconds = started.elapsed().as_secs_f64();
        // The loss only vouches for the weights before each update: check what the last
        // one left, before the test pass and the observer (which saves) see it.
        let last_step = (epoch as u64).saturating_mul(batches as u64).saturating_add(b.saturating_sub(1) as u64);
        let broken =
            first_non_finite(self.store).map(String::from).or_else(|| self.optimizer.first_non_finite(self.store));
        if let Some(tensor) = broken {
            return Err(TrainError::NotFinite { epoch, step: last_step, tensor });
        }
        let (test, test_wait) = evaluate_fed(self.engine, self.store, test_feed).map_err(|e| match e {
            TrainError::OutputNotFinite { image, largest, .. } => {
                TrainError::OutputNotFinite { epoch: Some(epoch), image, largest }
            }
            e => e,
        })?;
        Ok(EpochStats {
            epoch: epoch + 1,
            train_loss: seen.loss(),
            train_acc: seen.accuracy(),
            test_loss: test.tally.loss(),
            test_acc: test.tally.accuracy(),
            seconds: started.elapsed().as_secs_f64(),
            train_seconds,
            images_per_sec: seen.count as f64 / train_seconds.max(1e-9),
            lr,
            lr_first: lr_first.unwrap_or(lr),
            lr_mean: if b == 0 { lr } else { lr_sum / b as f64 },
            grad_norm_mean: cfg.clip_norm.map(|_| norm_sum / b.max(1) as f64),
            grad_norm_max: cfg.clip_norm.map(|_| norm_max),
            clipped_fraction: cfg.clip_norm.map(|_| clipped as f64 / b.max(1) as f64),
            data_wait_seconds: data_wait,
            test_data_wait_seconds: test_wait,
        })
    }
}

/// Loss and accuracy of the net on a whole dataset, in order, with inference semantics,
/// the batches prepared by `data_workers` threads. An output that is NaN or infinite is
/// an error ([`TrainError::OutputNotFinite`]), never a NaN loss.
pub fn evaluate(
    engine: &mut dyn Engine,
    store: &mut ParamStore,
    set: &Dataset,
    pipeline: &Pipeline,
    batch: usize,
    data_workers: usize,
) -> Result<Tally, TrainError> {
    Ok(evaluate_report(engine, store, set, pipeline, batch, data_workers)?.tally)
}

/// [`evaluate`] in detail: top-5 and per-class counts and confusions besides the tally.
pub fn evaluate_report(
    engine: &mut dyn Engine,
    store: &mut ParamStore,
    set: &Dataset,
    pipeline: &Pipeline,
    batch: usize,
    data_workers: usize,
) -> Result<Evaluation, TrainError> {
    let spec = FeedSpec { ds: set, pipeline, augment: Augment::none(), batch, workers: data_workers };
    let (report, _) = feed(&spec, |f| evaluate_fed(engine, store, f)).map_err(TrainError::Data)??;
    Ok(report)
}

/// One in-order pass over a feeder's dataset; also returns the seconds spent waiting for
/// batches.
fn evaluate_fed(
    engine: &mut dyn Engine,
    store: &mut ParamStore,
    feeder: &mut Feeder<'_, '_>,
) -> Result<(Evaluation, f64), TrainError> {
    let mut e = feeder.in_order();
    let (classes, _, kind) = engine.scores();
    let mut report = Evaluation::new(classes);
    while let Some(fed) = e.next_batch().map_err(TrainError::Data)? {
        let b = fed.batch();
        let scores = engine.infer(store, b.images, b.len());
        if let Some(at) = scores.iter().position(|x| !x.is_finite()) {
            let image = b.indices[at / kind.width(classes).max(1)];
            return Err(TrainError::OutputNotFinite { epoch: None, image, largest: largest_magnitude(store) });
        }
        report.add(scores, b.labels, kind);
    }
    Ok((report, e.waited().as_secs_f64()))
}
