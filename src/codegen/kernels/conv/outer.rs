//! The outer-product engine: an `mr × nv` register tile of f32x4 accumulators,
//! `acc[r][j] += A(r, k) · B(k, j)`, where A is one scalar per tile row broadcast to
//! four lanes and B(k, j) is a vector read straight from a source tensor.
//!
//! It computes convolutions (rows = output channels, vectors = four output columns
//! or four samples of one pixel), their data gradients (rows = input channels) and
//! dense layers (rows = features or samples), which differ only in the byte offsets
//! below. The k space is `chans` channels (a run-time loop) times a grid of taps:
//! `tap_rows × tap_cols`, each tap a byte offset into B. Taps that read only the
//! zero margin of a prepared source are skipped: tap rows through a run-time range
//! computed per grid row ([`RowBounds`]), tap columns per tile class
//! ([`ColClass::cols`]), chosen at compile time from the tiles' columns.
//!
//! Consumes: an [`OuterSpec`]. Produces a function
//! `fn(a, b, out, bias, extras, nrows, row0)`: `a` is the A panel (pre-broadcast) or
//! matrix (direct), `b` the source at grid row 0, `out`/`extras` the operands at
//! grid row 0 (`extras` points to an array of base pointers, one per extra operand),
//! `bias` the bias at tile row 0, `row0` the source row of grid row 0 for the row
//! bounds. It walks `nrows` grid rows; each is the sequence of tile classes.
//! Guarantees: every output element is the sum over k in a fixed order (channel,
//! tap row, tap column), independent of which call computes it; skipped taps are
//! exactly those whose B values are zero padding for every lane of the tile; B is
//! read only at the given offsets (a class with `partial_b` reads only the real
//! lanes of its last vector); only real lanes are stored.
//!
//! Why: pre-broadcast A is one `vmovups` per row and k step; a broadcast that feeds
//! several multiplies is not folded into `vbroadcastss mem` by Cranelift and costs a
//! shuffle µop on an FP pipe (measured 67 vs 52 GFLOP/s in L1 for a 6×2 tile). The
//! direct A form re-loads the scalar for each use instead, which does fold (58
//! GFLOP/s), for weights used too few times to be worth packing.
//!
//! Why separate multiply and add ([`FUSED`] is false) even where FMA exists (measured on
//! a Zen 5 when netc had a standalone GEMM micro-kernel, since removed): Cranelift lowers
//! `fma` only to `vfmadd213`/`vfmadd132`, whose destination is a multiplicand, so every
//! FMA either copies a shared operand or re-loads it, and accumulators rotate through
//! registers (moves on the back edge). `vmulps` + `vaddps` are non-destructive (VEX),
//! keep each accumulator in one register, and issue on separate pipes, reaching 94% of
//! the f32x4 FMA ceiling in the kernel alone against 62% for `fma` in the same layout
//! and 84% for the best fused variant (one fresh `vbroadcastss` per FMA, bound by the
//! load ports). The price is a second rounding per multiply-add; the results are still
//! compared with the reference within f32 rounding. `OuterSpec::fused` turns `fma` on; the
//! autotuner (`codegen::tune`) measures both forms per step on the machine it runs on.

use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

use super::emit::{addr, load_ptr, load_vec};
use super::store::{store_transposed, store_vecs, Item, OperandMap, StoreSpec, TilePtrs};
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn, Opt};
use crate::codegen::loops::counted_loop;
use crate::codegen::simd::V4;

/// Where the broadcast operand comes from.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ASide {
    /// A pre-broadcast panel: k steps in (channel, tap row, tap column) order, each
    /// `mr` vectors of four equal floats.
    Packed,
    /// Memory: element (r, c, m, n) at `r·row + c·chan + m·tap_row + taps[n]` bytes.
    Direct { row: i64, chan: i64, tap_row: i64, taps: Vec<i64> },
}

