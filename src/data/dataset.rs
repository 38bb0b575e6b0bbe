//! In-memory datasets and loading them by name.
//!
//! Consumes: a dataset name, an optional explicit directory, [`SearchRoots`]
//! and [`LoadOptions`].
//!
//! Produces: [`Splits`] — a training and a test [`Dataset`] of `u8` images
//! ([`ImageSet`]), `u16` labels and class names.
//!
//! Guarantees: one label per image, every label `< classes.len()`, both splits
//! share the channel count and the class names.
//! Images and labels files must declare the same record count, and images
//! must have the size the dataset is known to have (28×28).

use std::path::{Path, PathBuf};

use crate::data::error::DataError;
use crate::data::idx::{read_images_sized, read_labels_counted};
use crate::data::images::{Image, ImageSet};
use crate::data::locate::{locate, DataFiles, DatasetName, SearchRoots};
use crate::data::synthetic::{generate, SyntheticConfig};

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

    /// Image `i` (panics if `i >= count()`: a caller bug).
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
}

/// Options for [`load`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Keep only the first N records of each split (for quick runs). Must be
    /// at least 1. The files are still checked whole (length, gzip checksum).
    pub limit: Option<usize>,
    /// Parameters of the `synthetic` dataset (ignored for file datasets).
    pub synthetic: SyntheticConfig,
}

/// Loads both splits of the named dataset.
///
/// `dir` is the user's explicit directory, if any; see
/// [`mod@crate::data::locate`] for the search order.
pub fn load(name: &str, dir: Option<&Path>, roots: &SearchRoots, opts: &LoadOptions) -> Result<Splits, DataError> {
    let name = DatasetName::parse(name)?;
    if opts.limit == Some(0) {
        return Err(DataError::InvalidOption { what: "limit must be at least 1".into() });
    }
    if !name.is_file_backed() {
        let mut cfg = opts.synthetic.clone();
        if let Some(l) = opts.limit {
            cfg.train = cfg.train.min(l);
            cfg.test = cfg.test.min(l);
        }
        return generate(&cfg);
    }
    let files = locate(name, dir, roots)?;
    load_files(name, &files, opts.limit)
}

/// Loads both splits from already-located files.
pub fn load_files(name: DatasetName, files: &DataFiles, limit: Option<usize>) -> Result<Splits, DataError> {
    let train = load_split(name, &files.train_images, &files.train_labels, limit)?;
    let test = load_split(name, &files.test_images, &files.test_labels, limit)?;
    Ok(Splits { train, test })
}

/// Loads one split from an images file and a labels file, checking that the
/// counts agree, the image size is right and every label is in range.
pub fn load_split(
    name: DatasetName,
    images_path: &Path,
    labels_path: &Path,
    limit: Option<usize>,
) -> Result<Dataset, DataError> {
    let (rows, cols) = name.image_size();
    let images = read_images_sized(images_path, limit, (rows, cols))?;
    let labels = read_labels_counted(labels_path, limit, images.declared, images_path)?;
    let classes = name.class_names();
    check_labels(labels_path, &labels.labels, classes.len())?;
    Ok(Dataset {
        name: name.as_str().to_string(),
        images: ImageSet::fixed(1, rows, cols, images.pixels)?,
        labels: labels.labels.into_iter().map(u16::from).collect(),
        classes,
        files: Vec::new(),
    })
}

/// Refuses the first label not below `classes`.
pub(crate) fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<(), DataError> {
    match labels.iter().position(|&l| l as usize >= classes) {
        None => Ok(()),
        Some(index) => Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label: u16::from(labels[index]),
            classes,
        }),
    }
}
