//! The "f32x4 FMA ceiling": the best multiply-add rate Cranelift-generated
//! 128-bit code reaches on this machine, used as the 100% mark for kernels.
//!
//! Consumes: a [`Jit`] (its FMA setting decides fused vs `fmul`+`fadd`) and a
//! [`CeilingConfig`]. Produces: GFLOP/s (1 FMA lane = 2 FLOP), median of
//! several timed runs, for one thread or several threads running the same
//! loop at once. Guarantees: the loop has `accumulators` independent
//! dependency chains (enough to cover FMA latency × issue width: Zen 5 has
//! 4-cycle latency × 2 pipes = 8 in flight, so 10–12 leaves slack), its
//! operands live in registers (loaded once from memory, so the compiler can
//! neither fold nor sink them) and its result is stored so it cannot be
//! removed. No timing is asserted anywhere: numbers are for reports only.
//!
//! Each `fma` is preceded by a register copy (x64 `vfmadd213` overwrites a
//! multiplicand, and the loop reuses it); copies are eliminated at rename,
//! so the loop still reaches 2 FMA/cycle. Measured on the Zen 5 target:
//! ≈ 67 GFLOP/s on one thread, ≈ 127 on two; the `fmul`+`fadd` loop reaches
//! the same single-thread rate (separate FMUL and FADD pipes).

use std::sync::Barrier;
use std::time::Instant;

use cranelift_codegen::ir::{InstBuilder, Value};

use crate::codegen::error::{invalid, Result};
use crate::codegen::jit::{Jit, JitFn};
use crate::codegen::loops::counted_loop;
use crate::codegen::simd::V4;

/// How to build and time the throughput loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CeilingConfig {
    /// Independent f32x4 accumulators (1..=14; 16 xmm registers minus the
    /// two operands).
    pub accumulators: usize,
    /// Copies of the accumulator update per loop iteration (amortises the
    /// loop's counter and branch).
    pub unroll: usize,
    /// Timed runs; the median is reported.
    pub runs: usize,
    /// Minimum duration of one timed run, in seconds.
    pub min_run_secs: f64,
}

impl Default for CeilingConfig {
    fn default() -> Self {
        CeilingConfig { accumulators: 12, unroll: 4, runs: 5, min_run_secs: 0.05 }
    }
}

/// A compiled throughput loop: `fn(iterations, io_ptr)` where `io_ptr`
/// points to 3 f32x4 (two operands in, one result out).
pub struct FmaLoop {
    kernel: JitFn<2>,
    flops_per_iter: f64,
}

/// Compiles the throughput loop described by `cfg`.
pub fn compile_fma_loop(jit: &Jit, cfg: &CeilingConfig) -> Result<FmaLoop> {
    if !(1..=14).contains(&cfg.accumulators) || !(1..=16).contains(&cfg.unroll) {
        return Err(invalid("ceiling: accumulators must be 1..=14, unroll 1..=16"));
    }
    let (acc_n, unroll) = (cfg.accumulators, cfg.unroll);
    let kernel = jit.compile("fma_ceiling", |b, [iters, io], feats| {
        let mut v = V4::new(b, feats.has_fma);
        let x = v.load(io, 0);
        let y = v.load(io, 16);
        let zero = v.splat(0.0);
        let init = vec![zero; acc_n];
        let fma = feats.has_fma;
        let accs = counted_loop(v.b, iters, 1, &init, |b, _, accs| {
            let mut v = V4::new(b, fma);
            let mut accs: Vec<Value> = accs.to_vec();
            for _ in 0..unroll {
                for acc in accs.iter_mut() {
                    *acc = v.mul_add(x, y, *acc);
                }
            }
            Ok(accs)
        })?;
        let mut v = V4::new(b, feats.has_fma);
        let mut sum = accs[0];
        for a in &accs[1..] {
            sum = v.add(sum, *a);
        }
        v.store(sum, io, 32);
        v.b.ins().return_(&[]);
        Ok(())
    })?;
    Ok(FmaLoop { kernel, flops_per_iter: (acc_n * unroll * 4 * 2) as f64 })
}

impl FmaLoop {
    /// Runs `iters` iterations on this thread; returns the lane sum of the
    /// result (so callers can keep it observable).
    pub fn run(&self, iters: u64) -> f32 {
        let mut io = [0f32; 12];
        io[..4].fill(1e-7);
        io[4..8].fill(0.5);
        let n = i64::try_from(iters).unwrap_or(i64::MAX);
        // SAFETY: the kernel reads io[0..8] and writes io[8..12]; `io` is a
        // live local array of 12 floats, 4-byte aligned, unshared.
        unsafe { self.kernel.call([n, io.as_mut_ptr() as i64]) };
        io[8..].iter().sum()
    }
}

/// Median GFLOP/s of the loop with `threads` threads running it at once.
pub fn measure(lp: &FmaLoop, threads: usize, cfg: &CeilingConfig) -> Result<f64> {
    if threads == 0 || cfg.runs == 0 {
        return Err(invalid("ceiling: threads and runs must be >= 1"));
    }
    let iters = calibrate(lp, cfg.min_run_secs);
    let mut rates: Vec<f64> = (0..cfg.runs)
        .map(|_| {
            let secs = timed_parallel(lp, iters, threads);
            lp.flops_per_iter * iters as f64 * threads as f64 / secs / 1e9
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

/// The ceiling for one thread and for `threads` threads, in GFLOP/s.
pub fn fma_ceiling(jit: &Jit, threads: usize) -> Result<(f64, f64)> {
    let cfg = CeilingConfig::default();
    let lp = compile_fma_loop(jit, &cfg)?;
    let one = measure(&lp, 1, &cfg)?;
    let many = measure(&lp, threads, &cfg)?;
    Ok((one, many))
}

/// Doubles the iteration count until one run takes at least `min_secs`.
fn calibrate(lp: &FmaLoop, min_secs: f64) -> u64 {
    let mut iters = 1u64 << 12;
    loop {
        let t = Instant::now();
        std::hint::black_box(lp.run(iters));
        if t.elapsed().as_secs_f64() >= min_secs || iters >= 1 << 40 {
            return iters;
        }
        iters *= 2;
    }
}

/// Wall time for `threads` threads, released together, to each run `iters`.
fn timed_parallel(lp: &FmaLoop, iters: u64, threads: usize) -> f64 {
    if threads == 1 {
        let t = Instant::now();
        std::hint::black_box(lp.run(iters));
        return t.elapsed().as_secs_f64();
    }
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                std::hint::black_box(lp.run(iters));
                barrier.wait();
            });
        }
        barrier.wait();
        let t = Instant::now();
        barrier.wait();
        t.elapsed().as_secs_f64()
    })
}
