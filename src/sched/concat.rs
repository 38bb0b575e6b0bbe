//! Concatenation without copies: when every step touching a branch's output can work
//! on a channel slice of a larger tensor (a batch stride larger than the sample), the
//! branch is laid out as that slice of the concatenation's result and the copy
//! disappears. Likewise in the backward pass, where `Slice` would copy a channel range
//! of the incoming gradient out, the branch's gradient becomes a view of that range.

use super::PlannedStep;
use crate::autodiff::{BufId, Kernel, Program};

/// A buffer laid out inside another: `child` starts `channel` channels into `parent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceOf {
    pub child: BufId,
    pub parent: BufId,
    pub channel: usize,
}

/// Whether operand `k` (inputs, then outputs, then epilogue operands) of `kernel` may be
/// a channel slice of a larger tensor.
fn strided_ok(kernel: &Kernel, k: usize, inputs: usize) -> bool {
    let output = k >= inputs;
    match kernel {
        Kernel::Conv(_) => k == 0 || output,
        Kernel::ConvBackwardWeight(_) => k == 1,
        Kernel::ConvBackwardData(_) => output,
        Kernel::Act(_)
        | Kernel::ActBackward(_)
        | Kernel::Add
        | Kernel::Scale { .. }
        | Kernel::Copy
        | Kernel::Pool(_) => true,
        _ => false,
    }
}

/// The branches that can live inside their concatenation (and gradients inside theirs).
/// Returns the slices and, by leaving their steps out, the copies that are no longer needed.
pub fn in_place(program: &Program, steps: &[PlannedStep]) -> Vec<SliceOf> {
    let aliased: std::collections::HashSet<BufId> = program.buffers.iter().filter_map(|b| b.alias).collect();
    let mut slices: Vec<SliceOf> = Vec::new();
    for s in steps {
        let merge = matches!(s.spec.kernel, Kernel::Concat);
        let split = matches!(s.spec.kernel, Kernel::Slice { .. }) && !s.spec.accumulate;
        if !(merge || split) || !s.spec.epilogue.is_empty() {
            continue;
        }
        let ins = s.spec.inputs.len();
        let parts: Vec<(BufId, BufId, usize)> = if merge {
            let out = s.operands[ins];
            let mut at = 0;
            s.spec
                .inputs
                .iter()
                .zip(&s.operands)
                .map(|(op, &b)| {
                    let c = op.dims.get(1).copied().unwrap_or(0);
                    at += c;
                    (b, out, at - c)
                })
                .collect()
        } else {
            let Kernel::Slice { offset } = s.spec.kernel else { unreachable!() };
            vec![(s.operands[1], s.operands[0], offset)]
        };
        let distinct = parts.iter().map(|p| p.0).collect::<std::collections::HashSet<_>>().len() == parts.len();
        let movable = |child: BufId| {
            program.buffer(child).alias.is_none()
                && !aliased.contains(&child)
                && !slices.iter().any(|sl| sl.child == child)
                && touches(steps, child).into_iter().all(|(t, k)| {
                    std::ptr::eq(t, s) || is_elided(t, &slices) || strided_ok(&t.spec.kernel, k, t.spec.inputs.len())
                })
                && writers(steps, child).iter().all(|t| !t.spec.accumulate)
                && ![Some(program.output), program.loss, Some(program.input), program.labels].contains(&Some(child))
        };
        if distinct
            && parts.iter().all(|&(child, parent, _)| child != parent && movable(child))
            && program.buffer(parts[0].1).alias.is_none()
        {
            slices.extend(parts.into_iter().map(|(child, parent, channel)| SliceOf { child, parent, channel }));
        }
    }
    slices
}

/// Every (step, operand position) that reads or writes `b`.
fn touches(steps: &[PlannedStep], b: BufId) -> Vec<(&PlannedStep, usize)> {
    steps
        .iter()
        .flat_map(|s| s.operands.iter().enumerate().filter(move |(_, &o)| o == b).map(move |(k, _)| (s, k)))
        .collect()
}

fn writers(steps: &[PlannedStep], b: BufId) -> Vec<&PlannedStep> {
    steps
        .iter()
        .filter(|s| s.operands[s.spec.inputs.len()..s.spec.inputs.len() + s.spec.outputs.len()].contains(&b))
        .collect()
}

/// True if step `s` is a copy made unnecessary by `slices`.
pub fn is_elided(s: &PlannedStep, slices: &[SliceOf]) -> bool {
    let ins = s.spec.inputs.len();
    match s.spec.kernel {
        Kernel::Concat => {
            s.operands[..ins].iter().all(|b| slices.iter().any(|sl| sl.child == *b && sl.parent == s.operands[ins]))
        }
        Kernel::Slice { .. } => slices.iter().any(|sl| sl.child == s.operands[1] && sl.parent == s.operands[0]),
        _ => false,
    }
}
