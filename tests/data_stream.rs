//! Image folders streamed from disk (`--cache-images never`, or a folder beyond the
//! memory budget) against the same folders in memory, the oracle: the same images, the
//! same pixel statistics and pipeline, and bit-identical batches with augmentation on
//! any number of workers. Also when the budget switches to streaming, bad files left
//! out alike at load time, and files that change after the load, named in the error.
//! The folders are written at test time (seeded random pictures).

mod data_support;

use std::path::Path;

use data_support::random_folder::{write_folder, write_picture, Spec};
use data_support::TempDir;
use netc::data::prep::{channel_stats, Channels};
use netc::data::{
    feed, load, mean_std, Augment, CacheImages, DataError, Dataset, DecodeOptions, FeedSpec, LoadOptions, Pipeline,
    PrepOptions, SearchRoots, Splits, StreamReason,
};

fn load_folder(root: &Path, cache: CacheImages, budget: Option<u64>) -> Result<Splits, DataError> {
    let roots = SearchRoots { cwd: root.to_path_buf(), netc_data: None };
    let opts = LoadOptions {
        // Larger files are shrunk to a shorter side of 18, as the loader does for a net.
        decode: DecodeOptions { max_shorter_side: Some(18), ..DecodeOptions::default() },
        cache,
        memory_budget: budget,
        skip_bad_images: true,
        ..LoadOptions::default()
    };
    load(root.to_str().unwrap(), None, &roots, &opts)
}

fn folder(tag: &str, gray_only: bool) -> TempDir {
    let dir = TempDir::new(tag);
    write_folder(dir.path(), &Spec { classes: 3, train: 31, test: 12, gray_only });
    dir
}

/// Every batch of three epochs (shuffled, in order, shuffled): indices, labels, bits.
type Epochs = Vec<Vec<(Vec<usize>, Vec<u16>, Vec<u32>)>>;

fn fed(ds: &Dataset, p: &Pipeline, augment: Augment, batch: usize, workers: usize) -> Result<Epochs, DataError> {
    let spec = FeedSpec { ds, pipeline: p, augment, batch, workers };
    feed(&spec, |f| {
        let mut all = Vec::new();
        for epoch in [Some(0), None, Some(1)] {
            let mut e = match epoch {
                Some(k) => f.epoch(42, k),
                None => f.in_order(),
            };
            let mut out = Vec::new();
            while let Some(fed) = e.next_batch()? {
                let x = fed.batch();
                out.push((x.indices.to_vec(), x.labels.to_vec(), x.images.iter().map(|v| v.to_bits()).collect()));
            }
            all.push(out);
        }
        Ok(all)
    })?
}

/// The same images in both, image by image.
fn assert_same_images(memory: &Dataset, streamed: &Dataset) {
    assert_eq!(memory.labels, streamed.labels);
    assert_eq!(memory.files, streamed.files);
    assert_eq!(memory.images.channels(), streamed.images.channels());
    assert_eq!(memory.images.fixed_size(), streamed.images.fixed_size());
    let mut buf = Vec::new();
    for i in 0..memory.count() {
        let img = streamed.images.fetch(i, &mut buf).unwrap();
        assert_eq!(img, memory.image(i), "{}", memory.files[i].display());
    }
}

#[test]
fn a_streamed_folder_feeds_the_batches_of_the_folder_in_memory() {
    let dir = folder("stream-same", false);
    let memory = load_folder(dir.path(), CacheImages::Auto, None).unwrap();
    let streamed = load_folder(dir.path(), CacheImages::Never, None).unwrap();
    assert!(memory.train.images.stream().is_none());
    assert_eq!(streamed.train.images.stream().map(|s| s.why()), Some(StreamReason::Asked));
    assert!(streamed.train.images.pixels().is_empty());
    assert_eq!(memory.train.images.channels(), 3, "a folder with colour files is 3-channel");
    assert_same_images(&memory.train, &streamed.train);
    assert_same_images(&memory.test, &streamed.test);

    // Resized and cropped to 16×16, every augmentation, workers 0 to 3.
    let input = (3, 16, 16);
    let p = Pipeline::build(&PrepOptions::default(), &memory.train, input).unwrap();
    assert_eq!(Pipeline::build(&PrepOptions::default(), &streamed.train, input).unwrap(), p, "same mean and std");
    let augment: Augment = "rrc=0.3-1,shift=1,crop=2,flip".parse().unwrap();
    for (memory, streamed) in [(&memory.train, &streamed.train), (&memory.test, &streamed.test)] {
        let want = fed(memory, &p, augment, 7, 0).unwrap();
        for workers in [0, 1, 3] {
            assert!(fed(streamed, &p, augment, 7, workers).unwrap() == want, "{workers} workers");
        }
    }
}

