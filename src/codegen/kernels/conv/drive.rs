//! The one driver of the tiled kernels: every convolution and dense kernel is a
//! [`Tiling`] (row blocks, parts, scratch, description) plus a [`Family`] that says
//! how one part maps its problem onto engine calls; [`tiled`] turns the pair into
//! the [`CompiledKernel`].
//!
//! Consumes: the step spec (outputs, extras, epilogue), a family's plan (blocks of
//! tile rows, parts, compiled [`Variants`]) and, per call, the A and B addresses and
//! the output's (sample, element) position ([`OuterCall`]).
//! Produces: [`Block`]s of tile rows, the [`StoreSpec`] of a kernel, the split of
//! the channels into L1-sized blocks ([`KBlocks`]) with one compiled [`Variants`]
//! entry per (phase, edge rows, partial lanes), [`Variants::run`], which calls every
//! channel block of one row block, and [`OuterCall::call`], which turns element
//! offsets into the engine's pointer arguments through the step's [`OutMap`].
//! Guarantees: extras get exactly the output's element offset within their own
//! samples (same per-sample shape), each with its own batch stride; channel blocks
//! compose to the unsplit result (bias first, epilogue last, partial sums added
//! before it); a part runs only what its family's `run_part` does for it, so the
//! kernel ABI's disjointness is the family's [`Part`] split.
//!
//! A kernel family provides: its plan (a [`Tiling`] built from `plan`'s tile and part
//! choices), the [`OuterSpec`] or dot spec of each variant (its address map: bytes
//! per row, channel, tap and position on the A, B and output sides), and
//! [`Family::run_part`], which prepares a part's A and B in scratch and issues the
//! calls.

use std::sync::Arc;

use super::abi::{at, MAX_EXTRAS};
use super::geometry::ConvGeom;
use super::layout::{Lanes, SourcePlan};
use super::options::ConvOptions;
use super::outer::{compile_outer, ASide, OuterSpec, TapGrid};
use super::plan::{streamed_chans, Part};
use super::store::{OperandMap, StoreSpec};
use super::taps::{col_classes, Axis, RowTiling};
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn};
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::machine::MIN_SKIPPED_TAPS;
use crate::sched::StepSpec;

/// A block of tile rows inside one group: rows `r0 .. r0 + rows` (absolute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Block {
    pub group: usize,
    pub r0: usize,
    pub rows: usize,
}

/// Blocks of `mr` rows over `groups` groups of `m` rows (the last of each shorter).
pub(super) fn blocks(groups: usize, m: usize, mr: usize) -> Vec<Block> {
    (0..groups)
        .flat_map(|group| (0..m).step_by(mr).map(move |r| Block { group, r0: group * m + r, rows: mr.min(m - r) }))
        .collect()
}

/// Floats of the pre-broadcast A panels of `blocks`, `k` steps each (none when A is
/// read in place).
pub(super) fn panel_len(blocks: &[Block], k: usize, packed: bool) -> usize {
    if packed {
        blocks.iter().map(|b| 4 * b.rows * k).sum()
    } else {
        0
    }
}

/// The store spec of output 0 and the extras: `r_stride` bytes between tile rows,
/// `pos_stride` between positions, lanes `lane(batch_stride)` bytes apart.
pub(super) fn store_spec(
    spec: &StepSpec,
    (r_stride, pos_stride): (i64, i64),
    lane: impl Fn(usize) -> i64,
    bias: bool,
) -> StoreSpec {
    let map = |bs: usize| OperandMap { r_stride, pos_stride, lane_stride: lane(bs) };
    StoreSpec {
        out: map(spec.outputs[0].batch_stride),
        extras: spec.extra.iter().map(|e| map(e.batch_stride)).collect(),
        bias,
        epilogue: spec.epilogue.clone(),
        accumulate: spec.accumulate,
        partial: false,
    }
}

/// Where output 0 and the extras sit in the ABI's pointer array, with their batch
/// strides (fixed at compile time).
pub(super) struct OutMap {
    y: usize,
    ybs: usize,
    extras: usize,
    ebs: Vec<usize>,
}

