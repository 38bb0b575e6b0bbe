//! Checks a plan's memory layout: every operand lies inside the arena (or its
//! parameter tensor), and no two buffers alive at the same step overlap unless one is
//! a view or a slice of the other.

use super::{Base, Plan};
use crate::autodiff::{BufId, Program};

/// The address range `[start, end)` of buffer `b` for the plan's batch (strided slices
/// span from their first to their last element).
fn range(program: &Program, plan: &Plan, b: BufId) -> (usize, usize) {
    let loc = plan.locations[b.index()];
    let buf = program.buffer(b);
    let sample = buf.len(1);
    let n = if buf.batched { plan.batch } else { 1 };
    (loc.offset, loc.offset + (n - 1) * loc.batch_stride + sample)
}

/// Returns the first problem found, in words.
pub fn verify(program: &Program, plan: &Plan) -> Result<(), String> {
    for (i, s) in plan.steps.iter().enumerate() {
        for &b in &s.operands {
            let loc = plan.locations[b.index()];
            let (lo, hi) = range(program, plan, b);
            let limit = match loc.base {
                Base::Arena => plan.arena_len,
                Base::Param(_) | Base::Grad(_) => program.buffer(b).len(1),
            };
            if hi > limit || lo > hi {
                return Err(format!(
                    "step {i} ({}): buffer `{}` spans {lo}..{hi}, beyond {limit}",
                    s.spec.kernel.name(),
                    program.buffer(b).name
                ));
            }
        }
    }
    // Buffers touched by each step must not overlap unless they share storage by design.
    let nested = |a: BufId, b: BufId| {
        let (la, ha) = range(program, plan, a);
        let (lb, hb) = range(program, plan, b);
        (la <= lb && hb <= ha) || (lb <= la && ha <= hb)
    };
    for (i, s) in plan.steps.iter().enumerate() {
        for (x, &a) in s.operands.iter().enumerate() {
            for &b in &s.operands[x + 1..] {
                let (la, lb) = (plan.locations[a.index()], plan.locations[b.index()]);
                if a == b || la.base != lb.base || la.base != Base::Arena || nested(a, b) {
                    continue;
                }
                let ((a0, a1), (b0, b1)) = (range(program, plan, a), range(program, plan, b));
                if a0 < b1 && b0 < a1 {
                    return Err(format!(
                        "step {i} ({}): `{}` and `{}` overlap",
                        s.spec.kernel.name(),
                        program.buffer(a).name,
                        program.buffer(b).name
                    ));
                }
            }
        }
    }
    Ok(())
}
