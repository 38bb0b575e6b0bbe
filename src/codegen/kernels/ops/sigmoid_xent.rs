//! The binary training loss `SigmoidCrossEntropy`: one logit z per sample (the input
//! of a final sigmoid) and a 0/1 label, in the fused, numerically stable form.
//!
//! Consumes: logits N×1 (any batch stride), labels holding 0 or 1 per sample as f32,
//! and a 1-element loss buffer. Produces: the loss through the [`Sink`]; dlogits stored
//! directly.
//! Guarantees: per sample, e = exp(−|z|) with the [`vmath`] `exp` (relative error ≤ 2e-7),
//! the term max(z, 0) − z·q + ln(1 + e) with the [`vmath`] `log`, and σ(z) = 1/(1 + e) for
//! z ≥ 0 and e/(1 + e) below, as the reference computes them, so nothing overflows for
//! any finite z. q = (1 − ε)·y + ε/2. One part walks the samples in order and adds each
//! term to the total in that order, like the reference. A label other than 0 or 1
//! makes the loss and that sample's gradient NaN, as the reference does.

use std::sync::Arc;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::emit::{iconst, load, store, Lanes};
use super::frame::Tensor;
use super::shape::{alike, bad, batch, same, sample, size};
use crate::autodiff::Kernel;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::simd::V4;
use crate::codegen::vmath;
use crate::sched::StepSpec;

/// Compiles `SigmoidCrossEntropy`: one part, samples in order.
pub(super) fn compile(jit: &Jit, spec: &StepSpec) -> Result<Arc<dyn CompiledKernel>> {
    let Kernel::SigmoidCrossEntropy { smoothing: eps } = spec.kernel else {
        return Err(bad(spec, "not the binary cross-entropy"));
    };
    let (logits, labels) = (&spec.inputs[0], &spec.inputs[1]);
    let n = batch(spec, "the logits", logits)?;
    same(spec, "logits per sample", sample(logits), 1)?;
    same(spec, "the labels' batch", batch(spec, "the labels", labels)?, n)?;
    same(spec, "labels per sample", sample(labels), 1)?;
    same(spec, "the loss's length", size(&spec.outputs[0]), 1)?;
    alike(spec, "dlogits", &spec.outputs[1], logits)?;
    let smoothed = if eps == 0.0 { String::new() } else { format!(" smoothed {eps}") };
    let desc = format!("sigmoid_xent{smoothed} {:?}", logits.dims);
    super::mean_loss::compile(jit, spec, desc, n, |v, t, smp| sample_loss(v, eps, n, t, smp))
}

/// Writes sample `smp`'s dlogit; returns its loss term (scalar f32).
fn sample_loss(v: &mut V4, eps: f32, n: usize, [x, lab, dl]: [Tensor; 3], smp: Value) -> Result<Value> {
    let off = iconst(v, 0);
    let xp = x.at_const(v, smp, 0);
    let gp = dl.at_const(v, smp, 0);
    let z = load(v, Lanes::One, xp, off);
    // The target q, or NaN for a label that is neither 0 nor 1.
    let lp = lab.at_const(v, smp, 0);
    let y = v.b.ins().load(types::F32, crate::codegen::simd::mem(), lp, 0);
    let (zero_f, one_f) = (v.b.ins().f32const(0.0), v.b.ins().f32const(1.0));
    let is0 = v.b.ins().fcmp(FloatCC::Equal, y, zero_f);
    let is1 = v.b.ins().fcmp(FloatCC::Equal, y, one_f);
    let valid = v.b.ins().bor(is0, is1);
    let q = if eps == 0.0 {
        y
    } else {
        let keep = v.b.ins().f32const(1.0 - eps);
        let spread = v.b.ins().f32const(eps * 0.5);
        let kept = v.b.ins().fmul(keep, y);
        v.b.ins().fadd(kept, spread)
    };
    let nan = v.b.ins().f32const(f32::NAN);
    let q = v.b.ins().select(valid, q, nan);
    let q = v.b.ins().splat(types::F32X4, q);
    // e = exp(−|z|), the term max(z, 0) − z·q + ln(1 + e).
    let a = v.abs(z);
    let na = v.b.ins().fneg(a);
    let e = vmath::exp(v, na);
    let one = v.splat(1.0);
    let den = v.add(one, e);
    let softplus = vmath::log(v, den);
    let zero = v.splat(0.0);
    let relu = v.max(zero, z);
    let zq = v.mul(z, q);
    let t = v.sub(relu, zq);
    let term = v.add(t, softplus);
    // σ(z) from the same e.
    let pos = v.div(one, den);
    let neg = v.div(e, den);
    let below = v.lt_mask(z, zero);
    let sigma = v.select(below, neg, pos);
    let d = v.sub(sigma, q);
    let inv_n = v.splat(1.0 / n.max(1) as f32);
    let g = v.mul(d, inv_n);
    store(v, Lanes::One, g, gp, off);
    Ok(v.b.ins().extractlane(term, 0))
}
