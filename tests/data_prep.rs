//! The preprocessing pipeline, step by step, against values computed by hand: centring
//! with background padding, the normalisations (LeCun's map, training-set moments per
//! channel, ImageNet's constants, given values, none), gray → RGB, RGB → gray luma,
//! resize + centre-crop geometry, errors, and the stored form.

use netc::data::prep::{
    centre_offset, channel_stats, default_resize, luma, Channels, Geometry, Normalize, Origin, IMAGENET_MEAN,
    IMAGENET_STD,
};
use netc::data::{mean_std, DataError, Dataset, Image, ImageSet, NormalizeOption, Pipeline, PrepOptions};

/// `n` 1-channel images of `rows × cols`; pixel k of image i is `(7i + k + 1) % 256`.
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

/// A dataset of the given 3-channel images (each `3 × h × w`).
fn rgb(h: usize, w: usize, images: Vec<u8>) -> Dataset {
    let n = images.len() / (3 * h * w);
    Dataset {
        name: "rgb".into(),
        images: ImageSet::fixed(3, h, w, images).unwrap(),
        labels: vec![0; n],
        classes: vec!["a".into()],
        files: Vec::new(),
    }
}

fn opts(normalize: NormalizeOption) -> PrepOptions {
    PrepOptions { normalize, ..PrepOptions::default() }
}

fn prepare(p: &Pipeline, img: Image) -> Vec<f32> {
    let mut out = vec![f32::NAN; p.sample_len()];
    p.prepare(img, &mut out).unwrap();
    out
}

#[test]
fn lenet_32x32_centres_with_two_pixel_border() {
    let ds = dataset(1, 28, 28);
    let p = Pipeline::build(&opts(NormalizeOption::Lecun), &ds, (1, 32, 32)).unwrap();
    assert_eq!(p.geometry(), Geometry::Centre { image: (28, 28) });
    let out = prepare(&p, ds.image(0));
    for r in 0..32 {
        for c in 0..32 {
            let v = out[r * 32 + c];
            if (2..30).contains(&r) && (2..30).contains(&c) {
                let raw = ds.images.pixels()[(r - 2) * 28 + (c - 2)];
                assert_eq!(v, p.value(0, raw), "({r},{c})");
            } else {
                assert!((v - -0.1).abs() < 1e-7, "border ({r},{c}) = {v}");
            }
        }
    }
    assert!(p.describe().contains("28×28 centred in 32×32"), "{}", p.describe());
}

#[test]
fn lecun_endpoints_and_linearity() {
    let ds = dataset(1, 28, 28);
    let p = Pipeline::build(&opts(NormalizeOption::Lecun), &ds, (1, 28, 28)).unwrap();
    assert!((p.value(0, 0) - -0.1).abs() < 1e-7);
    assert!((p.value(0, 255) - 1.175).abs() < 1e-6);
    // slope 1.275 / 255 = 0.005 per level
    assert!((p.value(0, 100) - (-0.1 + 0.5)).abs() < 1e-6);
    assert!(p.describe().contains("28×28 as stored"), "{}", p.describe());
}

#[test]
fn given_values_and_odd_padding() {
    let ds = dataset(1, 28, 28);
    let p = Pipeline::build(&opts("0.1307/0.3081".parse().unwrap()), &ds, (1, 30, 29)).unwrap();
    let bg = -0.1307 / 0.3081;
    assert!((p.value(0, 0) - bg).abs() < 1e-6);
    assert!((p.value(0, 255) - (1.0 - 0.1307) / 0.3081).abs() < 1e-5);
    // Odd padding: the extra column at the right: offsets (1, 0).
    let out = prepare(&p, ds.image(0));
    assert!((out[0] - bg).abs() < 1e-6); // top border row
    assert!((out[29 + 28] - bg).abs() < 1e-6); // right border column
    assert_eq!(out[29], p.value(0, 1)); // image (0,0) at (1,0)
}

#[test]
fn centre_offsets_and_default_resize() {
    // Padding: floor((field − n) / 2); cropping: round((n − field) / 2), halves to even.
    assert_eq!([centre_offset(28, 32), centre_offset(29, 32), centre_offset(32, 32)], [2, 1, 0]);
    assert_eq!([centre_offset(33, 32), centre_offset(35, 32), centre_offset(37, 32)], [0, -2, -2]);
    assert_eq!([centre_offset(39, 32), centre_offset(55, 32), centre_offset(256, 224)], [-4, -12, -16]);
    // round(S · 256/224)
    assert_eq!([default_resize(224, 224), default_resize(299, 299), default_resize(32, 32)], [256, 342, 37]);
    assert_eq!(default_resize(28, 24), 32);
}

