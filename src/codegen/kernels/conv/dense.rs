//! `Dense`, `DenseBackwardData` and `DenseBackwardWeight` as GEMMs on the
//! outer-product engine (one grid row; positions are four consecutive columns of C;
//! k steps unrolled by 8).
//!
//! | kernel   | C (rows × columns)  | A (broadcast)       | B (vectors)                  |
//! |----------|---------------------|---------------------|------------------------------|
//! | forward  | yᵀ: out × samples   | w rows              | xᵀ, prepared per part        |
//! | bwd data | dx: samples × in    | dy rows             | w rows, in place             |
//! | bwd wgt  | dw: out × in        | dyᵀ (dy columns)    | x rows, in place             |
//!
//! Consumes: the step spec. Produces: a [`CompiledKernel`]. Parts split the rows of
//! C and, for the forward, the samples; weight gradients are split over output
//! features only. Guarantees: the kernel contract on the part's elements; the
//! forward's transposed output scatters lanes (one per sample), bias per row.

use std::sync::Arc;

use super::abi::{at, check_no_epilogue, check_operands, check_param, view, view_mut};
use super::drive::{
    blocks, gemm_spec_of, panel_len, tiled, Block, Family, KBlocks, OutMap, OuterCall, Tiling, VariantKey, Variants,
};
use super::options::ConvOptions;
use super::outer::{ASide, OuterSpec};
use super::pack::pack_broadcast;
use super::plan::{balanced, outer_tile, split_even, want_parts, OuterCosts, Part};
use super::store::{OperandMap, StoreSpec};
use crate::autodiff::Kernel;
use crate::codegen::error::{invalid, Result};
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::ir::Dense;
use crate::sched::StepSpec;

/// Which dense kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Forward,
    Data,
    Weight,
}

/// The dense family: how a part runs. A part's units are columns of C (samples of
/// the forward; one range of all columns otherwise).
struct DenseKernel {
    dir: Dir,
    d: Dense,
    n: usize,
    /// Batch strides of the step's operands in ABI order (0 for parameters).
    bs: Vec<usize>,
    out: OutMap,
    packed: bool,
    /// Variants for each distinct column count (forward) or one.
    vars: Vec<(usize, Variants)>,
    /// Columns of the forward's prepared xᵀ (a multiple of 4).
    xt_cols: usize,
}

/// (rows of C, k, columns of C) of a kernel over `n` samples.
fn shape(dir: Dir, d: &Dense, n: usize) -> (usize, usize, usize) {
    let (i, o) = (d.in_features as usize, d.out_features as usize);
    match dir {
        Dir::Forward => (o, i, n),
        Dir::Data => (n, o, i),
        Dir::Weight => (o, n, i),
    }
}

