//! Augmentation: where a shifted, cropped or flipped image lands, the padding value,
//! random-resized-crop boxes and their fallback, the `--augment` syntax, determinism,
//! that the order of samples does not change, and that evaluation never augments.

use netc::data::augment::{fallback_box, resized_crop_box, CropBox, ResizedCrop};
use netc::data::{Augment, Batcher, Dataset, ImageSet, NormalizeOption, Pipeline, PrepOptions, Rng};

/// `n` 1-channel images of `size × size`, each with a single ink pixel at (row 5, column 7).
fn dots(n: usize, size: usize) -> Dataset {
    let per = size * size;
    let mut images = vec![0u8; n * per];
    for i in 0..n {
        images[i * per + 5 * size + 7] = 255;
    }
    Dataset {
        name: "dots".into(),
        images: ImageSet::fixed(1, size, size, images).unwrap(),
        labels: vec![0; n],
        classes: (0..10).map(|d| d.to_string()).collect(),
        files: Vec::new(),
    }
}

fn lecun(ds: &Dataset, field: usize) -> Pipeline {
    let opts = PrepOptions { normalize: NormalizeOption::Lecun, ..PrepOptions::default() };
    Pipeline::build(&opts, ds, (1, field, field)).unwrap()
}

/// Where the ink pixel of each image of one epoch landed in the `field × field` input.
fn positions(b: &mut Batcher, field: usize, shuffled: Option<(u64, u64)>) -> Vec<(usize, usize)> {
    let mut e = match shuffled {
        Some((seed, epoch)) => b.epoch(seed, epoch),
        None => b.in_order(),
    };
    let mut out = Vec::new();
    while let Some(batch) = e.next_batch() {
        for img in batch.images.chunks(field * field) {
            let k = img.iter().position(|&v| v > 1.0).expect("the ink pixel is inside the field");
            out.push((k / field, k % field));
        }
    }
    out
}

#[test]
fn shifts_stay_within_range_and_vary() {
    let ds = dots(400, 28);
    let p = lecun(&ds, 32);
    let mut b = Batcher::new(&ds, &p, 32).unwrap().with_augment(Augment::shift(2));
    // Centred, the pixel (5, 7) lands at (7, 9) of the 32×32 field.
    let seen = positions(&mut b, 32, Some((1, 0)));
    assert_eq!(seen.len(), 400);
    for &(r, c) in &seen {
        assert!((5..=9).contains(&r) && (7..=11).contains(&c), "shift beyond 2 pixels: {r},{c}");
    }
    let distinct: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), 25, "every shift in −2..=2 × −2..=2 occurs");
}

