//! The size step of preprocessing: where a stored image lands in the net's `H × W` field.
//!
//! Consumes: a stored image (after the channel step), of any size, and a [`Geometry`].
//!
//! Produces: a `Placed` image and the offsets at which its pixel (0, 0) lands in the
//! field: field pixel `(y, x)` is image pixel `(y − top, x − left)`, and a field pixel
//! outside the image is padding (raw 0, i.e. what the normalisation makes of 0).
//!
//! Rules, per axis, for an image of length `n` in a field of length `f`:
//! - `n ≤ f`: the image is centred, the odd pixel of padding at the bottom (right):
//!   offset `(f − n) / 2` rounded down. This is LeCun et al. 1998's 28×28 digit in
//!   LeNet-5's 32×32 field, and torchvision's `CenterCrop` padding (`pad` with
//!   `(f − n) // 2` before and `(f − n + 1) // 2` after).
//! - `n > f`: a centred crop from row `round((n − f) / 2)`, rounding halves to even as
//!   Python's `round` does in torchvision's `center_crop`.
//!
//! [`Geometry::Centre`] applies this to the stored image as it is (fixed-size data at
//! most the field's size: MNIST, CIFAR into a 32×32 net); [`Geometry::ResizeCrop`] first
//! resizes the shorter side to `resize` (Pillow's antialiased bilinear, as torchvision's
//! `Resize` on a PIL image, the longer side truncated as torchvision computes it), which
//! is torchvision's evaluation transform `Resize(R)` + `CenterCrop(H, W)`.

use crate::data::images::Image;
use crate::data::resize::{resize, shorter_side_size};

/// How a stored image is fitted to the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Geometry {
    /// Centred without resampling. `image` is the stored size the pipeline was made for;
    /// an image of another size (`netc predict` on a file) is first resized to cover
    /// `image` and centre-cropped to it, so that it matches what training saw.
    Centre { image: (usize, usize) },
    /// The shorter side resized to `resize`, then centre-cropped (or padded) to the field.
    ResizeCrop { resize: usize },
}

/// The largest resize netc accepts (a side of 2^16 pixels).
pub const MAX_RESIZE: usize = 1 << 16;

/// torchvision's evaluation ratio: resize to 256 for a 224 crop. For a field of
/// `h × w` the default resize is `round(max(h, w) · 256 / 224)`: 256 for 224, 342 for
/// 299, 37 for 32.
pub fn default_resize(h: usize, w: usize) -> usize {
    (h.max(w) as u64 * 256 + 112).div_euclid(224) as usize
}

/// Offset of an image of length `n` centred in a field of length `field` (see the
/// module docs): positive pads, negative crops.
pub fn centre_offset(n: usize, field: usize) -> isize {
    if n <= field {
        ((field - n) / 2) as isize
    } else {
        let excess = n - field;
        // round(excess / 2) with halves to even: an odd excess ends in .5.
        let half = excess / 2;
        let start = if excess % 2 == 1 && half % 2 == 1 { half + 1 } else { half };
        -(start as isize)
    }
}

/// Buffers reused from image to image by one thread.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub luma: Vec<u8>,
    pub resized: Vec<u8>,
    pub crop: Vec<u8>,
}

/// An image placed in the field: field pixel `(y, x)` reads `image(y − top, x − left)`.
pub(crate) struct Placed<'a> {
    pub image: Image<'a>,
    pub top: isize,
    pub left: isize,
}

/// Copies the `h × w` window at `(top, left)` of every plane of `img` into `out`.
pub(crate) fn crop_into(img: Image<'_>, (top, left): (usize, usize), (h, w): (usize, usize), out: &mut Vec<u8>) {
    out.clear();
    for c in 0..img.channels {
        let plane = img.plane(c);
        for row in plane.chunks_exact(img.w).skip(top).take(h) {
            out.extend_from_slice(&row[left..left + w]);
        }
    }
}

fn image(channels: usize, (h, w): (usize, usize), pixels: &[u8]) -> Image<'_> {
    Image { channels, h, w, pixels }
}

/// Resizes `img` to `size` into `out`; an image already of that size is borrowed.
fn resized<'a>(img: Image<'a>, size: (usize, usize), out: &'a mut Vec<u8>) -> Image<'a> {
    if (img.h, img.w) == size {
        return img;
    }
    // Sizes are at least 1 here (images are never empty, sizes come from checked options).
    *out = resize(img, size.0, size.1).expect("positive sizes");
    image(img.channels, size, out)
}

impl Geometry {
    /// Places `img` in an `field` (h, w) field, resampling into `resized`/`crop` if needed.
    pub(crate) fn place<'a>(
        self,
        img: Image<'a>,
        field: (usize, usize),
        resized_buf: &'a mut Vec<u8>,
        crop_buf: &'a mut Vec<u8>,
    ) -> Placed<'a> {
        let centred = |image: Image<'a>| Placed {
            top: centre_offset(image.h, field.0),
            left: centre_offset(image.w, field.1),
            image,
        };
        match self {
            Geometry::Centre { image: size } if (img.h, img.w) == size => centred(img),
            Geometry::Centre { image: (h, w) } => {
                // Cover h × w with the aspect kept, then crop the centre to exactly h × w.
                let scale = (h as f64 / img.h as f64).max(w as f64 / img.w as f64);
                let cover = (
                    ((img.h as f64 * scale).round() as usize).max(h),
                    ((img.w as f64 * scale).round() as usize).max(w),
                );
                let big = resized(img, cover, resized_buf);
                let top = -centre_offset(big.h, h) as usize;
                let left = -centre_offset(big.w, w) as usize;
                crop_into(big, (top, left), (h, w), crop_buf);
                centred(image(img.channels, (h, w), crop_buf))
            }
            Geometry::ResizeCrop { resize: side } => {
                let size =
                    if img.h.min(img.w) == side { (img.h, img.w) } else { shorter_side_size(img.h, img.w, side) };
                centred(resized(img, size, resized_buf))
            }
        }
    }

    /// The shorter side the loader should store images at (never enlarging them):
    /// `Some(R)` for [`Geometry::ResizeCrop`]; `None` for centred data, kept as it is.
    pub fn stored_side(self) -> Option<usize> {
        match self {
            Geometry::Centre { .. } => None,
            Geometry::ResizeCrop { resize } => Some(resize),
        }
    }

    /// Words for the one-line report.
    pub fn describe(self, field: (usize, usize)) -> String {
        let (fh, fw) = field;
        match self {
            Geometry::Centre { image } if image == field => format!("{fh}×{fw} as stored"),
            Geometry::Centre { image: (h, w) } => {
                let (top, left) = (centre_offset(h, fh), centre_offset(w, fw));
                format!("{h}×{w} centred in {fh}×{fw} (padded {top} top, {left} left with raw 0)")
            }
            Geometry::ResizeCrop { resize } => {
                format!("shorter side resized to {resize} (bilinear, antialiased), centre crop {fh}×{fw}")
            }
        }
    }
}
