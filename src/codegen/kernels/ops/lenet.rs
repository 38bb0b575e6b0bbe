//! LeNet-5's own layers: trainable subsampling (`Subsample`,
//! `SubsampleBackward`) and the Euclidean RBF output (`Rbf`, `RbfBackward`).
//!
//! Consumes: subsampling maps N×C×H×W (k×k blocks, leftover rows and
//! columns ignored) with one weight and bias per map; RBF inputs viewed as
//! N×F with K centres of F values.
//! Produces: the first output through the [`Sink`]; weight and centre
//! gradients stored directly.
//! Guarantees: subsampling forward, dx and every RBF backward value are
//! bit-identical to the reference (same operations in the same order). The
//! reductions over many positions — the subsampling dw, db and the RBF
//! distances — are kept in interleaved vector accumulators ([`Reduce`]), a
//! different order of additions. Work splits over (sample, map) planes for
//! the forward pass, over maps for the subsampling backward pass (a part
//! owns a map's dw and db), and for the RBF backward pass over samples (dx
//! rows) followed by centres (dcenter rows, summed over the whole batch).

use std::sync::Arc;

use cranelift_codegen::ir::{InstBuilder, Value};

use super::emit::{
    divmod, fixed_fold, fixed_loop, iconst, lane0, load, load_strided, range_loop, run, store, Combine, Lanes, Reduce,
};
use super::frame::{build, Frame, OpOptions, Split, Tensor};
use super::shape::{bad, batch, nchw, same, sample, size};
use super::sink::{Sink, SinkAt};
use crate::autodiff::Kernel;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::simd::{mem, V4};
use crate::sched::StepSpec;

/// Compiles a subsampling or RBF kernel.
pub(super) fn compile(jit: &Jit, spec: &StepSpec, opts: &OpOptions) -> Result<Arc<dyn CompiledKernel>> {
    match spec.kernel {
        Kernel::Subsample(s) => subsample(jit, spec, opts, s.k as usize, s.channels as usize, false),
        Kernel::SubsampleBackward(s) => subsample(jit, spec, opts, s.k as usize, s.channels as usize, true),
        Kernel::Rbf(r) => rbf(jit, spec, opts, r.in_features as usize, r.classes as usize),
        Kernel::RbfBackward(r) => {
            rbf_backward(jit, spec, opts, r.in_features as usize, r.classes as usize, r.trainable)
        }
        _ => Err(bad(spec, "not a LeNet kernel")),
    }
}

/// The sizes of a subsampling: maps h×w, blocks k×k, outputs oh×ow.
#[derive(Clone, Copy)]
struct Blocks {
    c: usize,
    h: usize,
    w: usize,
    k: usize,
}

impl Blocks {
    fn oh(&self) -> usize {
        self.h / self.k
    }
    fn ow(&self) -> usize {
        self.w / self.k
    }

    /// The sum of each lane's k×k block, row-major like the reference;
    /// `row` points at the block row's first input row, `off` is the byte
    /// offset of lane 0's output column.
    fn sum(&self, v: &mut V4, row: Value, off: Value, lanes: Lanes) -> Value {
        let col = v.b.ins().imul_imm_s(off, self.k as i64);
        let mut acc = None;
        for p in 0..self.k {
            for q in 0..self.k {
                let o = v.b.ins().iadd_imm_s(col, (4 * (p * self.w + q)) as i64);
                let x = load_strided(v, lanes, row, o, self.k);
                acc = Some(match acc {
                    None => x,
                    Some(a) => v.add(a, x),
                });
            }
        }
        acc.expect("k > 0")
    }
}