impl OutMap {
    pub fn new(spec: &StepSpec) -> OutMap {
        let (y, extras) = (spec.inputs.len(), spec.inputs.len() + spec.outputs.len());
        OutMap {
            y,
            ybs: spec.outputs[0].batch_stride,
            extras,
            ebs: spec.extra.iter().map(|e| e.batch_stride).collect(),
        }
    }

    /// The run-time operands of one call of the kernel.
    pub fn bind<'a>(&'a self, ptrs: &'a [*mut f32]) -> Outputs<'a> {
        Outputs {
            y: ptrs[self.y],
            ybs: self.ybs,
            extras: &ptrs[self.extras..self.extras + self.ebs.len()],
            ebs: &self.ebs,
        }
    }
}

/// The run-time operands of output 0 and the extras, with their batch strides.
pub(super) struct Outputs<'a> {
    y: *mut f32,
    ybs: usize,
    extras: &'a [*mut f32],
    ebs: &'a [usize],
}

impl Outputs<'static> {
    /// A scratch matrix as the output (one sample, no extras): families that store
    /// raw engine results before a transform of their own (`winograd`).
    pub fn scratch(y: *mut f32) -> Outputs<'static> {
        Outputs { y, ybs: 0, extras: &[], ebs: &[] }
    }
}

/// One call of an outer-engine function.
#[derive(Debug, Clone, Copy)]
pub(super) struct OuterCall {
    /// A panel or matrix, and the B source, as addresses.
    pub a: i64,
    pub b: i64,
    /// First sample of the unit, and the element offset of grid (row 0, position 0)
    /// of tile row 0 inside a sample.
    pub first: usize,
    pub off: usize,
    /// Bias address at tile row 0 (0 without bias).
    pub bias: i64,
    pub nrows: usize,
    /// Source row of grid row 0 (for run-time tap-row bounds).
    pub row0: isize,
}

impl OuterCall {
    /// Calls `f`.
    ///
    /// # Safety
    /// `a` and `b` must be valid for every offset `f` was compiled with, and the
    /// output and extras, at sample `first` and element `off`, for every element the
    /// compiled grid covers in `nrows` rows; nothing else may write those elements.
    pub unsafe fn call(&self, f: &JitFn<7>, o: &Outputs) {
        let mut ex = [0i64; MAX_EXTRAS];
        for (k, e) in o.extras.iter().enumerate() {
            ex[k] = at(*e, self.first * o.ebs[k] + self.off);
        }
        let y = at(o.y, self.first * o.ybs + self.off);
        // SAFETY: the caller's obligations above; `ex` outlives the call.
        unsafe { f.call([self.a, self.b, y, self.bias, ex.as_ptr() as i64, self.nrows as i64, self.row0 as i64]) };
    }
}

/// Where a channel block sits in the k loop: decides bias, accumulation and epilogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Phase {
    Only,
    First,
    Middle,
    Last,
}

/// The k space split into `nk` blocks of `kc` channels (the last one `last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KBlocks {
    pub kc: usize,
    pub nk: usize,
    pub last: usize,
}

impl KBlocks {
    /// `chans` channels in as few blocks of at most `kc_max` as possible, of equal
    /// size except a shorter last one.
    pub fn new(chans: usize, kc_max: usize) -> KBlocks {
        let nk = chans.div_ceil(kc_max.max(1)).max(1);
        let kc = chans.div_ceil(nk);
        KBlocks { kc, nk, last: chans - (nk - 1) * kc }
    }

    /// The phase of block `k`.
    pub fn phase(&self, k: usize) -> Phase {
        match (k, self.nk) {
            (_, 1) => Phase::Only,
            (0, _) => Phase::First,
            (k, n) if k + 1 == n => Phase::Last,
            _ => Phase::Middle,
        }
    }

    /// The distinct phases and their channel counts.
    pub fn phases(&self) -> Vec<(Phase, usize)> {
        match self.nk {
            1 => vec![(Phase::Only, self.kc)],
            2 => vec![(Phase::First, self.kc), (Phase::Last, self.last)],
            _ => vec![(Phase::First, self.kc), (Phase::Middle, self.kc), (Phase::Last, self.last)],
        }
    }
}

