//! `ConvBackwardWeight` of 3×3 stride-1 convolutions by Winograd's transform.
//!
//! The forward tile is `Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A`, linear in g; its
//! transpose gives the filter gradient of one tile from the tile's gradient Ȳ:
//! `∂g = Gᵀ [ (A Ȳ Aᵀ) ⊙ (Bᵀ d B) ] G`. Summed over every tile of the batch, the
//! element-wise product becomes, per transform point ξ, a GEMM over tiles:
//! `M[ξ][o][c] = Σ_tile Ū[ξ][tile][o] · V[ξ][c][tile]`, then `dw[o][c] = Gᵀ M G`.
//! Multiplies per filter tap and pixel: t²/(9m²) of the direct kernel's (1/4 for
//! F(4×4)), plus the transforms.
//!
//! # Structure
//! Two ways to share the work among parts:
//! - **channels** (one phase): parts split the output channels, each summing over the
//!   whole batch, so every part repeats the input transform of every input channel;
//! - **batch slices** (two phases, where one slice's M fits in L2): phase 0 has one
//!   part per slice of the tile rows (the same slices whatever the thread count),
//!   each summing its slice for every output channel into its own M in the kernel's
//!   workspace, so x is transformed once; phase 1 splits the output channels, adds
//!   the slices' M in slice order and folds. ResNet-20's narrow layers spent a fifth
//!   of their weight gradient repeating x's transform (2-core Intel Xeon: transforming
//!   half of x per part, wrong results but the right work, took 204 → 194 ms a step;
//!   the slices: weight gradients 55.8 → 46.2 ms a step, the step 190.1 → 186.6).
//!
//! A part summing tiles (every channels part, a slice part), per chunk of tile rows:
//! 1. the input transform V of every input channel (the forward kernel's JIT
//!    `input`);
//! 2. the transform `Ū = A Ȳ Aᵀ` of its own channels of dy, JIT code with the
//!    lanes over four output channels (stored in place as Ū[ξ][tile][o]; the tiles
//!    in the forward kernel's slot order, tile rows packed on small maps, so that
//!    F(4×4) on 8×8 does not multiply padding: ResNet-20's 64-channel layers at
//!    batch 128, two weight gradients, F(2×2) 9.4 ms, F(4×4) 14.1 unpacked and
//!    7.7 packed, `--tune off`, 2-core Intel Xeon); border
//!    tiles and a last group of fewer than four channels through a zeroed staging
//!    patch, so tiles past the map contribute nothing;
//! 3. t² GEMMs on the outer engine, rows = input channels (A = V in place),
//!    vectors = four output channels (B = Ū), k = the chunk's tiles, the first
//!    chunk writing M and the others adding to it (k-blocks are the chunks);
//!
//! and at the end `Gᵀ M G` (JIT code, [`DwTransform`]) into dw, added or
//! overwriting, and the bias gradient as the direct kernel computes it.

use std::ops::Range;
use std::sync::Arc;

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::dw_transform::DwTransform;
use super::input::InputTransform;
use super::linear::apply;
use super::{
    all_lanes, by_width, chunk_tiles, grid, raw_store, sample_runs, spaced, transform, vector_ranges, Grid, Transform,
    GEMM_UNROLL,
};
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn, Opt};
use crate::codegen::kernels::conv::abi::{at, view, view_mut};
use crate::codegen::kernels::conv::backward_weight::bias_grad;
use crate::codegen::kernels::conv::drive::{
    blocks, gemm_spec_of, tiled, Family, KBlocks, OuterCall, Outputs, Tiling, VariantKey, Variants,
};
use crate::codegen::kernels::conv::emit::addr;
use crate::codegen::kernels::conv::geometry::ConvGeom;
use crate::codegen::kernels::conv::options::ConvOptions;
use crate::codegen::kernels::conv::outer::ASide;
use crate::codegen::kernels::conv::plan::{outer_tile, split_even, want_parts, OuterCosts, Part};
use crate::codegen::kernels::conv::store::OperandMap;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::loops::counted_loop;
use crate::codegen::machine::L2_BYTES;
use crate::codegen::simd::{mem, stack_vectors, V4};
use crate::sched::StepSpec;

/// Most bytes of M per batch slice: a slice's GEMMs read and write all of M for
/// every chunk of tiles, so it must stay in L2 (F(4×4) on 64×64 channels: 590 KB).
const MAX_SLICE_M_BYTES: usize = L2_BYTES as usize;

