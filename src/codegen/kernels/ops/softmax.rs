//! Softmax over each sample's features: `Softmax`, `SoftmaxBackward` and
//! the training loss `SoftmaxCrossEntropy`. A sample's features are one row
//! (x viewed as N×F); softmax and its backward pass split over samples.
//!
//! Consumes: batched rows (any batch strides); for the loss, labels holding
//! one class index per sample as f32 and a 1-element loss buffer.
//! Produces: the first output through the [`Sink`] (for the loss, the loss
//! itself); dlogits stored directly.
//! Guarantees: exponentials are taken after subtracting the row maximum
//! (log-sum-exp, as the reference), with the [`vmath`] `exp` and `log`
//! (relative errors ≤ 2e-7 and 3e-7), so probabilities carry a relative
//! error of a few 1e-7 and row sums and maxima are reduced in interleaved
//! vector accumulators ([`Reduce`]), not sequentially. The loss is computed by a
//! single part that walks the samples in order and adds each sample's
//! term to the total in that order, like the reference; an invalid label
//! (negative, fractional, too large, NaN) makes the loss and that sample's
//! gradient NaN, as the reference does.

use std::sync::Arc;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::emit::{iconst, ivec, load, range_loop, run, store, Combine, Lanes, Reduce};
use super::frame::{build, OpOptions, Split, Tensor};
use super::shape::{alike, bad, batch, same, sample, size};
use super::sink::Sink;
use crate::autodiff::Kernel;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::simd::V4;
use crate::codegen::vmath;
use crate::sched::StepSpec;

/// Compiles `Softmax`, `SoftmaxBackward` or `SoftmaxCrossEntropy`.
pub(super) fn compile(jit: &Jit, spec: &StepSpec, opts: &OpOptions) -> Result<Arc<dyn CompiledKernel>> {
    match spec.kernel {
        Kernel::Softmax | Kernel::SoftmaxBackward => rows(jit, spec, opts),
        Kernel::SoftmaxCrossEntropy { negate, smoothing } => xent(jit, spec, negate, smoothing),
        _ => Err(bad(spec, "not a softmax kernel")),
    }
}

/// `Softmax` and `SoftmaxBackward`: one sample per unit.
fn rows(jit: &Jit, spec: &StepSpec, opts: &OpOptions) -> Result<Arc<dyn CompiledKernel>> {
    let backward = spec.kernel == Kernel::SoftmaxBackward;
    let x = &spec.inputs[0];
    let (n, f) = (batch(spec, "x", x)?, sample(x));
    for (k, op) in spec.inputs.iter().chain(&spec.outputs).enumerate() {
        alike(spec, &format!("operand {k}"), op, x)?;
    }
    let split = Split::new(n, 3 * f, opts);
    let desc = format!("{} {:?}", spec.kernel.name(), x.dims);
    build(jit, spec, desc, split, 0, |v, fr| {
        let sink = Sink::new(spec, fr);
        let ts: Vec<Tensor> = (0..spec.inputs.len()).map(|k| fr.input(spec, k)).collect();
        range_loop(v, fr.lo, fr.hi, |v, smp| {
            let ptrs: Vec<Value> = ts.iter().map(|t| t.at_const(v, smp, 0)).collect();
            let at = sink.at_const(v, smp, 0);
            if backward {
                // dx = y·(dy − Σ dy·y)
                let dot = row_sum(v, f, &|v, off, lanes| {
                    let (y, d) = (load(v, lanes, ptrs[0], off), load(v, lanes, ptrs[1], off));
                    v.mul(d, y)
                })?;
                run(v, f, |v, off, lanes| {
                    let (y, d) = (load(v, lanes, ptrs[0], off), load(v, lanes, ptrs[1], off));
                    let t = v.sub(d, dot);
                    let dx = v.mul(y, t);
                    sink.put(v, &at, off, lanes, dx);
                    Ok(())
                })
            } else {
                let lse = log_sum_exp(v, f, ptrs[0], false)?;
                run(v, f, |v, off, lanes| {
                    let x = load(v, lanes, ptrs[0], off);
                    let t = v.sub(x, lse);
                    let y = vmath::exp(v, t);
                    sink.put(v, &at, off, lanes, y);
                    Ok(())
                })
            }
        })
    })
}

/// Σ over a row of `f` elements of the lane-wise `term`, broadcast.
fn row_sum(v: &mut V4, f: usize, term: &dyn Fn(&mut V4, Value, Lanes) -> Value) -> Result<Value> {
    row_reduce(v, f, Combine::Add, term)
}

/// Reduces the lane-wise `term` over a row of `f` elements, broadcast.
fn row_reduce(v: &mut V4, f: usize, op: Combine, term: &dyn Fn(&mut V4, Value, Lanes) -> Value) -> Result<Value> {
    let r = Reduce { k: 1, op };
    let init = r.init(v);
    let st = r.run(v, f, &init, |v, off, lanes| vec![term(v, off, lanes)])?;
    Ok(r.totals(v, &st)[0])
}

/// `z`: the row's value at `off`, negated if `negate`.
fn z_at(v: &mut V4, p: Value, off: Value, lanes: Lanes, negate: bool) -> Value {
    let x = load(v, lanes, p, off);
    if negate {
        v.b.ins().fneg(x)
    } else {
        x
    }
}

