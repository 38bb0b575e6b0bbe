//! Preprocessing: centring into the network field, the two scalings, and
//! input-shape errors.

use netc::data::{mean_std, DataError, Dataset, ImageSet, Prep, Scaling};

/// `n` images of `rows × cols`; pixel (r, c) of image i is `(7 * i + r * cols + c + 1) % 256`.
fn dataset(n: usize, rows: usize, cols: usize) -> Dataset {
    let images =
        (0..n * rows * cols).map(|k| ((7 * (k / (rows * cols)) + k % (rows * cols) + 1) % 256) as u8).collect();
    Dataset {
        name: "toy".into(),
        images: ImageSet::fixed(1, rows, cols, images).unwrap(),
        labels: (0..n).map(|i| (i % 10) as u16).collect(),
        classes: (0..10).map(|d| d.to_string()).collect(),
        files: Vec::new(),
    }
}

#[test]
fn lenet_32x32_centres_with_two_pixel_border() {
    let ds = dataset(1, 28, 28);
    let prep = Prep::new(&ds, (1, 32, 32), Scaling::Lecun1998).unwrap();
    assert_eq!(prep.offset(), (2, 2));
    let mut out = vec![f32::NAN; 32 * 32];
    prep.fill(ds.image(0).pixels, &mut out).unwrap();
    for r in 0..32 {
        for c in 0..32 {
            let v = out[r * 32 + c];
            if (2..30).contains(&r) && (2..30).contains(&c) {
                let raw = ds.images.pixels()[(r - 2) * 28 + (c - 2)];
                assert_eq!(v, prep.value(raw), "({r},{c})");
            } else {
                assert!((v - -0.1).abs() < 1e-7, "border ({r},{c}) = {v}");
            }
        }
    }
    // Image pixel (0,0) is raw 1 (not background), so it is identifiable at (2,2).
    assert_eq!(out[2 * 32 + 2], prep.value(1));
    assert_ne!(out[2 * 32 + 2], out[2 * 32 + 1]);
}

#[test]
fn lecun_endpoints_and_linearity() {
    let ds = dataset(1, 28, 28);
    let prep = Prep::new(&ds, (1, 28, 28), Scaling::Lecun1998).unwrap();
    assert!((prep.value(0) - -0.1).abs() < 1e-7);
    assert!((prep.value(255) - 1.175).abs() < 1e-6);
    // slope 1.275 / 255 = 0.005 per level
    assert!((prep.value(100) - (-0.1 + 0.5)).abs() < 1e-6);
    assert_eq!(prep.offset(), (0, 0));
}

#[test]
fn standardize_values_and_padding() {
    let ds = dataset(1, 28, 28);
    let s = Scaling::Standardize { mean: 0.1307, std: 0.3081 };
    let prep = Prep::new(&ds, (1, 30, 29), s).unwrap();
    let bg = -0.1307 / 0.3081;
    assert!((prep.value(0) - bg).abs() < 1e-6);
    assert!((prep.value(255) - (1.0 - 0.1307) / 0.3081).abs() < 1e-5);
    // odd padding: extra column at the right
    assert_eq!(prep.offset(), (1, 0));
    let mut out = vec![0.0; 30 * 29];
    prep.fill(ds.image(0).pixels, &mut out).unwrap();
    assert!((out[0] - bg).abs() < 1e-6); // top border row
    assert!((out[29 + 28] - bg).abs() < 1e-6); // right border column
    assert_eq!(out[29], prep.value(1)); // image (0,0) at (1,0)
}

#[test]
fn wrong_input_shapes_are_errors() {
    let ds = dataset(1, 28, 28);
    for shape in [(3, 32, 32), (1, 27, 32), (1, 32, 20), (0, 28, 28)] {
        let err = Prep::new(&ds, shape, Scaling::Lecun1998).unwrap_err();
        assert!(matches!(err, DataError::InputShape { .. }), "{shape:?}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains("1-channel 28×28"), "{msg}");
        assert!(msg.contains(&format!("{}×{}×{}", shape.0, shape.1, shape.2)), "{msg}");
    }
    let bad = Scaling::Standardize { mean: 0.1, std: 0.0 };
    assert!(matches!(Prep::new(&ds, (1, 28, 28), bad), Err(DataError::InvalidOption { .. })));
}

#[test]
fn fill_rejects_wrong_buffer_sizes() {
    let ds = dataset(1, 28, 28);
    let prep = Prep::new(&ds, (1, 32, 32), Scaling::Lecun1998).unwrap();
    let mut small = vec![0.0; 100];
    assert!(prep.fill(ds.image(0).pixels, &mut small).is_err());
    let mut ok = vec![0.0; 1024];
    assert!(prep.fill(&[0; 10], &mut ok).is_err());
}

#[test]
fn prepare_whole_split_matches_per_image_fill() {
    let ds = dataset(3, 28, 28);
    let prep = Prep::new(&ds, (1, 32, 32), Scaling::Lecun1998).unwrap();
    let all = prep.prepare(&ds).unwrap();
    assert_eq!(all.len(), 3 * 1024);
    let mut one = vec![0.0; 1024];
    prep.fill(ds.image(2).pixels, &mut one).unwrap();
    assert_eq!(all[2048..], one[..]);
}

#[test]
fn mean_std_on_a_known_dataset() {
    // Half the pixels 0, half 255: mean 0.5, population std 0.5.
    let mut ds = dataset(2, 2, 2);
    ds.images = ImageSet::fixed(1, 2, 2, vec![0, 255, 0, 255, 255, 0, 255, 0]).unwrap();
    let (m, s) = mean_std(&ds).unwrap();
    assert!((m - 0.5).abs() < 1e-7 && (s - 0.5).abs() < 1e-7, "{m} {s}");
    // Constant 51 → mean 0.2, std 0, which Standardize must refuse.
    ds.images = ImageSet::fixed(1, 2, 2, vec![51; 8]).unwrap();
    let (m, s) = mean_std(&ds).unwrap();
    assert!((m - 0.2).abs() < 1e-7 && s.abs() < 1e-4, "{m} {s}");
    assert!(Scaling::standardize_from(&ds).is_ok());
    ds.images = ImageSet::fixed(1, 2, 2, Vec::new()).unwrap();
    assert!(mean_std(&ds).is_err());
}
