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

/// Counts are exact 128-bit integers: a net whose totals pass 2^64 still gets exact
/// numbers, and anything beyond 2^128 is an error rather than a wrapped value.
pub type Count = u128;

/// Costs of one node, per sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub trainable: Count,
    pub fixed: Count,
    pub state: Count,
    pub macs: Count,
    pub other_ops: Count,
    /// Multiply-accumulates of the backward pass (weights and input gradients).
    pub backward_macs: Count,
}

impl Cost {
    /// Trainable plus fixed parameters (state excluded, as PyTorch counts).
    pub fn params(&self) -> Option<Count> {
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

fn mul(xs: &[u64]) -> Option<Count> {
    xs.iter().try_fold(1 as Count, |a, &b| a.checked_mul(Count::from(b)))
}

/// The cost of node `id`, or `None` if a count overflows.
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
        *slot = slot.checked_add(Count::from(n))?;
    }
    let out = node.shape.numel()?;
    let input = |k: usize| node.inputs.get(k).and_then(|&i| g.node(i).shape.numel()).map(Count::from);
    let (macs, other) = match &node.op {
        Op::Conv(c) => {
            let (oh, ow) = node.shape.spatial();
            (mul(&[oh, ow, c.links(), c.window.kh, c.window.kw])?, if c.bias { Count::from(out) } else { 0 })
        }
        Op::Dense(d) => (mul(&[d.in_features, d.out_features])?, if d.bias { Count::from(out) } else { 0 }),
        Op::Pool(p) => (0, mul(&[out, p.window.kh, p.window.kw])?),
        Op::GlobalAvgPool => (0, input(0)?),
        Op::BatchNorm(_) => (0, mul(&[out, 2])?),
        Op::Lrn(l) => (0, mul(&[out, l.size.checked_add(3)?])?),
        Op::Act(_) | Op::Scale { .. } => (0, Count::from(out)),
        Op::Softmax => (0, mul(&[out, 3])?),
        Op::Subsample(s) => (0, mul(&[out, s.k, s.k])?.checked_add(Count::from(out))?),
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
