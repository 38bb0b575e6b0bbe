//! Tuning and testing knobs of the convolution kernels.
//!
//! Consumes nothing; [`ConvOptions::default`], with the engine's thread count, is what `kernels::compile` uses, chosen
//! by measurement (`examples/jit_conv_bench.rs`). Tests and benchmarks override
//! the choices to cover every algorithm on every shape.

use super::layout::Lanes;
use crate::codegen::machine::DEFAULT_THREADS;

/// Knobs for [`compile_conv_with`](super::compile_conv_with).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvOptions {
    /// Work (FLOPs) per part below which a kernel is not split further.
    pub min_part_flops: f64,
    /// Most parts a kernel offers.
    pub max_parts: usize,
    /// Threads the parts are planned for (the engine's `--threads`).
    pub threads: usize,
    /// Force spatial or batch lanes (None: choose by lane utilisation).
    pub lanes: Option<Lanes>,
    /// Force pre-broadcast packed weights (`true`) or weights read in place
    /// (`false`); None: pack when each weight is used often enough.
    pub packed: Option<bool>,
    /// Force the outer engine's register tile (rows, vectors) where it fits.
    pub tile: Option<(usize, usize)>,
    /// Bytes of A panel per channel block: the k loop is split into blocks (partial
    /// sums stored between them) when a tile's panel is bigger. Measured: streaming
    /// a panel from L2 costs nothing on the target, while splitting costs stores and
    /// compile time, so only very large panels are split.
    pub a_block_bytes: usize,
    /// Winograd for 3×3 stride-1 convolutions (see `winograd`): `Some(false)`
    /// never, `Some(true)` wherever it applies, None: where the cost model predicts
    /// it faster.
    pub winograd: Option<bool>,
    /// Force the Winograd output tile (2: F(2×2,3×3), 4: F(4×4,3×3), 6: F(6×6,3×3)); None: the
    /// cost model's (F(4×4) when forced on).
    pub winograd_m: Option<usize>,
    /// Winograd weight gradients: `Some(true)` sums slices of the batch in parallel
    /// and adds them up in a second phase, `Some(false)` splits the output channels;
    /// None: slices where one slice's products fit in L2 (see `winograd::weight_grad`).
    pub batch_slices: Option<bool>,
    /// Multiply-adds of the GEMM engines as fused `fma` (where the CPU has it)
    /// instead of `fmul` + `fadd`: which is faster depends on the CPU and the tile,
    /// so the autotuner measures it (see `codegen::tune`); off by default.
    pub fused: bool,
}

impl Default for ConvOptions {
    fn default() -> Self {
        ConvOptions {
            min_part_flops: 0.6e6,
            max_parts: 8,
            threads: DEFAULT_THREADS,
            lanes: None,
            packed: None,
            tile: None,
            a_block_bytes: 512 << 10,
            winograd: None,
            winograd_m: None,
            batch_slices: None,
            fused: false,
        }
    }
}

/// Uses per weight (samples × output pixels) from which packing weights pays off.
const PACK_MIN_REUSE: usize = 400;

impl ConvOptions {
    /// Whether to pack weights used `reuse` times each.
    pub(super) fn pack(&self, reuse: usize) -> bool {
        self.packed.unwrap_or(reuse >= PACK_MIN_REUSE)
    }

    /// The forced tile (if it fits `m` rows and the registers), or `choose()`.
    pub(super) fn tile_or(&self, m: usize, choose: impl FnOnce() -> (usize, usize)) -> (usize, usize) {
        match self.tile {
            Some((r, v)) if r >= 1 && v >= 1 && r <= m && r * v <= 12 && r * v + r.min(v) + 2 <= 16 => (r, v),
            _ => choose(),
        }
    }

    /// `desc` with the multiply-add form noted when it is not the default.
    pub(super) fn noting_fma(&self, desc: String) -> String {
        if self.fused {
            desc + " fma"
        } else {
            desc
        }
    }

    /// The forced lanes, or `choose()`.
    pub(super) fn lanes_or(&self, choose: impl FnOnce() -> Lanes) -> Lanes {
        self.lanes.unwrap_or_else(choose)
    }
}
