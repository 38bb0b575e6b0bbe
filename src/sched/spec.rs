//! The plan-facing description of one kernel launch: what the planner decides and
//! the code generator (or the reference fallback) specialises a kernel on.
//!
//! Consumes: nothing (plain data). Produces: [`StepSpec`] (the kernel, its operands'
//! layouts, accumulation, the fused epilogue), [`Operand`], [`Fused`].
//! Guarantees: the meaning of each field is the contract every kernel implements.
//! The epilogue's semantics ([`Fused`], then accumulation) have two implementations:
//! the JIT's (`codegen::kernels::ops::act::epilogue_n`, used by every generated
//! store) and the fallback kernel's, which applies the reference executor's formulas.

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