/// The store of a channel block: bias and the step's accumulation with the first
/// block, the epilogue with the last; later blocks add the earlier partial sums
/// before their epilogue.
pub(super) fn phase_store(st: &StoreSpec, ph: Phase) -> StoreSpec {
    let first = matches!(ph, Phase::Only | Phase::First);
    let last = matches!(ph, Phase::Only | Phase::Last);
    StoreSpec {
        bias: st.bias && first,
        epilogue: if last { st.epilogue.clone() } else { Vec::new() },
        accumulate: st.accumulate && first,
        partial: !first,
        ..st.clone()
    }
}

/// Channels per block so that the A panel of one block (`a_bytes` per channel)
/// stays within `budget` and the block reads no more source channels (`chan_bytes`
/// apart) side by side than the prefetchers follow ([`streamed_chans`]); with both
/// an epilogue and accumulation the partial sums would clobber the old values, so
/// the k space is not split then.
pub(super) fn k_blocks(st: &StoreSpec, chans: usize, (a_bytes, chan_bytes): (usize, i64), budget: usize) -> KBlocks {
    if st.accumulate && !st.epilogue.is_empty() {
        return KBlocks::new(chans, chans);
    }
    KBlocks::new(chans, (budget / a_bytes.max(1)).max(1).min(streamed_chans(chans, chan_bytes)))
}

/// The compiled variants of one outer-engine kernel, by channel-block phase, edge
/// rows and partial lanes.
pub(super) struct Variants {
    pub kb: KBlocks,
    pub mr: usize,
    fns: Vec<((Phase, bool, bool), JitFn<7>)>,
}

/// What differs between variants: tile rows, real lanes, channels, store.
pub(super) struct VariantKey {
    pub rows: usize,
    pub lanes: usize,
    pub chans: usize,
    pub store: StoreSpec,
}

impl Variants {
    /// Compiles every variant a kernel over `m` tile rows needs: full and edge row
    /// blocks, full lanes and (if `partial_lanes` > 0) a partial group, every phase;
    /// multiply-adds fused as `opts` say.
    pub fn compile(
        jit: &Jit,
        (kb, mr, m): (KBlocks, usize, usize),
        partial_lanes: usize,
        (st, opts): (&StoreSpec, &ConvOptions),
        make: impl Fn(VariantKey) -> OuterSpec,
    ) -> Result<Variants> {
        let mut fns = Vec::new();
        for (edge, rows) in [(false, mr.min(m)), (true, m % mr)] {
            if rows == 0 || (!edge && m < mr) {
                continue;
            }
            for (partial, lanes) in [(false, 4), (true, partial_lanes)] {
                if partial && lanes == 0 {
                    continue;
                }
                for (ph, chans) in kb.phases() {
                    let key = VariantKey { rows, lanes, chans, store: phase_store(st, ph) };
                    let spec = OuterSpec { fused: opts.fused, ..make(key) };
                    fns.push(((ph, edge, partial), compile_outer(jit, &spec)?));
                }
            }
        }
        Ok(Variants { kb, mr, fns })
    }

    /// The variant for channel block `k` of a block of `rows` rows with `lanes` lanes.
    pub fn get(&self, k: usize, rows: usize, lanes: usize) -> Option<&JitFn<7>> {
        let key = (self.kb.phase(k), rows < self.mr, lanes < 4);
        self.fns.iter().find(|(k, _)| *k == key).map(|(_, f)| f)
    }

    /// Calls every channel block of one row block of `rows` rows and `lanes` real
    /// lanes: block k is `call` with A and B advanced by its first channel times
    /// `chan_bytes` (A, B).
    ///
    /// # Safety
    /// As [`OuterCall::call`], for every channel block.
    pub unsafe fn run(&self, call: OuterCall, (rows, lanes): (usize, usize), chan_bytes: (i64, i64), o: &Outputs) {
        for k in 0..self.kb.nk {
            let Some(f) = self.get(k, rows, lanes) else { continue };
            let c0 = (k * self.kb.kc) as i64;
            let call = OuterCall { a: call.a + c0 * chan_bytes.0, b: call.b + c0 * chan_bytes.1, ..call };
            // SAFETY: the caller's obligations, for channel block k.
            unsafe { call.call(f, o) };
        }
    }
}

