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
//! Work is split into [`CompiledKernel::parts`] parts that write disjoint output
//! elements and never read what another part of the same phase writes, so running a
//! phase's parts on any number of threads, in any order, gives bit-identical results.
//! Most kernels have one phase. A kernel with more ([`CompiledKernel::phases`]) runs
//! phase by phase, every part of a phase finishing before the next phase starts: the
//! Winograd weight gradient of narrow layers sums slices of the batch in its first
//! phase and adds the slices up, in a fixed order, in its second, so the split and the
//! order of every sum belong to the plan and not to the thread count. Every other
//! weight gradient is split over output channels (each part sums over the whole batch).
//!
//! Each thread passes its own scratch area of [`CompiledKernel::scratch_len`] floats
//! (packing buffers and the like); each launch one workspace of
//! [`CompiledKernel::workspace_len`] floats shared by all its parts (what one phase
//! leaves for the next), whose contents on entry are unspecified.

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
    /// Number of phases (at least 1): the parts of phase `k + 1` may start only once
    /// every part of phase `k` has finished.
    fn phases(&self) -> usize {
        1
    }
    /// The parts of phase `phase`, consecutive; the phases' ranges cover `0..parts()`
    /// in order.
    fn phase_parts(&self, phase: usize) -> std::ops::Range<usize> {
        debug_assert_eq!(phase, 0);
        0..self.parts()
    }
    /// Floats of the workspace one launch shares among its parts (0: none).
    fn workspace_len(&self) -> usize {
        0
    }
    /// Runs part `part`.
    ///
    /// # Safety
    /// `ptrs` holds a valid, suitably sized pointer for every operand of the spec the
    /// kernel was compiled for (inputs, outputs, extra), outputs do not overlap inputs
    /// except where the spec says so, `part < self.parts()`, `scratch` has at least
    /// `scratch_len()` floats, and `workspace` points to `workspace_len()` floats that
    /// only this launch uses (any pointer when that is 0). Parts of one phase may run
    /// concurrently with each other; the phases run in order (see [`Self::phases`]).
    unsafe fn run(&self, ptrs: &[*mut f32], part: usize, scratch: &mut [f32], workspace: *mut f32);
    /// A short description for profiles (`conv 64 3x3 gemm 5x8`).
    fn describe(&self) -> String;
}
