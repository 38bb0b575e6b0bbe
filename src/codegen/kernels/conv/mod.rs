//! JIT convolution and dense kernels: forward, data gradient and weight gradient.
//!
//! Consumes: a [`StepSpec`] whose kernel is `Conv`, `ConvBackwardData`,
//! `ConvBackwardWeight`, `Dense`, `DenseBackwardData` or `DenseBackwardWeight`.
//! Produces: a [`CompiledKernel`] specialised to every shape, stride and flag of the
//! spec; `describe()` names the algorithm and its parameters.
//! Guarantees: the semantics of [`crate::autodiff::Kernel`] and the ABI of
//! [`crate::codegen::kernels`] (disjoint parts, bit-identical in any order, weight
//! gradients split over output channels only); bad specs are compile-time errors.
//!
//! # Algorithms
//! Two CLIF engines do all the arithmetic (f32x4, `fmul` + `fadd`, or `fma` where
//! `ConvOptions::fused` asks, which the autotuner `codegen::tune` decides by measurement):
//! * `outer`: a register tile of outer products, `acc[r][v] += A[r]·B[v]`, A one
//!   scalar per row broadcast (pre-broadcast panel, or re-loaded in place), B a
//!   vector read straight from the source. Convolutions are implicit GEMMs without
//!   an im2col matrix: taps are byte offsets into the source, so the only copies are
//!   a padded (and, for strides, column-phase-split) window of the input, made only
//!   when padding or a stride needs it.
//! * `dot`: lane-parallel dot products reduced at the end, for weight gradients.
//!
//! | kernel | algorithm (tile rows × vectors) |
//! |---|---|
//! | `Conv` | outer: output channels × (4 output columns, or 1 pixel of 4 samples); a strided 1×1 reading no padding as the pointwise convolution of its subsample |
//! | `Conv` 3×3 stride 1, one group (where the cost model predicts a gain) | Winograd F(2×2,3×3), F(4×4,3×3) or F(6×6,3×3): 16, 36 or 64 GEMMs on outer (output channels × 4 tiles, k = input channels) between JIT input and weight transforms and a JIT output transform + epilogue; four tiles per vector, from one tile row or, on maps of one or two tiles a row, from several; see `winograd` |
//! | `ConvBackwardData`, `ConvBackwardWeight` 3×3 stride 1, one group (where the cost model predicts a gain) | Winograd too: the data gradient as a forward Winograd over dy (filters rotated and transposed); the weight gradient as 36 or 16 GEMMs over tiles (input channels × four output channels, k = tiles), see `winograd::weight_grad` |
//! | `ConvBackwardData` | outer per stride phase: input channels × dx positions; taps over dy "backwards", taps in the zero margin skipped |
//! | `ConvBackwardWeight` | dot: output channels × (input channel, tap), k = every output position of the batch; 1×1 unpadded: pointwise GEMM on outer (input channels × output channels, k = pixels) |
//! | `Dense*` | outer as GEMM: see `dense` |
//!
//! # Selection rules (all at compile time, from the shapes)
//! * lanes ([`Lanes`]): four samples per vector when that wastes fewer lanes than
//!   four output columns (small maps, batch ≥ 4), else four columns;
//! * 1×1 stride-1 unpadded maps are one flattened row (full vectors on 7×7, 14×14);
//! * weights pre-broadcast when each is used ≥ 400 times per run, else broadcast in
//!   place; for few samples the choice and the part split (by output rows or by
//!   channel blocks) minimise estimated arithmetic plus per-part copies;
//! * register tiles from a throughput model of the target (FP pipes, loads,
//!   add latency, B lines streamed from L2) — see `plan`;
//! * all of these (and the Winograd choice) can be overridden per step by the
//!   autotuner's measured choice (`codegen::tune`, through `ConvOptions`);
//! * connection tables: dense weights with per-block link masks compiled in, so
//!   unlinked pairs cost nothing but a zero in the panel.
//!
//! # Structure
//! Every kernel here is one tiled kernel run by `drive`: a `Tiling` (row blocks of
//! the tile height, parts over units × blocks × grid rows, scratch per part, the
//! description) plus a kernel family (`forward`, `winograd`, `backward_data`,
//! `backward_weight`, `pointwise`, `dense`) implementing `drive::Family::run_part`. A family provides
//! (1) its plan, from `plan`'s tile and part choices and the machine facts of
//! [`crate::codegen::machine`]; (2) its engine specs — the tile-level kernel IR,
//! `outer::OuterSpec` (built by `drive::conv_spec_of` or `drive::gemm_spec_of`) or
//! `dot::DotSpec` — which carry its address map (bytes per tile row, channel, tap and
//! position on the A, B and output sides); (3) how a part prepares A (packed panels
//! or weights in place) and B (a source window or the tensor in place) in scratch
//! and issues the calls (`drive::Variants::run` walks the channel blocks).
//!
//! Other modules: `layout` and `pack` (the B side and its preparation),
//! `taps` (which taps can touch data), `phases` (stride phases of the data
//! gradient), `store` (epilogues), `options` (knobs, the thread count), `abi`.

mod abi;
mod backward_data;
mod backward_weight;
mod dense;
mod dot;
mod drive;
mod emit;
mod forward;
mod geometry;
mod layout;
mod options;
mod outer;
mod pack;
mod phases;
mod plan;
mod pointwise;
mod store;
mod taps;
mod winograd;

pub use layout::Lanes;
pub use options::ConvOptions;
/// The Winograd output tiles m of F(m×m,3×3) the kernels have (the tuner's candidates).
pub(crate) use winograd::TILES as WINOGRAD_TILES;

use std::sync::Arc;

use crate::autodiff::Kernel;
use crate::codegen::error::{invalid, CodegenError};
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::sched::StepSpec;

/// Compiles a convolution or dense step with explicit tuning options (the thread
/// count included; [`ConvOptions::default`] plans for the default threads).
pub fn compile_conv_with(
    jit: &Jit,
    spec: &StepSpec,
    opts: &ConvOptions,
) -> Result<Arc<dyn CompiledKernel>, CodegenError> {
    super::check_arity(spec)?;
    match &spec.kernel {
        Kernel::Conv(c) => forward::compile(jit, spec, c, opts),
        Kernel::ConvBackwardData(c) => backward_data::compile(jit, spec, c, opts),
        Kernel::ConvBackwardWeight(c) => backward_weight::compile(jit, spec, c, opts),
        Kernel::Dense(_) | Kernel::DenseBackwardData(_) | Kernel::DenseBackwardWeight(_) => {
            dense::compile(jit, spec, opts)
        }
        other => Err(invalid(format!("compile_conv does not handle `{}` kernels", other.name()))),
    }
}
