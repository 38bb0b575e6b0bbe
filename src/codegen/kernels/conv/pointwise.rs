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
use super::backward_weight::lanes_sum;
use super::drive::{KBlocks, OuterCall, Outputs, VariantKey, Variants};
use super::geometry::ConvGeom;
use super::options::ConvOptions;
use super::outer::{ASide, OuterSpec, TapGrid};
use super::plan::{outer_tile, split_even, want_parts, OuterCosts};
use super::store::{OperandMap, StoreSpec};
use super::taps::{col_classes, Axis, RowTiling};
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::{CompiledKernel, StepSpec};

/// Pixels per chunk of dyᵀ (about a row of tiles' worth of k steps).
const CHUNK_PIXELS: usize = 512;

/// A part: output channels `o` (absolute, inside one group).
#[derive(Debug, Clone)]
struct Part {
    group: usize,
    o: Range<usize>,
}

/// A compiled pointwise weight gradient.
pub(super) struct PointwiseWeight {
    g: ConvGeom,
    dybs: usize,
    xbs: usize,
    accumulate: bool,
    /// Pixel grid of the k loop: `cols` output columns per k row (1 at stride 1,
    /// where the flattened map is one column per row, see [`flat`]), rows per chunk.
    cols: usize,
    chunk_rows: usize,
    /// Floats per pixel in the dyᵀ chunk (the widest part, whole vectors).
    width: usize,
    mr: usize,
    /// Variants by part width (output channels of the part).
    vars: Vec<(usize, Variants)>,
    parts: Vec<Part>,
    desc: String,
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
    let parts = parts(&g, want_parts(g.flops(), opts.min_part_flops, opts.max_parts));
    let width = parts.iter().map(|p| 4 * p.o.len().div_ceil(4)).max().unwrap_or(4);
    let costs = OuterCosts { direct: true, store: 4.0, b_streams: false };
    let (mr, nv) = opts.tile_or(g.cin_g(), || outer_tile(g.cin_g(), width / 4, chunk_rows * cols, costs));
    let store = StoreSpec {
        out: OperandMap { r_stride: 4, pos_stride: (16 * g.cin_g()) as i64, lane_stride: (4 * g.cin_g()) as i64 },
        extras: Vec::new(),
        bias: false,
        epilogue: Vec::new(),
        accumulate: true,
        partial: false,
    };
    let mut widths: Vec<usize> = parts.iter().map(|p| p.o.len()).collect();
    widths.sort_unstable();
    widths.dedup();
    let mut vars = Vec::new();
    for w in widths {
        let make = |key: VariantKey| gemm_spec(&g, (cols, width, w), key, nv);
        vars.push((w, Variants::compile(jit, (kb, mr, g.cin_g()), 0, &store, make)?));
    }
    let desc = format!("{}: pointwise gemm outer {mr}x{nv} chunk {} px", g.label("conv_bwd_weight"), chunk_rows * cols);
    let (dybs, xbs) = (spec.inputs[0].batch_stride, spec.inputs[1].batch_stride);
    let accumulate = spec.accumulate;
    Ok(Arc::new(PointwiseWeight { g, dybs, xbs, accumulate, cols, chunk_rows, width, mr, vars, parts, desc }))
}

/// About `want` parts: each group's output channels in ranges of whole vectors.
fn parts(g: &ConvGeom, want: usize) -> Vec<Part> {
    let per_group = want.div_ceil(g.groups).clamp(1, g.cout_g().div_ceil(4));
    (0..g.groups)
        .flat_map(|group| {
            split_even(g.cout_g().div_ceil(4), per_group).into_iter().map(move |r| {
                let o0 = group * g.cout_g();
                Part { group, o: o0 + 4 * r.start..o0 + (4 * r.end).min(g.cout_g()) }
            })
        })
        .collect()
}

