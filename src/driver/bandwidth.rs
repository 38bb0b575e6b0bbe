//! The machine's memory bandwidth, measured on the spot for `netc bench --profile`:
//! the second yardstick next to the FMA ceiling, for the kernels that stream
//! memory (batch norm, activations, copies, the Winograd transforms) rather than
//! multiply.
//!
//! A copy of 64 MiB into another 64 MiB (far past any cache of this class of
//! machine), split evenly over the threads, which start together; bytes read plus
//! bytes written per second, median of five runs, as STREAM's "copy" counts it.
//! The buffers are allocated fallibly: without the memory, there is no figure.

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Floats in each of the two buffers (64 MiB).
const FLOATS: usize = 16 << 20;
const RUNS: usize = 5;

/// GB/s of a large copy on `threads` threads (None when the buffers cannot be had).
pub fn copy_bandwidth(threads: usize) -> Option<f64> {
    let threads = threads.max(1);
    let src = filled(FLOATS, 1.0)?;
    let mut dst = filled(FLOATS, 0.0)?;
    let chunk = FLOATS.div_ceil(threads);
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let barrier = Barrier::new(src.chunks(chunk).len());
            let started = Instant::now();
            std::thread::scope(|s| {
                for (d, from) in dst.chunks_mut(chunk).zip(src.chunks(chunk)) {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        d.copy_from_slice(from);
                    });
                }
            });
            started.elapsed()
        })
        .collect();
    times.sort();
    std::hint::black_box(&dst);
    let seconds = times[RUNS / 2].as_secs_f64().max(1e-9);
    Some(2.0 * (4 * FLOATS) as f64 / seconds / 1e9)
}

/// `len` copies of `x`, or None when the allocator refuses (no abort).
fn filled(len: usize, x: f32) -> Option<Vec<f32>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).ok()?;
    v.resize(len, x);
    Some(v)
}