/// The taps of one channel: `rows × cols`, tap (m, n) at `m·b_row + b[n]` bytes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TapGrid {
    pub rows: usize,
    pub b_row: i64,
    pub b: Vec<i64>,
}

/// Run-time tap-row range of a grid row: tap row m of grid row i reads source row
/// `row0 + i·grid_step + m·tap_step`; only rows in `0..src_rows` are summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RowBounds {
    pub grid_step: i64,
    pub tap_step: i64,
    pub src_rows: i64,
}

/// A run of tiles along a grid row sharing a shape and a tap-column subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ColClass {
    /// Tiles in the run (a loop when more than one).
    pub tiles: usize,
    /// Positions per tile, and real lanes of the last position.
    pub nv: usize,
    pub last_lanes: usize,
    /// The last vector may only be read on its real lanes.
    pub partial_b: bool,
    /// Tap columns summed (the others read only padding for these tiles).
    pub cols: Vec<usize>,
}

/// One compiled variant of the engine (fixed tile height).
#[derive(Debug, Clone)]
pub(super) struct OuterSpec {
    /// Tile rows (A values per k step).
    pub mr: usize,
    pub a: ASide,
    /// Channels in the k space (run-time loop).
    pub chans: usize,
    /// Channels per loop iteration (1 with row bounds).
    pub unroll: usize,
    /// Bytes between channels in B.
    pub b_chan: i64,
    pub taps: TapGrid,
    pub bounds: Option<RowBounds>,
    /// The tiles of a grid row, in order.
    pub classes: Vec<ColClass>,
    /// Bytes between positions in B (the outputs' are in their [`OperandMap`]s).
    pub b_pos: i64,
    /// Elements between the lanes of a B vector (1 or 2).
    pub b_stride: usize,
    /// Bytes between grid rows in B and in the outputs.
    pub b_row: i64,
    pub out_row: i64,
    /// Real lanes of every vector but a class's last (4, or fewer for a partial
    /// group of samples).
    pub lanes: usize,
    pub store: StoreSpec,
    /// Connection tables: per channel, a bit mask of the tile rows linked to it.
    /// The channel loop is then unrolled and unlinked (row, channel) pairs, whose
    /// weights are zero, get no multiply-adds.
    pub links: Option<Vec<u64>>,
    /// Multiply-adds as `fma` (only where the CPU has it natively).
    pub fused: bool,
}

/// Every row of a tile.
const ALL_ROWS: u64 = u64::MAX;

/// Accumulators stored together: their epilogues are emitted interleaved (see
/// [`store_vecs`]); more would spill the registers the tile still holds.
const STORE_GROUP: usize = 2;

/// `V4` for address arithmetic and zeros, where the multiply-add form does not matter.
const FUSED: bool = false;

/// Compiles `spec` into `fn(a, b, out, bias, extras, nrows, row0)`.
pub(super) fn compile_outer(jit: &Jit, spec: &OuterSpec) -> Result<JitFn<7>> {
    jit.compile_opt("conv_outer", Opt::None, |b, [a, src, out, bias, extras, nrows, row0], features| {
        // The k loop uses the spec's multiply-add form (`fma` only where native); the
        // store stage's epilogue (a tanh is a chain of ~10 multiply-adds) uses `fma`
        // wherever it is native.
        let fma = features.has_fma;
        let spec = &OuterSpec { fused: spec.fused && fma, ..spec.clone() };
        let mut v = V4::new(b, FUSED);
        let ex: Vec<Value> = (0..spec.store.extras.len()).map(|k| load_ptr(&mut v, extras, k)).collect();
        let init: Vec<Value> = [src, out].into_iter().chain(ex.iter().copied()).collect();
        let steps: Vec<i64> =
            std::iter::once(spec.b_row).chain(std::iter::repeat_n(spec.out_row, init.len() - 1)).collect();
        counted_loop(b, nrows, 1, &init, |b, i, st| {
            let range = spec.bounds.map(|bd| tap_range(b, spec, bd, row0, i));
            grid_row(b, spec, (a, bias), range, st, fma)?;
            Ok(advance(b, st, &steps))
        })?;
        b.ins().return_(&[]);
        Ok(())
    })
}