#[test]
fn resize_then_centre_crop_geometry() {
    // A 40×60 RGB image into a 3×32×32 net: the shorter side to 37 gives 37×55
    // (55 = trunc(37·60/40) = trunc(55.5)); the crop starts at row round(2.5) = 2 and
    // column round(11.5) = 12.
    let pixels: Vec<u8> = (0..3 * 40 * 60).map(|k| ((k * 37) % 251) as u8).collect();
    let ds = rgb(40, 60, pixels);
    let p = Pipeline::build(&opts(NormalizeOption::Unit), &ds, (3, 32, 32)).unwrap();
    assert_eq!(p.geometry(), Geometry::ResizeCrop { resize: 37 });
    let resized = netc::data::resize::resize(ds.image(0), 37, 55).unwrap();
    let out = prepare(&p, ds.image(0));
    for c in 0..3 {
        for y in 0..32 {
            for x in 0..32 {
                let want = f32::from(resized[c * 37 * 55 + (y + 2) * 55 + x + 12]) / 255.0;
                assert_eq!(out[c * 1024 + y * 32 + x], want, "channel {c} ({y},{x})");
            }
        }
    }
    // --resize 32: 32×48, columns from round(8) = 8, no row offset.
    let p32 =
        Pipeline::build(&PrepOptions { resize: Some(32), ..opts(NormalizeOption::Unit) }, &ds, (3, 32, 32)).unwrap();
    let resized = netc::data::resize::resize(ds.image(0), 32, 48).unwrap();
    let out = prepare(&p32, ds.image(0));
    assert_eq!(out[5 * 32 + 7], f32::from(resized[5 * 48 + 15]) / 255.0);
    assert!(p32.describe().contains("shorter side resized to 32"), "{}", p32.describe());
}

#[test]
fn gray_images_are_replicated_into_rgb_nets() {
    let ds = dataset(2, 32, 32);
    let p = Pipeline::build(&opts(NormalizeOption::Imagenet), &ds, (3, 32, 32)).unwrap();
    assert_eq!(p.channels(), Channels::GrayToRgb);
    let out = prepare(&p, ds.image(1));
    let plane = ds.image(1).pixels;
    for c in 0..3 {
        for k in [0, 17, 1023] {
            let want =
                ((f64::from(plane[k]) / 255.0 - f64::from(IMAGENET_MEAN[c])) / f64::from(IMAGENET_STD[c])) as f32;
            assert_eq!(out[c * 1024 + k], want, "channel {c} pixel {k}");
        }
    }
    // The default: the gray moments on every channel.
    let p = Pipeline::build(&PrepOptions::default(), &ds, (3, 32, 32)).unwrap();
    let (m, s) = mean_std(&ds).unwrap();
    assert_eq!(p.normalize(), &Normalize::MeanStd { mean: vec![m; 3], std: vec![s; 3], origin: Origin::TrainingSet });
}

#[test]
fn rgb_becomes_gray_only_when_asked_with_bt601_luma() {
    // PIL's convert("L") of pure red, green, blue, white and a mix.
    assert_eq!([luma(255, 0, 0), luma(0, 255, 0), luma(0, 0, 255), luma(255, 255, 255)], [76, 150, 29, 255]);
    // 0.299·10 + 0.587·200 + 0.114·30 = 123.81 (123.81 in 16-bit fixed point), rounded: 124.
    assert_eq!(luma(10, 200, 30), 124);
    // One 1×2 image: (255, 0, 0) and (10, 200, 30).
    let ds = rgb(1, 2, vec![255, 10, 0, 200, 0, 30]);
    let err = Pipeline::build(&PrepOptions::default(), &ds, (1, 1, 2)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::InputShape { .. }), "{err:?}");
    assert!(msg.contains("1-channel") && msg.contains("3-channel") && msg.contains("--gray"), "{msg}");
    let gray = PrepOptions { gray: true, normalize: NormalizeOption::Unit, ..PrepOptions::default() };
    let p = Pipeline::build(&gray, &ds, (1, 1, 2)).unwrap();
    assert_eq!(p.channels(), Channels::RgbToGray);
    assert_eq!(prepare(&p, ds.image(0)), [76.0 / 255.0, 124.0 / 255.0]);
    // Statistics are those of the luma: levels 76 and 124.
    let (mean, std) = channel_stats(&ds, Channels::RgbToGray).unwrap();
    assert_eq!(mean, [(100f64 / 255.0) as f32]);
    assert!((std[0] - 24.0 / 255.0).abs() < 1e-7, "{std:?}");
    // Other channel counts are refused, naming both.
    let err = Pipeline::build(&PrepOptions::default(), &ds, (2, 1, 2)).unwrap_err().to_string();
    assert!(err.contains("2-channel") && err.contains("3-channel"), "{err}");
}

