//! A plan with its kernels and arena, ready to run on the pool.

use super::pool::Pool;
use crate::autodiff::{BufId, Kernel, Program};
use crate::codegen::kernels::CompiledKernel;
use crate::runtime::memory::{try_zeroed, AllocError};
use crate::runtime::reference::dropout_mask;
use crate::runtime::ParamStore;
use crate::sched::{Base, Plan};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Zeroed floats with a 64-byte aligned window of `len`. [`try_zeroed`] is `calloc`, whose big blocks are fresh pages the kernel zeroes on first touch, so a
/// big arena (ResNet-152 at batch 8 plans 1.4 GB) costs nothing until the steps use
/// it; an aligned zeroed allocation is `memalign` + `memset` instead, over a second of
/// page faults before the first step.
struct Arena {
    floats: Vec<f32>,
    /// Index of the first 64-byte aligned float.
    start: usize,
    len: usize,
}

impl Arena {
    fn new(len: usize) -> Result<Arena, AllocError> {
        let total = len.checked_add(15).ok_or(AllocError { bytes: (len as u128 + 15) * 4 })?;
        let floats = try_zeroed::<f32>(total)?;
        let addr = floats.as_ptr() as usize;
        let start = (addr.next_multiple_of(64) - addr) / 4;
        Ok(Arena { floats, start, len })
    }

    fn as_slice(&self) -> &[f32] {
        &self.floats[self.start..self.start + self.len]
    }

    fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.floats[self.start..self.start + self.len]
    }
}

pub struct CompiledPlan {
    pub plan: Plan,
    /// One kernel per planned step (host steps have none).
    pub kernels: Vec<Option<Arc<dyn CompiledKernel>>>,
    arena: Arena,
    scratch: Vec<Vec<f32>>,
    /// The workspace of the kernel being launched (the largest any kernel asks for).
    workspace: Vec<f32>,
    /// Time spent in each planned step, when profiling.
    pub profile: Option<Vec<Duration>>,
    /// The store version the weight-derived steps (batch-norm folds) last ran for.
    derived_for: Option<u64>,
}

/// A raw pointer that may cross to the worker threads: the parts of a step touch
/// disjoint memory, which is what makes sharing it sound.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so that closures capture the wrapper, not the field).
    fn get(self) -> *mut f32 {
        self.0
    }
}

impl CompiledPlan {
    /// Allocates the arena and each thread's scratch; a refused allocation is an error.
    pub fn new(
        plan: Plan,
        kernels: Vec<Option<Arc<dyn CompiledKernel>>>,
        threads: usize,
    ) -> Result<CompiledPlan, AllocError> {
        let arena = Arena::new(plan.arena_len.next_multiple_of(16))?;
        let scratch_len = kernels.iter().flatten().map(|k| k.scratch_len()).max().unwrap_or(0);
        let scratch = (0..threads.max(1)).map(|_| try_zeroed(scratch_len)).collect::<Result<_, _>>()?;
        let workspace = try_zeroed(kernels.iter().flatten().map(|k| k.workspace_len()).max().unwrap_or(0))?;
        Ok(CompiledPlan { plan, kernels, arena, scratch, workspace, profile: None, derived_for: None })
    }

    fn arena_ptr(&mut self) -> *mut f32 {
        self.arena.as_mut_slice().as_mut_ptr()
    }

    /// The slice of the arena holding buffer `b` (contiguous buffers only).
    pub fn buffer(&self, program: &Program, b: BufId, n: usize) -> &[f32] {
        let loc = self.plan.locations[b.index()];
        assert_eq!(loc.base, Base::Arena, "buffer {} is not in the arena", program.buffer(b).name);
        &self.arena.as_slice()[loc.offset..loc.offset + program.buffer(b).len(n)]
    }

    pub fn buffer_mut(&mut self, program: &Program, b: BufId, n: usize) -> &mut [f32] {
        let loc = self.plan.locations[b.index()];
        assert_eq!(loc.base, Base::Arena, "buffer {} is not in the arena", program.buffer(b).name);
        &mut self.arena.as_mut_slice()[loc.offset..loc.offset + program.buffer(b).len(n)]
    }

    /// Runs planned steps `range` with the parameters of `store`.
    pub fn run(
        &mut self,
        program: &Program,
        range: std::ops::Range<usize>,
        store: &mut ParamStore,
        pool: &Pool,
        seed: u64,
        step: u64,
    ) {
        let arena = self.arena_ptr();
        let n = self.plan.batch;
        // Weight-derived values depend on the parameters only: recompute them when those change.
        let derived_ok = self.derived_for == Some(store.version);
        self.derived_for = Some(store.version);
        // Built once per run, refilled per step: steps are short enough that per-step
        // allocations show up in the profile.
        let scratch: Vec<SendPtr> = self.scratch.iter_mut().map(|s| SendPtr(s.as_mut_ptr())).collect();
        let workspace = SendPtr(self.workspace.as_mut_ptr());
        let mut raw = RawPtrs(Vec::new());
        for i in range {
            let started = self.profile.is_some().then(Instant::now);
            let ps = &self.plan.steps[i];
            if derived_ok && matches!(ps.spec.kernel, Kernel::FoldBatchNorm { .. }) {
                continue;
            }
            raw.0.clear();
            raw.0.extend(ps.operands.iter().map(|b| {
                let loc = self.plan.locations[b.index()];
                let base = match loc.base {
                    Base::Arena => arena,
                    Base::Param(p) => store.values[p].as_mut_ptr(),
                    Base::Grad(p) => store.grads[p].as_mut_ptr(),
                };
                unsafe { base.add(loc.offset) }
            }));
            match (&ps.spec.kernel, &self.kernels[i]) {
                (Kernel::DropoutMask { p, stream }, _) => {
                    let len = program.buffer(ps.operands[0]).len(n);
                    let mask = unsafe { std::slice::from_raw_parts_mut(raw.0[0], len) };
                    dropout_mask(*p, seed, step, *stream, mask);
                }
                (_, Some(k)) => {
                    let scratch_len = k.scratch_len();
                    let raw = &raw;
                    let scratch = &scratch;
                    for phase in 0..k.phases() {
                        let parts = k.phase_parts(phase);
                        // Safety: the plan gives every operand a valid, sized place; a phase's
                        // parts touch disjoint outputs; each thread has its own scratch; the
                        // workspace is as long as any kernel's and serves one launch at a time;
                        // `pool.run` returns when every part has finished.
                        pool.run(parts.len(), &|i, thread| unsafe {
                            let s = std::slice::from_raw_parts_mut(scratch[thread].0, scratch_len);
                            k.run(raw.get(), parts.start + i, s, workspace.get());
                        });
                    }
                }
                (k, None) => unreachable!("no compiled kernel for step {i} ({})", k.name()),
            }
            if let (Some(t), Some(p)) = (started, self.profile.as_mut()) {
                p[i] += t.elapsed();
            }
        }
    }
}

/// Operand pointers shared with the workers.
struct RawPtrs(Vec<*mut f32>);
unsafe impl Sync for RawPtrs {}
impl RawPtrs {
    fn get(&self) -> &[*mut f32] {
        &self.0
    }
}
