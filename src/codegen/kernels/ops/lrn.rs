//! Local response normalisation across channels: `Lrn` (x → y) and
//! `LrnBackward` (x, y, dy → dx), one (sample, channel) plane per work unit,
//! vectorised along the plane's positions.
//!
//! Consumes: N×C×S tensors (S = H·W, or 1 for vectors), any batch strides,
//! the window of [`Kernel::Lrn`] (Caffe's, clipped to the valid channels).
//! Produces: the first output through the [`Sink`].
//! Guarantees: window sums are taken in the reference's channel order;
//! channels outside the valid range read a zeroed row of scratch, which
//! adds exact zeros, so no per-channel variants are needed. The only
//! approximation is s^(−β): β = 0.75 (AlexNet) is `1/(√s·√√s)`, β = 0.5 and
//! 1 use `sqrt` / division (all within a few ulp), any other β is
//! `exp(−β·ln s)` with the [`vmath`] emitters (relative error ≈ 2e-7·(1 +
//! β·|ln s|)). The backward pass first writes, per dependent channel c of
//! the plane j (those whose window holds j), the row (2αβ/n)·dy_c·y_c/s_c
//! to scratch (zeros for channels outside the map), then subtracts the rows
//! times x_j from dy_j·s_j^(−β) in ascending c, the reference's order.
//! Scratch: S floats forward, (n + 1)·S backward.

use std::sync::Arc;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value};

use super::emit::{divmod, fork, load, range_loop, run, store, Lanes};
use super::frame::{build, OpOptions, Split, Tensor};
use super::shape::{alike, bad, ncs};
use super::sink::{Sink, SinkAt};
use crate::autodiff::Kernel;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::simd::V4;
use crate::codegen::vmath;
use crate::ir::Lrn;
use crate::sched::StepSpec;

/// The sizes and constants of one LRN step.
#[derive(Clone, Copy)]
struct Geom {
    c: usize,
    s: usize,
    /// Window channels before and after the centre.
    before: usize,
    after: usize,
    p: Lrn,
}

impl Geom {
    fn size(&self) -> usize {
        self.p.size as usize
    }
}

/// Compiles `Lrn` or `LrnBackward`.
pub(super) fn compile(jit: &Jit, spec: &StepSpec, opts: &OpOptions) -> Result<Arc<dyn CompiledKernel>> {
    let (p, backward) = match spec.kernel {
        Kernel::Lrn(p) => (p, false),
        Kernel::LrnBackward(p) => (p, true),
        _ => return Err(bad(spec, "not an LRN kernel")),
    };
    if p.size == 0 {
        return Err(bad(spec, "the LRN window is empty"));
    }
    let x = &spec.inputs[0];
    let [n, c, s] = ncs(spec, "x", x)?;
    for (k, op) in spec.inputs.iter().chain(&spec.outputs).enumerate() {
        alike(spec, &format!("operand {k}"), op, x)?;
    }
    let size = p.size as usize;
    let g = Geom { c, s, before: (size - 1) / 2, after: size / 2, p };
    let cost = if backward { s * size * (size + 3) } else { s * (size + 2) };
    let split = Split::new(n * c, cost, opts);
    let scratch = if backward { (size + 1) * s } else { s };
    let desc = format!("{} {} {:?}", spec.kernel.name(), size, x.dims);
    build(jit, spec, desc, split, scratch, |v, f| {
        let sink = Sink::new(spec, f);
        let zero_row = f.scratch;
        run(v, s, |v, off, lanes| {
            let z = v.splat(0.0);
            store(v, lanes, z, zero_row, off);
            Ok(())
        })?;
        let ts: Vec<Tensor> = (0..spec.inputs.len()).map(|k| f.input(spec, k)).collect();
        range_loop(v, f.lo, f.hi, |v, u| {
            let (smp, ch) = divmod(v, u, c);
            let off = v.b.ins().imul_imm_s(ch, s as i64);
            let at = sink.at(v, smp, off);
            let plane = Plane { g, smp, ch, zero_row };
            if backward {
                plane.backward(v, &ts, f.scratch, &sink, &at)
            } else {
                let xs = plane.window(v, ts[0], 0);
                let xc = plane.at(v, ts[0], 0);
                run(v, s, |v, o, lanes| {
                    let sc = plane.scale(v, &xs, o, lanes);
                    let x = load(v, lanes, xc, o);
                    let y = pow_neg(v, sc, p.beta);
                    let y = v.mul(x, y);
                    sink.put(v, &at, o, lanes, y);
                    Ok(())
                })
            }
        })
    })
}

/// One (sample, channel) plane being computed.
struct Plane {
    g: Geom,
    smp: Value,
    ch: Value,
    zero_row: Value,
}