/// Whether one batch slice's M (every output channel, whole vectors of them, at
/// each of the t² points) fits [`MAX_SLICE_M_BYTES`]: where the kernel, and the cost
/// model's estimate of it, use batch slices unless an option says otherwise.
pub(super) fn slices_fit(g: &ConvGeom, m: usize) -> bool {
    let t = m + 2;
    4 * t * t * spaced(4 * g.cout.div_ceil(4) * g.cin) <= MAX_SLICE_M_BYTES
}

/// The Winograd weight-gradient family: how a part runs. Units are output channels.
struct WinogradWeight {
    g: ConvGeom,
    tf: &'static Transform,
    /// Slots per sample (`grid.slots`), tiles per slot (`grid.tw4`); see [`Grid`].
    grid: Grid,
    /// Tile-row slots per chunk, tiles per chunk.
    rows: usize,
    chunk: usize,
    /// Floats per tile in Ū (the widest part's channels, whole vectors).
    width: usize,
    dybs: usize,
    xbs: usize,
    /// `Gᵀ M G` into dw (added when the kernel accumulates).
    fold: DwTransform,
    /// Batch slices (tile-row slots of phase 0's parts, whose M are workspace slots
    /// `t²·spaced(width·cin)` floats apart); empty when parts split the channels.
    slices: Vec<Range<usize>>,
    /// GEMM variants by part width.
    vars: Vec<(usize, Variants)>,
    input: InputTransform,
    /// The dy transform on the map in place and on the staging patch.
    dy_full: JitFn<3>,
    dy_stage: JitFn<3>,
}

pub(in crate::codegen::kernels::conv) fn compile(
    jit: &Jit,
    spec: &StepSpec,
    g: ConvGeom,
    m: usize,
    opts: &ConvOptions,
) -> Result<Arc<dyn CompiledKernel>> {
    let tf = transform(m);
    let want = want_parts(g.flops(), opts).min(opts.threads.max(1));
    let slicing = want > 1 && opts.batch_slices.unwrap_or(slices_fit(&g, m));
    // The fewest lanes (the last chunk runs only its tiles), but slots enough for
    // a slice per part where batch slices are wanted (a 28² map in one slot at
    // batch 1 would leave one part to transform all of x).
    let grid = {
        let all = all_lanes(&g);
        grid(&g, m, |grid| if slicing && g.n * grid.slots < want { usize::MAX } else { all(grid) })
    };
    // Slots per sample and tiles per slot (see `Grid`).
    let (th, tw4) = (grid.slots, grid.tw4);
    let total_rows = g.n * th;
    let t2 = tf.t * tf.t;
    let sliced = slicing && total_rows > 1;
    // Slices sum every channel; the fold phase splits them like the channels mode.
    let folds = vector_ranges(g.cout, want);
    let ranges = if sliced { std::iter::once(0..g.cout).collect() } else { folds.clone() };
    let width = ranges.iter().map(|r| 4 * r.len().div_ceil(4)).max().unwrap_or(4);
    // At least one tile row.
    let target = chunk_tiles(g.cin, 1024, tf);
    let mut rows = (target / tw4).clamp(1, total_rows);
    if sliced {
        // At least a chunk per slice.
        rows = rows.min(total_rows.div_ceil(want));
    }
    let chunk = rows * tw4;
    let nk = total_rows.div_ceil(rows);
    let last = (total_rows - (nk - 1) * rows) * tw4;
    // Slices run their chunks as first (writing M), middle or last (adding to it,
    // the batch's last chunk `last` tiles): those three variants whatever nk is.
    let kb = KBlocks { kc: chunk, nk: if sliced { 3 } else { nk }, last };
    let costs = OuterCosts { direct: true, store: 4.0, b_streams: false, a_row_bytes: (4 * chunk) as i64 };
    let (mr, nv) = opts.tile_or(g.cin, || outer_tile(g.cin, width / 4, chunk, costs));
    let store =
        raw_store(OperandMap { r_stride: 4, pos_stride: (16 * g.cin) as i64, lane_stride: (4 * g.cin) as i64 }, false);
    let vars = by_width(&ranges, |w| {
        let make = |key: VariantKey| {
            let a = ASide::Direct { row: (4 * chunk) as i64, chan: 4, tap_row: 0, taps: vec![0] };
            gemm_spec_of(key, a, ((4 * width) as i64, vec![0]), (w, nv, false), GEMM_UNROLL)
        };
        Variants::compile(jit, (kb, mr, g.cin), 0, (&store, opts), make)
    })?;
    let input = InputTransform::compile(jit, tf, &g, (4 * spaced(g.cin * chunk)) as i64, (grid, rows))?;
    let u_xi = (4 * spaced(chunk * width)) as i64;
    let dy_full = compile_dy(jit, tf, ((4 * g.oh * g.ow) as i64, (4 * g.ow) as i64), u_xi, width)?;
    let dy_stage = compile_dy(jit, tf, ((4 * m * m) as i64, (4 * m) as i64), u_xi, width)?;
    let fold = DwTransform::compile(jit, tf, g.cin, (4 * spaced(width * g.cin)) as i64, spec.accumulate)?;
    // V and Ū of a chunk, M (in scratch when parts split the channels), the staging.
    let m_scratch = if sliced { 0 } else { t2 * spaced(width * g.cin) };
    let scratch = t2 * (spaced(g.cin * chunk) + spaced(chunk * width)) + m_scratch + input.stage_len() + 4 * m * m;
    let packed = if grid.pack > 1 { format!(" {}-row-slots", grid.pack) } else { String::new() };
    // Whole chunks per slice, so that a slice's chunks are the variants' sizes.
    let slices: Vec<Range<usize>> = if sliced {
        split_even(nk, want).into_iter().map(|c| c.start * rows..(c.end * rows).min(total_rows)).collect()
    } else {
        Vec::new()
    };
    let split = if sliced { format!(" batch-slices {}", slices.len()) } else { String::new() };
    let desc = format!(
        "{}: winograd F({m}x{m},3x3) gemm outer {mr}x{nv} chunk {chunk} tiles{packed}{split}",
        g.label("conv_bwd_weight")
    );
    let part = |units: Range<usize>, rows: Range<usize>| Part { units, blocks: 0..0, rows };
    let mut parts: Vec<Part> = Vec::new();
    if sliced {
        parts.extend(slices.iter().map(|r| part(0..g.cout, r.clone())));
        parts.extend(folds.into_iter().map(|units| part(units, 0..0)));
    } else {
        parts.extend(ranges.into_iter().map(|units| part(units, 0..total_rows)));
    }
    let mut tiling = Tiling::new(Vec::new(), parts, |_| scratch, opts.noting_fma(desc));
    if sliced {
        let ends = vec![slices.len(), tiling.parts.len()];
        tiling = tiling.in_phases(ends, slices.len() * t2 * spaced(width * g.cin));
    }
    let (dybs, xbs) = (spec.inputs[0].batch_stride, spec.inputs[1].batch_stride);
    let family =
        WinogradWeight { g, tf, grid, rows, chunk, width, dybs, xbs, fold, slices, vars, input, dy_full, dy_stage };
    Ok(tiled(tiling, family))
}

