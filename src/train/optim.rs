//! Optimizer state, and gradient clipping by global norm. The update arithmetic itself
//! is the engine's ([`crate::runtime::update`] documents the rules: SGD, momentum,
//! Nesterov, Adam, and RMSprop in TensorFlow's form), so the JIT can run it as compiled
//! kernels. Learning-rate schedules and warm-up are in [`super::schedule`] (re-exported
//! here).

use super::checkpoint::OPTIMIZER_PREFIX;
use crate::runtime::memory::{try_zeroed, AllocError};
use crate::runtime::update::{Rule, Step};
use crate::runtime::{Engine, ParamStore};

pub use super::schedule::{Clock, Schedule, ScheduleSpec, Span, Warmup, WarmupKind};

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
    Nesterov,
    Adam,
    RmsProp,
}

impl OptimizerKind {
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Nesterov => "nesterov",
            OptimizerKind::Adam => "adam",
            OptimizerKind::RmsProp => "rmsprop",
        }
    }

    /// The update rule with netc's default constants: μ = 0.9 (momentum, Nesterov);
    /// β = (0.9, 0.999), ε = 1e-8 (Adam); ρ = 0.9, μ = 0, ε = 1e-10 (RMSprop, TensorFlow's
    /// defaults).
    pub fn rule(self) -> Rule {
        match self {
            OptimizerKind::Sgd => Rule::Sgd,
            OptimizerKind::Momentum => Rule::Momentum { mu: 0.9 },
            OptimizerKind::Nesterov => Rule::Nesterov { mu: 0.9 },
            OptimizerKind::Adam => Rule::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 },
            OptimizerKind::RmsProp => Rule::RmsProp { decay: 0.9, momentum: 0.0, eps: 1e-10 },
        }
    }

    /// The kind of a rule.
    pub fn of(rule: Rule) -> OptimizerKind {
        match rule {
            Rule::Sgd => OptimizerKind::Sgd,
            Rule::Momentum { .. } => OptimizerKind::Momentum,
            Rule::Nesterov { .. } => OptimizerKind::Nesterov,
            Rule::Adam { .. } => OptimizerKind::Adam,
            Rule::RmsProp { .. } => OptimizerKind::RmsProp,
        }
    }

    /// Whether the rule keeps a first-moment or momentum buffer (`m`).
    pub fn has_m(self) -> bool {
        self != OptimizerKind::Sgd
    }

    /// Whether the rule keeps a second-moment or mean-square buffer (`v`).
    pub fn has_v(self) -> bool {
        matches!(self, OptimizerKind::Adam | OptimizerKind::RmsProp)
    }
}

#[derive(Debug, Clone)]
pub struct Optimizer {
    pub kind: OptimizerKind,
    /// The update rule with its constants (of `kind`).
    pub rule: Rule,
    pub weight_decay: f32,
    /// Momentum buffers (momentum, nesterov, rmsprop) or first moments (adam), per
    /// tensor (empty if unused).
    pub m: Vec<Vec<f32>>,
    /// Second moments (adam) or mean squares (rmsprop, starting at 1), per tensor.
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
        Self::try_with_rule(kind.rule(), weight_decay, store)
    }

    /// An optimizer applying `rule` (with its own constants). RMSprop's mean squares
    /// start at 1, as TensorFlow's do; every other buffer starts at 0.
    pub fn try_with_rule(rule: Rule, weight_decay: f32, store: &ParamStore) -> Result<Optimizer, AllocError> {
        let kind = OptimizerKind::of(rule);
        let filled = |on: bool, x: f32| -> Result<Vec<Vec<f32>>, AllocError> {
            store
                .grads
                .iter()
                .map(|g| {
                    if !on {
                        return Ok(Vec::new());
                    }
                    let mut b = try_zeroed(g.len())?;
                    if x != 0.0 {
                        b.fill(x);
                    }
                    Ok(b)
                })
                .collect()
        };
        let v0 = if kind == OptimizerKind::RmsProp { 1.0 } else { 0.0 };
        Ok(Optimizer { kind, rule, weight_decay, m: filled(kind.has_m(), 0.0)?, v: filled(kind.has_v(), v0)?, t: 0 })
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
        engine.update(self.rule, step, store, &mut self.m, &mut self.v);
    }
}

/// The global norm of the gradients of the tensors training updates, √(Σ g²), summed
/// in f64 tensor by tensor in store order.
pub fn gradient_norm(store: &ParamStore) -> f64 {
    let trainable: Vec<usize> = store.updated().collect();
    let sum: f64 =
        trainable.into_iter().map(|i| store.grads[i].iter().map(|&g| f64::from(g) * f64::from(g)).sum::<f64>()).sum();
    sum.sqrt()
}

/// Clipping by global norm (Pascanu et al. 2013; TensorFlow's `clip_by_global_norm`):
/// if the norm N of the updated tensors' gradients exceeds `max`, every one of them is
/// multiplied by the f32 factor `max / N`; below or at `max` nothing changes. Returns N,
/// the norm before clipping. Weight decay is not part of the gradients here (the update
/// rules add it afterwards), so it is neither clipped nor counted.
pub fn clip_gradients(store: &mut ParamStore, max: f64) -> f64 {
    let norm = gradient_norm(store);
    if norm > max {
        let scale = (max / norm) as f32;
        let trainable: Vec<usize> = store.updated().collect();
        for i in trainable {
            store.grads[i].iter_mut().for_each(|g| *g *= scale);
        }
    }
    norm
}
