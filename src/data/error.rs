//! Error type for the data module.
//!
//! Consumes: nothing (plain value types).
//! Produces: [`DataError`], one variant per distinct failure, each carrying the
//! file (or dataset name) it concerns so that `Display` can say precisely what
//! went wrong and where. Library code never prints; the CLI displays these.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Every failure the data module can report.
#[derive(Debug)]
pub enum DataError {
    /// The file could not be opened or read (missing, permissions, I/O).
    Io { path: PathBuf, source: io::Error },
    /// The gzip layer failed: corrupt bytes, bad checksum or a cut-off stream.
    Gzip { path: PathBuf, truncated: bool, detail: String },
    /// The file ends inside the IDX header itself.
    ShortHeader { path: PathBuf, needed: u64, found: u64 },
    /// The first four bytes are not the expected IDX magic number.
    BadMagic { path: PathBuf, found: u32, expected: u32 },
    /// One of the header dimensions is zero.
    ZeroDimension { path: PathBuf, dims: Vec<u32> },
    /// The declared payload overflows `u64` (`bytes == None`) or exceeds `cap`.
    TooLarge { path: PathBuf, dims: Vec<u32>, bytes: Option<u64>, cap: u64 },
    /// The (decompressed) file is shorter than its header says.
    Truncated { path: PathBuf, expected: u64, found: u64, gzip: bool },
    /// Bytes follow the declared payload. `extra` is a lower bound when
    /// `more` is set (counting stops at a cap).
    TrailingBytes { path: PathBuf, expected: u64, extra: u64, more: bool },
    /// Images are not the size the dataset is known to have.
    WrongImageSize { path: PathBuf, expected: (usize, usize), found: (usize, usize) },
    /// A label is not below the dataset's class count.
    LabelOutOfRange { path: PathBuf, index: usize, label: u16, classes: usize },
    /// Images and labels files declare different record counts.
    CountMismatch { images: PathBuf, labels: PathBuf, image_count: usize, label_count: usize },
    /// The dataset name is not one of the known names.
    UnknownDataset { name: String, known: Vec<&'static str> },
    /// No directory holds the four files; lists what is needed and where we looked.
    NotFound { name: String, files: Vec<String>, searched: Vec<(PathBuf, String)> },
    /// The network input cannot be fed from this dataset.
    /// `rows`/`cols` are 0 when the images differ in size.
    InputShape {
        dataset: String,
        channels: usize,
        rows: usize,
        cols: usize,
        want: (usize, usize, usize),
        reason: String,
    },
    /// A caller-supplied option is invalid (batch size 0, std <= 0, ...).
    InvalidOption { what: String },
    /// An image file cannot be decoded: corrupt, truncated, or not an image.
    BadImage { path: PathBuf, detail: String },
    /// An image's header declares more pixels than the cap (a decompression bomb?).
    ImageTooLarge { path: PathBuf, w: u32, h: u32, cap: u64 },
    /// An image folder's layout is unusable (no classes, an empty class, a symlink
    /// loop, an unreadable directory, class sets that differ); `problem` says which
    /// and what to do.
    Folder { path: PathBuf, problem: String },
    /// A file of fixed-size records (CIFAR) whose length is not a whole, non-zero
    /// number of records.
    RecordFile { path: PathBuf, len: u64, record: usize, detail: String },
    /// The decoded images would not fit the memory budget.
    TooMuchData { what: String, bytes: u64, budget: u64, hint: String },
    /// A file of a streamed image folder no longer decodes as it did when the folder
    /// was loaded (deleted, corrupted, replaced); `detail` says how.
    ImageChanged { path: PathBuf, detail: String },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }
}

/// Formats `n` with comma thousands separators: `47040016` → `47,040,016`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn dims_text(dims: &[u32]) -> String {
    let parts: Vec<String> = dims.iter().map(|&d| grouped(u64::from(d))).collect();
    format!("[{}]", parts.join(" × "))
}