pub(super) fn compile(jit: &Jit, spec: &StepSpec, opts: &ConvOptions) -> Result<Arc<dyn CompiledKernel>> {
    let (dir, d) = match &spec.kernel {
        Kernel::Dense(d) => (Dir::Forward, *d),
        Kernel::DenseBackwardData(d) => (Dir::Data, *d),
        Kernel::DenseBackwardWeight(d) => (Dir::Weight, *d),
        _ => return Err(invalid("dense::compile on a non-dense kernel")),
    };
    let n = check(dir, &d, spec)?;
    let (m, k, cols) = shape(dir, &d, n);
    let packed = opts.pack(if dir == Dir::Weight { d.in_features as usize } else { cols });
    let flops = 2.0 * (m * k * cols) as f64;
    let want = want_parts(flops, opts);
    let col_parts = if dir == Dir::Forward { balanced(cols.div_ceil(4), want, opts.threads) } else { 1 };
    let col_ranges: Vec<_> =
        split_even(cols.div_ceil(4), col_parts).into_iter().map(|r| 4 * r.start..(4 * r.end).min(cols)).collect();
    let widest = col_ranges.iter().map(|r| r.len()).max().unwrap_or(cols);
    let costs = OuterCosts {
        direct: !packed,
        store: if dir == Dir::Forward { 4.0 } else { 1.0 },
        b_streams: false,
        a_row_bytes: if packed { 0 } else { a_strides(dir, &d, spec).0 },
    };
    let (mr, nv) = opts.tile_or(m, || outer_tile(m, widest.div_ceil(4), k, costs));
    let blocks = blocks(1, m, mr);
    let row_parts = balanced(blocks.len(), want.div_ceil(col_parts), opts.threads);
    let parts: Vec<Part> = split_even(blocks.len(), row_parts)
        .into_iter()
        .flat_map(|b| col_ranges.iter().map(move |c| Part { units: c.clone(), blocks: b.clone(), rows: 0..1 }))
        .collect();
    let xt_cols = 4 * widest.div_ceil(4);
    let bs: Vec<usize> = spec.inputs.iter().chain(&spec.outputs).map(|o| o.batch_stride).collect();
    let mut widths: Vec<usize> = col_ranges.iter().map(|r| r.len()).collect();
    widths.sort_unstable();
    widths.dedup();
    let store = store_spec(dir, &d, spec);
    let mut vars = Vec::new();
    for &w in &widths {
        let make = |key: VariantKey| gemm_spec(dir, &d, key, (nv, w), packed, xt_cols, spec);
        vars.push((w, Variants::compile(jit, (KBlocks::new(k, k), mr, m), 0, (&store, opts), make)?));
    }
    let desc = format!(
        "{} {}->{} n{}: gemm outer {mr}x{nv} {}{}",
        spec.kernel.name(),
        d.in_features,
        d.out_features,
        n,
        if packed { "packed" } else { "direct" },
        if dir == Dir::Forward { " batch-lanes" } else { "" }
    );
    let scratch = |b: &[Block]| panel_len(b, k, packed) + if dir == Dir::Forward { k * xt_cols } else { 0 };
    let out = OutMap::new(spec);
    Ok(tiled(
        Tiling::new(blocks, parts, scratch, opts.noting_fma(desc)),
        DenseKernel { dir, d, n, bs, out, packed, vars, xt_cols },
    ))
}

/// Checks operands; returns the batch size.
fn check(dir: Dir, d: &Dense, spec: &StepSpec) -> Result<usize> {
    let (fin, fout) = (d.in_features as usize, d.out_features as usize);
    check_operands(spec)?;
    // (batched operand, features per sample) pairs, then parameters.
    let (batched, w) = match dir {
        Dir::Forward => ([(&spec.inputs[0], fin), (&spec.outputs[0], fout)], &spec.inputs[1]),
        Dir::Data => ([(&spec.inputs[0], fout), (&spec.outputs[0], fin)], &spec.inputs[1]),
        Dir::Weight => ([(&spec.inputs[0], fout), (&spec.inputs[1], fin)], &spec.outputs[0]),
    };
    let n = batched[0].0.dims.first().copied().unwrap_or(0);
    for (op, f) in batched {
        let per: usize = op.dims.iter().skip(1).product();
        if op.dims.first() != Some(&n) || per != f || n == 0 {
            return Err(invalid(format!("{}: operand dims {:?} do not match the layer", spec.kernel.name(), op.dims)));
        }
    }
    check_param("dense weight", w, fout * fin)?;
    match dir {
        Dir::Forward if d.bias => check_param("dense bias", &spec.inputs[2], fout)?,
        Dir::Weight if d.bias => check_param("dense bias gradient", &spec.outputs[1], fout)?,
        _ => {}
    }
    if dir == Dir::Weight {
        check_no_epilogue(spec)?;
    }
    Ok(n)
}