/// The variant `key` of a GEMM on the outer engine: one grid row of `cols` columns
/// of C (four lanes per position, `nv` positions per tile; `partial_b`: read only
/// the real lanes of the last B vector); k is `key.chans` steps (`unroll` per loop
/// iteration), each `b_chan` bytes further in B, with one tap row of tap columns at
/// `b_taps` bytes; no row bounds, no links.
pub(super) fn gemm_spec_of(
    key: VariantKey,
    a: ASide,
    (b_chan, b_taps): (i64, Vec<i64>),
    (cols, nv, partial_b): (usize, usize, bool),
    unroll: usize,
) -> OuterSpec {
    let positions = cols.div_ceil(4);
    let tiling = RowTiling { positions, width: 4, last_lanes: cols - 4 * (positions - 1), nv, lanes: 4, partial_b };
    let every = Axis { base: 0, g_step: 0, t_step: 0, taps: b_taps.len(), src: 1 };
    OuterSpec {
        mr: key.rows,
        a,
        chans: key.chans,
        unroll,
        b_chan,
        classes: col_classes(&every, &tiling, false),
        taps: TapGrid { rows: 1, b_row: 0, b: b_taps },
        bounds: None,
        b_pos: 16,
        b_stride: 1,
        b_row: 0,
        out_row: 0,
        lanes: 4,
        store: key.store,
        links: None,
        fused: false,
    }
}

/// The grid of a convolution-shaped variant: the source rows and columns its taps
/// read per grid position ([`Axis`]) and the grid's rows and columns; with `skip`,
/// taps that read only padding are skipped (run-time tap-row bounds where the
/// skipped rows hold enough taps, [`MIN_SKIPPED_TAPS`]; tap columns per tile) and B is a prepared window, else B is
/// read in place (only the real lanes of a partial last vector). `out_row`: bytes
/// between output grid rows.
pub(super) struct ConvGrid {
    pub rows: (Axis, usize),
    pub cols: (Axis, usize),
    pub skip: bool,
    pub out_row: i64,
}

/// The variant `key` of a convolution-shaped kernel reading B from `src` over
/// `grid` with `nv` positions per tile (and a connection table's `links`).
pub(super) fn conv_spec_of(
    key: VariantKey,
    (src, grid): (&SourcePlan, &ConvGrid),
    a: ASide,
    nv: usize,
    links: Option<&Vec<u64>>,
) -> OuterSpec {
    let ((row, rows), (col, cols)) = (&grid.rows, &grid.cols);
    let tap = |m: usize, n: usize| src.tap(row.base + m as isize * row.t_step, col.base + n as isize * col.t_step);
    let taps = TapGrid { rows: row.taps, b_row: tap(1, 0) - tap(0, 0), b: (0..col.taps).map(|n| tap(0, n)).collect() };
    let (spatial, positions) = (src.lanes == Lanes::Spatial, src.positions(*cols));
    let tiling = RowTiling {
        positions,
        width: if spatial { 4 } else { 1 },
        last_lanes: if spatial { cols - 4 * (positions - 1) } else { key.lanes },
        nv,
        lanes: key.lanes,
        partial_b: !grid.skip,
    };
    OuterSpec {
        mr: key.rows,
        a,
        chans: key.chans,
        unroll: (8 / (row.taps * col.taps).max(1)).clamp(1, key.chans),
        b_chan: src.chan_bytes(),
        taps,
        bounds: if grid.skip { row.bounds(*rows, col.taps, MIN_SKIPPED_TAPS) } else { None },
        classes: col_classes(col, &tiling, grid.skip),
        b_pos: src.b_pos,
        b_stride: src.b_stride,
        b_row: src.b_row,
        out_row: grid.out_row,
        lanes: key.lanes,
        store: key.store,
        links: links.cloned(),
        fused: false,
    }
}

/// A convolution family's compiled variants: one set for every row block
/// (`make(mr, m, None)` over `m` tile rows), or, with a connection table, one set per
/// block with its link masks compiled in (`make(rows, rows, links)`); the rows are
/// outputs (`rows_are_outputs`) or inputs. [`per_block`] picks a block's set.
pub(super) fn compile_per_block<V>(
    g: &ConvGeom,
    blocks: &[Block],
    (mr, m, rows_are_outputs): (usize, usize, bool),
    make: impl Fn(usize, usize, Option<&Vec<u64>>) -> Result<V>,
) -> Result<Vec<V>> {
    if g.table.is_none() {
        return Ok(vec![make(mr, m, None)?]);
    }
    blocks.iter().map(|b| make(b.rows, b.rows, Some(&g.block_links(b.r0..b.r0 + b.rows, rows_are_outputs)))).collect()
}

