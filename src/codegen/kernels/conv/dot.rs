//! The dot-product engine for weight gradients: an `mr × ns` register tile of
//! f32x4 partial sums, `acc[r][s] += A(r, k) ⊙ B(s, k)` with both operands vectors
//! and k running over every output position of every unit (sample or group of four
//! samples), reduced across lanes at the end.
//!
//! For `ConvBackwardWeight`, A(r, ·) is the output gradient of channel r and B(s, ·)
//! the input channel of entry s shifted by its tap, so `Σ_k A ⊙ B` is dW[r][entry s].
//! Entries (a byte offset into B and one into dW) come in blocks of at most `ns`;
//! a run-time loop over `iters` channel iterations runs every block of
//! [`DotSpec::blocks`], then [`DotSpec::rem_blocks`] once.
//!
//! Consumes: a [`DotSpec`]. Produces `fn(a, b, dw, nunits)`: `a` and `b` at unit 0,
//! grid row 0, position 0 and channel 0; `dw` at row 0 of the tile.
//! Guarantees: each dW element receives `+= Σ` of exactly its products over the
//! `nunits` units, summed in a fixed order (lanes in parallel, then lanes reduced);
//! the partial last position reads only its real lanes of A (so the other lanes
//! contribute exact zeros) and, with `partial_b`, of B.

use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

use super::emit::{addr, lane_sum, load_lanes, load_vec};
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn, Opt};
use crate::codegen::loops::counted_loop;
use crate::codegen::simd::{mem, V4};

/// One reduction target: where its B vector is and where its dW element is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub b_off: i64,
    pub dw_off: i64,
}

/// One compiled variant of the engine (fixed tile height).
#[derive(Debug, Clone)]
pub(super) struct DotSpec {
    /// Tile rows (A vectors per step).
    pub mr: usize,
    /// Bytes between tile rows in A and in dW.
    pub a_r: i64,
    pub dw_r: i64,
    /// Channel iterations, and how far B and dW move per iteration.
    pub iters: usize,
    pub b_iter: i64,
    pub dw_iter: i64,
    /// Entry blocks of one iteration, and of the remainder after the loop.
    pub blocks: Vec<Vec<Entry>>,
    pub rem_blocks: Vec<Vec<Entry>>,
    /// Grid rows per unit, and bytes between them in A and B.
    pub rows: usize,
    pub a_row: i64,
    pub b_row: i64,
    /// Full-lane positions per grid row, positions per inner iteration, and the
    /// real lanes of a final partial position (0: none).
    pub full: usize,
    pub chunk: usize,
    pub tail: usize,
    /// Bytes between positions in A and B.
    pub a_pos: i64,
    pub b_pos: i64,
    /// The partial position may only be read on its real lanes in B too.
    pub partial_b: bool,
    /// Elements between the lanes of a B vector (1 or 2).
    pub b_stride: usize,
    /// Bytes between units in A and B.
    pub a_unit: i64,
    pub b_unit: i64,
    /// Multiply-adds as `fma` (only where the CPU has it natively).
    pub fused: bool,
}

/// `V4` for address arithmetic and zeros, where the multiply-add form does not matter.
const FUSED: bool = false;

/// Compiles `spec` into `fn(a, b, dw, nunits)`.
pub(super) fn compile_dot(jit: &Jit, spec: &DotSpec) -> Result<JitFn<4>> {
    jit.compile_opt("conv_dot", Opt::None, |b, [a, src, dw, nunits], features| {
        let spec = &DotSpec { fused: spec.fused && features.has_fma, ..spec.clone() };
        let mut st = vec![src, dw];
        if spec.iters > 0 {
            let n = b.ins().iconst(types::I64, spec.iters as i64);
            st = counted_loop(b, n, 1, &st, |b, _, s| {
                for blk in &spec.blocks {
                    block(b, spec, blk, a, s[0], s[1], nunits)?;
                }
                let mut v = V4::new(b, FUSED);
                Ok(vec![v.offset(s[0], spec.b_iter), v.offset(s[1], spec.dw_iter)])
            })?;
        }
        for blk in &spec.rem_blocks {
            block(b, spec, blk, a, st[0], st[1], nunits)?;
        }
        b.ins().return_(&[]);
        Ok(())
    })
}

