//! Timing a compiled kernel on stand-in data, within a budget.
//!
//! A kernel's parts are about equal in size (the planners balance them within
//! ~10%), and its threads take them in waves of `threads` parts. So a run is
//! estimated from samples of waves: the threads start each wave together (a
//! barrier), the wave lasts as long as its slowest part, and the waves are sampled
//! in turn. Sampling waves, not whole runs, keeps the cost of measuring a large
//! layer (a VGG-16 convolution is ~20 ms) inside the per-shape budget while timing
//! exactly the code, cache traffic and thread count the real run will have.
//!
//! Each wave counts with its fastest sample: on a shared machine other work only
//! ever adds time, so the minimum is the estimate least disturbed by it. Waves
//! never sampled count as the mean of those that were; the waves are sampled in an
//! order spread over all phases ([`spread`]), so that the mean is not that of one
//! phase. Scratch and workspace pages are touched before any timing ([`faulted`]).
//!
//! The stand-in operands are the spec's sizes filled with a fixed pattern of
//! values in ±[0.25, 1): no zeros (which could let a kernel skip work), no
//! denormals (which are slow on x86). They and the scratch come from the runtime's
//! allocator, as the real run's arenas and scratch do: with its huge pages a
//! kernel that strides over many MiB of scratch runs at another speed (ResNet-18's
//! 512-channel Winograd weight gradient, F(4×4): 7.2 ms against over 12 with
//! 4 KiB pages, which had the tuner pick F(2×2)).

use std::ops::Range;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::alloc::try_zeroed;
use crate::codegen::kernels::CompiledKernel;
use crate::sched::{Operand, StepSpec};

/// Most bytes of stand-in operands the tuner allocates for one step: larger steps
/// keep the cost model's choice (they are rare, and measuring them would blow the
/// budget anyway).
const MAX_BYTES: usize = 256 << 20;

/// Operand buffers for one step, grown on demand and reused across steps.
#[derive(Default)]
pub struct Workspace {
    bufs: Vec<Vec<f32>>,
}

/// The pattern stand-in operands repeat.
fn pattern() -> Vec<f32> {
    let mut s = 0x9E37_79B9u32;
    (0..4096)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let mag = 0.25 + 0.75 * (s >> 8) as f32 / (1u32 << 24) as f32;
            if s & 1 == 0 {
                mag
            } else {
                -mag
            }
        })
        .collect()
}

/// Floats an operand occupies (a channel slice spans whole batch strides).
fn floats(op: &Operand) -> usize {
    if op.batched {
        op.dims.first().copied().unwrap_or(1).max(1) * op.batch_stride
    } else {
        op.batch_stride.max(op.len())
    }
}

impl Workspace {
    /// Pointers to freshly filled operands for `spec` (inputs, outputs, extras), or
    /// None when they would be too large or the allocation is refused.
    pub fn operands(&mut self, spec: &StepSpec) -> Option<Vec<*mut f32>> {
        let ops: Vec<&Operand> = spec.inputs.iter().chain(&spec.outputs).chain(&spec.extra).collect();
        let sizes: Vec<usize> = ops.iter().map(|o| floats(o).max(1)).collect();
        if sizes.iter().try_fold(0usize, |a, &s| a.checked_add(s.checked_mul(4)?))? > MAX_BYTES {
            return None;
        }
        let pat = pattern();
        while self.bufs.len() < sizes.len() {
            self.bufs.push(Vec::new());
        }
        let mut ptrs = Vec::with_capacity(sizes.len());
        for (buf, &len) in self.bufs.iter_mut().zip(&sizes) {
            if buf.len() < len {
                *buf = Vec::new(); // the old one freed first: never both held
                *buf = try_zeroed(len).ok()?;
            }
            // Refilled every time: an earlier step may have left large sums here.
            for chunk in buf[..len].chunks_mut(pat.len()) {
                chunk.copy_from_slice(&pat[..chunk.len()]);
            }
            ptrs.push(buf.as_mut_ptr());
        }
        Some(ptrs)
    }

    /// Drops the buffers (after a tuning session, so they do not outlive it).
    pub fn release(&mut self) {
        self.bufs = Vec::new();
    }
}

/// Raw operand pointers shared with the measuring threads.
#[derive(Clone, Copy)]
struct Ptrs<'a>(&'a [*mut f32], *mut f32);
// SAFETY: the parts of a kernel's phase write disjoint elements and read nothing
// another part of it writes (the kernel ABI), so threads running different parts of
// one phase may share the operands and the workspace (the second pointer).
unsafe impl Send for Ptrs<'_> {}
unsafe impl Sync for Ptrs<'_> {}

/// A kernel's measured speed.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Estimated seconds of one run.
    pub run: f64,
    /// Mean seconds of one wave of parts (what sampling it once more costs).
    pub wave: f64,
}

