//! Auxiliary heads: classifiers attached to an intermediate tensor (GoogLeNet's two,
//! Inception-v3's `AuxLogits`). Their layers are ordinary nodes of the graph, but the
//! net's output does not depend on them: training adds `weight ×` each head's loss to
//! the main loss, and everything that runs or describes the net for inference (the
//! inference program, export, the report's main totals) keeps to [`Graph::live`].

use super::{Graph, NodeId, ScopeId};
use crate::diag::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    /// The head's name, which is also its scope's name (`AuxLogits`).
    pub name: String,
    /// The scope holding the head's layers.
    pub scope: ScopeId,
    /// The tensor the head reads: the flow where it was declared.
    pub reads: NodeId,
    /// The head's output (its class scores, or probabilities after a final softmax).
    pub output: NodeId,
    /// The factor of its loss in the training loss.
    pub weight: f64,
    /// Where it was declared.
    pub span: Span,
}

impl Graph {
    pub fn add_head(&mut self, head: Head) {
        self.heads.push(head);
    }

    /// The auxiliary heads, in declaration order.
    pub fn heads(&self) -> &[Head] {
        &self.heads
    }

    /// Nodes that the output or a head depends on.
    pub fn live_with_heads(&self) -> Vec<bool> {
        let roots: Vec<NodeId> = std::iter::once(self.output).chain(self.heads.iter().map(|h| h.output)).collect();
        self.needed_by(&roots)
    }

    /// Nodes that any of `roots` depends on (the roots included).
    pub fn needed_by(&self, roots: &[NodeId]) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        for r in roots {
            live[r.index()] = true;
        }
        self.close_over_inputs(&mut live);
        live
    }

    /// For each node, the head it belongs to: `Some(k)` for a node that head `k` needs
    /// and the output does not (the first such head, in declaration order).
    pub fn head_members(&self) -> Vec<Option<usize>> {
        let main = self.live();
        let mut member = vec![None; self.nodes.len()];
        for (k, h) in self.heads.iter().enumerate() {
            let mut live = vec![false; self.nodes.len()];
            live[h.output.index()] = true;
            self.close_over_inputs(&mut live);
            for (i, m) in member.iter_mut().enumerate() {
                if live[i] && !main[i] && m.is_none() {
                    *m = Some(k);
                }
            }
        }
        member
    }

    /// Marks the inputs of every marked node, back to the input.
    pub(super) fn close_over_inputs(&self, live: &mut [bool]) {
        for id in self.ids().rev() {
            if live[id.index()] {
                for &i in &self.node(id).inputs {
                    live[i.index()] = true;
                }
            }
        }
    }
}
