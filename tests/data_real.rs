//! Tests against the real MNIST and Fashion-MNIST files found through
//! `$NETC_DATA` (skipped with a notice when it is unset), including damaged
//! copies of those files.

mod data_support;

use std::path::PathBuf;

use data_support::*;
use netc::data::{
    load, load_split, locate, mean_std, read_images, read_labels, DataError, DataFiles, DatasetName, LoadOptions,
    SearchRoots, Splits,
};

fn roots(env: PathBuf) -> SearchRoots {
    // cwd points somewhere without a data/ folder so only $NETC_DATA matches.
    SearchRoots { cwd: std::env::temp_dir().join("netc-no-such-cwd"), netc_data: Some(env) }
}

fn load_real(name: &str) -> Option<Splits> {
    let env = real_data_root()?;
    Some(load(name, None, &roots(env), &LoadOptions::default()).expect("load real dataset"))
}

fn real_files(name: DatasetName) -> Option<DataFiles> {
    let env = real_data_root()?;
    Some(locate(name, None, &roots(env)).expect("locate real dataset"))
}

#[test]
fn mnist_sizes_first_labels_and_histogram() {
    let Some(s) = load_real("mnist") else { return };
    assert_eq!((s.train.count(), s.train.images.fixed_size()), (60_000, Some((28, 28))));
    assert_eq!((s.test.count(), s.test.images.fixed_size()), (10_000, Some((28, 28))));
    assert_eq!(s.train.images.pixels().len(), 60_000 * 784);
    assert_eq!(s.train.labels[0], 5);
    assert_eq!(s.test.labels[0], 7);
    let published = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
    assert_eq!(s.train.class_counts(), published);
}

#[test]
fn fashion_mnist_is_balanced() {
    let Some(s) = load_real("fashion-mnist") else {
        return;
    };
    assert_eq!((s.train.count(), s.test.count()), (60_000, 10_000));
    assert_eq!(s.train.class_counts(), vec![6000; 10]);
    assert_eq!(s.test.class_counts(), vec![1000; 10]);
}

#[test]
fn mnist_mean_and_std_match_the_well_known_values() {
    let Some(s) = load_real("mnist") else { return };
    let (mean, std) = mean_std(&s.train).unwrap();
    assert!((mean - 0.1307).abs() < 5e-4, "mean {mean}");
    assert!((std - 0.3081).abs() < 5e-4, "std {std}");
}

#[test]
fn limit_loads_a_prefix_of_the_real_data() {
    let Some(env) = real_data_root() else { return };
    let opts = LoadOptions { limit: Some(100), ..LoadOptions::default() };
    let s = load("mnist", None, &roots(env.clone()), &opts).unwrap();
    let full = load("mnist", None, &roots(env), &LoadOptions::default()).unwrap();
    assert_eq!((s.train.count(), s.test.count()), (100, 100));
    assert_eq!(s.train.images.pixels()[..], full.train.images.pixels()[..100 * 784]);
    assert_eq!(s.test.labels[..], full.test.labels[..100]);
}

#[test]
fn damaged_real_gzip_files() {
    let Some(f) = real_files(DatasetName::Mnist) else {
        return;
    };
    let tmp = TempDir::new("real-gz");
    let gz = std::fs::read(&f.test_images).unwrap();
    assert_eq!(gz[..2], [0x1f, 0x8b], "expected the stored files to be gzipped");

    let cut = tmp.write("t10k-images-idx3-ubyte.gz", &gz[..gz.len() / 3]);
    let err = read_images(&cut, None).unwrap_err();
    assert!(matches!(err, DataError::Gzip { truncated: true, .. }), "{err:?}");
    assert_names_file(&err, &cut);

    let mut flipped = gz.clone();
    for b in &mut flipped[1000..1016] {
        *b ^= 0xA5;
    }
    let bad = tmp.write("corrupt.gz", &flipped);
    let err = read_images(&bad, None).unwrap_err();
    assert!(matches!(err, DataError::Gzip { truncated: false, .. }), "{err:?}");
    assert_names_file(&err, &bad);
}

#[test]
fn damaged_real_raw_files() {
    let Some(f) = real_files(DatasetName::Mnist) else {
        return;
    };
    let tmp = TempDir::new("real-raw");
    let raw = gunzip(&std::fs::read(&f.train_images).unwrap());
    assert_eq!(raw.len(), 47_040_016);
    let cut = tmp.write("train-images-idx3-ubyte", &raw[..1000]);
    let err = read_images(&cut, None).unwrap_err();
    assert!(err.to_string().contains("expected 47,040,016 bytes of data, found 1,000"), "{err}");
    assert_names_file(&err, &cut);

    let mut labels = gunzip(&std::fs::read(&f.test_labels).unwrap());
    labels[8 + 1234] = 200;
    let bad_labels = tmp.write("t10k-labels-idx1-ubyte", &labels);
    let err = load_split(DatasetName::Mnist, &f.test_images, &bad_labels, None).unwrap_err();
    assert!(matches!(err, DataError::LabelOutOfRange { index: 1234, label: 200, .. }), "{err:?}");
    assert_names_file(&err, &bad_labels);
}

#[test]
fn swapped_and_mismatched_real_files() {
    let Some(f) = real_files(DatasetName::FashionMnist) else {
        return;
    };
    let err = read_images(&f.train_labels, None).unwrap_err();
    assert!(matches!(err, DataError::BadMagic { found: 0x801, .. }), "{err:?}");
    assert!(err.to_string().contains("labels file"), "{err}");
    let err = read_labels(&f.train_images, None).unwrap_err();
    assert!(matches!(err, DataError::BadMagic { found: 0x803, .. }), "{err:?}");

    let err = load_split(DatasetName::FashionMnist, &f.train_images, &f.test_labels, None).unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { image_count: 60_000, label_count: 10_000, .. }), "{err:?}");
    assert!(err.to_string().contains("60,000 images"), "{err}");
}
