//! Writes an image folder of RGB images (`DIR/train/<class>/*`, `DIR/test/<class>/*`)
//! made from Fashion-MNIST: each 28×28 image resized (Pillow's bilinear) to H×W, 32×32
//! by default, and tinted with a colour of its own, as PNG or, with `jpg`, as JPEG
//! (quality 90). CIFAR-shaped data for measuring the data path, e.g. the closing numbers
//! of the README's **Feeding**; larger JPEGs for measuring decoding.
//!
//! `NETC_DATA=../shared/data cargo run --release --example tinted_folder -- DIR [TRAIN] [TEST] [H W] [png|jpg]`

use netc::data::resize::resize;
use netc::data::{load, Dataset, LoadOptions, Rng, SearchRoots};
use std::path::Path;

/// The size and format of the files.
struct Files {
    h: usize,
    w: usize,
    jpeg: bool,
}

fn write(ds: &Dataset, n: usize, dir: &Path, files: &Files) {
    let (h, w) = (files.h, files.w);
    for i in 0..n.min(ds.count()) {
        let big = resize(ds.image(i), h, w).expect("28×28 resizes");
        let mut rng = Rng::new(1000 + i as u64);
        let tint: Vec<f64> = (0..3).map(|_| 0.4 + 0.6 * rng.next_f64()).collect();
        let mut rgb = Vec::with_capacity(3 * h * w);
        for &v in &big {
            rgb.extend(tint.iter().map(|t| (f64::from(v) * t).round() as u8));
        }
        let class = &ds.classes[usize::from(ds.labels[i])].replace('/', "-");
        let path = dir.join(class).join(format!("{i:05}.{}", if files.jpeg { "jpg" } else { "png" }));
        std::fs::create_dir_all(path.parent().unwrap()).expect("create the class folder");
        if files.jpeg {
            let out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create the JPEG"));
            image::codecs::jpeg::JpegEncoder::new_with_quality(out, 90)
                .encode(&rgb, w as u32, h as u32, image::ExtendedColorType::Rgb8)
                .expect("write the JPEG");
        } else {
            image::save_buffer(&path, &rgb, w as u32, h as u32, image::ExtendedColorType::Rgb8).expect("write the PNG");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = Path::new(args.get(1).expect("usage: tinted_folder DIR [TRAIN] [TEST] [H W] [png|jpg]"));
    let count = |k: usize, default: usize| args.get(k).map_or(default, |a| a.parse().expect("a number"));
    let (train, test) = (count(2, 10_000), count(3, 2_000));
    let files = Files { h: count(4, 32), w: count(5, 32), jpeg: args.get(6).is_some_and(|f| f == "jpg") };
    let roots = SearchRoots::from_process();
    let limit = Some(train.max(test));
    let fashion = load("fashion-mnist", None, &roots, &LoadOptions { limit, ..LoadOptions::default() })
        .expect("Fashion-MNIST (set NETC_DATA)");
    write(&fashion.train, train, &out.join("train"), &files);
    write(&fashion.test, test, &out.join("test"), &files);
    println!("wrote {} training and {} test images to {}", train, test, out.display());
}
