//! A split of an image folder that is streamed from disk: what an [`ImageSet`] holds
//! instead of pixels when the decoded images do not fit the memory budget (or the user
//! asked for streaming), and how one of its images is decoded again when a batch needs it.
//!
//! Consumes: what the loader learnt when it decoded every file once (each file's stored
//! size, the folder's channel count, the split's [`PixelCounts`]) and the
//! [`DecodeOptions`] it used.
//!
//! Produces: image `i` on demand (`StreamedImages::decode_into`), decoded exactly as
//! the loader decodes a file for an in-memory set (same decoder, same shrink to the
//! stored side, gray replicated into a 3-channel folder), so a streamed run feeds the
//! same bytes, hence bit-identical batches, as an in-memory run of the same folder.
//!
//! Guarantees: a file that no longer decodes as it did at load time (deleted, corrupted,
//! replaced by an image of another size or a colour image in a gray folder) is a
//! [`DataError::ImageChanged`] naming it; nothing panics. Leaving such a file out would
//! change the epochs' batches, so it is an error even with `--skip-bad-images` (which
//! acts at load time, when every file is decoded once).
//!
//! [`ImageSet`]: crate::data::ImageSet

use std::path::PathBuf;

use crate::data::decode::{decode_file, DecodeOptions};
use crate::data::error::DataError;
use crate::data::images::Image;
use crate::data::pixel_counts::PixelCounts;

/// Why a folder's images are streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamReason {
    /// `--cache-images never`.
    Asked,
    /// The decoded images of both splits (`needed` bytes) exceed `budget`.
    OverBudget { needed: u64, budget: u64 },
}

/// The files of a streamed split and what the loader learnt about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedImages {
    files: Vec<PathBuf>,
    sizes: Vec<(u32, u32)>,
    decode: DecodeOptions,
    /// `None` once the set was cut ([`StreamedImages::truncate`]): they no longer match.
    counts: Option<PixelCounts>,
    /// Bytes of the largest decoder output (before the planar copy and the shrink).
    largest_source: u64,
    why: StreamReason,
}

/// Bytes of a `PathBuf` beside its text.
const PATH_OVERHEAD: usize = std::mem::size_of::<PathBuf>();

impl StreamedImages {
    /// A streamed split: `files[i]` decodes to an image stored at `sizes[i]` (h, w).
    pub fn new(
        files: Vec<PathBuf>,
        sizes: Vec<(u32, u32)>,
        decode: DecodeOptions,
        counts: PixelCounts,
        largest_source: u64,
        why: StreamReason,
    ) -> StreamedImages {
        debug_assert_eq!(files.len(), sizes.len());
        StreamedImages { files, sizes, decode, counts: Some(counts), largest_source, why }
    }

    pub(crate) fn len(&self) -> usize {
        self.sizes.len()
    }

    pub(crate) fn sizes(&self) -> &[(u32, u32)] {
        &self.sizes
    }

    /// Why the split is streamed.
    pub fn why(&self) -> StreamReason {
        self.why
    }

    /// The pixel counts taken at load time (`None` after `StreamedImages::truncate`).
    pub fn counts(&self) -> Option<&PixelCounts> {
        self.counts.as_ref()
    }

    /// Bytes held: sizes, file names and counts.
    pub fn bytes(&self) -> usize {
        let names: usize = self.files.iter().map(|f| f.as_os_str().len() + PATH_OVERHEAD).sum();
        self.sizes.len() * 8 + names + 5 * 256 * 8
    }

    /// Bytes one thread holds while decoding one image of this split: the decoder's
    /// output for the largest file, its planar copy, and the stored image with the
    /// preprocessing's buffers (a resize and a crop of it). An estimate for the memory
    /// check, exact in its big terms.
    pub fn thread_bytes(&self, channels: usize) -> u64 {
        let stored = self.sizes.iter().map(|&(h, w)| u64::from(h) * u64::from(w)).max().unwrap_or(0);
        // The planar copy has at most 3 bytes per decoder pixel of at least 1 byte.
        self.largest_source * 4 + stored * channels as u64 * 3
    }

    /// Keeps the first `n` images; the pixel counts are dropped (they covered all).
    pub(crate) fn truncate(&mut self, n: usize) {
        if n < self.len() {
            self.files.truncate(n);
            self.sizes.truncate(n);
            self.counts = None;
        }
    }

    /// Decodes image `i` into `buf` with `channels` channels and returns it.
    pub(crate) fn decode_into<'a>(
        &self,
        i: usize,
        channels: usize,
        buf: &'a mut Vec<u8>,
    ) -> Result<Image<'a>, DataError> {
        let path = &self.files[i];
        let changed = |detail: String| DataError::ImageChanged { path: path.clone(), detail };
        let d = decode_file(path, &self.decode).map_err(|e| {
            changed(match e {
                DataError::BadImage { detail, .. } => format!("it no longer decodes: {detail}"),
                DataError::Io { source, .. } => format!("it cannot be read any more: {source}"),
                other => other.to_string(),
            })
        })?;
        let (h, w) = (self.sizes[i].0 as usize, self.sizes[i].1 as usize);
        if (d.h, d.w) != (h, w) {
            return Err(changed(format!("it now decodes to {}×{} instead of {h}×{w}", d.h, d.w)));
        }
        if d.colour && channels == 1 {
            return Err(changed("it is now a colour image in a folder of gray images".into()));
        }
        if d.colour || channels == 1 {
            *buf = d.pixels;
        } else {
            buf.clear();
            for _ in 0..3 {
                buf.extend_from_slice(&d.pixels);
            }
        }
        Ok(Image { channels, h, w, pixels: buf })
    }
}
