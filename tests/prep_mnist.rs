//! MNIST through the preprocessing pipeline gives, bit for bit, the batches netc fed
//! before the pipeline existed: the 28×28 digit centred in the field, background
//! padding, `(x/255 − mean)/std` (or LeCun's map) computed in f64 from f32 constants,
//! and 1-pixel shifts drawn in the epoch's order from the epoch's shift stream.
//! The old behaviour is kept here as a per-pixel reference implementation (checked
//! against the old `Prep` itself before it was removed: commit "prep: preprocessing
//! pipeline …", test `the_reference_is_the_old_prep`).
//! Needs the real MNIST files (`NETC_DATA`).

use netc::data::rng::{mix_seed, Rng};
use netc::data::{load, Augment, Batcher, Dataset, LoadOptions, NormalizeOption, Pipeline, PrepOptions, SearchRoots};

fn mnist() -> Option<netc::data::Splits> {
    let Some(root) = std::env::var_os("NETC_DATA") else {
        eprintln!("skipping: NETC_DATA not set (CI sets it to ../shared/data)");
        return None;
    };
    let roots = SearchRoots { cwd: std::env::current_dir().unwrap(), netc_data: Some(root.into()) };
    Some(load("mnist", None, &roots, &LoadOptions::default()).expect("MNIST loads"))
}

/// The old value of a byte: standardised with the training set's moments, or LeCun's map.
fn old_table(train: &Dataset, lecun: bool) -> [f32; 256] {
    let pixels = train.images.pixels();
    let (sum, sq) = pixels.iter().fold((0u64, 0u64), |(s, q), &p| (s + u64::from(p), q + u64::from(p) * u64::from(p)));
    let n = pixels.len() as f64;
    let mean = sum as f64 / n / 255.0;
    let std = (sq as f64 / n / 65025.0 - mean * mean).max(0.0).sqrt();
    let (mean, std) = (mean as f32, std as f32);
    let mut t = [0f32; 256];
    for (raw, v) in t.iter_mut().enumerate() {
        let x = raw as f64;
        *v = if lecun {
            (-0.1f32 as f64 + x * (1.175f32 as f64 - -0.1f32 as f64) / 255.0) as f32
        } else {
            ((x / 255.0 - f64::from(mean)) / f64::from(std)) as f32
        };
    }
    t
}

/// One field, pixel by pixel: the image centred (odd padding at the bottom/right), moved
/// by (dy, dx), background elsewhere.
fn old_image(img: &[u8], field: usize, t: &[f32; 256], (dy, dx): (isize, isize)) -> Vec<f32> {
    let off = ((field - 28) / 2) as isize;
    let mut out = Vec::with_capacity(field * field);
    for y in 0..field as isize {
        for x in 0..field as isize {
            let (r, c) = (y - off - dy, x - off - dx);
            let inside = (0..28).contains(&r) && (0..28).contains(&c);
            out.push(if inside { t[img[(r * 28 + c) as usize] as usize] } else { t[0] });
        }
    }
    out
}

/// Every batch of one epoch as netc made them before: order from `(seed, epoch)`, shifts
/// drawn two per sample (rows, then columns) in that order from the shift stream.
fn old_epoch(ds: &Dataset, field: usize, t: &[f32; 256], seed: u64, epoch: u64, shift: usize) -> Vec<f32> {
    let mut order: Vec<usize> = (0..ds.count()).collect();
    Rng::new(mix_seed(seed, epoch)).shuffle(&mut order);
    let mut shifts = Rng::new(mix_seed(mix_seed(seed, epoch), 0x5157));
    let span = 2 * shift as u64 + 1;
    let mut out = Vec::new();
    for &i in &order {
        let d = if shift > 0 {
            let dy = shifts.below(span) as isize - shift as isize;
            (dy, shifts.below(span) as isize - shift as isize)
        } else {
            (0, 0)
        };
        out.extend(old_image(ds.image(i).pixels, field, t, d));
    }
    out
}

fn new_epoch(ds: &Dataset, p: &Pipeline, augment: Augment, shuffled: Option<(u64, u64)>) -> Vec<f32> {
    let mut b = Batcher::new(ds, p, 64).unwrap().with_augment(augment);
    let mut e = match shuffled {
        Some((seed, epoch)) => b.epoch(seed, epoch),
        None => b.in_order(),
    };
    let mut out = Vec::new();
    while let Some(batch) = e.next_batch() {
        out.extend_from_slice(batch.images);
    }
    out
}

fn same_bits(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let bad = a.iter().zip(b).position(|(x, y)| x.to_bits() != y.to_bits());
    assert!(bad.is_none(), "{what}: first difference at float {}", bad.unwrap());
}

#[test]
fn mnist_batches_are_bit_identical_to_the_old_preprocessing() {
    let Some(s) = mnist() else { return };
    let defaults = Pipeline::build(&PrepOptions::default(), &s.train, (1, 32, 32)).unwrap();
    let t = old_table(&s.train, false);
    assert_eq!(defaults.describe().matches("28×28 centred in 32×32").count(), 1, "{}", defaults.describe());
    // LeNet-5 (32×32), the default 1-pixel shifts, two epochs and two seeds.
    for (seed, epoch) in [(1, 0), (1, 1), (7, 3)] {
        let old = old_epoch(&s.train, 32, &t, seed, epoch, 1);
        same_bits(&new_epoch(&s.train, &defaults, Augment::shift(1), Some((seed, epoch))), &old, "shift=1");
    }
    // The test pass: in order, never shifted.
    let old: Vec<f32> = (0..s.test.count()).flat_map(|i| old_image(s.test.image(i).pixels, 32, &t, (0, 0))).collect();
    same_bits(&new_epoch(&s.test, &defaults, Augment::shift(1), None), &old, "test pass");
    // A 28×28 net (the Keras LeNet), LeCun's map, 2-pixel shifts.
    let lecun = PrepOptions { normalize: NormalizeOption::Lecun, ..PrepOptions::default() };
    let p = Pipeline::build(&lecun, &s.train, (1, 28, 28)).unwrap();
    let old = old_epoch(&s.train, 28, &old_table(&s.train, true), 3, 2, 2);
    same_bits(&new_epoch(&s.train, &p, Augment::shift(2), Some((3, 2))), &old, "lecun, 28×28, shift=2");
}