/// Pointers moved by their `steps` (bytes).
fn advance(b: &mut FunctionBuilder, st: &[Value], steps: &[i64]) -> Vec<Value> {
    let mut v = V4::new(b, FUSED);
    st.iter().zip(steps).map(|(&p, &d)| v.offset(p, d)).collect()
}

/// The first summed tap row of grid row `i` and how many there are (may be ≤ 0).
fn tap_range(b: &mut FunctionBuilder, spec: &OuterSpec, bd: RowBounds, row0: Value, i: Value) -> (Value, Value) {
    let g = b.ins().imul_imm_s(i, bd.grid_step);
    let s = b.ins().iadd(row0, g);
    let zero = b.ins().iconst(types::I64, 0);
    let rows = b.ins().iconst(types::I64, spec.taps.rows as i64);
    // Source row s + m·step must lie in 0..src_rows.
    let (lo, hi) = if bd.tap_step > 0 {
        let neg = b.ins().ineg(s);
        let top = b.ins().iadd_imm_s(neg, bd.src_rows);
        (neg, top)
    } else {
        let lo = b.ins().iadd_imm_s(s, 1 - bd.src_rows);
        let hi = b.ins().iadd_imm_s(s, 1);
        (lo, hi)
    };
    let lo = b.ins().smax(lo, zero);
    let hi = b.ins().smin(hi, rows);
    let n = b.ins().isub(hi, lo);
    (lo, n)
}

/// One grid row: each tile class in turn (a loop for runs of tiles).
fn grid_row(
    b: &mut FunctionBuilder,
    spec: &OuterSpec,
    ab: (Value, Value),
    range: Option<(Value, Value)>,
    st: &[Value],
    fma: bool,
) -> Result<()> {
    let mut ptrs = st.to_vec();
    for cl in &spec.classes {
        let steps = tile_steps(spec, cl.nv);
        if cl.tiles == 1 {
            tile(b, spec, cl, ab, range, &ptrs, fma)?;
            ptrs = advance(b, &ptrs, &steps);
        } else if cl.tiles > 1 {
            let n = b.ins().iconst(types::I64, cl.tiles as i64);
            ptrs = counted_loop(b, n, 1, &ptrs, |b, _, t| {
                tile(b, spec, cl, ab, range, t, fma)?;
                Ok(advance(b, t, &steps))
            })?;
        }
    }
    Ok(())
}

/// Bytes each of `[b, out, extras...]` moves per tile of `nv` positions.
fn tile_steps(spec: &OuterSpec, nv: usize) -> Vec<i64> {
    let nv = nv as i64;
    let maps = std::iter::once(&spec.store.out).chain(&spec.store.extras);
    std::iter::once(nv * spec.b_pos).chain(maps.map(|m: &OperandMap| nv * m.pos_stride)).collect()
}

