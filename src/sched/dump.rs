//! The plan's text form (`netc check --dump plan`): one launch per line with its
//! fused epilogue, and each operand with its place in memory.

use super::{Base, Plan};
use crate::autodiff::Program;
use std::fmt::Write;

/// The plan as text, naming buffers from `program`.
pub fn render(plan: &Plan, program: &Program) -> String {
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
        let acc = if s.spec.accumulate { " +=" } else { "" };
        let _ = write!(out, "  {}{acc} {}({})", list(ins..ins + outs), s.spec.kernel.name(), list(0..ins));
        if !s.spec.epilogue.is_empty() {
            let _ = write!(
                out,
                " then {} with ({})",
                super::describe_epilogue(&s.spec.epilogue),
                list(ins + outs..s.operands.len())
            );
        }
        out.push('\n');
    }
    out
}
