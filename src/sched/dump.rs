//! The plan's text form (`netc check --dump plan`, and the golden plan files of the zoo
//! under `tests/golden/plans`): the arena, then one launch per line with its fused
//! epilogue and each operand's place in memory, and, when the caller has compiled them,
//! a second line naming the kernel chosen for the launch.

use super::Fused;
use super::{Base, Plan};
use crate::autodiff::Program;
use std::fmt::Write;

/// The plan as text, naming buffers from `program`; `kernels` holds one description
/// per planned step (what the JIT compiled for it), or is empty.
pub fn render(plan: &Plan, program: &Program, kernels: &[String]) -> String {
    let mut out = format!(
        "plan for batch {}: arena {} floats ({} without sharing)\n",
        plan.batch, plan.arena_len, plan.unshared_len
    );
    for (i, s) in plan.steps.iter().enumerate() {
        if i == plan.forward_end && plan.forward_end < plan.steps.len() {
            out.push_str("backward:\n");
        }
        let place = |b: &crate::autodiff::BufId| {
            let loc = plan.locations[b.index()];
            let at = match loc.base {
                Base::Arena => format!("@{}", loc.offset),
                Base::Param(p) => format!("param {p}"),
                Base::Grad(p) => format!("grad {p}"),
            };
            let stride = if program.buffer(*b).batched && loc.batch_stride != program.buffer(*b).len(1) {
                format!(" stride {}", loc.batch_stride)
            } else {
                String::new()
            };
            format!("{} [{at}{stride}]", program.buffer(*b).name)
        };
        let ins = s.spec.inputs.len();
        let outs = s.spec.outputs.len();
        let list = |r: std::ops::Range<usize>| s.operands[r].iter().map(place).collect::<Vec<_>>().join(", ");
        let assign = if s.spec.accumulate { "+=" } else { "=" };
        let _ = write!(out, "  {} {assign} {}({})", list(ins..ins + outs), s.spec.kernel.name(), list(0..ins));
        if !s.spec.epilogue.is_empty() {
            let _ = write!(out, " then {}", super::describe_epilogue(&s.spec.epilogue));
            let extras: Vec<String> =
                s.operands[ins + outs..].iter().enumerate().map(|(k, b)| format!("e{k} = {}", place(b))).collect();
            if !extras.is_empty() {
                let _ = write!(out, " where {}", extras.join(", "));
            }
        }
        out.push('\n');
        if let Some(k) = kernels.get(i) {
            let _ = writeln!(out, "      {k}");
        }
    }
    out
}

/// One fused operation as it reads in a plan: `relu`, `×0.17`, `+e0`, `×relu'(e0)`.
pub fn describe_fused(f: &Fused) -> String {
    match f {
        Fused::Act(a) => a.to_string(),
        Fused::Scale(s) => format!("×{s}"),
        Fused::AddOperand(k) => format!("+e{k}"),
        Fused::MulActGrad(a, k) => format!("×{a}'(e{k})"),
    }
}