/// The store of C: each operand's map from its batch stride in bytes.
fn store_spec(dir: Dir, d: &Dense, spec: &StepSpec) -> StoreSpec {
    let fin = d.in_features as i64;
    let map = |op: &crate::sched::Operand| {
        let b = 4 * op.batch_stride as i64;
        match dir {
            Dir::Forward => OperandMap { r_stride: 4, pos_stride: 4 * b, lane_stride: b },
            Dir::Data => OperandMap { r_stride: b, pos_stride: 16, lane_stride: 4 },
            Dir::Weight => OperandMap { r_stride: 4 * fin, pos_stride: 16, lane_stride: 4 },
        }
    };
    StoreSpec {
        out: map(&spec.outputs[0]),
        extras: spec.extra.iter().map(map).collect(),
        bias: dir == Dir::Forward && d.bias,
        epilogue: spec.epilogue.clone(),
        accumulate: spec.accumulate,
        partial: false,
    }
}

/// Bytes between rows and between k steps of A read in place.
fn a_strides(dir: Dir, d: &Dense, spec: &StepSpec) -> (i64, i64) {
    match dir {
        Dir::Forward => (4 * d.in_features as i64, 4),
        Dir::Data => (4 * spec.inputs[0].batch_stride as i64, 4),
        Dir::Weight => (4, 4 * spec.inputs[0].batch_stride as i64),
    }
}

/// The engine variant for `key`: `nv` positions per tile, `cols` columns of C.
fn gemm_spec(
    dir: Dir,
    d: &Dense,
    key: VariantKey,
    (nv, cols): (usize, usize),
    packed: bool,
    xt_cols: usize,
    spec: &StepSpec,
) -> OuterSpec {
    // B bytes per k step.
    let b_chan = match dir {
        Dir::Forward => 4 * xt_cols as i64,
        Dir::Data => 4 * d.in_features as i64,
        Dir::Weight => 4 * spec.inputs[1].batch_stride as i64,
    };
    let a_direct = a_strides(dir, d, spec);
    let a = if packed {
        ASide::Packed
    } else {
        ASide::Direct { row: a_direct.0, chan: a_direct.1, tap_row: 0, taps: vec![0] }
    };
    gemm_spec_of(key, a, (b_chan, vec![0]), (cols, nv, dir != Dir::Forward), 8)
}

impl DenseKernel {
    /// A (row, k) of the product, for rows from `r0`.
    fn a_elem<'a>(&self, a: &'a [f32], r0: usize) -> impl Fn(usize, usize) -> f32 + 'a {
        let (dir, fin, dybs) = (self.dir, self.d.in_features as usize, self.bs[0]);
        move |r, k| match dir {
            Dir::Forward => a[(r0 + r) * fin + k],
            Dir::Data => a[(r0 + r) * dybs + k],
            Dir::Weight => a[k * dybs + r0 + r],
        }
    }

    /// Address of A at row `r0` for direct reads.
    fn a_direct(&self, a: &[f32], r0: usize) -> i64 {
        let at = match self.dir {
            Dir::Forward => r0 * self.d.in_features as usize,
            Dir::Data => r0 * self.bs[0],
            Dir::Weight => r0,
        };
        a[at..].as_ptr() as i64
    }

    /// xᵀ of samples `cols` into `dst` (`xt_cols` columns, zero past the samples),
    /// four samples at a time: four sequential reads and four adjacent writes per
    /// feature, where a sample-inner loop read one float per sample row (a strided
    /// gather: half of this function's time in a LeNet step).
    fn transpose_x(&self, x: &[f32], cols: std::ops::Range<usize>, dst: &mut [f32]) {
        let (fin, xbs, w) = (self.d.in_features as usize, self.bs[0], self.xt_cols);
        // Zero columns past the samples (a part's last group), allocated only then.
        let zeros = if cols.len() < w { vec![0f32; fin] } else { Vec::new() };
        for j0 in (0..w).step_by(4) {
            let rows: [&[f32]; 4] = std::array::from_fn(|l| {
                let j = j0 + l;
                if j < cols.len() {
                    &x[(cols.start + j) * xbs..][..fin]
                } else {
                    &zeros[..]
                }
            });
            for (i, d) in dst.chunks_exact_mut(w).take(fin).enumerate() {
                d[j0..j0 + 4].copy_from_slice(&[rows[0][i], rows[1][i], rows[2][i], rows[3][i]]);
            }
        }
    }

    /// The A operand (whole tensor) and the B address at k = 0, column 0.
    fn operands<'a>(&self, ptrs: &[*mut f32], p: &Part, xt: &'a mut [f32]) -> (&'a [f32], i64) {
        let (fin, fout, n) = (self.d.in_features as usize, self.d.out_features as usize, self.n);
        let span = |i: usize, per: usize| (n - 1) * self.bs[i] + per;
        // SAFETY: the ABI promises these inputs hold the sizes checked at compile time.
        unsafe {
            match self.dir {
                Dir::Forward => {
                    self.transpose_x(view(ptrs[0], span(0, fin)), p.units.clone(), xt);
                    (view(ptrs[1], fin * fout), xt.as_ptr() as i64)
                }
                Dir::Data => (view(ptrs[0], span(0, fout)), ptrs[1] as i64),
                Dir::Weight => (view(ptrs[0], span(0, fout)), ptrs[1] as i64),
            }
        }
    }
}

