//! `Conv` of 3×3, stride-1, single-group convolutions by Winograd's minimal
//! filtering: F(2×2,3×3) (4×4 tiles, 16 transform points), F(4×4,3×3) (6×6
//! tiles, 36 points), with the matrices of Lavin & Gray, "Fast Algorithms for
//! Convolutional Neural Networks", CVPR 2016 (points 0, ±1, ±2, ∞ for F(4×4)), and
//! F(6×6,3×3) (8×8 tiles, 64 points: 0, ±1, ±2, ±1/2, ∞).
//!
//! Per output tile of m×m pixels, with d the (m+2)×(m+2) input patch and g one 3×3
//! filter: `Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A`. Summed over input channels, the
//! element-wise product becomes, for each of the t² transform points ξ, a GEMM
//! `M[ξ] = U[ξ] · V[ξ]` with U[ξ] = Cout×Cin (transformed weights) and V[ξ] =
//! Cin×tiles (transformed input): 9m²/t² fewer multiplies than direct convolution
//! (2.25× for F(2×2), 4× for F(4×4), 5.06× for F(6×6)), paid for with three transforms.
//!
//! # Structure (a family on the shared driver)
//! Parts split the output channels (each part transforms only its own channels'
//! weights, every part the whole input) or, when the cost model says the weights
//! are the cheaper to repeat, the tile rows (over samples).
//! A part runs:
//! 1. weight transform `U = G g Gᵀ` of its channels into scratch, per run (weights
//!    change every training step), JIT code on four input channels per vector
//!    (`weights`), layout [ξ][out channel][in channel]; where a part has one chunk
//!    of small V, one row block at a time right before its GEMMs instead
//!    (`weights-by-block` in the description, see `Winograd::block_weights`);
//! 2. per chunk of tile rows (across samples, a chunk's V sized for L2, a part's
//!    rows cut into chunks of equal size since the GEMMs run whole chunks): the input
//!    transform `V = Bᵀ d B`, JIT code on four tiles per vector (`input`; zero
//!    padding by a staging patch at the borders, or on narrow maps a zero-bordered
//!    band of rows per channel), layout [ξ][in channel][tile],
//!    each tile row padded to a multiple of four tiles (the vector lanes); where a
//!    tile row has at most two tiles, two or four tile rows share one slot of four
//!    ([`Grid`]; `2-row-slots` in the description). F(4×4) on a 7×7 or 8×8 map has
//!    2×2 tiles, which as rows of two left half of every vector on padding; packed,
//!    it does 44% fewer multiplications than F(2×2) there. Measured (2-core Intel
//!    Xeon, `--tune off`, forced F(4×4) against F(2×2)): 512@3×3 on 7×7 at batch 1
//!    1.86 against 2.22 ms; ResNet-20's 64-channel layers on 8×8 at batch 128
//!    forward 6.2 against 11.9 ms (two layers), data gradient 2.9 against 6.0 (one).
//!    On maps of whole F(4×4) tiles whose rows do not fill vectors (28², 56²) a slot
//!    holds several tile rows and groups straddle rows (`7-row-slots`; see [`Grid`]):
//!    two 512-channel layers on 28×28 24.4 → 22.2 ms, two 256-channel ones on 56×56
//!    23.3 → 20.3 (batch 1, tuned, fresh tables);
//! 3. t² GEMMs on the outer-product engine (`drive::gemm_spec_of`, as `pointwise`):
//!    rows = output channels (A = U in place), vectors = four tiles, k = input
//!    channels; raw results into scratch M, layout [ξ][out channel][tile];
//! 4. a JIT output function (`output`) per (output channel, tile row): `Aᵀ M A` on vectors of
//!    four tiles, a lane transpose so each vector is four adjacent output pixels,
//!    bias, then the shared store stage (`store::store_vecs`, i.e. the one epilogue
//!    `act::epilogue_n`, extras, accumulation). Groups of four tiles that reach past
//!    the map's right or bottom edge go through a small staging buffer (the old
//!    output and the extras copied in, the valid pixels copied back), so the JIT
//!    function has one shape.
//!
//! All transforms apply their small matrices (Bᵀ, Aᵀ, A, G) through `linear`, which
//! computes shared sums once (F(4×4)'s Bᵀ in 12 operations per column instead of
//! 22), and go through memory between their two passes (V itself, or a stack buffer)
//! instead of keeping t² vectors live: with 16 xmm registers Cranelift spilled
//! them, 267 stack loads and stores per group of the F(4×4) input transform. Both
//! together (2-core Intel Xeon): ResNet-20 training 227.9 → 218.9 ms, VGG-16 at
//! batch 1 133.3 → 130.5.
//!
//! # Accuracy
//! The transforms reorder and scale the sums, so results are not the direct
//! kernel's bit for bit. Measured against the f64 reference (tests/jit_winograd.rs,
//! inputs and weights uniform in [−1, 1]), the error before the epilogue relative to
//! the largest reference magnitude Σ|x·w| of the output was at most 1.3e-7
//! (F(2×2)), 2.2e-6 (F(4×4)) and 4.0e-6 (F(6×6)) over 150 random shapes each (with
//! the factored transforms of `linear`; 1.5e-7 and 3.0e-6 before); the test bounds
//! are 2e-6, 4e-5 and 5e-5 of that norm (plus the direct kernels' per-element
//! bound). The zoo's kernel-variant test (1e-4 of the largest output) passes unchanged.
//!
//! # Selection
//! [`applies`] (3×3, stride 1, one group, no connection table), then
//! `ConvOptions::winograd` (off, on, or the cost model [`choose`]; the engine reads
//! it from `--winograd`, see `kernels::dispatch`). The model (constants below,
//! fitted on the 2-core target) estimates the GEMMs at the direct kernel's
//! efficiency plus each transform's measured cost per float, and takes Winograd
//! only when that is 20% below the direct estimate. In practice: large maps win
//! (VGG-16's 224–28-pixel layers 1.8–2.5× at batch 1), small maps lose at batch 1
//! (the transformed weights, 16 or 36 floats per 3×3 filter, are written and
//! streamed back every run; at 7×7 that costs more than the multiplies saved) and
//! few input channels (an RGB first layer) lose to the scratch round trip of M.
//!
//! # Roles
//! The same kernel computes the data gradient of a 3×3 stride-1 convolution
//! ([`data_gradient`], [`Role`]): a convolution over dy with the filters rotated
//! and transposed, which only the weight transform needs to know. The weight
//! gradient is its own family (`weight_grad`), sharing the matrices, the JIT input
//! transform and the cost model's constants ([`choose_weight_grad`]). Measured
//! errors, as above: data gradient 1.5e-7 (F(2×2)), 3.1e-6 (F(4×4)) and 4.6e-6
//! (F(6×6)), weight gradient 1.6e-7, 1.35e-6 and 3.0e-6 of the largest Σ|dy·x| (the
//! batch slices sum in another order than the channel split: 1.5e-7 and 1.3e-6 before).
//!
//! # F(6×6)
//! Its 6-pixel tiles are never packed several rows to a vector (a tile row does not
//! end on a vector boundary), so maps whose tile count is not near a multiple of four
//! multiply padding (28 pixels: 5 tiles in 8 lanes, more GEMM work than F(4×4)'s 7
//! in 8). Measured (2-core Intel Xeon, forced, `--tune off`, VGG-16's layers at batch
//! 1, F(6×6) against F(4×4)): 0.97× on 128@112², 1.05× on 64@224², 1.03× on 256@56²,
//! 1.5× on 512@28², 1.6× on 512@14²; with `fma` and tuned tiles it wins the 224- and
//! 112-pixel layers, which is where the tuner and the model put it.
//!
//! # Not done yet
//! The chunk size is a rule (about 128 KiB of V per transform point), not a tuner
//! knob: after equal chunks, the best of 32–1024 tiles measured 0–5% faster than the
//! rule's (2-core Intel Xeon, five layer shapes). The GEMM tile comes
//! from the direct-A model (usually 12×1) unless the autotuner (`codegen::tune`)
//! measured a better one; the weight transform is redone every run, also in
//! inference. Keeping each inference step's U between runs was built and measured
//! (2-core Intel Xeon, batch 1): single layers gained 7–28%, but whole nets nothing
//! (VGG-16 155.9 → 156.4 ms, ResNet-50 90.6 → 91.8, Inception-v3 125.4 → 123.0)
//! for 251, 87 and 40 MiB more memory: a kept U (16/9–4× the weights) comes back
//! from DRAM, which costs what the transform did; so it was not kept.

