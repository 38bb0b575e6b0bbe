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
            let (winograd, winograd_m) = winograd_env();
            let opts = super::conv::ConvOptions { threads, winograd, winograd_m, ..Default::default() };
            super::conv::compile_conv_with(jit, spec, &opts)
        }
        _ => super::ops::compile_op(jit, spec),
    }
}

/// The `NETC_WINOGRAD` environment variable (read once): `off` never uses Winograd
/// convolutions, `on` (F(4×4,3×3)), `f2` or `f4` use them for every 3×3 stride-1
/// convolution they apply to, `auto` or unset lets the cost model decide. For
/// comparing speed and accuracy; anything else is treated as `auto`.
pub fn winograd_env() -> (Option<bool>, Option<usize>) {
    static CHOICE: std::sync::OnceLock<(Option<bool>, Option<usize>)> = std::sync::OnceLock::new();
    *CHOICE.get_or_init(|| match std::env::var("NETC_WINOGRAD").as_deref().map(str::to_ascii_lowercase).as_deref() {
        Ok("off") => (Some(false), None),
        Ok("on") | Ok("f4") => (Some(true), Some(4)),
        Ok("f2") => (Some(true), Some(2)),
        _ => (None, None),
    })
}
