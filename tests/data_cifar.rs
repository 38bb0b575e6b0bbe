//! CIFAR-10 and CIFAR-100 binary files written at test time (Fashion-MNIST resized
//! to 32×32 and tinted into 3 channels): read back exactly, located by name and by
//! path, fine and coarse labels, class names, `--limit`, and refused when damaged.

mod data_support;

use data_support::cifar::{coarse_of, tinted, write_cifar10, write_cifar100, Record};
use data_support::TempDir;
use netc::data::cifar::{CIFAR100_COARSE, CIFAR100_FINE, CIFAR10_CLASSES};
use netc::data::{load, CifarLabels, DataError, Dataset, LoadOptions, SearchRoots};

fn roots(cwd: &std::path::Path, env: Option<&std::path::Path>) -> SearchRoots {
    SearchRoots { cwd: cwd.to_path_buf(), netc_data: env.map(|p| p.to_path_buf()) }
}

fn assert_same(ds: &Dataset, records: &[Record]) {
    assert_eq!(ds.count(), records.len());
    assert_eq!((ds.images.channels(), ds.images.fixed_size()), (3, Some((32, 32))));
    for (i, (label, px)) in records.iter().enumerate() {
        assert_eq!(ds.labels[i], u16::from(*label), "label {i}");
        assert_eq!(ds.image(i).pixels, &px[..], "image {i}");
    }
}

#[test]
fn cifar10_reads_back_exactly_by_name_and_by_path() {
    let (train, test) = tinted(53, 21);
    let tmp = TempDir::new("cifar10");
    // The extracted archive's folder inside $NETC_DATA/cifar10.
    let dir = tmp.path().join("env/cifar10/cifar-10-batches-bin");
    write_cifar10(&dir, &train, &test);
    let s = load("cifar10", None, &roots(tmp.path(), Some(&tmp.path().join("env"))), &LoadOptions::default()).unwrap();
    assert_same(&s.train, &train);
    assert_same(&s.test, &test);
    assert_eq!(s.train.classes, CIFAR10_CLASSES);
    assert_eq!(s.train.name, "cifar10");
    // A path to the folder, with names from batches.meta.txt.
    std::fs::write(
        dir.join("batches.meta.txt"),
        "t-shirt\ntrouser\npullover\ndress\ncoat\nsandal\nshirt\nsneaker\nbag\nboot\n\n",
    )
    .unwrap();
    let s = load(dir.to_str().unwrap(), None, &roots(tmp.path(), None), &LoadOptions::default()).unwrap();
    assert_same(&s.test, &test);
    assert_eq!(s.train.classes[9], "boot");
    // --data DIR, and --limit across batch files.
    let opts = LoadOptions { limit: Some(15), ..LoadOptions::default() };
    let s = load("CIFAR10", Some(&tmp.path().join("env")), &roots(tmp.path(), None), &opts).unwrap();
    assert_same(&s.train, &train[..15]);
    assert_same(&s.test, &test[..15]);
}

#[test]
fn cifar100_fine_and_coarse_labels() {
    let (train, test) = tinted(30, 12);
    let tmp = TempDir::new("cifar100");
    let dir = tmp.path().join("data/cifar100");
    write_cifar100(&dir, &train, &test);
    let r = roots(tmp.path(), None); // ./data/cifar100
    let fine = load("cifar100", None, &r, &LoadOptions::default()).unwrap();
    assert_same(&fine.train, &train);
    assert_eq!(fine.train.classes, CIFAR100_FINE);
    let opts = LoadOptions { cifar_labels: CifarLabels::Coarse, ..LoadOptions::default() };
    let coarse = load("cifar100", None, &r, &opts).unwrap();
    let want: Vec<u16> = test.iter().map(|(l, _)| u16::from(coarse_of(*l))).collect();
    assert_eq!(coarse.test.labels, want);
    assert_eq!(coarse.test.classes, CIFAR100_COARSE);
    assert_eq!(coarse.test.images, fine.test.images);
}