/// One entry block: zeroed accumulators, the loops over units, rows and positions,
/// then the reduction into dW.
fn block(
    b: &mut FunctionBuilder,
    spec: &DotSpec,
    blk: &[Entry],
    a: Value,
    src: Value,
    dw: Value,
    nunits: Value,
) -> Result<()> {
    let n = spec.mr * blk.len();
    let zero = V4::new(b, FUSED).splat(0.0);
    let init: Vec<Value> = [a, src].into_iter().chain(std::iter::repeat_n(zero, n)).collect();
    let out = counted_loop(b, nunits, 1, &init, |b, _, s| {
        let rows = b.ins().iconst(types::I64, spec.rows as i64);
        let acc = counted_loop(b, rows, 1, s, |b, _, s| {
            let acc = grid_row(b, spec, blk, s)?;
            let mut v = V4::new(b, FUSED);
            let (na, nb) = (v.offset(s[0], spec.a_row), v.offset(s[1], spec.b_row));
            Ok([na, nb].into_iter().chain(acc).collect())
        })?;
        let mut v = V4::new(b, FUSED);
        let (na, nb) = (v.offset(s[0], spec.a_unit), v.offset(s[1], spec.b_unit));
        Ok([na, nb].into_iter().chain(acc[2..].iter().copied()).collect())
    })?;
    let mut v = V4::new(b, FUSED);
    for r in 0..spec.mr {
        for (s, e) in blk.iter().enumerate() {
            let sum = lane_sum(&mut v, out[2 + r * blk.len() + s]);
            let (p, imm) = addr(&mut v, dw, r as i64 * spec.dw_r + e.dw_off);
            let old = v.b.ins().load(types::F32, mem(), p, imm);
            let new = v.b.ins().fadd(old, sum);
            v.b.ins().store(mem(), new, p, imm);
        }
    }
    Ok(())
}

/// The positions of one grid row; `s` is `[a, b, acc...]`; returns the accumulators.
fn grid_row(b: &mut FunctionBuilder, spec: &DotSpec, blk: &[Entry], s: &[Value]) -> Result<Vec<Value>> {
    let chunks = spec.full / spec.chunk;
    let mut st = s.to_vec();
    if chunks > 0 {
        let n = b.ins().iconst(types::I64, chunks as i64);
        let (da, db) = (spec.chunk as i64 * spec.a_pos, spec.chunk as i64 * spec.b_pos);
        st = counted_loop(b, n, 1, &st, |b, _, s| {
            let mut v = V4::new(b, spec.fused);
            let mut acc = s[2..].to_vec();
            for p in 0..spec.chunk {
                step(&mut v, spec, blk, (s[0], s[1]), p, 4, &mut acc);
            }
            let (na, nb) = (v.offset(s[0], da), v.offset(s[1], db));
            Ok([na, nb].into_iter().chain(acc).collect())
        })?;
    }
    let mut v = V4::new(b, spec.fused);
    let mut acc = st[2..].to_vec();
    let left = spec.full % spec.chunk;
    for p in 0..left {
        step(&mut v, spec, blk, (st[0], st[1]), p, 4, &mut acc);
    }
    if spec.tail > 0 {
        step(&mut v, spec, blk, (st[0], st[1]), left, spec.tail, &mut acc);
    }
    Ok(acc)
}

/// One position `p` past the pointers: `acc[r][s] += A_r ⊙ B_s`, holding the smaller
/// operand set in registers.
fn step(v: &mut V4, spec: &DotSpec, blk: &[Entry], (a, bp): (Value, Value), p: usize, lanes: usize, acc: &mut [Value]) {
    let ns = blk.len();
    let b_lanes = if spec.partial_b { lanes } else { 4 };
    let load_a = |v: &mut V4, r: usize| load_lanes(v, a, p as i64 * spec.a_pos + r as i64 * spec.a_r, lanes);
    let load_b = |v: &mut V4, s: usize| load_vec(v, bp, p as i64 * spec.b_pos + blk[s].b_off, b_lanes, spec.b_stride);
    if spec.mr <= ns {
        let av: Vec<Value> = (0..spec.mr).map(|r| load_a(v, r)).collect();
        for s in 0..ns {
            let bv = load_b(v, s);
            for (r, &ar) in av.iter().enumerate() {
                acc[r * ns + s] = v.mul_add(ar, bv, acc[r * ns + s]);
            }
        }
    } else {
        let bv: Vec<Value> = (0..ns).map(|s| load_b(v, s)).collect();
        for r in 0..spec.mr {
            let ar = load_a(v, r);
            for (s, &bs) in bv.iter().enumerate() {
                acc[r * ns + s] = v.mul_add(ar, bs, acc[r * ns + s]);
            }
        }
    }
}
