//! `ConvBackwardWeight` (dy, x → dw, [db]) on the dot engine: tile rows are output
//! channels (A = dy), reduction targets are (input channel, tap) pairs (B = x as the
//! forward convolution reads it), k runs over every output position of the batch.
//!
//! Consumes: the step spec. Produces: a [`CompiledKernel`] whose parts split the
//! output channels (each part sums over the whole batch), or, for small filters
//! without a table over at least eight units, batch slices: eight parts each sum
//! every channel over their units into a workspace slot, and a second phase adds the
//! slots in slice order (the slices do not depend on the thread count). Batch slices
//! keep each thread on the samples the kernels before it wrote (the pool's claiming
//! order), where a channel split has both threads read the whole batch: LeNet
//! training 2.049 → 1.992 ms (2-core Intel Xeon, interleaved). Guarantees: dw rows
//! are `old? + Σ` over the batch in a fixed order (db rows are `Σ`); with a connection
//! table the dense gradient is computed in scratch and each link row receives its
//! pair's gradient.
//!
//! Units (samples or groups of four) whose sources are prepared in scratch are
//! processed in chunks of a bounded size; the sums of a chunk are added into dw.

use std::ops::Range;
use std::sync::Arc;

use super::abi::{check_no_epilogue, check_operands, check_param, view, view_mut};
use super::dot::{compile_dot, DotSpec, Entry};
use super::drive::{blocks, tiled, Block, Family, Tiling};
use super::forward;
use super::geometry::ConvGeom;
use super::layout::{Lanes, SourceForm, SourcePlan};
use super::options::ConvOptions;
use super::pack::{prepare_batch, Planes, Window};
use super::plan::{dot_tile, grid_parts, split_even, want_parts, Part};
use super::pointwise;
use super::winograd;
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn};
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::machine::CHUNK_FLOATS;
use crate::ir::Conv;
use crate::sched::StepSpec;

/// The `ConvBackwardWeight` family (dot engine): how a part runs.
struct BackwardWeight {
    g: ConvGeom,
    src: SourcePlan,
    dybs: usize,
    xbs: usize,
    accumulate: bool,
    mr: usize,
    /// Variants by edge rows.
    fns: [Option<JitFn<4>>; 2],
    /// Units per call, and floats per unit of the prepared x and dy in scratch.
    chunk: usize,
    x_unit: usize,
    dy_unit: usize,
    /// Batch slices (units of phase 0's parts, each summing every channel into its
    /// workspace slot); empty: parts split the output channels.
    slices: Vec<Range<usize>>,
}

/// Batch slices: this many, the same for every thread count (the sums' order depends
/// on them), where the filters' gradient and bias take at most [`SLICE_MAX_FLOATS`].
const SLICES: usize = 8;
const SLICE_MAX_FLOATS: usize = 4 << 10;

/// The units' slices where small filters are summed by slices of the batch: parts
/// split by output channels each read every sample's dy and x, though the kernels
/// before them (and the pool's claiming order) leave each thread its own half of the
/// batch; by slices each thread sums the samples it already holds, and a second phase
/// adds the few slot floats up.
fn batch_slices(g: &ConvGeom, units: usize) -> Vec<Range<usize>> {
    let small = g.table.is_none() && slot_len(g) <= SLICE_MAX_FLOATS;
    if small && units >= SLICES {
        split_even(units, SLICES)
    } else {
        Vec::new()
    }
}

