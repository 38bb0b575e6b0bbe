//! Windowed pooling: `Pool` (max or average, x → y) and `PoolBackward`
//! (x, y, dy → dx), one feature plane per work unit.
//!
//! Consumes: NCHW maps, the window, ceil mode and `count_pad` (see
//! [`Kernel::Pool`]). Produces: y, or dx, through the [`Sink`].
//! Guarantees: bit-identical to the reference. Windows are classified at
//! compile time: interior rows run in a loop and interior columns four
//! outputs per f32x4 (strided loads for stride 2 and more); border rows and
//! columns are unrolled with their clipped taps and divisors as constants.
//! Every window reduces its taps in row-major order like the reference; a
//! max keeps the first of equal maxima and never lets padding win. The
//! backward pass accumulates into a zeroed plane in scratch (H·W floats),
//! window by window in row-major order and lane by lane, which is the
//! reference's order of additions, then stores the plane through the sink;
//! an average whose windows tile the input exactly writes each share once
//! instead (one contribution per input, so the order cannot differ).

use std::ops::Range;
use std::sync::Arc;

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::emit::{add_to, divmod, iconst, ivec, load, load_strided, max_keep, range_loop, run, store, Lanes};
use super::frame::{build, OpOptions, Split};
use super::shape::{bad, nchw};
use super::sink::{Sink, SinkAt};
use crate::autodiff::Kernel;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::simd::V4;
use crate::ir::{window_out, Pool, PoolKind};
use crate::sched::StepSpec;

/// One axis of the window: input length, outputs, kernel, stride, padding.
#[derive(Debug, Clone, Copy)]
struct Axis {
    n: usize,
    out: usize,
    k: usize,
    s: usize,
    lo: usize,
    hi: usize,
}

impl Axis {
    /// Input index of output `i`'s first tap (negative inside the padding).
    fn origin(&self, i: usize) -> isize {
        (i * self.s) as isize - self.lo as isize
    }

    /// The taps of output `i` that read inside the input.
    fn taps(&self, i: usize) -> Range<usize> {
        let o = self.origin(i);
        let t0 = (-o).max(0) as usize;
        let t1 = (self.n as isize - o).clamp(0, self.k as isize) as usize;
        t0..t1.max(t0)
    }

    /// This axis' factor of the average's divisor for output `i`.
    fn extent(&self, i: usize, count_pad: bool) -> usize {
        if count_pad {
            let o = self.origin(i);
            ((o + self.k as isize).min((self.n + self.hi) as isize) - o) as usize
        } else {
            self.taps(i).len()
        }
    }

    /// Every input in exactly one window: windows as wide as their stride, no
    /// padding, no inputs left past the last window.
    fn tiles_exactly(&self) -> bool {
        self.k == self.s && self.lo == 0 && self.hi == 0 && self.n == self.out * self.s
    }

    /// The outputs whose whole window lies inside the input (contiguous).
    fn interior(&self) -> Range<usize> {
        let inside: Vec<usize> = (0..self.out).filter(|&i| self.taps(i).len() == self.k).collect();
        match (inside.first(), inside.last()) {
            (Some(&a), Some(&b)) => a..b + 1,
            _ => 0..0,
        }
    }
}

/// The validated geometry of one pooling step.
struct Geom {
    c: usize,
    rows: Axis,
    cols: Axis,
    pool: Pool,
}

impl Geom {
    fn plane_in(&self) -> usize {
        self.rows.n * self.cols.n
    }
    fn plane_out(&self) -> usize {
        self.rows.out * self.cols.out
    }
}

/// One group of 1 or 4 horizontally adjacent windows.
struct Win {
    /// Element index, in the input plane, of lane 0's top-left tap.
    x0: Value,
    /// Element index of lane 0's output in the output plane.
    y0: Value,
    p: Range<usize>,
    q: Range<usize>,
    div: usize,
    lanes: Lanes,
}

