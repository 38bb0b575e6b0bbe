//! What one node costs: parameters by kind, multiply-accumulates, other
//! arithmetic, and an estimate of its backward pass. All overflow-checked.
//!
//! Conventions (the README repeats them):
//! - `macs`: convolution and dense layers only, exactly as torchvision's published
//!   "GFLOPS": conv = outH·outW·links·kh·kw where links = Cout·Cin/groups (or the
//!   connection table's links), dense = in·out. Bias adds are not MACs.
//! - `other_ops`: every other arithmetic operation of the forward pass at
//!   inference, counted per output element: bias add 1; batch norm 2 (folded scale
//!   and shift); relu/tanh/sigmoid/scaled tanh 1 (a transcendental counts as one);
//!   max/avg pooling kh·kw; global pooling 1 per input element; LRN size+3;
//!   subsampling k²+1; RBF 2 per centre element; softmax 3; scale 1; an n-way
//!   addition n−1. Dropout, flatten, zero padding and concatenation move data only.
//! - backward: the gradient w.r.t. the weights costs the forward MACs again, the
//!   gradient w.r.t. the input too, except for layers reading the network input
//!   (nothing needs that gradient); element-wise work is taken as twice forward.

use crate::ir::{Graph, NodeId, Op, ParamKind};

/// Costs of one node, per sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub trainable: u64,
    pub fixed: u64,
    pub state: u64,
    pub macs: u64,
    pub other_ops: u64,
    /// Multiply-accumulates of the backward pass (weights and input gradients).
    pub backward_macs: u64,
}

impl Cost {
    /// Trainable plus fixed parameters (state excluded, as PyTorch counts).
    pub fn params(&self) -> Option<u64> {
        self.trainable.checked_add(self.fixed)
    }

    /// Field-wise sum, or `None` on overflow.
    pub fn plus(&self, o: &Cost) -> Option<Cost> {
        Some(Cost {
            trainable: self.trainable.checked_add(o.trainable)?,
            fixed: self.fixed.checked_add(o.fixed)?,
            state: self.state.checked_add(o.state)?,
            macs: self.macs.checked_add(o.macs)?,
            other_ops: self.other_ops.checked_add(o.other_ops)?,
            backward_macs: self.backward_macs.checked_add(o.backward_macs)?,
        })
    }
}

fn mul(xs: &[u64]) -> Option<u64> {
    xs.iter().try_fold(1u64, |a, &b| a.checked_mul(b))
}

/// The cost of node `id`, or `None` if a count overflows u64.
pub fn node_cost(g: &Graph, id: NodeId) -> Option<Cost> {
    let node = g.node(id);
    let mut cost = Cost::default();
    for p in node.op.params() {
        let n = p.numel()?;
        let slot = match p.kind {
            ParamKind::Trainable => &mut cost.trainable,
            ParamKind::Fixed => &mut cost.fixed,
            ParamKind::State => &mut cost.state,
        };
        *slot = slot.checked_add(n)?;
    }
    let out = node.shape.numel()?;
    let input = |k: usize| node.inputs.get(k).and_then(|&i| g.node(i).shape.numel());
    let (macs, other) = match &node.op {
        Op::Conv(c) => {
            let (oh, ow) = node.shape.spatial();
            (mul(&[oh, ow, c.links(), c.window.kh, c.window.kw])?, if c.bias { out } else { 0 })
        }
        Op::Dense(d) => (mul(&[d.in_features, d.out_features])?, if d.bias { out } else { 0 }),
        Op::Pool(p) => {
            let window = mul(&[p.window.kh, p.window.kw])?;
            (0, mul(&[out, window])?)
        }
        Op::GlobalAvgPool => (0, input(0)?),
        Op::BatchNorm(_) => (0, mul(&[out, 2])?),
        Op::Lrn(l) => (0, mul(&[out, l.size.checked_add(3)?])?),
        Op::Act(_) | Op::Scale { .. } => (0, out),
        Op::Softmax => (0, mul(&[out, 3])?),
        Op::Subsample(s) => (0, mul(&[out, s.k.checked_mul(s.k)?.checked_add(1)?])?),
        Op::Rbf(r) => (0, mul(&[r.classes, r.in_features, 2])?),
        Op::Add => (0, mul(&[out, node.inputs.len() as u64 - 1])?),
        Op::Input | Op::Flatten | Op::Dropout { .. } | Op::ZeroPad(_) | Op::Concat => (0, 0),
    };
    cost.macs = macs;
    cost.other_ops = other;
    let reads_network_input = node.inputs.first() == Some(&g.input());
    cost.backward_macs = if reads_network_input { macs } else { macs.checked_mul(2)? };
    Some(cost)
}
