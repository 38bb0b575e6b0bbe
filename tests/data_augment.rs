//! Augmentation by random shifts: where a shifted image lands, determinism, the range
//! of shifts, that the order of samples does not change, and that evaluation never shifts.

use netc::data::{Batcher, Dataset, ImageSet, Prep, Scaling};

/// `n` 28×28 images, each with a single ink pixel at (row 5, column 7).
fn dots(n: usize) -> Dataset {
    let mut images = vec![0u8; n * 784];
    for i in 0..n {
        images[i * 784 + 5 * 28 + 7] = 255;
    }
    Dataset {
        name: "dots".into(),
        images: ImageSet::fixed(1, 28, 28, images).unwrap(),
        labels: vec![0; n],
        classes: (0..10).map(|d| d.to_string()).collect(),
        files: Vec::new(),
    }
}

/// Where the ink pixel of each image of one epoch landed in the 32×32 field.
fn positions(b: &mut Batcher, shuffled: Option<(u64, u64)>) -> Vec<(usize, usize)> {
    let mut e = match shuffled {
        Some((seed, epoch)) => b.epoch(seed, epoch),
        None => b.in_order(),
    };
    let mut out = Vec::new();
    while let Some(batch) = e.next_batch() {
        for img in batch.images.chunks(32 * 32) {
            let k = img.iter().position(|&v| v > 1.0).expect("the ink pixel is inside the field");
            out.push((k / 32, k % 32));
        }
    }
    out
}

#[test]
fn shifts_stay_within_range_and_vary() {
    let ds = dots(400);
    let prep = Prep::new(&ds, (1, 32, 32), Scaling::Lecun1998).unwrap();
    let mut b = Batcher::new(&ds, prep, 32).unwrap().with_shift(2);
    // Centred, the pixel (5, 7) lands at (7, 9) of the 32×32 field.
    let seen = positions(&mut b, Some((1, 0)));
    assert_eq!(seen.len(), 400);
    for &(r, c) in &seen {
        assert!((5..=9).contains(&r) && (7..=11).contains(&c), "shift beyond 2 pixels: {r},{c}");
    }
    let distinct: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), 25, "every shift in −2..=2 × −2..=2 occurs");
}

#[test]
fn shifts_are_deterministic_and_evaluation_never_shifts() {
    let ds = dots(100);
    let prep = Prep::new(&ds, (1, 32, 32), Scaling::Lecun1998).unwrap();
    let mut a = Batcher::new(&ds, prep.clone(), 16).unwrap().with_shift(1);
    let mut b = Batcher::new(&ds, prep.clone(), 16).unwrap().with_shift(1);
    assert_eq!(positions(&mut a, Some((3, 4))), positions(&mut b, Some((3, 4))));
    assert_ne!(positions(&mut a, Some((3, 4))), positions(&mut a, Some((3, 5))));
    assert!(positions(&mut a, None).iter().all(|&p| p == (7, 9)));
    // Shifting changes pixels, never the order of samples.
    let mut plain = Batcher::new(&ds, prep, 16).unwrap();
    let order = |b: &mut Batcher| {
        let mut e = b.epoch(3, 4);
        let mut v = Vec::new();
        while let Some(batch) = e.next_batch() {
            v.extend_from_slice(batch.indices);
        }
        v
    };
    assert_eq!(order(&mut a), order(&mut plain));
}

#[test]
fn pixels_shifted_out_of_the_field_are_dropped() {
    // A 28×28 net leaves no margin: an ink pixel in the first column shifted left disappears.
    let mut ds = dots(200);
    for i in 0..200 {
        ds.images.pixels_mut()[i * 784 + 5 * 28 + 7] = 0;
        ds.images.pixels_mut()[i * 784 + 5 * 28] = 255;
    }
    let prep = Prep::new(&ds, (1, 28, 28), Scaling::Lecun1998).unwrap();
    let mut b = Batcher::new(&ds, prep, 50).unwrap().with_shift(1);
    let mut e = b.epoch(9, 0);
    let (mut gone, mut kept) = (0, 0);
    while let Some(batch) = e.next_batch() {
        for img in batch.images.chunks(28 * 28) {
            match img.iter().filter(|&&v| v > 1.0).count() {
                0 => gone += 1,
                1 => kept += 1,
                n => panic!("{n} ink pixels"),
            }
        }
    }
    assert!(gone > 20 && kept > 100, "gone {gone}, kept {kept}");
}
