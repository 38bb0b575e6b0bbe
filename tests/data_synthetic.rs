//! The synthetic dataset: determinism, balance, and learnability.

use netc::data::synthetic::generate;
use netc::data::{load, DataError, LoadOptions, SearchRoots, SyntheticConfig};

fn roots() -> SearchRoots {
    SearchRoots { cwd: std::env::temp_dir().join("netc-no-such-cwd"), netc_data: None }
}

#[test]
fn deterministic_for_a_seed_and_different_across_seeds() {
    let cfg = SyntheticConfig { seed: 5, train: 200, test: 50 };
    let a = generate(&cfg).unwrap();
    let b = generate(&cfg).unwrap();
    assert_eq!(a, b);
    let c = generate(&SyntheticConfig { seed: 6, ..cfg }).unwrap();
    assert_ne!(a.train.images, c.train.images);
    assert_ne!(a.train.images.pixels()[..784 * 50], a.test.images.pixels()[..], "test split repeats train");
}

#[test]
fn shape_balance_and_ink() {
    let s = generate(&SyntheticConfig { seed: 1, train: 1003, test: 100 }).unwrap();
    assert_eq!((s.train.count(), s.train.images.fixed_size(), s.train.class_count()), (1003, Some((28, 28)), 10));
    assert_eq!(s.train.class_counts(), [101, 101, 101, 100, 100, 100, 100, 100, 100, 100]);
    assert_eq!(s.test.class_counts(), vec![10; 10]);
    for i in 0..s.train.count() {
        let img = s.train.image(i).pixels;
        let bright = img.iter().filter(|&&p| p > 128).count();
        assert!((15..300).contains(&bright), "image {i} has {bright} bright pixels");
        // corners stay background-ish
        assert!(img[0] < 80 && img[783] < 80, "image {i} corners");
    }
}

/// A nearest-class-mean classifier on raw pixels must beat chance by far;
/// if this fails the classes are not distinct enough to learn.
#[test]
fn learnable_by_nearest_class_mean() {
    let s = generate(&SyntheticConfig { seed: 9, train: 2000, test: 500 }).unwrap();
    let mut means = vec![[0f64; 784]; 10];
    for (img, &l) in s.train.images.pixels().chunks_exact(784).zip(&s.train.labels) {
        for (m, &p) in means[l as usize].iter_mut().zip(img) {
            *m += f64::from(p) / 200.0;
        }
    }
    let correct = s
        .test
        .images
        .pixels()
        .chunks_exact(784)
        .zip(&s.test.labels)
        .filter(|(img, &l)| {
            let dist =
                |m: &[f64; 784]| -> f64 { m.iter().zip(img.iter()).map(|(a, &b)| (a - f64::from(b)).powi(2)).sum() };
            let best = (0..10).min_by(|&a, &b| dist(&means[a]).total_cmp(&dist(&means[b]))).unwrap();
            best == l as usize
        })
        .count();
    let acc = correct as f64 / 500.0;
    assert!(acc > 0.8, "nearest-mean accuracy {acc}");
}

#[test]
fn load_by_name_honours_config_and_limit() {
    let opts = LoadOptions {
        limit: Some(30),
        synthetic: SyntheticConfig { seed: 3, train: 100, test: 20 },
        ..LoadOptions::default()
    };
    let s = load("synthetic", None, &roots(), &opts).unwrap();
    assert_eq!((s.train.count(), s.test.count()), (30, 20));
    let zero = LoadOptions { limit: Some(0), ..LoadOptions::default() };
    assert!(matches!(load("synthetic", None, &roots(), &zero), Err(DataError::InvalidOption { .. })));
    let empty = SyntheticConfig { seed: 3, train: 0, test: 5 };
    assert!(generate(&empty).is_err());
}
