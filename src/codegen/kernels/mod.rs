//! Compiled kernels: one per program step, specialised to that step's shapes (batch
//! included), generated as Cranelift code by the modules below.
//!
//! # The kernel ABI
//! Consumes: the planner's [`StepSpec`]s ([`crate::sched`] owns the plan-facing
//! types: [`StepSpec`], [`Operand`], [`Fused`]). Produces: [`CompiledKernel`]s.
//!
//! A step's operands are passed as an array of base pointers: its inputs, then its
//! outputs, in [`Step`](crate::autodiff::Step) order, then the extra inputs its fused
//! epilogue reads ([`Fused`]). Each operand is described by an [`Operand`]: its dims
//! (batch first) and its batch stride, which exceeds the per-sample size when the tensor
//! is a channel slice of a larger buffer (a branch writing straight into its slot of a
//! concatenation).
//!
//! Work is split into [`CompiledKernel::parts`] independent parts that write disjoint
//! output elements and never read what another part writes, so running the parts on any
//! number of threads, in any order, gives bit-identical results. Weight gradients are
//! split over output channels (each part sums over the whole batch), never over the
//! batch, so no cross-thread reduction is needed.
//!
//! Each thread passes its own scratch area of [`CompiledKernel::scratch_len`] floats
//! (packing buffers and the like).

pub mod conv;
mod dispatch;
pub mod ops;

pub use dispatch::{compile, KernelOptions, WinogradChoice};

use crate::codegen::error::{invalid, CodegenError};
use crate::sched::StepSpec as Spec;

/// Checks the spec's operand counts against [`Kernel::arity`](crate::autodiff::Kernel::arity);
/// every generator runs this before it indexes operands.
fn check_arity(spec: &Spec) -> Result<(), CodegenError> {
    let (ins, outs) = spec.kernel.arity(spec.inputs.len());
    if spec.inputs.len() != ins || spec.outputs.len() != outs {
        let (i, o) = (spec.inputs.len(), spec.outputs.len());
        let name = spec.kernel.name();
        return Err(invalid(format!("kernel `{name}`: expected {ins} inputs and {outs} outputs, got {i} and {o}")));
    }
    Ok(())
}

#[cfg(doc)]
use crate::sched::{Fused, Operand, StepSpec};

/// A kernel ready to run.
pub trait CompiledKernel: Send + Sync {
    /// Number of independent parts of the work (at least 1).
    fn parts(&self) -> usize;
    /// Scratch floats each running thread must provide.
    fn scratch_len(&self) -> usize {
        0
    }
    /// Runs part `part`.
    ///
    /// # Safety
    /// `ptrs` holds a valid, suitably sized pointer for every operand of the spec the
    /// kernel was compiled for (inputs, outputs, extra), outputs do not overlap inputs
    /// except where the spec says so, `part < self.parts()`, and `scratch` has at least
    /// `scratch_len()` floats. Parts may run concurrently with each other.
    unsafe fn run(&self, ptrs: &[*mut f32], part: usize, scratch: &mut [f32]);
    /// A short description for profiles (`conv 64 3x3 gemm 5x8`).
    fn describe(&self) -> String;
}
