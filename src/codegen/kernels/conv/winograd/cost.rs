//! When Winograd pays: the cost model that picks it per layer and direction (and
//! the tile size), or the option's forced choice. Estimates are seconds on the
//! machine's f32x4 peak ([`PEAK_S_PER_FLOP`]) with per-float transform costs
//! measured on the 2-core target; see the constants.

use super::weight_grad::slices_fit;
use super::{all_lanes, applies, grid, Grid, TILES};
use crate::codegen::kernels::conv::geometry::ConvGeom;
use crate::codegen::kernels::conv::options::ConvOptions;
use crate::codegen::machine::PEAK_S_PER_FLOP;

/// Cost model (2-thread Zen 5 target, fitted to `netc bench --profile` on VGG-16
/// and ResNet-18 at batch 1 and 8): seconds per transformed input float (JIT,
/// `input`: about 1 ns measured on VGG-16, where the scalar Rust one took 4 ns), per
/// transformed weight float and tile side t, per output pixel (JIT).
///
/// The weight transform's constant was 0.3 ns when the transform was scalar Rust
/// (1.2 ns per float for F(2×2), 1.8 ns for F(4×4)); the JIT transform (`weights`)
/// took 2.6× less of a VGG-16 batch-1 profile (11.9% → 4.5% of perf samples, 2-core
/// AMD EPYC Zen 4), so the forward constant is 0.3/2.6. The weight gradient's
/// inverse transform (`Gᵀ M G`) is JIT code of the same pattern (`dw_transform`)
/// and has the same constant; as scalar Rust it was 0.3 ns, and a third of
/// ResNet-18's 512-channel weight gradients.
const IN_S_PER_FLOAT: f64 = 1.2e-9;
/// The input transform's cost per float relative to F(2×2)'s and F(4×4)'s, by tile:
/// F(6×6)'s Bᵀ takes 3 operations per float and pass against F(4×4)'s 2, and the
/// factor that ranks F(6×6) against F(4×4) as measured is 2 (2-core Intel Xeon,
/// VGG-16's layers at batch 1, both forced, `--tune off`: F(6×6)/F(4×4) 1.05 on
/// 64@224², 0.97 on 128@112², 1.03 on 256@56², 1.5 on 512@28², 1.6 on 512@14²;
/// the model with 2 gives 1.04, 0.99, 1.12, 1.50, 1.77).
fn in_factor(m: usize) -> f64 {
    if m == 6 {
        2.0
    } else {
        1.0
    }
}
const W_S_PER_FLOAT_T: f64 = 0.115e-9;
const W_FINISH_S_PER_FLOAT_T: f64 = W_S_PER_FLOAT_T;
const OUT_S_PER_FLOAT: f64 = 0.4e-9;
/// Per GEMM result float stored to scratch and read back by the output transform
/// (what makes few input channels, e.g. an RGB first layer, a loss).
const M_S_PER_FLOAT: f64 = 0.3e-9;
/// Throughput of the direct kernel and of Winograd's GEMMs relative to the f32x4
/// peak of all threads (both measured at about 45%).
const DIRECT_EFF: f64 = 0.45;
const GEMM_EFF: f64 = 0.45;
/// Winograd is chosen only when predicted this much faster than direct.
const MARGIN: f64 = 0.8;

/// The tile size m (2, 4 or 6) to use for `g`, or None for direct convolution: the
/// option's choice where it forces one, else the cheaper by [`estimate`] when it
/// beats the direct kernel's estimated time by the margin.
pub(in crate::codegen::kernels::conv) fn choose(g: &ConvGeom, opts: &ConvOptions) -> Option<usize> {
    choose_by(g, opts, |m, threads| {
        [true, false].map(|by_co| estimate(g, m, threads, by_co)).into_iter().fold(f64::INFINITY, f64::min)
    })
}

/// [`choose`] for the weight gradient of `g` (see `weight_grad`).
///
/// Maps under 8 a side used to stay direct: ResNet-18's 7×7 layers (512 channels,
/// batch 8, F(2×2)) had measured 15% slower than direct where the model predicted a
/// gain. The cause was the inverse transform as scalar Rust and M zeroed before the
/// GEMMs; with both gone F(4×4) takes 17.3 ms for two such layers against the
/// direct kernel's 44.0 (2-core Intel Xeon, `--tune off`).
pub(in crate::codegen::kernels::conv) fn choose_weight_grad(g: &ConvGeom, opts: &ConvOptions) -> Option<usize> {
    choose_by(g, opts, |m, threads| estimate_weight_grad(g, m, threads))
}

