//! Locating dataset files: explicit directory, ./data/<name>,
//! $NETC_DATA/<name>, and the not-found / unknown-name errors.

mod data_support;

use std::path::Path;

use data_support::*;
use netc::data::locate::FILE_NAMES;
use netc::data::{load, locate, DataError, DatasetName, LoadOptions, SearchRoots};

fn roots(cwd: &Path, env: Option<&Path>) -> SearchRoots {
    SearchRoots { cwd: cwd.to_path_buf(), netc_data: env.map(Path::to_path_buf) }
}

#[test]
fn explicit_dir_with_files_directly_inside() {
    let tmp = TempDir::new("loc-direct");
    write_small_dataset(&tmp, "mine", 3, 2, true);
    let dir = tmp.path().join("mine");
    let r = roots(&tmp.path().join("elsewhere"), None);
    let f = locate(DatasetName::Mnist, Some(&dir), &r).unwrap();
    assert_eq!(f.dir, dir);
    assert_eq!(f.train_images, dir.join("train-images-idx3-ubyte.gz"));
    assert_eq!(f.test_labels, dir.join("t10k-labels-idx1-ubyte.gz"));
}

#[test]
fn explicit_dir_with_name_subfolder_and_relative_path() {
    let tmp = TempDir::new("loc-sub");
    write_small_dataset(&tmp, "stash/fashion-mnist", 3, 2, false);
    let r = roots(tmp.path(), None);
    let f = locate(DatasetName::FashionMnist, Some(Path::new("stash")), &r).unwrap();
    assert_eq!(f.dir, tmp.path().join("stash/fashion-mnist"));
    assert_eq!(f.train_labels, f.dir.join("train-labels-idx1-ubyte"));
}

#[test]
fn explicit_dir_does_not_fall_back_to_defaults() {
    let tmp = TempDir::new("loc-nofall");
    write_small_dataset(&tmp, "data/mnist", 3, 2, true);
    let r = roots(tmp.path(), None);
    let err = locate(DatasetName::Mnist, Some(Path::new("empty")), &r).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
}

#[test]
fn cwd_data_dir_is_found_and_preferred_over_env() {
    let tmp = TempDir::new("loc-cwd");
    write_small_dataset(&tmp, "proj/data/mnist", 3, 2, true);
    write_small_dataset(&tmp, "env/mnist", 3, 2, true);
    let r = roots(&tmp.path().join("proj"), Some(&tmp.path().join("env")));
    let f = locate(DatasetName::Mnist, None, &r).unwrap();
    assert_eq!(f.dir, tmp.path().join("proj/data/mnist"));
}

#[test]
fn env_dir_is_used_when_cwd_has_nothing() {
    let tmp = TempDir::new("loc-env");
    write_small_dataset(&tmp, "env/fashion-mnist", 3, 2, false);
    let r = roots(&tmp.path().join("proj"), Some(&tmp.path().join("env")));
    let s = load("fashion-mnist", None, &r, &LoadOptions::default()).unwrap();
    assert_eq!((s.train.count(), s.test.count(), s.train.name.as_str()), (3, 2, "fashion-mnist"));
    assert_eq!(s.test.labels, vec![0, 1]);
}

#[test]
fn raw_file_is_preferred_over_gz_and_mixtures_work() {
    let tmp = TempDir::new("loc-mix");
    write_small_dataset(&tmp, "d", 3, 2, true);
    tmp.write("d/train-images-idx3-ubyte", &images_file(3));
    let f = locate(DatasetName::Mnist, Some(&tmp.path().join("d")), &roots(tmp.path(), None)).unwrap();
    assert_eq!(f.train_images, tmp.path().join("d/train-images-idx3-ubyte"));
    assert_eq!(f.train_labels, tmp.path().join("d/train-labels-idx1-ubyte.gz"));
}

