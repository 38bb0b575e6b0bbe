//! The feeder: batches prepared on worker threads ahead of the training step.
//!
//! Consumes: a [`FeedSpec`] (dataset, pipeline, augmentation, batch size, worker count)
//! and a closure that consumes epochs of batches.
//!
//! Produces: the same [`Batch`]es as [`crate::data::Batcher`], bit for bit, for any
//! number of workers: batch `k` of an epoch depends only on the epoch's plan (order and
//! shift table, made by the consumer at the epoch's start) and on `k`, never on which
//! worker fills it. With `workers = 0` the consumer fills each batch itself.
//!
//! How: `workers + 1` batch buffers form a ring; batch `k` goes in buffer `k mod n`.
//! Workers claim batches in order, each waiting until its buffer has been handed back;
//! the consumer takes batch `k` once it is ready, and hands it back when the [`Fed`]
//! guard drops. Memory is bounded by the ring, and nothing is allocated per batch
//! (resizing, and decoding the images of a streamed folder, allocate per image).
//! [`FeedEpoch::waited`] is the time the consumer spent waiting for batches (or filling
//! them, without workers): the data-wait report.
//!
//! Errors: only a streamed image folder's file can fail (it changed since the load).
//! The batch holding it carries the error to the consumer, which gets it from
//! [`FeedEpoch::next_batch`] when it reaches that batch: the first failing batch in
//! epoch order, its first failing sample, whatever the worker count.
//!
//! Guarantees: a worker that panics (a bug) makes the consumer panic instead of wait;
//! when the closure returns or unwinds, the workers stop and are joined.

use crate::data::augment::Augment;
use crate::data::batches::{Batch, BatchBuf, FillScratch, Filler, Plan};
use crate::data::dataset::Dataset;
use crate::data::error::DataError;
use crate::data::prep::Pipeline;
use std::sync::{Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

/// What to feed.
#[derive(Debug, Clone)]
pub struct FeedSpec<'a> {
    pub ds: &'a Dataset,
    pub pipeline: &'a Pipeline,
    /// Applied to shuffled epochs only.
    pub augment: Augment,
    pub batch: usize,
    /// Threads preparing batches; 0 prepares them on the consumer's thread.
    pub workers: usize,
}

/// The most workers a feeder starts.
pub const MAX_WORKERS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Free,
    Filling,
    Ready(usize),
}

struct State {
    /// The next batch to claim, and the epoch's batch count.
    next: usize,
    total: usize,
    slots: Vec<Slot>,
    /// Batches being filled now.
    filling: usize,
    stop: bool,
    /// A worker panicked.
    broken: bool,
}

struct Shared<'a> {
    filler: Filler<'a>,
    plan: RwLock<Plan>,
    buffers: Vec<Mutex<BatchBuf>>,
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared<'_> {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a thread panicked; the state itself stays consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'g>(&self, guard: MutexGuard<'g, State>) -> MutexGuard<'g, State> {
        self.changed.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    fn buffer(&self, slot: usize) -> MutexGuard<'_, BatchBuf> {
        self.buffers[slot].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }
}

/// Runs `body` with a feeder for `spec`; the workers live as long as `body` runs.
pub fn feed<R>(spec: &FeedSpec<'_>, body: impl FnOnce(&mut Feeder<'_, '_>) -> R) -> Result<R, DataError> {
    if spec.workers > MAX_WORKERS {
        return Err(DataError::InvalidOption {
            what: format!("at most {MAX_WORKERS} data workers, not {}", spec.workers),
        });
    }
    let filler = Filler::new(spec.ds, spec.pipeline, spec.augment, spec.batch)?;
    let ring = spec.workers + 1;
    let buffers = (0..ring).map(|_| filler.new_buf().map(Mutex::new)).collect::<Result<Vec<_>, _>>()?;
    let shared = Shared {
        plan: RwLock::new(Plan::new(spec.ds.count())),
        filler,
        buffers,
        state: Mutex::new(State {
            next: 0,
            total: 0,
            slots: vec![Slot::Free; ring],
            filling: 0,
            stop: false,
            broken: false,
        }),
        changed: Condvar::new(),
    };
    Ok(std::thread::scope(|scope| {
        for _ in 0..spec.workers {
            scope.spawn(|| work(&shared));
        }
        // Stops the workers however `body` ends, so that the scope can join them.
        struct StopOnDrop<'s, 'a>(&'s Shared<'a>);
        impl Drop for StopOnDrop<'_, '_> {
            fn drop(&mut self) {
                self.0.stop();
            }
        }
        let _stop = StopOnDrop(&shared);
        let mut feeder = Feeder { shared: &shared, workers: spec.workers, scratch: FillScratch::default() };
        body(&mut feeder)
    }))
}

/// Marks the feeder broken if a worker unwinds, so that the consumer does not wait forever.
struct BreakOnPanic<'s, 'a>(&'s Shared<'a>);

impl Drop for BreakOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().broken = true;
            self.0.changed.notify_all();
        }
    }
}