/// `Subsample` (one plane per unit) or `SubsampleBackward` (one map per unit).
fn subsample(
    jit: &Jit,
    spec: &StepSpec,
    opts: &OpOptions,
    k: usize,
    maps: usize,
    backward: bool,
) -> Result<Arc<dyn CompiledKernel>> {
    let (xi, yop) = if backward { (1, &spec.inputs[0]) } else { (0, &spec.outputs[0]) };
    let [n, c, h, w] = nchw(spec, "x", &spec.inputs[xi])?;
    if k == 0 {
        return Err(bad(spec, "the subsampling block is empty"));
    }
    same(spec, "x's channels", c, maps)?;
    let g = Blocks { c, h, w, k };
    if nchw(spec, "y", yop)? != [n, c, g.oh(), g.ow()] {
        return Err(bad(spec, format!("y has dims {:?}, expected {:?}", yop.dims, [n, c, g.oh(), g.ow()])));
    }
    let params = if backward {
        vec![&spec.inputs[2], &spec.outputs[1], &spec.outputs[2]]
    } else {
        vec![&spec.inputs[1], &spec.inputs[2]]
    };
    for p in params {
        same(spec, "a per-map tensor's length", size(p), c)?;
    }
    if backward && (spec.outputs[0].dims != spec.inputs[1].dims) {
        return Err(bad(spec, "dx must be shaped like x"));
    }
    let (units, cost) = if backward { (c, 3 * n * h * w) } else { (n * c, h * w) };
    let desc = format!("{} {k} {:?}", spec.kernel.name(), spec.inputs[xi].dims);
    build(jit, spec, desc, Split::new(units, cost, opts), 0, |v, f| {
        let sink = Sink::new(spec, f);
        range_loop(v, f.lo, f.hi, |v, u| {
            if backward {
                subsample_map(v, spec, f, &sink, g, n, u)
            } else {
                subsample_plane(v, spec, f, &sink, g, u)
            }
        })
    })
}

/// A per-map scalar of `t` for map `ch`, broadcast.
fn per_map(v: &mut V4, t: Tensor, ch: Value) -> Value {
    let off = v.b.ins().ishl_imm_s(ch, 2);
    load(v, Lanes::One, t.base, off)
}

/// `Subsample` on plane `u`: y = w·(block sum) + b.
fn subsample_plane(v: &mut V4, spec: &StepSpec, f: &Frame, sink: &Sink, g: Blocks, u: Value) -> Result<()> {
    let (smp, ch) = divmod(v, u, g.c);
    let (wv, bv) = (per_map(v, f.input(spec, 1), ch), per_map(v, f.input(spec, 2), ch));
    let xoff = v.b.ins().imul_imm_s(ch, (g.h * g.w) as i64);
    let xp = f.input(spec, 0).at(v, smp, xoff);
    let yoff = v.b.ins().imul_imm_s(ch, (g.oh() * g.ow()) as i64);
    let at = sink.at(v, smp, yoff);
    fixed_loop(v, g.oh(), |v, i| {
        let row = v.b.ins().imul_imm_s(i, (4 * g.k * g.w) as i64);
        let row = v.b.ins().iadd(xp, row);
        let yrow = v.b.ins().imul_imm_s(i, (4 * g.ow()) as i64);
        run(v, g.ow(), |v, off, lanes| {
            let s = g.sum(v, row, off, lanes);
            let t = v.mul(wv, s);
            let y = v.add(t, bv);
            let o = v.b.ins().iadd(yrow, off);
            sink.put(v, &at, o, lanes, y);
            Ok(())
        })
    })
}