pub(super) fn compile(jit: &Jit, spec: &StepSpec, c: &Conv, opts: &ConvOptions) -> Result<Arc<dyn CompiledKernel>> {
    check_operands(spec)?;
    check_no_epilogue(spec)?;
    // `new` checks dy's dims against the output size the layer gives for x.
    let g = ConvGeom::new(c, &spec.inputs[1].dims, &spec.inputs[0].dims)?.flattened();
    check_param("conv weight gradient", &spec.outputs[0], g.weight_len())?;
    if c.bias {
        check_param("conv bias gradient", &spec.outputs[1], g.cout)?;
    }
    if pointwise::applies(&g) {
        return pointwise::compile(jit, g, spec, opts);
    }
    if let Some(m) = winograd::choose_weight_grad(&g, opts) {
        return winograd::weight_grad::compile(jit, spec, g, m, opts);
    }
    let lanes = opts.lanes_or(|| Lanes::choose_dot(g.n, g.ow));
    let src = forward::source_plan(&g, lanes, 2);
    let t = g.taps();
    let uc = (4 / t).clamp(1, g.cin_g());
    let want = part_count(&g, &src, opts);
    // At least two row blocks when there is work for two parts (parts split output
    // channels only), even at a slightly worse tile.
    let mr_max = g.cout_g().div_ceil(want.min(opts.threads).div_ceil(g.groups)).max(1);
    let threads = if g.groups == 1 { want.min(opts.threads) } else { 1 };
    let k = g.oh * src.positions(g.ow) * src.units;
    let (mr, ns) = opts.tile_or(mr_max.min(g.cout_g()), || dot_tile(g.cout_g(), mr_max, uc * t, k, threads));
    let blocks = blocks(g.groups, g.cout_g(), mr);
    let slices = batch_slices(&g, src.units);
    let parts = if slices.is_empty() {
        grid_parts((1, blocks.len(), 1), want, false, opts.threads)
    } else {
        // Phase 0: a part per slice over every channel; phase 1 (no units): the sums.
        let all = 0..blocks.len();
        let sums = grid_parts((1, blocks.len(), 1), opts.threads, false, opts.threads);
        let fold = sums.into_iter().map(|p| Part { units: 0..0, ..p });
        slices.iter().map(|u| Part { units: u.clone(), blocks: all.clone(), rows: 0..1 }).chain(fold).collect()
    };
    let max_oc = parts.iter().map(|p| blocks[p.blocks.clone()].iter().map(|b| b.rows).sum()).max().unwrap_or(0);
    let (dybs, xbs) = (spec.inputs[0].batch_stride, spec.inputs[1].batch_stride);
    let x_unit = src.scratch(g.cin);
    let dy_unit = if lanes == Lanes::Batch { 4 * max_oc * g.oh * g.ow } else { 0 };
    let chunk = match src.form {
        SourceForm::Direct => src.units,
        SourceForm::Window => (CHUNK_FLOATS / (x_unit + dy_unit).max(1)).clamp(1, src.units),
    };
    // Bytes between units in A (dy) and B (x): in place, or prepared in scratch.
    let a_unit = 4 * if lanes == Lanes::Batch { dy_unit } else { dybs } as i64;
    let b_unit = 4 * if src.form == SourceForm::Direct { xbs } else { x_unit } as i64;
    let mut fns: [Option<JitFn<4>>; 2] = Default::default();
    for (e, rows) in [(0, mr.min(g.cout_g())), (1, g.cout_g() % mr)] {
        if rows > 0 && (e == 1 || g.cout_g() >= mr) {
            fns[e] = Some(compile_dot(
                jit,
                &DotSpec { fused: opts.fused, ..dot_spec(&g, &src, (rows, ns, uc), (a_unit, b_unit)) },
            )?);
        }
    }
    let scratch = g.dense_weight_len() + chunk * (x_unit + dy_unit);
    let split = if slices.is_empty() { String::new() } else { format!(" batch-slices {}", slices.len()) };
    let desc = format!("{}: dot {mr}x{ns} {} chunk {chunk}{split}", g.label("conv_bwd_weight"), src.describe());
    let accumulate = spec.accumulate;
    let mut tiling = Tiling::new(blocks, parts, |_| scratch, opts.noting_fma(desc));
    if !slices.is_empty() {
        let ends = vec![slices.len(), tiling.parts.len()];
        tiling = tiling.in_phases(ends, slices.len() * slot_len(&g));
    }
    Ok(tiled(tiling, BackwardWeight { g, src, dybs, xbs, accumulate, mr, fns, chunk, x_unit, dy_unit, slices }))
}

/// Floats of one slice's workspace slot: the filter gradient (no table), then the bias's.
fn slot_len(g: &ConvGeom) -> usize {
    g.weight_len() + g.cout
}

/// Parts for the weight gradient: by work, but each part prepares the whole input
/// (every output channel reads every input channel), so no more parts than keep that
/// copy under ~10% of the part's arithmetic (at least two when there is work for two).
fn part_count(g: &ConvGeom, src: &SourcePlan, opts: &ConvOptions) -> usize {
    let want = want_parts(g.flops(), opts);
    let prep = (src.units * src.scratch(g.cin)) as f64;
    if prep == 0.0 {
        return want;
    }
    let floor = if g.flops() >= 2.0 * opts.min_part_flops { 2 } else { 1 };
    let cap = (g.flops() / (300.0 * prep)) as usize;
    want.min(cap.max(floor))
}

