//! Checks a plan: every operand is described with the dims of the program step it
//! comes from (fusion keeps the producer's dims even when it stores into a view with
//! other dims), lies inside the arena (or its parameter tensor), and no two buffers
//! touched by one step overlap unless one is a view or a slice of the other.

use super::{Base, Plan, PlannedStep};
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
        operands_match(program, plan.batch, s).map_err(|e| format!("step {i} ({}): {e}", s.spec.kernel.name()))?;
    }
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
                if overlap(program, plan, a, b) {
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

/// Whether two arena buffers share an element. Samples sit `batch_stride` apart, so
/// two channel slices of one concatenation interleave without overlapping: sample `i`
/// of `a` meets sample `j` of `b` only if their runs intersect.
fn overlap(program: &Program, plan: &Plan, a: BufId, b: BufId) -> bool {
    let run = |x: BufId| {
        let buf = program.buffer(x);
        let n = if buf.batched { plan.batch } else { 1 };
        (plan.locations[x.index()], buf.len(1), n)
    };
    let ((la, sa, na), (lb, sb, nb)) = (run(a), run(b));
    let (a0, a1) = range(program, plan, a);
    let (b0, b1) = range(program, plan, b);
    if a1 <= b0 || b1 <= a0 {
        return false;
    }
    // Both strided alike with runs shorter than the stride: compare sample by sample.
    if la.batch_stride == lb.batch_stride && sa <= la.batch_stride && sb <= lb.batch_stride {
        let stride = la.batch_stride.max(1) as i64;
        return (0..na as i64).any(|i| {
            let start = la.offset as i64 + i * stride;
            // Runs are shorter than the stride: only samples next to `start` can meet it.
            let near = (start - lb.offset as i64).div_euclid(stride);
            (near - 1..=near + 1).filter(|j| (0..nb as i64).contains(j)).any(|j| {
                let other = lb.offset as i64 + j * stride;
                start < other + sb as i64 && other < start + sa as i64
            })
        });
    }
    true
}

/// The operands of a planned step against the program step it started from: inputs and
/// outputs keep that step's dims, the first output may be stored in another buffer of
/// the same size (a fused consumer's output), and epilogue operands match the first
/// output element for element.
fn operands_match(program: &Program, batch: usize, s: &PlannedStep) -> Result<(), String> {
    let Some(step) = s.sources.first().and_then(|&k| program.steps.get(k)) else {
        return Err("no program step behind it".into());
    };
    let (ins, outs) = (s.spec.inputs.len(), s.spec.outputs.len());
    if (ins, outs) != (step.inputs.len(), step.outputs.len()) || s.operands.len() != ins + outs + s.spec.extra.len() {
        return Err("its operands do not match its program step".into());
    }
    let own = step.inputs.iter().chain(&step.outputs);
    for (k, (op, &b)) in s.spec.inputs.iter().chain(&s.spec.outputs).zip(own).enumerate() {
        let want = program.buffer(b).shape(batch);
        if op.dims != want {
            return Err(format!("operand {k} has dims {:?}, but `{}` is {want:?}", op.dims, program.buffer(b).name));
        }
        if program.buffer(s.operands[k]).len(batch) != op.len() {
            return Err(format!(
                "operand {k} is stored in `{}`, which has another size",
                program.buffer(s.operands[k]).name
            ));
        }
    }
    let out_len = s.spec.outputs.first().map_or(0, |o| o.len());
    for (e, &b) in s.spec.extra.iter().zip(&s.operands[ins + outs..]) {
        if e.len() != out_len || program.buffer(b).len(batch) != out_len {
            return Err(format!("epilogue operand `{}` does not match the output", program.buffer(b).name));
        }
    }
    Ok(())
}