/// `SubsampleBackward` for map `ch` over the whole batch.
fn subsample_map(v: &mut V4, spec: &StepSpec, f: &Frame, sink: &Sink, g: Blocks, n: usize, ch: Value) -> Result<()> {
    let (dy, x) = (f.input(spec, 0), f.input(spec, 1));
    let wv = per_map(v, f.input(spec, 2), ch);
    let xoff = v.b.ins().imul_imm_s(ch, (g.h * g.w) as i64);
    let yoff = v.b.ins().imul_imm_s(ch, (g.oh() * g.ow()) as i64);
    let r = Reduce { k: 2, op: Combine::Add };
    let init = r.init(v);
    let acc = fixed_fold(v, n, &init, |v, smp, st| {
        let (xp, dyp) = (x.at(v, smp, xoff), dy.at(v, smp, yoff));
        let at = sink.at(v, smp, xoff);
        spread(v, sink, &at, g, dyp, wv)?;
        fixed_fold(v, g.oh(), st, |v, i, st| {
            let row = v.b.ins().imul_imm_s(i, (4 * g.k * g.w) as i64);
            let row = v.b.ins().iadd(xp, row);
            let drow = v.b.ins().imul_imm_s(i, (4 * g.ow()) as i64);
            let drow = v.b.ins().iadd(dyp, drow);
            r.run(v, g.ow(), st, |v, off, lanes| {
                let s = g.sum(v, row, off, lanes);
                let d = load(v, lanes, drow, off);
                vec![v.mul(d, s), d]
            })
        })
    })?;
    let t = r.totals(v, &acc);
    let (dw, db) = (t[0], t[1]);
    let off = v.b.ins().ishl_imm_s(ch, 2);
    for (k, val) in [(1, dw), (2, db)] {
        let s = lane0(v, val);
        let p = v.b.ins().iadd(f.output(spec, k).base, off);
        v.b.ins().store(mem(), s, p, 0);
    }
    Ok(())
}

/// dx of one plane: w·dy over each block, zero in the leftover rows and columns.
fn spread(v: &mut V4, sink: &Sink, at: &SinkAt, g: Blocks, dyp: Value, wv: Value) -> Result<()> {
    let zeros = |v: &mut V4, from: Value, len: usize| {
        run(v, len, |v, off, lanes| {
            let o = v.b.ins().iadd(from, off);
            let z = v.splat(0.0);
            sink.put(v, at, o, lanes, z);
            Ok(())
        })
    };
    fixed_loop(v, g.oh(), |v, i| {
        if g.k == 2 {
            return spread_pairs(v, sink, at, g, dyp, wv, i);
        }
        fixed_loop(v, g.ow(), |v, j| {
            let o = v.b.ins().imul_imm_s(i, g.ow() as i64);
            let o = v.b.ins().iadd(o, j);
            let o = v.b.ins().ishl_imm_s(o, 2);
            let d = load(v, Lanes::One, dyp, o);
            let val = v.mul(wv, d);
            let base = v.b.ins().imul_imm_s(i, (4 * g.k * g.w) as i64);
            let jb = v.b.ins().imul_imm_s(j, (4 * g.k) as i64);
            let base = v.b.ins().iadd(base, jb);
            for p in 0..g.k {
                for q in 0..g.k {
                    let o = v.b.ins().iadd_imm_s(base, (4 * (p * g.w + q)) as i64);
                    sink.put(v, at, o, Lanes::One, val);
                }
            }
            Ok(())
        })?;
        for p in 0..g.k {
            let row = v.b.ins().imul_imm_s(i, (4 * g.k * g.w) as i64);
            let from = v.b.ins().iadd_imm_s(row, (4 * (p * g.w + g.ow() * g.k)) as i64);
            zeros(v, from, g.w - g.ow() * g.k)?;
        }
        Ok(())
    })?;
    let from = iconst(v, (4 * g.oh() * g.k * g.w) as i64);
    zeros(v, from, (g.h - g.oh() * g.k) * g.w)
}

