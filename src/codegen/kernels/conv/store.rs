//! The store stage of a register tile: bias, the fused epilogue, accumulation, and
//! the (possibly partial, possibly lane-strided) store itself.
//!
//! Consumes: a finished accumulator vector, its row `r` in the tile, the byte offset
//! of its position from the tile's base pointers, and how many lanes are real.
//! Produces: `y = old? + epilogue(partial? + acc + bias[r]?)` written to the output.
//! Guarantees: the epilogue runs once per element, in the order of
//! [`StoreSpec::epilogue`], before accumulation (the kernel ABI's order); extra
//! operands are read at the same element as the output (each with its own row and
//! lane strides); only real lanes are read or written.

use cranelift_codegen::ir::Value;

use super::emit::{load_strided, store_strided};
use crate::codegen::kernels::Fused;
use crate::codegen::simd::V4;
use crate::codegen::vmath;
use crate::ir::Act;

/// How a tile's elements map to one operand's memory: element (row r, position j,
/// lane l) is `r·r_stride + j·pos_stride + l·lane_stride` bytes past the tile's base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OperandMap {
    /// Bytes between consecutive tile rows.
    pub r_stride: i64,
    /// Bytes between consecutive positions.
    pub pos_stride: i64,
    /// Bytes between consecutive lanes of a vector.
    pub lane_stride: i64,
}

impl OperandMap {
    /// Byte offset of row `r`, position `j`.
    fn at(&self, r: usize, j: usize) -> i64 {
        r as i64 * self.r_stride + j as i64 * self.pos_stride
    }
}

/// Everything the store stage does, fixed at compile time.
#[derive(Debug, Clone)]
pub(super) struct StoreSpec {
    /// The output.
    pub out: OperandMap,
    /// The extra operands the epilogue reads, in the ABI's order.
    pub extras: Vec<OperandMap>,
    /// Add `bias[r]` (one value per tile row) before the epilogue.
    pub bias: bool,
    /// Fused element-wise work, in order.
    pub epilogue: Vec<Fused>,
    /// Add into the existing output instead of overwriting it.
    pub accumulate: bool,
    /// The output holds partial sums of earlier channel blocks: add them before
    /// the epilogue.
    pub partial: bool,
}

/// The run-time pointers of one tile: output, extras (same element offsets) and bias.
pub(super) struct TilePtrs {
    pub out: Value,
    pub extras: Vec<Value>,
    pub bias: Value,
}

/// Stores accumulator `x` of tile row `r`, position `pos`, with `lanes` real lanes.
pub(super) fn store_vec(v: &mut V4, spec: &StoreSpec, ptrs: &TilePtrs, r: usize, pos: usize, lanes: usize, x: Value) {
    let mut x = x;
    let at = spec.out.at(r, pos);
    if spec.partial {
        let old = load_strided(v, ptrs.out, at, spec.out.lane_stride, lanes);
        x = v.add(old, x);
    }
    if spec.bias {
        let b = v.load_splat(ptrs.bias, (4 * r) as i32);
        x = v.add(x, b);
    }
    for f in &spec.epilogue {
        x = match *f {
            Fused::Act(a) => act(v, a, x),
            Fused::Scale(s) => {
                let k = v.splat(s as f32);
                v.mul(x, k)
            }
            Fused::AddOperand(k) => {
                let e = load_extra(v, spec, ptrs, k, r, pos, lanes);
                v.add(x, e)
            }
            Fused::MulActGrad(a, k) => {
                let z = load_extra(v, spec, ptrs, k, r, pos, lanes);
                let s = act_slope(v, a, z);
                v.mul(x, s)
            }
        };
    }
    if spec.accumulate {
        let old = load_strided(v, ptrs.out, at, spec.out.lane_stride, lanes);
        x = v.add(old, x);
    }
    store_strided(v, x, ptrs.out, at, spec.out.lane_stride, lanes);
}

fn load_extra(v: &mut V4, spec: &StoreSpec, ptrs: &TilePtrs, k: usize, r: usize, pos: usize, lanes: usize) -> Value {
    let m = spec.extras[k];
    load_strided(v, ptrs.extras[k], m.at(r, pos), m.lane_stride, lanes)
}

/// The activation applied to `x`.
pub(super) fn act(v: &mut V4, a: Act, x: Value) -> Value {
    match a {
        Act::Relu => {
            let zero = v.splat(0.0);
            v.max(zero, x)
        }
        Act::Tanh => vmath::tanh(v, x),
        Act::Sigmoid => vmath::sigmoid(v, x),
        Act::ScaledTanh { a, s } => {
            let sv = v.splat(s as f32);
            let t = v.mul(x, sv);
            let t = vmath::tanh(v, t);
            let av = v.splat(a as f32);
            v.mul(t, av)
        }
    }
}

/// The activation's derivative written in terms of its output `z` (as `ActBackward`):
/// relu `[z > 0]`, tanh `1 − z²`, sigmoid `z(1 − z)`, a·tanh(s·x): `s·(a − z²/a)`.
pub(super) fn act_slope(v: &mut V4, a: Act, z: Value) -> Value {
    let one = v.splat(1.0);
    match a {
        Act::Relu => {
            let zero = v.splat(0.0);
            let pos = v.lt_mask(zero, z);
            v.select(pos, one, zero)
        }
        Act::Tanh => {
            let zz = v.mul(z, z);
            v.sub(one, zz)
        }
        Act::Sigmoid => {
            let m = v.sub(one, z);
            v.mul(z, m)
        }
        Act::ScaledTanh { a, s } => {
            let zz = v.mul(z, z);
            let inv_a = v.splat((1.0 / a) as f32);
            let q = v.mul(zz, inv_a);
            let av = v.splat(a as f32);
            let d = v.sub(av, q);
            let sv = v.splat(s as f32);
            v.mul(d, sv)
        }
    }
}
