//! Optimizer state and learning-rate schedules. The update arithmetic itself is the
//! engine's ([`crate::runtime::update`] documents the rules), so the JIT can run it as
//! compiled kernels.

use super::checkpoint::OPTIMIZER_PREFIX;
use crate::runtime::memory::{try_zeroed, AllocError};
use crate::runtime::update::{Rule, Step};
use crate::runtime::{Engine, ParamStore};

/// The most epochs a run may ask for: far beyond any real run, small enough that step
/// counts and schedules stay exact.
pub const MAX_EPOCHS: usize = 1_000_000;

/// The most updates a checkpoint may claim to have made (2^53, exact in a double). A
/// larger count is damage, and near 2^64 the next update would wrap Adam's counter to 0.
pub const MAX_UPDATES: u64 = 1 << 53;

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
        Self::try_new(kind, weight_decay, store).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Optimizer::new`], reporting a failed allocation of the moments instead of aborting.
    pub fn try_new(kind: OptimizerKind, weight_decay: f32, store: &ParamStore) -> Result<Optimizer, AllocError> {
        let zeros = |on: bool| -> Result<Vec<Vec<f32>>, AllocError> {
            store.grads.iter().map(|g| if on { try_zeroed(g.len()) } else { Ok(Vec::new()) }).collect()
        };
        Ok(Optimizer {
            kind,
            weight_decay,
            m: zeros(kind != OptimizerKind::Sgd)?,
            v: zeros(kind == OptimizerKind::Adam)?,
            t: 0,
        })
    }

    /// The checkpoint name of moment tensor `tag` (`m` or `v`) of parameter `i`.
    pub fn moment_name(tag: &str, store: &ParamStore, i: usize) -> String {
        format!("{OPTIMIZER_PREFIX}{tag}.{}", store.infos[i].name)
    }

    /// The first moment tensor holding NaN or infinity, by its checkpoint name.
    pub fn first_non_finite(&self, store: &ParamStore) -> Option<String> {
        for (tag, moments) in [("m", &self.m), ("v", &self.v)] {
            if let Some(i) = moments.iter().position(|m| m.iter().any(|x| !x.is_finite())) {
                return Some(Self::moment_name(tag, store, i));
            }
        }
        None
    }

    /// Applies one update with learning rate `lr` to every trainable tensor, on `engine`.
    pub fn step(&mut self, engine: &mut dyn Engine, store: &mut ParamStore, lr: f32) {
        // Saturating: the bias corrections are exact (β^t = 0) long before 2^64, and a
        // wrap to 0 would divide by 1 − β^0 = 0.
        self.t = self.t.saturating_add(1);
        let step = Step { lr, weight_decay: self.weight_decay, t: self.t };
        engine.update(self.kind.rule(), step, store, &mut self.m, &mut self.v);
    }
}