#[test]
fn augmentation_is_deterministic_and_evaluation_never_augments() {
    let ds = dots(100, 28);
    let p = lecun(&ds, 32);
    let all: Augment = "shift=1,crop=2,flip".parse().unwrap();
    let mut a = Batcher::new(&ds, &p, 16).unwrap().with_augment(all);
    let mut b = Batcher::new(&ds, &p, 16).unwrap().with_augment(all);
    assert_eq!(positions(&mut a, 32, Some((3, 4))), positions(&mut b, 32, Some((3, 4))));
    assert_ne!(positions(&mut a, 32, Some((3, 4))), positions(&mut a, 32, Some((3, 5))));
    assert!(positions(&mut a, 32, None).iter().all(|&p| p == (7, 9)));
    // Augmenting changes pixels, never the order of samples.
    let mut plain = Batcher::new(&ds, &p, 16).unwrap();
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
    let mut ds = dots(200, 28);
    for i in 0..200 {
        ds.images.pixels_mut()[i * 784 + 5 * 28 + 7] = 0;
        ds.images.pixels_mut()[i * 784 + 5 * 28] = 255;
    }
    let p = lecun(&ds, 28);
    let mut b = Batcher::new(&ds, &p, 50).unwrap().with_augment(Augment::shift(1));
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

#[test]
fn crop_with_padding_moves_by_up_to_the_padding_and_pads_with_raw_zero() {
    // 32×32 images in a 32×32 net (CIFAR's case), crop=4: the pixel at (5, 7) lands
    // within 4 of where it was, each of the 81 offsets occurring.
    let ds = dots(2000, 32);
    // Training-set moments: raw 0 is not 0 after normalisation.
    let p = Pipeline::build(&PrepOptions::default(), &ds, (1, 32, 32)).unwrap();
    assert!(p.value(0, 0) < -0.01);
    let mut b = Batcher::new(&ds, &p, 100).unwrap().with_augment("crop=4".parse().unwrap());
    let mut e = b.epoch(5, 1);
    let mut seen = std::collections::HashSet::new();
    while let Some(batch) = e.next_batch() {
        for img in batch.images.chunks(1024) {
            let k = img.iter().position(|&v| v > 1.0).unwrap();
            let (r, c) = (k / 32, k % 32);
            assert!((1..=9).contains(&r) && (3..=11).contains(&c), "moved beyond 4 pixels: {r},{c}");
            seen.insert((r, c));
            // Whatever came from the padding or the image's background is raw 0.
            assert!(img.iter().all(|&v| v == p.value(0, 0) || v == p.value(0, 255)));
        }
    }
    assert_eq!(seen.len(), 81);
    // An image of all ink cropped 4 down and right shows 4 rows and columns of padding.
    let mut ink = dots(1, 32);
    ink.images.pixels_mut().fill(255);
    let mut b = Batcher::new(&ink, &p, 1).unwrap().with_augment("crop=4".parse().unwrap());
    let mut padded_rows = std::collections::HashSet::new();
    for epoch in 0..60 {
        let mut e = b.epoch(1, epoch);
        let img = e.next_batch().unwrap().images.to_vec();
        let pad_rows = (0..32).filter(|&r| img[r * 32..r * 32 + 32].iter().all(|&v| v == p.value(0, 0))).count();
        padded_rows.insert(pad_rows);
    }
    assert_eq!(padded_rows, (0..=4).collect(), "0 to 4 rows of padding");
}

#[test]
fn flips_mirror_about_half_the_images() {
    let ds = dots(1000, 32);
    let p = lecun(&ds, 32);
    let mut b = Batcher::new(&ds, &p, 64).unwrap().with_augment("flip".parse().unwrap());
    let seen = positions(&mut b, 32, Some((2, 0)));
    let flipped = seen.iter().filter(|&&p| p == (5, 32 - 1 - 7)).count();
    let kept = seen.iter().filter(|&&p| p == (5, 7)).count();
    assert_eq!(flipped + kept, 1000, "a flip moves column 7 to column 24 only");
    // Binomial(1000, ½): 6 standard deviations either side.
    assert!((405..=595).contains(&flipped), "{flipped} of 1000 flipped");
}

#[test]
fn resized_crop_boxes_stay_within_their_ranges() {
    let range = ResizedCrop { scale: (0.25, 0.5), ratio: (0.5, 2.0) };
    let mut rng = Rng::new(11);
    let (h, w) = (60usize, 80usize);
    for _ in 0..2000 {
        let b = resized_crop_box(&mut rng, (h, w), &range);
        assert!(b.h >= 1 && b.w >= 1 && b.top + b.h <= h && b.left + b.w <= w, "{b:?}");
        // Sides are rounded: allow half a pixel on each.
        let (lo, hi) = ((b.h as f64 - 0.5) * (b.w as f64 - 0.5), (b.h as f64 + 0.5) * (b.w as f64 + 0.5));
        let area = (h * w) as f64;
        assert!(hi >= 0.25 * area && lo <= 0.5 * area, "{b:?}: area {} of {area}", b.h * b.w);
        let aspect = (b.w as f64 + 0.5) / (b.h as f64 - 0.5);
        assert!(aspect >= 0.5 && (b.w as f64 - 0.5) / (b.h as f64 + 0.5) <= 2.0, "{b:?}");
    }
    // A 10×100 strip can hold no box of 90% of its area with aspect 3/4-4/3: after 10
    // tries, torchvision's fallback is the central box clamped to the ratio:
    // h = 10, w = round(10 · 4/3) = 13, at column (100 − 13) / 2 = 43.
    let strip = ResizedCrop { scale: (0.9, 1.0), ratio: (0.75, 4.0 / 3.0) };
    let expect = CropBox { top: 0, left: 43, h: 10, w: 13 };
    assert_eq!(fallback_box((10, 100), &strip), expect);
    for seed in 0..20 {
        assert_eq!(resized_crop_box(&mut Rng::new(seed), (10, 100), &strip), expect);
    }
    // Tall: w = 10, h = round(10 / (3/4)) = 13; square images fall back to themselves.
    assert_eq!(fallback_box((100, 10), &strip), CropBox { top: 43, left: 0, h: 13, w: 10 });
    assert_eq!(fallback_box((50, 50), &strip), CropBox { top: 0, left: 0, h: 50, w: 50 });
}

#[test]
fn random_resized_crops_fill_the_field_from_the_box() {
    // A 64×64 image into a 16×16 net with rrc=1-1:1-1 (the whole image, square): every
    // sample is the image resized to 16×16, whatever the draws.
    let pixels: Vec<u8> = (0..64 * 64).map(|k| (k % 64 * 4) as u8).collect();
    let mut ds = dots(3, 64);
    ds.images = ImageSet::fixed(1, 64, 64, pixels.repeat(3)).unwrap();
    let p = lecun(&ds, 16);
    let whole = netc::data::resize::resize(ds.image(0), 16, 16).unwrap();
    let mut b = Batcher::new(&ds, &p, 3).unwrap().with_augment("rrc=1-1:1-1".parse().unwrap());
    let mut e = b.epoch(1, 0);
    let batch = e.next_batch().unwrap();
    for img in batch.images.chunks(256) {
        let want: Vec<f32> = whole.iter().map(|&v| p.value(0, v)).collect();
        assert_eq!(img, &want[..]);
    }
}

#[test]
fn augment_syntax() {
    let parse = |s: &str| s.parse::<Augment>();
    assert_eq!(parse("none"), Ok(Augment::none()));
    assert_eq!(parse("0"), Ok(Augment::none()));
    assert_eq!(parse("3"), Ok(Augment::shift(3)));
    assert_eq!(parse("crop=4, flip"), Ok(Augment { crop: 4, flip: true, ..Augment::none() }));
    assert_eq!(parse("rrc,flip").unwrap().rrc, Some(ResizedCrop::default()));
    let r = parse("rrc=0.25-1:3/4-4/3").unwrap().rrc.unwrap();
    assert_eq!((r.scale, r.ratio), ((0.25, 1.0), (0.75, 4.0 / 3.0)));
    for bad in
        ["crop", "crop=x", "flip=1", "bogus", "shift=1,shift=2", "rrc=0-1", "rrc=0.5-2", "rrc=1-0.5", "", "crop=4,"]
    {
        assert!(parse(bad).is_err(), "{bad:?} parsed");
    }
    for text in ["none", "shift=1", "crop=4,flip", "rrc,flip", "rrc=0.25-1:0.5-2,shift=2,crop=1,flip"] {
        assert_eq!(parse(text).unwrap().to_string(), text);
    }
    // Shifts and paddings that could leave no image are refused.
    assert!(Augment::shift(27).check((28, 28), (32, 32)).is_ok());
    let err = Augment::shift(28).check((28, 28), (32, 32)).unwrap_err();
    assert!(err.contains("28×28") && err.contains("27"), "{err}");
    assert!(parse("crop=32").unwrap().check((32, 32), (32, 32)).is_err());
}
