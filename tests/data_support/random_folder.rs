//! Image folders of seeded random pictures, written at test time: gray and colour
//! files of varied sizes (so that loading shrinks some, replicates gray ones into RGB,
//! and the pipeline resizes and crops), in PNG and JPEG, each class with a brightness
//! of its own so that a net can learn something from them.

use std::path::Path;

use image::{DynamicImage, ImageBuffer, ImageFormat};
use netc::data::Rng;

/// What to write.
pub struct Spec {
    pub classes: usize,
    pub train: usize,
    pub test: usize,
    /// Gray files only (a 1-channel folder).
    pub gray_only: bool,
}

/// Writes image `i` of class `class` to `path`: a noisy picture of `h × w`.
pub fn write_picture(path: &Path, class: usize, i: usize, gray: bool, (h, w): (u32, u32)) {
    let mut rng = Rng::new(1 + 7919 * i as u64 + class as u64);
    let base = 40 + 60 * class as u64;
    let mut px = |c: u64| (base + c * 25 + rng.below(70)).min(255) as u8;
    let img = if gray {
        DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |_, _| image::Luma([px(0)])))
    } else {
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |_, _| image::Rgb([px(0), px(1), px(2)])))
    };
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let format = if path.extension().is_some_and(|e| e == "jpg") { ImageFormat::Jpeg } else { ImageFormat::Png };
    img.save_with_format(path, format).unwrap();
}

/// Writes `root/train/<class>/…` and `root/test/<class>/…` as `spec` says.
pub fn write_folder(root: &Path, spec: &Spec) {
    const SIZES: [(u32, u32); 4] = [(20, 24), (30, 18), (16, 16), (41, 37)];
    for (split, n) in [("train", spec.train), ("test", spec.test)] {
        for i in 0..n {
            let class = i % spec.classes;
            let gray = spec.gray_only || i % 3 == 0;
            let ext = if i % 5 == 4 { "jpg" } else { "png" };
            let size = SIZES[(i / spec.classes) % SIZES.len()];
            let path = root.join(split).join(format!("c{class}")).join(format!("{i:04}.{ext}"));
            write_picture(&path, class, i, gray, size);
        }
    }
}
