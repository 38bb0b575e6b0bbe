//! Chooses the generator for a step's kernel.

use super::{CompiledKernel, StepSpec};
use crate::codegen::error::CodegenError;
use crate::codegen::jit::Jit;
use std::sync::Arc;

/// Compiles a step, or says why the code generator does not cover it (the caller then
/// falls back to the reference kernel).
pub fn compile(jit: &Jit, spec: &StepSpec) -> Result<Arc<dyn CompiledKernel>, CodegenError> {
    let _ = jit;
    Err(CodegenError::InvalidArgument(format!("no generator for {} yet", spec.kernel.name())))
}