/// Compiles `Pool` or `PoolBackward`.
pub(super) fn compile(jit: &Jit, spec: &StepSpec, opts: &OpOptions) -> Result<Arc<dyn CompiledKernel>> {
    let (pool, backward) = match spec.kernel {
        Kernel::Pool(p) => (p, false),
        Kernel::PoolBackward(p) => (p, true),
        _ => return Err(bad(spec, "not a pooling kernel")),
    };
    let g = geometry(spec, pool, backward)?;
    let n = spec.inputs[0].dims[0];
    let taps = pool.window.kh as usize * pool.window.kw as usize;
    let split = Split::new(n * g.c, g.plane_in() + g.plane_out() * taps, opts);
    let desc =
        format!("{} {:?} {:?} -> {:?}", spec.kernel.name(), pool.kind, spec.inputs[0].dims, spec.outputs[0].dims);
    let scratch = if backward { g.plane_in() } else { 0 };
    build(jit, spec, desc, split, scratch, |v, f| {
        let sink = Sink::new(spec, f);
        let x = f.input(spec, 0);
        let dy = f.input(spec, 2.min(spec.inputs.len() - 1));
        range_loop(v, f.lo, f.hi, |v, u| {
            let (s, ch) = divmod(v, u, g.c);
            let xoff = v.b.ins().imul_imm_s(ch, g.plane_in() as i64);
            let yoff = v.b.ins().imul_imm_s(ch, g.plane_out() as i64);
            let xp = x.at(v, s, xoff);
            if backward {
                let dyp = dy.at(v, s, yoff);
                let at = sink.at(v, s, xoff);
                backward_plane(v, &g, xp, dyp, f.scratch, &sink, &at)
            } else {
                let at = sink.at(v, s, yoff);
                forward_plane(v, &g, xp, &sink, &at)
            }
        })
    })
}

/// Checks x (and y, dy, dx) against the window; pooling keeps the channels
/// and pads less than the window, so every window has an in-range tap.
fn geometry(spec: &StepSpec, pool: Pool, backward: bool) -> Result<Geom> {
    let [n, c, h, w] = nchw(spec, "x", &spec.inputs[0])?;
    let win = &pool.window;
    let (oh, ow) = window_out(win, h as u64, w as u64, pool.ceil).map_err(|e| bad(spec, e.message))?;
    let want_y = [n, c, oh as usize, ow as usize];
    let ys: Vec<&crate::sched::Operand> =
        if backward { vec![&spec.inputs[1], &spec.inputs[2]] } else { vec![&spec.outputs[0]] };
    for y in ys {
        if nchw(spec, "y", y)? != want_y {
            return Err(bad(spec, format!("y has dims {:?}, expected {want_y:?}", y.dims)));
        }
    }
    if backward && nchw(spec, "dx", &spec.outputs[0])? != [n, c, h, w] {
        return Err(bad(spec, format!("dx has dims {:?}, expected x's", spec.outputs[0].dims)));
    }
    let p = &win.pad;
    if p.top.max(p.bottom) >= win.kh || p.left.max(p.right) >= win.kw {
        return Err(bad(spec, "pooling padding must be smaller than the window"));
    }
    let u = |x: u64| x as usize;
    let rows = Axis { n: h, out: want_y[2], k: u(win.kh), s: u(win.sh), lo: u(p.top), hi: u(p.bottom) };
    let cols = Axis { n: w, out: want_y[3], k: u(win.kw), s: u(win.sw), lo: u(p.left), hi: u(p.right) };
    if (0..rows.out).any(|i| rows.taps(i).is_empty()) || (0..cols.out).any(|j| cols.taps(j).is_empty()) {
        return Err(bad(spec, "a pooling window lies entirely in the padding"));
    }
    Ok(Geom { c, rows, cols, pool })
}

/// Emits one output row: its index, tap rows and row factor of the divisor.
type RowFn<'a> = dyn FnMut(&mut V4, Value, Range<usize>, usize) -> Result<()> + 'a;

