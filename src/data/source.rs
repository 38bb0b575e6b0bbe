//! Loading a dataset by name or path: the entry point of the data module.
//!
//! Consumes: a dataset name (`mnist`, `fashion-mnist`, `cifar10`, `cifar100`,
//! `synthetic`) or a path, an optional explicit directory (`--data DIR`, for names),
//! [`SearchRoots`] and [`LoadOptions`].
//!
//! Produces: [`Splits`].
//!
//! Resolution: a known name (ASCII case-insensitive) is located as described in
//! [`mod@crate::data::locate`]; anything else is a path (relative to the working
//! directory; write `./mnist` for a folder that is called like a dataset). A
//! directory holding the four IDX files is read as IDX (class names those of
//! Fashion-MNIST when the folder's name contains "fashion", else the digits); one
//! holding CIFAR-10 or CIFAR-100 binaries (directly or in the extracted archive's
//! folder) as CIFAR; any other directory as an image folder
//! ([`mod@crate::data::folder`]).

use std::path::Path;

use crate::data::cifar::{self, CifarKind};
use crate::data::dataset::{Dataset, LoadOptions, Splits};
use crate::data::error::DataError;
use crate::data::idx::{read_images_sized, read_labels_counted};
use crate::data::images::ImageSet;
use crate::data::load_folder::load_folder;
use crate::data::locate::{self, locate, locate_cifar, DataFiles, DatasetName, SearchRoots};
use crate::data::synthetic::generate;

/// Loads both splits of the named dataset or of the folder at a path.
///
/// `dir` is the user's explicit directory for a name, if any; see
/// [`mod@crate::data::locate`] for the search order.
pub fn load(name: &str, dir: Option<&Path>, roots: &SearchRoots, opts: &LoadOptions) -> Result<Splits, DataError> {
    load_with_progress(name, dir, roots, opts, &|_, _| {})
}

/// [`load`], calling `progress(done, total)` as image files are decoded (from the
/// decoding threads; never for IDX, CIFAR or synthetic data).
pub fn load_with_progress(
    name: &str,
    dir: Option<&Path>,
    roots: &SearchRoots,
    opts: &LoadOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Splits, DataError> {
    if opts.limit == Some(0) {
        return Err(DataError::InvalidOption { what: "limit must be at least 1".into() });
    }
    if let Some(f) = opts.val_split {
        crate::data::split::check_fraction(f)?;
    }
    let known = match DatasetName::parse(name) {
        Ok(known) => known,
        Err(unknown) => {
            let path = roots.cwd.join(name);
            return match std::fs::metadata(&path) {
                Ok(_) => load_path(&path, name, opts, progress),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(unknown),
                Err(e) => Err(DataError::io(&path, e)),
            };
        }
    };
    if !known.is_file_backed() {
        let mut cfg = opts.synthetic.clone();
        if let Some(l) = opts.limit {
            cfg.train = cfg.train.min(l);
            cfg.test = cfg.test.min(l);
        }
        return generate(&cfg);
    }
    if known.cifar().is_some() {
        let files = locate_cifar(known, dir, roots)?;
        return cifar::load(&files, known.as_str(), opts.cifar_labels, opts.limit);
    }
    let files = locate(known, dir, roots)?;
    load_files(known, &files, opts.limit)
}

/// Loads the dataset at `path` (IDX files, CIFAR binaries or an image folder).
fn load_path(
    path: &Path,
    name: &str,
    opts: &LoadOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Splits, DataError> {
    if !path.is_dir() {
        return Err(DataError::Folder {
            path: path.to_path_buf(),
            problem: "not a folder; give a folder of class folders of images, of IDX files or of CIFAR binaries".into(),
        });
    }
    if let Ok(files) = locate::probe(path) {
        let lower = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        let kind = if lower.contains("fashion") { DatasetName::FashionMnist } else { DatasetName::Mnist };
        let mut splits = load_files(kind, &files, opts.limit)?;
        splits.train.name = name.to_string();
        splits.test.name = name.to_string();
        return Ok(splits);
    }
    for kind in [CifarKind::Ten, CifarKind::Hundred] {
        for dir in [path.to_path_buf(), path.join(kind.folder())] {
            if let Ok(files) = cifar::probe(kind, &dir) {
                return cifar::load(&files, name, opts.cifar_labels, opts.limit);
            }
        }
    }
    load_folder(path, name, opts, progress)
}

/// Loads both splits from already-located IDX files.
pub fn load_files(name: DatasetName, files: &DataFiles, limit: Option<usize>) -> Result<Splits, DataError> {
    let train = load_split(name, &files.train_images, &files.train_labels, limit)?;
    let test = load_split(name, &files.test_images, &files.test_labels, limit)?;
    Ok(Splits { train, test, warnings: Vec::new() })
}

/// Loads one split from an IDX images file and labels file, checking that the
/// counts agree, the image size is right (from the header, before the payload is
/// read) and every label is in range.
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
fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<(), DataError> {
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
