//! Optimizer state and learning-rate schedules. The update arithmetic itself is the
//! engine's ([`crate::runtime::update`] documents the rules), so the JIT can run it as
//! compiled kernels.

use crate::runtime::update::{Rule, Step};
use crate::runtime::{Engine, ParamStore};

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

    /// The update rule with netc's constants: μ = 0.9; β = (0.9, 0.999), ε = 1e-8.
    pub fn rule(self) -> Rule {
        match self {
            OptimizerKind::Sgd => Rule::Sgd,
            OptimizerKind::Momentum => Rule::Momentum { mu: 0.9 },
            OptimizerKind::Adam => Rule::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 },
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
    /// Momentum buffers (momentum) or first moments (adam), per tensor (empty if unused).
    pub m: Vec<Vec<f32>>,
    /// Second moments (adam), per tensor.
    pub v: Vec<Vec<f32>>,
    /// Updates applied so far.
    pub t: u64,
}

impl Optimizer {
    pub fn new(kind: OptimizerKind, weight_decay: f32, store: &ParamStore) -> Optimizer {
        let zeros = |on: bool| store.grads.iter().map(|g| if on { vec![0.0; g.len()] } else { Vec::new() }).collect();
        Optimizer {
            kind,
            weight_decay,
            m: zeros(kind != OptimizerKind::Sgd),
            v: zeros(kind == OptimizerKind::Adam),
            t: 0,
        }
    }

    /// Applies one update with learning rate `lr` to every trainable tensor, on `engine`.
    pub fn step(&mut self, engine: &mut dyn Engine, store: &mut ParamStore, lr: f32) {
        self.t += 1;
        let step = Step { lr, weight_decay: self.weight_decay, t: self.t };
        engine.update(self.kind.rule(), step, store, &mut self.m, &mut self.v);
    }
}
