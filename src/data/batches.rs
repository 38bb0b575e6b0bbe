//! Mini-batches for training and evaluation.
//!
//! Consumes: a [`Dataset`], a [`Pipeline`] that accepts it, a batch size, an
//! [`Augment`] for shuffled epochs, and for those a seed and an epoch number.
//!
//! Produces: [`Batch`]es — `len × C × H × W` contiguous `f32` NCHW images, their labels
//! and their dataset indices. [`Batcher`] fills them on the calling thread, in buffers it
//! owns and refills (no allocation per batch or per epoch after construction), for
//! datasets in memory; [`crate::data::feeder`] fills the same batches on worker threads
//! ahead of the caller, for those and for image folders streamed from disk (whose images
//! are decoded as their batch is filled, and whose files can fail: its epochs return
//! errors).
//!
//! Guarantees: every index in `0..count` appears exactly once per epoch; all batches are
//! full except possibly the last, which holds the remainder; the order depends only on
//! `(seed, epoch)`, and a sample's augmentation only on `(seed, epoch, its index)` (and,
//! for shifts, its place in the epoch), so batch `k` of an epoch is the same whoever
//! fills it and whenever. Because batches borrow the batcher, iteration is
//! `while let Some(b) = epoch.next_batch() { … }` rather than a `for` loop.

use crate::data::augment::{sample_seed, shift_stream, Augment, Draw};
use crate::data::dataset::Dataset;
use crate::data::error::DataError;
use crate::data::prep::{Channels, Pipeline, Scratch};
use crate::data::rng::{mix_seed, Rng};

/// One mini-batch.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'b> {
    /// `len() × C × H × W` input values, NCHW.
    pub images: &'b [f32],
    /// `len()` labels.
    pub labels: &'b [u16],
    /// `len()` dataset indices the batch was drawn from.
    pub indices: &'b [usize],
}

impl Batch<'_> {
    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True for a batch without samples (never yielded).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// The buffers of one batch.
#[derive(Debug)]
pub(crate) struct BatchBuf {
    images: Vec<f32>,
    labels: Vec<u16>,
    indices: Vec<usize>,
    sample_len: usize,
    /// Why the batch could not be filled (a streamed file that no longer decodes).
    pub(crate) failed: Option<DataError>,
}

impl BatchBuf {
    /// Room for `rows` samples of `sample_len` floats, or an error if it cannot be had.
    pub(crate) fn try_new(rows: usize, sample_len: usize) -> Result<BatchBuf, DataError> {
        let len = rows.checked_mul(sample_len);
        let mut images = Vec::new();
        if len.is_none_or(|len| images.try_reserve_exact(len).is_err()) {
            return Err(DataError::InvalidOption {
                what: format!("cannot allocate the batch buffer: {rows} images of {sample_len} floats"),
            });
        }
        images.resize(len.unwrap_or(0), 0f32);
        Ok(BatchBuf {
            images,
            labels: Vec::with_capacity(rows),
            indices: Vec::with_capacity(rows),
            sample_len,
            failed: None,
        })
    }

    pub(crate) fn batch(&self) -> Batch<'_> {
        Batch {
            images: &self.images[..self.labels.len() * self.sample_len],
            labels: &self.labels,
            indices: &self.indices,
        }
    }
}

/// The order of one epoch and its shift table.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    order: Vec<usize>,
    /// Shift of the sample at each place of the epoch (empty: none).
    shifts: Vec<(i32, i32)>,
    /// `(seed, epoch)` of an augmented epoch; `None` in order, without augmentation.
    augmented: Option<(u64, u64)>,
}

impl Plan {
    pub(crate) fn new(count: usize) -> Plan {
        Plan { order: (0..count).collect(), shifts: Vec::new(), augmented: None }
    }

    /// The epoch in dataset order, without augmentation.
    pub(crate) fn in_order(&mut self) {
        for (i, slot) in self.order.iter_mut().enumerate() {
            *slot = i;
        }
        self.shifts.clear();
        self.augmented = None;
    }

    /// A shuffled, augmented epoch.
    pub(crate) fn shuffled(&mut self, seed: u64, epoch: u64, augment: &Augment) {
        self.in_order();
        Rng::new(mix_seed(seed, epoch)).shuffle(&mut self.order);
        if augment.shift > 0 {
            // Drawn in the epoch's order from one stream, as netc always has.
            let mut rng = shift_stream(seed, epoch);
            let span = 2 * augment.shift as u64 + 1;
            let s = augment.shift as i64;
            self.shifts.extend((0..self.order.len()).map(|_| {
                let dy = rng.below(span) as i64 - s;
                let dx = rng.below(span) as i64 - s;
                (dy as i32, dx as i32)
            }));
        }
        self.augmented = Some((seed, epoch));
    }

    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

/// The buffers one filling thread reuses from image to image.
#[derive(Debug, Default)]
pub(crate) struct FillScratch {
    prep: Scratch,
    /// A streamed image, decoded.
    stored: Vec<u8>,
}

/// Fills batches of one dataset through one pipeline; shared by every filling thread.
#[derive(Debug)]
pub(crate) struct Filler<'a> {
    pub ds: &'a Dataset,
    pub pipeline: &'a Pipeline,
    pub channels: Channels,
    pub augment: Augment,
    pub batch_size: usize,
}

