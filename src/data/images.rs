//! Decoded images of one split: `u8` pixels, planar (channel-major) per image, in
//! memory, or for an image folder too big for memory the files to decode them from.
//!
//! Consumes: pixel buffers from the sources (IDX, CIFAR, synthetic, image folders), or
//! a [`StreamedImages`] from the folder loader.
//!
//! Produces: an [`ImageSet`], from which [`ImageSet::image`] borrows one [`Image`]
//! (`channels × h × w` bytes, channel-major, then row-major) of an in-memory set, and
//! [`ImageSet::fetch`] gets one from either kind (decoding a streamed one into the
//! caller's buffer).
//!
//! Guarantees: one channel count for the whole set (at least 1); every image has
//! `h, w ≥ 1`; a *fixed* set (IDX, CIFAR, synthetic) stores all images at one size
//! in one contiguous buffer, a *varied* set (image folders) stores each image's own
//! size and offset. [`ImageSet::fixed_size`] is `Some` whenever all images agree,
//! whichever way the set was built. Growth is checked, never aborting: a buffer that
//! cannot be allocated is a [`DataError`], not a crash. A *streamed* set knows each
//! image's size and channels without holding its pixels: [`ImageSet::pixels`] is empty,
//! and borrowing one of its images with [`ImageSet::image`] is a caller bug (a panic).

use crate::data::error::DataError;
use crate::data::streamed::StreamedImages;

/// One image borrowed from an [`ImageSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image<'a> {
    /// Channel count (1 gray, 3 RGB).
    pub channels: usize,
    /// Height in pixels.
    pub h: usize,
    /// Width in pixels.
    pub w: usize,
    /// `channels × h × w` bytes, channel-major.
    pub pixels: &'a [u8],
}

impl<'a> Image<'a> {
    /// The `h × w` bytes of channel `c` (panics if `c >= channels`: a caller bug).
    pub fn plane(&self, c: usize) -> &'a [u8] {
        let n = self.h * self.w;
        &self.pixels[c * n..(c + 1) * n]
    }
}

/// How image `i` is found in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// All images `h × w`; image `i` starts at `i × channels × h × w`.
    Fixed { h: usize, w: usize, count: usize },
    /// Image `i` is `sizes[i]` and starts at `starts[i]`.
    Varied { sizes: Vec<(u32, u32)>, starts: Vec<usize> },
    /// No pixels: image `i` is decoded from its file when needed.
    Streamed(Box<StreamedImages>),
}

/// The images of one split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    channels: usize,
    layout: Layout,
    pixels: Vec<u8>,
}

fn invalid(what: String) -> DataError {
    DataError::InvalidOption { what }
}

impl ImageSet {
    /// All images the same size: `pixels.len()` must be a multiple of `channels × h × w`
    /// (zero images are allowed).
    pub fn fixed(channels: usize, h: usize, w: usize, pixels: Vec<u8>) -> Result<ImageSet, DataError> {
        let per = channels.checked_mul(h).and_then(|n| n.checked_mul(w)).unwrap_or(0);
        if per == 0 || !pixels.len().is_multiple_of(per) {
            return Err(invalid(format!("{} pixel bytes do not make whole {channels}×{h}×{w} images", pixels.len())));
        }
        let count = pixels.len() / per;
        Ok(ImageSet { channels, layout: Layout::Fixed { h, w, count }, pixels })
    }

    /// An empty set of images of varied sizes, filled with [`ImageSet::push`].
    /// `channels` must be at least 1 (checked by `push`).
    pub fn varied(channels: usize) -> ImageSet {
        ImageSet { channels, layout: Layout::Varied { sizes: Vec::new(), starts: Vec::new() }, pixels: Vec::new() }
    }

    /// A set streamed from disk, of `channels` channels (at least 1).
    pub fn streamed(channels: usize, images: StreamedImages) -> ImageSet {
        ImageSet { channels, layout: Layout::Streamed(Box::new(images)), pixels: Vec::new() }
    }

    /// The files and load-time facts of a streamed set; `None` in memory.
    pub fn stream(&self) -> Option<&StreamedImages> {
        match &self.layout {
            Layout::Streamed(s) => Some(s),
            _ => None,
        }
    }

    /// Appends one `channels × h × w` image. A fixed set accepts images of its own
    /// size only; a streamed set none.
    pub fn push(&mut self, h: usize, w: usize, pixels: &[u8]) -> Result<(), DataError> {
        let want = self.channels.checked_mul(h).and_then(|n| n.checked_mul(w));
        if want != Some(pixels.len()) || want == Some(0) || h > u32::MAX as usize || w > u32::MAX as usize {
            return Err(invalid(format!(
                "an image of {} bytes is not {}×{h}×{w} (or is empty)",
                pixels.len(),
                self.channels
            )));
        }
        match &self.layout {
            Layout::Fixed { h: fh, w: fw, .. } if (*fh, *fw) != (h, w) => {
                return Err(invalid(format!("a {h}×{w} image cannot join a set of {fh}×{fw} images")))
            }
            Layout::Streamed(_) => return Err(invalid("images cannot be added to a streamed set".into())),
            _ => {}
        }
        self.pixels
            .try_reserve(pixels.len())
            .map_err(|_| invalid(format!("cannot allocate {} more bytes of images", pixels.len())))?;
        let start = self.pixels.len();
        self.pixels.extend_from_slice(pixels);
        match &mut self.layout {
            Layout::Fixed { count, .. } => *count += 1,
            Layout::Varied { sizes, starts } => {
                sizes.push((h as u32, w as u32));
                starts.push(start);
            }
            Layout::Streamed(_) => unreachable!("refused above"),
        }
        Ok(())
    }