#[test]
fn pixel_statistics_are_those_of_the_images_in_memory() {
    for (gray_only, rules) in
        [(false, [Channels::Keep, Channels::RgbToGray]), (true, [Channels::Keep, Channels::GrayToRgb])]
    {
        let dir = folder("stream-stats", gray_only);
        let memory = load_folder(dir.path(), CacheImages::Always, None).unwrap();
        let streamed = load_folder(dir.path(), CacheImages::Never, None).unwrap();
        assert_eq!(memory.train.images.channels(), if gray_only { 1 } else { 3 });
        for (m, s) in [(&memory.train, &streamed.train), (&memory.test, &streamed.test)] {
            assert_eq!(mean_std(m).unwrap(), mean_std(s).unwrap());
            for rule in rules {
                let want = channel_stats(m, rule).unwrap();
                assert_eq!(channel_stats(s, rule).unwrap(), want, "{rule:?}, gray only: {gray_only}");
            }
        }
    }
}

#[test]
fn the_memory_budget_switches_to_streaming() {
    let dir = folder("stream-budget", false);
    let memory = load_folder(dir.path(), CacheImages::Auto, None).unwrap();
    let needed = (memory.train.images.pixels().len() + memory.test.images.pixels().len()) as u64;
    let fits = load_folder(dir.path(), CacheImages::Auto, Some(needed)).unwrap();
    assert!(fits.train.images.stream().is_none(), "exactly the stored size fits");
    let over = load_folder(dir.path(), CacheImages::Auto, Some(needed - 1)).unwrap();
    let why = over.train.images.stream().map(|s| s.why());
    assert_eq!(why, Some(StreamReason::OverBudget { needed, budget: needed - 1 }));
    assert_same_images(&memory.train, &over.train);
    // Counted partly from pixels kept before the budget ran out, partly after.
    for rule in [Channels::Keep, Channels::RgbToGray] {
        assert_eq!(channel_stats(&over.train, rule).unwrap(), channel_stats(&memory.train, rule).unwrap());
    }
    let refused = load_folder(dir.path(), CacheImages::Always, Some(needed - 1)).unwrap_err();
    assert!(matches!(refused, DataError::TooMuchData { .. }), "{refused}");
}

#[test]
fn bad_files_are_left_out_alike_at_load_time() {
    let dir = folder("stream-bad", false);
    let bad = dir.write("train/c1/zz-bad.png", b"\x89PNG\r\n\x1a\n not really");
    let memory = load_folder(dir.path(), CacheImages::Auto, None).unwrap();
    let streamed = load_folder(dir.path(), CacheImages::Never, None).unwrap();
    assert!(!memory.train.files.contains(&bad));
    assert_same_images(&memory.train, &streamed.train);
    assert_eq!(memory.warnings, streamed.warnings);
}

/// The error of feeding `ds` (every epoch), with `workers` workers.
fn feed_error(ds: &Dataset, workers: usize) -> String {
    let p = Pipeline::build(&PrepOptions::default(), ds, (3, 16, 16)).unwrap();
    let augment: Augment = "crop=2,flip".parse().unwrap();
    match fed(ds, &p, augment, 5, workers) {
        Ok(_) => panic!("fed without error"),
        Err(e @ DataError::ImageChanged { .. }) => e.to_string(),
        Err(e) => panic!("another error: {e}"),
    }
}

#[test]
fn a_file_that_changes_after_the_load_is_named() {
    let dir = folder("stream-changed", false);
    let streamed = load_folder(dir.path(), CacheImages::Never, None).unwrap();
    let files = &streamed.train.files;
    // Two files that are not stored at 16×16.
    let mut not_16 = (0..files.len()).filter(|&i| streamed.train.images.size(i) != (16, 16));
    let (a, b) = (not_16.next().unwrap(), not_16.nth(3).unwrap());
    let name = files[a].display().to_string();

    std::fs::write(&files[a], b"garbage now").unwrap();
    for workers in [0, 2] {
        let msg = feed_error(&streamed.train, workers);
        assert!(msg.contains(&name) && msg.contains("changed since the folder was loaded"), "{msg}");
    }
    std::fs::remove_file(&files[a]).unwrap();
    let msg = feed_error(&streamed.train, 1);
    assert!(msg.contains(&name) && msg.contains("cannot be read"), "{msg}");

    // Images of another size.
    write_picture(&files[a], 1, a, false, (16, 16));
    write_picture(&files[b], 1, b, false, (16, 16));
    let msg = feed_error(&streamed.train, 1);
    assert!(msg.contains("now decodes to 16×16"), "{msg}");
    // With two changed files, the same one is named whatever the worker count.
    assert!((0..4).all(|w| feed_error(&streamed.train, w) == msg));
}

#[test]
fn a_colour_file_in_a_streamed_gray_folder_is_refused() {
    let dir = folder("stream-colour", true);
    let streamed = load_folder(dir.path(), CacheImages::Never, None).unwrap();
    assert_eq!(streamed.train.images.channels(), 1);
    let file = &streamed.train.files[0];
    let (h, w) = streamed.train.images.size(0);
    write_picture(file, 0, 0, false, (h as u32, w as u32));
    let msg = feed_error(&streamed.train, 1);
    assert!(msg.contains(&file.display().to_string()) && msg.contains("colour image"), "{msg}");
}
