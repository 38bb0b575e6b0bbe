//! A small persistent thread pool for running a kernel's parts: the caller runs
//! parts 0, T, 2T, … and worker t runs parts t, t+T, …, then everyone meets at the end
//! of the step. Which thread runs which part never changes the result (parts write
//! disjoint outputs), so runs are bit-identical for any thread count.
//!
//! Workers spin briefly for the next step (steps follow each other within
//! microseconds) and then park, so an idle pool costs nothing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// The work of one step: `f(part, thread)` for every part.
type Job = dyn Fn(usize, usize) + Sync;

struct Shared {
    /// The current job, lifetime-erased; valid while `run` waits for the workers.
    job: Mutex<Option<(*const Job, usize)>>,
    generation: AtomicUsize,
    done: AtomicUsize,
    stop: AtomicBool,
}

// The raw job pointer is only dereferenced while `run` keeps the job alive.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

pub struct Pool {
    threads: usize,
    shared: Arc<Shared>,
    workers: Vec<(JoinHandle<()>, Thread)>,
}

const SPIN: Duration = Duration::from_micros(200);

/// Spins for up to [`SPIN`], reading the clock only every few hundred spins (reading it
/// costs more than a spin), then falls back to `idle`.
struct Backoff {
    started: Instant,
    spins: u32,
    spinning: bool,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { started: Instant::now(), spins: 0, spinning: true }
    }

    fn snooze(&mut self, idle: impl FnOnce()) {
        if self.spinning {
            self.spins += 1;
            if self.spins % 256 == 0 && self.started.elapsed() >= SPIN {
                self.spinning = false;
            }
            std::hint::spin_loop();
        } else {
            idle();
        }
    }
}

impl Pool {
    /// A pool of `threads` threads in all (the caller's included).
    pub fn new(threads: usize) -> Pool {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            job: Mutex::new(None),
            generation: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let workers = (1..threads)
            .map(|t| {
                let s = shared.clone();
                let h = thread::Builder::new()
                    .name(format!("netc-worker-{t}"))
                    .spawn(move || worker(&s, t, threads))
                    .expect("spawn a worker thread");
                let th = h.thread().clone();
                (h, th)
            })
            .collect();
        Pool { threads, shared, workers }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f(part, thread)` for parts `0..parts` across the pool and waits for all of them.
    pub fn run(&self, parts: usize, f: &(dyn Fn(usize, usize) + Sync + '_)) {
        if self.threads == 1 || parts <= 1 {
            (0..parts).for_each(|p| f(p, 0));
            return;
        }
        // Erase the lifetime: the workers only call the job before `done` reaches its count,
        // and this function does not return before that.
        let job: *const Job = unsafe { std::mem::transmute::<&(dyn Fn(usize, usize) + Sync + '_), &'static Job>(f) };
        *self.shared.job.lock().expect("pool lock") = Some((job, parts));
        self.shared.done.store(0, Ordering::Release);
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        for (_, t) in &self.workers {
            t.unpark();
        }
        (0..parts).step_by(self.threads).for_each(|p| f(p, 0));
        let mut wait = Backoff::new();
        while self.shared.done.load(Ordering::Acquire) < self.threads - 1 {
            wait.snooze(|| thread::yield_now());
        }
        *self.shared.job.lock().expect("pool lock") = None;
    }
}

fn worker(s: &Shared, t: usize, threads: usize) {
    let mut seen = 0;
    loop {
        let mut wait = Backoff::new();
        while s.generation.load(Ordering::Acquire) == seen {
            if s.stop.load(Ordering::Acquire) {
                return;
            }
            wait.snooze(|| thread::park_timeout(Duration::from_millis(10)));
        }
        seen = s.generation.load(Ordering::Acquire);
        let job = *s.job.lock().expect("pool lock");
        if let Some((job, parts)) = job {
            // Safety: `run` keeps the job alive until every worker has counted itself done.
            let f = unsafe { &*job };
            (t..parts).step_by(threads).for_each(|p| f(p, t));
        }
        s.done.fetch_add(1, Ordering::AcqRel);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for (h, t) in self.workers.drain(..) {
            t.unpark();
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_exactly_once() {
        let pool = Pool::new(2);
        for parts in [0, 1, 2, 3, 17] {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            pool.run(parts, &|p, _| {
                hits[p].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        }
    }
}
