//! Runs a [`Program`] step by step with the reference kernels: the plain executor,
//! generic over f32 (training) and f64 (gradient checks).
//!
//! Buffers live here except parameters and their gradients, which the caller passes
//! in (see [`ParamStore`](super::ParamStore)), so several executors can share them.
//! Views (`Buffer::alias`) share their target's storage.

use super::memory::AllocError;
use super::reference::{dropout_mask, execute, In, KernelCtx, Out, Real};
use crate::autodiff::{BufId, Kernel, Program, Role};
use std::ops::Range;

/// Where a buffer's elements live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Local(usize),
    Param(usize),
    Grad(usize),
}

pub struct Executor<T> {
    program: Program,
    capacity: usize,
    slots: Vec<Slot>,
    local: Vec<Vec<T>>,
}

impl<T: Real> Executor<T> {
    /// An executor for batches of up to `capacity` samples.
    pub fn new(program: Program, capacity: usize) -> Executor<T> {
        let slots: Vec<Slot> = (0..program.buffers.len())
            .map(|i| match program.buffer(program.storage(BufId(i as u32))).role {
                Role::Param(p) => Slot::Param(p),
                Role::ParamGrad(p) => Slot::Grad(p),
                _ => Slot::Local(program.storage(BufId(i as u32)).index()),
            })
            .collect();
        let local = program
            .buffers
            .iter()
            .map(|b| {
                if b.alias.is_none() && !matches!(b.role, Role::Param(_) | Role::ParamGrad(_)) {
                    vec![T::zero(); b.len(capacity)]
                } else {
                    Vec::new()
                }
            })
            .collect();
        Executor { program, capacity, slots, local }
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The first elements of buffer `id` for a batch of `n` (at most the capacity).
    pub fn buffer(&self, id: BufId, n: usize) -> &[T] {
        let len = self.program.buffer(id).len(n);
        match self.slots[id.index()] {
            Slot::Local(s) => &self.local[s][..len],
            _ => panic!("buffer {} is a parameter; read it from the store", self.program.buffer(id).name),
        }
    }

    /// Buffer `id` for a batch of `n`, growing the buffers if needed.
    pub fn buffer_mut(&mut self, id: BufId, n: usize) -> &mut [T] {
        self.reserve(n);
        let len = self.program.buffer(id).len(n);
        match self.slots[id.index()] {
            Slot::Local(s) => &mut self.local[s][..len],
            _ => panic!("buffer {} is a parameter; write it in the store", self.program.buffer(id).name),
        }
    }

    /// Makes room for batches of `n` samples (buffers only grow).
    pub fn reserve(&mut self, n: usize) {
        self.try_reserve(n).unwrap_or_else(|e| panic!("{e}"));
    }

    /// [`Executor::reserve`], reporting a refused allocation instead of aborting (the
    /// buffers that did grow stay grown; the capacity is unchanged).
    pub fn try_reserve(&mut self, n: usize) -> Result<(), AllocError> {
        if n <= self.capacity {
            return Ok(());
        }
        let bytes = |len: usize| len as u128 * std::mem::size_of::<T>() as u128;
        for (b, v) in self.program.buffers.iter().zip(&mut self.local) {
            if !v.is_empty() || b.len(1) == 0 {
                let (one, rows) = (b.len(1), if b.batched { n } else { 1 });
                let len = one.checked_mul(rows).ok_or(AllocError { bytes: bytes(one) * rows as u128 })?;
                v.try_reserve_exact(len - v.len()).map_err(|_| AllocError { bytes: bytes(len) })?;
                v.resize(len, T::zero());
            }
        }
        self.capacity = n;
        Ok(())
    }

    /// Runs `steps` on a batch of `n` samples with the given parameters and gradients.
    pub fn run(&mut self, steps: Range<usize>, n: usize, params: &mut [Vec<T>], grads: &mut [Vec<T>], ctx: &KernelCtx) {
        assert!(n > 0, "an empty batch");
        self.reserve(n);
        for s in steps {
            let step = self.program.steps[s].clone();
            // Outputs are moved out while the kernel runs, so inputs can be borrowed freely.
            let mut taken: Vec<Vec<T>> =
                step.outputs.iter().map(|&b| std::mem::take(self.slot_mut(b, params, grads))).collect();
            if let Kernel::DropoutMask { p, stream } = step.kernel {
                let len = self.program.buffer(step.outputs[0]).len(n);
                dropout_mask(p, ctx.seed, ctx.step, stream, &mut taken[0][..len]);
            } else {
                let shapes_in: Vec<Vec<usize>> = step.inputs.iter().map(|&b| self.program.buffer(b).shape(n)).collect();
                let shapes_out: Vec<Vec<usize>> =
                    step.outputs.iter().map(|&b| self.program.buffer(b).shape(n)).collect();
                let ins: Vec<In<T>> = step
                    .inputs
                    .iter()
                    .zip(&shapes_in)
                    .map(|(&b, dims)| {
                        let data = self.slot(b, params, grads);
                        In { data: &data[..dims.iter().product::<usize>()], dims }
                    })
                    .collect();
                let mut outs: Vec<Out<T>> = taken
                    .iter_mut()
                    .zip(&shapes_out)
                    .map(|(v, dims)| Out { data: &mut v[..dims.iter().product::<usize>()], dims })
                    .collect();
                execute(&step.kernel, &ins, &mut outs, step.accumulate, ctx);
            }
            for (&b, v) in step.outputs.iter().zip(taken) {
                *self.slot_mut(b, params, grads) = v;
            }
        }
    }

    fn slot<'a>(&'a self, b: BufId, params: &'a [Vec<T>], grads: &'a [Vec<T>]) -> &'a [T] {
        let v = match self.slots[b.index()] {
            Slot::Local(s) => &self.local[s],
            Slot::Param(p) => &params[p],
            Slot::Grad(p) => &grads[p],
        };
        assert!(
            !v.is_empty() || self.program.buffer(b).len(1) == 0,
            "step reads buffer `{}` while writing it",
            self.program.buffer(b).name
        );
        v
    }

    fn slot_mut<'a>(&'a mut self, b: BufId, params: &'a mut [Vec<T>], grads: &'a mut [Vec<T>]) -> &'a mut Vec<T> {
        match self.slots[b.index()] {
            Slot::Local(s) => &mut self.local[s],
            Slot::Param(p) => &mut params[p],
            Slot::Grad(p) => &mut grads[p],
        }
    }
}
