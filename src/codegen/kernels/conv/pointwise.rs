//! `ConvBackwardWeight` of a 1×1 convolution without padding (any stride) as a GEMM
//! on the outer-product engine: dwᵀ[c][o] = Σ over samples and output pixels p of
//! x[c][pixel(p)] · dy[o][p].
//!
//! Tile rows are input channels (A = x, broadcast in place), vectors are four of the
//! part's output channels (B = dyᵀ of those channels, one chunk of pixels packed
//! into scratch), k runs over the chunk's pixels: output rows (a run-time loop) ×
//! output columns (unrolled), or, at stride 1, single pixels of the flattened map.
//! Stores scatter the four lanes (output channels) into dw rows, adding to them;
//! the part zeroes its rows first unless the step accumulates.
//!
//! Why: with one tap per channel pair the dot engine's passes stream several planes
//! of dy and x from L2 for very few products (29–44% of the ceiling on ResNet's 1×1
//! layers). Here each part packs only its own channels of dy (no part repeats
//! another's copy) and reads x in place.
//!
//! Consumes: the validated geometry and spec. Produces: a [`CompiledKernel`] whose
//! parts split output channels (ranges of whole vectors inside one group).
//! Guarantees: as `backward_weight`.

use std::ops::Range;
use std::sync::Arc;

use super::abi::{at, view, view_mut};
use super::backward_weight::bias_grad;
use super::drive::{blocks, gemm_spec_of, tiled, Family, KBlocks, OutMap, OuterCall, Tiling, VariantKey, Variants};
use super::geometry::ConvGeom;
use super::options::ConvOptions;
use super::outer::{ASide, OuterSpec};
use super::plan::{outer_tile, split_even, want_parts, OuterCosts, Part};
use super::store::{OperandMap, StoreSpec};
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::sched::StepSpec;

/// Pixels per chunk of dyᵀ (about a row of tiles' worth of k steps).
const CHUNK_PIXELS: usize = 512;

/// The pointwise weight-gradient family: how a part runs. A part's units are its
/// output channels (the columns of C, inside one group); its row blocks are blocks of
/// input channels (the rows of C) within the group.
struct PointwiseWeight {
    g: ConvGeom,
    dybs: usize,
    xbs: usize,
    accumulate: bool,
    /// Pixel grid of the k loop: `cols` output columns per k row (1 at stride 1,
    /// where the flattened map is one column per row, see [`flat`]).
    cols: usize,
    /// Floats per pixel in the dyᵀ chunk (the widest part, whole vectors).
    width: usize,
    out: OutMap,
    /// Variants by part width (output channels of the part).
    vars: Vec<(usize, Variants)>,
}

/// Whether `g`'s weight gradient takes this path: every output pixel reads an input
/// pixel (no padding on any side; bottom or right padding would add output pixels
/// that read nothing).
pub(super) fn applies(g: &ConvGeom) -> bool {
    let inside = (g.oh - 1) * g.sh < g.h && (g.ow - 1) * g.sw < g.w;
    g.kh == 1 && g.kw == 1 && g.pt == 0 && g.pl == 0 && inside && g.table.is_none()
}

/// At stride 1 the map is walked as one row of pixels (`cols` = 1); otherwise k rows
/// are output rows of `ow` columns. One output column alone (`ow` = 1) is not flat:
/// its rows are still `sh` input rows apart.
fn flat(g: &ConvGeom) -> bool {
    g.sh == 1 && g.sw == 1
}

pub(super) fn compile(jit: &Jit, g: ConvGeom, spec: &StepSpec, opts: &ConvOptions) -> Result<Arc<dyn CompiledKernel>> {
    let cols = if flat(&g) { 1 } else { g.ow };
    let rows = g.oh * g.ow / cols;
    let chunk_rows = (CHUNK_PIXELS / cols).clamp(1, rows);
    let kb = KBlocks::new(rows, chunk_rows);
    let parts = parts(&g, want_parts(g.flops(), opts));
    let width = parts.iter().map(|o| 4 * o.len().div_ceil(4)).max().unwrap_or(4);
    let costs = OuterCosts { direct: true, store: 4.0, b_streams: false, a_row_bytes: (4 * g.h * g.w) as i64 };
    let (mr, nv) = opts.tile_or(g.cin_g(), || outer_tile(g.cin_g(), width / 4, chunk_rows * cols, costs));
    let store = StoreSpec {
        out: OperandMap { r_stride: 4, pos_stride: (16 * g.cin_g()) as i64, lane_stride: (4 * g.cin_g()) as i64 },
        extras: Vec::new(),
        bias: false,
        epilogue: Vec::new(),
        accumulate: true,
        partial: false,
    };
    let mut widths: Vec<usize> = parts.iter().map(|o| o.len()).collect();
    widths.sort_unstable();
    widths.dedup();
    let mut vars = Vec::new();
    for w in widths {
        let make = |key: VariantKey| gemm_spec(&g, (cols, width, w), key, nv);
        vars.push((w, Variants::compile(jit, (kb, mr, g.cin_g()), 0, (&store, opts), make)?));
    }
    let desc = format!("{}: pointwise gemm outer {mr}x{nv} chunk {} px", g.label("conv_bwd_weight"), chunk_rows * cols);
    let (dybs, xbs, accumulate, out) =
        (spec.inputs[0].batch_stride, spec.inputs[1].batch_stride, spec.accumulate, OutMap::new(spec));
    let blocks = blocks(1, g.cin_g(), mr);
    let parts = parts.into_iter().map(|units| Part { units, blocks: 0..blocks.len(), rows: 0..1 }).collect();
    let tiling = Tiling::new(blocks, parts, |_| chunk_rows * cols * width, opts.noting_fma(desc));
    Ok(tiled(tiling, PointwiseWeight { g, dybs, xbs, accumulate, cols, width, out, vars }))
}