impl<'a> Filler<'a> {
    /// Checks the batch size, the dataset and that the pipeline accepts it.
    pub(crate) fn new(
        ds: &'a Dataset,
        pipeline: &'a Pipeline,
        augment: Augment,
        batch_size: usize,
    ) -> Result<Filler<'a>, DataError> {
        let invalid = |what: String| Err(DataError::InvalidOption { what });
        if batch_size == 0 {
            return invalid("batch size must be at least 1".into());
        }
        ds.check()?;
        if ds.count() == 0 {
            return invalid(format!("dataset '{}' has no images to batch", ds.name));
        }
        let channels = pipeline.check_dataset(ds)?;
        Ok(Filler { ds, pipeline, channels, augment, batch_size })
    }

    /// Samples in the largest batch (no batch holds more than the whole split).
    pub(crate) fn rows(&self) -> usize {
        self.batch_size.min(self.ds.count())
    }

    pub(crate) fn batches(&self) -> usize {
        self.ds.count().div_ceil(self.batch_size)
    }

    pub(crate) fn new_buf(&self) -> Result<BatchBuf, DataError> {
        BatchBuf::try_new(self.rows(), self.pipeline.sample_len())
    }

    /// Fills `buf` with batch `k` of the epoch `plan`. Only a streamed image that no
    /// longer decodes fails (the first of the batch, in order).
    pub(crate) fn fill(
        &self,
        plan: &Plan,
        k: usize,
        buf: &mut BatchBuf,
        scratch: &mut FillScratch,
    ) -> Result<(), DataError> {
        let start = k * self.batch_size;
        let end = (start + self.batch_size).min(plan.len());
        let n = self.pipeline.sample_len();
        buf.labels.clear();
        buf.indices.clear();
        for (pos, out) in (start..end).zip(buf.images.chunks_exact_mut(n)) {
            let idx = plan.order[pos];
            let img = self.ds.images.fetch(idx, &mut scratch.stored)?;
            let draw = match plan.augmented {
                None => Draw::default(),
                Some((seed, epoch)) => {
                    let shift = plan.shifts.get(pos).map_or((0, 0), |&(dy, dx)| (dy as isize, dx as isize));
                    let mut rng = Rng::new(sample_seed(seed, epoch, idx));
                    self.augment.draw(&mut rng, (img.h, img.w), shift)
                }
            };
            self.pipeline.write(img, self.channels, &draw, &mut scratch.prep, out);
            buf.labels.push(self.ds.labels[idx]);
            buf.indices.push(idx);
        }
        Ok(())
    }
}

/// Fills batches on the calling thread.
#[derive(Debug)]
pub struct Batcher<'a> {
    filler: Filler<'a>,
    plan: Plan,
    buf: BatchBuf,
    scratch: FillScratch,
}

impl<'a> Batcher<'a> {
    /// Creates a batcher; fails if `batch_size` is 0, the dataset is empty or
    /// inconsistent, streamed from disk (feed it with [`crate::data::feed`]), the
    /// pipeline cannot take its images, or the buffer cannot be had.
    pub fn new(ds: &'a Dataset, pipeline: &'a Pipeline, batch_size: usize) -> Result<Self, DataError> {
        if ds.images.stream().is_some() {
            return Err(DataError::InvalidOption {
                what: format!("'{}' is streamed from disk: its batches come from data::feed, not a Batcher", ds.name),
            });
        }
        let filler = Filler::new(ds, pipeline, Augment::none(), batch_size)?;
        let buf = filler.new_buf()?;
        Ok(Batcher { plan: Plan::new(ds.count()), filler, buf, scratch: FillScratch::default() })
    }

    /// Augments the images of shuffled epochs (evaluation epochs never are).
    pub fn with_augment(mut self, augment: Augment) -> Self {
        self.filler.augment = augment;
        self
    }

    /// The batch size given at construction.
    pub fn batch_size(&self) -> usize {
        self.filler.batch_size
    }

    /// Batches per epoch, counting a final partial batch.
    pub fn batches_per_epoch(&self) -> usize {
        self.filler.batches()
    }

    /// A shuffled, augmented epoch whose order is determined by `(seed, epoch)`.
    pub fn epoch(&mut self, seed: u64, epoch: u64) -> Epoch<'_, 'a> {
        self.plan.shuffled(seed, epoch, &self.filler.augment);
        Epoch { batcher: self, next: 0 }
    }

    /// An epoch in dataset order, without augmentation (for evaluation).
    pub fn in_order(&mut self) -> Epoch<'_, 'a> {
        self.plan.in_order();
        Epoch { batcher: self, next: 0 }
    }
}

/// One pass over the dataset; call [`Epoch::next_batch`] until `None`.
#[derive(Debug)]
pub struct Epoch<'b, 'a> {
    batcher: &'b mut Batcher<'a>,
    next: usize,
}

impl Epoch<'_, '_> {
    /// The next batch, or `None` once every sample has been yielded.
    pub fn next_batch(&mut self) -> Option<Batch<'_>> {
        let b = &mut *self.batcher;
        if self.next >= b.filler.batches() {
            return None;
        }
        // In memory (checked by `Batcher::new`), filling cannot fail.
        b.filler.fill(&b.plan, self.next, &mut b.buf, &mut b.scratch).ok()?;
        self.next += 1;
        Some(b.buf.batch())
    }

    /// Samples not yet yielded in this epoch.
    pub fn remaining(&self) -> usize {
        let count = self.batcher.filler.ds.count();
        count - (self.next * self.batcher.filler.batch_size).min(count)
    }
}
