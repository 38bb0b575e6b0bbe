//! A small persistent thread pool for running a kernel's parts. Parts are claimed
//! dynamically: the caller and every worker take the next unclaimed part until none
//! is left, then the caller waits for the parts still running. Which thread runs which
//! part never changes the result (parts write disjoint outputs), so runs are
//! bit-identical for any thread count — and a thread that is descheduled (the machine
//! is shared) or slow to wake only means the others take more of the parts, instead of
//! the whole step waiting for its fixed share.
//!
//! Even-numbered threads (the caller is thread 0) claim from the front of the unclaimed
//! range, odd-numbered ones from its back. Most kernels order their parts by sample
//! (convolutions' forward and data-gradient parts, small filters' weight gradients,
//! element-wise and pooling kernels by samples or planes; other weight gradients, batch
//! norm and dense layers by channels or features), so with two threads each keeps to
//! its own end of the batch from one such kernel to the next and reads what it wrote
//! itself, from its own caches, where claiming in one order had the threads swap halves
//! of the batch at random (2-core Intel Xeon, interleaved: LeNet training 2.149 → 2.089
//! ms, ResNet-20 206.2 → 198.6 ms).
//!
//! Workers spin briefly for the next step (steps follow each other within
//! microseconds) and then park, so an idle pool costs nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// The work of one step: `f(part, thread)` for every part.
type Job = dyn Fn(usize, usize) + Sync;

/// The job of one generation, lifetime-erased.
#[derive(Clone, Copy)]
struct Slot {
    job: *const Job,
    generation: u32,
}

struct Shared {
    /// The current job; its pointer is valid while `run` of its generation waits.
    slot: Mutex<Option<Slot>>,
    /// Generation (its low [`GEN_BITS`] bits) and the unclaimed parts `lo .. hi`
    /// ([`pack`]). A part is claimed by a compare-and-swap that also checks the
    /// generation, so a worker that read an old slot can never claim a part of a newer
    /// job.
    state: AtomicU64,
    /// Parts of the current generation finished.
    finished: AtomicUsize,
    stop: AtomicBool,
    /// A part of the current job panicked (a bug): `run` re-raises it on the caller
    /// once every part is accounted for, instead of waiting forever for a dead worker.
    panicked: AtomicBool,
}

// The raw job pointer is only dereferenced after claiming a part of its generation,
// which `run` keeps alive until every claimed part has finished.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

pub struct Pool {
    threads: usize,
    shared: Arc<Shared>,
    workers: Vec<(JoinHandle<()>, Thread)>,
    /// Serialises `run` callers (the generation protocol assumes one job at a time).
    running: Mutex<u32>,
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
            if self.spins.is_multiple_of(256) && self.started.elapsed() >= SPIN {
                self.spinning = false;
            }
            std::hint::spin_loop();
        } else {
            idle();
        }
    }
}

/// Bits of a part index in the state, and of the generation above them.
const PART_BITS: u32 = 20;
const GEN_BITS: u32 = 64 - 2 * PART_BITS;
const PART_MASK: u64 = (1 << PART_BITS) - 1;

/// The state word of generation `generation` with parts `lo .. hi` unclaimed. The
/// generation wraps at 2^24: a worker would have to sleep through 16 million jobs
/// holding an old slot to mistake one for the other.
fn pack(generation: u32, lo: usize, hi: usize) -> u64 {
    (u64::from(generation) << (2 * PART_BITS)) | ((lo as u64) << PART_BITS) | hi as u64
}

fn generation_of(state: u64) -> u32 {
    (state >> (2 * PART_BITS)) as u32
}

/// The generation counter's next values wrap as the state holds them (so the slot, the
/// state and the workers all compare the same numbers).
fn wrapped(generation: u32) -> u32 {
    generation & ((1 << GEN_BITS) - 1)
}

fn range_of(state: u64) -> (usize, usize) {
    (((state >> PART_BITS) & PART_MASK) as usize, (state & PART_MASK) as usize)
}