fn magic_hint(found: u32, expected: u32) -> String {
    use crate::data::idx::{IMAGES_MAGIC, LABELS_MAGIC};
    let [z0, z1, ty, nd] = found.to_be_bytes();
    if found == LABELS_MAGIC && expected == IMAGES_MAGIC {
        "; this is a labels file (idx1) given where an images file (idx3) was expected".into()
    } else if found == IMAGES_MAGIC && expected == LABELS_MAGIC {
        "; this is an images file (idx3) given where a labels file (idx1) was expected".into()
    } else if found.swap_bytes() == expected {
        "; the bytes are in reversed order (little-endian header?)".into()
    } else if z0 == 0 && z1 == 0 && (0x08..=0x0E).contains(&ty) {
        format!("; an IDX file with element type 0x{ty:02X} and {nd} dimension(s), but only unsigned-byte (0x08) files are supported here")
    } else {
        "; this does not look like an IDX file".into()
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::WrongImageSize { .. }
            | DataError::LabelOutOfRange { .. }
            | DataError::CountMismatch { .. }
            | DataError::UnknownDataset { .. }
            | DataError::NotFound { .. }
            | DataError::InputShape { .. }
            | DataError::InvalidOption { .. } => self.fmt_dataset_error(f),
            DataError::BadImage { .. }
            | DataError::ImageTooLarge { .. }
            | DataError::Folder { .. }
            | DataError::RecordFile { .. }
            | DataError::TooMuchData { .. }
            | DataError::ImageChanged { .. } => self.fmt_image_error(f),
            DataError::Io { .. }
            | DataError::Gzip { .. }
            | DataError::ShortHeader { .. }
            | DataError::BadMagic { .. }
            | DataError::ZeroDimension { .. }
            | DataError::TooLarge { .. }
            | DataError::Truncated { .. }
            | DataError::TrailingBytes { .. } => self.fmt_file_error(f),
        }
    }
}

impl DataError {
    /// Errors about the bytes of a single file.
    fn fmt_file_error(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DataError::*;
        match self {
            Io { path, source } => write!(f, "{}: cannot read file: {source}", path.display()),
            Gzip { path, truncated: true, detail } => {
                write!(f, "{}: gzip stream ends early, the file is truncated ({detail})", path.display())
            }
            Gzip { path, detail, .. } => {
                write!(f, "{}: corrupt gzip data: {detail}", path.display())
            }
            ShortHeader { path, needed, found } => write!(
                f,
                "{}: file ends inside the IDX header: needed {} header bytes, found {}",
                path.display(),
                grouped(*needed),
                grouped(*found)
            ),
            BadMagic { path, found, expected } => write!(
                f,
                "{}: wrong magic number 0x{found:08X}, expected 0x{expected:08X}{}",
                path.display(),
                magic_hint(*found, *expected)
            ),
            ZeroDimension { path, dims } => {
                write!(f, "{}: header declares a zero dimension {}", path.display(), dims_text(dims))
            }
            TooLarge { path, dims, bytes: None, .. } => {
                write!(f, "{}: header dimensions {} multiply to more than 2^64 bytes", path.display(), dims_text(dims))
            }
            TooLarge { path, dims, bytes: Some(b), cap } => write!(
                f,
                "{}: header dimensions {} declare {} bytes, above the {} byte limit",
                path.display(),
                dims_text(dims),
                grouped(*b),
                grouped(*cap)
            ),
            Truncated { path, expected, found, gzip } => {
                write!(
                    f,
                    "{}: file is shorter than its header says: expected {} bytes of data, found {}{}",
                    path.display(),
                    grouped(*expected),
                    grouped(*found),
                    if *gzip { " (after gzip decompression)" } else { "" }
                )
            }
            TrailingBytes { path, expected, extra, more } => write!(
                f,
                "{}: {}{} unexpected bytes after the {} bytes the header declares",
                path.display(),
                if *more { "more than " } else { "" },
                grouped(*extra),
                grouped(*expected)
            ),
            other => write!(f, "{other:?}"), // not reached: routed by `fmt`
        }
    }

