//! Chooses the generator for a step's kernel.

use super::CompiledKernel;
use crate::autodiff::Kernel;
use crate::codegen::error::CodegenError;
use crate::codegen::jit::Jit;
use crate::sched::StepSpec;
use std::sync::Arc;

/// Compiles a step whose parts `threads` threads will run, or says why the code
/// generator does not cover it (the caller then falls back to the reference kernel).
pub fn compile(jit: &Jit, spec: &StepSpec, threads: usize) -> Result<Arc<dyn CompiledKernel>, CodegenError> {
    match spec.kernel {
        Kernel::Conv(_)
        | Kernel::ConvBackwardData(_)
        | Kernel::ConvBackwardWeight(_)
        | Kernel::Dense(_)
        | Kernel::DenseBackwardData(_)
        | Kernel::DenseBackwardWeight(_) => {
            super::conv::compile_conv_with(jit, spec, &super::conv::ConvOptions { threads, ..Default::default() })
        }
        _ => super::ops::compile_op(jit, spec),
    }
}
