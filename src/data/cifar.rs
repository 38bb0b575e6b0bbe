//! CIFAR-10 and CIFAR-100, binary versions (Krizhevsky 2009, "Learning Multiple
//! Layers of Features from Tiny Images"; files and format as described on the
//! dataset's page, www.cs.toronto.edu/~kriz/cifar.html).
//!
//! Consumes: a directory holding CIFAR-10's `data_batch_1.bin` … `data_batch_5.bin`
//! and `test_batch.bin` (records of 1 label byte + 3,072 pixel bytes), or
//! CIFAR-100's `train.bin` and `test.bin` (coarse label byte, fine label byte, 3,072
//! pixel bytes). The pixels are 32×32 planar RGB, rows top to bottom: exactly the
//! [`ImageSet`] layout, so records are copied as they are.
//!
//! Produces: [`Splits`] of 3-channel 32×32 images with the class names from
//! `batches.meta.txt` / `fine_label_names.txt` / `coarse_label_names.txt` beside the
//! files when present (one name a line), else the published names below.
//!
//! Guarantees: a file's length is checked against the record size before anything
//! is read (a whole, non-zero number of records, at most 1 GiB); reads are bounded
//! by that length; every label is checked against the class count; the name files
//! must hold exactly the class count of names. Every failure names the file.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::data::dataset::{Dataset, Splits};
use crate::data::error::DataError;
use crate::data::idx::MAX_PAYLOAD_BYTES;
use crate::data::images::ImageSet;
use crate::files::{open_regular, read_capped};

/// Pixel bytes of one record (3 × 32 × 32).
pub const PIXELS: usize = 3 * 32 * 32;
/// CIFAR-10's training files, in order.
pub const CIFAR10_TRAIN: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
/// CIFAR-10's test file.
pub const CIFAR10_TEST: &str = "test_batch.bin";
/// CIFAR-100's files.
pub const CIFAR100_TRAIN: &str = "train.bin";
pub const CIFAR100_TEST: &str = "test.bin";
/// The folder names of the extracted archives.
pub const CIFAR10_FOLDER: &str = "cifar-10-batches-bin";
pub const CIFAR100_FOLDER: &str = "cifar-100-binary";

/// CIFAR-10's class names, labels 0–9 (the dataset page; `batches.meta.txt`).
pub const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// CIFAR-100's 20 superclasses, coarse labels 0–19 (`coarse_label_names.txt`).
pub const CIFAR100_COARSE: [&str; 20] = [
    "aquatic_mammals",
    "fish",
    "flowers",
    "food_containers",
    "fruit_and_vegetables",
    "household_electrical_devices",
    "household_furniture",
    "insects",
    "large_carnivores",
    "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores",
    "medium_mammals",
    "non-insect_invertebrates",
    "people",
    "reptiles",
    "small_mammals",
    "trees",
    "vehicles_1",
    "vehicles_2",
];

/// CIFAR-100's 100 classes, fine labels 0–99 (`fine_label_names.txt`).
#[rustfmt::skip]
pub const CIFAR100_FINE: [&str; 100] = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
];

/// Which CIFAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarKind {
    Ten,
    Hundred,
}

/// CIFAR-100's two label sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CifarLabels {
    /// The 100 classes (default).
    #[default]
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// The files of a CIFAR directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarFiles {
    pub kind: CifarKind,
    pub dir: PathBuf,
    pub train: Vec<PathBuf>,
    pub test: PathBuf,
}

impl CifarKind {
    /// The file names a directory must hold.
    pub fn file_names(self) -> Vec<&'static str> {
        match self {
            CifarKind::Ten => CIFAR10_TRAIN.iter().copied().chain([CIFAR10_TEST]).collect(),
            CifarKind::Hundred => vec![CIFAR100_TRAIN, CIFAR100_TEST],
        }
    }

    /// The extracted archive's folder name.
    pub fn folder(self) -> &'static str {
        match self {
            CifarKind::Ten => CIFAR10_FOLDER,
            CifarKind::Hundred => CIFAR100_FOLDER,
        }
    }

    fn record(self) -> usize {
        match self {
            CifarKind::Ten => 1 + PIXELS,
            CifarKind::Hundred => 2 + PIXELS,
        }
    }
}