    /// Errors about datasets as a whole, lookup and options.
    fn fmt_dataset_error(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DataError::*;
        match self {
            WrongImageSize { path, expected, found } => write!(
                f,
                "{}: images are {}×{}, expected {}×{} for this dataset",
                path.display(),
                found.0,
                found.1,
                expected.0,
                expected.1
            ),
            LabelOutOfRange { path, index, label, classes } => write!(
                f,
                "{}: label {label} at index {} is out of range for {classes} classes (0..={})",
                path.display(),
                grouped(*index as u64),
                classes.saturating_sub(1)
            ),
            CountMismatch { images, labels, image_count, label_count } => write!(
                f,
                "{} has {} images but {} has {} labels",
                images.display(),
                grouped(*image_count as u64),
                labels.display(),
                grouped(*label_count as u64)
            ),
            UnknownDataset { name, known } => write!(
                f,
                "unknown dataset '{name}': not a known name ({}) nor an existing file or folder",
                known.join(", ")
            ),
            NotFound { name, files, searched } => {
                write!(f, "dataset '{name}' not found; it needs the files {}", files.join(", "))?;
                if files.iter().any(|f| f.ends_with(".bin")) {
                    write!(f, " (the binary version, as extracted from the archive); looked in:")?;
                } else {
                    write!(f, " (each raw or with .gz); looked in:")?;
                }
                for (dir, why) in searched {
                    write!(f, "\n  {} ({why})", dir.display())?;
                }
                Ok(())
            }
            InputShape { dataset, channels, rows: 0, cols: 0, want, reason } => write!(
                f,
                "dataset '{dataset}' is {channels}-channel images of varied sizes but the network input is {}×{}×{}: {reason}",
                want.0, want.1, want.2
            ),
            InputShape { dataset, channels, rows, cols, want, reason } => write!(
                f,
                "dataset '{dataset}' is {channels}-channel {rows}×{cols} but the network input is {}×{}×{}: {reason}",
                want.0, want.1, want.2
            ),
            InvalidOption { what } => write!(f, "invalid data option: {what}"),
            other => write!(f, "{other:?}"), // not reached: routed by `fmt`
        }
    }
}

impl DataError {
    /// Errors of image folders and CIFAR files.
    fn fmt_image_error(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DataError::*;
        match self {
            BadImage { path, detail } => write!(f, "{}: cannot decode the image: {detail}", path.display()),
            ImageTooLarge { path, w, h, cap } => write!(
                f,
                "{}: the image is {w}×{h} = {} pixels, above the limit of {} (a decompression bomb?); \
                 raise it with --max-pixels if the file is genuine",
                path.display(),
                grouped(u64::from(*w) * u64::from(*h)),
                grouped(*cap)
            ),
            Folder { path, problem } => write!(f, "{}: {problem}", path.display()),
            RecordFile { path, len, record, detail } => write!(
                f,
                "{}: {} bytes is not a whole number of {}-byte records{detail}",
                path.display(),
                grouped(*len),
                grouped(*record as u64)
            ),
            TooMuchData { what, bytes, budget, hint } => write!(
                f,
                "{what} need {} bytes of memory, more than the {} bytes available for them; {hint}",
                grouped(*bytes),
                grouped(*budget)
            ),
            ImageChanged { path, detail } => write!(
                f,
                "{}: the image changed since the folder was loaded: {detail}; its images are streamed from disk \
                 during the run, so the folder must stay as it was (restore the file, or start again: the load \
                 checks every file, and --skip-bad-images leaves out those that fail)",
                path.display()
            ),
            other => write!(f, "{other:?}"), // not reached: routed by `fmt`
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
