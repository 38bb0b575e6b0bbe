//! IDX reader tests on small hand-built files (always run, no real data).

mod data_support;

use data_support::*;
use netc::data::idx::MAX_PAYLOAD_BYTES;
use netc::data::{load_split, read_images, read_labels, DataError, DatasetName};

#[test]
fn reads_raw_and_gzip_identically() {
    let tmp = TempDir::new("idx-ok");
    let bytes = images_file(3);
    let raw = tmp.write("a", &bytes);
    let gz = tmp.write("b.gz", &gzip(&bytes));
    for p in [&raw, &gz] {
        let img = read_images(p, None).unwrap();
        assert_eq!((img.declared, img.count(), img.rows, img.cols), (3, 3, 28, 28));
        assert_eq!(img.pixels.len(), 3 * 784);
        // image 2, row 1, col 3 → (2 + 28 + 3) % 256
        assert_eq!(img.pixels[2 * 784 + 28 + 3], 33);
    }
}

#[test]
fn gzip_is_detected_by_magic_not_extension() {
    let tmp = TempDir::new("idx-ext");
    let bytes = labels_file(20);
    let gz_no_ext = tmp.write("labels", &gzip(&bytes));
    let raw_gz_ext = tmp.write("labels.gz", &bytes);
    assert_eq!(read_labels(&gz_no_ext, None).unwrap().labels, bytes[8..]);
    assert_eq!(read_labels(&raw_gz_ext, None).unwrap().labels, bytes[8..]);
}

#[test]
fn concatenated_gzip_members_are_one_stream() {
    let tmp = TempDir::new("idx-multi");
    let bytes = labels_file(30);
    let mut two = gzip(&bytes[..13]);
    two.extend(gzip(&bytes[13..]));
    let p = tmp.write("l.gz", &two);
    assert_eq!(read_labels(&p, None).unwrap().labels, bytes[8..]);
}

#[test]
fn missing_file_is_io_error_naming_it() {
    let tmp = TempDir::new("idx-missing");
    let p = tmp.path().join("nope-idx3-ubyte");
    let err = read_images(&p, None).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
    assert_names_file(&err, &p);
}

#[test]
fn truncated_raw_reports_expected_and_found_sizes() {
    let tmp = TempDir::new("idx-trunc");
    let bytes = images_file(4);
    let p = tmp.write("img", &bytes[..1000]);
    let err = read_images(&p, None).unwrap_err();
    match &err {
        DataError::Truncated { expected, found, gzip, .. } => {
            assert_eq!((*expected, *found, *gzip), (16 + 4 * 784, 1000, false));
        }
        other => panic!("wrong variant: {other:?}"),
    }
    assert_names_file(&err, &p);
    assert!(err.to_string().contains("expected 3,152 bytes of data, found 1,000"), "{err}");
}

