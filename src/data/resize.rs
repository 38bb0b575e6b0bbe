//! Antialiased bilinear resizing of planar images.
//!
//! Consumes: a planar (channel-major) image, `u8` ([`Image`]) or `f32`, and a target
//! size. Produces: the resized planar image.
//!
//! What it matches: Pillow's `Image.resize(size, Image.BILINEAR)`, which is what
//! torchvision's `Resize` does to a PIL image (torchvision's `ImageFolder` loads PIL
//! images), and what `Resize(antialias=True)` approximates on tensors. The filter is
//! the triangle `max(0, 1 − |x|)` stretched by the downscale factor (support 1 when
//! enlarging, `in/out` when reducing), so every input pixel contributes when
//! shrinking: an antialiased box-like average rather than point sampling. Output
//! pixel `i` is centred at input coordinate `(i + 0.5)·in/out`; its taps run from
//! `trunc(centre − support + 0.5)` to `trunc(centre + support + 0.5)` clamped to the
//! image, and the weights are normalised to sum to 1 (so edges renormalise rather
//! than fade to black).
//!
//! For `u8` the arithmetic is Pillow's, bit for bit: weights rounded to 22-bit fixed
//! point (half away from zero), sums started at ½ and shifted back with clamping to
//! 0..=255, the horizontal pass first, rounded to `u8`, then the vertical pass. The
//! `f32` variant uses the same weights with `f64` sums and an `f32` intermediate
//! image (Pillow's mode "F"). `tests/data_resize.rs` holds values computed by Pillow 13.
//!
//! Guarantees: no panic for any sizes ≥ 1 (a zero size is an error); an axis whose
//! size does not change is copied, not filtered.

use crate::data::error::DataError;
use crate::data::images::Image;

/// Fixed-point precision of `u8` weights (Pillow's `PRECISION_BITS`: 32 − 8 − 2).
const PRECISION_BITS: u32 = 22;

/// The taps of every output pixel along one axis.
#[derive(Debug, Clone)]
struct Taps {
    /// Per output pixel: first input index and tap count.
    bounds: Vec<(usize, usize)>,
    /// `bounds.len() × stride` weights, each row summing to 1 (zero-padded).
    weights: Vec<f64>,
    stride: usize,
}

impl Taps {
    /// Triangle-filter taps for resampling `input` pixels to `output` pixels.
    fn new(input: usize, output: usize) -> Taps {
        let scale = input as f64 / output as f64;
        let filter_scale = scale.max(1.0);
        let support = filter_scale; // the triangle's support is 1
        let stride = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(output);
        let mut weights = vec![0.0; output * stride];
        for (i, row) in weights.chunks_exact_mut(stride).enumerate() {
            let centre = (i as f64 + 0.5) * scale;
            // `as usize` truncates toward zero and saturates negatives at 0, like
            // Pillow's `(int)` followed by its clamp at 0.
            let first = (centre - support + 0.5) as usize;
            let end = ((centre + support + 0.5) as usize).min(input);
            let count = end.saturating_sub(first).min(stride);
            let mut sum = 0.0;
            for (k, w) in row[..count].iter_mut().enumerate() {
                let x = ((first + k) as f64 - centre + 0.5) / filter_scale;
                *w = (1.0 - x.abs()).max(0.0);
                sum += *w;
            }
            if sum != 0.0 {
                row[..count].iter_mut().for_each(|w| *w /= sum);
            }
            bounds.push((first, count));
        }
        Taps { bounds, weights, stride }
    }

    /// The weights in Pillow's fixed point.
    fn fixed(&self) -> Vec<i32> {
        let one = f64::from(1u32 << PRECISION_BITS);
        self.weights.iter().map(|&w| if w < 0.0 { (w * one - 0.5) as i32 } else { (w * one + 0.5) as i32 }).collect()
    }
}

fn check_size(from: (usize, usize), to: (usize, usize)) -> Result<(), DataError> {
    if from.0 == 0 || from.1 == 0 || to.0 == 0 || to.1 == 0 {
        return Err(DataError::InvalidOption { what: format!("cannot resize {}×{} to {}×{}", from.0, from.1, to.0, to.1) });
    }
    Ok(())
}