#[test]
fn per_channel_statistics_of_the_training_set() {
    // Two 1×2 RGB images. R: 0, 255, 255, 0 → mean ½, std ½. G: all 51 → 0.2, 0.
    // B: 0, 0, 0, 255 → mean ¼, std √3/4.
    let ds = rgb(1, 2, vec![0, 255, 51, 51, 0, 0, 255, 0, 51, 51, 0, 255]);
    let (mean, std) = channel_stats(&ds, Channels::Keep).unwrap();
    assert_eq!(mean, [0.5, 0.2, 0.25]);
    assert_eq!(std[0], 0.5);
    assert!(std[1].abs() < 1e-4 && (std[2] - 3f32.sqrt() / 4.0).abs() < 1e-7, "{std:?}");
    // The all-51 channel has no spread: the default normalisation is refused.
    let err = Pipeline::build(&PrepOptions::default(), &ds, (3, 1, 2)).unwrap_err().to_string();
    assert!(err.contains("standard deviations > 0"), "{err}");
    // Over all channels at once (the 1-channel `--scaling standard` of old).
    let (m, _) = mean_std(&ds).unwrap();
    assert!((m - (0.5 + 0.2 + 0.25) / 3.0).abs() < 1e-7);
    let empty = rgb(1, 2, Vec::new());
    assert!(channel_stats(&empty, Channels::Keep).is_err() && mean_std(&empty).is_err());
}

#[test]
fn normalisation_options() {
    let parse = |s: &str| s.parse::<NormalizeOption>();
    assert_eq!(parse("imagenet"), Ok(NormalizeOption::Imagenet));
    assert_eq!(parse("0.5/0.25"), Ok(NormalizeOption::Given { mean: vec![0.5], std: vec![0.25] }));
    assert_eq!(
        parse("0.4,0.5,0.6/0.2, 0.25,0.3"),
        Ok(NormalizeOption::Given { mean: vec![0.4, 0.5, 0.6], std: vec![0.2, 0.25, 0.3] })
    );
    for bad in ["", "0.5", "0.5/0", "0.5/-1", "0.5,0.5/0.25", "a/b", "0.5/inf", "nan/1", "standard"] {
        assert!(parse(bad).is_err(), "{bad:?} parsed");
    }
    let ds = dataset(1, 4, 4);
    // ImageNet needs 3 channels; given values 1 or C of them.
    assert!(Pipeline::build(&opts(NormalizeOption::Imagenet), &ds, (1, 4, 4)).is_err());
    assert!(Pipeline::build(&opts(parse("0.1,0.2/0.3,0.4").unwrap()), &ds, (3, 4, 4)).is_err());
    let p = Pipeline::build(&opts(NormalizeOption::Unit), &ds, (1, 4, 4)).unwrap();
    assert_eq!((p.value(0, 0), p.value(0, 51), p.value(0, 255)), (0.0, 0.2, 1.0));
    assert_eq!(p.describe(), "gray → 4×4 as stored → x/255 → 1×4×4");
    let p = Pipeline::build(&opts(NormalizeOption::Imagenet), &ds, (3, 4, 4)).unwrap();
    assert_eq!(p.value(2, 255), ((1.0 - f64::from(0.406f32)) / f64::from(0.225f32)) as f32);
}

#[test]
fn predicting_a_file_of_another_size_resizes_it_to_what_training_saw() {
    // Trained on 28×28 digits centred in 32×32: a 56×56 image is first resized to 28×28.
    let ds = dataset(1, 28, 28);
    let p = Pipeline::build(&opts(NormalizeOption::Unit), &ds, (1, 32, 32)).unwrap();
    let big: Vec<u8> = (0..56 * 56).map(|k| (k % 56 * 4) as u8).collect();
    let img = Image { channels: 1, h: 56, w: 56, pixels: &big };
    let small = netc::data::resize::resize(img, 28, 28).unwrap();
    let out = prepare(&p, img);
    let want = prepare(&p, Image { channels: 1, h: 28, w: 28, pixels: &small });
    assert_eq!(out, want);
    // An RGB file into the gray pipeline is refused unless it was trained with --gray.
    let colour = vec![9u8; 3 * 28 * 28];
    let mut out = vec![0.0; 1024];
    let err = p.prepare(Image { channels: 3, h: 28, w: 28, pixels: &colour }, &mut out).unwrap_err().to_string();
    assert!(err.contains("--gray"), "{err}");
    assert!(p.prepare(Image { channels: 1, h: 28, w: 28, pixels: &colour[..10] }, &mut out).is_err());
    assert!(p.prepare(ds.image(0), &mut out[..100]).is_err());
}

