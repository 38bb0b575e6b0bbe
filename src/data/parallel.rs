//! Running independent jobs (decoding image files) on all threads.
//!
//! Consumes: a job count, a thread count, the job (`Fn(index) -> Result`) and a
//! progress callback. Produces: the results in index order.
//!
//! Guarantees: the result does not depend on the thread count or on scheduling.
//! Threads take the next index from an atomic counter; when job `f` fails, no job
//! above `f` is started, but every job below it still runs, so the error returned is
//! always the one of the lowest failing index. A job that panics (a decoder bug) is
//! turned into an error by `on_panic` rather than taking the process down.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads to use when the caller does not say: all the machine has.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `job(i)` for every `i < n` on up to `threads` threads; `progress(done)` is
/// called after each job (from the worker threads).
pub fn map_indexed<T: Send, E: Send>(
    n: usize,
    threads: usize,
    job: &(dyn Fn(usize) -> Result<T, E> + Sync),
    on_panic: &(dyn Fn(usize) -> E + Sync),
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<T>, E> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    // Jobs at or above this index are not started (the lowest failure so far).
    let stop = AtomicUsize::new(usize::MAX);
    let worker = || {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n || i >= stop.load(Ordering::Relaxed) {
                break;
            }
            let result = catch_unwind(AssertUnwindSafe(|| job(i))).unwrap_or_else(|_| Err(on_panic(i)));
            if result.is_err() {
                stop.fetch_min(i, Ordering::Relaxed);
            }
            out.push((i, result));
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
        }
        out
    };
    let threads = threads.clamp(1, n.max(1));
    let mut all: Vec<(usize, Result<T, E>)> = if threads == 1 {
        worker()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
            // A worker cannot panic (jobs are caught), so join only fails on a bug here.
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        })
    };
    all.sort_by_key(|(i, _)| *i);
    let mut results = Vec::with_capacity(all.len());
    for (_, r) in all {
        results.push(r?);
    }
    if results.len() != n {
        // Only a panicking progress callback can lose results.
        return Err(on_panic(results.len()));
    }
    Ok(results)
}
