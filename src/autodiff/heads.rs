//! Auxiliary heads in the programs. Inference lowers only what the net's output needs,
//! so heads cost nothing there. Training lowers the net up to its class scores first and
//! the heads' own layers after, so that the first parameters of the training program are
//! exactly the inference program's, in the same order (the engines index one parameter
//! store with both), and each head's parameters come after them.
//!
//! Each head's loss is softmax cross-entropy on the same labels, like the net's; the
//! program's loss is `main + Σ weight·head`, and the gradient reaching a head's scores
//! is `weight ×` its own loss's gradient.

use super::build::{dims, Builder};
use super::kernel::Kernel;
use super::program::{BufId, Role};
use crate::ir::{Graph, Head, NodeId, Op};

/// The node whose output a head's loss reads: its output, or the input of a final softmax.
pub fn head_scores(g: &Graph, h: &Head) -> NodeId {
    let n = g.node(h.output);
    if n.op == Op::Softmax {
        n.inputs[0]
    } else {
        h.output
    }
}

/// The nodes the forward pass lowers, in order (the input aside): for inference
/// (`training_scores` = `None`) those the output needs; for training, those the class
/// scores need, then those only the heads' scores need.
pub(super) fn forward_order(g: &Graph, training_scores: Option<NodeId>) -> Vec<NodeId> {
    let Some(scores) = training_scores else {
        let live = g.live();
        return g.ids().skip(1).filter(|id| live[id.index()]).collect();
    };
    let main = g.needed_by(&[scores]);
    let roots: Vec<NodeId> = g.heads().iter().map(|h| head_scores(g, h)).collect();
    let heads = g.needed_by(&roots);
    let ids = || g.ids().skip(1);
    ids().filter(|id| main[id.index()]).chain(ids().filter(|id| heads[id.index()] && !main[id.index()])).collect()
}

impl Builder<'_> {
    /// Adds each head's weighted loss into `loss` and its weighted gradient into its
    /// scores' gradient; returns the last node whose gradient is now seeded (the input
    /// when the net has no heads), where the backward pass must start.
    pub(super) fn head_losses(&mut self, labels: BufId, loss: BufId) -> NodeId {
        let g = self.g;
        let mut last = g.input();
        for h in g.heads() {
            let scores = head_scores(g, h);
            let negate = matches!(g.node(scores).op, Op::Rbf(_));
            let path = g.path(scores);
            let own = self.buffer(format!("loss.{}", h.name), vec![1], false, Role::Loss);
            let shape = dims(&g.node(scores).shape);
            let unweighted = self.buffer(format!("d({path}) before × {}", h.weight), shape, true, Role::Gradient);
            let logits = self.act[&scores];
            // Smoothing, if any, is set on every loss step later (`smooth_labels`).
            let xent = Kernel::SoftmaxCrossEntropy { negate, smoothing: 0.0 };
            self.step(xent, vec![logits, labels], vec![own, unweighted], false, scores);
            let dscores = self.grad(scores);
            self.step(Kernel::Scale { factor: h.weight }, vec![unweighted], vec![dscores], false, scores);
            self.written.insert(scores);
            self.step(Kernel::Scale { factor: h.weight }, vec![own], vec![loss], true, scores);
            last = last.max(scores);
        }
        last
    }
}
