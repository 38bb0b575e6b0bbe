//! Writes an image folder of 32×32 RGB PNGs (`DIR/train/<class>/*.png`,
//! `DIR/test/<class>/*.png`) made from Fashion-MNIST: each 28×28 image resized to 32×32
//! (Pillow's bilinear) and tinted with a colour of its own. CIFAR-shaped data for
//! measuring the data path, e.g. the closing numbers of the README's **Feeding**.
//!
//! `NETC_DATA=../shared/data cargo run --release --example tinted_folder -- DIR [TRAIN] [TEST]`

use netc::data::resize::resize;
use netc::data::{load, Dataset, LoadOptions, Rng, SearchRoots};
use std::path::Path;

fn write(ds: &Dataset, n: usize, dir: &Path) {
    for i in 0..n.min(ds.count()) {
        let big = resize(ds.image(i), 32, 32).expect("28×28 resizes");
        let mut rng = Rng::new(1000 + i as u64);
        let tint: Vec<f64> = (0..3).map(|_| 0.4 + 0.6 * rng.next_f64()).collect();
        let mut rgb = Vec::with_capacity(3 * 1024);
        for &px in &big[..1024] {
            rgb.extend(tint.iter().map(|t| (f64::from(px) * t).round() as u8));
        }
        let class = &ds.classes[usize::from(ds.labels[i])].replace('/', "-");
        let path = dir.join(class).join(format!("{i:05}.png"));
        std::fs::create_dir_all(path.parent().unwrap()).expect("create the class folder");
        image::save_buffer(&path, &rgb, 32, 32, image::ExtendedColorType::Rgb8).expect("write the PNG");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = Path::new(args.get(1).expect("usage: tinted_folder DIR [TRAIN] [TEST]"));
    let count = |k: usize, default: usize| args.get(k).map_or(default, |a| a.parse().expect("a count"));
    let (train, test) = (count(2, 10_000), count(3, 2_000));
    let roots = SearchRoots::from_process();
    let limit = Some(train.max(test));
    let fashion = load("fashion-mnist", None, &roots, &LoadOptions { limit, ..LoadOptions::default() })
        .expect("Fashion-MNIST (set NETC_DATA)");
    write(&fashion.train, train, &out.join("train"));
    write(&fashion.test, test, &out.join("test"));
    println!("wrote {} training and {} test images to {}", train, test, out.display());
}