#[test]
fn not_found_lists_files_and_every_place_looked() {
    let tmp = TempDir::new("loc-none");
    let cwd = tmp.path().join("proj");
    let env = tmp.path().join("env");
    // A partial copy: the message should say what is missing there.
    tmp.write("env/mnist/train-images-idx3-ubyte.gz", &gzip(&images_file(1)));
    let err = locate(DatasetName::Mnist, None, &roots(&cwd, Some(&env))).unwrap_err();
    let DataError::NotFound { searched, .. } = &err else { panic!("{err:?}") };
    let dirs: Vec<_> = searched.iter().map(|(d, _)| d.clone()).collect();
    assert_eq!(dirs, vec![cwd.join("data/mnist"), env.join("mnist")]);
    let msg = err.to_string();
    for name in FILE_NAMES {
        assert!(msg.contains(name), "{msg}");
    }
    assert!(msg.contains(&cwd.join("data/mnist").display().to_string()), "{msg}");
    assert!(msg.contains(&env.join("mnist").display().to_string()), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
    assert!(msg.contains("missing train-labels-idx1-ubyte[.gz]"), "{msg}");
    assert!(!msg.contains("missing train-images"), "{msg}");
}

#[test]
fn not_found_mentions_unset_env_and_explicit_dirs() {
    let tmp = TempDir::new("loc-unset");
    let msg = locate(DatasetName::FashionMnist, None, &roots(tmp.path(), None)).unwrap_err().to_string();
    assert!(msg.contains("NETC_DATA is not set"), "{msg}");
    let dir = tmp.path().join("given");
    let msg = locate(DatasetName::FashionMnist, Some(&dir), &roots(tmp.path(), None)).unwrap_err().to_string();
    assert!(msg.contains(&dir.display().to_string()), "{msg}");
    assert!(msg.contains(&dir.join("fashion-mnist").display().to_string()), "{msg}");
}

#[test]
fn unknown_name_lists_known_names() {
    let tmp = TempDir::new("loc-unknown");
    // cifar10 is known now: an unknown name that is not a folder either.
    let err = load("imagenet", None, &roots(tmp.path(), None), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::UnknownDataset { .. }), "{err:?}");
    let msg = err.to_string();
    for known in ["imagenet", "mnist", "fashion-mnist", "synthetic", "cifar10", "cifar100"] {
        assert!(msg.contains(known), "{msg}");
    }
    assert_eq!(DatasetName::parse("MNIST").unwrap(), DatasetName::Mnist);
}

#[test]
fn synthetic_has_nothing_to_locate() {
    let tmp = TempDir::new("loc-syn");
    assert!(locate(DatasetName::Synthetic, None, &roots(tmp.path(), None)).is_err());
}

/// A directory, a FIFO or a symlink loop with a dataset file's name is named as such,
/// and never opened (opening a FIFO would wait for a writer).
#[test]
fn files_that_are_not_regular_are_named_not_opened() {
    let tmp = TempDir::new("loc-kind");
    write_small_dataset(&tmp, "d", 3, 2, false);
    let dir = tmp.path().join("d");
    std::fs::remove_file(dir.join("train-images-idx3-ubyte")).unwrap();
    std::fs::create_dir(dir.join("train-images-idx3-ubyte")).unwrap();
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let fifo = std::ffi::CString::new(dir.join("t10k-labels-idx1-ubyte.gz").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::fs::remove_file(dir.join("train-labels-idx1-ubyte")).unwrap();
    std::os::unix::fs::symlink("train-labels-idx1-ubyte", dir.join("train-labels-idx1-ubyte")).unwrap();
    let err = locate(DatasetName::Mnist, Some(&dir), &roots(tmp.path(), None)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("train-images-idx3-ubyte is a directory"), "{msg}");
    assert!(msg.contains("train-labels-idx1-ubyte: Too many levels of symbolic links"), "{msg}");
    assert!(msg.contains("t10k-labels-idx1-ubyte.gz is a named pipe"), "{msg}");
}
