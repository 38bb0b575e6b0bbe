//! Chooses the generator for a step's kernel.

use super::conv::ConvOptions;
use super::CompiledKernel;
use crate::autodiff::Kernel;
use crate::codegen::error::CodegenError;
use crate::codegen::jit::Jit;
use crate::sched::StepSpec;
use std::sync::Arc;

/// Whether convolutions may use Winograd's algorithm (`--winograd`): the cost model
/// decides per layer (`Auto`), never (`Off`), or every 3×3 stride-1 convolution it
/// applies to, forward, data and weight gradient, with F(2×2,3×3), F(4×4,3×3) or
/// F(6×6,3×3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WinogradChoice {
    #[default]
    Auto,
    Off,
    F2,
    F4,
    F6,
}

/// What the code generator needs beyond the step itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelOptions {
    /// Threads that will run the parts.
    pub threads: usize,
    pub winograd: WinogradChoice,
}

impl Default for KernelOptions {
    fn default() -> KernelOptions {
        KernelOptions { threads: crate::codegen::machine::DEFAULT_THREADS, winograd: WinogradChoice::Auto }
    }
}

impl KernelOptions {
    /// The convolution and dense generators' options: the cost model's choices
    /// within what these options fix.
    pub fn conv_options(&self) -> ConvOptions {
        let (winograd, winograd_m) = match self.winograd {
            WinogradChoice::Auto => (None, None),
            WinogradChoice::Off => (Some(false), None),
            WinogradChoice::F2 => (Some(true), Some(2)),
            WinogradChoice::F4 => (Some(true), Some(4)),
            WinogradChoice::F6 => (Some(true), Some(6)),
        };
        ConvOptions { threads: self.threads, winograd, winograd_m, ..Default::default() }
    }
}

/// Compiles a step as `opts` say, with the cost model's choices (see
/// [`crate::codegen::tune`] for measured ones), or says why the code generator does
/// not cover it (the caller then falls back to the reference kernel).
pub fn compile(jit: &Jit, spec: &StepSpec, opts: &KernelOptions) -> Result<Arc<dyn CompiledKernel>, CodegenError> {
    match spec.kernel {
        Kernel::Conv(_)
        | Kernel::ConvBackwardData(_)
        | Kernel::ConvBackwardWeight(_)
        | Kernel::Dense(_)
        | Kernel::DenseBackwardData(_)
        | Kernel::DenseBackwardWeight(_) => super::conv::compile_conv_with(jit, spec, &opts.conv_options()),
        _ => super::ops::compile_op(jit, spec),
    }
}
