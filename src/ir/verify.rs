//! A structural check of a graph: inputs precede their consumers, scopes exist,
//! and every stored shape is what the op's rule gives.
//!
//! Also the switch for netc's internal checks ([`checks_enabled`]): elaboration
//! verifies every graph it builds and the JIT every plan it compiles when the checks
//! are on (debug builds, `NETC_VERIFY=1`, or [`enable_checks`]); the test suite turns
//! them on. They cost a linear pass each, so release runs leave them off.

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static FORCED: AtomicBool = AtomicBool::new(false);

/// Whether internal invariants are checked: in debug builds, when the environment
/// variable `NETC_VERIFY` is set to anything but `0` (read once), or after
/// [`enable_checks`].
pub fn checks_enabled() -> bool {
    static FROM_ENV: OnceLock<bool> = OnceLock::new();
    cfg!(debug_assertions)
        || FORCED.load(Ordering::Relaxed)
        || *FROM_ENV.get_or_init(|| std::env::var_os("NETC_VERIFY").is_some_and(|v| v != "0"))
}

/// Turns the internal checks on for the rest of the process (tests call it).
pub fn enable_checks() {
    FORCED.store(true, Ordering::Relaxed);
}

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
