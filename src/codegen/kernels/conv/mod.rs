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
//! Two CLIF engines do all the arithmetic (f32x4, `fmul` + `fadd`):
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
//! | `Conv` | outer: output channels × (4 output columns, or 1 pixel of 4 samples) |
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
//! * connection tables: dense weights with per-block link masks compiled in, so
//!   unlinked pairs cost nothing but a zero in the panel.
//!
//! Other modules: `layout` and `pack` (the B side and its preparation),
//! `taps` (which taps can touch data), `phases` (stride phases of the data
//! gradient), `store` (epilogues), `drive` (calls and variants), `abi`.

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

pub use layout::Lanes;
pub use options::ConvOptions;

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