/// One tile of class `cl`: the k loop, then the stores.
fn tile(
    b: &mut FunctionBuilder,
    spec: &OuterSpec,
    cl: &ColClass,
    (a, bias): (Value, Value),
    range: Option<(Value, Value)>,
    ptrs: &[Value],
    fma: bool,
) -> Result<()> {
    let zero = V4::new(b, FUSED).splat(0.0);
    let mut state = vec![a, ptrs[0]];
    state.extend(std::iter::repeat_n(zero, spec.mr * cl.nv));
    // Tables unroll every channel (their masks differ); row bounds need one
    // channel per iteration (a run-time tap loop each).
    let unroll = match (&spec.links, range) {
        (Some(_), _) => spec.chans,
        (None, Some(_)) => 1,
        (None, None) => spec.unroll,
    };
    let iters = spec.chans / unroll;
    if iters == 1 {
        state = channels(b, spec, (cl, range), &state, unroll)?;
    } else if iters > 1 {
        let n = b.ins().iconst(types::I64, iters as i64);
        state = counted_loop(b, n, 1, &state, |b, _, s| channels(b, spec, (cl, range), s, unroll))?;
    }
    let rem = spec.chans % unroll;
    if rem > 0 {
        state = channels(b, spec, (cl, range), &state, rem)?;
    }
    let mut v = V4::new(b, fma);
    let tp = TilePtrs { out: ptrs[1], extras: ptrs[2..].to_vec(), bias };
    let item = |r: usize, j: usize| {
        let lanes = if j + 1 == cl.nv { cl.last_lanes } else { spec.lanes };
        Item { r, pos: j, lanes, x: state[2 + r * cl.nv + j] }
    };
    // Rows in whole groups of four go transposed where the store allows it.
    let quads = if spec.store.transposes() { spec.mr / 4 } else { 0 };
    for j in 0..cl.nv {
        for q in 0..quads {
            store_transposed(&mut v, &spec.store, tp.out, [0, 1, 2, 3].map(|k| item(4 * q + k, j)));
        }
    }
    let items: Vec<Item> =
        (4 * quads..spec.mr).flat_map(|r| (0..cl.nv).map(move |j| (r, j))).map(|(r, j)| item(r, j)).collect();
    for group in items.chunks(STORE_GROUP) {
        store_vecs(&mut v, &spec.store, &tp, group);
    }
    Ok(())
}

/// `count` channels from the state `[a, b, acc...]`; returns the state moved past
/// them.
fn channels(
    b: &mut FunctionBuilder,
    spec: &OuterSpec,
    (cl, range): (&ColClass, Option<(Value, Value)>),
    s: &[Value],
    count: usize,
) -> Result<Vec<Value>> {
    let mut acc = s[2..].to_vec();
    for u in 0..count {
        let (ac, bc) = (u as i64 * a_chan_step(spec), u as i64 * spec.b_chan);
        let rows = spec.links.as_ref().map_or(ALL_ROWS, |l| l[u]);
        if rows == 0 {
            continue;
        }
        match range {
            Some(r) => acc = tap_rows_loop(b, spec, (cl, rows), ((s[0], ac), (s[1], bc)), r, acc)?,
            None => {
                let mut v = V4::new(b, spec.fused);
                for m in 0..spec.taps.rows as i64 {
                    let at = ((s[0], ac + m * a_tap_row(spec)), (s[1], bc + m * spec.taps.b_row));
                    tap_row(&mut v, spec, (cl, rows), at, &mut acc);
                }
            }
        }
    }
    let mut v = V4::new(b, FUSED);
    let (da, db) = (a_chan_step(spec) * count as i64, spec.b_chan * count as i64);
    Ok([v.offset(s[0], da), v.offset(s[1], db)].into_iter().chain(acc).collect())
}

/// The run-time loop over the summed tap rows of one channel; `(a, b)` locate the
/// channel's first tap row as (pointer, byte offset).
fn tap_rows_loop(
    b: &mut FunctionBuilder,
    spec: &OuterSpec,
    cl: (&ColClass, u64),
    ((ap, ao), (bp, bo)): ((Value, i64), (Value, i64)),
    (lo, n): (Value, Value),
    acc: Vec<Value>,
) -> Result<Vec<Value>> {
    let (a_row, b_row) = (a_tap_row(spec), spec.taps.b_row);
    let a_lo = b.ins().imul_imm_s(lo, a_row);
    let b_lo = b.ins().imul_imm_s(lo, b_row);
    let a0 = b.ins().iadd(ap, a_lo);
    let b0 = b.ins().iadd(bp, b_lo);
    let mut v = V4::new(b, FUSED);
    let init: Vec<Value> = [v.offset(a0, ao), v.offset(b0, bo)].into_iter().chain(acc).collect();
    let out = counted_loop(b, n, 1, &init, |b, _, s| {
        let mut v = V4::new(b, spec.fused);
        let mut acc = s[2..].to_vec();
        tap_row(&mut v, spec, cl, ((s[0], 0), (s[1], 0)), &mut acc);
        Ok([v.offset(s[0], a_row), v.offset(s[1], b_row)].into_iter().chain(acc).collect())
    })?;
    Ok(out[2..].to_vec())
}

