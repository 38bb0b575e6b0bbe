//! Packing of GEMM operands into the contiguous panels the micro-kernel
//! streams through.
//!
//! Consumes: a row-major operand slice with its stride and transpose flag,
//! and the block to pack. Produces: panels laid out step by step along k:
//! * A block (rows `i0..i0+mc` of op(A), k `p0..p0+kc`): panel `q` holds,
//!   for each k step, the MR values `op(A)[i0+q·MR+r, p]`, each repeated
//!   [`A_LANES`] times (pre-broadcast, so the micro-kernel loads a ready
//!   f32x4 — see `microkernel` for why);
//! * B block (k `p0..p0+kc`, columns `j0..j0+nc` of op(B)): panel `s`
//!   holds, for each k step, the NR values `op(B)[p, j0+s·NR+c]`.
//!
//! Guarantees: panels past the matrix edge (rows ≥ M, columns ≥ N) and k
//! steps past `kc` up to the padded depth `kp` are zero, so the micro-kernel
//! always runs full tiles and a whole number of unrolled k steps; every read
//! is a bounds-checked slice access (callers validated the lengths, so these
//! never fail). Packing is data movement only, done in Rust: the compute is
//! all in the JIT-compiled micro-kernel.

/// A rectangular region of op(X) to pack.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    /// First row of op(X).
    pub row0: usize,
    /// Rows in the region.
    pub rows: usize,
    /// First column of op(X).
    pub col0: usize,
    /// Columns in the region.
    pub cols: usize,
}

use crate::codegen::microkernel::A_LANES;

/// Element `(i, j)` of op(X) lives at `x[i·ld + j]`, or `x[j·ld + i]` when
/// transposed; this returns a closure-free description of both cases.
#[derive(Debug, Clone, Copy)]
pub struct Operand<'a> {
    /// Storage.
    pub data: &'a [f32],
    /// Row stride of the stored matrix.
    pub ld: usize,
    /// op(X) = Xᵀ.
    pub trans: bool,
}

/// Packs `op(A)[region]` (rows = M side, cols = K side) into MR-row panels
/// of depth `kp >= region.cols`, pre-broadcast. `dst` must hold
/// `packed_len(rows, MR, kp, A_LANES)` floats.
pub fn pack_a(a: Operand, reg: Region, mr: usize, kp: usize, dst: &mut [f32]) {
    pack_panels(a, reg, Panel { w: mr, lanes: A_LANES, kp }, dst);
}

/// Packs `op(B)[region]` (rows = K side, cols = N side) into NR-column panels
/// of depth `kp >= region.rows`. `dst` must hold
/// `packed_len(cols, NR, kp, 1)` floats.
pub fn pack_b(b: Operand, reg: Region, nr: usize, kp: usize, dst: &mut [f32]) {
    // op(B)[p, j] seen as a matrix indexed (j, p) is op'(B) with the
    // transpose flag flipped: B panels are A panels of Bᵀ.
    let flipped = Operand { trans: !b.trans, ..b };
    let reg_t = Region { row0: reg.col0, rows: reg.cols, col0: reg.row0, cols: reg.rows };
    pack_panels(flipped, reg_t, Panel { w: nr, lanes: 1, kp }, dst);
}

/// Shape of one packed panel: `w` values per k step, each repeated
/// `lanes` times, `kp` k steps.
#[derive(Debug, Clone, Copy)]
struct Panel {
    w: usize,
    lanes: usize,
    kp: usize,
}

/// Packs `op(X)[reg]` into panels of `w` rows; each k step of a panel holds
/// `w · lanes` consecutive values.
fn pack_panels(x: Operand, reg: Region, pn: Panel, dst: &mut [f32]) {
    match pn.lanes {
        1 => pack_panels_n::<1>(x, reg, pn, dst),
        _ => pack_panels_n::<A_LANES>(x, reg, pn, dst),
    }
}

/// [`pack_panels`] with the lane count as a constant, so the per-element
/// fill compiles to a single (vector) store.
fn pack_panels_n<const L: usize>(x: Operand, reg: Region, pn: Panel, dst: &mut [f32]) {
    let (w, kp) = (pn.w, pn.kp);
    let step = w * L;
    for q in 0..reg.rows.div_ceil(w) {
        let panel = &mut dst[q * step * kp..(q + 1) * step * kp];
        let r0 = reg.row0 + q * w;
        let rows = w.min(reg.rows - q * w);
        if rows < w {
            panel.fill(0.0);
        } else {
            panel[reg.cols * step..].fill(0.0);
        }
        if x.trans {
            // op(X)[i, p] = x[p·ld + i]: each k step reads one contiguous run.
            let steps = panel.chunks_exact_mut(step).take(reg.cols);
            for (p, out) in steps.enumerate() {
                let start = (reg.col0 + p) * x.ld + r0;
                put_step::<L>(out, x.data[start..start + rows].iter().copied());
            }
        } else {
            // op(X)[i, p] = x[i·ld + p]: a transpose. Read GATHER k steps
            // of each row at once (one short contiguous run per row) and
            // scatter them into GATHER consecutive k steps.
            for r in 0..rows {
                let row = &x.data[(r0 + r) * x.ld + reg.col0..][..reg.cols];
                let mut runs = row.chunks_exact(GATHER);
                let mut p = 0;
                for run in runs.by_ref() {
                    for (d, &v) in run.iter().enumerate() {
                        let at = (p + d) * step + r * L;
                        panel[at..at + L].copy_from_slice(&[v; L]);
                    }
                    p += GATHER;
                }
                for (d, &v) in runs.remainder().iter().enumerate() {
                    let at = (p + d) * step + r * L;
                    panel[at..at + L].copy_from_slice(&[v; L]);
                }
            }
        }
    }
}

/// k steps read per row in one go when packing a transposed layout.
const GATHER: usize = 8;

/// Writes one k step: each value repeated `L` times.
fn put_step<const L: usize>(out: &mut [f32], vals: impl Iterator<Item = f32>) {
    for (chunk, v) in out.chunks_exact_mut(L).zip(vals) {
        chunk.copy_from_slice(&[v; L]);
    }
}

/// Floats needed to pack `len` rows (or columns) in panels of `w` values
/// repeated `lanes` times, depth `kp`.
pub fn packed_len(len: usize, w: usize, kp: usize, lanes: usize) -> usize {
    len.div_ceil(w) * w * kp * lanes
}
