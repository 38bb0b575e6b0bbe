//! The MNIST test set written as an image folder at test time (from `$NETC_DATA`;
//! skipped with a notice without it): loaded through the folder it equals the IDX
//! dataset exactly, so `netc run --eval` gives the same accuracy either way; a JPEG
//! copy agrees within JPEG tolerance. Also the CLI's refusals of bad folders.

mod cli_support;
mod data_support;

use std::path::Path;
use std::time::Duration;

use cli_support::{netc, run};
use data_support::{real_data_root, TempDir};
use image::{DynamicImage, ImageBuffer, ImageFormat};
use netc::data::{load, Dataset, LoadOptions, SearchRoots, Splits};

fn mnist(limit: Option<usize>) -> Option<Splits> {
    let env = real_data_root()?;
    let roots = SearchRoots { cwd: std::env::temp_dir(), netc_data: Some(env) };
    Some(load("mnist", None, &roots, &LoadOptions { limit, ..LoadOptions::default() }).expect("MNIST"))
}

/// Writes images `0..n` of `ds` as `<root>/<split>/<label>/<index>.<ext>`.
fn write_split(root: &Path, split: &str, ds: &Dataset, n: usize, format: ImageFormat, ext: &str) {
    for c in &ds.classes {
        std::fs::create_dir_all(root.join(split).join(c)).unwrap();
    }
    for i in 0..n.min(ds.count()) {
        let img = ds.image(i);
        let buf = ImageBuffer::from_raw(img.w as u32, img.h as u32, img.pixels.to_vec()).unwrap();
        let path = root.join(split).join(&ds.classes[usize::from(ds.labels[i])]).join(format!("{i:05}.{ext}"));
        DynamicImage::ImageLuma8(buf).save_with_format(path, format).unwrap();
    }
}

/// The IDX index a folder image came from (its file name).
fn index_of(file: &Path) -> usize {
    file.file_stem().unwrap().to_str().unwrap().parse().unwrap()
}

fn load_folder(root: &Path) -> Splits {
    let roots = SearchRoots { cwd: root.to_path_buf(), netc_data: None };
    load(root.to_str().unwrap(), None, &roots, &LoadOptions::default()).expect("folder loads")
}

#[test]
fn png_folder_equals_idx_and_eval_agrees_exactly() {
    let Some(idx) = mnist(None) else { return };
    let tmp = TempDir::new("mnist-png");
    let root = tmp.path().join("mnist-png");
    write_split(&root, "test", &idx.test, 10_000, ImageFormat::Png, "png");
    write_split(&root, "train", &idx.train, 300, ImageFormat::Png, "png");
    let folder = load_folder(&root);
    let test = &folder.test;
    assert_eq!(test.classes, idx.test.classes, "folder order \"0\"..\"9\" is the digits' order");
    assert_eq!((test.count(), test.images.channels(), test.images.fixed_size()), (10_000, 1, Some((28, 28))));
    for i in 0..test.count() {
        let k = index_of(&test.files[i]);
        assert_eq!(test.labels[i], idx.test.labels[k], "label of {}", test.files[i].display());
        assert_eq!(test.image(i).pixels, idx.test.image(k).pixels, "pixels of {}", test.files[i].display());
    }
    assert_eq!(test.class_counts(), idx.test.class_counts());

    // The same weights evaluated through IDX and through the folder.
    let weights = tmp.path().join("w.safetensors");
    let env = real_data_root().unwrap();
    let limit = Duration::from_secs(300);
    let common = ["run", "nets/lenet.net", "--scaling", "lecun", "--quiet"];
    let mut train = netc(common);
    train.args(["--train", "mnist", "--limit", "1000", "--epochs", "1", "--save"]).arg(&weights).env("NETC_DATA", &env);
    run(&mut train, limit).expect(0);
    let accuracy = |dataset: &std::ffi::OsStr| {
        let mut eval = netc(common);
        eval.arg("--eval").arg(dataset).arg("--weights").arg(&weights).env("NETC_DATA", &env);
        let ran = run(&mut eval, limit);
        ran.expect(0);
        let line = ran.stdout.lines().find(|l| l.contains("test accuracy")).unwrap_or_default().to_string();
        let acc = line.split("test accuracy ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or_default().to_string();
        let count = line.rsplit(" on ").next().unwrap_or_default().to_string();
        (acc, count)
    };
    let through_idx = accuracy("mnist".as_ref());
    let through_folder = accuracy(root.as_os_str());
    assert_eq!(through_idx.1, "10000 images");
    assert_eq!(through_idx, through_folder);
}

#[test]
fn jpeg_folder_agrees_within_jpeg_tolerance() {
    let Some(idx) = mnist(Some(1000)) else { return };
    let tmp = TempDir::new("mnist-jpeg");
    let root = tmp.path().join("mnist-jpeg");
    write_split(&root, "test", &idx.test, 1000, ImageFormat::Jpeg, "jpg");
    write_split(&root, "train", &idx.train, 50, ImageFormat::Jpeg, "jpg");
    let folder = load_folder(&root);
    assert_eq!((folder.test.count(), folder.test.images.channels()), (1000, 1));
    let (mut total, mut worst) = (0u64, 0f64);
    for i in 0..1000 {
        let k = index_of(&folder.test.files[i]);
        assert_eq!(folder.test.labels[i], idx.test.labels[k]);
        let err: u64 = folder
            .test
            .image(i)
            .pixels
            .iter()
            .zip(idx.test.image(k).pixels)
            .map(|(&a, &b)| u64::from(a.abs_diff(b)))
            .sum();
        total += err;
        worst = worst.max(err as f64 / 784.0);
    }
    let mean = total as f64 / (1000.0 * 784.0);
    // The image crate's encoder at its default quality (75) on sharp 28×28 strokes.
    assert!(mean < 3.0 && worst < 8.0, "mean absolute error {mean:.2}, worst image {worst:.2}");
}

#[test]
fn cli_refuses_bad_folders_naming_the_file() {
    let tmp = TempDir::new("mnist-cli-bad");
    let root = tmp.path().join("shapes");
    for (class, v) in [("a", 10u8), ("b", 200)] {
        for i in 0..3 {
            std::fs::create_dir_all(root.join(class)).unwrap();
            let img = ImageBuffer::from_pixel(28, 28, image::Luma([v + i]));
            DynamicImage::ImageLuma8(img)
                .save_with_format(root.join(class).join(format!("{i}.png")), ImageFormat::Png)
                .unwrap();
        }
    }
    std::fs::write(root.join("b/1.png"), b"broken").unwrap();
    let train = |extra: &[&str]| {
        let mut cmd = netc(["run", "nets/lenet.net", "--epochs", "1", "--quiet", "--train"]);
        cmd.arg(&root).args(extra);
        run(&mut cmd, Duration::from_secs(120))
    };
    let ran = train(&["--val-split", "0.34"]);
    ran.expect(2);
    assert!(ran.stderr.contains("b/1.png") && ran.stderr.contains("--skip-bad-images"), "{}", ran.stderr);
    let ran = train(&[]);
    ran.expect(2);
    assert!(ran.stderr.contains("--val-split"), "{}", ran.stderr);
    // Skipping the bad file, the two classes meet LeNet's 10 outputs: refused by the net's check.
    let ran = train(&["--val-split", "0.34", "--skip-bad-images"]);
    assert!(ran.stderr.contains("warning: skipped 1 image"), "{}", ran.stderr);
    assert_ne!(ran.code, Some(0));
}