/// [`spread`]'s block row `i` for 2×2 blocks, four dy values at a time: `w·dy`
/// duplicated lane-wise (`[a a b b]`, `[c c d d]`) covers eight x columns of each
/// of the two rows with four vector stores; a leftover column goes one by one.
/// Then the zero leftover column, if the width is odd.
fn spread_pairs(v: &mut V4, sink: &Sink, at: &SinkAt, g: Blocks, dyp: Value, wv: Value, i: Value) -> Result<()> {
    let drow = v.b.ins().imul_imm_s(i, (4 * g.ow()) as i64);
    let drow = v.b.ins().iadd(dyp, drow);
    let xrow = v.b.ins().imul_imm_s(i, (4 * 2 * g.w) as i64);
    run(v, g.ow(), |v, off, lanes| {
        let d = load(v, lanes, drow, off);
        let val = v.mul(wv, d);
        let base = v.b.ins().imul_imm_s(off, 2);
        let base = v.b.ins().iadd(xrow, base);
        for p in 0..2 {
            let row = v.b.ins().iadd_imm_s(base, (4 * p * g.w) as i64);
            match lanes {
                Lanes::Four => {
                    let lo = v.shuffle(val, val, [0, 0, 1, 1]);
                    let hi = v.shuffle(val, val, [2, 2, 3, 3]);
                    sink.put(v, at, row, Lanes::Four, lo);
                    let next = v.b.ins().iadd_imm_s(row, 16);
                    sink.put(v, at, next, Lanes::Four, hi);
                }
                Lanes::One => {
                    sink.put(v, at, row, Lanes::One, val);
                    let next = v.b.ins().iadd_imm_s(row, 4);
                    sink.put(v, at, next, Lanes::One, val);
                }
            }
        }
        Ok(())
    })?;
    if g.w > 2 * g.ow() {
        for p in 0..2 {
            let o = v.b.ins().iadd_imm_s(xrow, (4 * (p * g.w + 2 * g.ow())) as i64);
            let z = v.splat(0.0);
            sink.put(v, at, o, Lanes::One, z);
        }
    }
    Ok(())
}

/// Checks x (N×F) and y (N×K) against the layer and the centres (K×F).
fn rbf_sizes(spec: &StepSpec, x: usize, y: usize, centres: usize, f: usize, k: usize) -> Result<usize> {
    let n = batch(spec, "x", &spec.inputs[x])?;
    same(spec, "x's features", sample(&spec.inputs[x]), f)?;
    let yop = if y < spec.inputs.len() { &spec.inputs[y] } else { &spec.outputs[0] };
    same(spec, "y's batch", batch(spec, "y", yop)?, n)?;
    same(spec, "y's classes", sample(yop), k)?;
    same(spec, "the centres' length", size(&spec.inputs[centres]), k * f)?;
    Ok(n)
}

/// `Rbf`: y[n,j] = Σ_i (x[n,i] − c[j,i])², one sample per unit.
fn rbf(jit: &Jit, spec: &StepSpec, opts: &OpOptions, feats: usize, k: usize) -> Result<Arc<dyn CompiledKernel>> {
    let n = rbf_sizes(spec, 0, usize::MAX, 1, feats, k)?;
    let desc = format!("rbf {feats}->{k} {:?}", spec.inputs[0].dims);
    build(jit, spec, desc, Split::new(n, k * feats, opts), 0, |v, f| {
        let sink = Sink::new(spec, f);
        let (x, c) = (f.input(spec, 0), f.input(spec, 1));
        range_loop(v, f.lo, f.hi, |v, smp| {
            let xp = x.at_const(v, smp, 0);
            let at = sink.at_const(v, smp, 0);
            fixed_loop(v, k, |v, j| {
                let cp = v.b.ins().imul_imm_s(j, (4 * feats) as i64);
                let cp = v.b.ins().iadd(c.base, cp);
                let r = Reduce { k: 1, op: Combine::Add };
                let init = r.init(v);
                let acc = r.run(v, feats, &init, |v, off, lanes| {
                    let (xv, cv) = (load(v, lanes, xp, off), load(v, lanes, cp, off));
                    let d = v.sub(xv, cv);
                    vec![v.mul(d, d)]
                })?;
                let dist = r.totals(v, &acc)[0];
                let o = v.b.ins().ishl_imm_s(j, 2);
                sink.put(v, &at, o, Lanes::One, dist);
                Ok(())
            })
        })
    })
}

