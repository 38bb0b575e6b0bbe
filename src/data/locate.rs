//! Dataset names and finding a dataset's files on disk.
//!
//! Consumes: a dataset name, an optional explicit directory (the CLI's
//! `--data DIR`) and [`SearchRoots`] (working directory and `$NETC_DATA`,
//! passed in so tests need not touch the process environment).
//!
//! Produces: [`DataFiles`], the paths of the four standard IDX files.
//!
//! Search order: with an explicit `DIR`, only `DIR` then `DIR/<name>`;
//! otherwise `<cwd>/data/<name>` then `$NETC_DATA/<name>`. A directory
//! qualifies when it holds all four files, each raw or with `.gz` (raw is
//! preferred when both exist), as regular files (a directory, FIFO or device of
//! that name is reported, never opened). On failure the error lists the needed file
//! names and every directory examined, with the reason it was rejected.

use std::path::{Path, PathBuf};

use crate::data::cifar::{self, CifarFiles, CifarKind};
use crate::data::error::DataError;

/// Base names of the four files, in the order train images, train labels,
/// test images, test labels.
pub const FILE_NAMES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// Fashion-MNIST's class names, labels 0..9, as published in the dataset's README
/// (github.com/zalandoresearch/fashion-mnist, "Labels").
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// Environment variable naming a folder that contains `<name>/` subfolders.
pub const ENV_VAR: &str = "NETC_DATA";

/// The datasets netc knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetName {
    /// LeCun, Cortes & Burges handwritten digits.
    Mnist,
    /// Zalando's Fashion-MNIST (same format, 10 clothing classes).
    FashionMnist,
    /// Generated in memory; see `crate::data::synthetic`.
    Synthetic,
    /// CIFAR-10, binary version (see `crate::data::cifar`).
    Cifar10,
    /// CIFAR-100, binary version.
    Cifar100,
}

impl DatasetName {
    /// All datasets, in display order.
    pub const ALL: [DatasetName; 5] = [
        DatasetName::Mnist,
        DatasetName::FashionMnist,
        DatasetName::Cifar10,
        DatasetName::Cifar100,
        DatasetName::Synthetic,
    ];

    /// Parses a name (ASCII case-insensitive).
    pub fn parse(name: &str) -> Result<Self, DataError> {
        let lower = name.to_ascii_lowercase();
        Self::ALL.into_iter().find(|d| d.as_str() == lower).ok_or_else(|| DataError::UnknownDataset {
            name: name.to_string(),
            known: Self::ALL.iter().map(|d| d.as_str()).collect(),
        })
    }

    /// The canonical name, also the subdirectory name searched for.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Synthetic => "synthetic",
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Cifar100 => "cifar100",
        }
    }

    /// The CIFAR variant, for the CIFAR names.
    pub fn cifar(self) -> Option<CifarKind> {
        match self {
            DatasetName::Cifar10 => Some(CifarKind::Ten),
            DatasetName::Cifar100 => Some(CifarKind::Hundred),
            _ => None,
        }
    }

    /// Number of classes (CIFAR-100: its 100 fine classes).
    pub fn classes(self) -> usize {
        match self {
            DatasetName::Cifar100 => 100,
            _ => 10,
        }
    }

    /// Class names in label order: the digits for MNIST, the published names for
    /// Fashion-MNIST, the bars' orientations for `synthetic`.
    pub fn class_names(self) -> Vec<String> {
        match self {
            DatasetName::Mnist => (0..10).map(|d| d.to_string()).collect(),
            DatasetName::FashionMnist => FASHION_MNIST_CLASSES.iter().map(ToString::to_string).collect(),
            DatasetName::Synthetic => crate::data::synthetic::class_names(),
            DatasetName::Cifar10 => crate::data::cifar::CIFAR10_CLASSES.iter().map(ToString::to_string).collect(),
            DatasetName::Cifar100 => crate::data::cifar::CIFAR100_FINE.iter().map(ToString::to_string).collect(),
        }
    }

    /// Image size `(rows, cols)` (28×28, CIFAR 32×32).
    pub fn image_size(self) -> (usize, usize) {
        match self.cifar() {
            Some(_) => (32, 32),
            None => (28, 28),
        }
    }

    /// Whether the dataset is read from files (false for `synthetic`).
    pub fn is_file_backed(self) -> bool {
        self != DatasetName::Synthetic
    }
}

/// Places searched when no explicit directory is given.
#[derive(Debug, Clone)]
pub struct SearchRoots {
    /// Working directory; `<cwd>/data/<name>` is searched, and a relative
    /// explicit directory is resolved against it.
    pub cwd: PathBuf,
    /// Value of `$NETC_DATA`, if set and non-empty.
    pub netc_data: Option<PathBuf>,
}

impl SearchRoots {
    /// Reads the process's working directory and `$NETC_DATA`.
    pub fn from_process() -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let netc_data = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()).map(PathBuf::from);
        SearchRoots { cwd, netc_data }
    }
}

/// Paths of a dataset's four files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFiles {
    /// Directory the files were found in.
    pub dir: PathBuf,
    /// Training images (IDX3).
    pub train_images: PathBuf,
    /// Training labels (IDX1).
    pub train_labels: PathBuf,
    /// Test images (IDX3).
    pub test_images: PathBuf,
    /// Test labels (IDX1).
    pub test_labels: PathBuf,
}

