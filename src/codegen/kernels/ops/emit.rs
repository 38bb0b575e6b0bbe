//! Emission helpers shared by the op kernels: lane-generic loads and stores,
//! constant-length runs, loops over runtime ranges, branches, and
//! reductions kept in several accumulators ([`Reduce`]), all on top of
//! [`V4`].
//!
//! Consumes: a [`V4`] positioned in some block. Produces: CLIF.
//! Guarantees: every element of a run is processed by the same arithmetic
//! whether it lands in a whole f32x4 vector or in the 1–3 element tail (the
//! tail loads one float and broadcasts it, so the lane-wise code is shared);
//! a load or store touches only `[ptr + off, ptr + off + 4·lanes)` (a
//! strided load: the elements it returns and those between them).

use cranelift_codegen::ir::{types, BlockArg, ConstantData, InstBuilder, Value};

use crate::codegen::error::Result;
use crate::codegen::loops::counted_loop;
use crate::codegen::simd::{mem, V4};

/// How many f32 lanes of a vector value carry data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lanes {
    /// A whole f32x4.
    Four,
    /// One float, broadcast to every lane (tails, per-channel scalars).
    One,
}

impl Lanes {
    /// The number of meaningful lanes.
    pub(super) fn count(self) -> usize {
        match self {
            Lanes::Four => 4,
            Lanes::One => 1,
        }
    }
}

/// An `i64` constant.
pub(super) fn iconst(v: &mut V4, x: i64) -> Value {
    v.b.ins().iconst(types::I64, x)
}

/// `ptr + off` for a dynamic byte offset.
pub(super) fn at(v: &mut V4, ptr: Value, off: Value) -> Value {
    v.b.ins().iadd(ptr, off)
}

/// Loads `lanes` floats at `ptr + off` (one float is broadcast).
pub(super) fn load(v: &mut V4, lanes: Lanes, ptr: Value, off: Value) -> Value {
    let p = at(v, ptr, off);
    match lanes {
        Lanes::Four => v.load(p, 0),
        Lanes::One => v.load_splat(p, 0),
    }
}

/// Stores the first `lanes` lanes of `x` at `ptr + off`.
pub(super) fn store(v: &mut V4, lanes: Lanes, x: Value, ptr: Value, off: Value) {
    let p = at(v, ptr, off);
    match lanes {
        Lanes::Four => v.store(x, p, 0),
        Lanes::One => {
            let s = v.b.ins().extractlane(x, 0);
            v.b.ins().store(mem(), s, p, 0);
        }
    }
}

/// Loads `lanes` floats `stride` elements apart, starting at `ptr + off`
/// (windows of strided pooling and subsampling). Reads only the elements
/// it returns, plus those between them.
pub(super) fn load_strided(v: &mut V4, lanes: Lanes, ptr: Value, off: Value, stride: usize) -> Value {
    if lanes == Lanes::One || stride == 1 {
        return load(v, lanes, ptr, off);
    }
    let p = at(v, ptr, off);
    if stride == 2 {
        // [x0 x1 x2 x3] and [x3 x4 x5 x6]: lanes 0, 2 of the first and 1, 3 of
        // the second are x0 x2 x4 x6, one `shufps`, nothing read past x6.
        let a = v.load(p, 0);
        let b = v.load(p, 12);
        return v.shuffle(a, b, [0, 2, 5, 7]);
    }
    let s0 = v.b.ins().load(types::F32, mem(), p, 0);
    let mut x = v.b.ins().scalar_to_vector(types::F32X4, s0);
    for l in 1..4u8 {
        let s = v.b.ins().load(types::F32, mem(), p, (l as usize * stride * 4) as i32);
        x = v.b.ins().insertlane(x, s, l);
    }
    x
}

/// An i32x4 constant with the given lanes.
pub(super) fn ivec(v: &mut V4, lanes: [i32; 4]) -> Value {
    let bytes: Vec<u8> = lanes.iter().flat_map(|l| l.to_le_bytes()).collect();
    let c = v.b.func.dfg.constants.insert(ConstantData::from(bytes));
    v.b.ins().vconst(types::I32X4, c)
}

/// Adds `x` to the f32 at `ptr + off` bytes (a scalar read-modify-write).
pub(super) fn add_to(v: &mut V4, x: Value, ptr: Value, off: i32) {
    let old = v.b.ins().load(types::F32, mem(), ptr, off);
    let new = v.b.ins().fadd(old, x);
    v.b.ins().store(mem(), new, ptr, off);
}

/// A scalar f32 broadcast to f32x4.
pub(super) fn splat_scalar(v: &mut V4, s: Value) -> Value {
    v.b.ins().splat(types::F32X4, s)
}

/// Lane 0 of an f32x4 as a scalar f32.
pub(super) fn lane0(v: &mut V4, x: Value) -> Value {
    v.b.ins().extractlane(x, 0)
}