impl Family for DenseKernel {
    unsafe fn run_part(&self, t: &Tiling, ptrs: &[*mut f32], p: &Part, scratch: &mut [f32], _ws: *mut f32) {
        let blocks = t.blocks_of(p);
        let (_, k, _) = shape(self.dir, &self.d, self.n);
        let rows: usize = blocks.iter().map(|b| b.rows).sum();
        let (panel, xt) = scratch.split_at_mut(panel_len(blocks, k, self.packed));
        let (a, b) = self.operands(ptrs, p, xt);
        let Some((_, vars)) = self.vars.iter().find(|(w, _)| *w == p.units.len()) else { return };
        let out = self.out.bind(ptrs);
        let mut used = 0;
        for blk in blocks {
            let a_addr = if self.packed {
                let dst = &mut panel[used..used + 4 * blk.rows * k];
                pack_broadcast(dst, blk.rows, k, self.a_elem(a, blk.r0));
                used += dst.len();
                dst.as_ptr() as i64
            } else {
                self.a_direct(a, blk.r0)
            };
            let (first, off) = match self.dir {
                Dir::Forward => (p.units.start, blk.r0),
                Dir::Data => (blk.r0, 0),
                Dir::Weight => (0, blk.r0 * self.d.in_features as usize),
            };
            let bias = if self.dir == Dir::Forward && self.d.bias { at(ptrs[2], blk.r0) } else { 0 };
            let call = OuterCall { a: a_addr, b, first, off, bias, nrows: 1, row0: 0 };
            // SAFETY: A is this block's panel or rows, B the transposed samples or the
            // input tensor (valid for every compiled k and column offset); the C
            // elements are the block's rows and the part's columns, this part's alone.
            unsafe { vars.run(call, (blk.rows, 4), (0, 0), &out) };
        }
        if self.dir == Dir::Weight && self.d.bias {
            let (r0, fout) = (blocks.first().map_or(0, |b| b.r0), self.d.out_features as usize);
            // SAFETY: the part owns db entries of its rows; dy holds n rows of `fout`.
            let (db, dy) =
                unsafe { (view_mut(ptrs[3].add(r0), rows), view(ptrs[0], (self.n - 1) * self.bs[0] + fout)) };
            // Sample by sample over the part's features (contiguous in dy); each entry
            // still adds the samples in order.
            db.fill(0.0);
            for s in 0..self.n {
                for (d, g) in db.iter_mut().zip(&dy[s * self.bs[0] + r0..][..rows]) {
                    *d += g;
                }
            }
        }
    }
}