/// The option's forced choice, else the tile whose `estimate(m, threads)` beats the
/// direct kernel's estimated time by the margin (the cheaper of the two).
fn choose_by(g: &ConvGeom, opts: &ConvOptions, estimate: impl Fn(usize, usize) -> f64) -> Option<usize> {
    if !applies(g) || opts.winograd == Some(false) {
        return None;
    }
    if opts.winograd == Some(true) {
        return Some(opts.winograd_m.filter(|m| TILES.contains(m)).unwrap_or(4));
    }
    let threads = opts.threads.max(1);
    let direct = g.flops() * PEAK_S_PER_FLOP / threads as f64 / DIRECT_EFF;
    let cands = match opts.winograd_m {
        Some(m) if TILES.contains(&m) => vec![m],
        _ => TILES.to_vec(),
    };
    let mut best: Option<(f64, usize)> = None;
    for m in cands {
        let est = estimate(m, threads);
        if est < MARGIN * direct && best.is_none_or(|(b, _)| est < b) {
            best = Some((est, m));
        }
    }
    best.map(|(_, m)| m)
}

/// Estimated seconds of the weight-gradient kernel with tile m on `threads` parts:
/// split over output channels, every part transforms all of x; in batch slices
/// (where the kernel uses them, [`slices_fit`]) x is transformed once, and the
/// slices' M are added up (each float of M read once per slice, once written).
fn estimate_weight_grad(g: &ConvGeom, m: usize, threads: usize) -> f64 {
    let Terms { t, p, tiles, pts, gemm, input } = Terms::of(g, m, threads, grid(g, m, all_lanes(g)));
    let dy = pts * tiles * g.cout as f64 * IN_S_PER_FLOAT / p;
    let m_floats = pts * (g.cin * g.cout) as f64;
    let finish = m_floats * (M_S_PER_FLOAT + W_FINISH_S_PER_FLOAT_T * t as f64) / p;
    let (input, sum) =
        if threads > 1 && slices_fit(g, m) { (input / p, m_floats * M_S_PER_FLOAT) } else { (input, 0.0) };
    gemm + input + dy + finish + sum
}

/// Estimated seconds of the Winograd kernel with tile m, split into `threads` parts
/// over output channels (`by_co`: every part transforms the whole input) or over
/// tile rows (every part transforms all the weights).
pub(super) fn estimate(g: &ConvGeom, m: usize, threads: usize, by_co: bool) -> f64 {
    let Terms { t, p, tiles, pts, gemm, input } = Terms::of(g, m, threads, grid(g, m, all_lanes(g)));
    let weights = pts * (g.cin * g.cout) as f64 * W_S_PER_FLOAT_T * t as f64;
    let output =
        (g.n * g.oh * g.ow * g.cout) as f64 * OUT_S_PER_FLOAT / p + pts * tiles * g.cout as f64 * M_S_PER_FLOAT / p;
    let (input, weights) = if by_co { (input, weights / p) } else { (input / p, weights) };
    gemm + input + weights + output
}

/// What both estimates share for tile m on `threads` parts: the tile side t, the
/// parts p, the tiles (rows rounded to vectors), the t² transform points, the
/// GEMMs' seconds (split over the parts) and one whole input transform's seconds.
struct Terms {
    t: usize,
    p: f64,
    tiles: f64,
    pts: f64,
    gemm: f64,
    input: f64,
}

impl Terms {
    /// For the tile slots of `grid` (small maps' tile rows packed, see `Grid`).
    fn of(g: &ConvGeom, m: usize, threads: usize, grid: Grid) -> Terms {
        let (t, p) = (m + 2, threads as f64);
        let tiles = (g.n * grid.slots * grid.tw4) as f64;
        let pts = (t * t) as f64;
        let gemm = 2.0 * pts * tiles * (g.cin * g.cout) as f64 * PEAK_S_PER_FLOP / GEMM_EFF / p;
        let input = pts * tiles * g.cin as f64 * IN_S_PER_FLOAT * in_factor(m);
        Terms { t, p, tiles, pts, gemm, input }
    }
}
