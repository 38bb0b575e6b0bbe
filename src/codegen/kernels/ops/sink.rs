//! The store of a kernel's first output: the step's fused epilogue, then
//! accumulation into what the buffer holds.
//!
//! Consumes: the step's first output, its epilogue list and extra operands.
//! Produces: stores of `old + epilogue(value)` (or `epilogue(value)`).
//! Guarantees: every element of the first output is read (when
//! accumulating) and written by the same lane of the same store, so a
//! kernel that writes each element once through a [`Sink`] applies the
//! epilogue exactly once per element and may run in place.

use cranelift_codegen::ir::{InstBuilder, Value};

use super::act;
use super::emit::{iconst, load, run, store, Lanes};
use super::frame::{Frame, Tensor};
use crate::codegen::error::{invalid, Result};
use crate::codegen::simd::V4;
use crate::sched::{Fused, StepSpec};

/// Checks that every epilogue operand exists and is shaped like the first output.
pub(super) fn check(spec: &StepSpec) -> Result<()> {
    let y = spec.outputs.first().ok_or_else(|| invalid(format!("{}: no output", spec.kernel.name())))?;
    for f in &spec.epilogue {
        if let Fused::AddOperand(k) | Fused::MulActGrad(_, k) = *f {
            let e = spec.extra.get(k).ok_or_else(|| invalid(format!("epilogue reads extra operand {k}, missing")))?;
            if e.dims != y.dims {
                return Err(invalid(format!("extra operand {k} has dims {:?}, the output {:?}", e.dims, y.dims)));
            }
        }
    }
    Ok(())
}

/// Where and how the first output is stored.
pub(super) struct Sink {
    y: Tensor,
    extras: Vec<Tensor>,
    epilogue: Vec<Fused>,
    accumulate: bool,
}

/// Pointers of the first output and of the epilogue operands at one element.
pub(super) struct SinkAt {
    y: Value,
    extras: Vec<Value>,
}

impl Sink {
    /// The sink of `spec`'s first output.
    pub(super) fn new(spec: &StepSpec, f: &Frame) -> Sink {
        Sink {
            y: f.output(spec, 0),
            extras: (0..spec.extra.len()).map(|k| f.extra(spec, k)).collect(),
            epilogue: spec.epilogue.clone(),
            accumulate: spec.accumulate,
        }
    }

    /// Pointers at element `off` of sample `n` (i64 values, in elements).
    pub(super) fn at(&self, v: &mut V4, n: Value, off: Value) -> SinkAt {
        let y = self.y.at(v, n, off);
        let extras = self.extras.iter().map(|t| t.at(v, n, off)).collect();
        SinkAt { y, extras }
    }

    /// [`Sink::at`] with a constant element offset.
    pub(super) fn at_const(&self, v: &mut V4, n: Value, off: usize) -> SinkAt {
        let o = iconst(v, off as i64);
        self.at(v, n, o)
    }

    /// Stores `x` (its first `lanes` lanes) at byte offset `off` from `at`.
    pub(super) fn put(&self, v: &mut V4, at: &SinkAt, off: Value, lanes: Lanes, x: Value) {
        let mut y = act::epilogue_n(v, &self.epilogue, vec![x], |v, k, _| load(v, lanes, at.extras[k], off))[0];
        if self.accumulate {
            let old = load(v, lanes, at.y, off);
            y = v.add(old, y);
        }
        store(v, lanes, y, at.y, off);
    }

    /// Copies `len` floats from `src` to the sink, `to` elements past `at`.
    pub(super) fn copy(&self, v: &mut V4, at: &SinkAt, src: Value, to: usize, len: usize) -> Result<()> {
        run(v, len, |v, off, lanes| {
            let x = load(v, lanes, src, off);
            let o = v.b.ins().iadd_imm_s(off, 4 * to as i64);
            self.put(v, at, o, lanes, x);
            Ok(())
        })
    }
}
