//! The store stage of a register tile: bias, the fused epilogue, accumulation, and
//! the (possibly partial, possibly lane-strided) store itself.
//!
//! Consumes: finished accumulator vectors, each with its row `r` in the tile, its
//! position from the tile's base pointers, and how many lanes are real.
//! Produces: `y = old? + epilogue(partial? + acc + bias[r]?)` written to the output.
//! Guarantees: the epilogue runs once per element, in the order of
//! [`StoreSpec::epilogue`], before accumulation (the kernel ABI's order); extra
//! operands are read at the same element as the output (each with its own row and
//! lane strides); only real lanes are read or written.

use cranelift_codegen::ir::Value;

use super::emit::{addr, load_strided, store_strided};
use crate::codegen::kernels::ops::act;
use crate::codegen::simd::V4;
use crate::sched::Fused;

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

impl StoreSpec {
    /// Whether four rows' vectors are better stored transposed ([`store_transposed`]):
    /// the output's rows are adjacent floats and its lanes are not, and nothing but the
    /// store (and accumulation) happens. Each vector would otherwise be four scalar
    /// stores (and three lane extractions).
    pub fn transposes(&self) -> bool {
        let raw = !self.bias && !self.partial && self.epilogue.is_empty() && self.extras.is_empty();
        raw && self.out.r_stride == 4 && self.out.lane_stride != 4
    }
}

/// The run-time pointers of one tile: output, extras (same element offsets) and bias.
pub(super) struct TilePtrs {
    pub out: Value,
    pub extras: Vec<Value>,
    pub bias: Value,
}

/// One accumulator to store: tile row `r`, position `pos`, `lanes` real lanes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Item {
    pub r: usize,
    pub pos: usize,
    pub lanes: usize,
    pub x: Value,
}

/// Stores several accumulators, each stage emitted for all of them before the next:
/// each element gets the same result as stored alone, but independent chains
/// (a tanh is ~20 dependent operations) interleave in code compiled without
/// re-scheduling, so the FP pipes are not left waiting on one chain's latencies.
pub(super) fn store_vecs(v: &mut V4, spec: &StoreSpec, ptrs: &TilePtrs, items: &[Item]) {
    let mut xs: Vec<Value> = items.iter().map(|it| it.x).collect();
    if spec.partial {
        for (x, it) in xs.iter_mut().zip(items) {
            let old = load_strided(v, ptrs.out, spec.out.at(it.r, it.pos), spec.out.lane_stride, it.lanes);
            *x = v.add(old, *x);
        }
    }
    if spec.bias {
        for (x, it) in xs.iter_mut().zip(items) {
            let b = v.load_splat(ptrs.bias, (4 * it.r) as i32);
            *x = v.add(*x, b);
        }
    }
    let xs = act::epilogue_n(v, &spec.epilogue, xs, |v, k, i| {
        let (m, it) = (spec.extras[k], items[i]);
        load_strided(v, ptrs.extras[k], m.at(it.r, it.pos), m.lane_stride, it.lanes)
    });
    for (x, it) in xs.into_iter().zip(items) {
        let at = spec.out.at(it.r, it.pos);
        let mut x = x;
        if spec.accumulate {
            let old = load_strided(v, ptrs.out, at, spec.out.lane_stride, it.lanes);
            x = v.add(old, x);
        }
        store_strided(v, x, ptrs.out, at, spec.out.lane_stride, it.lanes);
    }
}

/// Stores the accumulators of four consecutive rows at one position, as
/// [`StoreSpec::transposes`] allows: transposed, lane l of the four is one vector at
/// (first row, position, lane l), added to the old one when accumulating. Stores
/// lanes `0 .. items[0].lanes` (the same for all four).
pub(super) fn store_transposed(v: &mut V4, spec: &StoreSpec, out: Value, items: [Item; 4]) {
    debug_assert!(spec.transposes());
    debug_assert!(items.iter().enumerate().all(|(k, it)| it.r == items[0].r + k && it.pos == items[0].pos));
    let lanes = v.transpose4(items.map(|it| it.x));
    let at = spec.out.at(items[0].r, items[0].pos);
    for (l, x) in lanes.into_iter().enumerate().take(items[0].lanes) {
        let (p, imm) = addr(v, out, at + l as i64 * spec.out.lane_stride);
        let x = if spec.accumulate {
            let old = v.load(p, imm);
            v.add(old, x)
        } else {
            x
        };
        v.store(x, p, imm);
    }
}
