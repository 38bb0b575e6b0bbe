//! Memory of a forward pass at batch 1, in f32 bytes.
//!
//! - `activations`: every layer's output once, as a training step keeps them for
//!   the backward pass (what torchinfo calls the forward pass size). Flatten is a
//!   view of its input and adds nothing.
//! - `peak`: the most bytes alive at once during inference when each output is
//!   freed after its last reader has run (input included, no in-place reuse).

use super::cost::Count;
use crate::ir::{Graph, NodeId, Op};

pub const F32: Count = 4;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub input: Count,
    pub activations: Count,
    pub peak: Count,
}

/// Memory figures of the nodes `keep` accepts (the net without its auxiliary heads, for
/// the report), or `None` on overflow.
pub fn forward_memory(g: &Graph, keep: impl Fn(NodeId) -> bool) -> Option<Memory> {
    let bytes = |id: NodeId| g.node(id).shape.numel().and_then(|n| Count::from(n).checked_mul(F32));
    let owner = owners(g);
    let mut activations: Count = 0;
    for id in g.ids().skip(1).filter(|&id| keep(id)) {
        if owner[id.index()] == id {
            activations = activations.checked_add(bytes(id)?)?;
        }
    }
    // The last step at which each buffer is read (or the end, for the output).
    let mut last_use: Vec<usize> = (0..g.nodes().len()).collect();
    for id in g.ids().filter(|&id| keep(id)) {
        for &i in &g.node(id).inputs {
            let o = owner[i.index()].index();
            last_use[o] = last_use[o].max(id.index());
        }
    }
    let out = owner[g.output().index()].index();
    last_use[out] = usize::MAX;
    let mut frees: Vec<Vec<NodeId>> = vec![Vec::new(); g.nodes().len()];
    for buf in g.ids().filter(|&id| keep(id)) {
        let step = last_use[buf.index()];
        if owner[buf.index()] == buf && step != buf.index() && step < frees.len() {
            frees[step].push(buf);
        }
    }
    let mut live: Count = 0;
    let mut peak: Count = 0;
    for id in g.ids().filter(|&id| keep(id)) {
        if owner[id.index()] == id {
            live = live.checked_add(bytes(id)?)?;
        }
        peak = peak.max(live);
        for &buf in &frees[id.index()] {
            live -= bytes(buf)?;
        }
    }
    Some(Memory { input: bytes(g.input())?, activations, peak })
}

/// The node whose buffer each node's output lives in (itself, or its input for views).
fn owners(g: &Graph) -> Vec<NodeId> {
    let mut owner: Vec<NodeId> = g.ids().collect();
    for id in g.ids() {
        if g.node(id).op == Op::Flatten {
            owner[id.index()] = owner[g.node(id).inputs[0].index()];
        }
    }
    owner
}
