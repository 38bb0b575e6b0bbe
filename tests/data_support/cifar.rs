//! CIFAR-format files built at test time: Fashion-MNIST (or, without `$NETC_DATA`,
//! the synthetic bars) resized to 32×32 and tinted into 3 channels.

use std::path::Path;

use netc::data::resize::resize;
use netc::data::{load, Dataset, Image, LoadOptions, SearchRoots, SyntheticConfig};

/// One record: label and 3×32×32 planar pixels.
pub type Record = (u8, Vec<u8>);

/// Red = the gray value, green = ¾ of it, blue = 255 − ½ of it: three channels that
/// differ, from a gray image resized to 32×32.
pub fn tint(gray28: &[u8]) -> Vec<u8> {
    let img = Image { channels: 1, h: 28, w: 28, pixels: gray28 };
    let g = resize(img, 32, 32).expect("resize to 32×32");
    let mut out = g.clone();
    out.extend(g.iter().map(|&p| (u16::from(p) * 3 / 4) as u8));
    out.extend(g.iter().map(|&p| 255 - p / 2));
    out
}

/// `(train, test)` tinted records from Fashion-MNIST, or from the synthetic
/// dataset when `$NETC_DATA` is not set (with a notice).
pub fn tinted(train: usize, test: usize) -> (Vec<Record>, Vec<Record>) {
    let roots = SearchRoots::from_process();
    let opts = LoadOptions {
        limit: Some(train.max(test)),
        synthetic: SyntheticConfig { seed: 3, train, test },
        ..LoadOptions::default()
    };
    let splits = match load("fashion-mnist", None, &roots, &opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("note: using synthetic images instead of Fashion-MNIST ({e})");
            load("synthetic", None, &roots, &opts).expect("synthetic data")
        }
    };
    let records = |ds: &Dataset, n: usize| -> Vec<Record> {
        (0..n.min(ds.count())).map(|i| (ds.labels[i] as u8, tint(ds.image(i).pixels))).collect()
    };
    (records(&splits.train, train), records(&splits.test, test))
}

/// CIFAR-10 files in `dir`: the training records spread over the five batches.
pub fn write_cifar10(dir: &Path, train: &[Record], test: &[Record]) {
    std::fs::create_dir_all(dir).unwrap();
    let per = train.len().div_ceil(5);
    for b in 0..5 {
        let chunk = &train[(b * per).min(train.len())..((b + 1) * per).min(train.len())];
        std::fs::write(dir.join(format!("data_batch_{}.bin", b + 1)), cifar10_bytes(chunk)).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), cifar10_bytes(test)).unwrap();
}

pub fn cifar10_bytes(records: &[Record]) -> Vec<u8> {
    records.iter().flat_map(|(l, px)| std::iter::once(*l).chain(px.iter().copied())).collect()
}

/// The coarse label the CIFAR-100 test files give a fine label.
pub fn coarse_of(fine: u8) -> u8 {
    fine / 5
}

/// CIFAR-100 files in `dir`, coarse label `coarse_of(fine)`.
pub fn write_cifar100(dir: &Path, train: &[Record], test: &[Record]) {
    std::fs::create_dir_all(dir).unwrap();
    let bytes = |rs: &[Record]| -> Vec<u8> {
        rs.iter().flat_map(|(l, px)| [coarse_of(*l), *l].into_iter().chain(px.iter().copied())).collect()
    };
    std::fs::write(dir.join("train.bin"), bytes(train)).unwrap();
    std::fs::write(dir.join("test.bin"), bytes(test)).unwrap();
}
