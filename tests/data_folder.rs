//! Image folders: layouts, class names, stratified and deterministic splits,
//! `--limit`, channels, parallel decoding, skipped files, and every error a user's
//! folder can cause. The folders are written at test time.

mod data_support;

use std::path::Path;

use data_support::TempDir;
use image::{DynamicImage, ImageBuffer, ImageFormat};
use netc::data::{load, CacheImages, DataError, LoadOptions, SearchRoots, Splits};

/// Writes a `w × h` gray PNG whose pixels are all `v` (and pixel 0 is `v / 2`).
fn gray_png(dir: &TempDir, rel: &str, w: u32, h: u32, v: u8) {
    let mut px = vec![v; (w * h) as usize];
    px[0] = v / 2;
    write_image(dir, rel, DynamicImage::ImageLuma8(ImageBuffer::from_raw(w, h, px).unwrap()));
}

fn rgb_png(dir: &TempDir, rel: &str, w: u32, h: u32, rgb: [u8; 3]) {
    write_image(dir, rel, DynamicImage::ImageRgb8(ImageBuffer::from_pixel(w, h, image::Rgb(rgb))));
}

fn write_image(dir: &TempDir, rel: &str, img: DynamicImage) {
    let path = dir.path().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save_with_format(&path, ImageFormat::Png).unwrap();
}

fn roots(dir: &Path) -> SearchRoots {
    SearchRoots { cwd: dir.to_path_buf(), netc_data: None }
}

fn load_dir(dir: &TempDir, opts: &LoadOptions) -> Result<Splits, DataError> {
    load(&dir.path().display().to_string(), None, &roots(dir.path()), opts)
}

fn file_names(files: &[std::path::PathBuf]) -> Vec<String> {
    files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect()
}