impl Plane {
    /// The plane of channel `ch + d` of `t`, or the zero row if that
    /// channel does not exist.
    fn at(&self, v: &mut V4, t: Tensor, d: isize) -> Value {
        let c = v.b.ins().iadd_imm_s(self.ch, d as i64);
        let off = v.b.ins().imul_imm_s(c, self.g.s as i64);
        let p = t.at(v, self.smp, off);
        if d == 0 {
            return p;
        }
        // Unsigned: a negative channel wraps above C.
        let valid = v.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, c, self.g.c as i64);
        v.b.ins().select(valid, p, self.zero_row)
    }

    /// The planes of the window around channel `ch + d`, in channel order.
    fn window(&self, v: &mut V4, x: Tensor, d: isize) -> Vec<Value> {
        let (b, a) = (self.g.before as isize, self.g.after as isize);
        (d - b..=d + a).map(|e| self.at(v, x, e)).collect()
    }

    /// `k + α/n · Σ x²` over the window planes `xs` at byte offset `off`.
    fn scale(&self, v: &mut V4, xs: &[Value], off: Value, lanes: Lanes) -> Value {
        let mut sum = None;
        for &p in xs {
            let x = load(v, lanes, p, off);
            let sq = v.mul(x, x);
            sum = Some(match sum {
                None => sq,
                Some(acc) => v.add(acc, sq),
            });
        }
        let sum = sum.expect("the window holds at least one channel");
        let (k, a) = (v.splat(self.g.p.k as f32), v.splat((self.g.p.alpha / self.g.p.size as f64) as f32));
        let t = v.mul(a, sum);
        v.add(k, t)
    }

    /// `LrnBackward` for this plane (j = `ch`).
    fn backward(&self, v: &mut V4, ts: &[Tensor], scratch: Value, sink: &Sink, at: &SinkAt) -> Result<()> {
        let (x, y, dy) = (ts[0], ts[1], ts[2]);
        let g = self.g;
        let coef = (2.0 * g.p.alpha * g.p.beta / g.p.size as f64) as f32;
        for t in 0..g.size() {
            let d = t as isize - g.after as isize;
            let row = v.offset(scratch, (4 * (t + 1) * g.s) as i64);
            let c = v.b.ins().iadd_imm_s(self.ch, d as i64);
            let valid = v.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, c, g.c as i64);
            fork(v, valid, |v, ok| {
                if !ok {
                    return run(v, g.s, |v, o, lanes| {
                        let z = v.splat(0.0);
                        store(v, lanes, z, row, o);
                        Ok(())
                    });
                }
                let xs = self.window(v, x, d);
                let (dyc, yc) = (self.at(v, dy, d), self.at(v, y, d));
                run(v, g.s, |v, o, lanes| {
                    let sc = self.scale(v, &xs, o, lanes);
                    let (dv, yv) = (load(v, lanes, dyc, o), load(v, lanes, yc, o));
                    let k = v.splat(coef);
                    let b = v.mul(k, dv);
                    let b = v.mul(b, yv);
                    let b = v.div(b, sc);
                    store(v, lanes, b, row, o);
                    Ok(())
                })
            })?;
        }
        let xs = self.window(v, x, 0);
        let (xj, dyj) = (self.at(v, x, 0), self.at(v, dy, 0));
        run(v, g.s, |v, o, lanes| {
            let sc = self.scale(v, &xs, o, lanes);
            let (xv, dv) = (load(v, lanes, xj, o), load(v, lanes, dyj, o));
            let pw = pow_neg(v, sc, g.p.beta);
            let mut dx = v.mul(dv, pw);
            for t in 0..g.size() {
                let row = v.offset(scratch, (4 * (t + 1) * g.s) as i64);
                let b = load(v, lanes, row, o);
                let bx = v.mul(b, xv);
                dx = v.sub(dx, bx);
            }
            sink.put(v, at, o, lanes, dx);
            Ok(())
        })
    }
}

/// `s^(−β)` for s > 0.
fn pow_neg(v: &mut V4, s: Value, beta: f64) -> Value {
    let one = v.splat(1.0);
    if beta == 0.75 {
        let r = v.b.ins().sqrt(s);
        let q = v.b.ins().sqrt(r);
        let rq = v.mul(r, q);
        v.div(one, rq)
    } else if beta == 0.5 {
        let r = v.b.ins().sqrt(s);
        v.div(one, r)
    } else if beta == 1.0 {
        v.div(one, s)
    } else if beta == 0.0 {
        one
    } else {
        let l = vmath::log(v, s);
        let nb = v.splat(-beta as f32);
        let e = v.mul(nb, l);
        vmath::exp(v, e)
    }
}
