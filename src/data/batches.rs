//! Mini-batches for training and evaluation.
//!
//! Consumes: a [`Dataset`], a [`Prep`] built for it, a batch size, and for
//! shuffled epochs a seed and an epoch number.
//!
//! Produces: [`Batch`]es — `len × 1 × h × w` contiguous `f32` NCHW images,
//! their labels and their dataset indices — borrowed from buffers the
//! [`Batcher`] owns and refills, so no allocation happens per batch or per
//! epoch after construction.
//!
//! Guarantees: every index in `0..count` appears exactly once per epoch; all
//! batches are full except possibly the last, which holds the remainder; the
//! order depends only on `(seed, epoch)` (not on earlier epochs), so the same
//! pair always gives the same batches. Because batches borrow the batcher,
//! iteration is `while let Some(b) = epoch.next_batch() { … }` rather than a
//! `for` loop.

use crate::data::dataset::Dataset;
use crate::data::error::DataError;
use crate::data::prep::Prep;
use crate::data::rng::{mix_seed, Rng};

/// One mini-batch, borrowed from the [`Batcher`]'s buffers.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'b> {
    /// `len() × h × w` input values (one channel), NCHW.
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

/// Owns the index order and the reusable batch buffers.
#[derive(Debug)]
pub struct Batcher<'a> {
    ds: &'a Dataset,
    prep: Prep,
    batch_size: usize,
    order: Vec<usize>,
    images: Vec<f32>,
    labels: Vec<u16>,
    /// Largest random shift, in pixels, of shuffled epochs (0: none).
    shift: usize,
    /// Draws the shifts of the current epoch.
    shifts: Option<Rng>,
}

impl<'a> Batcher<'a> {
    /// Creates a batcher; fails if `batch_size` is 0, the dataset is empty or
    /// inconsistent, or `prep` was built for a different image size.
    pub fn new(ds: &'a Dataset, prep: Prep, batch_size: usize) -> Result<Self, DataError> {
        let invalid = |what: String| Err(DataError::InvalidOption { what });
        if batch_size == 0 {
            return invalid("batch size must be at least 1".into());
        }
        ds.check()?;
        let count = ds.count();
        if count == 0 {
            return invalid(format!("dataset '{}' has no images to batch", ds.name));
        }
        let size = ds.images.fixed_size();
        if ds.images.channels() != 1 || size != Some(prep.image_size()) {
            let (r, c) = prep.image_size();
            let found = size.map_or("images of varied sizes".into(), |(h, w)| format!("{h}×{w}"));
            return invalid(format!(
                "preprocessing was set up for 1-channel {r}×{c} images but dataset '{}' has {}-channel {found}",
                ds.name,
                ds.images.channels()
            ));
        }
        // No batch holds more than the whole split, whatever the batch size asked for.
        let rows = batch_size.min(count);
        let len = rows.checked_mul(prep.sample_len());
        let mut images = Vec::new();
        if len.is_none_or(|len| images.try_reserve_exact(len).is_err()) {
            return invalid(format!("cannot allocate the batch buffer: {rows} images of {} floats", prep.sample_len()));
        }
        images.resize(len.unwrap_or(0), 0f32);
        Ok(Batcher {
            ds,
            prep,
            batch_size,
            order: (0..count).collect(),
            images,
            labels: Vec::with_capacity(rows),
            shift: 0,
            shifts: None,
        })
    }

    /// Moves every image of a shuffled epoch by a random whole number of pixels in
    /// −max..=max along each axis (data augmentation; evaluation epochs never move).
    pub fn with_shift(mut self, max: usize) -> Self {
        self.shift = max;
        self
    }

    /// The batch size given at construction.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Batches per epoch, counting a final partial batch.
    pub fn batches_per_epoch(&self) -> usize {
        self.ds.count().div_ceil(self.batch_size)
    }

    /// A shuffled epoch whose order is determined by `(seed, epoch)`.
    pub fn epoch(&mut self, seed: u64, epoch: u64) -> Epoch<'_, 'a> {
        self.reset_order();
        Rng::new(mix_seed(seed, epoch)).shuffle(&mut self.order);
        // A separate stream, so that shifting never changes the order.
        self.shifts = (self.shift > 0).then(|| Rng::new(mix_seed(mix_seed(seed, epoch), 0x5157)));
        Epoch { batcher: self, pos: 0 }
    }

    /// An epoch in dataset order (for evaluation).
    pub fn in_order(&mut self) -> Epoch<'_, 'a> {
        self.reset_order();
        self.shifts = None;
        Epoch { batcher: self, pos: 0 }
    }

    fn reset_order(&mut self) {
        for (i, slot) in self.order.iter_mut().enumerate() {
            *slot = i;
        }
    }

    /// Fills the buffers with samples `order[start..end]`.
    fn fill(&mut self, start: usize, end: usize) -> Batch<'_> {
        let n = self.prep.sample_len();
        self.labels.clear();
        let indices = &self.order[start..end];
        for (&idx, out) in indices.iter().zip(self.images.chunks_exact_mut(n)) {
            let src = self.ds.images.image(idx).pixels;
            match self.shifts.as_mut() {
                Some(rng) => {
                    let span = 2 * self.shift as u64 + 1;
                    let dy = rng.below(span) as isize - self.shift as isize;
                    let dx = rng.below(span) as isize - self.shift as isize;
                    self.prep.fill_shifted(src, out, dy, dx);
                }
                None => self.prep.fill_unchecked(src, out),
            }
            self.labels.push(self.ds.labels[idx]);
        }
        Batch { images: &self.images[..indices.len() * n], labels: &self.labels, indices }
    }
}

/// One pass over the dataset; call [`Epoch::next_batch`] until `None`.
#[derive(Debug)]
pub struct Epoch<'b, 'a> {
    batcher: &'b mut Batcher<'a>,
    pos: usize,
}

impl Epoch<'_, '_> {
    /// The next batch, or `None` once every sample has been yielded.
    pub fn next_batch(&mut self) -> Option<Batch<'_>> {
        let count = self.batcher.ds.count();
        if self.pos >= count {
            return None;
        }
        let start = self.pos;
        let end = start.saturating_add(self.batcher.batch_size).min(count);
        self.pos = end;
        Some(self.batcher.fill(start, end))
    }

    /// Samples not yet yielded in this epoch.
    pub fn remaining(&self) -> usize {
        self.batcher.ds.count() - self.pos
    }
}