#[test]
fn truncated_gzip_is_gzip_error() {
    let tmp = TempDir::new("idx-truncgz");
    let gz = gzip(&images_file(50));
    let p = tmp.write("img.gz", &gz[..gz.len() / 2]);
    let err = read_images(&p, None).unwrap_err();
    assert!(matches!(err, DataError::Gzip { truncated: true, .. }), "{err:?}");
    assert_names_file(&err, &p);
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn gzip_missing_only_its_checksum_is_still_an_error() {
    let tmp = TempDir::new("idx-nocrc");
    let gz = gzip(&labels_file(100));
    let p = tmp.write("l.gz", &gz[..gz.len() - 4]);
    let err = read_labels(&p, None).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
}

#[test]
fn gzip_with_bad_checksum_is_corrupt() {
    let tmp = TempDir::new("idx-crc");
    let mut gz = gzip(&labels_file(100));
    let n = gz.len();
    gz[n - 6] ^= 0xFF; // inside the CRC32 trailer
    let p = tmp.write("l.gz", &gz);
    let err = read_labels(&p, None).unwrap_err();
    assert!(matches!(err, DataError::Gzip { truncated: false, .. }), "{err:?}");
    assert_names_file(&err, &p);
}

#[test]
fn wrong_magic_names_both_numbers_and_hints_at_swap() {
    let tmp = TempDir::new("idx-magic");
    let labels = tmp.write("labels", &labels_file(5));
    let images = tmp.write("images", &images_file(1));
    let err = read_images(&labels, None).unwrap_err();
    assert!(matches!(err, DataError::BadMagic { found: 0x801, expected: 0x803, .. }));
    let msg = err.to_string();
    assert!(msg.contains("0x00000801") && msg.contains("0x00000803"), "{msg}");
    assert!(msg.contains("labels file"), "{msg}");
    assert_names_file(&err, &labels);
    let msg = read_labels(&images, None).unwrap_err().to_string();
    assert!(msg.contains("images file (idx3) given where a labels file"), "{msg}");
}

#[test]
fn wrong_magic_other_cases() {
    let tmp = TempDir::new("idx-magic2");
    let le = tmp.write("le", &[0x03, 0x08, 0, 0, 0, 0, 0, 0]);
    let float = tmp.write("f", &idx_bytes(0x0000_0D03, &[1, 1, 1], &[0; 4]));
    let text = tmp.write("t", b"hello world, not idx");
    let msg = |p| read_images(p, None).unwrap_err().to_string();
    assert!(msg(&le).contains("reversed"), "{}", msg(&le));
    assert!(msg(&float).contains("element type 0x0D"), "{}", msg(&float));
    assert!(msg(&text).contains("does not look like an IDX file"), "{}", msg(&text));
}

#[test]
fn short_and_empty_headers() {
    let tmp = TempDir::new("idx-short");
    let empty = tmp.write("e", &[]);
    let partial = tmp.write("p", &images_file(1)[..10]);
    for p in [&empty, &partial] {
        let err = read_images(p, None).unwrap_err();
        assert!(matches!(err, DataError::ShortHeader { needed: 16, .. }), "{err:?}");
        assert_names_file(&err, p);
    }
}

#[test]
fn zero_dimension_is_rejected() {
    let tmp = TempDir::new("idx-zero");
    for dims in [[0, 28, 28], [5, 0, 28], [5, 28, 0]] {
        let p = tmp.write("z", &idx_bytes(IMAGES_MAGIC, &dims, &[]));
        let err = read_images(&p, None).unwrap_err();
        assert!(matches!(err, DataError::ZeroDimension { .. }), "{err:?}");
        assert_names_file(&err, &p);
    }
}

#[test]
fn overflowing_dimensions_are_rejected() {
    let tmp = TempDir::new("idx-overflow");
    let p = tmp.write("o", &idx_bytes(IMAGES_MAGIC, &[u32::MAX; 3], &[1, 2, 3]));
    let err = read_images(&p, None).unwrap_err();
    assert!(matches!(err, DataError::TooLarge { bytes: None, .. }), "{err:?}");
    assert_names_file(&err, &p);
}

#[test]
fn dimensions_above_the_cap_are_rejected_before_reading() {
    let tmp = TempDir::new("idx-cap");
    // 100,000 × 200 × 100 = 2e9 bytes > 1 GiB, fits in u64.
    let p = tmp.write("c", &gzip(&idx_bytes(IMAGES_MAGIC, &[100_000, 200, 100], &[7; 64])));
    let err = read_images(&p, None).unwrap_err();
    match &err {
        DataError::TooLarge { bytes: Some(b), cap, .. } => {
            assert_eq!((*b, *cap), (2_000_000_000, MAX_PAYLOAD_BYTES));
        }
        other => panic!("wrong variant: {other:?}"),
    }
    assert!(err.to_string().contains("2,000,000,000"), "{err}");
}

#[test]
fn lying_header_under_the_cap_gives_truncated_not_oom() {
    let tmp = TempDir::new("idx-lie");
    // Declares ~1 GB of pixels (just under the cap) but holds 64 bytes.
    let p = tmp.write("l.gz", &gzip(&idx_bytes(IMAGES_MAGIC, &[1_000_000, 1000, 1], &[7; 64])));
    let err = read_images(&p, None).unwrap_err();
    assert!(matches!(err, DataError::Truncated { found: 80, gzip: true, .. }), "{err:?}");
}

#[test]
fn trailing_bytes_are_an_error() {
    let tmp = TempDir::new("idx-trail");
    let mut bytes = labels_file(10);
    bytes.extend_from_slice(b"junk");
    let raw = tmp.write("raw", &bytes);
    let gz = tmp.write("gz", &gzip(&bytes));
    for p in [&raw, &gz] {
        let err = read_labels(p, None).unwrap_err();
        assert!(matches!(err, DataError::TrailingBytes { extra: 4, more: false, .. }), "{err:?}");
        assert_names_file(&err, p);
    }
}

#[test]
fn limit_keeps_only_leading_records() {
    let tmp = TempDir::new("idx-limit");
    let bytes = images_file(10);
    let p = tmp.write("img", &bytes);
    let img = read_images(&p, Some(5)).unwrap();
    assert_eq!((img.declared, img.count()), (10, 5));
    assert_eq!(img.pixels[..], bytes[16..16 + 5 * 784]);
    assert_eq!(read_images(&p, Some(1_000_000)).unwrap().count(), 10);
}

/// `--limit` is for quick runs, not for skipping checks: a damaged file is refused
/// whatever the limit, raw or gzip'd, even when the damage lies past the kept records.
#[test]
fn limit_still_verifies_the_whole_file() {
    let tmp = TempDir::new("idx-limit-damage");
    let bytes = images_file(10);
    let cut = tmp.write("cut", &bytes[..16 + 5 * 784 + 100]);
    assert!(matches!(read_images(&cut, Some(5)), Err(DataError::Truncated { .. })));
    let mut long = bytes.clone();
    long.extend_from_slice(b"junk");
    let long = tmp.write("long", &long);
    assert!(matches!(read_images(&long, Some(5)), Err(DataError::TrailingBytes { extra: 4, .. })));

    let gz = gzip(&bytes);
    let mut bad_crc = gz.clone();
    let n = bad_crc.len();
    bad_crc[n - 6] ^= 0xFF;
    let bad_crc = tmp.write("crc.gz", &bad_crc);
    let cut_gz = tmp.write("cut.gz", &gz[..gz.len() - 12]);
    for p in [&bad_crc, &cut_gz] {
        let err = read_images(p, Some(2)).unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. } | DataError::Truncated { .. }), "{err:?}");
        assert_names_file(&err, p);
    }
}