#[test]
fn train_test_layout_sorted_classes_and_file_order() {
    let dir = TempDir::new("folder-layout");
    // Byte order, as Python's sorted(): "B" < "a" < "b" < "é".
    for class in ["b", "a", "B", "é"] {
        for k in [2, 0, 1] {
            gray_png(&dir, &format!("train/{class}/{k}.png"), 5, 4, 10 * k + 1);
        }
        gray_png(&dir, &format!("test/{class}/t.png"), 5, 4, 200);
    }
    gray_png(&dir, "train/a/sub/deeper.png", 3, 3, 77); // nested: included, after the files
    dir.write("README.txt", b"ignored"); // files directly in DIR are ignored
    dir.write("train/a/.DS_Store", b"hidden: skipped silently");
    let s = load_dir(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(s.train.classes, ["B", "a", "b", "é"]);
    assert_eq!(s.test.classes, s.train.classes);
    assert_eq!(s.train.labels, [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
    assert_eq!(file_names(&s.train.files[3..7]), ["0.png", "1.png", "2.png", "deeper.png"]);
    assert_eq!(s.test.count(), 4);
    assert_eq!(s.train.images.channels(), 1);
    assert_eq!(s.train.images.fixed_size(), None, "one image is 3×3");
    let img = s.train.image(4); // a/1.png
    assert_eq!((img.h, img.w, img.pixels[0], img.pixels[1]), (4, 5, 5, 11));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    s.train.check().unwrap();
}

#[test]
fn val_folder_is_the_test_split_unless_test_exists() {
    let dir = TempDir::new("folder-val");
    for class in ["x", "y"] {
        gray_png(&dir, &format!("train/{class}/1.png"), 4, 4, 1);
        gray_png(&dir, &format!("val/{class}/1.png"), 4, 4, 2);
    }
    let s = load_dir(&dir, &LoadOptions::default()).unwrap();
    assert!(s.test.files.iter().all(|f| f.to_string_lossy().contains("/val/")));
    for class in ["x", "y"] {
        gray_png(&dir, &format!("test/{class}/1.png"), 4, 4, 3);
    }
    let s = load_dir(&dir, &LoadOptions::default()).unwrap();
    assert!(s.test.files.iter().all(|f| f.to_string_lossy().contains("/test/")));
    assert!(s.warnings.iter().any(|w| w.contains("val/ is not used")), "{:?}", s.warnings);
}

/// One tree, class `k` holding `sizes[k]` images named by their index.
fn single_tree(tag: &str, sizes: &[usize]) -> TempDir {
    let dir = TempDir::new(tag);
    for (k, &n) in sizes.iter().enumerate() {
        for i in 0..n {
            gray_png(&dir, &format!("c{k}/{i:03}.png"), 4, 4, (i % 250) as u8 + 1);
        }
    }
    dir
}

#[test]
fn val_split_is_stratified_and_deterministic() {
    let dir = single_tree("folder-split", &[20, 11, 2, 1]);
    let opts = |seed| LoadOptions { val_split: Some(0.25), seed, ..LoadOptions::default() };
    let a = load_dir(&dir, &opts(7)).unwrap();
    // round(0.25 n) per class, at least 1 and at most n − 1: 5, 3, 1, 0.
    assert_eq!(a.test.class_counts(), [5, 3, 1, 0]);
    assert_eq!(a.train.class_counts(), [15, 8, 1, 1]);
    let b = load_dir(&dir, &opts(7)).unwrap();
    assert_eq!((&a.train.files, &a.test.files), (&b.train.files, &b.test.files));
    let c = load_dir(&dir, &opts(8)).unwrap();
    assert_ne!(a.test.files, c.test.files, "another seed draws other files");
    assert_eq!(c.test.class_counts(), [5, 3, 1, 0]);
    let mut all: Vec<_> = a.train.files.iter().chain(&a.test.files).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 34, "every file in exactly one split");
    for bad in [0.0, 1.0, -0.5, f64::NAN] {
        let err = load_dir(&dir, &LoadOptions { val_split: Some(bad), ..LoadOptions::default() }).unwrap_err();
        assert!(err.to_string().contains("--val-split"), "{err}");
    }
}

#[test]
fn a_single_tree_needs_a_split_to_train_and_is_all_test_for_eval() {
    let dir = single_tree("folder-single", &[3, 3]);
    let err = load_dir(&dir, &LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("--val-split"), "{err}");
    let s = load_dir(&dir, &LoadOptions { for_eval: true, ..LoadOptions::default() }).unwrap();
    assert_eq!((s.train.count(), s.test.count()), (0, 6));
    // train/ alone works the same way.
    let dir = TempDir::new("folder-train-only");
    for k in 0..4 {
        gray_png(&dir, &format!("train/c/{k}.png"), 4, 4, 9);
        gray_png(&dir, &format!("train/d/{k}.png"), 4, 4, 9);
    }
    assert!(load_dir(&dir, &LoadOptions::default()).unwrap_err().to_string().contains("--val-split"));
    let s = load_dir(&dir, &LoadOptions { val_split: Some(0.5), ..LoadOptions::default() }).unwrap();
    assert_eq!((s.train.count(), s.test.count()), (4, 4));
}

#[test]
fn limit_takes_a_round_robin_over_classes() {
    let dir = single_tree("folder-limit", &[6, 1, 4]);
    let opts = LoadOptions { limit: Some(5), for_eval: true, ..LoadOptions::default() };
    let s = load_dir(&dir, &opts).unwrap();
    assert_eq!(s.test.class_counts(), [2, 1, 2]);
    assert_eq!(file_names(&s.test.files), ["000.png", "001.png", "000.png", "000.png", "001.png"]);
}

#[test]
fn any_colour_image_makes_the_folder_rgb_with_gray_replicated() {
    let dir = TempDir::new("folder-colour");
    gray_png(&dir, "train/g/1.png", 3, 2, 90);
    rgb_png(&dir, "train/r/1.png", 3, 2, [200, 100, 50]);
    gray_png(&dir, "test/g/1.png", 3, 2, 60);
    gray_png(&dir, "test/r/1.png", 3, 2, 61);
    let s = load_dir(&dir, &LoadOptions::default()).unwrap();
    assert_eq!((s.train.images.channels(), s.test.images.channels()), (3, 3));
    let g = s.train.image(0);
    assert_eq!(g.plane(0), g.plane(1));
    assert_eq!(g.plane(1), g.plane(2));
    assert_eq!(g.plane(0)[..2], [45, 90]);
    let r = s.train.image(1);
    assert_eq!((r.plane(0)[0], r.plane(1)[0], r.plane(2)[0]), (200, 100, 50));
}

#[test]
fn parallel_decoding_gives_the_single_thread_result() {
    let dir = TempDir::new("folder-threads");
    for i in 0..60u32 {
        let (w, h) = (3 + i % 7, 2 + i % 5);
        let px: Vec<u8> = (0..w * h * 3).map(|k| (k * 7 + i * 13) as u8).collect();
        let img = DynamicImage::ImageRgb8(ImageBuffer::from_raw(w, h, px).unwrap());
        write_image(&dir, &format!("c{}/{i}.png", i % 3), img);
    }
    let one = load_dir(&dir, &LoadOptions { threads: Some(1), for_eval: true, ..LoadOptions::default() }).unwrap();
    let four = load_dir(&dir, &LoadOptions { threads: Some(4), for_eval: true, ..LoadOptions::default() }).unwrap();
    assert_eq!(one, four);
    assert_eq!(one.test.count(), 60);
}

#[test]
fn non_image_files_are_skipped_with_a_count() {
    let dir = single_tree("folder-skip", &[2, 2]);
    dir.write("c0/notes.txt", b"not an image");
    dir.write("c1/labels.csv", b"a,b");
    dir.write("c1/.hidden.png", b"hidden files are not even counted");
    let s = load_dir(&dir, &LoadOptions { for_eval: true, ..LoadOptions::default() }).unwrap();
    assert_eq!(s.test.count(), 4);
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("skipped 2 file(s)") && s.warnings[0].contains("notes.txt"), "{}", s.warnings[0]);
}

#[test]
fn a_corrupt_image_is_refused_or_skipped_on_request() {
    let dir = single_tree("folder-corrupt", &[3, 3]);
    let good = std::fs::read(dir.path().join("c1/001.png")).unwrap();
    dir.write("c1/001.png", &good[..good.len() - 20]);
    let err = load_dir(&dir, &LoadOptions { for_eval: true, ..LoadOptions::default() }).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("c1/001.png") && msg.contains("--skip-bad-images"), "{msg}");
    let opts = LoadOptions { for_eval: true, skip_bad_images: true, threads: Some(3), ..LoadOptions::default() };
    let s = load_dir(&dir, &opts).unwrap();
    assert_eq!(s.test.class_counts(), [3, 2]);
    assert!(s.warnings.iter().any(|w| w.contains("skipped 1 image") && w.contains("c1/001.png")), "{:?}", s.warnings);
}

