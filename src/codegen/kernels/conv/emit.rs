//! CLIF emission helpers shared by the convolution engines.
//!
//! Consumes: a [`V4`] emitter, base pointers and compile-time byte offsets.
//! Produces: loads and stores of f32x4 vectors of which only the first 1–4 lanes
//! (or lanes `stride` bytes apart) are real memory.
//! Guarantees: a partial load touches exactly the bytes of its valid lanes and fills
//! the others with +0.0; a partial or strided store writes exactly its valid lanes.
//! Offsets too big for a 32-bit immediate get an explicit add, so any offset works.

use cranelift_codegen::ir::{types, InstBuilder, Value};

use crate::codegen::simd::{lanes_le, mem, V4};

/// `base + off` as (pointer, immediate): the immediate when it fits, else an add.
pub(super) fn addr(v: &mut V4, base: Value, off: i64) -> (Value, i32) {
    match i32::try_from(off) {
        Ok(imm) => (base, imm),
        Err(_) => (v.offset(base, off), 0),
    }
}

/// Loads the first `lanes` (1..=4) contiguous floats at `base + off`; the rest are 0.
pub(super) fn load_lanes(v: &mut V4, base: Value, off: i64, lanes: usize) -> Value {
    let (p, imm) = addr(v, base, off);
    match lanes {
        4 => v.load(p, imm),
        1 => {
            let s = v.b.ins().load(types::F32, mem(), p, imm);
            v.b.ins().scalar_to_vector(types::F32X4, s)
        }
        _ => {
            // Two lanes as one 64-bit load (`movq`), then the third if any.
            let d = v.b.ins().load(types::I64, mem(), p, imm);
            let d = v.b.ins().scalar_to_vector(types::I64X2, d);
            let x = v.b.ins().bitcast(types::F32X4, lanes_le(), d);
            if lanes == 2 {
                return x;
            }
            let (p, imm) = addr(v, base, off + 8);
            let s = v.b.ins().load(types::F32, mem(), p, imm);
            v.b.ins().insertlane(x, s, 2)
        }
    }
}

/// Loads `lanes` (1..=4) floats `stride` elements apart starting at `base + off`,
/// stride 1 or 2 (every other float: two contiguous loads and one `shufps`); the
/// other lanes are 0. Reads only up to the last real lane's float.
pub(super) fn load_vec(v: &mut V4, base: Value, off: i64, lanes: usize, stride: usize) -> Value {
    if stride == 1 {
        return load_lanes(v, base, off, lanes);
    }
    let span = 2 * lanes - 1;
    let lo = load_lanes(v, base, off, span.min(4));
    let hi = if span > 4 { load_lanes(v, base, off + 16, span - 4) } else { v.splat(0.0) };
    // Lanes 0 and 2 of each half: `shufps lo, hi, 0b10_00_10_00`.
    v.shuffle(lo, hi, [0, 2, 4, 6])
}

/// Loads `lanes` floats `stride` bytes apart (a gather); missing lanes are 0.
pub(super) fn load_strided(v: &mut V4, base: Value, off: i64, stride: i64, lanes: usize) -> Value {
    if stride == 4 {
        return load_lanes(v, base, off, lanes);
    }
    let mut x = v.splat(0.0);
    for l in 0..lanes {
        let (p, imm) = addr(v, base, off + l as i64 * stride);
        let s = v.b.ins().load(types::F32, mem(), p, imm);
        x = v.b.ins().insertlane(x, s, l as u8);
    }
    x
}

/// Stores the first `lanes` lanes of `x` at `base + off + l·stride`.
pub(super) fn store_strided(v: &mut V4, x: Value, base: Value, off: i64, stride: i64, lanes: usize) {
    if stride == 4 && lanes == 4 {
        let (p, imm) = addr(v, base, off);
        return v.store(x, p, imm);
    }
    if stride == 4 && lanes >= 2 {
        // The low two lanes as one 64-bit store (`movq`).
        let (p, imm) = addr(v, base, off);
        let d = v.b.ins().bitcast(types::I64X2, lanes_le(), x);
        let d = v.b.ins().extractlane(d, 0);
        v.b.ins().store(mem(), d, p, imm);
        if lanes == 3 {
            let (p, imm) = addr(v, base, off + 8);
            let s = v.b.ins().extractlane(x, 2);
            v.b.ins().store(mem(), s, p, imm);
        }
        return;
    }
    for l in 0..lanes {
        let (p, imm) = addr(v, base, off + l as i64 * stride);
        let s = v.b.ins().extractlane(x, l as u8);
        v.b.ins().store(mem(), s, p, imm);
    }
}

/// Sum of the four lanes of `x` as a scalar f32, in the order ((l0 + l1) + (l2 + l3)).
pub(super) fn lane_sum(v: &mut V4, x: Value) -> Value {
    let l: Vec<Value> = (0..4).map(|k| v.b.ins().extractlane(x, k)).collect();
    let a = v.b.ins().fadd(l[0], l[1]);
    let b = v.b.ins().fadd(l[2], l[3]);
    v.b.ins().fadd(a, b)
}

/// Loads one pointer-sized value from `base + 8·index`.
pub(super) fn load_ptr(v: &mut V4, base: Value, index: usize) -> Value {
    v.b.ins().load(types::I64, mem(), base, (8 * index) as i32)
}