/// Directories examined for `name`, in order.
pub fn candidate_dirs(name: DatasetName, explicit: Option<&Path>, roots: &SearchRoots) -> Vec<PathBuf> {
    match explicit {
        Some(dir) => {
            let dir = roots.cwd.join(dir);
            vec![dir.clone(), dir.join(name.as_str())]
        }
        None => {
            let mut dirs = vec![roots.cwd.join("data").join(name.as_str())];
            if let Some(env) = &roots.netc_data {
                dirs.push(env.join(name.as_str()));
            }
            dirs
        }
    }
}

/// Finds the four files of an IDX dataset (MNIST, Fashion-MNIST).
pub fn locate(name: DatasetName, explicit: Option<&Path>, roots: &SearchRoots) -> Result<DataFiles, DataError> {
    if !name.is_file_backed() || name.cifar().is_some() {
        return Err(DataError::InvalidOption {
            what: format!("dataset '{}' is not a set of IDX files", name.as_str()),
        });
    }
    let mut searched = Vec::new();
    for dir in candidate_dirs(name, explicit, roots) {
        match probe(&dir) {
            Ok(files) => return Ok(files),
            Err(why) => searched.push((dir, why)),
        }
    }
    if explicit.is_none() && roots.netc_data.is_none() {
        let placeholder = PathBuf::from(format!("${ENV_VAR}/{}", name.as_str()));
        searched.push((placeholder, format!("skipped: {ENV_VAR} is not set")));
    }
    Err(DataError::NotFound {
        name: name.as_str().to_string(),
        files: FILE_NAMES.iter().map(ToString::to_string).collect(),
        searched,
    })
}

/// Finds the files of CIFAR-10 or CIFAR-100: in each candidate directory, or in the
/// extracted archive's folder inside it (`cifar-10-batches-bin`, `cifar-100-binary`).
pub fn locate_cifar(name: DatasetName, explicit: Option<&Path>, roots: &SearchRoots) -> Result<CifarFiles, DataError> {
    let Some(kind) = name.cifar() else {
        return Err(DataError::InvalidOption { what: format!("dataset '{}' is not CIFAR", name.as_str()) });
    };
    let mut searched = Vec::new();
    for dir in candidate_dirs(name, explicit, roots) {
        for d in [dir.clone(), dir.join(kind.folder())] {
            match cifar::probe(kind, &d) {
                Ok(files) => return Ok(files),
                Err(why) => searched.push((d, why)),
            }
        }
    }
    if explicit.is_none() && roots.netc_data.is_none() {
        let placeholder = PathBuf::from(format!("${ENV_VAR}/{}", name.as_str()));
        searched.push((placeholder, format!("skipped: {ENV_VAR} is not set")));
    }
    Err(DataError::NotFound {
        name: name.as_str().to_string(),
        files: kind.file_names().iter().map(ToString::to_string).collect(),
        searched,
    })
}

/// Checks one directory for the four IDX files; `Err` explains why it does not qualify.
pub(crate) fn probe(dir: &Path) -> Result<DataFiles, String> {
    if !dir.exists() {
        return Err("does not exist".into());
    }
    if !dir.is_dir() {
        return Err("not a directory".into());
    }
    let mut found = Vec::with_capacity(4);
    let mut missing = Vec::new();
    let mut unusable = Vec::new();
    for stem in FILE_NAMES {
        match find_file(dir, stem) {
            Ok(p) => found.push(p),
            Err(None) => missing.push(format!("{stem}[.gz]")),
            Err(Some(why)) => unusable.push(why),
        }
    }
    if !missing.is_empty() {
        unusable.insert(0, format!("missing {}", missing.join(", ")));
    }
    if !unusable.is_empty() {
        return Err(unusable.join("; "));
    }
    let mut it = found.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Ok(DataFiles {
        dir: dir.to_path_buf(),
        train_images: next(),
        train_labels: next(),
        test_images: next(),
        test_labels: next(),
    })
}

/// The regular file `stem` or `stem.gz` in `dir`; `Err(None)` if neither exists,
/// `Err(Some(why))` if one exists but is not a regular file (a directory, a FIFO, a
/// device: never opened, so never waited on or read without end).
fn find_file(dir: &Path, stem: &str) -> Result<PathBuf, Option<String>> {
    let candidates = [dir.join(stem), dir.join(format!("{stem}.gz"))];
    let kinds: Vec<_> = candidates.iter().map(|p| std::fs::metadata(p).map(|m| m.file_type())).collect();
    for (p, kind) in candidates.iter().zip(&kinds) {
        if kind.as_ref().is_ok_and(|t| t.is_file()) {
            return Ok(p.clone());
        }
    }
    for (p, kind) in candidates.iter().zip(&kinds) {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match kind {
            Ok(t) => return Err(Some(format!("{name} is {}", crate::files::describe(*t)))),
            // A symlink loop, a permission denied: say so rather than "missing".
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Some(format!("{name}: {e}"))),
            Err(_) => {}
        }
    }
    Err(None)
}
