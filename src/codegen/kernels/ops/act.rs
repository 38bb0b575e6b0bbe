//! Activations and their derivatives on f32x4 lanes, shared by the `Act` /
//! `ActBackward` kernels, and the one JIT form of the fused epilogue
//! ([`epilogue_n`], the [`Fused`] semantics), which both stores call: the register
//! tiles' (`conv::store`) and the other kernels' (`ops::sink`).
//!
//! Consumes: a [`V4`] and an activation (or an epilogue). Produces: lane-wise values.
//! Guarantees: the arithmetic follows the contract's formulas operation by
//! operation, so ReLU, leaky ReLU, the derivatives and every `ScaledTanh` factor are
//! bit-identical to the reference; `tanh` and `sigmoid` use the vectorised
//! approximations of [`vmath`] (absolute error below 4e-7 for tanh,
//! relative below 3e-7 for sigmoid). ReLU propagates NaN (`max(0, NaN) =
//! NaN`) like the GEMM epilogue, so a diverging run stays visible; the
//! reference maps NaN to 0 there.

use cranelift_codegen::ir::{InstBuilder, Value};

use crate::codegen::simd::V4;
use crate::codegen::vmath;
use crate::ir::Act;
use crate::sched::Fused;

/// The epilogue applied to vectors `xs`, in order: each [`Fused`] stage is emitted for
/// all of them before the next (independent chains interleave, see [`forward_n`]);
/// `extra(v, k, i)` loads extra operand `k` at the elements of `xs[i]`.
pub(in crate::codegen::kernels) fn epilogue_n(
    v: &mut V4,
    epilogue: &[Fused],
    mut xs: Vec<Value>,
    mut extra: impl FnMut(&mut V4, usize, usize) -> Value,
) -> Vec<Value> {
    for f in epilogue {
        xs = match *f {
            Fused::Act(a) => forward_n(v, a, &xs),
            Fused::Scale(s) => {
                let k = v.splat(s as f32);
                xs.iter().map(|&x| v.mul(x, k)).collect()
            }
            Fused::AddOperand(k) => (0..xs.len())
                .map(|i| {
                    let e = extra(v, k, i);
                    v.add(xs[i], e)
                })
                .collect(),
            Fused::MulActGrad(a, k) => (0..xs.len())
                .map(|i| {
                    let z = extra(v, k, i);
                    let s = slope(v, a, z);
                    v.mul(xs[i], s)
                })
                .collect(),
        };
    }
    xs
}

/// `f(x)`.
pub(super) fn forward(v: &mut V4, a: Act, x: Value) -> Value {
    forward_n(v, a, &[x])[0]
}

/// `f` of each of `xs`, emitted operation by operation across all of them so that
/// independent tanh chains interleave (a register tile's epilogue stores several
/// accumulators at once).
pub(in crate::codegen::kernels) fn forward_n(v: &mut V4, a: Act, xs: &[Value]) -> Vec<Value> {
    match a {
        Act::Relu => {
            let zero = v.splat(0.0);
            // `x` second: `maxps` returns the second operand on NaN.
            xs.iter().map(|&x| v.max(zero, x)).collect()
        }
        Act::LeakyRelu { slope } => {
            // max(slope·x, x) is x for x > 0 and slope·x otherwise when 0 ≤ slope < 1,
            // and passes NaN through (`x` second).
            let k = v.splat(slope as f32);
            xs.iter()
                .map(|&x| {
                    let kx = v.mul(k, x);
                    v.max(kx, x)
                })
                .collect()
        }
        Act::Tanh => vmath::tanh_n(v, xs),
        Act::Sigmoid => xs.iter().map(|&x| vmath::sigmoid(v, x)).collect(),
        Act::ScaledTanh { a, s } => {
            let (a, s) = (v.splat(a as f32), v.splat(s as f32));
            let sx: Vec<Value> = xs.iter().map(|&x| v.mul(s, x)).collect();
            let t = vmath::tanh_n(v, &sx);
            t.iter().map(|&t| v.mul(a, t)).collect()
        }
    }
}

/// `f'` written in terms of the activation's output `y`.
pub(in crate::codegen::kernels) fn slope(v: &mut V4, a: Act, y: Value) -> Value {
    let one = v.splat(1.0);
    match a {
        Act::Relu => {
            // [y > 0] as exactly 1.0 or 0.0, so dy·slope rounds like the reference.
            let zero = v.splat(0.0);
            let pos = v.lt_mask(zero, y);
            v.b.ins().band(pos, one)
        }
        Act::LeakyRelu { slope } => {
            let (zero, k) = (v.splat(0.0), v.splat(slope as f32));
            let pos = v.lt_mask(zero, y);
            v.select(pos, one, k)
        }
        Act::Tanh => {
            let yy = v.mul(y, y);
            v.sub(one, yy)
        }
        Act::Sigmoid => {
            let rest = v.sub(one, y);
            v.mul(y, rest)
        }
        Act::ScaledTanh { a, s } => {
            let (a, s) = (v.splat(a as f32), v.splat(s as f32));
            let yy = v.mul(y, y);
            let q = v.div(yy, a);
            let d = v.sub(a, q);
            v.mul(s, d)
        }
    }
}

/// `dy · f'(y)`.
pub(super) fn backward(v: &mut V4, a: Act, y: Value, dy: Value) -> Value {
    let s = slope(v, a, y);
    v.mul(dy, s)
}