    /// Makes room for `bytes` more pixel bytes at once (an allocation failure is an
    /// error, not an abort).
    pub fn reserve(&mut self, bytes: usize) -> Result<(), DataError> {
        self.pixels.try_reserve_exact(bytes).map_err(|_| invalid(format!("cannot allocate {bytes} bytes of images")))
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        match &self.layout {
            Layout::Fixed { count, .. } => *count,
            Layout::Varied { sizes, .. } => sizes.len(),
            Layout::Streamed(s) => s.len(),
        }
    }

    /// True when the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channels of every image.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// `Some((h, w))` when every image has this size (a fixed set, or a varied set
    /// whose images happen to agree); `None` for an empty varied set.
    pub fn fixed_size(&self) -> Option<(usize, usize)> {
        match &self.layout {
            Layout::Fixed { h, w, .. } => Some((*h, *w)),
            Layout::Varied { sizes, .. } => all_equal(sizes),
            Layout::Streamed(s) => all_equal(s.sizes()),
        }
    }

    /// The size of image `i` (panics if `i >= len()`: a caller bug).
    pub fn size(&self, i: usize) -> (usize, usize) {
        match &self.layout {
            Layout::Fixed { h, w, count } => {
                assert!(i < *count, "image {i} of {count}");
                (*h, *w)
            }
            Layout::Varied { sizes, .. } => (sizes[i].0 as usize, sizes[i].1 as usize),
            Layout::Streamed(s) => (s.sizes()[i].0 as usize, s.sizes()[i].1 as usize),
        }
    }

    /// Image `i` of an in-memory set (panics if `i >= len()` or the set is streamed:
    /// caller bugs; [`ImageSet::fetch`] serves both kinds).
    pub fn image(&self, i: usize) -> Image<'_> {
        let (h, w) = self.size(i);
        let n = self.channels * h * w;
        let start = match &self.layout {
            Layout::Fixed { .. } => i * n,
            Layout::Varied { starts, .. } => starts[i],
            Layout::Streamed(_) => panic!("image {i} of a streamed set is borrowed; use ImageSet::fetch"),
        };
        Image { channels: self.channels, h, w, pixels: &self.pixels[start..start + n] }
    }

    /// Image `i` of an in-memory set, or `None` if `i >= len()` or the set is streamed.
    pub fn get(&self, i: usize) -> Option<Image<'_>> {
        (i < self.len() && self.stream().is_none()).then(|| self.image(i))
    }

    /// Image `i` of either kind: borrowed from memory, or decoded from its file into
    /// `buf` (an error names a file that no longer decodes as it did at load time).
    /// Panics if `i >= len()` (a caller bug).
    pub fn fetch<'a>(&'a self, i: usize, buf: &'a mut Vec<u8>) -> Result<Image<'a>, DataError> {
        match &self.layout {
            Layout::Streamed(s) => s.decode_into(i, self.channels, buf),
            _ => Ok(self.image(i)),
        }
    }

    /// Every pixel byte of every image, image after image (empty for a streamed set).
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Every pixel byte, writable (sizes and layout stay as they are; empty for a
    /// streamed set).
    pub fn pixels_mut(&mut self) -> &mut [u8] {
        &mut self.pixels
    }

    /// Bytes held (pixels and per-image bookkeeping; a streamed set's file names), for
    /// the memory budget.
    pub fn bytes(&self) -> usize {
        let book = match &self.layout {
            Layout::Fixed { .. } => 0,
            Layout::Varied { sizes, starts } => sizes.len() * 8 + starts.len() * std::mem::size_of::<usize>(),
            Layout::Streamed(s) => s.bytes(),
        };
        self.pixels.len() + book
    }

    /// Keeps the first `n` images (no effect if there are fewer). A streamed set loses
    /// its load-time pixel counts, which covered every image.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.len() {
            return;
        }
        match &mut self.layout {
            Layout::Fixed { h, w, count } => {
                *count = n;
                self.pixels.truncate(n * self.channels * *h * *w);
            }
            Layout::Varied { sizes, starts } => {
                self.pixels.truncate(starts[n]);
                sizes.truncate(n);
                starts.truncate(n);
            }
            Layout::Streamed(s) => s.truncate(n),
        }
        self.pixels.shrink_to_fit();
    }

    /// A new set holding images `indices` in that order (same layout kind; a streamed
    /// set is refused). Panics on an index out of range (a caller bug).
    pub fn select(&self, indices: &[usize]) -> Result<ImageSet, DataError> {
        let mut out = match &self.layout {
            Layout::Fixed { h, w, .. } => ImageSet::fixed(self.channels, *h, *w, Vec::new())?,
            Layout::Varied { .. } => ImageSet::varied(self.channels),
            Layout::Streamed(_) => return Err(invalid("images cannot be selected from a streamed set".into())),
        };
        let total: usize = indices.iter().map(|&i| self.image(i).pixels.len()).sum();
        out.pixels.try_reserve_exact(total).map_err(|_| invalid(format!("cannot allocate {total} bytes of images")))?;
        for &i in indices {
            let img = self.image(i);
            out.push(img.h, img.w, img.pixels)?;
        }
        Ok(out)
    }
}

/// The size all `sizes` share, if they do (`None` for none).
fn all_equal(sizes: &[(u32, u32)]) -> Option<(usize, usize)> {
    let first = *sizes.first()?;
    sizes.iter().all(|&s| s == first).then_some((first.0 as usize, first.1 as usize))
}