#[test]
fn count_mismatch_and_label_range_are_checked_by_load_split() {
    let tmp = TempDir::new("idx-split");
    let imgs = tmp.write("i", &images_file(12));
    let labs = tmp.write("l", &labels_file(11));
    let err = load_split(DatasetName::Mnist, &imgs, &labs, None).unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { image_count: 12, label_count: 11, .. }), "{err:?}");
    assert_names_file(&err, &imgs);
    assert_names_file(&err, &labs);

    let mut bad = labels_file(12);
    bad[8 + 7] = 10;
    let labs = tmp.write("l2.gz", &gzip(&bad));
    let err = load_split(DatasetName::Mnist, &imgs, &labs, None).unwrap_err();
    assert!(matches!(err, DataError::LabelOutOfRange { index: 7, label: 10, classes: 10, .. }), "{err:?}");
    assert_names_file(&err, &labs);
}

/// The label count is known from the header: a labels file that does not match the
/// images is refused before its payload is read (here the payload is missing).
#[test]
fn label_count_is_checked_from_the_header() {
    let tmp = TempDir::new("idx-count-early");
    let imgs = tmp.write("i", &images_file(12));
    let labs = tmp.write("l", &idx_bytes(LABELS_MAGIC, &[60_000], &[0; 5]));
    let err = load_split(DatasetName::Mnist, &imgs, &labs, None).unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { image_count: 12, label_count: 60_000, .. }), "{err:?}");
}

/// The image size is known from the header: a file of the wrong size is refused
/// before its payload is read (here the payload is missing altogether).
#[test]
fn wrong_image_size_is_refused_from_the_header() {
    let tmp = TempDir::new("idx-size-early");
    let imgs = tmp.write("i", &idx_bytes(IMAGES_MAGIC, &[60_000, 32, 32], &[0; 100]));
    let labs = tmp.write("l", &labels_file(2));
    let err = load_split(DatasetName::Mnist, &imgs, &labs, Some(1)).unwrap_err();
    assert!(matches!(err, DataError::WrongImageSize { found: (32, 32), .. }), "{err:?}");
}

#[test]
fn wrong_image_size_for_dataset() {
    let tmp = TempDir::new("idx-size");
    let imgs = tmp.write("i", &idx_bytes(IMAGES_MAGIC, &[2, 32, 32], &[0; 2048]));
    let labs = tmp.write("l", &labels_file(2));
    let err = load_split(DatasetName::FashionMnist, &imgs, &labs, None).unwrap_err();
    assert!(matches!(err, DataError::WrongImageSize { found: (32, 32), .. }), "{err:?}");
    assert_names_file(&err, &imgs);
}

/// Every prefix and every single-byte corruption of a small gzip file must
/// give a value (Ok or a typed error), never a panic.
#[test]
fn no_panics_on_any_truncation_or_byte_flip() {
    let tmp = TempDir::new("idx-fuzz");
    let gz = gzip(&images_file(2));
    let raw = images_file(1);
    for cut in 0..gz.len() {
        let p = tmp.write("cut.gz", &gz[..cut]);
        assert!(read_images(&p, None).is_err(), "prefix {cut} accepted");
    }
    for cut in 0..raw.len() {
        let p = tmp.write("cut", &raw[..cut]);
        assert!(read_images(&p, None).is_err(), "raw prefix {cut} accepted");
    }
    for i in 0..gz.len() {
        let mut bad = gz.clone();
        bad[i] ^= 0x5A;
        let p = tmp.write("flip.gz", &bad);
        if let Err(e) = read_images(&p, None) {
            assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn garbage_after_the_gzip_stream_is_an_error() {
    let tmp = TempDir::new("idx-gzjunk");
    let mut gz = gzip(&labels_file(10));
    gz.extend_from_slice(b"not gzip");
    let p = tmp.write("l.gz", &gz);
    let err = read_labels(&p, None).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
    assert_names_file(&err, &p);
}