#[test]
fn published_names_are_complete_and_in_label_order() {
    // The CIFAR-100 names are alphabetical in label order (fine and coarse).
    for names in [&CIFAR100_FINE[..], &CIFAR100_COARSE[..]] {
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    }
    assert_eq!((CIFAR100_FINE.len(), CIFAR100_COARSE.len(), CIFAR10_CLASSES.len()), (100, 20, 10));
}

#[test]
fn wrong_sizes_and_labels_are_refused_naming_the_file() {
    let (train, test) = tinted(10, 5);
    let tmp = TempDir::new("cifar-bad");
    let dir = tmp.path().join("c10");
    let opts = LoadOptions::default();
    let r = roots(tmp.path(), None);
    let path = dir.to_str().unwrap().to_string();
    // One byte short.
    write_cifar10(&dir, &train, &test);
    let batch = dir.join("data_batch_3.bin");
    let bytes = std::fs::read(&batch).unwrap();
    std::fs::write(&batch, &bytes[..bytes.len() - 1]).unwrap();
    let err = load(&path, None, &r, &opts).unwrap_err();
    assert!(matches!(err, DataError::RecordFile { record: 3073, .. }), "{err:?}");
    assert!(err.to_string().contains("data_batch_3.bin") && err.to_string().contains("truncated"), "{err}");
    // Empty.
    std::fs::write(&batch, b"").unwrap();
    assert!(load(&path, None, &r, &opts).unwrap_err().to_string().contains("data_batch_3.bin"));
    // A CIFAR-100 file where CIFAR-10 is expected.
    let hundred: Vec<u8> = (0..2 * 3074).map(|i| (i % 7) as u8).collect();
    std::fs::write(&batch, &hundred).unwrap();
    let msg = load(&path, None, &r, &opts).unwrap_err().to_string();
    assert!(msg.contains("looks like a CIFAR-100 file"), "{msg}");
    // A label out of range.
    write_cifar10(&dir, &train, &test);
    let mut bytes = std::fs::read(dir.join("test_batch.bin")).unwrap();
    bytes[2 * 3073] = 10;
    std::fs::write(dir.join("test_batch.bin"), &bytes).unwrap();
    let err = load(&path, None, &r, &opts).unwrap_err();
    assert!(matches!(err, DataError::LabelOutOfRange { index: 2, label: 10, classes: 10, .. }), "{err:?}");
    // A names file with the wrong count.
    write_cifar10(&dir, &train, &test);
    std::fs::write(dir.join("batches.meta.txt"), "a\nb\n").unwrap();
    let msg = load(&path, None, &r, &opts).unwrap_err().to_string();
    assert!(msg.contains("batches.meta.txt") && msg.contains("2 class names, expected 10"), "{msg}");
    // Fine label 100 in CIFAR-100.
    let d100 = tmp.path().join("c100");
    write_cifar100(&d100, &train, &test);
    let mut bytes = std::fs::read(d100.join("train.bin")).unwrap();
    bytes[1] = 100;
    std::fs::write(d100.join("train.bin"), &bytes).unwrap();
    let err = load(d100.to_str().unwrap(), None, &r, &opts).unwrap_err();
    assert!(matches!(err, DataError::LabelOutOfRange { index: 0, label: 100, classes: 100, .. }), "{err:?}");
}

#[test]
fn a_missing_cifar_says_what_it_needs_and_where_it_looked() {
    let tmp = TempDir::new("cifar-missing");
    let msg = load("cifar10", None, &roots(tmp.path(), None), &LoadOptions::default()).unwrap_err().to_string();
    assert!(
        msg.contains("data_batch_1.bin") && msg.contains("test_batch.bin") && msg.contains("cifar-10-batches-bin"),
        "{msg}"
    );
    assert!(msg.contains("NETC_DATA"), "{msg}");
}