/// The engine variant for a part of `w` output channels: k = chunk rows (run-time)
/// × `cols` columns (taps), rows = input channels, vectors = four output channels.
fn gemm_spec(g: &ConvGeom, (cols, width, w): (usize, usize, usize), key: VariantKey, nv: usize) -> OuterSpec {
    let positions = w.div_ceil(4);
    let tiling = RowTiling { positions, width: 4, last_lanes: w - 4 * (positions - 1), nv, lanes: 4, partial_b: false };
    let every = Axis { base: 0, g_step: 0, t_step: 0, taps: cols, src: 1 };
    // x[c][pixel]: rows one plane apart; a k row moves sh input rows (or, flattened,
    // one pixel), a column sw input columns.
    let a_row = if flat(g) { 4 } else { 4 * g.sh * g.w };
    let a_col = (4 * g.sw) as i64;
    OuterSpec {
        mr: key.rows,
        a: ASide::Direct {
            row: (4 * g.h * g.w) as i64,
            chan: a_row as i64,
            tap_row: 0,
            taps: (0..cols as i64).map(|j| j * a_col).collect(),
        },
        chans: key.chans,
        unroll: if flat(g) { 8 } else { 1 },
        b_chan: (4 * cols * width) as i64,
        taps: TapGrid { rows: 1, b_row: 0, b: (0..cols as i64).map(|j| j * 4 * width as i64).collect() },
        bounds: None,
        classes: col_classes(&every, &tiling, false),
        b_pos: 16,
        b_stride: 1,
        b_row: 0,
        out_row: 0,
        lanes: 4,
        store: key.store,
        links: None,
    }
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

impl CompiledKernel for PointwiseWeight {
    fn parts(&self) -> usize {
        self.parts.len()
    }

    fn scratch_len(&self) -> usize {
        self.chunk_rows * self.cols * self.width
    }

    unsafe fn run(&self, ptrs: &[*mut f32], part: usize, scratch: &mut [f32]) {
        let (g, p) = (&self.g, &self.parts[part]);
        let Some((_, vars)) = self.vars.iter().find(|(w, _)| *w == p.o.len()) else { return };
        // SAFETY: the ABI promises dy and x hold n samples at their batch strides.
        let (dy, x) = unsafe {
            (view(ptrs[0], (g.n - 1) * self.dybs + g.y_len()), view(ptrs[1], (g.n - 1) * self.xbs + g.x_len()))
        };
        let row = g.cin_g();
        if !self.accumulate {
            // SAFETY: the part owns dw rows `p.o`.
            unsafe { view_mut(ptrs[2].add(p.o.start * row), p.o.len() * row) }.fill(0.0);
        }
        scratch.fill(0.0);
        let out = Outputs { y: ptrs[2], ybs: 0, extras: &[], ebs: &[] };
        let kb = vars.kb;
        for n in 0..g.n {
            for k in 0..kb.nk {
                let (r0, len) = (k * kb.kc, if k + 1 == kb.nk { kb.last } else { kb.kc });
                self.transpose(dy, n, &p.o, (r0, len), scratch);
                for c0 in (0..g.cin_g()).step_by(self.mr) {
                    let rows = self.mr.min(g.cin_g() - c0);
                    let Some(f) = vars.get(k, rows, 4) else { continue };
                    let c = p.group * g.cin_g() + c0;
                    let pixel = r0 * if flat(g) { 1 } else { g.sh * g.w };
                    let call = OuterCall {
                        a: at(x.as_ptr(), n * self.xbs + c * g.h * g.w + pixel),
                        b: scratch.as_ptr() as i64,
                        first: 0,
                        off: p.o.start * row + c0,
                        bias: 0,
                        nrows: 1,
                        row0: 0,
                    };
                    // SAFETY: A reads x channels `c ..` of sample n at the chunk's
                    // pixels, B the packed chunk; the dw elements (rows p.o, columns
                    // c0 ..) are this part's alone.
                    unsafe { call.call(f, &out) };
                }
            }
        }
        if g.bias {
            let plane = g.oh * g.ow;
            // SAFETY: the part owns db entries `p.o`.
            let db = unsafe { view_mut(ptrs[3].add(p.o.start), p.o.len()) };
            for (i, d) in db.iter_mut().enumerate() {
                *d = (0..g.n).map(|s| lanes_sum(&dy[s * self.dybs + (p.o.start + i) * plane..][..plane])).sum();
            }
        }
    }

    fn describe(&self) -> String {
        self.desc.clone()
    }
}