/// `fn(dy, u, ntiles)`: for `ntiles` horizontally adjacent m×m tiles of dy (four
/// channels `plane` bytes apart, rows `row` bytes apart; the next tile 4m bytes on),
/// Ū[ξ] = (A Ȳ Aᵀ)[ξ] as four channels at `u + ξ·xi_bytes` (the next tile `width`
/// floats on).
fn compile_dy(
    jit: &Jit,
    tf: &'static Transform,
    (plane, row): (i64, i64),
    xi_bytes: i64,
    width: usize,
) -> Result<JitFn<3>> {
    let (m, t) = (tf.m, tf.t);
    // Column a of Aᵀ: the coefficients of A's row a.
    let a_rows: Vec<Vec<f32>> = (0..t).map(|a| (0..m).map(|j| tf.at[j][a]).collect()).collect();
    jit.compile_opt("wino_dy", Opt::Speed, |b, [dy, u, ntiles], features| {
        let fma = features.has_fma;
        // A Ȳ's rows, m×t vectors, between the two passes (as the output transform).
        let tmp_at = stack_vectors(b, m * t);
        counted_loop(b, ntiles, 1, &[dy, u], |b, _, st| {
            let mut v = V4::new(b, fma);
            for i in 0..m {
                // y[j]: the four channels' values at tile pixel (i, j); for F(4×4) a
                // transpose of the channels' rows (4 loads instead of 16 lane inserts),
                // for F(6×6) of their pixels 0–3 and 2–5 (rows 2 and 3 of the second).
                let mut pixels = |j0: usize| {
                    let rows = [0, 1, 2, 3].map(|l| {
                        let (p, imm) = addr(&mut v, st[0], i as i64 * row + l * plane + 4 * j0 as i64);
                        v.load(p, imm)
                    });
                    v.transpose4(rows)
                };
                let y: Vec<Value> = match m {
                    4 => pixels(0).to_vec(),
                    6 => {
                        let (lo, hi) = (pixels(0), pixels(2));
                        lo.into_iter().chain([hi[2], hi[3]]).collect()
                    }
                    _ => (0..m).map(|j| gather4(&mut v, st[0], i as i64 * row + 4 * j as i64, plane)).collect(),
                };
                // tmp[i][b] = Σ_j A[b][j]·y[i][j].
                for (bcol, x) in apply(&mut v, &a_rows, &y).into_iter().enumerate() {
                    v.store(x, tmp_at, (16 * (i * t + bcol)) as i32);
                }
            }
            // Ū[a][b] = Σ_i A[a][i]·tmp[i][b].
            for bcol in 0..t {
                let col: Vec<Value> = (0..m).map(|i| v.load(tmp_at, (16 * (i * t + bcol)) as i32)).collect();
                for (a, x) in apply(&mut v, &a_rows, &col).into_iter().enumerate() {
                    let (p, imm) = addr(&mut v, st[1], (a * t + bcol) as i64 * xi_bytes);
                    v.store(x, p, imm);
                }
            }
            Ok(vec![v.offset(st[0], 4 * m as i64), v.offset(st[1], 4 * width as i64)])
        })?;
        b.ins().return_(&[]);
        Ok(())
    })
}