/// Calls `f` for every window group of a plane, in row-major output order:
/// leading border rows, the interior rows' loop, trailing border rows; in
/// each row leading border columns, the interior vectors, trailing ones.
fn for_windows(v: &mut V4, g: &Geom, f: &mut dyn FnMut(&mut V4, &Win) -> Result<()>) -> Result<()> {
    let inner = g.rows.interior();
    let mut row = |v: &mut V4, i: Value, p: Range<usize>, rdiv: usize| -> Result<()> {
        let x_row = v.b.ins().imul_imm_s(i, (g.rows.s * g.cols.n) as i64);
        let x_row = v.b.ins().iadd_imm_s(x_row, -((g.rows.lo * g.cols.n) as i64));
        let y_row = v.b.ins().imul_imm_s(i, g.cols.out as i64);
        for_columns(v, g, x_row, y_row, p, rdiv, f)
    };
    let lead = if inner.is_empty() { g.rows.out } else { inner.start };
    let border = |v: &mut V4, i: usize, row: &mut RowFn| {
        let iv = iconst(v, i as i64);
        row(v, iv, g.rows.taps(i), g.rows.extent(i, g.pool.count_pad))
    };
    for i in 0..lead {
        border(v, i, &mut row)?;
    }
    if inner.is_empty() {
        return Ok(());
    }
    let (a, b) = (iconst(v, inner.start as i64), iconst(v, inner.end as i64));
    range_loop(v, a, b, |v, i| row(v, i, 0..g.rows.k, g.rows.k))?;
    for i in inner.end..g.rows.out {
        border(v, i, &mut row)?;
    }
    Ok(())
}

/// The window groups of one output row.
fn for_columns(
    v: &mut V4,
    g: &Geom,
    x_row: Value,
    y_row: Value,
    p: Range<usize>,
    rdiv: usize,
    f: &mut dyn FnMut(&mut V4, &Win) -> Result<()>,
) -> Result<()> {
    let inner = g.cols.interior();
    let border = |v: &mut V4, j: usize, f: &mut dyn FnMut(&mut V4, &Win) -> Result<()>| {
        let x0 = v.b.ins().iadd_imm_s(x_row, g.cols.origin(j) as i64);
        let y0 = v.b.ins().iadd_imm_s(y_row, j as i64);
        let div = rdiv * g.cols.extent(j, g.pool.count_pad);
        f(v, &Win { x0, y0, p: p.clone(), q: g.cols.taps(j), div, lanes: Lanes::One })
    };
    let lead = if inner.is_empty() { g.cols.out } else { inner.start };
    for j in 0..lead {
        border(v, j, f)?;
    }
    if inner.is_empty() {
        return Ok(());
    }
    run(v, inner.len(), |v, off, lanes| {
        let j = v.b.ins().ushr_imm_s(off, 2);
        let xj = v.b.ins().imul_imm_s(j, g.cols.s as i64);
        let x0 = v.b.ins().iadd(x_row, xj);
        let x0 = v.b.ins().iadd_imm_s(x0, g.cols.origin(inner.start) as i64);
        let y0 = v.b.ins().iadd(y_row, j);
        let y0 = v.b.ins().iadd_imm_s(y0, inner.start as i64);
        f(v, &Win { x0, y0, p: p.clone(), q: 0..g.cols.k, div: rdiv * g.cols.k, lanes })
    })?;
    for j in inner.end..g.cols.out {
        border(v, j, f)?;
    }
    Ok(())
}

/// Byte address of element `idx` (an i64 value) of the plane at `base`.
fn elem(v: &mut V4, base: Value, idx: Value) -> Value {
    let o = v.b.ins().ishl_imm_s(idx, 2);
    v.b.ins().iadd(base, o)
}

/// The taps of a window group as (constant element offset, value) in row-major order.
fn taps(v: &mut V4, g: &Geom, xp: Value, w: &Win) -> Vec<(i64, Value)> {
    let base = elem(v, xp, w.x0);
    let mut out = Vec::new();
    for p in w.p.clone() {
        for q in w.q.clone() {
            let k = (p * g.cols.n + q) as i64;
            let off = iconst(v, 4 * k);
            out.push((k, load_strided(v, w.lanes, base, off, g.cols.s)));
        }
    }
    out
}

