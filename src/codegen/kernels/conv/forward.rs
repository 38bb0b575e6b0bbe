//! `Conv` (x, w, [b] → y) on the outer-product engine: tile rows are output
//! channels, k runs over (input channel, tap).
//!
//! Consumes: the step spec. Produces: a [`CompiledKernel`] whose parts split units
//! (samples, or groups of four samples), output-channel blocks and output rows.
//! Guarantees: y = old? + epilogue(conv + bias) on the part's elements only.
//! Weights of a connection table are expanded into a dense per-part copy (missing
//! links are zeros); each output-channel block is then compiled with its link masks,
//! so unlinked (output, input) pairs cost no multiply-adds.
//!
//! Vectorisation ([`Lanes`]): spatial (four adjacent output columns; x read in place
//! when no padding is ever read and the column stride is 1, else from a padded,
//! phase-split window) or batch (one pixel of four samples, interleaved window). A
//! strided 1×1 convolution that reads no padding is the pointwise convolution of its
//! subsample: each part copies that subsample as one flat row per channel and runs
//! the flattened pointwise kernel on it (full vectors where rows of 7, 14 or 28
//! outputs would leave some part empty).

use std::sync::Arc;

use super::abi::{at, check_operands, check_param, view};
use super::drive::{
    blocks, compile_per_block, conv_spec_of, k_blocks, panel_len, per_block, store_spec, tiled, Block, ConvGrid,
    Family, OutMap, OuterCall, Tiling, VariantKey, Variants,
};
use super::geometry::ConvGeom;
use super::layout::{GridSteps, Lanes, SourceDims, SourceForm, SourcePlan};
use super::options::ConvOptions;
use super::outer::{ASide, OuterSpec};
use super::pack::{pack_broadcast, Need, Window};
use super::plan::{grid_parts, outer_tile, want_parts, OuterCosts, Part};
use super::taps::Axis;
use super::winograd;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::machine::{DIRECT_EFFICIENCY, L1_BYTES, PACK_S_PER_FLOAT, PEAK_S_PER_FLOP, PREP_S_PER_FLOAT};
use crate::ir::Conv;
use crate::sched::StepSpec;

/// The `Conv` family: how a part runs.
struct Forward {
    g: ConvGeom,
    src: SourcePlan,
    xbs: usize,
    /// Floats of one sample of x (the real tensor's, where `g` reads a subsample).
    x_len: usize,
    out: OutMap,
    packed: bool,
    /// Compiled variants: one set, or one per block with a connection table (each
    /// block's link masks are compiled in).
    vars: Vec<Variants>,
}

pub(super) fn compile(jit: &Jit, spec: &StepSpec, c: &Conv, opts: &ConvOptions) -> Result<Arc<dyn CompiledKernel>> {
    check_operands(spec)?;
    let real = ConvGeom::new(c, &spec.inputs[0].dims, &spec.outputs[0].dims)?;
    let g = real.clone().flattened();
    check_param("conv weight", &spec.inputs[1], g.weight_len())?;
    if c.bias {
        check_param("conv bias", &spec.inputs[2], g.cout)?;
    }
    if let Some(m) = winograd::choose(&g, opts) {
        return winograd::compile(jit, spec, (g, winograd::Role::Forward), m, opts);
    }
    let (g, src) = match subsampled(&real, opts) {
        Some(plan) => plan,
        None => {
            let lanes = opts.lanes_or(|| Lanes::choose(g.n, g.ow, g.cin_g() * g.taps()));
            let src = source_plan(&g, lanes, 1);
            (g, src)
        }
    };
    let lanes = src.lanes;
    let Plan { packed, tile: (mr, nv), blocks, parts } = plan(&g, &src, opts);
    let plane = (4 * g.oh * g.ow) as i64;
    let store = store_spec(spec, (plane, src.out_pos(1)), |bs| src.lane_stride(bs, 1), g.bias);
    let t = g.taps();
    let a_bytes = if packed { 16 * t * mr } else { 4 * t };
    let kb = k_blocks(&store, g.cin_g(), (a_bytes, src.chan_bytes()), opts.a_block_bytes);
    let partial = if lanes == Lanes::Batch { g.n % 4 } else { 0 };
    let vars = compile_per_block(&g, &blocks, (mr, g.cout_g(), true), |rows, m, links| {
        let make = |key: VariantKey| outer_spec(&g, &src, key, nv, packed, links);
        Variants::compile(jit, (kb, rows, m), partial, (&store, opts), make)
    })?;
    let tiling = Tiling::new(
        blocks,
        parts,
        |b| scratch_of(&g, &src, b, packed),
        // A subsampled kernel is named by the convolution it computes, not its pointwise view.
        opts.noting_fma(describe(if src.gather.is_some() { &real } else { &g }, &src, (mr, nv, kb.nk), packed)),
    );
    let (xbs, out, x_len) = (spec.inputs[0].batch_stride, OutMap::new(spec), real.x_len());
    Ok(tiled(tiling, Forward { g, src, xbs, x_len, out, packed, vars }))
}