/// The engine variant: (tile rows, entries per block, input channels per iteration),
/// with `units` bytes between units in A (dy) and B (x).
fn dot_spec(g: &ConvGeom, src: &SourcePlan, (rows, ns, uc): (usize, usize, usize), units: (i64, i64)) -> DotSpec {
    let t = g.taps();
    let tap = |k: usize| src.tap((k / g.kw) as isize - g.pt as isize, (k % g.kw) as isize - g.pl as isize);
    let entries = |chans: usize| -> Vec<Vec<Entry>> {
        let all: Vec<Entry> = (0..chans)
            .flat_map(|u| (0..t).map(move |k| (u, k)))
            .map(|(u, k)| Entry { b_off: u as i64 * src.chan_bytes() + tap(k), dw_off: (4 * (u * t + k)) as i64 })
            .collect();
        all.chunks(ns).map(<[Entry]>::to_vec).collect()
    };
    let spatial = src.lanes == Lanes::Spatial;
    // dy: in place (spatial) or interleaved by four samples (batch).
    let lane_floats = if spatial { 1 } else { 4 };
    let full = if spatial { g.ow / 4 } else { g.ow };
    DotSpec {
        mr: rows,
        a_r: (4 * lane_floats * g.oh * g.ow) as i64,
        dw_r: (4 * g.cin_g() * t) as i64,
        iters: g.cin_g() / uc,
        b_iter: uc as i64 * src.chan_bytes(),
        dw_iter: (4 * uc * t) as i64,
        blocks: entries(uc),
        rem_blocks: entries(g.cin_g() % uc),
        rows: g.oh,
        a_row: (4 * lane_floats * g.ow) as i64,
        b_row: src.b_row,
        full,
        // Up to eight positions per iteration of the innermost loop (rows of up to eight
        // run straight through): two a step, as before, left a loop of three or four
        // iterations per grid row on LeNet-sized maps (2-core Intel Xeon, interleaved:
        // LeNet training 2.208 → 2.173 ms, a 512@3×3/2 training pair 38.4 → 37.7 ms).
        chunk: full.clamp(1, 8),
        tail: if spatial { g.ow % 4 } else { 0 },
        a_pos: 16,
        b_pos: src.b_pos,
        b_stride: src.b_stride,
        partial_b: src.form == SourceForm::Direct,
        fused: false,
        a_unit: units.0,
        b_unit: units.1,
    }
}

/// Output channels of a part's row blocks: (first, count).
fn channels(blocks: &[Block]) -> (usize, usize) {
    (blocks.first().map_or(0, |b| b.r0), blocks.iter().map(|b| b.rows).sum())
}

impl BackwardWeight {
    /// Adds the sums over units `us` of the channels of `blocks` into `dw` (dense rows
    /// starting at their first channel).
    fn chunk(&self, us: Range<usize>, (dy, x): (&[f32], &[f32]), dw: &mut [f32], blocks: &[Block], buf: &mut [f32]) {
        let g = &self.g;
        let (o0, oc) = channels(blocks);
        let (xbuf, dybuf) = buf.split_at_mut(us.len() * self.x_unit);
        let b0 = match self.src.form {
            SourceForm::Direct => x[us.start * self.xbs..].as_ptr() as i64,
            SourceForm::Window => {
                let need = self.src.need_all();
                for (i, u) in us.clone().enumerate() {
                    self.src.source(x, self.xbs, u, &need, &mut xbuf[i * self.x_unit..(i + 1) * self.x_unit]);
                }
                xbuf.as_ptr() as i64
            }
        };
        let (a0, lane_floats) = match self.src.lanes {
            Lanes::Spatial => (dy[us.start * self.dybs + o0 * g.oh * g.ow..].as_ptr() as i64, 1),
            Lanes::Batch => {
                for (i, u) in us.clone().enumerate() {
                    self.dy4(dy, u, (o0, oc), &mut dybuf[i * self.dy_unit..(i + 1) * self.dy_unit]);
                }
                (dybuf.as_ptr() as i64, 4)
            }
        };
        for b in blocks {
            let Some(f) = &self.fns[usize::from(b.rows < self.mr)] else { continue };
            let row = b.r0 - o0;
            let args = [
                a0 + (4 * lane_floats * row * g.oh * g.ow) as i64,
                b0 + self.src.chan_offset(b.group * g.cin_g()),
                dw[row * g.cin_g() * g.taps()..].as_ptr() as i64,
                us.len() as i64,
            ];
            // SAFETY: A and B hold `us.len()` units at the unit strides the function
            // was compiled with (dy and x in place, or the buffers just prepared),
            // each valid for every compiled offset; `dw` is the block's dense rows
            // inside the part's exclusive slice.
            unsafe { f.call(args) };
        }
    }

