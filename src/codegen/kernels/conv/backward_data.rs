//! `ConvBackwardData` (dy, w → dx) on the outer-product engine: tile rows are input
//! channels, k runs over (output channel, tap), B is dy read "backwards".
//!
//! dx[c][ih][iw] = Σ w[o][c][p][q] · dy[o][(ih + pt − p)/sh][(iw + pl − q)/sw] over
//! the taps where the divisions are exact. Split dx by phase (a, b) = (ih + pt) mod
//! sh, (iw + pl) mod sw: the phase's taps are p ≡ a, q ≡ b, and for
//! ih = sh·u + a − pt, p = a + sh·m it reads dy row u − m — a stride-1 correlation
//! over dy, written to every sh-th row and sw-th column of dx (lane-strided stores
//! when sw > 1). Stride 1 has one phase. A phase without taps (a kernel smaller than
//! the stride) gets no products: its elements are zero-filled (overwrite) or left
//! as they are (accumulate) — epilogue(0) is 0 for finite activations.
//!
//! Consumes: the step spec. Produces: a [`CompiledKernel`] whose parts split units
//! and input-channel blocks. Guarantees: dx = old? + epilogue(∂) on the part's
//! elements only; a single padded dy window per unit serves every phase.

use std::sync::Arc;

use super::abi::{check_operands, check_param, view, view_mut};
use super::drive::{
    blocks, compile_per_block, conv_spec_of, k_blocks, panel_len, per_block, store_spec, tiled, Block, ConvGrid,
    Family, OutMap, OuterCall, Tiling, VariantKey, Variants,
};
use super::geometry::ConvGeom;
use super::layout::{GridSteps, Lanes, SourceDims, SourcePlan};
use super::options::ConvOptions;
use super::outer::{ASide, OuterSpec};
use super::pack::pack_broadcast;
use super::phases::{phases, window, Phase};
use super::plan::{grid_parts, outer_tile, want_parts, OuterCosts, Part};
use super::store::StoreSpec;
use super::taps::Axis;
use super::winograd;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::machine::L1_BYTES;
use crate::ir::Conv;
use crate::sched::StepSpec;

/// The `ConvBackwardData` family: how a part runs.
struct BackwardData {
    g: ConvGeom,
    src: SourcePlan,
    dybs: usize,
    dxbs: usize,
    out: OutMap,
    /// A from pre-broadcast panels, or else from the weights transposed per run
    /// into scratch ([`BackwardData::transpose`]).
    packed: bool,
    phases: Vec<Phase>,
    /// Compiled variants per phase (None: the phase has no taps); one such list, or
    /// one per block with a connection table (each block's link masks compiled in).
    vars: Vec<Vec<Option<Variants>>>,
    /// Overwrite (not accumulate) the output: tapless phases are zero-filled.
    zero_fill: bool,
}

pub(super) fn compile(jit: &Jit, spec: &StepSpec, c: &Conv, opts: &ConvOptions) -> Result<Arc<dyn CompiledKernel>> {
    check_operands(spec)?;
    let g = ConvGeom::new(c, &spec.outputs[0].dims, &spec.inputs[0].dims)?.flattened();
    check_param("conv weight", &spec.inputs[1], g.weight_len())?;
    if let Some(t) = winograd::data_gradient(&g) {
        if let Some(m) = winograd::choose(&t, opts) {
            return winograd::compile(jit, spec, (t, winograd::Role::DataGradient), m, opts);
        }
    }
    let phases = phases(&g);
    let widest = phases.iter().map(|p| p.cols).max().unwrap_or(1);
    let k = g.cout_g() * g.taps() / (g.sh * g.sw).max(1);
    let lanes = opts.lanes_or(|| Lanes::choose(g.n, widest, k.max(1)));
    let dims = SourceDims { chans: g.cout, h: g.oh, w: g.ow };
    let steps = GridSteps { row_step: 1, col_step: 1 };
    let src = SourcePlan::new(lanes, dims, g.n, steps, window(&g, &phases, lanes), false, 1);
    let packed = opts.pack(g.n * g.oh * g.ow);
    let costs = OuterCosts {
        direct: !packed,
        store: if lanes == Lanes::Batch || g.sw > 1 { 4.0 } else { 1.0 },
        b_streams: g.cout_g() as i64 * src.chan_bytes() > L1_BYTES,
        a_row_bytes: if packed { 0 } else { (4 * g.cout_g() * g.taps()) as i64 },
    };
    let (mr, nv) = opts.tile_or(g.cin_g(), || outer_tile(g.cin_g(), src.positions(widest), k.max(1), costs));
    let store = store_spec(spec, ((4 * g.h * g.w) as i64, src.out_pos(g.sw)), |bs| src.lane_stride(bs, g.sw), false);
    let partial = if lanes == Lanes::Batch { g.n % 4 } else { 0 };
    let blocks = blocks(g.groups, g.cin_g(), mr);
    let vars = variants(jit, (&g, &src, &phases), (mr, nv, partial, packed), &blocks, (&store, opts))?;
    let zero_fill = !spec.accumulate && vars[0].iter().any(Option::is_none);
    let parts = grid_parts((src.units, blocks.len(), 1), want_parts(g.flops(), opts), false, opts.threads);
    let scratch = |b: &[Block]| {
        g.dense_weight_len()
            + transposed_len(&g, packed)
            + panel_len(b, panel_k(&g, &phases), packed)
            + src.scratch(g.cout)
    };
    let tiling = Tiling::new(blocks, parts, scratch, opts.noting_fma(describe(&g, &src, (mr, nv, packed), &vars[0])));
    let (dybs, dxbs, out) = (spec.inputs[0].batch_stride, spec.outputs[0].batch_stride, OutMap::new(spec));
    Ok(tiled(tiling, BackwardData { g, src, dybs, dxbs, out, packed, phases, vars, zero_fill }))
}