use std::ops::Range;
use std::sync::Arc;

use super::abi::{at, view, MAX_EXTRAS};
use super::drive::{
    blocks, gemm_spec_of, tiled, Block, Family, KBlocks, OuterCall, Outputs, Tiling, VariantKey, Variants,
};
use super::geometry::ConvGeom;
use super::options::ConvOptions;
use super::outer::ASide;
use super::plan::{outer_tile, split_even, want_parts, OuterCosts, Part};
use super::store::{OperandMap, StoreSpec};
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn};
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::machine::{L1_BYTES, L2_BYTES};
use crate::sched::StepSpec;

mod cost;
mod dw_transform;
mod grid;
mod input;
mod linear;
mod output;
pub(super) mod weight_grad;
mod weights;

use cost::estimate;
pub(super) use cost::{choose, choose_weight_grad};
use grid::{all_lanes, grid, sample_runs, Grid};
use input::InputTransform;
use output::compile_output;
use weights::WeightTransform;

/// The matrices of F(m×m, 3×3): Bᵀ (t×t), G (t×3), Aᵀ (m×t), t = m + 2.
struct Transform {
    m: usize,
    t: usize,
    bt: &'static [&'static [f32]],
    g: &'static [&'static [f32]],
    at: &'static [&'static [f32]],
}

