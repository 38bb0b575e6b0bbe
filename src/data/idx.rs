//! IDX file reader (the MNIST container format), raw or gzip-compressed.
//!
//! Consumes: a path to an IDX file holding unsigned bytes: images (magic
//! `0x00000803`, dims `[n, rows, cols]`) or labels (magic `0x00000801`,
//! dims `[n]`). Gzip is detected from the magic bytes `1f 8b`, never from the
//! file name; concatenated gzip members are accepted.
//!
//! Produces: the header dimensions and the payload bytes.
//!
//! Guarantees: never panics on bad input; every failure is a [`DataError`]
//! naming the file. Only regular files are read (a directory, a device or a FIFO is
//! refused before any read). Memory use is bounded by the header-declared payload
//! size, which itself must not exceed [`MAX_PAYLOAD_BYTES`]; the buffer grows only
//! as real data arrives, so a lying header cannot make us allocate the whole
//! declared size up front. Everything the header can tell is checked before the
//! payload is read: the dimensions, the image size a dataset needs
//! ([`read_images_sized`]) and, for a raw file, its length. The file must contain
//! exactly the declared bytes (shorter → [`DataError::Truncated`], longer →
//! [`DataError::TrailingBytes`]) and the gzip checksum must match, whatever the
//! `limit`: a limit keeps only the first records, but the rest of a gzip stream is
//! still decompressed (to nowhere) so that a damaged file is always refused.

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::data::error::DataError;
use crate::files::open_regular;

/// Magic number of an unsigned-byte, 3-dimensional IDX file (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an unsigned-byte, 1-dimensional IDX file (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Largest payload (bytes after the header) we agree to load: 1 GiB.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 30;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const GROWTH_CHUNK: usize = 1 << 24;
const TRAILING_COUNT_CAP: u64 = 1 << 20;

/// Images read from an IDX3 file.
#[derive(Debug, Clone)]
pub struct IdxImages {
    /// Record count the header declares (may exceed `count()` under a limit).
    pub declared: usize,
    /// Image height in pixels.
    pub rows: usize,
    /// Image width in pixels.
    pub cols: usize,
    /// `count() * rows * cols` bytes, image-major, row-major within an image.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// Number of images actually loaded.
    pub fn count(&self) -> usize {
        self.pixels.len() / (self.rows * self.cols)
    }
}

/// Labels read from an IDX1 file.
#[derive(Debug, Clone)]
pub struct IdxLabels {
    /// Record count the header declares (may exceed `labels.len()` under a limit).
    pub declared: usize,
    /// One byte per record.
    pub labels: Vec<u8>,
}

/// Reads an images file; `limit` keeps only the first `limit` images.
pub fn read_images(path: &Path, limit: Option<usize>) -> Result<IdxImages, DataError> {
    read_images_checked(path, limit, &|_| Ok(()))
}

/// Reads an images file whose images must be `rows × cols`; a file of another size is
/// refused from its header, before its payload is read.
pub fn read_images_sized(path: &Path, limit: Option<usize>, size: (usize, usize)) -> Result<IdxImages, DataError> {
    read_images_checked(path, limit, &|dims| {
        let found = (dims[1] as usize, dims[2] as usize);
        if found == size {
            Ok(())
        } else {
            Err(DataError::WrongImageSize { path: path.to_path_buf(), expected: size, found })
        }
    })
}

fn read_images_checked(path: &Path, limit: Option<usize>, check: DimsCheck) -> Result<IdxImages, DataError> {
    let raw = read_idx(path, IMAGES_MAGIC, limit, check)?;
    Ok(IdxImages {
        declared: raw.dims[0] as usize,
        rows: raw.dims[1] as usize,
        cols: raw.dims[2] as usize,
        pixels: raw.data,
    })
}

/// Reads a labels file; `limit` keeps only the first `limit` labels.
pub fn read_labels(path: &Path, limit: Option<usize>) -> Result<IdxLabels, DataError> {
    let raw = read_idx(path, LABELS_MAGIC, limit, &|_| Ok(()))?;
    Ok(IdxLabels { declared: raw.dims[0] as usize, labels: raw.data })
}

/// Reads the labels of the `count` images of `images`; a file declaring another count
/// is refused from its header, before its payload is read.
pub fn read_labels_counted(
    path: &Path,
    limit: Option<usize>,
    count: usize,
    images: &Path,
) -> Result<IdxLabels, DataError> {
    let raw = read_idx(path, LABELS_MAGIC, limit, &|dims| {
        if dims[0] as usize == count {
            Ok(())
        } else {
            Err(DataError::CountMismatch {
                images: images.to_path_buf(),
                labels: path.to_path_buf(),
                image_count: count,
                label_count: dims[0] as usize,
            })
        }
    })?;
    Ok(IdxLabels { declared: raw.dims[0] as usize, labels: raw.data })
}

/// A check of the header's dimensions, run before the payload is read.
type DimsCheck<'a> = &'a dyn Fn(&[u32]) -> Result<(), DataError>;

/// Header dimensions plus the payload actually read.
struct RawIdx {
    dims: Vec<u32>,
    data: Vec<u8>,
}

/// An open IDX byte stream and how to attribute its read errors.
struct Source {
    path: PathBuf,
    gzip: bool,
    /// The length of the file on disk (compressed, for gzip).
    len: u64,
    reader: Box<dyn Read>,
}

