//! Single-thread throughput of the data path (preprocessing and augmentation into
//! batches, as one feeder worker runs it), in images/s, for the shapes that matter:
//! CIFAR-shaped data, MNIST in LeNet-5, and ImageNet-style images stored at shorter
//! side 256 and cropped or random-resized-cropped to 224.
//!
//! `cargo run --release --example prep_bench`

use netc::data::{Augment, Batcher, Dataset, ImageSet, Pipeline, PrepOptions};
use std::time::Instant;

fn dataset(n: usize, c: usize, h: usize, w: usize) -> Dataset {
    let pixels = (0..n * c * h * w).map(|k| ((k * 7919) >> 3) as u8).collect();
    Dataset {
        name: format!("{c}×{h}×{w}"),
        images: ImageSet::fixed(c, h, w, pixels).unwrap(),
        labels: vec![0; n],
        classes: vec!["a".into()],
        files: Vec::new(),
    }
}

fn bench(what: &str, ds: &Dataset, input: (usize, usize, usize), augment: &str, opts: PrepOptions) {
    let p = Pipeline::build(&opts, ds, input).unwrap();
    let augment: Augment = augment.parse().unwrap();
    let mut b = Batcher::new(ds, &p, 64).unwrap().with_augment(augment);
    let mut best = f64::INFINITY;
    for epoch in 0..5 {
        let t = Instant::now();
        let mut e = b.epoch(1, epoch);
        while let Some(batch) = e.next_batch() {
            std::hint::black_box(batch.images);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{what:<48} {:>10.0} images/s   ({})", ds.count() as f64 / best, p.describe());
}

fn main() {
    let cifar = dataset(2048, 3, 32, 32);
    bench("3×32×32 as stored, no augmentation", &cifar, (3, 32, 32), "none", PrepOptions::default());
    bench("3×32×32 as stored, crop=4,flip", &cifar, (3, 32, 32), "crop=4,flip", PrepOptions::default());
    let mnist = dataset(4096, 1, 28, 28);
    bench("1×28×28 centred in 32×32, shift=1", &mnist, (1, 32, 32), "shift=1", PrepOptions::default());
    let gray = PrepOptions { gray: true, ..PrepOptions::default() };
    bench("3×32×32 to gray (luma), crop=4", &cifar, (1, 32, 32), "crop=4", gray);
    let big = dataset(128, 3, 256, 341);
    bench("3×256×341, centre crop 224 (evaluation)", &big, (3, 224, 224), "none", PrepOptions::default());
    let up = PrepOptions { resize: Some(288), ..PrepOptions::default() };
    bench("3×256×341, resized to 288, crop 224", &big, (3, 224, 224), "none", up);
    bench("3×256×341, rrc,flip to 224", &big, (3, 224, 224), "rrc,flip", PrepOptions::default());
}