/// `Pool` on one plane.
fn forward_plane(v: &mut V4, g: &Geom, xp: Value, sink: &Sink, at: &SinkAt) -> Result<()> {
    for_windows(v, g, &mut |v, w| {
        let t = taps(v, g, xp, w);
        let mut acc = t[0].1;
        for &(_, x) in &t[1..] {
            acc = match g.pool.kind {
                PoolKind::Max => max_keep(v, x, acc),
                PoolKind::Avg => v.add(acc, x),
            };
        }
        if g.pool.kind == PoolKind::Avg {
            acc = v.div_by(acc, w.div as f32);
        }
        let off = v.b.ins().ishl_imm_s(w.y0, 2);
        sink.put(v, at, off, w.lanes, acc);
        Ok(())
    })
}

/// `PoolBackward` on one plane, through the scratch plane.
fn backward_plane(v: &mut V4, g: &Geom, xp: Value, dyp: Value, scratch: Value, sink: &Sink, at: &SinkAt) -> Result<()> {
    if g.pool.kind == PoolKind::Avg && g.rows.tiles_exactly() && g.cols.tiles_exactly() {
        return backward_avg_tiled(v, g, dyp, sink, at);
    }
    run(v, g.plane_in(), |v, off, lanes| {
        let z = v.splat(0.0);
        store(v, lanes, z, scratch, off);
        Ok(())
    })?;
    for_windows(v, g, &mut |v, w| {
        let yoff = v.b.ins().ishl_imm_s(w.y0, 2);
        let d = load(v, w.lanes, dyp, yoff);
        match g.pool.kind {
            PoolKind::Max => scatter_max(v, g, xp, scratch, w, d),
            PoolKind::Avg => scatter_avg(v, g, scratch, w, d),
        }
        Ok(())
    })?;
    sink.copy(v, at, scratch, 0, g.plane_in())
}

/// `PoolBackward` of an average whose windows tile the plane exactly (see
/// [`Axis::tiles_exactly`]): each input gets its window's share dy / k once, so the
/// shares are written straight through the sink, four windows' at a time, instead
/// of being added into a zeroed scratch plane tap by tap, each tap a scalar load,
/// add and store: lenet-classic's training step (2×2 average pooling, batch 64)
/// 2.16 → 2.08 ms (5 interleaved rounds, 2-core Intel Xeon). The share is added to
/// zero as that path does, so a −0 share stores +0 and the result is the same bit
/// for bit.
fn backward_avg_tiled(v: &mut V4, g: &Geom, dyp: Value, sink: &Sink, at: &SinkAt) -> Result<()> {
    let (sr, sc) = (g.rows.s, g.cols.s);
    let (lo, hi) = (iconst(v, 0), iconst(v, g.rows.out as i64));
    // The windows past the last four: when their inputs make exactly one vector per
    // row (two windows of stride 2, LeNet's 14 outputs a row), one vector store a row
    // instead of a scalar one per input (a third of the kernel's time there).
    let (quads, rest) = (g.cols.out / 4 * 4, g.cols.out % 4);
    let vector_rest = rest > 0 && rest * sc == 4;
    range_loop(v, lo, hi, |v, i| {
        let y_row = v.b.ins().imul_imm_s(i, (4 * g.cols.out) as i64);
        let x_row = v.b.ins().imul_imm_s(i, (4 * sr * g.cols.n) as i64);
        run(v, if vector_rest { quads } else { g.cols.out }, |v, off, lanes| {
            let yo = v.b.ins().iadd(y_row, off);
            let d = load(v, lanes, dyp, yo);
            let share = avg_share(v, d, sr * sc);
            // Output column j's inputs start at column j·sc: byte offset off·sc.
            let x0 = v.b.ins().imul_imm_s(off, sc as i64);
            let x0 = v.b.ins().iadd(x_row, x0);
            // Four windows cover 4·sc inputs: vector m holds columns 4m .. 4m + 3,
            // column c taking lane c / sc of the shares. One window covers sc.
            let (vectors, width): (Vec<Value>, i64) = match lanes {
                Lanes::Four => {
                    let idx = |m: usize| [0, 1, 2, 3].map(|l| ((4 * m + l) / sc) as u8);
                    ((0..sc).map(|m| v.shuffle(share, share, idx(m))).collect(), 16)
                }
                _ => (vec![share; sc], 4),
            };
            for p in 0..sr {
                for (m, &x) in vectors.iter().enumerate() {
                    let o = v.b.ins().iadd_imm_s(x0, (4 * p * g.cols.n) as i64 + m as i64 * width);
                    sink.put(v, at, o, lanes, x);
                }
            }
            Ok(())
        })?;
        if vector_rest {
            let y0 = v.b.ins().iadd_imm_s(y_row, 4 * quads as i64);
            let ds: Vec<Value> = (0..rest)
                .map(|k| {
                    let o = v.b.ins().iadd_imm_s(y0, 4 * k as i64);
                    load(v, Lanes::One, dyp, o)
                })
                .collect();
            // Lane l takes window l / sc.
            let d = if rest == 1 { ds[0] } else { v.shuffle(ds[0], ds[1], [0, 0, 4, 4]) };
            let share = avg_share(v, d, sr * sc);
            let x0 = v.b.ins().iadd_imm_s(x_row, (4 * quads * sc) as i64);
            for p in 0..sr {
                let o = v.b.ins().iadd_imm_s(x0, (4 * p * g.cols.n) as i64);
                sink.put(v, at, o, Lanes::Four, share);
            }
        }
        Ok(())
    })
}

