//! Decoding one image file into planar `u8` pixels.
//!
//! Consumes: a path and [`DecodeOptions`]. Produces: a [`Decoded`] image, gray (1
//! channel) or colour (3 channels), channel-major.
//!
//! Formats (the `image` crate): PNG (8/16-bit; gray, gray+alpha, RGB, RGBA,
//! palette), JPEG (baseline and progressive; gray, YCbCr, and CMYK/YCCK as far as
//! `zune-jpeg` converts them), BMP, GIF (first frame), WebP (lossy and lossless),
//! PNM (PBM/PGM/PPM). The format is recognised from the file's bytes, the extension
//! being only a fallback.
//!
//! Conversions: alpha is dropped (not composited; torchvision's `convert("RGB")`
//! does the same); 16-bit samples become `(v + 128) / 257`, i.e. `v · 255 / 65535`
//! rounded; a palette image counts as colour. An image whose shorter side exceeds
//! [`DecodeOptions::max_shorter_side`] is downscaled to it ([`crate::data::resize`]),
//! never upscaled.
//!
//! Guarantees: only regular files are opened ([`crate::files::open_regular`]); the
//! pixel count is read from the header and checked against
//! [`DecodeOptions::max_pixels`] before any pixel is decoded, and the decoder's
//! allocations are capped too (`image::Limits`), so a decompression bomb is refused
//! cheaply. Every failure is a [`DataError`] naming the file; nothing panics.

use std::io::BufReader;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::data::error::DataError;
use crate::data::images::Image;
use crate::data::resize::resize_shorter_side;
use crate::files::open_regular;

/// Default largest pixel count of one image: Pillow's decompression-bomb error
/// threshold (twice its `MAX_IMAGE_PIXELS` warning level of 89,478,485).
pub const MAX_PIXELS: u64 = 178_956_970;

/// File name extensions (lower case) of the formats decoded here.
pub const IMAGE_EXTENSIONS: [&str; 10] = ["png", "jpg", "jpeg", "jpe", "bmp", "gif", "webp", "pgm", "ppm", "pbm"];

/// Whether `path`'s extension names a format decoded here (ASCII case-insensitive).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Limits and sizing applied to every decoded image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Images with more pixels than this are refused before decoding.
    pub max_pixels: u64,
    /// Images whose shorter side is longer are downscaled to it.
    pub max_shorter_side: Option<usize>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { max_pixels: MAX_PIXELS, max_shorter_side: None }
    }
}

/// One decoded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// True for colour files (RGB, RGBA, palette, colour JPEG): 3 channels; else 1.
    pub colour: bool,
    /// Height after any downscaling.
    pub h: usize,
    /// Width after any downscaling.
    pub w: usize,
    /// `channels × h × w` bytes, channel-major.
    pub pixels: Vec<u8>,
    /// Bytes of the decoder's output, before the planar copy and any downscaling (what
    /// decoding the file takes at its peak, for memory estimates).
    pub source_bytes: u64,
}

impl Decoded {
    /// 3 for colour, 1 for gray.
    pub fn channels(&self) -> usize {
        if self.colour {
            3
        } else {
            1
        }
    }

    /// The image with 3 channels, gray replicated into R, G and B.
    pub fn into_rgb(self) -> Decoded {
        if self.colour {
            return self;
        }
        let mut pixels = Vec::with_capacity(3 * self.pixels.len());
        for _ in 0..3 {
            pixels.extend_from_slice(&self.pixels);
        }
        Decoded { colour: true, pixels, ..self }
    }
}

fn bad(path: &Path, detail: impl std::fmt::Display) -> DataError {
    DataError::BadImage { path: path.to_path_buf(), detail: detail.to_string() }
}

/// Decodes the image file at `path`.
pub fn decode_file(path: &Path, opts: &DecodeOptions) -> Result<Decoded, DataError> {
    let (file, _) = open_regular(path).map_err(|e| DataError::io(path, e))?;
    let mut reader =
        ImageReader::new(BufReader::new(file)).with_guessed_format().map_err(|e| DataError::io(path, e))?;
    if reader.format().is_none() {
        match ImageFormat::from_path(path) {
            Ok(f) => reader.set_format(f),
            Err(_) => return Err(bad(path, "not a recognised image format")),
        }
    }
    let mut limits = Limits::default();
    // The decoder's own cap: the largest image we accept at 16 bits × 4 channels,
    // plus room for its working buffers.
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| bad(path, e))?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > opts.max_pixels {
        return Err(DataError::ImageTooLarge { path: path.to_path_buf(), w, h, cap: opts.max_pixels });
    }
    if pixels == 0 {
        return Err(bad(path, format!("the image is {w}×{h}")));
    }
    let colour = decoder.color_type().has_color();
    let source_bytes = decoder.total_bytes();
    let img = DynamicImage::from_decoder(decoder).map_err(|e| bad(path, e))?;
    let decoded = Decoded { source_bytes, ..planar(img, colour) };
    shrink(decoded, opts.max_shorter_side, path)
}

/// Downscales so that the shorter side is at most `max` (never upscales).
fn shrink(d: Decoded, max: Option<usize>, path: &Path) -> Result<Decoded, DataError> {
    match max {
        Some(r) if d.h.min(d.w) > r => {
            let img = Image { channels: d.channels(), h: d.h, w: d.w, pixels: &d.pixels };
            let ((h, w), pixels) = resize_shorter_side(img, r).map_err(|e| bad(path, e))?;
            Ok(Decoded { pixels, h, w, ..d })
        }
        _ => Ok(d),
    }
}

/// 16-bit sample to 8 bits, rounded.
fn to_u8(v: u16) -> u8 {
    ((u32::from(v) + 128) / 257) as u8
}

/// Planar gray or RGB from any decoded layout: `keep` of every `stride` samples.
fn planar_from<T: Copy>(raw: &[T], stride: usize, keep: usize, conv: impl Fn(T) -> u8) -> Vec<u8> {
    let n = raw.len() / stride;
    let mut out = vec![0u8; keep * n];
    for (i, px) in raw.chunks_exact(stride).enumerate() {
        for c in 0..keep {
            out[c * n + i] = conv(px[c]);
        }
    }
    out
}

fn planar(img: DynamicImage, colour: bool) -> Decoded {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let pixels = match img {
        DynamicImage::ImageLuma8(b) if !colour => b.into_raw(),
        DynamicImage::ImageLumaA8(b) if !colour => planar_from(b.as_raw(), 2, 1, |v| v),
        DynamicImage::ImageLuma16(b) if !colour => planar_from(b.as_raw(), 1, 1, to_u8),
        DynamicImage::ImageLumaA16(b) if !colour => planar_from(b.as_raw(), 2, 1, to_u8),
        DynamicImage::ImageRgb8(b) if colour => planar_from(b.as_raw(), 3, 3, |v| v),
        DynamicImage::ImageRgba8(b) if colour => planar_from(b.as_raw(), 4, 3, |v| v),
        DynamicImage::ImageRgb16(b) if colour => planar_from(b.as_raw(), 3, 3, to_u8),
        DynamicImage::ImageRgba16(b) if colour => planar_from(b.as_raw(), 4, 3, to_u8),
        other if colour => planar_from(other.to_rgb8().as_raw(), 3, 3, |v| v),
        other => other.to_luma8().into_raw(),
    };
    Decoded { colour, h, w, pixels, source_bytes: 0 }
}
