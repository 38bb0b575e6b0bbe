//! Datasets: the data model every source produces.
//!
//! Consumes: nothing (plain value types); [`LoadOptions`] configures
//! [`crate::data::load`], including where an image folder's images live
//! ([`CacheImages`]).
//!
//! Produces: [`Splits`] — a training and a test [`Dataset`] of `u8` images
//! ([`ImageSet`], in memory, or for an image folder possibly streamed from disk),
//! `u16` labels and class names.
//!
//! Guarantees: one label per image, every label `< classes.len()`, both splits
//! share the channel count and the class names.

use std::path::PathBuf;

use crate::data::cifar::CifarLabels;
use crate::data::decode::DecodeOptions;
use crate::data::error::DataError;
use crate::data::images::{Image, ImageSet};
use crate::data::synthetic::SyntheticConfig;

/// One split of a dataset: images, their labels and the class names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// `mnist`, `cifar10`, … or the folder's path as given.
    pub name: String,
    /// The images, `u8`, planar per image; 0 = background for the IDX datasets.
    pub images: ImageSet,
    /// One label per image, each `< classes.len()`.
    pub labels: Vec<u16>,
    /// Class names in label order ("0".."9" for MNIST, the published names of
    /// Fashion-MNIST and CIFAR, the sorted folder names of an image folder).
    pub classes: Vec<String>,
    /// The source file of each image (image folders); empty for the others.
    pub files: Vec<PathBuf>,
}

impl Dataset {
    /// Number of images.
    pub fn count(&self) -> usize {
        self.images.len()
    }

    /// Number of classes.
    pub fn class_count(&self) -> usize {
        self.classes.len()
    }

    /// Image `i` of a dataset in memory (panics if `i >= count()` or the images are
    /// streamed from disk: caller bugs; [`ImageSet::fetch`] serves both).
    pub fn image(&self, i: usize) -> Image<'_> {
        self.images.image(i)
    }

    /// Verifies the invariants (one label per image, one file per image or none,
    /// labels below the class count), for datasets assembled by hand.
    pub fn check(&self) -> Result<(), DataError> {
        let count = self.count();
        if self.labels.len() != count || !(self.files.is_empty() || self.files.len() == count) {
            return Err(DataError::InvalidOption {
                what: format!(
                    "dataset '{}' is inconsistent: {count} images, {} labels and {} file names",
                    self.name,
                    self.labels.len(),
                    self.files.len()
                ),
            });
        }
        match self.labels.iter().position(|&l| usize::from(l) >= self.classes.len()) {
            None => Ok(()),
            Some(i) => Err(DataError::InvalidOption {
                what: format!(
                    "dataset '{}': label {} at index {i} is not below its {} classes",
                    self.name,
                    self.labels[i],
                    self.classes.len()
                ),
            }),
        }
    }

    /// How many images carry each label, indexed by class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        counts
    }

    /// Keeps the first `n` images (no effect if there are fewer).
    pub fn truncate(&mut self, n: usize) {
        self.images.truncate(n);
        self.labels.truncate(n);
        self.files.truncate(n);
    }
}

/// Training and test splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splits {
    /// Training split.
    pub train: Dataset,
    /// Test split.
    pub test: Dataset,
    /// What the loader left out or did not use, for the user (files skipped, …).
    pub warnings: Vec<String>,
}

/// Options for [`crate::data::load`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions<'a> {
    /// Keep only the first N records of each split (for quick runs). Must be
    /// at least 1. IDX and CIFAR files are still checked whole (length, gzip
    /// checksum); an image folder keeps the first N of a round-robin over its classes.
    pub limit: Option<usize>,
    /// Parameters of the `synthetic` dataset (ignored for file datasets).
    pub synthetic: SyntheticConfig,
    /// Image folders with one tree: the fraction of each class held out for testing.
    pub val_split: Option<f64>,
    /// Seed of the `val_split` draw.
    pub seed: u64,
    /// CIFAR-100: fine (100) or coarse (20) labels.
    pub cifar_labels: CifarLabels,
    /// Pixel cap and downscaling of decoded image files.
    pub decode: DecodeOptions,
    /// Image folders: leave out files that cannot be read or decoded (with a
    /// warning) instead of failing.
    pub skip_bad_images: bool,
    /// Bytes the decoded images of an image folder may take in memory (None: no limit).
    pub memory_budget: Option<u64>,
    /// The same, for a caller whose other needs depend on the split sizes: called with
    /// the sizes (training, test) once the folder's files are chosen; the smaller of
    /// this and `memory_budget` applies.
    pub split_budget: Option<SplitBudget<'a>>,
    /// Whether an image folder's decoded images are kept in memory or streamed from
    /// disk during training (`--cache-images`).
    pub cache: CacheImages,
    /// Decoding threads (None: all the machine has).
    pub threads: Option<usize>,
    /// The data is only evaluated: an image folder with one tree and no
    /// `val_split` is all test split (the training split is empty).
    pub for_eval: bool,
}

/// What an image folder's decoded images may take given its split sizes (training,
/// test); see [`LoadOptions::split_budget`].
#[derive(Clone, Copy)]
pub struct SplitBudget<'a>(pub &'a (dyn Fn(usize, usize) -> u64 + Sync));

impl std::fmt::Debug for SplitBudget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SplitBudget(..)")
    }
}

/// Where an image folder's decoded images are kept (`--cache-images`); IDX, CIFAR and
/// synthetic data are always in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheImages {
    /// In memory when they fit [`LoadOptions::memory_budget`], else streamed from disk.
    #[default]
    Auto,
    /// In memory; a folder whose images do not fit the budget is refused.
    Always,
    /// Streamed from disk whatever their size: only their sizes, file names and
    /// pixel counts stay in memory, and each image is decoded again when a batch needs it.
    Never,
}
