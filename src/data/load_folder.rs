//! Loading an image folder into memory: choose the files of each split, decode
//! them in parallel, and assemble the two [`Dataset`]s.
//!
//! Consumes: a folder path, [`LoadOptions`] and a progress callback `(done, total)`.
//! Produces: [`Splits`] whose images are `u8`, planar, 1 channel when every file is
//! gray and 3 otherwise (gray images replicated), each stored with its shorter side
//! at most `decode.max_shorter_side` when that is set (never upscaled); `files`
//! holds each image's path; `warnings` says what was skipped.
//!
//! Bad files: by default the first file (in dataset order) that cannot be read or
//! decoded stops the load with an error naming it; with `skip_bad_images` such files
//! are left out and counted in a warning. Memory: the decoded images must fit
//! `memory_budget` (checked while decoding and for the final layout); beyond it the
//! load is refused with the size and what to do; streaming from disk is not done.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::data::dataset::{Dataset, LoadOptions, Splits};
use crate::data::decode::{decode_file, Decoded};
use crate::data::error::DataError;
use crate::data::folder::{scan, FolderScan, Tree};
use crate::data::images::ImageSet;
use crate::data::parallel::{default_threads, map_indexed};
use crate::data::split::{items, limit_stratified, val_split, Item};

/// How many example paths a warning lists.
const EXAMPLES: usize = 3;