impl Shared {
    /// Claims a part of generation `generation` for `thread` (the first unclaimed one
    /// for even threads, the last for odd ones), if any is left.
    fn claim(&self, generation: u32, thread: usize) -> Option<usize> {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            let (lo, hi) = range_of(s);
            if generation_of(s) != generation || lo >= hi {
                return None;
            }
            let (part, next) = if thread.is_multiple_of(2) {
                (lo, pack(generation, lo + 1, hi))
            } else {
                (hi - 1, pack(generation, lo, hi - 1))
            };
            match self.state.compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(part),
                Err(now) => s = now,
            }
        }
    }

    /// Runs parts of `slot` until none is left unclaimed.
    fn work(&self, slot: Slot, thread: usize) {
        while let Some(p) = self.claim(slot.generation, thread) {
            // Safety: the claim succeeded for this generation, so `run` is still waiting
            // for this part and keeps the job alive.
            let f = unsafe { &*slot.job };
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(p, thread))).is_err() {
                self.panicked.store(true, Ordering::Release);
            }
            self.finished.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Pool {
    /// A pool of `threads` threads in all (the caller's included). If the system will
    /// not start that many (a process or memory limit), the pool makes do with those it
    /// got: results do not depend on the number of threads.
    pub fn new(threads: usize) -> Pool {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            slot: Mutex::new(None),
            state: AtomicU64::new(0),
            finished: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
        });
        let workers: Vec<(JoinHandle<()>, Thread)> = (1..threads)
            .map_while(|t| {
                let s = shared.clone();
                let h = thread::Builder::new().name(format!("netc-worker-{t}")).spawn(move || worker(&s, t)).ok()?;
                let th = h.thread().clone();
                Some((h, th))
            })
            .collect();
        Pool { threads: workers.len() + 1, shared, workers, running: Mutex::new(0) }
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
        assert!(parts < 1 << PART_BITS, "too many parts for the pool");
        // A poisoned lock only means an earlier job panicked; its generation count is intact.
        let mut generation = self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *generation = wrapped(generation.wrapping_add(1));
        let g = *generation;
        // Erase the lifetime: a part can only be claimed before this function returns,
        // and it does not return before every claimed part has finished.
        let job: *const Job = unsafe { std::mem::transmute::<&(dyn Fn(usize, usize) + Sync + '_), &'static Job>(f) };
        let slot = Slot { job, generation: g };
        *self.shared.slot.lock().expect("pool lock") = Some(slot);
        self.shared.finished.store(0, Ordering::Relaxed);
        // Publishing the generation releases the slot and the reset count.
        self.shared.state.store(pack(g, 0, parts), Ordering::Release);
        for (_, t) in &self.workers {
            t.unpark();
        }
        self.shared.work(slot, 0);
        let mut wait = Backoff::new();
        while self.shared.finished.load(Ordering::Acquire) < parts {
            wait.snooze(thread::yield_now);
        }
        if self.shared.panicked.swap(false, Ordering::AcqRel) {
            panic!("a part of a kernel panicked (see the message above)");
        }
    }
}

fn worker(s: &Shared, t: usize) {
    let mut seen = 0u32;
    loop {
        let mut wait = Backoff::new();
        let current = loop {
            let g = generation_of(s.state.load(Ordering::Acquire));
            if g != seen {
                break g;
            }
            if s.stop.load(Ordering::Acquire) {
                return;
            }
            wait.snooze(|| thread::park_timeout(Duration::from_millis(10)));
        };
        seen = current;
        // The slot may already hold the next generation (written just before its state
        // is published); this generation is then over and there is nothing to join.
        let slot = *s.slot.lock().expect("pool lock");
        if let Some(slot) = slot.filter(|sl| sl.generation == current) {
            s.work(slot, t);
        }
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
        for parts in [0, 1, 2, 3, 17, 2, 64] {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            pool.run(parts, &|p, _| {
                hits[p].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        }
    }

    #[test]
    fn two_threads_keep_to_their_ends() {
        // Thread 0 takes parts from the front, thread 1 from the back: whatever the
        // timing, thread 0's parts are a prefix of the job and thread 1's the rest.
        let pool = Pool::new(2);
        let mut both = 0;
        for round in 0..500 {
            let parts = 2 + round % 31;
            let owner: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(usize::MAX)).collect();
            pool.run(parts, &|p, t| {
                owner[p].store(t, Ordering::Relaxed);
                // Long enough parts that the worker wakes in time to take some.
                let start = Instant::now();
                while start.elapsed() < Duration::from_micros(20) {
                    std::hint::spin_loop();
                }
            });
            let owner: Vec<usize> = owner.iter().map(|o| o.load(Ordering::Relaxed)).collect();
            let split = owner.iter().take_while(|&&t| t == 0).count();
            assert!(owner[split..].iter().all(|&t| t == 1), "round {round}: {owner:?}");
            both += usize::from(split > 0 && split < parts);
        }
        // Some jobs must be shared, or the test shows nothing (claims from the front by
        // both threads, the old order, interleave their parts and fail it then).
        assert!(both > 0, "the worker took no part of 500 jobs");
    }

    #[test]
    fn a_panicking_part_panics_the_caller_and_the_pool_goes_on() {
        let pool = Pool::new(2);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.run(8, &|p, _| assert!(p != 5, "part 5 fails"));
        }));
        assert!(r.is_err());
        let total = AtomicUsize::new(0);
        pool.run(8, &|_, _| {
            total.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(total.load(Ordering::Relaxed), 8);
    }

    #[test]
    fn many_short_jobs_on_three_threads() {
        let pool = Pool::new(3);
        let total = AtomicUsize::new(0);
        for round in 0..2000 {
            let parts = 1 + round % 7;
            pool.run(parts, &|p, t| {
                assert!(t < 3 && p < parts);
                total.fetch_add(1, Ordering::Relaxed);
            });
        }
        assert_eq!(total.load(Ordering::Relaxed), (0..2000).map(|r| 1 + r % 7).sum::<usize>());
    }
}