    /// Adds the sums over `units` (in chunks of `self.chunk` units) of the channels of
    /// `blocks` into `dw` (dense rows from their first channel).
    fn sum_units(&self, units: Range<usize>, src: (&[f32], &[f32]), dw: &mut [f32], blocks: &[Block], buf: &mut [f32]) {
        for start in units.clone().step_by(self.chunk) {
            let us = start..(start + self.chunk).min(units.end);
            self.chunk(us, src, dw, blocks, buf);
        }
    }

    /// A part of the batch-slice split: phase 0 sums the slice's units (every channel)
    /// into its workspace slot; phase 1 (parts without units) adds the slots, in slice
    /// order, into dw and db rows of the part's channels.
    ///
    /// # Safety
    /// As [`Family::run_part`], with `ws` holding `slices.len() · slot_len` floats.
    unsafe fn run_sliced(
        &self,
        t: &Tiling,
        ptrs: &[*mut f32],
        p: &Part,
        (dy, x): (&[f32], &[f32]),
        bufs: (&mut [f32], *mut f32),
    ) {
        let g = &self.g;
        let ((scratch, ws), slot, dense) = (bufs, slot_len(g), g.weight_len());
        if let Some(s) = self.slices.iter().position(|r| *r == p.units) {
            // SAFETY: slot s is this part's alone during phase 0.
            let sums = unsafe { view_mut(ws.add(s * slot), slot) };
            sums.fill(0.0);
            let (dw, db) = sums.split_at_mut(dense);
            self.sum_units(p.units.clone(), (dy, x), dw, t.blocks_of(p), &mut scratch[g.dense_weight_len()..]);
            // The bias too, per slice: summed over the whole batch in phase 1 (as the
            // channel split does) it cost LeNet's step 1.999 → 2.033 ms (2-core Intel
            // Xeon, interleaved), the same cross-core reads the slices avoid.
            if g.bias {
                let per = if self.src.lanes == Lanes::Batch { 4 } else { 1 };
                let samples = (per * p.units.start).min(g.n)..(per * p.units.end).min(g.n);
                bias_grad_of(g, dy, self.dybs, (0, samples), db);
            }
            return;
        }
        let (o0, oc) = channels(t.blocks_of(p));
        let row = g.cin_g() * g.taps();
        // Slot 0 takes the sum of this part's floats, slice by slice over contiguous
        // floats (each float still adds the slices in order); only the first output (dw)
        // accumulates, db is overwritten.
        let add = |out: &mut [f32], at: usize, accumulate: bool| {
            // SAFETY: phase 0 has finished; this part alone writes floats `at ..` of
            // slot 0 (its channels) and reads the same floats of the other slots.
            let sum = unsafe { view_mut(ws.add(at), out.len()) };
            for s in 1..self.slices.len() {
                let other = unsafe { view(ws.add(s * slot + at), out.len()) };
                for (a, b) in sum.iter_mut().zip(other) {
                    *a += b;
                }
            }
            for (o, a) in out.iter_mut().zip(sum.iter()) {
                *o = if accumulate { *o + a } else { *a };
            }
        };
        // SAFETY: this part alone writes the dw rows and db entries of its channels.
        add(unsafe { view_mut(ptrs[2].add(o0 * row), oc * row) }, o0 * row, self.accumulate);
        if g.bias {
            add(unsafe { view_mut(ptrs[3].add(o0), oc) }, dense + o0, false);
        }
    }

    /// Interleaves channels `o0 .. o0 + oc` of the four samples of group `u`.
    fn dy4(&self, dy: &[f32], u: usize, (o0, oc): (usize, usize), dst: &mut [f32]) {
        let g = &self.g;
        let plane = g.oh * g.ow;
        let lanes = (g.n - 4 * u).min(4);
        let planes = std::array::from_fn(|l| {
            (l < lanes).then(|| {
                let at = (4 * u + l) * self.dybs + o0 * plane;
                Planes { data: &dy[at..at + oc * plane], chans: oc, h: g.oh, w: g.ow, plane }
            })
        });
        let win = Window { r_lo: 0, rows: g.oh, c_lo: 0, cols: g.ow, phases: 1 };
        prepare_batch(&planes, &win, dst);
    }