/// Per phase (None without taps) the compiled variants: one list, or with a table
/// one per block with its link masks; `shape` is (tile rows, positions, partial
/// lanes, packed).
fn variants(
    jit: &Jit,
    (g, src, phases): (&ConvGeom, &SourcePlan, &[Phase]),
    (mr, nv, partial, packed): (usize, usize, usize, bool),
    blocks: &[Block],
    (store, opts): (&StoreSpec, &ConvOptions),
) -> Result<Vec<Vec<Option<Variants>>>> {
    let per_phase = |rows: usize, m: usize, links: Option<&Vec<u64>>| -> Result<Vec<Option<Variants>>> {
        let mut vars = Vec::new();
        for ph in phases {
            if ph.taps.is_empty() {
                vars.push(None);
                continue;
            }
            let a_bytes = if packed { 16 * ph.taps.len() * rows } else { 4 * ph.taps.len() };
            let kb = k_blocks(store, g.cout_g(), (a_bytes, src.chan_bytes()), opts.a_block_bytes);
            let make = |key: VariantKey| phase_spec(g, src, ph, key, (nv, packed), links);
            vars.push(Some(Variants::compile(jit, (kb, rows, m), partial, (store, opts), make)?));
        }
        Ok(vars)
    };
    compile_per_block(g, blocks, (mr, g.cin_g(), false), per_phase)
}

fn describe(
    g: &ConvGeom,
    src: &SourcePlan,
    (mr, nv, packed): (usize, usize, bool),
    vars: &[Option<Variants>],
) -> String {
    let nk = vars.iter().flatten().next().map_or(1, |v| v.kb.nk);
    let w = if packed { "packed-w" } else { "direct-w" };
    format!("{}: outer {mr}x{nv} k-blocks {nk} phases {} {} {w}", g.label("conv_bwd_data"), vars.len(), src.describe())
}

/// The engine variant of one phase for `key`, `nv` positions per tile.
fn phase_spec(
    g: &ConvGeom,
    src: &SourcePlan,
    ph: &Phase,
    key: VariantKey,
    (nv, packed): (usize, bool),
    links: Option<&Vec<u64>>,
) -> OuterSpec {
    let t = g.taps();
    let (mh, nw) = ph.grid();
    let (a0, b0) = ph.taps.first().map_or((0, 0), |&(p, q, _, _)| (p, q));
    let a = if packed {
        ASide::Packed
    } else {
        // The transposed weights: input channel c's row of (output channel, tap).
        let taps = (0..nw).map(|n| (4 * (a0 * g.kw + b0 + g.sw * n)) as i64).collect();
        ASide::Direct {
            row: (4 * g.cout_g() * t) as i64,
            chan: (4 * t) as i64,
            tap_row: (4 * g.sh * g.kw) as i64,
            taps,
        }
    };
    let grid = ConvGrid {
        rows: (Axis { base: ph.u0, g_step: 1, t_step: -1, taps: mh, src: g.oh }, ph.rows),
        cols: (Axis { base: ph.v0, g_step: 1, t_step: -1, taps: nw, src: g.ow }, ph.cols),
        skip: true,
        out_row: (4 * g.sh * g.w) as i64,
    };
    conv_spec_of(key, (src, &grid), a, nv, links)
}

/// Scratch floats of the transposed weights ([`BackwardData::transpose`]): none
/// where the weights are packed.
fn transposed_len(g: &ConvGeom, packed: bool) -> usize {
    if packed {
        0
    } else {
        g.cin * g.cout_g() * g.taps()
    }
}

/// k steps of a row block's A panels over all phases.
fn panel_k(g: &ConvGeom, phases: &[Phase]) -> usize {
    g.cout_g() * phases.iter().map(|p| p.taps.len()).sum::<usize>()
}

impl BackwardData {
    /// The rows of `blocks`' input channels of the weight matrix `wm` transposed into
    /// `wt`: input channel c's filters from its group's output channels in a row,
    /// `wt[(c·cout_g + o)·taps + tap]`. Read in place, the engine's k steps (output
    /// channels) were `cin_g·taps` floats apart, a new cache line per step: ResNet-18's
    /// 512@3×3/2 data gradient on 14×14 at batch 8 took 16.1 ms, 13.6 transposed
    /// (`--tune off`, 2-core Intel Xeon).
    fn transpose(&self, wm: &[f32], blocks: &[Block], wt: &mut [f32]) {
        let g = &self.g;
        let (t, cig, cog) = (g.taps(), g.cin_g(), g.cout_g());
        for b in blocks {
            let c_lo = b.r0 - b.group * cig;
            g.filters_by_input(wm, b.group, c_lo..c_lo + b.rows, &mut wt[b.r0 * cog * t..]);
        }
    }

