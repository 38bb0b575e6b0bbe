//! Element-wise kernels: `Act`, `ActBackward`, `Mask`, `Scale`, `Add` and
//! `Copy`, each a one-segment [`Sweep`] with a lane-wise function.
//!
//! Consumes: inputs and output with the same batch and per-sample size
//! (any batch strides). Produces: the first output through the [`Sink`]
//! (epilogue, accumulation).
//! Guarantees: bit-identical to the reference except where `tanh` and
//! `sigmoid` use the [`vmath`](crate::codegen::vmath) approximations (see
//! [`act`](super::act)); `Add` sums its operands left to right like the
//! reference. When every operand is contiguous the batch is folded into one
//! long row, so parts split the whole tensor evenly. Safe in place.

use std::sync::Arc;

use cranelift_codegen::ir::Value;

use super::act;
use super::frame::{build, OpOptions, Split};
use super::shape::{alike, bad, batch, sample};
use super::sink::Sink;
use super::sweep::{Segment, Src, Sweep};
use crate::autodiff::Kernel;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::simd::V4;
use crate::sched::StepSpec;

/// Compiles an element-wise kernel.
pub(super) fn compile(jit: &Jit, spec: &StepSpec, opts: &OpOptions) -> Result<Arc<dyn CompiledKernel>> {
    if !matches!(
        spec.kernel,
        Kernel::Act(_) | Kernel::Scale { .. } | Kernel::Copy | Kernel::ActBackward(_) | Kernel::Mask | Kernel::Add
    ) {
        return Err(bad(spec, "not an element-wise kernel"));
    }
    let y = &spec.outputs[0];
    for (k, x) in spec.inputs.iter().enumerate() {
        alike(spec, &format!("input {k}"), x, y)?;
    }
    let (n, s) = (batch(spec, "the output", y)?, sample(y));
    let sweep = layout(spec, n, s, opts);
    let split = Split::new(sweep.units(), sweep.block.min(s.max(1)) * (spec.inputs.len() + 1), opts);
    let desc = format!("{} {:?}", describe(&spec.kernel), y.dims);
    build(jit, spec, desc, split, 0, |v, frame| {
        let sink = Sink::new(spec, frame);
        let kernel = spec.kernel.clone();
        sweep.emit(v, spec, frame, &sink, &move |v: &mut V4, x: &[Value]| lane(v, &kernel, x))
    })
}

/// One segment over the batch; a single long row when every operand
/// (inputs, output, epilogue operands) is contiguous.
fn layout(spec: &StepSpec, n: usize, s: usize, opts: &OpOptions) -> Sweep {
    let all = spec.inputs.iter().chain(&spec.outputs).chain(&spec.extra);
    let contiguous = n <= 1 || all.into_iter().all(|op| op.batch_stride == s);
    let (rows, cols) = if contiguous { (1, n * s) } else { (n, s) };
    let srcs = (0..spec.inputs.len()).map(|input| Src { input, col: 0 }).collect();
    Sweep { rows, block: opts.block(), segs: vec![Segment { srcs, out_col: 0, cols }] }
}

/// The kernel's value from its loaded inputs.
fn lane(v: &mut V4, kernel: &Kernel, x: &[Value]) -> Value {
    match *kernel {
        Kernel::Act(a) => act::forward(v, a, x[0]),
        Kernel::ActBackward(a) => act::backward(v, a, x[0], x[1]),
        Kernel::Mask => v.mul(x[0], x[1]),
        Kernel::Scale { factor } => {
            let f = v.splat(factor as f32);
            v.mul(f, x[0])
        }
        Kernel::Add => x[1..].iter().fold(x[0], |acc, &t| v.add(acc, t)),
        _ => x[0],
    }
}

/// A short name for profiles.
fn describe(kernel: &Kernel) -> String {
    match kernel {
        Kernel::Act(a) => a.to_string(),
        Kernel::ActBackward(a) => format!("{a} bwd"),
        Kernel::Scale { factor } => format!("scale {factor}"),
        k => k.name().to_string(),
    }
}