/// The floats at `base + off + l·plane` for l = 0..4, as one vector.
fn gather4(v: &mut V4, base: Value, off: i64, plane: i64) -> Value {
    let lane = |v: &mut V4, l: i64| {
        let (p, imm) = addr(v, base, off + l * plane);
        v.b.ins().load(types::F32, mem(), p, imm)
    };
    let s0 = lane(v, 0);
    let mut x = v.b.ins().scalar_to_vector(types::F32X4, s0);
    for l in 1..4 {
        let s = lane(v, l);
        x = v.b.ins().insertlane(x, s, l as u8);
    }
    x
}

impl WinogradWeight {
    /// Ū of tile row `tr` of sample `n` for the part's channels `co` into `u` (the
    /// slot's first tile).
    ///
    /// # Safety
    /// `u` is valid for `ntiles` tiles of `width` floats at every transform point.
    /// Tiles past the map (a tile row below it included) get Ū = 0.
    unsafe fn dy_row(
        &self,
        dy: &[f32],
        (n, tr, ntiles): (usize, usize, usize),
        co: &Range<usize>,
        u: *mut f32,
        stage: &mut [f32],
    ) {
        let (g, m) = (&self.g, self.tf.m);
        let plane = g.oh * g.ow;
        let r0 = tr * m;
        let rows_in = r0 + m <= g.oh;
        for o in co.clone().step_by(4) {
            let lanes = (co.end - o).min(4);
            let u = u.wrapping_add(o - co.start);
            // Tiles inside the map with four channels run in place.
            let full = if rows_in && lanes == 4 { g.ow / m } else { 0 };
            if full > 0 {
                let src = &dy[n * self.dybs + o * plane + r0 * g.ow..];
                debug_assert!(3 * plane + (m - 1) * g.ow + full * m <= src.len());
                // SAFETY: four channel planes hold rows r0 .. r0 + m, columns 0 ..
                // full·m; u as the caller promises.
                unsafe { self.dy_full.call([src.as_ptr() as i64, u as i64, full as i64]) };
            }
            for q in full..ntiles {
                let patch = &mut stage[..4 * m * m];
                patch.fill(0.0);
                let (c0, nr) = (q * m, m.min(g.oh.saturating_sub(r0)));
                let nc = m.min(g.ow.saturating_sub(c0));
                for l in (0..lanes).filter(|_| nc > 0) {
                    for i in 0..nr {
                        let from = &dy[n * self.dybs + (o + l) * plane + (r0 + i) * g.ow + c0..][..nc];
                        patch[l * m * m + i * m..][..nc].copy_from_slice(from);
                    }
                }
                // SAFETY: the patch holds four m×m planes; u as the caller promises.
                unsafe { self.dy_stage.call([patch.as_ptr() as i64, u.wrapping_add(q * self.width) as i64, 1]) };
            }
        }
    }
}

