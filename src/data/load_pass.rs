//! The load pass of an image folder: every chosen file decoded once, in parallel, keeping
//! its pixels while the folder may stay in memory, or only what streaming needs.
//!
//! Consumes: the files (training ones first, `train` of them), [`LoadOptions`] (decoding,
//! `--skip-bad-images`, `--cache-images`), the bytes the images may take in memory and
//! a progress callback.
//!
//! Produces: per file a [`Kept`] (pixels, or the facts of a file whose pixels were
//! dropped, or with `skip_bad_images` the error of a file that failed), whether the
//! folder must be streamed, and each split's [`PixelCounts`] of the files whose pixels
//! were dropped (those kept are counted by [`Pass::counts`] if the folder is streamed,
//! so that a folder that stays in memory is never counted).
//!
//! The decision is exact and does not depend on the thread count: pixels are kept while
//! the running total of what the kept images hold stays within the budget; once it does
//! not, every later file keeps only its facts. Whether the folder is streamed is decided
//! at the end from the exact stored size (every file at the folder's channel count),
//! which is at least the running total, so an in-memory folder never lost any pixels.
//! Pixel counts are integer histograms added up in shards, so their sums do not depend
//! on the order the files were decoded in, nor on which files kept their pixels.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::data::dataset::{CacheImages, LoadOptions};
use crate::data::decode::{decode_file, Decoded};
use crate::data::error::DataError;
use crate::data::parallel::{default_threads, map_indexed};
use crate::data::pixel_counts::PixelCounts;

/// What the load pass kept of one file.
pub(crate) enum Kept {
    /// The decoded image.
    Pixels(Decoded),
    /// A decoded image whose pixels were dropped (the folder is streamed).
    Facts { colour: bool, h: usize, w: usize, source_bytes: u64 },
    /// A file that failed (only with `skip_bad_images`).
    Bad(DataError),
}

impl Kept {
    /// `(colour, h, w, source_bytes)` of a decoded file.
    pub(crate) fn facts(&self) -> Option<(bool, usize, usize, u64)> {
        match self {
            Kept::Pixels(d) => Some((d.colour, d.h, d.w, d.source_bytes)),
            Kept::Facts { colour, h, w, source_bytes } => Some((*colour, *h, *w, *source_bytes)),
            Kept::Bad(_) => None,
        }
    }
}

/// The result of the load pass.
pub(crate) struct Pass {
    pub kept: Vec<Kept>,
    /// Some pixels were dropped: the folder cannot be kept in memory.
    pub dropped: bool,
    /// Pixel counts of the training and test files whose pixels were dropped.
    dropped_counts: [PixelCounts; 2],
    /// Files before this index are training files.
    train: usize,
}

impl Pass {
    /// The pixel counts of every decoded training and test file.
    pub(crate) fn counts(&self) -> [PixelCounts; 2] {
        let mut counts = self.dropped_counts.clone();
        for (i, kept) in self.kept.iter().enumerate() {
            if let Kept::Pixels(d) = kept {
                counts[usize::from(i >= self.train)].add(d.channels(), &d.pixels);
            }
        }
        counts
    }
}

/// Counts of one split, in shards so that threads rarely wait for each other.
struct Shards(Vec<Mutex<PixelCounts>>);

impl Shards {
    fn new(n: usize) -> Shards {
        Shards((0..n).map(|_| Mutex::new(PixelCounts::default())).collect())
    }

    fn add(&self, i: usize, d: &Decoded) {
        let mut shard = self.0[i % self.0.len()].lock().unwrap_or_else(|e| e.into_inner());
        shard.add(d.channels(), &d.pixels);
    }

    fn total(self) -> PixelCounts {
        let mut all = PixelCounts::default();
        for shard in self.0 {
            all.merge(&shard.into_inner().unwrap_or_else(|e| e.into_inner()));
        }
        all
    }
}

/// Decodes `files` (the first `train` of them training files) with `budget` bytes for
/// the images in memory; see the module docs. `too_much(bytes)` is the error of an
/// in-memory-only load beyond the budget (`bytes` is `None` while decoding).
pub(crate) fn run(
    files: &[&PathBuf],
    train: usize,
    opts: &LoadOptions,
    budget: u64,
    too_much: &(dyn Fn(Option<u64>) -> DataError + Sync),
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Pass, DataError> {
    let total = files.len();
    let threads = opts.threads.unwrap_or_else(default_threads);
    let used = AtomicU64::new(0);
    let dropped = AtomicBool::new(opts.cache == CacheImages::Never);
    let shards = [Shards::new(threads.max(1)), Shards::new(threads.max(1))];
    let job = |i: usize| -> Result<Kept, DataError> {
        let path = files[i];
        let d = match decode_file(path, &opts.decode) {
            Ok(d) => d,
            Err(e @ (DataError::BadImage { .. } | DataError::ImageTooLarge { .. } | DataError::Io { .. }))
                if opts.skip_bad_images =>
            {
                return Ok(Kept::Bad(e))
            }
            Err(DataError::BadImage { path, detail }) => {
                return Err(DataError::BadImage {
                    path,
                    detail: format!("{detail} (use --skip-bad-images to leave such files out)"),
                })
            }
            Err(e) => return Err(e),
        };
        let bytes = d.pixels.len() as u64;
        if !dropped.load(Ordering::Relaxed) && used.fetch_add(bytes, Ordering::Relaxed) + bytes <= budget {
            return Ok(Kept::Pixels(d));
        }
        if opts.cache == CacheImages::Always {
            return Err(too_much(None));
        }
        dropped.store(true, Ordering::Relaxed);
        shards[usize::from(i >= train)].add(i, &d);
        Ok(Kept::Facts { colour: d.colour, h: d.h, w: d.w, source_bytes: d.source_bytes })
    };
    let on_panic = |i: usize| DataError::BadImage {
        path: files.get(i).map(|p| p.to_path_buf()).unwrap_or_default(),
        detail: "the decoder crashed on this file".into(),
    };
    let kept = map_indexed(total, threads, &job, &on_panic, &|done| progress(done, total))?;
    let [train_counts, test_counts] = shards;
    let dropped_counts = [train_counts.total(), test_counts.total()];
    Ok(Pass { kept, dropped: dropped.into_inner(), dropped_counts, train })
}