/// A strided 1×1 convolution that reads no padding, as the pointwise convolution
/// of its subsample ([`ConvGeom::subsampled`]): that geometry and its source, or
/// None (other convolutions, or batch lanes forced by the options).
fn subsampled(real: &ConvGeom, opts: &ConvOptions) -> Option<(ConvGeom, SourcePlan)> {
    let g = real.subsampled()?;
    if opts.lanes == Some(Lanes::Batch) {
        return None;
    }
    let dims = SourceDims { chans: real.cin, h: real.h, w: real.w };
    let src = SourcePlan::subsampled(dims, real.n, (real.sh, real.sw), (real.oh, real.ow));
    Some((g, src))
}

/// How a forward convolution is run: weights packed or in place, the tile, the
/// output-channel blocks and the parts.
struct Plan {
    packed: bool,
    tile: (usize, usize),
    blocks: Vec<Block>,
    parts: Vec<Part>,
}

/// Chooses packing and the part split by estimated time: the arithmetic, plus what
/// every part repeats — preparing its source rows (each part prepares the rows its
/// grid rows read, for all input channels) and packing its blocks' weights.
fn plan(g: &ConvGeom, src: &SourcePlan, opts: &ConvOptions) -> Plan {
    let want = want_parts(g.flops(), opts);
    let k = g.cin_g() * g.taps();
    let packs: Vec<bool> = match opts.packed {
        Some(p) => vec![p],
        None if src.units >= want => vec![opts.pack(g.n * g.oh * g.ow)],
        None => vec![true, false],
    };
    let mut best: Option<(f64, Plan)> = None;
    for packed in packs {
        let costs = OuterCosts {
            direct: !packed,
            store: if src.lanes == Lanes::Batch { 4.0 } else { 1.0 },
            b_streams: g.cin_g() as i64 * src.chan_bytes() > L1_BYTES,
            a_row_bytes: if packed { 0 } else { (4 * k) as i64 },
        };
        let tile = opts.tile_or(g.cout_g(), || outer_tile(g.cout_g(), src.positions(g.ow), k, costs));
        let blocks = blocks(g.groups, g.cout_g(), tile.0);
        for rows_first in [false, true] {
            let parts = grid_parts((src.units, blocks.len(), g.oh), want, rows_first, opts.threads);
            let eff = if packed { 1.0 } else { DIRECT_EFFICIENCY };
            let mut t = g.flops() * PEAK_S_PER_FLOP / eff;
            for p in &parts {
                let prep = p.units.len() * g.cin * src_need(g, src, &p.rows).floats(&src.win);
                let prep = if src.form == SourceForm::Window { prep } else { 0 };
                t += (prep as f64 * PREP_S_PER_FLOAT
                    + panel_len(&blocks[p.blocks.clone()], k, packed) as f64 * PACK_S_PER_FLOAT)
                    / opts.threads as f64;
            }
            if best.as_ref().is_none_or(|(c, _)| t < *c) {
                best = Some((t, Plan { packed, tile, blocks: blocks.clone(), parts }));
            }
        }
    }
    best.map(|(_, p)| p).expect("at least one candidate plan")
}

/// The window rows and phases grid rows `rows` read (spatial lanes; the whole
/// window for batch lanes).
fn src_need(g: &ConvGeom, src: &SourcePlan, rows: &std::ops::Range<usize>) -> Need {
    if src.lanes == Lanes::Batch || rows.is_empty() {
        return src.need_all();
    }
    let sparse = g.kh < g.sh;
    Need {
        rows: rows.start * g.sh..((rows.end - 1) * g.sh + g.kh).min(src.win.rows),
        period: if sparse { g.sh } else { 1 },
        keep: if sparse { g.kh } else { 1 },
        phases: (0..src.win.phases).map(|ph| (0..g.kw).any(|q| q % g.sw == ph)).collect(),
    }
}

fn describe(g: &ConvGeom, src: &SourcePlan, (mr, nv, nk): (usize, usize, usize), packed: bool) -> String {
    let w = if packed { "packed-w" } else { "direct-w" };
    format!("{}: outer {mr}x{nv} k-blocks {nk} {} {w}", g.label("conv"), src.describe())
}

/// The B side: x read in place when no padding is ever read (and the column step is
/// at most `max_step`, see [`SourcePlan::new`]), else a window. The weight gradient
/// reads x the same way.
pub(super) fn source_plan(g: &ConvGeom, lanes: Lanes, max_step: usize) -> SourcePlan {
    let dims = SourceDims { chans: g.cin, h: g.h, w: g.w };
    let grid = GridSteps { row_step: g.sh, col_step: g.sw };
    // Spatial vectors of the last position reach past `ow` (lanes not stored).
    let cols_out = if lanes == Lanes::Spatial { 4 * g.ow.div_ceil(4) } else { g.ow };
    let rows = (g.oh - 1) * g.sh + g.kh;
    let cols = (cols_out - 1) * g.sw + g.kw;
    let reach = Window { r_lo: -(g.pt as isize), rows, c_lo: -(g.pl as isize), cols, phases: 1 };
    let direct_ok = g.pt == 0 && g.pl == 0 && rows <= g.h && (g.ow - 1) * g.sw + g.kw <= g.w;
    SourcePlan::new(lanes, dims, g.n, grid, reach, direct_ok, max_step)
}

