//! The kernel ABI as the convolution kernels see it: checking a [`StepSpec`]'s
//! operands at compile time, and turning the run-time pointer array into typed views.
//!
//! Consumes: a spec (compile time) or `ptrs` (run time). Produces: validated strides
//! and, at run time, slices spanning exactly what the spec says each operand holds.
//! Guarantees: every slice built here is `(batch − 1)·batch_stride + sample` long,
//! which is what the ABI promises the pointer is valid for; nothing else is assumed.

use crate::codegen::error::{invalid, Result};
use crate::sched::{Fused, Operand, StepSpec};

/// Most extra operands an epilogue may read.
pub(super) const MAX_EXTRAS: usize = 8;

/// Checks sample sizes against batch strides, and the epilogue's references to extra
/// operands, whose shapes must equal the first output's (the counts were checked on entry).
pub(super) fn check_operands(spec: &StepSpec) -> Result<()> {
    let name = spec.kernel.name();
    for op in spec.inputs.iter().chain(&spec.outputs).chain(&spec.extra) {
        let sample: usize = op.dims.iter().skip(1).product();
        if op.dims.len() > 1 && op.batch_stride < sample {
            return Err(invalid(format!("{name}: batch stride {} below sample size {sample}", op.batch_stride)));
        }
    }
    if spec.extra.len() > MAX_EXTRAS {
        return Err(invalid(format!("{name}: at most {MAX_EXTRAS} extra operands")));
    }
    for e in &spec.extra {
        if e.dims != spec.outputs[0].dims {
            return Err(invalid(format!("{name}: extra operand dims {:?} differ from the output's", e.dims)));
        }
    }
    for f in &spec.epilogue {
        if let Fused::AddOperand(k) | Fused::MulActGrad(_, k) = *f {
            if k >= spec.extra.len() {
                return Err(invalid(format!(
                    "{name}: epilogue reads extra operand {k}, only {} given",
                    spec.extra.len()
                )));
            }
        }
    }
    Ok(())
}

/// Requires `op` to hold exactly `len` elements and to be contiguous (parameters).
pub(super) fn check_param(name: &str, op: &Operand, len: usize) -> Result<()> {
    let n: usize = op.dims.iter().product();
    if n != len || op.batch_stride < n {
        return Err(invalid(format!("{name}: parameter dims {:?} do not hold {len} elements", op.dims)));
    }
    Ok(())
}

/// Requires the epilogue to be empty (kernels whose outputs take none).
pub(super) fn check_no_epilogue(spec: &StepSpec) -> Result<()> {
    if spec.epilogue.is_empty() {
        Ok(())
    } else {
        Err(invalid(format!("{}: no fused epilogue supported", spec.kernel.name())))
    }
}

/// A read-only view of `len` floats at `p`.
///
/// # Safety
/// `p` must be valid for reads of `len` floats for `'a`, and not written meanwhile
/// through another path.
pub(super) unsafe fn view<'a>(p: *const f32, len: usize) -> &'a [f32] {
    if len == 0 {
        return &[];
    }
    // SAFETY: the caller guarantees validity of `len` floats at `p`.
    unsafe { std::slice::from_raw_parts(p, len) }
}

/// A mutable view of `len` floats at `p`.
///
/// # Safety
/// `p` must be valid for reads and writes of `len` floats for `'a`, with no other
/// access to those floats meanwhile.
pub(super) unsafe fn view_mut<'a>(p: *mut f32, len: usize) -> &'a mut [f32] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: the caller guarantees exclusive validity of `len` floats at `p`.
    unsafe { std::slice::from_raw_parts_mut(p, len) }
}

/// `p + elems` floats, as the integer the JIT functions take.
pub(super) fn at(p: *const f32, elems: usize) -> i64 {
    p.wrapping_add(elems) as i64
}