/// `m + ln Σ exp(z − m)` over the row at `p`, m its maximum, broadcast.
fn log_sum_exp(v: &mut V4, f: usize, p: Value, negate: bool) -> Result<Value> {
    let m = row_reduce(v, f, Combine::Max, &|v, off, lanes| z_at(v, p, off, lanes, negate))?;
    let sum = row_sum(v, f, &|v, off, lanes| {
        let z = z_at(v, p, off, lanes, negate);
        let t = v.sub(z, m);
        vmath::exp(v, t)
    })?;
    let l = vmath::log(v, sum);
    Ok(v.add(m, l))
}

/// `SoftmaxCrossEntropy`: one part, samples in order.
fn xent(jit: &Jit, spec: &StepSpec, negate: bool, eps: f32) -> Result<Arc<dyn CompiledKernel>> {
    let (logits, labels) = (&spec.inputs[0], &spec.inputs[1]);
    let (n, k) = (batch(spec, "the logits", logits)?, sample(logits));
    same(spec, "the labels' batch", batch(spec, "the labels", labels)?, n)?;
    same(spec, "labels per sample", sample(labels), 1)?;
    same(spec, "the loss's length", size(&spec.outputs[0]), 1)?;
    alike(spec, "dlogits", &spec.outputs[1], logits)?;
    let smoothed = if eps == 0.0 { String::new() } else { format!(" smoothed {eps}") };
    let desc = format!("softmax_xent{}{smoothed} {:?}", if negate { " negated" } else { "" }, logits.dims);
    super::mean_loss::compile(jit, spec, desc, n, |v, t, smp| sample_loss(v, Row { k, negate, eps }, n, t, smp))
}

/// What the loss makes of a row: `k` classes, negated or not, label smoothing `eps`.
#[derive(Clone, Copy)]
struct Row {
    k: usize,
    negate: bool,
    eps: f32,
}

/// Writes sample `smp`'s dlogits; returns its loss term (scalar f32). With smoothing ε the
/// term is lse − (1 − ε)·z[label] − (ε/K)·Σ z and the target (1 − ε)·onehot + ε/K; with
/// ε = 0 the code is that of plain cross-entropy.
fn sample_loss(v: &mut V4, row: Row, n: usize, [x, lab, dl]: [Tensor; 3], smp: Value) -> Result<Value> {
    let Row { k, negate, eps } = row;
    let xp = x.at_const(v, smp, 0);
    let gp = dl.at_const(v, smp, 0);
    let lse = log_sum_exp(v, k, xp, negate)?;
    // The label is a class index iff it survives f32 → i32 → f32 and lies in 0..k.
    let lp = lab.at_const(v, smp, 0);
    let lf = v.b.ins().load(types::F32, crate::codegen::simd::mem(), lp, 0);
    let li = v.b.ins().fcvt_to_sint_sat(types::I32, lf);
    let back = v.b.ins().fcvt_from_sint(types::F32, li);
    let exact = v.b.ins().fcmp(FloatCC::Equal, back, lf);
    let zero_f = v.b.ins().f32const(0.0);
    let nonneg = v.b.ins().fcmp(FloatCC::GreaterThanOrEqual, lf, zero_f);
    let below = v.b.ins().icmp_imm_s(cranelift_codegen::ir::condcodes::IntCC::SignedLessThan, li, k as i64);
    let valid = v.b.ins().band(exact, nonneg);
    let valid = v.b.ins().band(valid, below);
    let idx = v.b.ins().sextend(types::I64, li);
    let zero_idx = iconst(v, 0);
    let idx = v.b.ins().select(valid, idx, zero_idx);
    let zl = v.b.ins().ishl_imm_s(idx, 2);
    let zl = z_at(v, xp, zl, Lanes::One, negate);
    let picked = if eps == 0.0 {
        v.sub(lse, zl)
    } else {
        let sum = row_sum(v, k, &|v, off, lanes| z_at(v, xp, off, lanes, negate))?;
        let (keep, spread) = (v.splat(1.0 - eps), v.splat(eps / k as f32));
        let kept = v.mul(keep, zl);
        let spread = v.mul(spread, sum);
        let t = v.sub(lse, kept);
        v.sub(t, spread)
    };
    let picked = v.b.ins().extractlane(picked, 0);
    let nan = v.b.ins().f32const(f32::NAN);
    let term = v.b.ins().select(valid, picked, nan);
    // Added to the one-hot target: 0 for a valid label, NaN otherwise.
    let bad = v.b.ins().select(valid, zero_f, nan);
    let bad = v.b.ins().splat(types::F32X4, bad);
    let label = v.b.ins().splat(types::F32X4, lf);
    let inv_n = v.splat(1.0 / n.max(1) as f32);
    run(v, k, |v, off, lanes| {
        let z = z_at(v, xp, off, lanes, negate);
        let t = v.sub(z, lse);
        let p = vmath::exp(v, t);
        let c = v.b.ins().ushr_imm_s(off, 2);
        let c = v.b.ins().ireduce(types::I32, c);
        let c = v.b.ins().splat(types::I32X4, c);
        let steps = ivec(v, [0, 1, 2, 3]);
        let c = v.b.ins().iadd(c, steps);
        let cf = v.b.ins().fcvt_from_sint(types::F32X4, c);
        let hit = v.b.ins().fcmp(FloatCC::Equal, cf, label);
        let hit = v.to_f32(hit);
        let keep = v.splat(1.0 - eps);
        let target = v.b.ins().band(hit, keep);
        let target = if eps == 0.0 {
            target
        } else {
            let spread = v.splat(eps / k as f32);
            v.add(target, spread)
        };
        let target = v.add(target, bad);
        let d = v.sub(p, target);
        let d = if negate { v.b.ins().fneg(d) } else { d };
        let g = v.mul(d, inv_n);
        store(v, lanes, g, gp, off);
        Ok(())
    })?;
    Ok(term)
}