impl WinogradWeight {
    /// M[ξ] = Σ over the tiles of slots `rows` of Ū[ξ]ᵀ-by-V[ξ] for output channels
    /// `co` (GEMM variants `vars`), written to `mbuf` (t² planes `spaced(width·cin)`
    /// floats apart) by the first chunk and added to by the others.
    ///
    /// # Safety
    /// `ptrs` as the kernel ABI promises; `mbuf` valid for those planes; `scratch`
    /// holds V, Ū and the staging areas (the compiled scratch less M).
    unsafe fn sum_tiles(
        &self,
        (ptrs, vars): (&[*mut f32], &Variants),
        co: &Range<usize>,
        rows: Range<usize>,
        mbuf: *mut f32,
        scratch: &mut [f32],
    ) {
        let (g, t2) = (&self.g, self.tf.t * self.tf.t);
        // SAFETY: the ABI promises dy and x hold n samples at their batch strides.
        let (dy, x) = unsafe {
            (view(ptrs[0], (g.n - 1) * self.dybs + g.y_len()), view(ptrs[1], (g.n - 1) * self.xbs + g.x_len()))
        };
        let (vs, us, ms) = (spaced(g.cin * self.chunk), spaced(self.chunk * self.width), spaced(self.width * g.cin));
        let (v, rest) = scratch.split_at_mut(t2 * vs);
        let (u, rest) = rest.split_at_mut(t2 * us);
        let (in_stage, dy_stage) = rest.split_at_mut(self.input.stage_len());
        let mut in_stage = self.input.staging(in_stage);
        let mb = Outputs::scratch(mbuf);
        let (va, ua) = (v.as_ptr(), u.as_ptr());
        let blocks = blocks(1, g.cin, vars.mr);
        let in_plane = g.h * g.w;
        for (j, u0) in rows.clone().step_by(self.rows).enumerate() {
            let slots = self.rows.min(rows.end - u0);
            let k = self.variant(j, u0 + slots == g.n * self.grid.slots, slots);
            if j == 0 && k != 0 {
                // A slice's first chunk that adds (the batch's short last one): M from 0.
                // SAFETY: mbuf holds t² planes of `ms` floats (the caller's promise).
                unsafe { std::slice::from_raw_parts_mut(mbuf, t2 * ms) }.fill(0.0);
            }
            for (s0, n, trs) in sample_runs(u0..u0 + slots, self.grid.slots) {
                for c in 0..g.cin {
                    let src = &x[n * self.xbs + c * in_plane..][..in_plane];
                    let at = v[c * self.chunk + s0 * self.grid.tw4..].as_mut_ptr();
                    // SAFETY: V[ξ] holds the chunk's tiles of channel c at ξ·vs floats.
                    unsafe { self.input.rows(src, trs.clone(), at, &mut in_stage) };
                }
            }
            for s in 0..slots {
                let (n, sl) = ((u0 + s) / self.grid.slots, (u0 + s) % self.grid.slots);
                // A slot's tile rows, one after the other (one row unpacked).
                let (pack, per_row) = (self.grid.pack, self.grid.row_tiles());
                for k in 0..pack {
                    let at = u[(s * self.grid.tw4 + k * per_row) * self.width..].as_mut_ptr();
                    // SAFETY: Ū[ξ] holds the chunk's tiles, `width` floats each; the
                    // slot's row k takes `per_row` of its tiles.
                    unsafe { self.dy_row(dy, (n, sl * pack + k, per_row), co, at, dy_stage) };
                }
                // A packed slot's lanes past its tiles are padding: Ū = 0 there, so
                // that they add nothing (their V is some tile's, finite).
                for j in pack * per_row..self.grid.tw4 {
                    for xi in 0..t2 {
                        u[xi * us + (s * self.grid.tw4 + j) * self.width..][..self.width].fill(0.0);
                    }
                }
            }
            for xi in 0..t2 {
                for b in &blocks {
                    let Some(f) = vars.get(k, b.rows, 4) else { continue };
                    let call = OuterCall {
                        a: at(va, xi * vs + b.r0 * self.chunk),
                        b: at(ua, xi * us),
                        first: 0,
                        off: xi * ms + b.r0,
                        bias: 0,
                        nrows: 1,
                        row0: 0,
                    };
                    // SAFETY: A reads rows b of V[ξ] (the chunk's tiles), B the chunk
                    // of Ū[ξ], the output rows b of M[ξ] (written by the first chunk,
                    // added to by the others): inside scratch and mbuf.
                    unsafe { call.call(f, &mb) };
                }
            }
        }
    }