impl Source {
    fn open(path: &Path) -> Result<Self, DataError> {
        let (file, len) = open_regular(path).map_err(|e| DataError::io(path, e))?;
        let mut buffered = BufReader::new(file);
        let head = buffered.fill_buf().map_err(|e| DataError::io(path, e))?;
        let gzip = head.starts_with(&GZIP_MAGIC);
        let reader: Box<dyn Read> = if gzip { Box::new(MultiGzDecoder::new(buffered)) } else { Box::new(buffered) };
        Ok(Source { path: path.to_path_buf(), gzip, len, reader })
    }

    /// Maps a read failure to the gzip or I/O variant as appropriate.
    fn fail(&self, e: io::Error) -> DataError {
        if self.gzip {
            let truncated = e.kind() == io::ErrorKind::UnexpectedEof;
            DataError::Gzip { path: self.path.clone(), truncated, detail: e.to_string() }
        } else {
            DataError::io(&self.path, e)
        }
    }

    /// Fills as much of `buf` as the stream allows; returns the count.
    fn read_up_to(&mut self, buf: &mut [u8]) -> Result<usize, DataError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(filled)
    }

    /// Reads up to `want` bytes, growing the buffer geometrically but never
    /// beyond `want` and never ahead of data that has actually arrived.
    fn read_payload(&mut self, want: usize) -> Result<Vec<u8>, DataError> {
        let mut data = Vec::new();
        while data.len() < want {
            if data.len() == data.capacity() {
                let target = (data.capacity() * 2).clamp(GROWTH_CHUNK.min(want), want);
                data.reserve_exact(target - data.len());
            }
            let start = data.len();
            let end = data.capacity().min(want);
            data.resize(end, 0);
            let n = self.read_up_to(&mut data[start..])?;
            data.truncate(start + n);
            if start + n < end {
                break;
            }
        }
        Ok(data)
    }

    /// Reads and discards up to `n` bytes; returns how many there were.
    fn skip(&mut self, n: u64) -> Result<u64, DataError> {
        let mut limited = (&mut self.reader).take(n);
        io::copy(&mut limited, &mut io::sink()).map_err(|e| self.fail(e))
    }

    /// Counts bytes left in the stream, stopping just past a cap.
    fn count_rest(&mut self) -> Result<u64, DataError> {
        self.skip(TRAILING_COUNT_CAP + 1)
    }
}

/// Reads the magic and dimensions; returns the dims.
fn read_header(src: &mut Source, expected: u32) -> Result<Vec<u32>, DataError> {
    let ndims = (expected & 0xff) as usize;
    let needed = 4 + 4 * ndims;
    let mut header = vec![0u8; needed];
    let got = src.read_up_to(&mut header[..4])?;
    if got < 4 {
        return Err(short_header(src, needed, got));
    }
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if magic != expected {
        return Err(DataError::BadMagic { path: src.path.clone(), found: magic, expected });
    }
    let got = 4 + src.read_up_to(&mut header[4..])?;
    if got < needed {
        return Err(short_header(src, needed, got));
    }
    let dims = header[4..].chunks_exact(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok(dims)
}

fn short_header(src: &Source, needed: usize, found: usize) -> DataError {
    DataError::ShortHeader { path: src.path.clone(), needed: needed as u64, found: found as u64 }
}

/// Validates dims and returns (total payload bytes, bytes per record).
fn payload_size(path: &Path, dims: &[u32]) -> Result<(u64, u64), DataError> {
    if dims.contains(&0) {
        return Err(DataError::ZeroDimension { path: path.to_path_buf(), dims: dims.to_vec() });
    }
    let too_large =
        |bytes| DataError::TooLarge { path: path.to_path_buf(), dims: dims.to_vec(), bytes, cap: MAX_PAYLOAD_BYTES };
    let total = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d))).ok_or_else(|| too_large(None))?;
    if total > MAX_PAYLOAD_BYTES {
        return Err(too_large(Some(total)));
    }
    Ok((total, total / u64::from(dims[0])))
}

fn read_idx(path: &Path, expected: u32, limit: Option<usize>, check: DimsCheck) -> Result<RawIdx, DataError> {
    let mut src = Source::open(path)?;
    let dims = read_header(&mut src, expected)?;
    let header_len = 4 + 4 * dims.len() as u64;
    let (total, record) = payload_size(path, &dims)?;
    check(&dims)?;
    let gzip = src.gzip;
    let truncated =
        |found: u64| DataError::Truncated { path: path.to_path_buf(), expected: header_len + total, found, gzip };
    let trailing = |extra: u64| DataError::TrailingBytes {
        path: path.to_path_buf(),
        expected: header_len + total,
        extra: extra.min(TRAILING_COUNT_CAP),
        more: extra > TRAILING_COUNT_CAP,
    };
    if !src.gzip {
        // A raw file's length is known: it must be what the header says before any
        // payload is read, whatever the limit.
        let want = header_len + total;
        if src.len < want {
            return Err(truncated(src.len));
        }
        if src.len > want {
            return Err(trailing(src.len - want));
        }
    }
    let declared = u64::from(dims[0]);
    let records = limit.map_or(declared, |l| declared.min(l as u64));
    let want = records * record;
    let data = src.read_payload(want as usize)?;
    if (data.len() as u64) < want {
        return Err(truncated(header_len + data.len() as u64));
    }
    if src.gzip && want < total {
        // Past the kept records: decompress the rest to nowhere, so that a damaged
        // stream and its checksum are checked under a limit too.
        let rest = src.skip(total - want)?;
        if rest < total - want {
            return Err(truncated(header_len + want + rest));
        }
    }
    if src.gzip || records == declared {
        let extra = src.count_rest()?;
        if extra > 0 {
            return Err(trailing(extra));
        }
    }
    Ok(RawIdx { dims, data })
}
