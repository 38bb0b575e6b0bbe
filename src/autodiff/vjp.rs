//! The backward pass: one vector-Jacobian rule per op, emitted in reverse
//! topological order so that a node's output gradient is complete (every reader
//! has contributed) before its own rule runs.
//!
//! A gradient that passes through unchanged (flatten, addition) becomes a view of
//! the incoming one when its tensor has a single reader, and a copy otherwise. A
//! tensor read by several layers gets its first contribution written and the rest
//! accumulated (`Step::accumulate`).

use super::build::{dims, Builder};
use super::kernel::Kernel;
use super::program::BufId;
use crate::ir::{NodeId, Op};

impl Builder<'_> {
    /// Emits the backward steps of every node from `from` down to the input.
    pub(super) fn backward(&mut self, from: NodeId) {
        for id in (1..=from.0).rev().map(NodeId) {
            if self.written.contains(&id) {
                self.vjp(id);
            }
        }
    }

    fn vjp(&mut self, id: NodeId) {
        let node = self.g.node(id);
        let op = node.op.clone();
        let inputs = node.inputs.clone();
        let dy = self.grads[&id];
        let y = self.act[&id];
        let x = inputs.first().copied().unwrap_or(id);
        let xb = self.act[&x];
        let p = |b: &Self, k: usize| b.program.params[b.node_params[&id][k]].buf;
        let pg = |b: &Self, k: usize| b.program.params[b.node_params[&id][k]].grad;
        match op {
            Op::Conv(c) => {
                let w = p(self, 0);
                let grads: Vec<BufId> = (0..self.node_params[&id].len()).filter_map(|k| pg(self, k)).collect();
                let (data, weight) = match c.as_dense(self.g.node(x).shape.spatial()) {
                    Some(d) => (Kernel::DenseBackwardData(d), Kernel::DenseBackwardWeight(d)),
                    None => (Kernel::ConvBackwardData(c.clone()), Kernel::ConvBackwardWeight(c)),
                };
                self.data_grad(x, data, vec![dy, w], id);
                self.step(weight, vec![dy, xb], grads, false, id);
            }
            Op::Dense(d) => {
                let w = p(self, 0);
                self.data_grad(x, Kernel::DenseBackwardData(d), vec![dy, w], id);
                let grads: Vec<BufId> = (0..self.node_params[&id].len()).filter_map(|k| pg(self, k)).collect();
                self.step(Kernel::DenseBackwardWeight(d), vec![dy, xb], grads, false, id);
            }
            Op::BatchNorm(bn) => {
                let saved = self.saved[&id].clone();
                let inputs = vec![dy, xb, p(self, 0), saved[0], saved[1]];
                let outputs = vec![pg(self, 0).expect("γ is trainable"), pg(self, 1).expect("β is trainable")];
                self.with_param_grads(x, Kernel::BatchNormBackward(bn), inputs, outputs, id);
            }
            Op::Subsample(s) => {
                let inputs = vec![dy, xb, p(self, 0)];
                let outputs = vec![pg(self, 0).expect("trainable"), pg(self, 1).expect("trainable")];
                self.with_param_grads(x, Kernel::SubsampleBackward(s), inputs, outputs, id);
            }
            Op::Rbf(r) => {
                let inputs = vec![dy, xb, p(self, 0)];
                let outputs: Vec<BufId> = pg(self, 0).into_iter().collect();
                if self.requires_grad[x.index()] || !outputs.is_empty() {
                    self.with_param_grads(x, Kernel::RbfBackward(r), inputs, outputs, id);
                }
            }
            Op::Pool(pool) => self.data_grad(x, Kernel::PoolBackward(pool), vec![xb, y, dy], id),
            Op::GlobalAvgPool => self.data_grad(x, Kernel::GlobalAvgPoolBackward, vec![dy], id),
            Op::Lrn(l) => self.data_grad(x, Kernel::LrnBackward(l), vec![xb, y, dy], id),
            Op::Dropout { .. } => {
                let mask = self.saved[&id][0];
                self.data_grad(x, Kernel::Mask, vec![dy, mask], id);
            }
            Op::Act(a) => self.data_grad(x, Kernel::ActBackward(a), vec![y, dy], id),
            Op::Softmax => self.data_grad(x, Kernel::SoftmaxBackward, vec![y, dy], id),
            Op::ZeroPad(pad) => self.data_grad(x, Kernel::Crop(pad), vec![dy], id),
            Op::Scale { factor } => self.data_grad(x, Kernel::Scale { factor }, vec![dy], id),
            Op::Flatten => self.pass(x, dy, id),
            Op::Add => inputs.iter().for_each(|&i| self.pass(i, dy, id)),
            Op::Concat => {
                let mut offset = 0;
                for &i in &inputs {
                    self.data_grad(i, Kernel::Slice { offset }, vec![dy], id);
                    offset += self.g.node(i).shape.channels() as usize;
                }
            }
            Op::Input => unreachable!("the input has no rule"),
        }
    }

    /// `kernel(inputs) → grad(x)` if x needs a gradient, accumulating after the first contribution.
    fn data_grad(&mut self, x: NodeId, kernel: Kernel, inputs: Vec<BufId>, node: NodeId) {
        if !self.requires_grad[x.index()] {
            return;
        }
        let gx = self.grad(x);
        let accumulate = !self.written.insert(x);
        self.step(kernel, inputs, vec![gx], accumulate, node);
    }

    /// A kernel producing grad(x) then parameter gradients. grad(x) is computed even when x
    /// needs none (into a buffer nothing reads), since the kernel always writes it.
    fn with_param_grads(
        &mut self,
        x: NodeId,
        kernel: Kernel,
        inputs: Vec<BufId>,
        param_grads: Vec<BufId>,
        node: NodeId,
    ) {
        let gx = self.grad(x);
        let accumulate = self.requires_grad[x.index()] && !self.written.insert(x);
        let outputs = std::iter::once(gx).chain(param_grads).collect();
        self.step(kernel, inputs, outputs, accumulate, node);
    }

    /// dy flows to x unchanged: a view when x has no other reader, else a copy.
    fn pass(&mut self, x: NodeId, dy: BufId, node: NodeId) {
        if !self.requires_grad[x.index()] {
            return;
        }
        if self.consumers[x.index()].len() == 1 && !self.grads.contains_key(&x) {
            let view = self.view(format!("d({})", self.g.path(x)), dims(&self.g.node(x).shape), dy);
            self.grads.insert(x, view);
            self.written.insert(x);
            return;
        }
        self.data_grad(x, Kernel::Copy, vec![dy], node);
    }
}
