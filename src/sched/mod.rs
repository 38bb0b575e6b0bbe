//! Program → [`Plan`]: what the JIT compiles and runs for one batch size.
//!
//! Three decisions are made here, each in its own file:
//! - `fuse`: element-wise steps folded into the epilogue of the step producing their
//!   input (bias and activation after a convolution, residual additions and scaling,
//!   an activation's backward into the producer of its incoming gradient);
//! - `concat`: concatenations whose branches can write straight into channel slices of
//!   the result (no copy);
//! - `memory`: one arena for every remaining activation, gradient and saved buffer,
//!   with offsets assigned by liveness so buffers whose lifetimes do not overlap share
//!   memory.
//!
//! Parameters and their gradients stay in the caller's store; the plan refers to them
//! by index.

mod concat;
pub mod cost;
mod dump;
mod fuse;
mod memory;
mod spec;
mod verify;

pub use dump::render;
pub use spec::{Fused, Operand, StepSpec};
pub use verify::verify;

use crate::autodiff::{BufId, Kernel, Program, Role};
use crate::ir::NodeId;

/// Where a buffer's first element lives, and the distance between its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub base: Base,
    pub offset: usize,
    pub batch_stride: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Arena,
    Param(usize),
    Grad(usize),
}

/// One kernel launch: a program step with its fused epilogue.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    pub spec: StepSpec,
    /// Buffers of the inputs, then outputs, then epilogue operands.
    pub operands: Vec<BufId>,
    /// The program steps this launch performs (the first, plus any fused into it).
    pub sources: Vec<usize>,
    pub node: NodeId,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub batch: usize,
    pub steps: Vec<PlannedStep>,
    /// Planned steps `..forward_end` are the forward pass (and the loss, in training).
    pub forward_end: usize,
    pub locations: Vec<Location>,
    /// Floats of the arena.
    pub arena_len: usize,
    /// Floats the arena would need without reuse (for the report).
    pub unshared_len: usize,
    /// Floats of the arena held by weights derived from the parameters (batch norm
    /// folded into convolutions), which persist between runs.
    pub derived_len: usize,
}

/// Switches for the planner (all on by default; tests turn them off to compare).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub fuse: bool,
    pub concat_in_place: bool,
    pub share_memory: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { fuse: true, concat_in_place: true, share_memory: true }
    }
}

/// Plans `program` for batches of exactly `batch` samples.
pub fn plan(program: &Program, batch: usize, opts: Options) -> Plan {
    let mut steps: Vec<PlannedStep> =
        program.steps.iter().enumerate().map(|(i, s)| unfused(program, i, s, batch)).collect();
    let mut forward_end = program.backward_start;
    if opts.fuse {
        (steps, forward_end) = fuse::fuse(program, steps, forward_end);
    }
    let slices = if opts.concat_in_place { concat::in_place(program, &steps) } else { concat::Slices::default() };
    let memory::Assignment { locations, arena_len, unshared_len, derived_len } =
        memory::assign(program, &steps, &slices, batch, opts.share_memory);
    let kept: Vec<bool> = steps.iter().map(|s| !slices.is_elided(s)).collect();
    let before_backward = steps.iter().zip(&kept).take(forward_end).filter(|(_, k)| **k).count();
    steps = steps.into_iter().zip(kept).filter(|(_, k)| *k).map(|(s, _)| s).collect();
    forward_end = before_backward;
    for s in &mut steps {
        let operands = s.operands.clone();
        let (ins, outs) = (s.spec.inputs.len(), s.spec.outputs.len());
        for (k, b) in operands.iter().enumerate() {
            let stride = locations[b.index()].batch_stride;
            let op = if k < ins {
                &mut s.spec.inputs[k]
            } else if k < ins + outs {
                &mut s.spec.outputs[k - ins]
            } else {
                &mut s.spec.extra[k - ins - outs]
            };
            if program.buffer(*b).batched {
                op.batch_stride = stride;
            }
        }
    }
    Plan { batch, steps, forward_end, locations, arena_len, unshared_len, derived_len }
}

fn operand(program: &Program, b: BufId, batch: usize) -> Operand {
    let buf = program.buffer(b);
    if buf.batched {
        Operand::dense(buf.shape(batch))
    } else {
        Operand::unbatched(buf.dims.clone())
    }
}

fn unfused(program: &Program, index: usize, s: &crate::autodiff::Step, batch: usize) -> PlannedStep {
    let spec = StepSpec {
        kernel: s.kernel.clone(),
        inputs: s.inputs.iter().map(|&b| operand(program, b, batch)).collect(),
        outputs: s.outputs.iter().map(|&b| operand(program, b, batch)).collect(),
        accumulate: s.accumulate,
        epilogue: Vec::new(),
        extra: Vec::new(),
    };
    let operands = s.inputs.iter().chain(&s.outputs).copied().collect();
    PlannedStep { spec, operands, sources: vec![index], node: s.node }
}

impl Plan {
    /// Bytes of the arena.
    pub fn arena_bytes(&self) -> usize {
        self.arena_len * 4
    }

    /// Parameter and gradient indices are stored outside; everything else in the arena.
    pub fn is_arena(role: Role) -> bool {
        !matches!(role, Role::Param(_) | Role::ParamGrad(_))
    }

    /// True if a step runs on the host rather than as a compiled kernel.
    pub fn is_host(kernel: &Kernel) -> bool {
        matches!(kernel, Kernel::DropoutMask { .. })
    }
}

/// The epilogue a fusion appends, in order, for describing plans in tests and dumps:
/// `+e0, relu`.
pub fn describe_epilogue(e: &[Fused]) -> String {
    e.iter().map(dump::describe_fused).collect::<Vec<_>>().join(", ")
}