#[test]
fn a_pipeline_round_trips_through_its_stored_form() {
    let aug: netc::data::Augment = "crop=4,flip".parse().unwrap();
    let ds = rgb(3, 5, (0..3 * 15 * 2).map(|k| (k * 29 % 256) as u8).collect());
    let cases = [
        Pipeline::build(&PrepOptions::default(), &ds, (3, 8, 8)).unwrap(),
        Pipeline::build(&PrepOptions { gray: true, resize: Some(9), ..PrepOptions::default() }, &ds, (1, 8, 8))
            .unwrap(),
        Pipeline::build(&opts(NormalizeOption::Lecun), &dataset(2, 28, 28), (1, 32, 32)).unwrap(),
        Pipeline::build(&opts(NormalizeOption::Imagenet), &ds, (3, 3, 5)).unwrap(),
    ];
    for p in cases {
        let json = p.to_json(&aug);
        let (back, a) = Pipeline::from_json(&json).unwrap();
        assert_eq!(back, p, "{json}");
        assert_eq!(a, Some(aug));
        // Every table entry, bit for bit.
        for raw in 0..=255u8 {
            assert_eq!(back.value(0, raw).to_bits(), p.value(0, raw).to_bits());
        }
    }
    for bad in ["{}", "[1]", r#"{"format":"netc.preprocess/9"}"#] {
        assert!(Pipeline::from_json(bad).is_err(), "{bad}");
    }
    let p = Pipeline::build(&PrepOptions::default(), &ds, (3, 8, 8)).unwrap();
    let wrong = p.to_json(&aug).replace(r#""input":[3,8,8]"#, r#""input":[2,8,8]"#);
    assert!(Pipeline::from_json(&wrong).is_err());
}

#[test]
fn a_file_is_prepared_as_evaluation_prepares_it_in_a_folder() {
    // Two 64×48 RGB PNGs in a folder; evaluated through the loader (which stores them at
    // the shorter side 37 the pipeline asks for) and prepared one by one from the files.
    let dir = std::env::temp_dir().join(format!("netc-prep-file-{}", std::process::id()));
    let mut files = Vec::new();
    for (k, class) in ["a", "b"].iter().enumerate() {
        let rgb: Vec<u8> = (0..64 * 48 * 3).map(|i| ((i * (7 + k)) % 253) as u8).collect();
        for split in ["train", "test"] {
            let path = dir.join(split).join(class).join("x.png");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            image::save_buffer(&path, &rgb, 48, 64, image::ExtendedColorType::Rgb8).unwrap();
            files.push(path);
        }
    }
    let input = (3, 32, 32);
    let side = PrepOptions::default().stored_side(input);
    assert_eq!(side, 37);
    let mut opts = netc::data::LoadOptions::default();
    opts.decode.max_shorter_side = Some(side);
    let roots = netc::data::SearchRoots { cwd: dir.clone(), netc_data: None };
    let splits = netc::data::load(dir.to_str().unwrap(), None, &roots, &opts).unwrap();
    assert_eq!(splits.test.images.size(0), (49, 37), "stored at shorter side 37: 64·37/48 = 49.3");
    let p = Pipeline::build(&PrepOptions::default(), &splits.train, input).unwrap();
    assert_eq!(p.geometry(), Geometry::ResizeCrop { resize: 37 });
    let mut b = netc::data::Batcher::new(&splits.test, &p, 2).unwrap();
    let mut e = b.in_order();
    let batch = e.next_batch().unwrap();
    for (k, path) in [&files[1], &files[3]].into_iter().enumerate() {
        let mut out = vec![0f32; p.sample_len()];
        p.prepare_file(path, netc::data::decode::MAX_PIXELS, &mut out).unwrap();
        assert!(out == batch.images[k * 3072..(k + 1) * 3072], "{}", path.display());
    }
    // A gray pipeline refuses a colour file, naming it.
    let gray_net = Pipeline::build(&PrepOptions::default(), &dataset(1, 28, 28), (1, 32, 32)).unwrap();
    let mut out = vec![0f32; 1024];
    let err = gray_net.prepare_file(&files[1], netc::data::decode::MAX_PIXELS, &mut out).unwrap_err().to_string();
    assert!(err.contains("x.png") && err.contains("--gray"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