/// Bytes the A pointer advances per channel.
fn a_chan_step(spec: &OuterSpec) -> i64 {
    match &spec.a {
        ASide::Packed => (spec.taps.rows * spec.taps.b.len() * spec.mr * 16) as i64,
        ASide::Direct { chan, .. } => *chan,
    }
}

/// Bytes the A pointer advances per tap row.
fn a_tap_row(spec: &OuterSpec) -> i64 {
    match &spec.a {
        ASide::Packed => (spec.taps.b.len() * spec.mr * 16) as i64,
        ASide::Direct { tap_row, .. } => *tap_row,
    }
}

/// The summed taps (this class's columns) of one tap row into the accumulators of
/// the rows in mask `rows`; `(a, a_off)` and `(b, b_off)` locate the row's column 0.
fn tap_row(
    v: &mut V4,
    spec: &OuterSpec,
    cl: (&ColClass, u64),
    ((a, ao), (bp, bo)): ((Value, i64), (Value, i64)),
    acc: &mut [Value],
) {
    for &n in &cl.0.cols {
        let a_off = match &spec.a {
            ASide::Packed => (n * spec.mr * 16) as i64,
            ASide::Direct { taps, .. } => taps[n],
        };
        k_step(v, spec, cl, (a, ao + a_off), (bp, bo + spec.taps.b[n]), acc);
    }
}

/// One k step into the accumulators of the rows in the mask. Holds whichever
/// operand set is smaller in registers and streams the other, so the live vectors
/// are `mr·nv + min(mr, nv) + 2`.
fn k_step(
    v: &mut V4,
    spec: &OuterSpec,
    (cl, mask): (&ColClass, u64),
    (a, aoff): (Value, i64),
    (bp, boff): (Value, i64),
    acc: &mut [Value],
) {
    let nv = cl.nv;
    let linked = |r: usize| mask >> r & 1 == 1;
    let load_b = |v: &mut V4, j: usize| {
        let lanes = if cl.partial_b && j + 1 == nv { cl.last_lanes } else { 4 };
        load_vec(v, bp, boff + j as i64 * spec.b_pos, lanes, spec.b_stride)
    };
    let load_a = |v: &mut V4, r: usize| match &spec.a {
        ASide::Packed => {
            let (p, imm) = addr(v, a, aoff + (r * 16) as i64);
            v.load(p, imm)
        }
        ASide::Direct { row, .. } => {
            let (p, imm) = addr(v, a, aoff + r as i64 * row);
            v.load_splat(p, imm)
        }
    };
    let packed = spec.a == ASide::Packed;
    if nv <= spec.mr {
        let bv: Vec<Value> = (0..nv).map(|j| load_b(v, j)).collect();
        for r in (0..spec.mr).filter(|&r| linked(r)) {
            let held = packed.then(|| load_a(v, r));
            for (j, &bj) in bv.iter().enumerate() {
                // Direct A: a fresh load per use folds into `vbroadcastss mem`.
                let av = held.unwrap_or_else(|| load_a(v, r));
                acc[r * nv + j] = v.mul_add(av, bj, acc[r * nv + j]);
            }
        }
    } else {
        let av: Vec<(usize, Value)> = (0..spec.mr).filter(|&r| linked(r)).map(|r| (r, load_a(v, r))).collect();
        for j in 0..nv {
            let bj = load_b(v, j);
            for &(r, ar) in &av {
                acc[r * nv + j] = v.mul_add(ar, bj, acc[r * nv + j]);
            }
        }
    }
}