fn work(shared: &Shared<'_>) {
    let _guard = BreakOnPanic(shared);
    let mut scratch = FillScratch::default();
    let ring = shared.buffers.len();
    loop {
        let k = {
            let mut st = shared.lock();
            loop {
                if st.stop {
                    return;
                }
                if st.next < st.total && st.slots[st.next % ring] == Slot::Free {
                    break;
                }
                st = shared.wait(st);
            }
            let k = st.next;
            st.next += 1;
            st.slots[k % ring] = Slot::Filling;
            st.filling += 1;
            k
        };
        {
            let plan = shared.plan.read().unwrap_or_else(|e| e.into_inner());
            let mut buf = shared.buffer(k % ring);
            buf.failed = shared.filler.fill(&plan, k, &mut buf, &mut scratch).err();
        }
        let mut st = shared.lock();
        st.slots[k % ring] = Slot::Ready(k);
        st.filling -= 1;
        drop(st);
        shared.changed.notify_all();
    }
}

/// Hands out epochs of batches; see [`feed`].
pub struct Feeder<'s, 'a> {
    shared: &'s Shared<'a>,
    workers: usize,
    /// For filling on the consumer's thread (no workers).
    scratch: FillScratch,
}

impl<'s, 'a> Feeder<'s, 'a> {
    /// Batches per epoch, counting a final partial batch.
    pub fn batches_per_epoch(&self) -> usize {
        self.shared.filler.batches()
    }

    /// A shuffled, augmented epoch, the same as [`crate::data::Batcher::epoch`]'s.
    pub fn epoch(&mut self, seed: u64, epoch: u64) -> FeedEpoch<'_, 's, 'a> {
        let augment = self.shared.filler.augment;
        self.start(|plan| plan.shuffled(seed, epoch, &augment))
    }

    /// An epoch in dataset order, without augmentation.
    pub fn in_order(&mut self) -> FeedEpoch<'_, 's, 'a> {
        self.start(Plan::in_order)
    }

    fn start(&mut self, make: impl FnOnce(&mut Plan)) -> FeedEpoch<'_, 's, 'a> {
        let shared = self.shared;
        // Every batch of the last epoch was claimed and returned (see FeedEpoch's drop),
        // so no worker reads the plan now.
        make(&mut shared.plan.write().unwrap_or_else(|e| e.into_inner()));
        let total = shared.filler.batches();
        let mut st = shared.lock();
        st.next = 0;
        st.total = if self.workers == 0 { 0 } else { total };
        st.slots.iter_mut().for_each(|s| *s = Slot::Free);
        drop(st);
        shared.changed.notify_all();
        FeedEpoch { feeder: self, next: 0, total, waited: Duration::ZERO }
    }
}

/// One pass over the dataset; call [`FeedEpoch::next_batch`] until `None`.
pub struct FeedEpoch<'f, 's, 'a> {
    feeder: &'f mut Feeder<'s, 'a>,
    next: usize,
    total: usize,
    waited: Duration,
}

impl<'s> FeedEpoch<'_, 's, '_> {
    /// The next batch, or `None` once every sample has been yielded; an error when an
    /// image of the batch could not be had (a streamed file that changed), after which
    /// the epoch yields nothing more. Panics if a worker panicked (a bug).
    pub fn next_batch(&mut self) -> Result<Option<Fed<'_>>, DataError> {
        if self.next >= self.total {
            return Ok(None);
        }
        let (k, started) = (self.next, Instant::now());
        let shared = self.feeder.shared;
        let slot = k % shared.buffers.len();
        let mut buf = if self.feeder.workers == 0 {
            let plan = shared.plan.read().unwrap_or_else(|e| e.into_inner());
            let mut buf = shared.buffer(slot);
            buf.failed = shared.filler.fill(&plan, k, &mut buf, &mut self.feeder.scratch).err();
            buf
        } else {
            let mut st = shared.lock();
            while st.slots[slot] != Slot::Ready(k) {
                assert!(!st.broken, "a data worker panicked");
                st = shared.wait(st);
            }
            drop(st);
            shared.buffer(slot)
        };
        self.waited += started.elapsed();
        self.next += 1;
        let failed = buf.failed.take();
        let fed = Fed { buf, shared: (self.feeder.workers > 0).then_some(shared), slot };
        match failed {
            None => Ok(Some(fed)),
            Some(e) => {
                // No later batch is handed out; dropping `fed` hands the buffer back.
                self.total = self.next;
                Err(e)
            }
        }
    }

    /// Time spent waiting for batches so far (filling them, without workers).
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl Drop for FeedEpoch<'_, '_, '_> {
    /// Ends the epoch early if it was not finished: no more claims, and every batch being
    /// filled is waited for, so that the next epoch starts with idle workers.
    fn drop(&mut self) {
        let shared = self.feeder.shared;
        let mut st = shared.lock();
        st.total = st.next;
        while st.filling > 0 && !st.broken {
            st = shared.wait(st);
        }
    }
}

/// A batch handed to the consumer; its buffer returns to the ring when this drops.
pub struct Fed<'e> {
    buf: MutexGuard<'e, BatchBuf>,
    shared: Option<&'e Shared<'e>>,
    slot: usize,
}

impl Fed<'_> {
    /// The batch.
    pub fn batch(&self) -> Batch<'_> {
        self.buf.batch()
    }
}

impl Drop for Fed<'_> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared {
            shared.lock().slots[self.slot] = Slot::Free;
            shared.changed.notify_all();
        }
    }
}
