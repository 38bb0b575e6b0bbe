//! Concatenation without copies: when every step touching a branch's output can work
//! on a channel slice of a larger tensor (a batch stride larger than the sample), the
//! branch is laid out as that slice of the concatenation's result and the copy
//! disappears. Likewise in the backward pass, where `Slice` would copy a channel range
//! of the incoming gradient out, the branch's gradient becomes a view of that range.

use super::PlannedStep;
use crate::autodiff::{BufId, Kernel, Program};
use std::collections::{HashMap, HashSet};

/// A buffer laid out inside another: `child` starts `channel` channels into `parent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceOf {
    pub child: BufId,
    pub parent: BufId,
    pub channel: usize,
}

/// The slices chosen, indexed by child.
#[derive(Debug, Default)]
pub struct Slices {
    by_child: HashMap<BufId, SliceOf>,
}

impl Slices {
    /// Where `child` lives, if it is a slice of another buffer.
    pub fn of(&self, child: BufId) -> Option<&SliceOf> {
        self.by_child.get(&child)
    }

    /// True if step `s` is a copy made unnecessary by the slices.
    pub fn is_elided(&self, s: &PlannedStep) -> bool {
        let ins = s.spec.inputs.len();
        let inside = |child: BufId, parent: BufId| self.of(child).is_some_and(|sl| sl.parent == parent);
        match s.spec.kernel {
            Kernel::Concat => s.operands[..ins].iter().all(|&b| inside(b, s.operands[ins])),
            Kernel::Slice { .. } => inside(s.operands[1], s.operands[0]),
            _ => false,
        }
    }
}

/// The branches that can live inside their concatenation (and gradients inside theirs).
/// Returns the slices and, by leaving their steps out, the copies that are no longer needed.
pub fn in_place(program: &Program, steps: &[PlannedStep]) -> Slices {
    let aliased: HashSet<BufId> = program.buffers.iter().filter_map(|b| b.alias).collect();
    // Every (step, operand position) touching each buffer, found once.
    let mut touches: HashMap<BufId, Vec<(usize, usize)>> = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        for (k, &b) in s.operands.iter().enumerate() {
            touches.entry(b).or_default().push((i, k));
        }
    }
    let mut slices = Slices::default();
    for (i, s) in steps.iter().enumerate() {
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
        let distinct = parts.iter().map(|p| p.0).collect::<HashSet<_>>().len() == parts.len();
        let movable = |child: BufId| {
            let uses = touches.get(&child).map_or(&[][..], |v| v.as_slice());
            program.buffer(child).alias.is_none()
                && !aliased.contains(&child)
                && slices.of(child).is_none()
                && uses.iter().all(|&(t, k)| {
                    let t_step = &steps[t];
                    t == i || slices.is_elided(t_step) || t_step.spec.kernel.slice_ok(k, t_step.spec.inputs.len())
                })
                && uses.iter().all(|&(t, k)| {
                    let outs = steps[t].spec.inputs.len()..steps[t].spec.inputs.len() + steps[t].spec.outputs.len();
                    !outs.contains(&k) || !steps[t].spec.accumulate
                })
                && ![Some(program.output), program.loss, Some(program.input), program.labels].contains(&Some(child))
        };
        if distinct
            && parts.iter().all(|&(child, parent, _)| child != parent && movable(child))
            && program.buffer(parts[0].1).alias.is_none()
        {
            for (child, parent, channel) in parts {
                slices.by_child.insert(child, SliceOf { child, parent, channel });
            }
        }
    }
    slices
}
