//! The frame every op kernel is built in: one JIT function
//! `fn(ptrs, lo, hi, scratch)` per step, the operand pointers loaded from
//! the `ptrs` array at entry, and the host-side wrapper that maps a part to
//! its range `lo..hi` of work units.
//!
//! Consumes: a [`StepSpec`], a [`Split`] of the kernel's units into parts and
//! a body emitter. Produces: an [`Arc<dyn CompiledKernel>`].
//! Kernels are compiled at [`Opt::None`]: the body emitters already place
//! every per-part, per-unit and per-row value before the loop that uses it,
//! and at `opt_level=speed` this Cranelift's egraph elaboration re-places
//! such pure values at their uses, i.e. inside the innermost loop (it did
//! not hoist even a loop-invariant `sqrt` back out in our measurements),
//! which made batch norm and softmax about twice as slow.
//!
//! Guarantees: the body runs units `lo..hi` only; parts are contiguous,
//! disjoint, cover every unit and depend only on the unit count and the
//! [`OpOptions`], so a kernel's split is reproducible. `run` checks the
//! pointer count, the part index and the scratch length before calling.

use std::sync::Arc;

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::emit::iconst;
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn, Opt};
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::simd::{mem, V4};
use crate::sched::StepSpec;

/// How finely op kernels are split into parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpOptions {
    /// Work (elements touched) below which a part is not worth its own
    /// thread hand-off; element-wise sweeps also cut rows into blocks of
    /// about this many elements (at most 8192).
    pub grain: usize,
    /// Upper bound on the number of parts of one kernel.
    pub max_parts: usize,
}

impl Default for OpOptions {
    fn default() -> Self {
        OpOptions { grain: 16 * 1024, max_parts: 16 }
    }
}

impl OpOptions {
    /// Elements per block when a long row is cut for parallelism: a
    /// multiple of 4 so only a row's last block has a vector tail.
    pub(super) fn block(&self) -> usize {
        self.grain.clamp(4, 8192).div_ceil(4) * 4
    }
}

/// `units` work units of equal cost, grouped into contiguous parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Split {
    units: usize,
    parts: usize,
}

impl Split {
    /// As many parts as the work (`units · unit_cost` elements) holds
    /// grains, at least one, at most `max_parts` and at most one per unit.
    pub(super) fn new(units: usize, unit_cost: usize, opts: &OpOptions) -> Split {
        let work = units.saturating_mul(unit_cost.max(1));
        let parts = (work / opts.grain.max(1)).clamp(1, opts.max_parts.max(1)).min(units.max(1));
        Split { units, parts }
    }

    /// A single part covering every unit (kernels with a global result).
    pub(super) fn single(units: usize) -> Split {
        Split { units, parts: 1 }
    }

    /// The units of part `p`.
    pub(super) fn range(&self, p: usize) -> (usize, usize) {
        (p * self.units / self.parts, (p + 1) * self.units / self.parts)
    }
}

/// A tensor operand as seen by generated code: base pointer and batch stride.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tensor {
    pub base: Value,
    /// Elements between consecutive samples.
    pub bs: usize,
}

impl Tensor {
    /// Address of element `off` of sample `n` (both i64 values, in elements).
    pub(super) fn at(&self, v: &mut V4, n: Value, off: Value) -> Value {
        let s = v.b.ins().imul_imm_s(n, (self.bs * 4) as i64);
        let o = v.b.ins().ishl_imm_s(off, 2);
        let p = v.b.ins().iadd(self.base, s);
        v.b.ins().iadd(p, o)
    }

    /// Address of element `off` (a constant) of sample `n`.
    pub(super) fn at_const(&self, v: &mut V4, n: Value, off: usize) -> Value {
        let o = iconst(v, off as i64);
        self.at(v, n, o)
    }
}

/// The values every body starts from.
pub(super) struct Frame {
    /// Operand base pointers: inputs, outputs, then extras.
    pub ptrs: Vec<Value>,
    /// First unit of this part.
    pub lo: Value,
    /// One past the last unit of this part.
    pub hi: Value,
    /// This thread's scratch area.
    pub scratch: Value,
    n_in: usize,
    n_out: usize,
}

impl Frame {
    /// Input `k`.
    pub(super) fn input(&self, spec: &StepSpec, k: usize) -> Tensor {
        Tensor { base: self.ptrs[k], bs: spec.inputs[k].batch_stride }
    }

    /// Output `k`.
    pub(super) fn output(&self, spec: &StepSpec, k: usize) -> Tensor {
        Tensor { base: self.ptrs[self.n_in + k], bs: spec.outputs[k].batch_stride }
    }

    /// Epilogue operand `k`.
    pub(super) fn extra(&self, spec: &StepSpec, k: usize) -> Tensor {
        Tensor { base: self.ptrs[self.n_in + self.n_out + k], bs: spec.extra[k].batch_stride }
    }
}

/// A compiled op: the JIT function plus how parts map to units.
struct OpKernel {
    code: JitFn<4>,
    split: Split,
    nptrs: usize,
    scratch: usize,
    desc: String,
}

impl CompiledKernel for OpKernel {
    fn parts(&self) -> usize {
        self.split.parts
    }

    fn scratch_len(&self) -> usize {
        self.scratch
    }

    unsafe fn run(&self, ptrs: &[*mut f32], part: usize, scratch: &mut [f32], _workspace: *mut f32) {
        assert!(ptrs.len() >= self.nptrs, "{}: {} operand pointers, expected {}", self.desc, ptrs.len(), self.nptrs);
        assert!(part < self.split.parts, "{}: part {part} of {}", self.desc, self.split.parts);
        assert!(scratch.len() >= self.scratch, "{}: scratch {} < {}", self.desc, scratch.len(), self.scratch);
        let (lo, hi) = self.split.range(part);
        // SAFETY: the caller guarantees every operand pointer is valid for
        // the spec the code was generated for; the code touches units
        // lo..hi only, and scratch is long enough (checked above).
        unsafe { self.code.call([ptrs.as_ptr() as i64, lo as i64, hi as i64, scratch.as_mut_ptr() as i64]) }
    }

    fn describe(&self) -> String {
        self.desc.clone()
    }
}

/// Compiles `body` into a kernel for `spec`, split by `split`, needing
/// `scratch` floats per thread.
pub(super) fn build<F>(
    jit: &Jit,
    spec: &StepSpec,
    desc: String,
    split: Split,
    scratch: usize,
    body: F,
) -> Result<Arc<dyn CompiledKernel>>
where
    F: FnOnce(&mut V4, &Frame) -> Result<()>,
{
    let (n_in, n_out) = (spec.inputs.len(), spec.outputs.len());
    let nptrs = n_in + n_out + spec.extra.len();
    let code = jit.compile_opt::<4, _>(spec.kernel.name(), Opt::None, |b, [p, lo, hi, scr], feats| {
        let ptrs = (0..nptrs).map(|k| b.ins().load(types::I64, mem(), p, (8 * k) as i32)).collect();
        let frame = Frame { ptrs, lo, hi, scratch: scr, n_in, n_out };
        let mut v = V4::new(b, feats.has_fma);
        body(&mut v, &frame)?;
        v.b.ins().return_(&[]);
        Ok(())
    })?;
    let desc = if split.parts > 1 { format!("{desc} [{} parts]", split.parts) } else { desc };
    Ok(Arc::new(OpKernel { code, split, nptrs, scratch, desc }))
}