/// `RbfBackward`: units 0..N are dx rows, N..N+K dcenter rows.
fn rbf_backward(
    jit: &Jit,
    spec: &StepSpec,
    opts: &OpOptions,
    feats: usize,
    k: usize,
    trainable: bool,
) -> Result<Arc<dyn CompiledKernel>> {
    let n = rbf_sizes(spec, 1, 0, 2, feats, k)?;
    same(spec, "dx's layout", sample(&spec.outputs[0]), feats)?;
    same(spec, "dx's batch", batch(spec, "dx", &spec.outputs[0])?, n)?;
    if trainable {
        same(spec, "dcenters' length", size(&spec.outputs[1]), k * feats)?;
    }
    let units = n + if trainable { k } else { 0 };
    let desc = format!("rbf_bwd {feats}->{k} {:?}", spec.inputs[1].dims);
    build(jit, spec, desc, Split::new(units, n.max(k) * feats, opts), 0, |v, f| {
        let sink = Sink::new(spec, f);
        let (dy, x, c) = (f.input(spec, 0), f.input(spec, 1), f.input(spec, 2));
        let (zero, nv, end) = (iconst(v, 0), iconst(v, n as i64), iconst(v, units as i64));
        let (a, b) = (v.b.ins().smax(f.lo, zero), v.b.ins().smin(f.hi, nv));
        range_loop(v, a, b, |v, smp| {
            let xp = x.at_const(v, smp, 0);
            let at = sink.at_const(v, smp, 0);
            run(v, feats, |v, off, lanes| {
                let xv = load(v, lanes, xp, off);
                let z = v.splat(0.0);
                let g = fixed_fold(v, k, &[z], |v, j, st| {
                    let g = rbf_term(v, dy, c, feats, smp, j, xv, off, lanes);
                    Ok(vec![v.add(st[0], g)])
                })?;
                sink.put(v, &at, off, lanes, g[0]);
                Ok(())
            })
        })?;
        if !trainable {
            return Ok(());
        }
        let (a, b) = (v.b.ins().smax(f.lo, nv), v.b.ins().smin(f.hi, end));
        let dc = f.output(spec, 1);
        range_loop(v, a, b, |v, u| {
            let j = v.b.ins().iadd_imm_s(u, -(n as i64));
            let row = v.b.ins().imul_imm_s(j, (4 * feats) as i64);
            let row = v.b.ins().iadd(dc.base, row);
            run(v, feats, |v, off, lanes| {
                let z = v.splat(0.0);
                let g = fixed_fold(v, n, &[z], |v, smp, st| {
                    let xp = x.at_const(v, smp, 0);
                    let xv = load(v, lanes, xp, off);
                    let g = rbf_term(v, dy, c, feats, smp, j, xv, off, lanes);
                    Ok(vec![v.sub(st[0], g)])
                })?;
                store(v, lanes, g[0], row, off);
                Ok(())
            })
        })
    })
}

/// `(2·dy[smp, j])·(x − c[j])` at byte offset `off` of the feature row.
#[allow(clippy::too_many_arguments)]
fn rbf_term(
    v: &mut V4,
    dy: Tensor,
    c: Tensor,
    feats: usize,
    smp: Value,
    j: Value,
    xv: Value,
    off: Value,
    lanes: Lanes,
) -> Value {
    let dp = dy.at(v, smp, j);
    let zero = iconst(v, 0);
    let d = load(v, Lanes::One, dp, zero);
    let two = v.splat(2.0);
    let d2 = v.mul(two, d);
    let cp = v.b.ins().imul_imm_s(j, (4 * feats) as i64);
    let cp = v.b.ins().iadd(c.base, cp);
    let cv = load(v, lanes, cp, off);
    let diff = v.sub(xv, cv);
    v.mul(d2, diff)
}