/// Loads the folder `dir`; `name` is how the datasets are called (the path as given).
pub fn load_folder(
    dir: &Path,
    name: &str,
    opts: &LoadOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Splits, DataError> {
    let mut warnings = Vec::new();
    let (tree, train_items, test_items) = match scan(dir)? {
        FolderScan::Split { train, test, note } => {
            warnings.extend(note);
            if opts.val_split.is_some() {
                warnings
                    .push(format!("{}: --val-split is not used: the folder has its own test folder", dir.display()));
            }
            let skipped = [train.skipped.as_slice(), test.skipped.as_slice()].concat();
            warnings.extend(skipped_warning(&skipped));
            let (train_items, test_items) = (items(&train), items(&test));
            (train, train_items, test_items)
        }
        FolderScan::TrainOnly(tree) | FolderScan::Single(tree) => {
            warnings.extend(skipped_warning(&tree.skipped));
            let (train, test) = match opts.val_split {
                Some(f) => val_split(&tree, f, opts.seed)?,
                None if opts.for_eval => (Vec::new(), items(&tree)),
                None => return Err(needs_split(dir, &tree)),
            };
            (tree, train, test)
        }
    };
    let limit = |v: Vec<Item>| match opts.limit {
        Some(n) => limit_stratified(v, n),
        None => v,
    };
    let (train_items, test_items) = (limit(train_items), limit(test_items));
    let all: Vec<&Item> = train_items.iter().chain(&test_items).collect();
    let decoded = decode_all(&all, opts, progress)?;
    let bad: Vec<String> = decoded.iter().filter_map(|d| d.as_ref().err().map(ToString::to_string)).collect();
    if !bad.is_empty() {
        warnings.push(format!(
            "skipped {} image(s) that could not be read or decoded (--skip-bad-images), e.g.\n  {}",
            bad.len(),
            bad[..bad.len().min(EXAMPLES)].join("\n  ")
        ));
    }
    let colour = decoded.iter().any(|d| d.as_ref().is_ok_and(|d| d.colour));
    let channels = if colour { 3 } else { 1 };
    let split_at = train_items.len();
    let size = |part: &[Result<Decoded, DataError>]| -> u64 {
        part.iter().filter_map(|d| d.as_ref().ok()).map(|d| (channels * d.h * d.w) as u64).sum()
    };
    let (train_bytes, test_bytes) = (size(&decoded[..split_at]), size(&decoded[split_at..]));
    check_budget(dir, train_bytes + test_bytes, decoded.len(), opts)?;
    let classes: Vec<String> = tree.classes.iter().map(|c| c.name.clone()).collect();
    let (mut train, mut test) = (empty(name, channels, &classes), empty(name, channels, &classes));
    // Exact room up front: the decoded copies are freed one by one as they are moved in.
    train.images.reserve(train_bytes as usize)?;
    test.images.reserve(test_bytes as usize)?;
    for (index, (d, (file, label))) in decoded.into_iter().zip(all).enumerate() {
        let Ok(d) = d else { continue };
        let ds = if index < split_at { &mut train } else { &mut test };
        let d = if colour { d.into_rgb() } else { d };
        ds.images.push(d.h, d.w, &d.pixels)?;
        ds.labels.push(*label);
        ds.files.push(file.clone());
    }
    Ok(Splits { train, test, warnings })
}

fn empty(name: &str, channels: usize, classes: &[String]) -> Dataset {
    Dataset {
        name: name.to_string(),
        images: ImageSet::varied(channels),
        labels: Vec::new(),
        classes: classes.to_vec(),
        files: Vec::new(),
    }
}

fn needs_split(dir: &Path, tree: &Tree) -> DataError {
    DataError::Folder {
        path: dir.to_path_buf(),
        problem: format!(
            "{} class folders but no test/ folder; split them with --val-split 0.2 (20% of each class for \
             testing), or arrange them as train/<class>/… and test/<class>/…",
            tree.classes.len()
        ),
    }
}

fn skipped_warning(skipped: &[std::path::PathBuf]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let examples: Vec<String> = skipped.iter().take(EXAMPLES).map(|p| p.display().to_string()).collect();
    Some(format!(
        "skipped {} file(s) whose extension is not an image format's, e.g.\n  {}",
        skipped.len(),
        examples.join("\n  ")
    ))
}

/// Decodes every item in parallel. Per item: `Ok` decoded, or (only with
/// `skip_bad_images`) `Err` of a file that failed.
fn decode_all(
    all: &[&Item],
    opts: &LoadOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Result<Decoded, DataError>>, DataError> {
    let total = all.len();
    let used = AtomicU64::new(0);
    let budget = opts.memory_budget.unwrap_or(u64::MAX);
    let job = |i: usize| -> Result<Result<Decoded, DataError>, DataError> {
        let path = &all[i].0;
        match decode_file(path, &opts.decode) {
            Ok(d) => {
                // Gray images may become 3 channels: count them as such.
                let bytes = (3 * d.h * d.w) as u64;
                if used.fetch_add(bytes, Ordering::Relaxed) + bytes > budget {
                    return Err(too_much(path.parent().unwrap_or(path), total, None, budget));
                }
                Ok(Ok(d))
            }
            Err(e @ (DataError::BadImage { .. } | DataError::ImageTooLarge { .. } | DataError::Io { .. }))
                if opts.skip_bad_images =>
            {
                Ok(Err(e))
            }
            Err(DataError::BadImage { path, detail }) => Err(DataError::BadImage {
                path,
                detail: format!("{detail} (use --skip-bad-images to leave such files out)"),
            }),
            Err(e) => Err(e),
        }
    };
    let on_panic = |i: usize| DataError::BadImage {
        path: all.get(i).map(|it| it.0.clone()).unwrap_or_default(),
        detail: "the decoder crashed on this file".into(),
    };
    let threads = opts.threads.unwrap_or_else(default_threads);
    map_indexed(total, threads, &job, &on_panic, &|done| progress(done, total))
}

fn too_much(dir: &Path, files: usize, bytes: Option<u64>, budget: u64) -> DataError {
    DataError::TooMuchData {
        what: format!(
            "the decoded images of {} ({files} files{})",
            dir.display(),
            if bytes.is_none() { ", counted while decoding" } else { "" }
        ),
        bytes: bytes.unwrap_or(budget.saturating_add(1)),
        budget,
        hint: "use fewer images (--limit N), a net with a smaller input (images are kept at the size it needs), \
               or more memory (--memory-limit); reading images from disk during training is not supported yet"
            .into(),
    }
}

fn check_budget(dir: &Path, bytes: u64, files: usize, opts: &LoadOptions) -> Result<(), DataError> {
    match opts.memory_budget {
        Some(budget) if bytes > budget => Err(too_much(dir, files, Some(bytes), budget)),
        _ => Ok(()),
    }
}