const F2: Transform = Transform {
    m: 2,
    t: 4,
    bt: &[&[1.0, 0.0, -1.0, 0.0], &[0.0, 1.0, 1.0, 0.0], &[0.0, -1.0, 1.0, 0.0], &[0.0, 1.0, 0.0, -1.0]],
    g: &[&[1.0, 0.0, 0.0], &[0.5, 0.5, 0.5], &[0.5, -0.5, 0.5], &[0.0, 0.0, 1.0]],
    at: &[&[1.0, 1.0, 1.0, 0.0], &[0.0, 1.0, -1.0, -1.0]],
};

const F4: Transform = Transform {
    m: 4,
    t: 6,
    bt: &[
        &[4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
        &[0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
        &[0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
        &[0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
        &[0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
        &[0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
    ],
    g: &[
        &[1.0 / 4.0, 0.0, 0.0],
        &[-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
        &[-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        &[1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
        &[1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
        &[0.0, 0.0, 1.0],
    ],
    at: &[
        &[1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
        &[0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
        &[0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
        &[0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
    ],
};

/// F(6×6,3×3) with the points 0, ±1, ±2, ±1/2, ∞ (the set NNPACK uses): 64
/// points for 36 outputs, 1.78 multiplies per output and input channel against
/// F(4×4)'s 2.25, at a larger rounding error (see "Accuracy"). Checked against
/// direct correlation in f64 by the tests below.
const F6: Transform = Transform {
    m: 6,
    t: 8,
    bt: &[
        &[1.0, 0.0, -21.0 / 4.0, 0.0, 21.0 / 4.0, 0.0, -1.0, 0.0],
        &[0.0, 1.0, 1.0, -17.0 / 4.0, -17.0 / 4.0, 1.0, 1.0, 0.0],
        &[0.0, -1.0, 1.0, 17.0 / 4.0, -17.0 / 4.0, -1.0, 1.0, 0.0],
        &[0.0, 0.5, 0.25, -5.0 / 2.0, -5.0 / 4.0, 2.0, 1.0, 0.0],
        &[0.0, -0.5, 0.25, 5.0 / 2.0, -5.0 / 4.0, -2.0, 1.0, 0.0],
        &[0.0, 2.0, 4.0, -5.0 / 2.0, -5.0, 0.5, 1.0, 0.0],
        &[0.0, -2.0, 4.0, 5.0 / 2.0, -5.0, -0.5, 1.0, 0.0],
        &[0.0, -1.0, 0.0, 21.0 / 4.0, 0.0, -21.0 / 4.0, 0.0, 1.0],
    ],
    g: &[
        &[1.0, 0.0, 0.0],
        &[-2.0 / 9.0, -2.0 / 9.0, -2.0 / 9.0],
        &[-2.0 / 9.0, 2.0 / 9.0, -2.0 / 9.0],
        &[1.0 / 90.0, 1.0 / 45.0, 2.0 / 45.0],
        &[1.0 / 90.0, -1.0 / 45.0, 2.0 / 45.0],
        &[32.0 / 45.0, 16.0 / 45.0, 8.0 / 45.0],
        &[32.0 / 45.0, -16.0 / 45.0, 8.0 / 45.0],
        &[0.0, 0.0, 1.0],
    ],
    at: &[
        &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
        &[0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 0.0],
        &[0.0, 1.0, 1.0, 4.0, 4.0, 0.25, 0.25, 0.0],
        &[0.0, 1.0, -1.0, 8.0, -8.0, 0.125, -0.125, 0.0],
        &[0.0, 1.0, 1.0, 16.0, 16.0, 1.0 / 16.0, 1.0 / 16.0, 0.0],
        &[0.0, 1.0, -1.0, 32.0, -32.0, 1.0 / 32.0, -1.0 / 32.0, 1.0],
    ],
};

/// k steps per loop iteration of the Winograd GEMMs. Cranelift lowers `fma` to
/// `vfmadd213ps`, whose result takes the register of a multiplicand (here the
/// broadcast U value), so the accumulators move to other registers with every
/// step and the register allocator spills some of them where the rotation meets
/// the loop's back edge: a 12×1 tile unrolled 4× stored and reloaded 8 of its 12
/// accumulators every 48 multiply-adds, unrolled 8× 7 every 96. Measured (2-core
/// Intel Xeon, one tune table for both, interleaved medians of 5): 4 → 8 took
/// 2× 256@3×3 on 14² (training, batch 8) 46.2 → 42.1 ms, 2× 512@3×3 on 7²
/// 54.8 → 53.4, 2× 512@3×3 on 28² (inference, batch 1) 30.9 → 27.9; 12 and 16
/// were no faster than 8.
pub(super) const GEMM_UNROLL: usize = 8;

/// The output tiles m the family has: F(2×2), F(4×4), F(6×6).
pub(crate) const TILES: [usize; 3] = [2, 4, 6];

fn transform(m: usize) -> &'static Transform {
    match m {
        2 => &F2,
        6 => &F6,
        _ => &F4,
    }
}

/// Whether Winograd can compute `g`: 3×3, stride 1, one group, no table.
pub(super) fn applies(g: &ConvGeom) -> bool {
    g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.groups == 1 && g.table.is_none()
}

/// The data gradient of the convolution `g` as a forward convolution, when
/// Winograd applies to it: dx = correlate(dy, w rotated by 180° with input and
/// output channels swapped), over dy padded by 2 − pad (a 3×3 stride-1 kernel
/// reads dy rows i − 2 + pt … i + pt for dx row i; rows outside dy are zeros, so
/// the bottom and right pads follow from the sizes). Pads above 2 are left to the
/// direct kernel.
pub(super) fn data_gradient(g: &ConvGeom) -> Option<ConvGeom> {
    if !applies(g) || g.pt > 2 || g.pl > 2 {
        return None;
    }
    let mut t = g.clone();
    (t.cin, t.cout, t.h, t.w, t.oh, t.ow) = (g.cout, g.cin, g.oh, g.ow, g.h, g.w);
    (t.pt, t.pl, t.bias) = (2 - g.pt, 2 - g.pl, false);
    Some(t)
}

/// What a Winograd kernel computes: a forward convolution, or the data gradient
/// of one ([`data_gradient`]: the weights are read rotated and transposed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Forward,
    DataGradient,
}

/// The Winograd family: how a part runs. A part's units are its output channels.
struct Winograd {
    g: ConvGeom,
    tf: &'static Transform,
    /// Slots per sample (`grid.slots`) and tiles per slot (`grid.tw4`, a multiple
    /// of 4); see [`Grid`].
    grid: Grid,
    /// Tile-row slots per chunk; tiles per chunk (`rows · tw4`).
    rows: usize,
    chunk: usize,
    /// Most output channels of a part (the scratch layouts' row count).
    cb: usize,
    xbs: usize,
    ybs: usize,
    ebs: Vec<usize>,
    /// Operand indices of the output and the first extra.
    y: usize,
    extras: usize,
    accumulate: bool,
    /// GEMM variants by part width.
    vars: Vec<(usize, Variants)>,
    /// Output functions: in place (row stride = the map's; on a grid whose groups
    /// straddle tile rows, one slot a call) and staged (None on such grids).
    out_full: JitFn<6>,
    out_stage: Option<JitFn<6>>,
    input: InputTransform,
    weights: WeightTransform,
    /// Where every part's tile rows are one chunk and that chunk's V fits twice the
    /// L2 budget: the weight transform of one row block at a time (U's transform
    /// points `spaced(min(mr, cb)·cin)` apart), run just before that block's GEMMs, which
    /// then go block by block over every transform point. The whole U of a part
    /// (36 floats per filter: 18 MiB for half of a 512×512 layer) was written and
    /// read back through memory; a block's (0.9 MiB) stays in L2 until its GEMMs
    /// read it, while V is read again per block from L2. Measured (2-core Intel
    /// Xeon, batch 1): 512@3×3 on 512×14×14 alone 5.11 → 4.41 ms, and 5.3–5.9 →
    /// 4.6–4.8 ms within VGG-16; ResNet-50 89.1 → 87.3 ms (7 interleaved rounds).
    /// With V beyond L2 (512 on 28×28, 4.1 MiB) the re-reads of V cost more:
    /// 15.9 → 16.5 ms, so such layers keep the whole-U order.
    block_weights: Option<WeightTransform>,
}

pub(super) fn compile(
    jit: &Jit,
    spec: &StepSpec,
    (g, role): (ConvGeom, Role),
    m: usize,
    opts: &ConvOptions,
) -> Result<Arc<dyn CompiledKernel>> {
    let tf = transform(m);
    let want = want_parts(g.flops(), opts).min(opts.threads.max(1));
    // Split output channels, or tile rows when that is estimated cheaper (few
    // weights, a large input) or there are too few channels.
    let threads = opts.threads.max(1);
    let by_co = g.cout.div_ceil(4) >= want && estimate(&g, m, threads, true) <= estimate(&g, m, threads, false);
    let target = chunk_tiles(g.cin, 256, tf);
    // Tile-row slots of the busiest part and per chunk, for `grid` (see `Grid`).
    let layout = |grid: &Grid| {
        let total = g.n * grid.slots;
        let part_rows = total.div_ceil(if by_co { 1 } else { want.min(total) });
        // At least one slot, at most a part's (the GEMMs always run the whole
        // chunk). Chunks of equal size: the last chunk of a part runs the whole
        // chunk's GEMMs, so 14 rows in chunks of 9 would multiply 18 rows' worth.
        let rows = (target / grid.tw4).clamp(1, part_rows);
        (part_rows, part_rows.div_ceil(part_rows.div_ceil(rows)))
    };
    // The grid whose busiest part multiplies the fewest lanes, its whole chunks.
    let grid = grid(&g, m, |grid| {
        let (part_rows, rows) = layout(grid);
        part_rows.div_ceil(rows) * rows * grid.tw4
    });
    let (th, tw4) = (grid.slots, grid.tw4);
    let total_rows = g.n * th;
    let (pc, pr) = if by_co { (want, 1) } else { (1, want.min(total_rows)) };
    let (_, rows) = layout(&grid);
    let chunk = rows * tw4;
    let ranges = vector_ranges(g.cout, pc);
    let cb = ranges.iter().map(|r| r.len()).max().unwrap_or(1);
    let costs = OuterCosts {
        direct: true,
        store: 1.0,
        b_streams: (g.cin * chunk * 4) as i64 > L1_BYTES,
        a_row_bytes: (4 * g.cin) as i64,
    };
    let (mr, nv) = opts.tile_or(cb, || outer_tile(cb, chunk / 4, g.cin, costs));
    let gemm_store = raw_store(OperandMap { r_stride: (4 * chunk) as i64, pos_stride: 16, lane_stride: 4 }, false);
    let vars = by_width(&ranges, |w| {
        let make = |key: VariantKey| {
            let a = ASide::Direct { row: (4 * g.cin) as i64, chan: 4, tap_row: 0, taps: vec![0] };
            gemm_spec_of(key, a, ((4 * chunk) as i64, vec![0]), (chunk, nv, false), GEMM_UNROLL.min(g.cin))
        };
        Variants::compile(jit, (KBlocks::new(g.cin, g.cin), mr, w), 0, (&gemm_store, opts), make)
    })?;
    let xi_bytes = (4 * spaced(cb * chunk)) as i64;
    let chan_bytes = ((4 * chunk) as i64, (4 * g.oh * g.ow) as i64);
    let in_place = ((4 * g.ow) as i64, xi_bytes);
    let out_full = compile_output(jit, tf, spec, in_place, chan_bytes, (g.bias, grid))?;
    // Grids whose groups straddle tile rows have every tile inside the map.
    let out_stage = match grid.straddles() {
        true => None,
        false => {
            let stage_w = (4 * grid.group_width(m)) as i64;
            Some(compile_output(jit, tf, spec, (stage_w, xi_bytes), (0, 0), (g.bias, grid))?)
        }
    };
    let t2 = tf.t * tf.t;
    let input = InputTransform::compile(jit, tf, &g, (4 * spaced(g.cin * chunk)) as i64, (grid, rows))?;
    let stage = input.stage_len() + (1 + spec.extra.len()) * 4 * m * m;
    let weights = WeightTransform::compile(jit, tf, &g, role, (4 * spaced(cb * g.cin)) as i64)?;
    // One chunk per part whose V stays in L2: transform the weights a row block at a
    // time, just before the block's GEMMs (see `block_weights`).
    let v_bytes = 4 * t2 * spaced(g.cin * chunk);
    let by_block = total_rows.div_ceil(pr) <= rows && v_bytes <= 2 * L2_BYTES as usize;
    let block_weights = match by_block {
        true => Some(WeightTransform::compile(jit, tf, &g, role, (4 * spaced(mr.min(cb) * g.cin)) as i64)?),
        false => None,
    };
    let scratch =
        t2 * (spaced(cb * g.cin) + spaced(g.cin * chunk) + spaced(cb * chunk)) + stage + weights.scratch_len();
    let split = if by_co { "channel" } else { "tile-row" };
    // The label names the layer's convolution (for the data gradient, the forward
    // one whose gradient this is, as the direct kernels do).
    // (the transposition is its own inverse).
    let label = match role {
        Role::Forward => g.label("conv"),
        Role::DataGradient => data_gradient(&g).map(|f| f.label("conv_bwd_data")).unwrap_or_default(),
    };
    let u_order = if by_block { " weights-by-block" } else { "" };
    let packed = if grid.pack > 1 { format!(" {}-row-slots", grid.pack) } else { String::new() };
    let desc = format!(
        "{label}: winograd F({m}x{m},3x3) gemm outer {mr}x{nv} chunk {chunk} tiles{packed} {split} parts{u_order}"
    );
    let row_ranges = split_even(total_rows, pr);
    let parts: Vec<Part> = ranges
        .iter()
        .flat_map(|co| row_ranges.iter().map(|rows| Part { units: co.clone(), blocks: 0..0, rows: rows.clone() }))
        .collect();
    let tiling = Tiling::new(Vec::new(), parts, |_| scratch, opts.noting_fma(desc));
    let (y, extras) = (spec.inputs.len(), spec.inputs.len() + spec.outputs.len());
    let family = Winograd {
        tf,
        grid,
        rows,
        chunk,
        cb,
        xbs: spec.inputs[0].batch_stride,
        ybs: spec.outputs[0].batch_stride,
        ebs: spec.extra.iter().map(|e| e.batch_stride).collect(),
        y,
        extras,
        accumulate: spec.accumulate,
        vars,
        out_full,
        out_stage,
        input,
        weights,
        block_weights,
        g,
    };
    Ok(tiled(tiling, family))
}

/// Tiles per chunk a kernel aims at for `cin` input channels: about 128 KiB of V per
/// transform point (at most `cap` tiles), F(6×6)'s scaled by 36/64 so that its chunk
/// holds as much V as F(4×4)'s (64@224² with F(6×6), two layers, `--tune off`: 31.8
/// → 27.0 ms on the 2-core Intel Xeon).
fn chunk_tiles(cin: usize, cap: usize, tf: &Transform) -> usize {
    ((32 << 10) / cin).clamp(16, cap) * 36 / (tf.t * tf.t).max(36)
}

/// Output channels 0..n in about `want` ranges of whole vectors (the last may be
/// shorter): the parts' units.
fn vector_ranges(n: usize, want: usize) -> Vec<Range<usize>> {
    split_even(n.div_ceil(4), want)
        .into_iter()
        .map(|r| 4 * r.start..(4 * r.end).min(n))
        .filter(|r| !r.is_empty())
        .collect()
}

/// The store of a GEMM whose raw results go to scratch (no bias, no epilogue),
/// overwriting or adding.
fn raw_store(out: OperandMap, accumulate: bool) -> StoreSpec {
    StoreSpec { out, extras: Vec::new(), bias: false, epilogue: Vec::new(), accumulate, partial: false }
}

/// The GEMM variants compiled once per distinct part width of `ranges`.
fn by_width(
    ranges: &[Range<usize>],
    mut compile: impl FnMut(usize) -> Result<Variants>,
) -> Result<Vec<(usize, Variants)>> {
    let mut widths: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
    widths.sort_unstable();
    widths.dedup();
    widths.into_iter().map(|w| Ok((w, compile(w)?))).collect()
}

/// Floats between transform points in the scratch layouts: `len` plus a cache
/// line, so that the t² planes (often a power of two apart) do not all map to the
/// same L1 sets.
fn spaced(len: usize) -> usize {
    len + 16
}

impl Family for Winograd {
    unsafe fn run_part(&self, _t: &Tiling, ptrs: &[*mut f32], p: &Part, scratch: &mut [f32], _ws: *mut f32) {
        let (g, tf) = (&self.g, self.tf);
        let (m, t2) = (tf.m, tf.t * tf.t);
        let co = &p.units;
        let Some((_, vars)) = self.vars.iter().find(|(w, _)| *w == co.len()) else { return };
        // SAFETY: the ABI promises the weights and the n samples of x, `xbs` apart.
        let (w, x) = unsafe { (view(ptrs[1], g.weight_len()), view(ptrs[0], (g.n - 1) * self.xbs + g.x_len())) };
        let (us, vs, ms) = (spaced(self.cb * g.cin), spaced(g.cin * self.chunk), spaced(self.cb * self.chunk));
        let (u, rest) = scratch.split_at_mut(t2 * us);
        let (v, rest) = rest.split_at_mut(t2 * vs);
        let (mbuf, rest) = rest.split_at_mut(t2 * ms);
        let (w_stage, rest) = rest.split_at_mut(self.weights.scratch_len());
        let (in_stage, stage) = rest.split_at_mut(self.input.stage_len());
        let mut in_stage = self.input.staging(in_stage);
        if self.block_weights.is_none() {
            // SAFETY: U holds cb rows of cin floats at each transform point.
            unsafe { self.weights.run(w, co, u.as_mut_ptr(), w_stage) };
        }
        let mb = Outputs::scratch(mbuf.as_mut_ptr());
        let (ua, va) = (u.as_mut_ptr(), v.as_ptr());
        let blocks = blocks(1, co.len(), vars.mr);
        let plane = g.oh * g.ow;
        let stage_len = 4 * m * m;
        let pack = self.grid.pack;
        // Output columns per group (a straddling slot's call does its whole rows).
        let gw = if self.grid.straddles() { g.ow } else { self.grid.group_width(m) };
        for u0 in p.rows.clone().step_by(self.rows) {
            let slots = self.rows.min(p.rows.end - u0);
            let in_plane = g.h * g.w;
            for (s0, n, trs) in sample_runs(u0..u0 + slots, self.grid.slots) {
                for c in 0..g.cin {
                    let src = &x[n * self.xbs + c * in_plane..][..in_plane];
                    let at = v[c * self.chunk + s0 * self.grid.tw4..].as_mut_ptr();
                    // SAFETY: V[ξ] holds the chunk's tiles of channel c at ξ·vs floats.
                    unsafe { self.input.rows(src, trs.clone(), at, &mut in_stage) };
                }
            }
            // The GEMM of row block b at transform point ξ, its rows of U[ξ] at `a`.
            let gemm = |xi: usize, b: &Block, a: i64| {
                let call = OuterCall {
                    a,
                    b: at(va, xi * vs),
                    first: 0,
                    off: xi * ms + b.r0 * self.chunk,
                    bias: 0,
                    nrows: 1,
                    row0: 0,
                };
                // SAFETY: A reads b.rows rows of cin floats at `a` (inside U's scratch,
                // as the callers below lay it out), B the chunk of V[ξ], the output
                // rows b of M[ξ]: all inside scratch.
                unsafe { vars.run(call, (b.rows, 4), (4, (4 * self.chunk) as i64), &mb) };
            };
            match &self.block_weights {
                Some(bw) => {
                    // A block has at most min(mr, cb) rows, so its U fits in U's scratch.
                    let ubs = spaced(vars.mr.min(self.cb) * g.cin);
                    for b in &blocks {
                        let rows = co.start + b.r0..co.start + b.r0 + b.rows;
                        // SAFETY: the block layout holds b.rows ≤ min(mr, cb) rows of cin
                        // floats at each transform point, `ubs` ≤ `us` floats apart:
                        // inside U's scratch.
                        unsafe { bw.run(w, &rows, ua, w_stage) };
                        (0..t2).for_each(|xi| gemm(xi, b, at(ua, xi * ubs)));
                    }
                }
                None => {
                    for xi in 0..t2 {
                        blocks.iter().for_each(|b| gemm(xi, b, at(ua, xi * us + b.r0 * g.cin)));
                    }
                }
            }
            for s in 0..slots {
                let (n, sl) = ((u0 + s) / self.grid.slots, (u0 + s) % self.grid.slots);
                let r0 = sl * pack * m;
                let nr = (pack * m).min(g.oh - r0);
                let straddles = self.grid.straddles();
                let full = if straddles || nr == pack * m { g.ow / gw } else { 0 };
                let mp0 = at(mbuf.as_ptr(), s * self.grid.tw4);
                let bias0 = if g.bias { at(ptrs[2], co.start) } else { 0 };
                let off0 = co.start * plane + r0 * g.ow;
                if full > 0 {
                    let mut ex = [0i64; MAX_EXTRAS];
                    for (k, e) in ex.iter_mut().enumerate().take(self.ebs.len()) {
                        *e = at(ptrs[self.extras + k], n * self.ebs[k] + off0);
                    }
                    let y = at(ptrs[self.y], n * self.ybs + off0);
                    let call = [mp0, y, bias0, ex.as_ptr() as i64, full as i64, co.len() as i64];
                    // SAFETY: M holds the part's channels' tiles of the slot, `chunk`
                    // floats apart; the output and extras rows r0..r0 + pack·m,
                    // columns 0..4m·full (0..ow for a straddling slot) of channels
                    // `co` of sample n exist, a plane apart, and those channels are
                    // this part's alone.
                    unsafe { self.out_full.call(call) };
                }
                if straddles {
                    continue;
                }
                for (ol, o) in co.clone().enumerate() {
                    let mp = at(mbuf.as_ptr(), ol * self.chunk + s * self.grid.tw4);
                    let bias = if g.bias { at(ptrs[2], o) } else { 0 };
                    let off = o * plane + r0 * g.ow;
                    for q in full..self.grid.tw4 / 4 {
                        let (c0, nc) = (gw * q, gw.min(g.ow.saturating_sub(gw * q)));
                        if nc == 0 {
                            continue;
                        }
                        let base = off + c0;
                        // SAFETY: the operands hold sample n's elements at `base`
                        // + i·ow + j for i < nr, j < nc; this part owns channel o.
                        unsafe { self.staged(ptrs, (n, base, nr, nc), (mp + 16 * q as i64, bias), stage, stage_len) };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{transform, TILES};

    /// `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` in f64 equals the direct 3×3 correlation of every
    /// t×t patch d with every filter g (pseudo-random values), for each tile size.
    #[test]
    fn each_transform_computes_the_direct_correlation() {
        let mat = |rows: &[&[f32]]| -> Vec<Vec<f64>> {
            rows.iter().map(|r| r.iter().map(|&c| f64::from(c)).collect()).collect()
        };
        let mul = |a: &[Vec<f64>], b: &[Vec<f64>]| -> Vec<Vec<f64>> {
            let inner = b.len();
            a.iter().map(|r| (0..b[0].len()).map(|j| (0..inner).map(|k| r[k] * b[k][j]).sum()).collect()).collect()
        };
        let tr =
            |a: &[Vec<f64>]| -> Vec<Vec<f64>> { (0..a[0].len()).map(|j| a.iter().map(|r| r[j]).collect()).collect() };
        for m in TILES {
            let tf = transform(m);
            assert_eq!((tf.m, tf.t, tf.bt.len(), tf.g.len(), tf.at.len()), (m, m + 2, m + 2, m + 2, m));
            let (bt, g, at) = (mat(tf.bt), mat(tf.g), mat(tf.at));
            for seed in 0..4u64 {
                let val = |i: u64| ((i * 2654435761 + seed * 40503) % 1000) as f64 / 500.0 - 1.0;
                let d: Vec<Vec<f64>> =
                    (0..tf.t).map(|i| (0..tf.t).map(|j| val((i * 17 + j) as u64)).collect()).collect();
                let w: Vec<Vec<f64>> =
                    (0..3).map(|i| (0..3).map(|j| val((1000 + i * 3 + j) as u64)).collect()).collect();
                let u = mul(&mul(&g, &w), &tr(&g));
                let v = mul(&mul(&bt, &d), &tr(&bt));
                let prod: Vec<Vec<f64>> =
                    u.iter().zip(&v).map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).collect()).collect();
                let y = mul(&mul(&at, &prod), &tr(&at));
                for i in 0..m {
                    for j in 0..m {
                        let direct: f64 = (0..3)
                            .flat_map(|a| (0..3).map(move |b| (a, b)))
                            .map(|(a, b)| d[i + a][j + b] * w[a][b])
                            .sum();
                        // The f32 coefficients (1/9, 1/45, ...) are rounded: ~1e-7 relative.
                        assert!(
                            (y[i][j] - direct).abs() < 1e-5,
                            "F({m}x{m}) pixel ({i},{j}): {} against {direct}",
                            y[i][j]
                        );
                    }
                }
            }
        }
    }
}
