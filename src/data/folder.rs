//! Scanning an image folder: its layout, class names and image files.
//!
//! Consumes: a directory. Produces: a [`FolderScan`]: the split folders found and,
//! per split, the classes (sorted folder names) with their image files.
//!
//! Layouts (those of torchvision's `ImageFolder` and Keras'
//! `image_dataset_from_directory`):
//! - `DIR/train/<class>/…` with `DIR/test/<class>/…` and/or `DIR/val/<class>/…`:
//!   the test pass uses `test/` when it exists, else `val/` (ImageNet-style releases
//!   ship only `val/`); a `val/` beside `test/` is ignored, with a note.
//! - `DIR/<class>/…`: one tree, split later with `--val-split` (or all of it the
//!   test set for `--eval`).
//!
//! Rules: class names are the folder names sorted by their bytes (Python's
//! `sorted`); a class folder is searched recursively, symlinks followed, files in
//! name order before subfolders in name order. Names starting with `.` (`.DS_Store`,
//! `.git`) are skipped silently; files whose extension is not an image format's
//! ([`crate::data::decode::IMAGE_EXTENSIONS`]) are skipped and counted, as
//! torchvision does; files directly in `DIR` (a README, a CSV) are ignored.
//!
//! Errors, each naming the directory: unreadable directories, a symlink loop, a class
//! folder without images, no class folders at all, more than 65,536 classes, and
//! train and test splits whose class sets differ.

use std::fs;
use std::path::{Path, PathBuf};

use crate::data::decode::has_image_extension;
use crate::data::error::DataError;

/// Deepest nesting searched inside a class folder.
const MAX_DEPTH: usize = 64;

/// One class: its name and image files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassFiles {
    pub name: String,
    pub files: Vec<PathBuf>,
}

/// The classes of one split folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub dir: PathBuf,
    pub classes: Vec<ClassFiles>,
    /// Files skipped because their extension is not an image format's.
    pub skipped: Vec<PathBuf>,
}

/// What a folder holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderScan {
    /// `train/` with `test/` (or `val/`); `note` mentions an ignored `val/`.
    Split { train: Tree, test: Tree, note: Option<String> },
    /// `train/` only (to be split with `--val-split`).
    TrainOnly(Tree),
    /// One tree of class folders.
    Single(Tree),
}

fn folder_error(path: &Path, problem: impl Into<String>) -> DataError {
    DataError::Folder { path: path.to_path_buf(), problem: problem.into() }
}

/// Whether `dir/name` is a directory (following symlinks).
fn is_dir(dir: &Path, name: &str) -> bool {
    fs::metadata(dir.join(name)).is_ok_and(|m| m.is_dir())
}

/// Scans `dir`, choosing the layout by its `train`/`test`/`val` subfolders.
pub fn scan(dir: &Path) -> Result<FolderScan, DataError> {
    let (train, test, val) = (is_dir(dir, "train"), is_dir(dir, "test"), is_dir(dir, "val"));
    if !train {
        return Ok(FolderScan::Single(scan_tree(dir)?));
    }
    let train_tree = scan_tree(&dir.join("train"))?;
    let test_name = match (test, val) {
        (true, _) => "test",
        (false, true) => "val",
        (false, false) => return Ok(FolderScan::TrainOnly(train_tree)),
    };
    let test_tree = scan_tree(&dir.join(test_name))?;
    same_classes(&train_tree, &test_tree)?;
    let note = (test && val).then(|| format!("{}: using test/ for the test pass; val/ is not used", dir.display()));
    Ok(FolderScan::Split { train: train_tree, test: test_tree, note })
}

/// Entries of `dir` sorted by name bytes, without hidden ones.
fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, DataError> {
    let unreadable = |e: std::io::Error| folder_error(dir, format!("cannot read the directory: {e}"));
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name();
        if name.as_encoded_bytes().first() == Some(&b'.') {
            continue;
        }
        entries.push((name, entry.path()));
    }
    entries.sort_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
    Ok(entries.into_iter().map(|(n, p)| (n.to_string_lossy().into_owned(), p)).collect())
}

/// Whether `path` is a directory, following symlinks; a dangling or looping
/// symlink or an unreadable entry is an error naming it.
fn entry_is_dir(path: &Path) -> Result<bool, DataError> {
    match fs::metadata(path) {
        Ok(m) => Ok(m.is_dir()),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            Err(folder_error(path, "symlink loop (the link leads back to itself)"))
        }
        Err(e) => Err(folder_error(path, format!("cannot read: {e}"))),
    }
}