/// `((x0 + x1) + x2) + x3` as a scalar f32.
pub(super) fn hsum(v: &mut V4, x: Value) -> Value {
    let mut s = v.b.ins().extractlane(x, 0);
    for l in 1..4u8 {
        let e = v.b.ins().extractlane(x, l);
        s = v.b.ins().fadd(s, e);
    }
    s
}

/// The largest lane (NaN lanes are skipped unless lane 0 is NaN), broadcast.
pub(super) fn hmax(v: &mut V4, x: Value) -> Value {
    let first = lane0(v, x);
    let mut m = splat_scalar(v, first);
    for l in 1..4u8 {
        let e = v.b.ins().extractlane(x, l);
        let e = splat_scalar(v, e);
        m = max_keep(v, e, m);
    }
    m
}

/// `acc < x ? x : acc`: a running maximum where a strictly greater value
/// wins, so the first of equal maxima is kept and a NaN `x` never enters.
pub(super) fn max_keep(v: &mut V4, x: Value, acc: Value) -> Value {
    let m = v.lt_mask(acc, x);
    v.select(m, x, acc)
}

/// Emits `body` over `len` consecutive floats (a compile-time length): a loop
/// over whole vectors, then the leftover 0–3 elements unrolled with
/// [`Lanes::One`]. `body` gets the byte offset of its first element.
pub(super) fn run<F>(v: &mut V4, len: usize, mut body: F) -> Result<()>
where
    F: FnMut(&mut V4, Value, Lanes) -> Result<()>,
{
    let full = len / 4;
    if full == 1 {
        let z = iconst(v, 0);
        body(v, z, Lanes::Four)?;
    } else if full > 1 {
        let fma = v.fused();
        let n = iconst(v, (full * 16) as i64);
        counted_loop(v.b, n, 16, &[], |b, off, _| body(&mut V4::new(b, fma), off, Lanes::Four).map(|_| Vec::new()))?;
    }
    for t in full * 4..len {
        let off = iconst(v, 4 * t as i64);
        body(v, off, Lanes::One)?;
    }
    Ok(())
}

/// `for i in lo..hi { state = body(i, state) }` over runtime bounds.
pub(super) fn range_fold<F>(v: &mut V4, lo: Value, hi: Value, init: &[Value], body: F) -> Result<Vec<Value>>
where
    F: FnOnce(&mut V4, Value, &[Value]) -> Result<Vec<Value>>,
{
    let fma = v.fused();
    let n = v.b.ins().isub(hi, lo);
    counted_loop(v.b, n, 1, init, |b, i, st| {
        let mut w = V4::new(b, fma);
        let idx = w.b.ins().iadd(i, lo);
        body(&mut w, idx, st)
    })
}

/// `for i in lo..hi { body(i) }` over runtime bounds.
pub(super) fn range_loop<F>(v: &mut V4, lo: Value, hi: Value, body: F) -> Result<()>
where
    F: FnOnce(&mut V4, Value) -> Result<()>,
{
    range_fold(v, lo, hi, &[], |v, i, _| body(v, i).map(|_| Vec::new()))?;
    Ok(())
}

/// `for i in 0..n { state = body(i, state) }` for a compile-time `n`; a
/// single iteration is emitted inline.
pub(super) fn fixed_fold<F>(v: &mut V4, n: usize, init: &[Value], body: F) -> Result<Vec<Value>>
where
    F: FnOnce(&mut V4, Value, &[Value]) -> Result<Vec<Value>>,
{
    let zero = iconst(v, 0);
    if n == 1 {
        return body(v, zero, init);
    }
    let hi = iconst(v, n as i64);
    range_fold(v, zero, hi, init, body)
}

/// `for i in 0..n { body(i) }` for a compile-time `n`.
pub(super) fn fixed_loop<F>(v: &mut V4, n: usize, body: F) -> Result<()>
where
    F: FnOnce(&mut V4, Value) -> Result<()>,
{
    fixed_fold(v, n, &[], |v, i, _| body(v, i).map(|_| Vec::new()))?;
    Ok(())
}

/// Emits `arm(true)` where `cond` holds and `arm(false)` where it does
/// not; emission continues after both.
pub(super) fn fork<F>(v: &mut V4, cond: Value, mut arm: F) -> Result<()>
where
    F: FnMut(&mut V4, bool) -> Result<()>,
{
    let (yes, no, join) = (v.b.create_block(), v.b.create_block(), v.b.create_block());
    v.b.ins().brif(cond, yes, &[], no, &[]);
    for (block, taken) in [(yes, true), (no, false)] {
        v.b.switch_to_block(block);
        arm(v, taken)?;
        v.b.ins().jump(join, &[] as &[BlockArg]);
    }
    v.b.switch_to_block(join);
    Ok(())
}