    /// Which variant runs chunk `j` of a part's rows (`batch_end`: the batch's last
    /// chunk, of `slots` slots): its index among the chunks when parts sum the whole
    /// batch; for a slice, first (k = 0, writing M), middle or last (adding; a slice
    /// that is only the batch's short last chunk starts adding to a zeroed M).
    fn variant(&self, j: usize, batch_end: bool, slots: usize) -> usize {
        if self.slices.is_empty() {
            return j;
        }
        match (j, batch_end) {
            (0, true) if slots < self.rows => 2,
            (0, _) => 0,
            (_, false) => 1,
            (_, true) => 2,
        }
    }

    /// `Gᵀ M G` of output channels `co` into dw, and their bias gradient; `m` is
    /// the M row of channel `co.start` in the first transform point.
    ///
    /// # Safety
    /// As [`Self::sum_tiles`]; `m` holds M's rows of `co` at every transform point.
    unsafe fn finish(&self, ptrs: &[*mut f32], co: &Range<usize>, m: *const f32) {
        let g = &self.g;
        let row = g.cin * 9;
        // SAFETY: the part owns dw rows `co` and db entries `co`.
        let dw = unsafe { view_mut(ptrs[2].add(co.start * row), co.len() * row) };
        // Folded at the end, not block by block in the last chunk while M's rows
        // are in cache: that order reads Ū[ξ] from L2 for every block instead of
        // L1, and measured slower (ResNet-18's 512-channel weight gradient, F(4×4):
        // 26.9 against 17.8 ms for two layers).
        // SAFETY: M holds rows `co` at every transform point; dw their filters.
        unsafe { self.fold.run(m, dw.as_mut_ptr(), co.len()) };
        if g.bias {
            // SAFETY: as above; dy as the ABI promises.
            let (db, dy) = unsafe {
                (view_mut(ptrs[3].add(co.start), co.len()), view(ptrs[0], (g.n - 1) * self.dybs + g.y_len()))
            };
            bias_grad(g, dy, self.dybs, co.start, db);
        }
    }
}

impl Family for WinogradWeight {
    unsafe fn run_part(&self, _t: &Tiling, ptrs: &[*mut f32], p: &Part, scratch: &mut [f32], ws: *mut f32) {
        let (g, t2) = (&self.g, self.tf.t * self.tf.t);
        let co = &p.units;
        let ms = spaced(self.width * g.cin);
        if self.slices.is_empty() {
            let Some((_, vars)) = self.vars.iter().find(|(w, _)| *w == co.len()) else { return };
            let (rest, mbuf) = scratch.split_at_mut(scratch.len() - t2 * ms);
            // SAFETY: the caller's obligations; M in this part's scratch.
            unsafe {
                self.sum_tiles((ptrs, vars), co, p.rows.clone(), mbuf.as_mut_ptr(), rest);
                self.finish(ptrs, co, mbuf.as_ptr());
            }
            return;
        }
        let slot = t2 * ms;
        if let Some(s) = self.slices.iter().position(|r| *r == p.rows) {
            // Phase 0: slice s of the batch, every channel, into workspace slot s.
            let (_, vars) = &self.vars[0];
            // SAFETY: the workspace holds one M per slice, each part writing its own.
            unsafe { self.sum_tiles((ptrs, vars), co, p.rows.clone(), ws.add(s * slot), scratch) };
            return;
        }
        // Phase 1 (fold parts have no rows): the slices' M of channels `co`, added up
        // in slice order into slot 0, then folded. Rows `co` of every plane are this
        // part's alone.
        let (lo, len) = (co.start * g.cin, co.len() * g.cin);
        for xi in 0..t2 {
            // SAFETY: every slice's M was written by phase 0; the ranges are disjoint
            // (slot s ≥ 1 versus slot 0) and inside the workspace.
            let sum = unsafe { std::slice::from_raw_parts_mut(ws.add(xi * ms + lo), len) };
            for s in 1..self.slices.len() {
                let part = unsafe { std::slice::from_raw_parts(ws.add(s * slot + xi * ms + lo), len) };
                sum.iter_mut().zip(part).for_each(|(a, b)| *a += b);
            }
        }
        // SAFETY: slot 0 now holds the whole batch's M.
        unsafe { self.finish(ptrs, co, ws.add(lo)) };
    }
}