#[test]
fn the_first_bad_file_is_reported_whatever_the_threads() {
    let dir = single_tree("folder-first-bad", &[30, 30]);
    for bad in ["c0/007.png", "c1/020.png", "c1/003.png"] {
        dir.write(bad, b"garbage");
    }
    for threads in [1, 2, 8] {
        let opts = LoadOptions { for_eval: true, threads: Some(threads), ..LoadOptions::default() };
        let msg = load_dir(&dir, &opts).unwrap_err().to_string();
        assert!(msg.contains("c0/007.png"), "{threads} threads: {msg}");
    }
}

#[test]
fn folder_errors_name_the_folder() {
    let check = |dir: &TempDir, opts: &LoadOptions, wants: &[&str]| {
        let msg = load_dir(dir, opts).unwrap_err().to_string();
        for w in wants {
            assert!(msg.contains(w), "wanted {w:?} in: {msg}");
        }
    };
    let eval = LoadOptions { for_eval: true, ..LoadOptions::default() };
    // No classes at all, with a hint when images lie directly in the folder.
    let empty = TempDir::new("folder-empty");
    check(&empty, &eval, &["no class folders"]);
    gray_png(&empty, "loose.png", 2, 2, 1);
    check(&empty, &eval, &["no class folders", "1 image file(s) directly", "subfolder"]);
    // An empty class folder, and one holding only non-images.
    let dir = single_tree("folder-empty-class", &[2]);
    std::fs::create_dir_all(dir.path().join("zebra")).unwrap();
    check(&dir, &eval, &["zebra", "holds no images"]);
    dir.write("zebra/readme.md", b"x");
    check(&dir, &eval, &["zebra", "holds no images", "readme.md"]);
    // Train and test with different classes.
    let dir = TempDir::new("folder-mismatch");
    for c in ["cat", "dog"] {
        gray_png(&dir, &format!("train/{c}/1.png"), 2, 2, 1);
    }
    for c in ["cat", "cow"] {
        gray_png(&dir, &format!("test/{c}/1.png"), 2, 2, 1);
    }
    check(&dir, &LoadOptions::default(), &["different classes", "dog", "cow"]);
    // Not a folder at all, and a name that is neither a dataset nor a path.
    let file = dir.write("plain.txt", b"x");
    let msg = load(&file.display().to_string(), None, &roots(dir.path()), &eval).unwrap_err().to_string();
    assert!(msg.contains("plain.txt") && msg.contains("not a folder"), "{msg}");
    let msg = load("no-such-thing", None, &roots(dir.path()), &eval).unwrap_err().to_string();
    assert!(msg.contains("unknown dataset 'no-such-thing'") && msg.contains("cifar10"), "{msg}");
}