/// The variants of row block `block` from [`compile_per_block`]'s sets.
pub(super) fn per_block<V>(sets: &[V], block: usize) -> &V {
    &sets[if sets.len() == 1 { 0 } else { block }]
}

/// The family-independent plan of a tiled kernel.
pub(super) struct Tiling {
    /// Blocks of tile rows, and the parts (ranges over units, blocks, grid rows).
    pub blocks: Vec<Block>,
    pub parts: Vec<Part>,
    /// Scratch floats of the most demanding part.
    pub scratch: usize,
    /// What `describe()` says.
    pub desc: String,
    /// Where each phase's parts end in `parts` (one phase: `[parts.len()]`).
    pub phase_ends: Vec<usize>,
    /// Floats of workspace one launch shares among its parts.
    pub workspace: usize,
}

impl Tiling {
    /// A tiling of one phase whose parts need `scratch(their blocks)` floats.
    pub fn new(blocks: Vec<Block>, parts: Vec<Part>, scratch: impl Fn(&[Block]) -> usize, desc: String) -> Tiling {
        let scratch = parts.iter().map(|p| scratch(&blocks[p.blocks.clone()])).max().unwrap_or(0);
        let phase_ends = vec![parts.len()];
        Tiling { blocks, parts, scratch, desc, phase_ends, workspace: 0 }
    }

    /// The tiling with its parts in phases ending at `ends` (increasing, the last
    /// `parts.len()`), sharing `workspace` floats.
    pub fn in_phases(self, ends: Vec<usize>, workspace: usize) -> Tiling {
        debug_assert!(ends.windows(2).all(|w| w[0] < w[1]) && ends.last() == Some(&self.parts.len()));
        Tiling { phase_ends: ends, workspace, ..self }
    }

    /// The row blocks of part `p`.
    pub fn blocks_of(&self, p: &Part) -> &[Block] {
        &self.blocks[p.blocks.clone()]
    }
}

/// What a kernel family adds to its [`Tiling`]: how one part runs.
pub(super) trait Family: Send + Sync + 'static {
    /// Runs part `p` of `t`.
    ///
    /// # Safety
    /// The obligations of [`CompiledKernel::run`]; `p` is one of `t.parts`,
    /// `scratch` holds at least `t.scratch` floats and `ws` `t.workspace`.
    unsafe fn run_part(&self, t: &Tiling, ptrs: &[*mut f32], p: &Part, scratch: &mut [f32], ws: *mut f32);
}

/// A compiled tiled kernel: a tiling and its family.
struct Tiled<F> {
    tiling: Tiling,
    family: F,
}

/// The compiled kernel of `family` over `tiling`.
pub(super) fn tiled<F: Family>(tiling: Tiling, family: F) -> Arc<dyn CompiledKernel> {
    Arc::new(Tiled { tiling, family })
}

impl<F: Family> CompiledKernel for Tiled<F> {
    fn parts(&self) -> usize {
        self.tiling.parts.len()
    }

    fn scratch_len(&self) -> usize {
        self.tiling.scratch
    }

    fn phases(&self) -> usize {
        self.tiling.phase_ends.len()
    }

    fn phase_parts(&self, phase: usize) -> std::ops::Range<usize> {
        let ends = &self.tiling.phase_ends;
        let start = if phase == 0 { 0 } else { ends[phase - 1] };
        start..ends[phase]
    }

    fn workspace_len(&self) -> usize {
        self.tiling.workspace
    }

    unsafe fn run(&self, ptrs: &[*mut f32], part: usize, scratch: &mut [f32], ws: *mut f32) {
        // SAFETY: the caller's obligations; `part < parts()`.
        unsafe { self.family.run_part(&self.tiling, ptrs, &self.tiling.parts[part], scratch, ws) }
    }

    fn describe(&self) -> String {
        self.tiling.desc.clone()
    }
}
