//! In-memory datasets and loading them by name.
//!
//! Consumes: a dataset name, an optional explicit directory, [`SearchRoots`]
//! and [`LoadOptions`].
//!
//! Produces: [`Splits`] — a training and a test [`Dataset`] of raw `u8`
//! pixels and labels.
//!
//! Guarantees: `images.len() == count * rows * cols`, `labels.len() ==
//! count`, every label `< classes`, both splits share `rows`/`cols`/`classes`.
//! Images and labels files must declare the same record count, and images
//! must have the size the dataset is known to have (28×28).

use std::path::Path;

use crate::data::error::DataError;
use crate::data::idx::{read_images_sized, read_labels_counted};
use crate::data::locate::{locate, DataFiles, DatasetName, SearchRoots};
use crate::data::synthetic::{generate, SyntheticConfig};

/// One split of a dataset, as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Canonical dataset name (e.g. `mnist`).
    pub name: String,
    /// `count * rows * cols` pixels, image-major, row-major, 0 = background.
    pub images: Vec<u8>,
    /// One label per image, each `< classes`.
    pub labels: Vec<u8>,
    /// Number of images.
    pub count: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Number of classes.
    pub classes: usize,
}

impl Dataset {
    /// Pixels per image (`rows * cols`).
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`, or `None` if `i >= count`.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let n = self.image_len();
        self.images.get(i * n..(i + 1) * n)
    }

    /// Verifies the invariants (buffer lengths match `count`, labels are
    /// below `classes`), for datasets assembled by hand.
    pub fn check(&self) -> Result<(), DataError> {
        let pixels = self.count.checked_mul(self.image_len());
        if pixels != Some(self.images.len()) || self.labels.len() != self.count {
            return Err(DataError::InvalidOption {
                what: format!(
                    "dataset '{}' is inconsistent: count {} of {}×{} images, but {} pixel bytes and {} labels",
                    self.name,
                    self.count,
                    self.rows,
                    self.cols,
                    self.images.len(),
                    self.labels.len()
                ),
            });
        }
        match self.labels.iter().position(|&l| l as usize >= self.classes) {
            None => Ok(()),
            Some(i) => Err(DataError::InvalidOption {
                what: format!(
                    "dataset '{}': label {} at index {i} is not below its {} classes",
                    self.name, self.labels[i], self.classes
                ),
            }),
        }
    }

    /// How many images carry each label, indexed by class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
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
    let classes = name.classes();
    check_labels(labels_path, &labels.labels, classes)?;
    Ok(Dataset {
        name: name.as_str().to_string(),
        count: images.count(),
        images: images.pixels,
        labels: labels.labels,
        rows,
        cols,
        classes,
    })
}

fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<(), DataError> {
    match labels.iter().position(|&l| l as usize >= classes) {
        None => Ok(()),
        Some(index) => {
            Err(DataError::LabelOutOfRange { path: path.to_path_buf(), index, label: labels[index], classes })
        }
    }
}