#[test]
fn symlink_loops_and_unreadable_entries_are_errors() {
    let eval = LoadOptions { for_eval: true, ..LoadOptions::default() };
    let dir = single_tree("folder-loop", &[2, 2]);
    std::os::unix::fs::symlink(dir.path().join("c0"), dir.path().join("c0/again")).unwrap();
    let msg = load_dir(&dir, &eval).unwrap_err().to_string();
    assert!(msg.contains("c0/again") && msg.contains("symlink loop"), "{msg}");
    let dir = single_tree("folder-self-link", &[2]);
    std::os::unix::fs::symlink("me", dir.path().join("c0/me")).unwrap();
    let msg = load_dir(&dir, &eval).unwrap_err().to_string();
    assert!(msg.contains("c0/me") && msg.contains("symlink loop"), "{msg}");
    // A dangling link and a named pipe where an image should be.
    let dir = single_tree("folder-dangling", &[2]);
    std::os::unix::fs::symlink("nowhere.png", dir.path().join("c0/gone.png")).unwrap();
    let msg = load_dir(&dir, &eval).unwrap_err().to_string();
    assert!(msg.contains("gone.png"), "{msg}");
    let dir = single_tree("folder-fifo", &[2]);
    let fifo = std::ffi::CString::new(dir.path().join("c0/pipe.png").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let msg = load_dir(&dir, &eval).unwrap_err().to_string();
    assert!(msg.contains("pipe.png") && msg.contains("not a regular file"), "{msg}");
    // Permissions only bind a non-root user.
    if unsafe { libc::geteuid() } != 0 {
        let dir = single_tree("folder-unreadable", &[2, 2]);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path().join("c1"), std::fs::Permissions::from_mode(0o000)).unwrap();
        let msg = load_dir(&dir, &eval).unwrap_err().to_string();
        std::fs::set_permissions(dir.path().join("c1"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(msg.contains("c1") && msg.contains("cannot read"), "{msg}");
    }
}

#[test]
fn images_beyond_the_memory_budget_are_refused_when_they_must_stay_in_memory() {
    // Ten 4×4 gray images: 160 bytes.
    let dir = single_tree("folder-budget", &[5, 5]);
    let always = |budget| LoadOptions {
        for_eval: true,
        memory_budget: Some(budget),
        cache: CacheImages::Always,
        ..LoadOptions::default()
    };
    let msg = load_dir(&dir, &always(100)).unwrap_err().to_string();
    assert!(msg.contains("--limit") && msg.contains("memory") && msg.contains("--cache-images"), "{msg}");
    // Gray images count as what they hold (1 channel): exactly the budget fits.
    assert_eq!(load_dir(&dir, &always(10 * 16)).unwrap().test.images.pixels().len(), 10 * 16);
    let msg = load_dir(&dir, &always(10 * 16 - 1)).unwrap_err().to_string();
    assert!(msg.contains("memory"), "{msg}");
    // By default (auto) a folder beyond the budget is streamed instead.
    let auto = LoadOptions { for_eval: true, memory_budget: Some(100), ..LoadOptions::default() };
    let s = load_dir(&dir, &auto).unwrap();
    assert!(s.test.images.stream().is_some() && s.test.images.pixels().is_empty());
    assert_eq!(s.test.count(), 10);
}

#[test]
fn a_folder_of_idx_files_is_read_as_idx() {
    let dir = TempDir::new("folder-idx");
    data_support::write_small_dataset(&dir, "digits", 5, 3, true);
    data_support::write_small_dataset(&dir, "my-fashion", 5, 3, false);
    let r = roots(dir.path());
    let s = load("digits", None, &r, &LoadOptions::default()).unwrap();
    assert_eq!((s.train.count(), s.test.count(), s.train.name.as_str()), (5, 3, "digits"));
    assert_eq!(s.train.classes[3], "3");
    let s = load("./my-fashion", None, &r, &LoadOptions::default()).unwrap();
    assert_eq!(s.test.classes[0], "T-shirt/top");
}
