//! The parameter and state tensors each op owns, with names and shapes.
//!
//! Names follow PyTorch (`weight`, `bias`, `running_mean`, `running_var`) so that a
//! checkpoint of `layer1.0.conv1` holds `layer1.0.conv1.weight`.

use super::op::*;

/// How a tensor is updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// Learned by gradient descent.
    Trainable,
    /// A parameter that stays fixed (LeNet-5's RBF centres, unless made trainable).
    Fixed,
    /// Running statistics (batch-norm buffers): saved, not learned.
    State,
}

/// One tensor owned by a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub shape: Vec<u64>,
    pub kind: ParamKind,
}

impl ParamSpec {
    fn new(name: &'static str, shape: Vec<u64>, kind: ParamKind) -> ParamSpec {
        ParamSpec { name, shape, kind }
    }

    /// Elements, or `None` on overflow.
    pub fn numel(&self) -> Option<u64> {
        self.shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }
}

use ParamKind::*;

impl Op {
    /// The tensors this op owns, in a fixed order.
    pub fn params(&self) -> Vec<ParamSpec> {
        match self {
            Op::Conv(c) => {
                let (kh, kw) = (c.window.kh, c.window.kw);
                // A connection table stores only its links: [links, kh, kw].
                let weight = match &c.table {
                    Some(t) => vec![t.links(), kh, kw],
                    None => vec![c.out_c, c.in_c / c.groups.max(1), kh, kw],
                };
                let mut v = vec![ParamSpec::new("weight", weight, Trainable)];
                if c.bias {
                    v.push(ParamSpec::new("bias", vec![c.out_c], Trainable));
                }
                v
            }
            Op::Dense(d) => {
                let mut v = vec![ParamSpec::new("weight", vec![d.out_features, d.in_features], Trainable)];
                if d.bias {
                    v.push(ParamSpec::new("bias", vec![d.out_features], Trainable));
                }
                v
            }
            Op::BatchNorm(b) => vec![
                ParamSpec::new("weight", vec![b.channels], Trainable),
                ParamSpec::new("bias", vec![b.channels], Trainable),
                ParamSpec::new("running_mean", vec![b.channels], State),
                ParamSpec::new("running_var", vec![b.channels], State),
            ],
            Op::Subsample(s) => vec![
                ParamSpec::new("weight", vec![s.channels], Trainable),
                ParamSpec::new("bias", vec![s.channels], Trainable),
            ],
            Op::Rbf(r) => {
                vec![ParamSpec::new(
                    "centers",
                    vec![r.classes, r.in_features],
                    if r.trainable { Trainable } else { Fixed },
                )]
            }
            _ => Vec::new(),
        }
    }
}
