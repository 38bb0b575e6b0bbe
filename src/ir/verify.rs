//! A structural check of a graph: inputs precede their consumers, scopes exist,
//! and every stored shape is what the op's rule gives. Stages that build graphs
//! (elaboration now, autodiff later) run it in tests.

use super::*;

/// Returns the first inconsistency found, in words.
pub fn verify(g: &Graph) -> Result<(), String> {
    if g.nodes().first().map(|n| &n.op) != Some(&Op::Input) {
        return Err("node %0 must be the input".into());
    }
    for id in g.ids() {
        let n = g.node(id);
        if n.scope.index() >= g.scopes().len() {
            return Err(format!("%{} is in scope {} which does not exist", id.0, n.scope.0));
        }
        if let Some(bad) = n.inputs.iter().find(|i| **i >= id) {
            return Err(format!("%{} reads %{}, which does not come before it", id.0, bad.0));
        }
        if id != g.input() {
            let shapes: Vec<Shape> = n.inputs.iter().map(|&i| g.node(i).shape).collect();
            match n.op.infer(&shapes) {
                Ok(s) if s == n.shape => {}
                Ok(s) => return Err(format!("%{} has shape {} but its rule gives {s}", id.0, n.shape)),
                Err(e) => return Err(format!("%{} fails its shape rule: {}", id.0, e.message)),
            }
        }
    }
    if g.output().index() >= g.nodes().len() {
        return Err("the output node does not exist".into());
    }
    Ok(())
}