/// About `want` parts' output channels: each group's in ranges of whole vectors.
fn parts(g: &ConvGeom, want: usize) -> Vec<Range<usize>> {
    let per_group = want.div_ceil(g.groups).clamp(1, g.cout_g().div_ceil(4));
    (0..g.groups)
        .flat_map(|group| {
            split_even(g.cout_g().div_ceil(4), per_group).into_iter().map(move |r| {
                let o0 = group * g.cout_g();
                o0 + 4 * r.start..o0 + (4 * r.end).min(g.cout_g())
            })
        })
        .collect()
}

/// The engine variant for a part of `w` output channels: k = chunk rows (run-time)
/// × `cols` columns (taps), rows = input channels, vectors = four output channels.
fn gemm_spec(g: &ConvGeom, (cols, width, w): (usize, usize, usize), key: VariantKey, nv: usize) -> OuterSpec {
    // x[c][pixel]: rows one plane apart; a k row moves sh input rows (or, flattened,
    // one pixel), a column sw input columns.
    let a_row = if flat(g) { 4 } else { 4 * g.sh * g.w };
    let a_col = (4 * g.sw) as i64;
    let taps = (0..cols as i64).map(|j| j * a_col).collect();
    let a = ASide::Direct { row: (4 * g.h * g.w) as i64, chan: a_row as i64, tap_row: 0, taps };
    let b = ((4 * cols * width) as i64, (0..cols as i64).map(|j| j * 4 * width as i64).collect());
    gemm_spec_of(key, a, b, (w, nv, false), if flat(g) { 8 } else { 1 })
}

impl PointwiseWeight {
    /// dyᵀ of sample `n`, channels `o`, k rows `r0 .. r0 + len` into `dst`.
    fn transpose(&self, dy: &[f32], n: usize, o: &Range<usize>, (r0, len): (usize, usize), dst: &mut [f32]) {
        let plane = self.g.oh * self.g.ow;
        let p0 = r0 * self.cols;
        let pixels = len * self.cols;
        for (i, oc) in o.clone().enumerate() {
            let src = &dy[n * self.dybs + oc * plane + p0..][..pixels];
            for (p, &v) in src.iter().enumerate() {
                dst[p * self.width + i] = v;
            }
        }
    }
}

impl Family for PointwiseWeight {
    unsafe fn run_part(&self, t: &Tiling, ptrs: &[*mut f32], p: &Part, scratch: &mut [f32], _ws: *mut f32) {
        let g = &self.g;
        let Some((_, vars)) = self.vars.iter().find(|(w, _)| *w == p.units.len()) else { return };
        // SAFETY: the ABI promises dy and x hold n samples at their batch strides.
        let (dy, x) = unsafe {
            (view(ptrs[0], (g.n - 1) * self.dybs + g.y_len()), view(ptrs[1], (g.n - 1) * self.xbs + g.x_len()))
        };
        let (row, o, group) = (g.cin_g(), &p.units, p.units.start / g.cout_g());
        if !self.accumulate {
            // SAFETY: the part owns dw rows `o`.
            unsafe { view_mut(ptrs[2].add(o.start * row), o.len() * row) }.fill(0.0);
        }
        scratch.fill(0.0);
        let out = self.out.bind(ptrs);
        let kb = vars.kb;
        for n in 0..g.n {
            for k in 0..kb.nk {
                let (r0, len) = (k * kb.kc, if k + 1 == kb.nk { kb.last } else { kb.kc });
                self.transpose(dy, n, o, (r0, len), scratch);
                for b in t.blocks_of(p) {
                    let Some(f) = vars.get(k, b.rows, 4) else { continue };
                    let c = group * g.cin_g() + b.r0;
                    let pixel = r0 * if flat(g) { 1 } else { g.sh * g.w };
                    let call = OuterCall {
                        a: at(x.as_ptr(), n * self.xbs + c * g.h * g.w + pixel),
                        b: scratch.as_ptr() as i64,
                        first: 0,
                        off: o.start * row + b.r0,
                        bias: 0,
                        nrows: 1,
                        row0: 0,
                    };
                    // SAFETY: A reads x channels `c ..` of sample n at the chunk's
                    // pixels, B the packed chunk; the dw elements (rows o, columns
                    // b.r0 ..) are this part's alone.
                    unsafe { call.call(f, &out) };
                }
            }
        }
        if g.bias {
            // SAFETY: the part owns db entries `o`.
            let db = unsafe { view_mut(ptrs[3].add(o.start), o.len()) };
            bias_grad(g, dy, self.dybs, o.start, db);
        }
    }
}
