//! Compiled kernels: one per program step, specialised to that step's shapes (batch
//! included), generated as Cranelift code by the modules below.
//!
//! # The kernel ABI
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

pub use dispatch::compile;

use crate::autodiff::Kernel;
use crate::ir::Act;

/// How a tensor operand is laid out: `dims` (batch first for batched tensors) and the
/// number of elements between consecutive samples.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Operand {
    pub dims: Vec<usize>,
    pub batch_stride: usize,
    /// False for parameters and other tensors without a batch dimension (their
    /// `batch_stride` is their whole size).
    pub batched: bool,
}

impl Operand {
    /// A contiguous batched tensor.
    pub fn dense(dims: Vec<usize>) -> Operand {
        let batch_stride = dims.iter().skip(1).product();
        Operand { dims, batch_stride, batched: true }
    }

    /// A parameter-like tensor without a batch dimension (batch stride = its size).
    pub fn unbatched(dims: Vec<usize>) -> Operand {
        let batch_stride = dims.iter().product();
        Operand { dims, batch_stride, batched: false }
    }

    /// Elements of the tensor.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Elements per sample (dims after the first).
    pub fn sample_len(&self) -> usize {
        self.dims.iter().skip(1).product()
    }

    /// True when the elements are one contiguous run: an unbatched tensor, or a batched
    /// one whose samples follow each other.
    pub fn is_contiguous(&self) -> bool {
        !self.batched || self.batch_stride == self.sample_len()
    }
}

/// Element-wise work applied to the first output of a kernel as it is stored, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fused {
    /// y = act(y).
    Act(Act),
    /// y = y · factor.
    Scale(f64),
    /// y = y + extra operand `k` (a residual branch), same shape as y.
    AddOperand(usize),
    /// y = y · act'(z) where z is extra operand `k` holding the activation's output: the
    /// activation's backward fused into the producer of its incoming gradient.
    MulActGrad(Act, usize),
}

/// Everything a kernel is specialised on.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSpec {
    pub kernel: Kernel,
    pub inputs: Vec<Operand>,
    pub outputs: Vec<Operand>,
    /// Add the first output into the existing contents instead of overwriting.
    pub accumulate: bool,
    /// Applied to the first output before it is stored (before accumulation).
    pub epilogue: Vec<Fused>,
    /// Operands read by the epilogue, passed after the outputs.
    pub extra: Vec<Operand>,
}

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