    /// Copies (or adds) the dense gradient of the part's channels into the link rows.
    fn gather(&self, dense: &[f32], dw: &mut [f32], (o0, oc): (usize, usize), first_link: usize) {
        let (t, cin) = (self.g.taps(), self.g.cin);
        for (i, (o, c)) in self.g.table_links().into_iter().enumerate().filter(|(_, (o, _))| (o0..o0 + oc).contains(o))
        {
            let src = &dense[((o - o0) * cin + c) * t..][..t];
            let dst = &mut dw[(i - first_link) * t..][..t];
            for (d, s) in dst.iter_mut().zip(src) {
                *d = if self.accumulate { *d + s } else { *s };
            }
        }
    }
}

/// db[o] = Σ dy[n][o] over samples and pixels, for channels `o0 .. o0 + db.len()`
/// (dy samples `dybs` apart).
pub(super) fn bias_grad(g: &ConvGeom, dy: &[f32], dybs: usize, o0: usize, db: &mut [f32]) {
    bias_grad_of(g, dy, dybs, (o0, 0..g.n), db);
}

/// [`bias_grad`] over samples `ns` only.
fn bias_grad_of(g: &ConvGeom, dy: &[f32], dybs: usize, (o0, ns): (usize, Range<usize>), db: &mut [f32]) {
    let plane = g.oh * g.ow;
    for (i, d) in db.iter_mut().enumerate() {
        *d = ns.clone().map(|n| lanes_sum(&dy[n * dybs + (o0 + i) * plane..][..plane])).sum();
    }
}

/// Sum of a slice in f32 with eight interleaved partial sums (vectorisable, fixed order).
fn lanes_sum(v: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut it = v.chunks_exact(8);
    for c in it.by_ref() {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let tail: f32 = it.remainder().iter().sum();
    acc.iter().sum::<f32>() + tail
}

impl Family for BackwardWeight {
    unsafe fn run_part(&self, t: &Tiling, ptrs: &[*mut f32], p: &Part, scratch: &mut [f32], ws: *mut f32) {
        let (g, blocks) = (&self.g, t.blocks_of(p));
        // SAFETY: the ABI promises dy and x hold n samples at their batch strides.
        let (dy, x) = unsafe {
            (view(ptrs[0], (g.n - 1) * self.dybs + g.y_len()), view(ptrs[1], (g.n - 1) * self.xbs + g.x_len()))
        };
        if !self.slices.is_empty() {
            // SAFETY: the caller's obligations, and the workspace of `slot_len` floats per slice.
            unsafe { self.run_sliced(t, ptrs, p, (dy, x), (scratch, ws)) };
            return;
        }
        let (o0, oc) = channels(blocks);
        let row = g.cin_g() * g.taps();
        let (dense, buf) = scratch.split_at_mut(g.dense_weight_len());
        let links: Vec<(usize, usize)> = g.table_links();
        let first_link = links.iter().take_while(|(o, _)| *o < o0).count();
        let count = links.iter().filter(|(o, _)| (o0..o0 + oc).contains(o)).count();
        // SAFETY: the part owns dw rows of its channels (link rows with a table) and
        // db entries `o0 .. o0 + oc`; no other part touches them.
        let out = unsafe {
            match g.table {
                Some(_) => view_mut(ptrs[2].add(first_link * g.taps()), count * g.taps()),
                None => view_mut(ptrs[2].add(o0 * row), oc * row),
            }
        };
        let sums: &mut [f32] = if g.table.is_some() { &mut dense[..oc * row] } else { &mut *out };
        if g.table.is_some() || !self.accumulate {
            sums.fill(0.0);
        }
        self.sum_units(0..self.src.units, (dy, x), sums, blocks, buf);
        if g.table.is_some() {
            self.gather(dense, out, (o0, oc), first_link);
        }
        if g.bias {
            // SAFETY: as above, the part owns these db entries.
            let db = unsafe { view_mut(ptrs[3].add(o0), oc) };
            bias_grad(g, dy, self.dybs, o0, db);
        }
    }
}
