//! What the trainer needs from an execution engine, and the reference engine that
//! provides it with the plain executor. The JIT implements the same trait.

use super::exec::Executor;
use super::memory::AllocError;
use super::reference::KernelCtx;
use super::update::{self, Rule, Step};
use super::ParamStore;
use crate::autodiff::{self, NotAClassifier, Program, ScoreKind};
use crate::ir::Graph;

/// Runs a net's training step and inference on batches of preprocessed images.
pub trait Engine {
    fn name(&self) -> &'static str;
    /// How many classes the net scores, and what the scores of training (`train_scores`)
    /// and of inference (`infer`) are.
    fn scores(&self) -> (usize, ScoreKind, ScoreKind);
    /// The label smoothing ε of the training loss (0 for none).
    fn label_smoothing(&self) -> f32 {
        0.0
    }
    /// Allocates now what training batches of the sizes `train` and inference batches
    /// of the sizes `eval` will need, so that a refused allocation is an error here
    /// rather than an abort in the middle of training.
    fn reserve(&mut self, _train: &[usize], _eval: &[usize]) -> Result<(), AllocError> {
        Ok(())
    }
    /// Forward, loss and backward on `n` samples; leaves the gradients in `store.grads`
    /// and returns the mean loss. `step` seeds dropout.
    fn train_step(&mut self, store: &mut ParamStore, images: &[f32], labels: &[f32], n: usize, step: u64) -> f32;
    /// The class scores of the last training step.
    fn train_scores(&self, n: usize) -> &[f32];
    /// Inference on `n` samples; returns their class scores (or the net's output).
    fn infer(&mut self, store: &mut ParamStore, images: &[f32], n: usize) -> &[f32];
    /// Applies an optimizer update to every trainable tensor, with moment buffers `m`, `v`
    /// (one per tensor, empty where unused).
    /// What the autotuner did while preparing (engines that tune say so).
    fn tune_report(&self) -> Option<crate::runtime::jit::TuneReport> {
        None
    }

    fn update(&mut self, rule: Rule, step: Step, store: &mut ParamStore, m: &mut [Vec<f32>], v: &mut [Vec<f32>]) {
        store.touch();
        let trainable: Vec<usize> = store.updated().collect();
        for i in trainable {
            update::apply(rule, step, &mut store.values[i], &store.grads[i], &mut m[i], &mut v[i]);
        }
    }
}

/// The reference executor as an engine.
pub struct ReferenceEngine {
    train: Executor<f32>,
    eval: Executor<f32>,
    seed: u64,
}

impl ReferenceEngine {
    /// Builds the training and inference programs of `g` for batches of up to `capacity`.
    pub fn new(g: &Graph, capacity: usize, seed: u64) -> Result<ReferenceEngine, NotAClassifier> {
        Ok(Self::from_programs(autodiff::training(g)?, autodiff::inference(g), capacity, seed))
    }

    /// An engine for a training and an inference program built already.
    pub fn from_programs(train: Program, eval: Program, capacity: usize, seed: u64) -> ReferenceEngine {
        ReferenceEngine { train: Executor::new(train, capacity), eval: Executor::new(eval, capacity), seed }
    }

    pub fn training_program(&self) -> &Program {
        self.train.program()
    }
}

impl Engine for ReferenceEngine {
    fn name(&self) -> &'static str {
        "reference"
    }

    fn scores(&self) -> (usize, ScoreKind, ScoreKind) {
        (self.train.program().classes, self.train.program().scores, self.eval.program().scores)
    }

    fn label_smoothing(&self) -> f32 {
        self.train.program().label_smoothing()
    }

    fn reserve(&mut self, train: &[usize], eval: &[usize]) -> Result<(), AllocError> {
        if let Some(&n) = train.iter().max() {
            self.train.try_reserve(n)?;
        }
        if let Some(&n) = eval.iter().max() {
            self.eval.try_reserve(n)?;
        }
        Ok(())
    }

    fn train_step(&mut self, store: &mut ParamStore, images: &[f32], labels: &[f32], n: usize, step: u64) -> f32 {
        store.touch();
        let p = self.train.program();
        let (input, label_buf, loss, steps) =
            (p.input, p.labels.expect("training program"), p.loss.expect("training program"), 0..p.steps.len());
        self.train.buffer_mut(input, n).copy_from_slice(images);
        self.train.buffer_mut(label_buf, n).copy_from_slice(labels);
        let ctx = KernelCtx { seed: self.seed, step };
        self.train.run(steps, n, &mut store.values, &mut store.grads, &ctx);
        self.train.buffer(loss, n)[0]
    }

    fn train_scores(&self, n: usize) -> &[f32] {
        self.train.buffer(self.train.program().output, n)
    }

    fn infer(&mut self, store: &mut ParamStore, images: &[f32], n: usize) -> &[f32] {
        let p = self.eval.program();
        let (input, output, steps) = (p.input, p.output, 0..p.steps.len());
        self.eval.buffer_mut(input, n).copy_from_slice(images);
        let ctx = KernelCtx { seed: self.seed, step: 0 };
        self.eval.run(steps, n, &mut store.values, &mut store.grads, &ctx);
        self.eval.buffer(output, n)
    }
}
