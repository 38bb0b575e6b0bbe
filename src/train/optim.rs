//! Optimizers and learning-rate schedules, applied to the trainable tensors of a
//! [`ParamStore`] after each backward pass.
//!
//! - `sgd`: w ← w − lr·(g + wd·w).
//! - `momentum`: v ← μ·v + g + wd·w; w ← w − lr·v (PyTorch's SGD with momentum, μ = 0.9).
//! - `adam`: Kingma & Ba 2015 with bias correction, β = (0.9, 0.999), ε = 1e-8; weight
//!   decay is decoupled as in AdamW (Loshchilov & Hutter 2019): w ← w − lr·wd·w.

use crate::runtime::ParamStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    Sgd,
    Momentum,
    Adam,
}

impl OptimizerKind {
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Adam => "adam",
        }
    }
}

/// How the learning rate changes over training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    Constant,
    /// Multiply by `gamma` after every `every` epochs.
    Step {
        every: usize,
        gamma: f64,
    },
    /// Cosine decay from the base rate to 0 over the whole run (Loshchilov & Hutter 2017).
    Cosine,
}

impl Schedule {
    /// The rate at a fraction `progress` ∈ [0, 1] of training, in epoch `epoch` (0-based).
    pub fn rate(&self, base: f64, epoch: usize, progress: f64) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            Schedule::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * progress.clamp(0.0, 1.0)).cos()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Optimizer {
    pub kind: OptimizerKind,
    pub weight_decay: f32,
    pub momentum: f32,
    /// Momentum buffers (momentum) or first moments (adam), per tensor.
    pub m: Vec<Vec<f32>>,
    /// Second moments (adam), per tensor.
    pub v: Vec<Vec<f32>>,
    /// Updates applied so far (Adam's bias correction).
    pub t: u64,
}

impl Optimizer {
    pub fn new(kind: OptimizerKind, weight_decay: f32, store: &ParamStore) -> Optimizer {
        let zeros = |on: bool| store.grads.iter().map(|g| if on { vec![0.0; g.len()] } else { Vec::new() }).collect();
        Optimizer {
            kind,
            weight_decay,
            momentum: 0.9,
            m: zeros(kind != OptimizerKind::Sgd),
            v: zeros(kind == OptimizerKind::Adam),
            t: 0,
        }
    }

    /// Applies one update with learning rate `lr` using the gradients in `store`.
    pub fn step(&mut self, store: &mut ParamStore, lr: f32) {
        self.t += 1;
        let wd = self.weight_decay;
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let c1 = 1.0 - b1.powi(self.t.min(i32::MAX as u64) as i32);
        let c2 = 1.0 - b2.powi(self.t.min(i32::MAX as u64) as i32);
        let indices: Vec<usize> = store.trainable().collect();
        for i in indices {
            let (w, g) = (&mut store.values[i], &store.grads[i]);
            match self.kind {
                OptimizerKind::Sgd => w.iter_mut().zip(g).for_each(|(w, g)| *w -= lr * (g + wd * *w)),
                OptimizerKind::Momentum => {
                    for ((w, g), m) in w.iter_mut().zip(g).zip(&mut self.m[i]) {
                        *m = self.momentum * *m + g + wd * *w;
                        *w -= lr * *m;
                    }
                }
                OptimizerKind::Adam => {
                    for (((w, g), m), v) in w.iter_mut().zip(g).zip(&mut self.m[i]).zip(&mut self.v[i]) {
                        *m = b1 * *m + (1.0 - b1) * g;
                        *v = b2 * *v + (1.0 - b2) * g * g;
                        *w -= lr * ((*m / c1) / ((*v / c2).sqrt() + eps) + wd * *w);
                    }
                }
            }
        }
    }
}
