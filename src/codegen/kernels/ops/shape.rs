//! Shape checks of a [`StepSpec`] before code is generated: the generated
//! code does no bounds checks, so every size it bakes in is validated here.
//!
//! Consumes: operands' dims and batch strides. Produces: the sizes kernels
//! are specialised on, or [`CodegenError::InvalidArgument`] naming the
//! kernel and the operand.
//! Guarantees: an accepted batched operand has at least one dimension and a
//! batch stride no smaller than its per-sample size.

use crate::codegen::error::{invalid, CodegenError, Result};
use crate::sched::{Operand, StepSpec};

/// An error about `spec`'s kernel.
pub(super) fn bad(spec: &StepSpec, msg: impl std::fmt::Display) -> CodegenError {
    invalid(format!("kernel `{}`: {msg}", spec.kernel.name()))
}

/// Elements per sample.
pub(super) fn sample(op: &Operand) -> usize {
    op.dims.iter().skip(1).product()
}

/// Elements of an unbatched operand.
pub(super) fn size(op: &Operand) -> usize {
    op.dims.iter().product()
}

/// The batch of a batched operand, checking its stride.
pub(super) fn batch(spec: &StepSpec, what: &str, op: &Operand) -> Result<usize> {
    let n = *op.dims.first().ok_or_else(|| bad(spec, format!("{what} has no batch dimension")))?;
    if op.batch_stride < sample(op) {
        return Err(bad(spec, format!("{what}: batch stride {} < sample size {}", op.batch_stride, sample(op))));
    }
    Ok(n)
}

/// (N, C, S) of a batched operand: channels are `dims[1]`, S the product of
/// the rest (1 for a flat N×F tensor).
pub(super) fn ncs(spec: &StepSpec, what: &str, op: &Operand) -> Result<[usize; 3]> {
    let n = batch(spec, what, op)?;
    if op.dims.len() < 2 {
        return Err(bad(spec, format!("{what} has dims {:?}, expected at least N×C", op.dims)));
    }
    Ok([n, op.dims[1], op.dims[2..].iter().product()])
}

/// The four dimensions of an NCHW operand.
pub(super) fn nchw(spec: &StepSpec, what: &str, op: &Operand) -> Result<[usize; 4]> {
    batch(spec, what, op)?;
    match op.dims[..] {
        [n, c, h, w] => Ok([n, c, h, w]),
        _ => Err(bad(spec, format!("{what} has dims {:?}, expected N×C×H×W", op.dims))),
    }
}

/// Requires `got == want`.
pub(super) fn same(spec: &StepSpec, what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(bad(spec, format!("{what} is {got}, expected {want}")));
    }
    Ok(())
}

/// Requires two batched operands to hold the same number of samples of the
/// same size.
pub(super) fn alike(spec: &StepSpec, what: &str, a: &Operand, b: &Operand) -> Result<()> {
    let (na, nb) = (batch(spec, what, a)?, batch(spec, what, b)?);
    if na != nb || sample(a) != sample(b) {
        return Err(bad(spec, format!("{what} has dims {:?}, expected the layout of {:?}", a.dims, b.dims)));
    }
    Ok(())
}