/// An input's share `0 + dy / taps` of a window's gradient: added to zero as the
/// scratch-plane path does, so a −0 share is stored as +0 there too.
fn avg_share(v: &mut V4, d: Value, taps: usize) -> Value {
    let share = v.div_by(d, taps as f32);
    let z = v.splat(0.0);
    v.add(z, share)
}

/// Adds each lane's dy to the first maximum of its window.
fn scatter_max(v: &mut V4, g: &Geom, xp: Value, scratch: Value, w: &Win, d: Value) {
    let t = taps(v, g, xp, w);
    let x0 = v.b.ins().ireduce(types::I32, w.x0);
    let x0 = v.b.ins().splat(types::I32X4, x0);
    let s = g.cols.s as i32;
    let lane_step = ivec(v, [0, s, 2 * s, 3 * s]);
    let base = v.b.ins().iadd(x0, lane_step);
    let k0 = ivec(v, [t[0].0 as i32; 4]);
    let (mut best, mut at) = (t[0].1, v.b.ins().iadd(base, k0));
    for &(k, x) in &t[1..] {
        let m = v.lt_mask(best, x);
        best = v.select(m, x, best);
        let kv = ivec(v, [k as i32; 4]);
        let cand = v.b.ins().iadd(base, kv);
        let mi = v.to_i32(m);
        at = v.b.ins().bitselect(mi, cand, at);
    }
    for l in 0..w.lanes.count() as u8 {
        let idx = v.b.ins().extractlane(at, l);
        let idx = v.b.ins().sextend(types::I64, idx);
        let p = elem(v, scratch, idx);
        let dl = v.b.ins().extractlane(d, l);
        add_to(v, dl, p, 0);
    }
}

/// Adds each lane's dy / divisor to every in-range tap of its window.
fn scatter_avg(v: &mut V4, g: &Geom, scratch: Value, w: &Win, d: Value) {
    let share = v.div_by(d, w.div as f32);
    let base = elem(v, scratch, w.x0);
    for l in 0..w.lanes.count() {
        let sl = v.b.ins().extractlane(share, l as u8);
        for p in w.p.clone() {
            for q in w.q.clone() {
                let k = l * g.cols.s + p * g.cols.n + q;
                add_to(v, sl, base, (4 * k) as i32);
            }
        }
    }
}