    /// A address per (block, phase): packed panels in `dst`, or the transposed
    /// weights `wt` at the block's first input channel.
    fn panels(&self, (wm, wt): (&[f32], &[f32]), blocks: &[Block], dst: &mut [f32]) -> Vec<Vec<i64>> {
        let g = &self.g;
        let (t, cig, cog) = (g.taps(), g.cin_g(), g.cout_g());
        let mut used = 0;
        let mut out = Vec::with_capacity(blocks.len());
        for b in blocks {
            if !self.packed {
                out.push(vec![wt[b.r0 * cog * t..].as_ptr() as i64; self.phases.len()]);
                continue;
            }
            let first = (b.group * cog * cig + (b.r0 - b.group * cig)) * t;
            let mut per_phase = Vec::new();
            for ph in &self.phases {
                let (tp, len) = (ph.taps.len(), 4 * b.rows * cog * ph.taps.len());
                let panel = &mut dst[used..used + len];
                pack_broadcast(panel, b.rows, cog * tp, |r, k| {
                    let (o, (p, q, _, _)) = (k / tp, ph.taps[k % tp]);
                    wm[first + (o * cig + r) * t + p * g.kw + q]
                });
                per_phase.push(panel.as_ptr() as i64);
                used += len;
            }
            out.push(per_phase);
        }
        out
    }

    /// Zeroes channels `b.r0 ..` of samples `first .. first + count` of dx (whose
    /// tapless phases receive no products: their gradient is exactly zero).
    ///
    /// # Safety
    /// `dx` must be the output operand, and the part must own those elements.
    unsafe fn zero_planes(&self, dx: *mut f32, first: usize, count: usize, b: &Block) {
        let plane = self.g.h * self.g.w;
        for s in first..(first + count).min(self.g.n) {
            // SAFETY: the caller's obligations; the range lies inside sample s.
            unsafe { view_mut(dx.add(s * self.dxbs + b.r0 * plane), b.rows * plane) }.fill(0.0);
        }
    }
}

impl Family for BackwardData {
    unsafe fn run_part(&self, t: &Tiling, ptrs: &[*mut f32], p: &Part, scratch: &mut [f32], _ws: *mut f32) {
        let (g, blocks) = (&self.g, t.blocks_of(p));
        // SAFETY: the ABI promises `ptrs[0]` holds dy (n samples, `dybs` apart) and
        // `ptrs[1]` the weights.
        let (dy, w) = unsafe { (view(ptrs[0], (g.n - 1) * self.dybs + g.y_len()), view(ptrs[1], g.weight_len())) };
        let (wm, rest) = g.weight_matrix(w, scratch);
        let (wt, rest) = rest.split_at_mut(transposed_len(g, self.packed));
        if !self.packed {
            self.transpose(wm, blocks, wt);
        }
        let (panel, srcbuf) = rest.split_at_mut(panel_len(blocks, panel_k(g, &self.phases), self.packed));
        let a = self.panels((wm, wt), blocks, panel);
        let out = self.out.bind(ptrs);
        for u in p.units.clone() {
            let (src, first, lanes) = self.src.source(dy, self.dybs, u, &self.src.need_all(), srcbuf);
            for (bi, (b, a)) in blocks.iter().zip(&a).enumerate() {
                let block_vars = per_block(&self.vars, p.blocks.start + bi);
                if self.zero_fill {
                    // SAFETY: these dx planes (the block's channels of the unit's
                    // samples) are this part's alone, inside the output's span.
                    let samples = if self.src.lanes == Lanes::Batch { lanes } else { 1 };
                    unsafe { self.zero_planes(ptrs[2], first, samples, b) };
                }
                let phases = self.phases.iter().zip(block_vars).enumerate();
                for (i, (ph, vars)) in phases.filter_map(|(i, (ph, v))| v.as_ref().map(|v| (i, (ph, v)))) {
                    let a_chan = if self.packed { 16 * ph.taps.len() * b.rows } else { 4 * g.taps() };
                    let call = OuterCall {
                        a: a[i],
                        b: src + self.src.chan_offset(b.group * g.cout_g()),
                        first,
                        off: b.r0 * g.h * g.w + ph.off,
                        bias: 0,
                        nrows: ph.rows,
                        row0: ph.u0,
                    };
                    // SAFETY: `a` is this block's panel or weights, `b` the unit's dy
                    // window at the block's group (every compiled offset of every
                    // channel block is inside it); the dx elements are this unit's,
                    // block's and phase's, this part's alone.
                    unsafe { vars.run(call, (b.rows, lanes), (a_chan as i64, self.src.chan_bytes()), &out) };
                }
            }
        }
    }
}