fn round_fixed(sum: i32) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes a planar `u8` image to `h × w`, exactly as Pillow's bilinear resize.
pub fn resize(img: Image<'_>, h: usize, w: usize) -> Result<Vec<u8>, DataError> {
    check_size((img.h, img.w), (h, w))?;
    let mut out = Vec::with_capacity(img.channels * h * w);
    let horizontal = (img.w != w).then(|| Taps::new(img.w, w));
    let vertical = (img.h != h).then(|| Taps::new(img.h, h));
    let (hk, vk) = (horizontal.as_ref().map(Taps::fixed), vertical.as_ref().map(Taps::fixed));
    let mut tmp = Vec::new();
    for c in 0..img.channels {
        let plane = img.plane(c);
        // Only the rows the vertical pass reads need the horizontal pass.
        let (row0, rows) = match &vertical {
            Some(v) => {
                let first = v.bounds.iter().map(|b| b.0).min().unwrap_or(0);
                let end = v.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(0);
                (first, end - first)
            }
            None => (0, img.h),
        };
        let wide: &[u8] = match (&horizontal, &hk) {
            (Some(t), Some(k)) => {
                tmp.clear();
                tmp.resize(rows * w, 0);
                for (src, dst) in plane[row0 * img.w..].chunks_exact(img.w).zip(tmp.chunks_exact_mut(w)) {
                    horizontal_row(src, dst, t, k);
                }
                &tmp
            }
            _ => &plane[row0 * img.w..(row0 + rows) * img.w],
        };
        match (&vertical, &vk) {
            (Some(t), Some(k)) => vertical_plane(wide, row0, w, t, k, &mut out),
            _ => out.extend_from_slice(wide),
        }
    }
    Ok(out)
}

fn horizontal_row(src: &[u8], dst: &mut [u8], t: &Taps, k: &[i32]) {
    for ((d, &(first, count)), ks) in dst.iter_mut().zip(&t.bounds).zip(k.chunks_exact(t.stride)) {
        let mut sum = 1i32 << (PRECISION_BITS - 1);
        for (&p, &wt) in src[first..first + count].iter().zip(ks) {
            sum += i32::from(p) * wt;
        }
        *d = round_fixed(sum);
    }
}

/// The vertical pass over `src`, whose first row is input row `row0`; appends to `out`.
fn vertical_plane(src: &[u8], row0: usize, w: usize, t: &Taps, k: &[i32], out: &mut Vec<u8>) {
    let mut sums = vec![0i32; w];
    for (&(first, count), ks) in t.bounds.iter().zip(k.chunks_exact(t.stride)) {
        sums.fill(1 << (PRECISION_BITS - 1));
        for (r, &wt) in ks[..count].iter().enumerate() {
            let row = &src[(first + r - row0) * w..][..w];
            for (s, &p) in sums.iter_mut().zip(row) {
                *s += i32::from(p) * wt;
            }
        }
        out.extend(sums.iter().map(|&s| round_fixed(s)));
    }
}

/// Resizes a planar `f32` image (`channels × ih × iw` values) to `h × w`, with the
/// weights of [`resize`] and no rounding to integers.
pub fn resize_f32(
    pixels: &[f32],
    channels: usize,
    (ih, iw): (usize, usize),
    (h, w): (usize, usize),
) -> Result<Vec<f32>, DataError> {
    check_size((ih, iw), (h, w))?;
    if pixels.len() != channels * ih * iw {
        return Err(DataError::InvalidOption {
            what: format!("{} values are not a {channels}×{ih}×{iw} image", pixels.len()),
        });
    }
    let (ht, vt) = (Taps::new(iw, w), Taps::new(ih, h));
    let mut out = Vec::with_capacity(channels * h * w);
    let mut wide = vec![0f32; ih * w];
    for plane in pixels.chunks_exact(ih * iw) {
        // Sums in f64, the intermediate image in f32, as Pillow's mode "F".
        if iw == w {
            wide.copy_from_slice(plane);
        } else {
            for (src, dst) in plane.chunks_exact(iw).zip(wide.chunks_exact_mut(w)) {
                let taps = ht.bounds.iter().zip(ht.weights.chunks_exact(ht.stride));
                for (d, (&(first, count), ks)) in dst.iter_mut().zip(taps) {
                    *d = src[first..first + count].iter().zip(ks).map(|(&p, &k)| f64::from(p) * k).sum::<f64>() as f32;
                }
            }
        }
        if ih == h {
            out.extend_from_slice(&wide);
            continue;
        }
        for (&(first, count), ks) in vt.bounds.iter().zip(vt.weights.chunks_exact(vt.stride)) {
            for x in 0..w {
                let v: f64 = (0..count).map(|r| f64::from(wide[(first + r) * w + x]) * ks[r]).sum();
                out.push(v as f32);
            }
        }
    }
    Ok(out)
}

/// The size torchvision's `Resize(target)` gives an `h × w` image: the shorter side
/// becomes `target`, the longer `trunc(target · long / short)` (aspect kept).
pub fn shorter_side_size(h: usize, w: usize, target: usize) -> (usize, usize) {
    let (short, long) = (h.min(w), h.max(w));
    let scaled = ((target as u128 * long as u128) as f64 / short.max(1) as f64) as usize;
    if h <= w {
        (target, scaled.max(1))
    } else {
        (scaled.max(1), target)
    }
}

/// Resizes so that the shorter side is `target` (see [`shorter_side_size`]); returns
/// the new `(h, w)` and the pixels.
pub fn resize_shorter_side(img: Image<'_>, target: usize) -> Result<((usize, usize), Vec<u8>), DataError> {
    let (h, w) = shorter_side_size(img.h, img.w, target);
    Ok(((h, w), resize(img, h, w)?))
}
