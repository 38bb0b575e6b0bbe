//! Loading an image folder: choose the files of each split, decode them once in
//! parallel (`crate::data::load_pass`), and assemble the two [`Dataset`]s, in memory
//! or streamed from disk.
//!
//! Consumes: a folder path, [`LoadOptions`] and a progress callback `(done, total)`.
//! Produces: [`Splits`] whose images are `u8`, planar, 1 channel when every file is
//! gray and 3 otherwise (gray images replicated), each stored with its shorter side
//! at most `decode.max_shorter_side` when that is set (never upscaled); `files`
//! holds each image's path; `warnings` says what was skipped.
//!
//! Bad files: by default the first file (in dataset order) that cannot be read or
//! decoded stops the load with an error naming it; with `skip_bad_images` such files
//! are left out and counted in a warning. Every file is decoded once either way, so a
//! streamed folder leaves out exactly the files an in-memory load does.
//!
//! Memory ([`CacheImages`]): `Auto` keeps the images in memory when their stored size
//! (every image at the folder's channel count) fits the budget (`memory_budget`, and
//! `split_budget` for the split sizes chosen), and otherwise
//! streams them: each split's [`ImageSet`] then holds a [`StreamedImages`] (file
//! names, stored sizes and the pixel counts taken during the load pass) and images are
//! decoded again when a batch needs them. `Never` always streams; `Always` refuses a
//! folder beyond the budget with the size and what to do.

use std::path::{Path, PathBuf};

use crate::data::dataset::{CacheImages, Dataset, LoadOptions, Splits};
use crate::data::decode::DecodeOptions;
use crate::data::error::DataError;
use crate::data::folder::{scan, FolderScan, Tree};
use crate::data::images::ImageSet;
use crate::data::load_pass::{self, Kept, Pass};
use crate::data::pixel_counts::PixelCounts;
use crate::data::split::{items, limit_stratified, val_split, Item};
use crate::data::streamed::{StreamReason, StreamedImages};

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
    let files: Vec<&PathBuf> = all.iter().map(|item| &item.0).collect();
    let split_at = train_items.len();
    let split_budget = opts.split_budget.map(|f| (f.0)(train_items.len(), test_items.len()));
    let budget = opts.memory_budget.unwrap_or(u64::MAX).min(split_budget.unwrap_or(u64::MAX));
    let too_much = |bytes| too_much(dir, all.len(), bytes, budget);
    let pass = load_pass::run(&files, split_at, opts, budget, &too_much, progress)?;
    let bad: Vec<String> =
        pass.kept.iter().filter_map(|k| if let Kept::Bad(e) = k { Some(e.to_string()) } else { None }).collect();
    if !bad.is_empty() {
        warnings.push(format!(
            "skipped {} image(s) that could not be read or decoded (--skip-bad-images), e.g.\n  {}",
            bad.len(),
            bad[..bad.len().min(EXAMPLES)].join("\n  ")
        ));
    }
    let colour = pass.kept.iter().any(|k| k.facts().is_some_and(|f| f.0));
    let channels = if colour { 3 } else { 1 };
    let size = |part: &[Kept]| -> u64 {
        part.iter().filter_map(Kept::facts).map(|(_, h, w, _)| (channels * h * w) as u64).sum()
    };
    let (train_bytes, test_bytes) = (size(&pass.kept[..split_at]), size(&pass.kept[split_at..]));
    let needed = train_bytes + test_bytes;
    let why = match opts.cache {
        CacheImages::Never => Some(StreamReason::Asked),
        _ if pass.dropped || needed > budget => Some(StreamReason::OverBudget { needed, budget }),
        _ => None,
    };
    let classes: Vec<String> = tree.classes.iter().map(|c| c.name.clone()).collect();
    let folder = Folder { name, channels, classes: &classes, split_at, decode: opts.decode };
    let (train, test) = match why {
        Some(_) if opts.cache == CacheImages::Always => return Err(too_much(Some(needed))),
        Some(why) => folder.streamed(pass, &all, why),
        None => folder.in_memory(pass, &all, [train_bytes, test_bytes])?,
    };
    Ok(Splits { train, test, warnings })
}

/// What both splits of a loaded folder share.
struct Folder<'a> {
    name: &'a str,
    channels: usize,
    classes: &'a [String],
    /// Files before this index are training files.
    split_at: usize,
    decode: DecodeOptions,
}

impl Folder<'_> {
    /// The splits with their pixels, `bytes` each.
    fn in_memory(&self, pass: Pass, all: &[&Item], bytes: [u64; 2]) -> Result<(Dataset, Dataset), DataError> {
        let mut splits = [empty(self.name, self.channels, self.classes), empty(self.name, self.channels, self.classes)];
        // Exact room up front: the decoded copies are freed one by one as they are moved in.
        for (ds, bytes) in splits.iter_mut().zip(bytes) {
            ds.images.reserve(bytes as usize)?;
        }
        for (index, (kept, (file, label))) in pass.kept.into_iter().zip(all).enumerate() {
            let Kept::Pixels(d) = kept else { continue };
            let ds = &mut splits[usize::from(index >= self.split_at)];
            let d = if self.channels == 3 { d.into_rgb() } else { d };
            ds.images.push(d.h, d.w, &d.pixels)?;
            ds.labels.push(*label);
            ds.files.push(file.clone());
        }
        let [train, test] = splits;
        Ok((train, test))
    }

    /// The splits streamed from disk: file names, stored sizes and pixel counts.
    fn streamed(&self, pass: Pass, all: &[&Item], why: StreamReason) -> (Dataset, Dataset) {
        let counts = pass.counts();
        let mut parts = [StreamedPart::default(), StreamedPart::default()];
        for (index, (kept, (file, label))) in pass.kept.iter().zip(all).enumerate() {
            let Some((_, h, w, source)) = kept.facts() else { continue };
            let part = &mut parts[usize::from(index >= self.split_at)];
            part.labels.push(*label);
            part.files.push(file.clone());
            // Sizes fit u32: the pixel cap keeps every side far below 2^32.
            part.sizes.push((h as u32, w as u32));
            part.largest_source = part.largest_source.max(source);
        }
        let dataset = |part: StreamedPart, counts: PixelCounts| {
            let StreamedPart { labels, files, sizes, largest_source } = part;
            let images = StreamedImages::new(files.clone(), sizes, self.decode, counts, largest_source, why);
            Dataset {
                name: self.name.to_string(),
                images: ImageSet::streamed(self.channels, images),
                labels,
                classes: self.classes.to_vec(),
                files,
            }
        };
        let ([train, test], [train_counts, test_counts]) = (parts, counts);
        (dataset(train, train_counts), dataset(test, test_counts))
    }
}

/// One streamed split being assembled.
#[derive(Default)]
struct StreamedPart {
    labels: Vec<u16>,
    files: Vec<PathBuf>,
    sizes: Vec<(u32, u32)>,
    largest_source: u64,
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

fn too_much(dir: &Path, files: usize, bytes: Option<u64>, budget: u64) -> DataError {
    DataError::TooMuchData {
        what: format!(
            "the decoded images of {} ({files} files{})",
            dir.display(),
            if bytes.is_none() { ", counted while decoding" } else { "" }
        ),
        bytes: bytes.unwrap_or(budget.saturating_add(1)),
        budget,
        hint: "let them be streamed from disk during training (--cache-images auto, the default, or never), \
               or use fewer images (--limit N), a net with a smaller input (images are kept at the size it needs), \
               or more memory (--memory-limit)"
            .into(),
    }
}