/// Scans one tree of class folders.
pub fn scan_tree(dir: &Path) -> Result<Tree, DataError> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(folder_error(dir, "not a directory")),
        Err(e) => return Err(folder_error(dir, format!("cannot read: {e}"))),
    }
    let mut tree = Tree { dir: dir.to_path_buf(), classes: Vec::new(), skipped: Vec::new() };
    let mut loose_images = 0;
    for (name, path) in sorted_entries(dir)? {
        if !entry_is_dir(&path)? {
            loose_images += usize::from(has_image_extension(&path));
            continue;
        }
        let mut files = Vec::new();
        let mut skipped = Vec::new();
        let ancestors = vec![canonical(&path)?];
        walk(&path, &ancestors, &mut files, &mut skipped)?;
        if files.is_empty() {
            let found = match skipped.first() {
                Some(f) => format!(
                    "; it has {} file(s) that are not images, e.g. {}",
                    skipped.len(),
                    f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
                ),
                None => String::new(),
            };
            return Err(folder_error(
                &path,
                format!("class folder '{name}' holds no images{found}; add images or remove the folder"),
            ));
        }
        tree.skipped.append(&mut skipped);
        tree.classes.push(ClassFiles { name, files });
    }
    if tree.classes.is_empty() {
        let loose = if loose_images > 0 {
            format!("; it holds {loose_images} image file(s) directly: put each class's images in a subfolder named after the class")
        } else {
            String::new()
        };
        return Err(folder_error(
            dir,
            format!(
                "no class folders: expected DIR/<class>/<images> or DIR/train/<class>/… with DIR/test/<class>/…{loose}"
            ),
        ));
    }
    if tree.classes.len() > usize::from(u16::MAX) + 1 {
        return Err(folder_error(dir, format!("{} class folders, more than the 65,536 supported", tree.classes.len())));
    }
    Ok(tree)
}

/// The image files under `dir`, in the order of a class folder's search (files by name,
/// then subfolders by name, recursively, symlinks followed, loops refused), and the files
/// skipped because their extension is not an image format's. For `netc predict DIR`.
pub fn image_files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), DataError> {
    let (mut files, mut skipped) = (Vec::new(), Vec::new());
    walk(dir, &[canonical(dir)?], &mut files, &mut skipped)?;
    Ok((files, skipped))
}

fn canonical(path: &Path) -> Result<PathBuf, DataError> {
    fs::canonicalize(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => folder_error(path, "symlink loop (the link leads back to itself)"),
        _ => folder_error(path, format!("cannot read: {e}")),
    })
}

/// Collects the image files under `dir` (files first, then subfolders, by name).
/// `ancestors` are the canonical paths of the folders above, to detect loops.
fn walk(
    dir: &Path,
    ancestors: &[PathBuf],
    files: &mut Vec<PathBuf>,
    skipped: &mut Vec<PathBuf>,
) -> Result<(), DataError> {
    if ancestors.len() > MAX_DEPTH {
        return Err(folder_error(dir, format!("folders nested more than {MAX_DEPTH} deep")));
    }
    let mut subdirs = Vec::new();
    for (_, path) in sorted_entries(dir)? {
        if entry_is_dir(&path)? {
            subdirs.push(path);
        } else if has_image_extension(&path) {
            files.push(path);
        } else {
            skipped.push(path);
        }
    }
    for sub in subdirs {
        let real = canonical(&sub)?;
        if ancestors.contains(&real) {
            return Err(folder_error(&sub, format!("symlink loop: this folder leads back to {}", real.display())));
        }
        let mut chain = ancestors.to_vec();
        chain.push(real);
        walk(&sub, &chain, files, skipped)?;
    }
    Ok(())
}

/// Refuses train and test trees whose class sets differ.
fn same_classes(train: &Tree, test: &Tree) -> Result<(), DataError> {
    let names = |t: &Tree| t.classes.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    let (a, b) = (names(train), names(test));
    if a == b {
        return Ok(());
    }
    let only = |x: &[String], y: &[String]| x.iter().filter(|n| !y.contains(n)).cloned().collect::<Vec<_>>();
    let list = |v: Vec<String>| if v.is_empty() { "none".to_string() } else { v.join(", ") };
    let parent = train.dir.parent().unwrap_or(&train.dir);
    Err(folder_error(
        parent,
        format!(
            "the training and test folders have different classes: only in {}: {}; only in {}: {}; \
             both need the same class folders (labels are their sorted order)",
            train.dir.display(),
            list(only(&a, &b)),
            test.dir.display(),
            list(only(&b, &a))
        ),
    ))
}