/// The unit index `u` as (u / d, u % d) for a compile-time `d`.
pub(super) fn divmod(v: &mut V4, u: Value, d: usize) -> (Value, Value) {
    if d == 1 {
        return (u, iconst(v, 0));
    }
    let q = v.b.ins().udiv_imm_s(u, d as i64);
    let r = v.b.ins().imul_imm_s(q, d as i64);
    let r = v.b.ins().isub(u, r);
    (q, r)
}

/// Independent vector accumulators of a [`Reduce`]: enough to hide the
/// latency of `addps` (3 cycles) behind the loads of the next vectors.
const ACCUMULATORS: usize = 4;
// `Reduce::totals` pairs the accumulators as (0 + 1) + (2 + 3).
const _: () = assert!(ACCUMULATORS == 4);

/// How a [`Reduce`] combines values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Combine {
    Add,
    /// [`max_keep`]: NaN values are skipped.
    Max,
}

/// `k` reductions over runs of floats, each kept in [`ACCUMULATORS`]
/// interleaved vector accumulators plus one for 1-lane tails, so long runs
/// are not bound by the latency of a single accumulator chain. The state is
/// a plain list of values, so it can be threaded through enclosing loops.
/// The order of combination is fixed by the run lengths alone.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reduce {
    pub k: usize,
    pub op: Combine,
}

impl Reduce {
    /// The empty state.
    pub(super) fn init(&self, v: &mut V4) -> Vec<Value> {
        let x = v.splat(if self.op == Combine::Add { 0.0 } else { f32::NEG_INFINITY });
        vec![x; (ACCUMULATORS + 1) * self.k]
    }

    fn combine(&self, v: &mut V4, acc: Value, x: Value) -> Value {
        match self.op {
            Combine::Add => v.add(acc, x),
            Combine::Max => max_keep(v, x, acc),
        }
    }

    /// Folds the `k` lane-wise terms of each element of a run of `len`
    /// floats into `state`; `term` gets the byte offset and lane count.
    pub(super) fn run<F>(&self, v: &mut V4, len: usize, state: &[Value], mut term: F) -> Result<Vec<Value>>
    where
        F: FnMut(&mut V4, Value, Lanes) -> Vec<Value>,
    {
        let (k, u) = (self.k, ACCUMULATORS);
        let full = len / 4;
        let blocks = full / u;
        let mut st = state.to_vec();
        let mut add = |v: &mut V4, st: &mut Vec<Value>, slot: usize, off: Value, lanes: Lanes| {
            let terms = term(v, off, lanes);
            for (i, t) in terms.into_iter().enumerate() {
                st[slot * k + i] = self.combine(v, st[slot * k + i], t);
            }
        };
        if blocks > 0 {
            let fma = v.fused();
            let n = iconst(v, (blocks * 16 * u) as i64);
            st = counted_loop(v.b, n, (16 * u) as i64, &st, |b, off, s| {
                let mut w = V4::new(b, fma);
                let mut s = s.to_vec();
                for j in 0..u {
                    let o = w.offset(off, 16 * j as i64);
                    add(&mut w, &mut s, j, o, Lanes::Four);
                }
                Ok(s)
            })?;
        }
        for t in blocks * u..full {
            let off = iconst(v, 16 * t as i64);
            add(v, &mut st, t - blocks * u, off, Lanes::Four);
        }
        for t in full * 4..len {
            let off = iconst(v, 4 * t as i64);
            add(v, &mut st, u, off, Lanes::One);
        }
        Ok(st)
    }

    /// The `k` vector accumulators of `state` combined pairwise (lanes still
    /// apart, the tail left out).
    pub(super) fn vectors(&self, v: &mut V4, state: &[Value]) -> Vec<Value> {
        let k = self.k;
        (0..k)
            .map(|i| {
                let a = self.combine(v, state[i], state[k + i]);
                let b = self.combine(v, state[2 * k + i], state[3 * k + i]);
                self.combine(v, a, b)
            })
            .collect()
    }

    /// The tail accumulator of reduction `i` in `state`.
    pub(super) fn tail(&self, state: &[Value], i: usize) -> Value {
        state[ACCUMULATORS * self.k + i]
    }

    /// The `k` results, broadcast: the accumulators combined pairwise, then
    /// their lanes in order, then the tail.
    pub(super) fn totals(&self, v: &mut V4, state: &[Value]) -> Vec<Value> {
        let k = self.k;
        let accs = self.vectors(v, state);
        (0..k)
            .map(|i| {
                let acc = accs[i];
                let lanes = match self.op {
                    Combine::Add => {
                        let s = hsum(v, acc);
                        splat_scalar(v, s)
                    }
                    Combine::Max => hmax(v, acc),
                };
                let tail = lane0(v, self.tail(state, i));
                let tail = splat_scalar(v, tail);
                self.combine(v, lanes, tail)
            })
            .collect()
    }
}
