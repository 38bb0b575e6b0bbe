//! JIT kernels for every step that is neither a convolution nor a dense
//! layer (those live beside this module), plus the optimizer updates.
//!
//! Consumes: a [`StepSpec`] (kernel, operand layouts, accumulation, fused
//! epilogue). Produces: a [`CompiledKernel`] specialised on every size, or
//! an [`OptimizerKernel`] for one parameter tensor.
//! Guarantees: the ABI of [`crate::codegen::kernels`]: parts write disjoint
//! elements and never read another part's output, so any schedule of the
//! parts gives bit-identical results. Each kernel's file states how its
//! work is split and how far it may differ from the reference executor.
//!
//! Every kernel is one JIT function over a range of work units (planes,
//! channels, rows or blocks, per family); [`OpOptions`] decides how many
//! parts the units are grouped into, and never changes a result.
//!
//! Files: `emit` (lanes, runs, loops, reductions), `frame` (the function and
//! its parts), `shape` (spec validation), `sink` (epilogue and
//! accumulation on the first output), `sweep` (row sweeps) and `act` are the
//! shared machinery; `elementwise`, `layout`, `pool`, `gap`, `norm`, `lrn`,
//! `softmax`, `sigmoid_xent` and `lenet` hold one kernel family each, `optim` the optimizer
//! updates.

pub(super) mod act;
mod elementwise;
mod emit;
mod frame;
mod gap;
mod layout;
mod lenet;
mod lrn;
mod mean_loss;
mod norm;
mod optim;
mod pool;
mod shape;
mod sigmoid_xent;
mod sink;
mod softmax;
mod sweep;

use std::sync::Arc;

pub use frame::OpOptions;
pub use optim::{compile_optimizer, compile_optimizer_with, OptimizerKernel};

use crate::autodiff::Kernel;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::sched::StepSpec;

/// Compiles the kernel of `spec` with the default [`OpOptions`].
pub fn compile_op(jit: &Jit, spec: &StepSpec) -> Result<Arc<dyn CompiledKernel>> {
    compile_op_with(jit, spec, &OpOptions::default())
}

/// Compiles the kernel of `spec`, split into parts as `opts` says.
///
/// Refuses (with [`CodegenError::InvalidArgument`](crate::codegen::CodegenError))
/// convolution and dense kernels, `DropoutMask` (host code), and any spec
/// whose operands disagree with the kernel's contract.
pub fn compile_op_with(jit: &Jit, spec: &StepSpec, opts: &OpOptions) -> Result<Arc<dyn CompiledKernel>> {
    super::check_arity(spec)?;
    sink::check(spec)?;
    match spec.kernel {
        Kernel::Act(_) | Kernel::ActBackward(_) | Kernel::Mask | Kernel::Scale { .. } | Kernel::Add | Kernel::Copy => {
            elementwise::compile(jit, spec, opts)
        }
        Kernel::ZeroPad(_) | Kernel::Crop(_) | Kernel::Concat | Kernel::Slice { .. } => {
            layout::compile(jit, spec, opts)
        }
        Kernel::Pool(_) | Kernel::PoolBackward(_) => pool::compile(jit, spec, opts),
        Kernel::GlobalAvgPool | Kernel::GlobalAvgPoolBackward => gap::compile(jit, spec, opts),
        Kernel::BatchNormTrain(_) | Kernel::BatchNormEval(_) | Kernel::BatchNormBackward(_) => {
            norm::compile(jit, spec, opts)
        }
        Kernel::Lrn(_) | Kernel::LrnBackward(_) => lrn::compile(jit, spec, opts),
        Kernel::Softmax | Kernel::SoftmaxBackward | Kernel::SoftmaxCrossEntropy { .. } => {
            softmax::compile(jit, spec, opts)
        }
        Kernel::SigmoidCrossEntropy { .. } => sigmoid_xent::compile(jit, spec),
        Kernel::Subsample(_) | Kernel::SubsampleBackward(_) | Kernel::Rbf(_) | Kernel::RbfBackward(_) => {
            lenet::compile(jit, spec, opts)
        }
        _ => Err(shape::bad(spec, "not compiled by the op kernels")),
    }
}
