//! The frame both training losses share: one part walks the samples in order, adds
//! each sample's loss term (which also stores that sample's gradient) to the total in
//! that order, like the reference, and stores the mean into the 1-element loss buffer.

use std::sync::Arc;

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::emit::{fixed_fold, iconst, Lanes};
use super::frame::{build, Split, Tensor};
use super::sink::Sink;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::simd::V4;
use crate::sched::StepSpec;

/// Compiles a loss over `n` samples whose `term(v, [logits, labels, dlogits], sample)`
/// emits one sample's scalar loss term.
pub(super) fn compile(
    jit: &Jit,
    spec: &StepSpec,
    desc: String,
    n: usize,
    term: impl Fn(&mut V4, [Tensor; 3], Value) -> Result<Value>,
) -> Result<Arc<dyn CompiledKernel>> {
    build(jit, spec, desc, Split::single(1), 0, |v, fr| {
        let sink = Sink::new(spec, fr);
        let (x, lab, dl) = (fr.input(spec, 0), fr.input(spec, 1), fr.output(spec, 1));
        let zero = v.b.ins().f32const(0.0);
        let total = fixed_fold(v, n, &[zero], |v, smp, st| {
            let t = term(v, [x, lab, dl], smp)?;
            Ok(vec![v.b.ins().fadd(st[0], t)])
        })?[0];
        let inv_n = v.b.ins().f32const(1.0 / n.max(1) as f32);
        let loss = v.b.ins().fmul(total, inv_n);
        let loss = v.b.ins().splat(types::F32X4, loss);
        // The loss buffer is unbatched: sample 0, element 0.
        let z = iconst(v, 0);
        let at = sink.at(v, z, z);
        sink.put(v, &at, z, Lanes::One, loss);
        Ok(())
    })
}