/// The engine variant for `key` with `nv` positions per tile.
fn outer_spec(
    g: &ConvGeom,
    src: &SourcePlan,
    key: VariantKey,
    nv: usize,
    packed: bool,
    links: Option<&Vec<u64>>,
) -> OuterSpec {
    let t = g.taps();
    let a = if packed {
        ASide::Packed
    } else {
        let taps = (0..g.kw as i64).map(|q| 4 * q).collect();
        ASide::Direct { row: (g.cin_g() * t * 4) as i64, chan: (t * 4) as i64, tap_row: (4 * g.kw) as i64, taps }
    };
    let grid = ConvGrid {
        rows: (Axis { base: -(g.pt as isize), g_step: g.sh as isize, t_step: 1, taps: g.kh, src: g.h }, g.oh),
        cols: (Axis { base: -(g.pl as isize), g_step: g.sw as isize, t_step: 1, taps: g.kw, src: g.w }, g.ow),
        skip: src.form == SourceForm::Window,
        out_row: (4 * g.ow) as i64,
    };
    conv_spec_of(key, (src, &grid), a, nv, links)
}

/// Scratch floats of one part: dense weights (tables), A panels, the source window.
fn scratch_of(g: &ConvGeom, src: &SourcePlan, blocks: &[Block], packed: bool) -> usize {
    g.dense_weight_len() + panel_len(blocks, g.cin_g() * g.taps(), packed) + src.scratch(g.cin)
}

impl Forward {
    /// The A address of each block: its packed panel in `dst`, or its weight rows.
    fn panels(&self, wm: &[f32], blocks: &[Block], dst: &mut [f32]) -> Vec<i64> {
        let k = self.g.cin_g() * self.g.taps();
        let mut at_panel = 0;
        let mut addrs = Vec::with_capacity(blocks.len());
        for b in blocks {
            let rows = &wm[b.r0 * k..(b.r0 + b.rows) * k];
            if !self.packed {
                addrs.push(rows.as_ptr() as i64);
                continue;
            }
            let len = 4 * b.rows * k;
            let panel = &mut dst[at_panel..at_panel + len];
            pack_broadcast(panel, b.rows, k, |r, kk| rows[r * k + kk]);
            addrs.push(panel.as_ptr() as i64);
            at_panel += len;
        }
        addrs
    }
}

impl Family for Forward {
    unsafe fn run_part(&self, t: &Tiling, ptrs: &[*mut f32], p: &Part, scratch: &mut [f32], _ws: *mut f32) {
        let (g, blocks) = (&self.g, t.blocks_of(p));
        // SAFETY: the ABI promises `ptrs[1]` holds the weights and `ptrs[0]` the n
        // samples of x, `xbs` apart.
        let (w, x) = unsafe { (view(ptrs[1], g.weight_len()), view(ptrs[0], (g.n - 1) * self.xbs + self.x_len)) };
        let (wm, rest) = g.weight_matrix(w, scratch);
        let (panel, srcbuf) = rest.split_at_mut(panel_len(blocks, g.cin_g() * g.taps(), self.packed));
        let a = self.panels(wm, blocks, panel);
        let out = self.out.bind(ptrs);
        for u in p.units.clone() {
            let (src, first, lanes) = self.src.source(x, self.xbs, u, &src_need(g, &self.src, &p.rows), srcbuf);
            for (i, (b, &a)) in blocks.iter().zip(&a).enumerate() {
                let vars = per_block(&self.vars, p.blocks.start + i);
                let a_chan = if self.packed { 16 * g.taps() * b.rows } else { 4 * g.taps() };
                let call = OuterCall {
                    a,
                    b: src + self.src.chan_offset(b.group * g.cin_g()) + p.rows.start as i64 * self.src.b_row,
                    first,
                    off: b.r0 * g.oh * g.ow + p.rows.start * g.ow,
                    bias: if g.bias { at(ptrs[2], b.r0) } else { 0 },
                    nrows: p.rows.len(),
                    row0: (p.rows.start * g.sh) as isize - g.pt as isize,
                };
                // SAFETY: `a` is this block's panel or weight rows, `b` the unit's source
                // at this group and grid row (valid for every compiled offset of every
                // channel block); the output elements are this unit's samples, block
                // channels and part rows, this part's alone.
                unsafe { vars.run(call, (b.rows, lanes), (a_chan as i64, self.src.chan_bytes()), &out) };
            }
        }
    }
}
