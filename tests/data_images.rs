//! The data model: `ImageSet` (fixed and varied sizes, channels, planes) and the
//! `Dataset` invariants, plus the class names every named source gives.

use netc::data::{DataError, Dataset, DatasetName, ImageSet};

#[test]
fn fixed_sets_index_planar_images() {
    let pixels: Vec<u8> = (0..2 * 3 * 2 * 2).map(|i| i as u8).collect();
    let set = ImageSet::fixed(3, 2, 2, pixels).unwrap();
    assert_eq!((set.len(), set.channels(), set.fixed_size(), set.bytes()), (2, 3, Some((2, 2)), 24));
    let img = set.image(1);
    assert_eq!((img.channels, img.h, img.w), (3, 2, 2));
    assert_eq!(img.plane(2), [20, 21, 22, 23]);
    assert!(set.get(2).is_none());
    assert!(ImageSet::fixed(3, 2, 2, vec![0; 13]).is_err(), "not whole images");
    assert!(ImageSet::fixed(0, 2, 2, Vec::new()).is_err());
    let mut set = set;
    assert!(set.push(3, 2, &[0; 18]).is_err(), "a fixed set keeps its size");
    set.push(2, 2, &[9; 12]).unwrap();
    set.truncate(2);
    assert_eq!((set.len(), set.pixels().len()), (2, 24));
}

#[test]
fn varied_sets_keep_each_size() {
    let mut set = ImageSet::varied(1);
    assert_eq!(set.fixed_size(), None);
    set.push(2, 3, &[1; 6]).unwrap();
    set.push(2, 3, &[2; 6]).unwrap();
    assert_eq!(set.fixed_size(), Some((2, 3)), "agreeing images have a fixed size");
    set.push(4, 1, &[3; 4]).unwrap();
    assert_eq!(set.fixed_size(), None);
    assert_eq!((set.image(2).h, set.image(2).w, set.image(2).pixels), (4, 1, &[3u8; 4][..]));
    assert!(matches!(set.push(2, 2, &[0; 5]), Err(DataError::InvalidOption { .. })));
    assert!(set.push(0, 2, &[]).is_err(), "no empty images");
    let picked = set.select(&[2, 0]).unwrap();
    assert_eq!((picked.len(), picked.image(0).pixels, picked.image(1).pixels), (2, &[3u8; 4][..], &[1u8; 6][..]));
    set.truncate(1);
    assert_eq!((set.len(), set.pixels().len()), (1, 6));
}

#[test]
fn dataset_check_and_counts() {
    let images = ImageSet::fixed(1, 1, 2, vec![0; 8]).unwrap();
    let mut ds = Dataset {
        name: "toy".into(),
        images,
        labels: vec![0, 2, 2, 1],
        classes: vec!["a".into(), "b".into(), "c".into()],
        files: Vec::new(),
    };
    ds.check().unwrap();
    assert_eq!((ds.count(), ds.class_count(), ds.class_counts()), (4, 3, vec![1, 1, 2]));
    ds.labels[0] = 3;
    assert!(ds.check().unwrap_err().to_string().contains("label 3"));
    ds.labels = vec![0; 3];
    assert!(ds.check().is_err(), "one label per image");
    ds.labels = vec![0; 4];
    ds.files = vec!["x.png".into()];
    assert!(ds.check().is_err(), "one file per image, or none");
}

#[test]
fn named_datasets_have_their_class_names() {
    let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    assert_eq!(DatasetName::Mnist.class_names(), digits);
    let fashion = DatasetName::FashionMnist.class_names();
    assert_eq!((fashion[0].as_str(), fashion[9].as_str(), fashion.len()), ("T-shirt/top", "Ankle boot", 10));
    assert_eq!(DatasetName::Cifar10.class_names()[0], "airplane");
    assert_eq!(DatasetName::Cifar100.class_names().len(), 100);
    assert_eq!(DatasetName::Synthetic.class_names()[1], "18°");
    assert_eq!(DatasetName::parse("CIFAR100").unwrap(), DatasetName::Cifar100);
}
