//! Optimizer update rules as data: part of what a training step does, compiled by the
//! JIT and interpreted by the reference (see `runtime::update` for the arithmetic).

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    Sgd,
    Momentum {
        mu: f32,
    },
    /// Nesterov momentum in PyTorch's form (`SGD(nesterov=True)`).
    Nesterov {
        mu: f32,
    },
    Adam {
        beta1: f32,
        beta2: f32,
        eps: f32,
    },
    /// RMSprop in TensorFlow's form (`tf.compat.v1.train.RMSPropOptimizer`): ε inside
    /// the square root, the rate inside the momentum buffer.
    RmsProp {
        decay: f32,
        momentum: f32,
        eps: f32,
    },
}

/// Hyper-parameters of one update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub lr: f32,
    pub weight_decay: f32,
    /// Updates applied so far, this one included (Adam's bias correction).
    pub t: u64,
}

impl Rule {
    /// A short name (`sgd`, `momentum`, `nesterov`, `adam`, `rmsprop`).
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Sgd => "sgd",
            Rule::Momentum { .. } => "momentum",
            Rule::Nesterov { .. } => "nesterov",
            Rule::Adam { .. } => "adam",
            Rule::RmsProp { .. } => "rmsprop",
        }
    }

    /// Adam's bias corrections 1 − β1^t and 1 − β2^t for update `t` (1 for the first);
    /// every engine computes them with this one expression.
    pub fn bias_corrections(&self, t: u64) -> (f32, f32) {
        match *self {
            Rule::Adam { beta1, beta2, .. } => {
                let t = t.min(i32::MAX as u64) as i32;
                (1.0 - beta1.powi(t), 1.0 - beta2.powi(t))
            }
            _ => (1.0, 1.0),
        }
    }
}