/// The files of `kind` in `dir`; `Err` says why `dir` does not qualify.
pub fn probe(kind: CifarKind, dir: &Path) -> Result<CifarFiles, String> {
    if !dir.is_dir() {
        return Err(if dir.exists() { "not a directory" } else { "does not exist" }.into());
    }
    let names = kind.file_names();
    let mut missing = Vec::new();
    for n in &names {
        match std::fs::metadata(dir.join(n)) {
            Ok(m) if m.is_file() => {}
            Ok(m) => return Err(format!("{n} is {}", crate::files::describe(m.file_type()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(*n),
            Err(e) => return Err(format!("{n}: {e}")),
        }
    }
    if !missing.is_empty() {
        return Err(format!("missing {}", missing.join(", ")));
    }
    let mut paths: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    let test = paths.pop().unwrap_or_default();
    Ok(CifarFiles { kind, dir: dir.to_path_buf(), train: paths, test })
}

/// Loads both splits; `limit` keeps the first records of each split.
pub fn load(files: &CifarFiles, name: &str, labels: CifarLabels, limit: Option<usize>) -> Result<Splits, DataError> {
    let classes = class_names(files, labels)?;
    // Every file is checked before any is read.
    let record = files.kind.record();
    for path in files.train.iter().chain([&files.test]) {
        check_length(path, record)?;
    }
    let mut train = empty(name, &classes);
    for path in &files.train {
        let room = limit.map_or(usize::MAX, |l| l.saturating_sub(train.count()));
        if room == 0 {
            break;
        }
        read_records(path, files.kind, labels, room, &mut train)?;
    }
    let mut test = empty(name, &classes);
    read_records(&files.test, files.kind, labels, limit.unwrap_or(usize::MAX), &mut test)?;
    Ok(Splits { train, test, warnings: Vec::new() })
}

fn empty(name: &str, classes: &[String]) -> Dataset {
    Dataset {
        name: name.to_string(),
        images: ImageSet::fixed(3, 32, 32, Vec::new()).expect("3×32×32 is a valid size"),
        labels: Vec::new(),
        classes: classes.to_vec(),
        files: Vec::new(),
    }
}

/// The record count of `path`, from its length.
fn check_length(path: &Path, record: usize) -> Result<u64, DataError> {
    let (_, len) = open_regular(path).map_err(|e| DataError::io(path, e))?;
    let fail = |detail: String| DataError::RecordFile { path: path.to_path_buf(), len, record, detail };
    if len > MAX_PAYLOAD_BYTES {
        return Err(fail(format!(
            " (and it is above the {} byte limit)",
            crate::data::error::grouped(MAX_PAYLOAD_BYTES)
        )));
    }
    if len == 0 || len % record as u64 != 0 {
        let hint = match (len % (1 + PIXELS) as u64 == 0, len % (2 + PIXELS) as u64 == 0) {
            (true, false) if record != 1 + PIXELS => "; it looks like a CIFAR-10 file",
            (false, true) if record != 2 + PIXELS => "; it looks like a CIFAR-100 file",
            _ => "; the file is truncated or not a CIFAR binary file",
        };
        return Err(fail(hint.into()));
    }
    Ok(len / record as u64)
}

/// Appends up to `max` records of `path` to `ds`.
fn read_records(
    path: &Path,
    kind: CifarKind,
    which: CifarLabels,
    max: usize,
    ds: &mut Dataset,
) -> Result<(), DataError> {
    let record = kind.record();
    let (file, len) = open_regular(path).map_err(|e| DataError::io(path, e))?;
    let count = ((len / record as u64) as usize).min(max);
    let want = count * record;
    let bytes = read_capped(file.take(want as u64), want as u64).map_err(|e| DataError::io(path, e))?;
    if bytes.len() < want {
        // The file shrank after its length was checked.
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: want as u64,
            found: bytes.len() as u64,
            gzip: false,
        });
    }
    let classes = ds.classes.len();
    ds.images.reserve(count * PIXELS)?;
    for (index, rec) in bytes.chunks_exact(record).enumerate() {
        let label = match (kind, which) {
            (CifarKind::Ten, _) | (CifarKind::Hundred, CifarLabels::Coarse) => rec[0],
            (CifarKind::Hundred, CifarLabels::Fine) => rec[1],
        };
        if usize::from(label) >= classes {
            return Err(DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                index,
                label: u16::from(label),
                classes,
            });
        }
        ds.images.push(32, 32, &rec[record - PIXELS..])?;
        ds.labels.push(u16::from(label));
    }
    Ok(())
}

/// The class names: from the name file beside the data when present, else published.
fn class_names(files: &CifarFiles, labels: CifarLabels) -> Result<Vec<String>, DataError> {
    let (file, published): (&str, &[&str]) = match (files.kind, labels) {
        (CifarKind::Ten, _) => ("batches.meta.txt", &CIFAR10_CLASSES),
        (CifarKind::Hundred, CifarLabels::Fine) => ("fine_label_names.txt", &CIFAR100_FINE),
        (CifarKind::Hundred, CifarLabels::Coarse) => ("coarse_label_names.txt", &CIFAR100_COARSE),
    };
    let path = files.dir.join(file);
    if !path.exists() {
        return Ok(published.iter().map(ToString::to_string).collect());
    }
    let (f, _) = open_regular(&path).map_err(|e| DataError::io(&path, e))?;
    let bytes = read_capped(f, 1 << 16).map_err(|e| DataError::io(&path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if names.len() != published.len() || bytes.len() > 1 << 16 {
        return Err(DataError::Folder {
            path,
            problem: format!(
                "has {} class names, expected {} (one a line); fix or remove it to use the published names",
                names.len(),
                published.len()
            ),
        });
    }
    Ok(names)
}