/// Times `kernel` on `threads` threads over the operands `ptrs`, sampling waves for
/// about `budget` (one warm-up wave, then at least two), or None when scratch
/// cannot be allocated.
///
/// # Safety
/// `ptrs` are valid operands of the spec `kernel` was compiled for (as
/// [`Workspace::operands`] makes them).
pub unsafe fn time_kernel(
    kernel: &dyn CompiledKernel,
    ptrs: &[*mut f32],
    threads: usize,
    budget: Duration,
) -> Option<Timing> {
    let phases: Vec<Range<usize>> = (0..kernel.phases()).map(|k| kernel.phase_parts(k)).collect();
    let width = threads.clamp(1, phases.iter().map(|r| r.len()).max().unwrap_or(1).max(1));
    // Waves of at most `width` parts, each inside one phase (a wave's parts run together).
    let waves: Vec<Range<usize>> =
        phases.iter().flat_map(|r| r.clone().step_by(width).map(move |s| s..(s + width).min(r.end))).collect();
    let waves = spread(waves);
    let mut scratch = Vec::with_capacity(width);
    for _ in 0..width {
        scratch.push(faulted(kernel.scratch_len())?);
    }
    let mut workspace = faulted(kernel.workspace_len())?;
    let shared = Ptrs(ptrs, workspace.as_mut_ptr());
    let waves = &waves[..];
    // SAFETY: as this function's contract.
    let first = unsafe { sample(kernel, shared, &mut scratch, (waves, 0), 2) };
    let per_wave = first.last().copied().unwrap_or(0.0).max(1e-7);
    let reps = ((budget.as_secs_f64() / per_wave) as usize).clamp(1, 64);
    // SAFETY: as above.
    let rest = unsafe { sample(kernel, shared, &mut scratch, (waves, 2), reps) };
    // Sample i of `first` and `rest` timed wave i % waves and (2 + i) % waves.
    let n = waves.len().max(1);
    let mut best = vec![f64::INFINITY; n];
    let samples = first.iter().enumerate().skip(1).chain(rest.iter().enumerate().map(|(i, t)| (2 + i, t)));
    for (i, &t) in samples {
        best[i % n] = best[i % n].min(t);
    }
    let seen: Vec<f64> = best.iter().copied().filter(|t| t.is_finite()).collect();
    let wave = seen.iter().sum::<f64>() / seen.len().max(1) as f64;
    Some(Timing { run: wave * n as f64, wave })
}

/// `waves` in the order they are sampled: a low-discrepancy sequence (the golden
/// ratio's multiples modulo one), so that the few waves a large step's budget
/// allows are spread over all its phases instead of the first phase's first waves
/// (a multi-phase kernel's phases can differ in cost by several times).
fn spread(waves: Vec<Range<usize>>) -> Vec<Range<usize>> {
    let mut keyed: Vec<(f64, Range<usize>)> =
        waves.into_iter().enumerate().map(|(i, w)| ((i as f64 * 0.618_033_988_749_895).fract(), w)).collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed.into_iter().map(|(_, w)| w).collect()
}

/// `len` zeros with every page already touched: fresh memory from the allocator is
/// mapped on first write, and a wave that faulted in its share of a Winograd
/// kernel's workspace (MiBs) measured that, not the kernel, in the samples the
/// search compares.
fn faulted(len: usize) -> Option<Vec<f32>> {
    let mut buf = try_zeroed::<f32>(len).ok()?;
    // Volatile: the compiler may know the block is zeros and drop a plain store.
    for i in (0..len).step_by(1024) {
        // SAFETY: `i < len`, in bounds of `buf`.
        unsafe { std::ptr::write_volatile(buf.as_mut_ptr().add(i), 0.0) };
    }
    Some(buf)
}

/// Seconds of `reps` waves, wave i being `waves[(start + i) % waves.len()]`: the
/// time from the common start to the slowest thread's end. Waves of a later phase
/// may run before an earlier one's: the data are stand-ins, only the time counts.
unsafe fn sample(
    kernel: &dyn CompiledKernel,
    ptrs: Ptrs,
    scratch: &mut [Vec<f32>],
    (waves, start): (&[Range<usize>], usize),
    reps: usize,
) -> Vec<f64> {
    let width = scratch.len();
    let barrier = Barrier::new(width);
    let per_thread: Vec<Vec<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = scratch
            .iter_mut()
            .enumerate()
            .map(|(t, scr)| {
                let barrier = &barrier;
                s.spawn(move || {
                    let ptrs = ptrs;
                    (0..reps)
                        .map(|i| {
                            let wave = &waves[(start + i) % waves.len()];
                            let part = wave.start + t;
                            barrier.wait();
                            let began = Instant::now();
                            if part < wave.end {
                                // SAFETY: the caller's contract; a wave's parts are one
                                // phase's, disjoint.
                                unsafe { kernel.run(ptrs.0, part, scr, ptrs.1) };
                            }
                            began.elapsed().as_secs_f64()
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    (0..reps).map(|i| per_thread.iter().filter_map(|t| t.get(i)).copied().fold(0.0, f64::max)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sampling order is a permutation of the waves whose every prefix is spread
    /// over the whole run: no stretch of more than 3n/k waves without a sample among
    /// the first k (the golden ratio's multiples are evenly spread, Slater's gap
    /// theorem), so a budget of a few waves sees every phase of a long kernel.
    #[test]
    fn sampled_waves_are_a_spread_permutation() {
        for n in 1..=64usize {
            let order: Vec<usize> = spread((0..n).map(|i| i..i + 1).collect()).iter().map(|w| w.start).collect();
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "n = {n}");
            for k in 2..=n {
                let mut seen: Vec<usize> = order[..k].to_vec();
                seen.sort_unstable();
                // Gaps between sampled waves, wrapping around the run's end.
                let widest = (0..k).map(|j| (seen[(j + 1) % k] + n - seen[j]) % n).max().unwrap_or(0);
                assert!(widest * k <= 3 * n, "n = {n}, first {k}: {seen:?}");
            }
        }
    }
}
