//! Opening input files without trusting them: a device, a directory, a named pipe
//! nobody writes to, or a file that never ends must give a clear error, never a hang or
//! an unbounded read.
//!
//! Consumes: paths. Produces: open [`File`]s with what they are ([`Opened`]), byte
//! buffers read with a cap ([`read_capped`]), and answers about paths: the file a
//! symlink leads to ([`resolve`]) and whether two paths are one file ([`same_file`]). Guarantees: opening never blocks
//! (every file is opened non-blocking, then checked with `fstat`); only regular files
//! are handed out, and pipes when the caller asks for them; a read never takes more
//! than the cap plus one byte. Used by the source reader, the checkpoint loader and the
//! IDX reader, which all sit below the CLI.

use std::fs::{self, File, FileType};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What kind of file an open input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file, whose length is known.
    Regular,
    /// A pipe or FIFO: its length is unknown until it ends.
    Pipe,
}

/// An input opened for reading.
#[derive(Debug)]
pub struct Opened {
    pub file: File,
    pub kind: Kind,
    /// The length of a regular file when it was opened.
    pub len: Option<u64>,
}

/// Whether a caller reads pipes (a source may come from `gen | netc check /dev/stdin`;
/// a checkpoint or a dataset needs a file whose length is known).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipes {
    Allowed,
    Refused,
}

/// The kind of a non-regular file, in words, for messages.
pub fn describe(t: FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The error for a file of the wrong kind: "is a directory", "not a regular file (a
/// character device)".
pub fn wrong_kind(t: FileType) -> io::Error {
    let msg = if t.is_dir() { "is a directory".to_string() } else { format!("not a regular file ({})", describe(t)) };
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Opens `path` for reading if it is a regular file (or a pipe, when `pipes` allows).
/// A named pipe with no writer is not waited for: it reads as empty.
pub fn open_input(path: &Path, pipes: Pipes) -> io::Result<Opened> {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, and a
    // device could block too; a regular file ignores the flag.
    let file = File::options().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)?;
    let meta = file.metadata()?;
    let t = meta.file_type();
    if t.is_file() {
        return Ok(Opened { file, kind: Kind::Regular, len: Some(meta.len()) });
    }
    if t.is_fifo() && pipes == Pipes::Allowed {
        set_blocking(&file)?;
        return Ok(Opened { file, kind: Kind::Pipe, len: None });
    }
    Err(wrong_kind(t))
}

/// Opens a regular file for reading; returns it with its length.
pub fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    let o = open_input(path, Pipes::Refused)?;
    Ok((o.file, o.len.unwrap_or(0)))
}

/// Opens `path` for appending, creating it if needed. A named pipe that no process
/// reads is an error (`ENXIO`, "nothing reads this named pipe") instead of a wait.
pub fn open_append(path: &Path) -> io::Result<File> {
    let file =
        File::options().create(true).append(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path).map_err(
            |e| match e.raw_os_error() {
                Some(libc::ENXIO) => io::Error::other("nothing reads this named pipe"),
                _ => e,
            },
        )?;
    set_blocking(&file)?;
    Ok(file)
}

/// Clears `O_NONBLOCK`, so that reads and writes wait as usual.
fn set_blocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with flag arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads at most `cap + 1` bytes: a result longer than `cap` means the input is too
/// large, whatever its real size.
pub fn read_capped(r: impl Read, cap: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Symlinks followed before giving up, as the kernel does (`ELOOP`).
const MAX_LINKS: usize = 40;

/// The file `path` names once symlinks in its last component are followed; it may not
/// exist yet.
pub fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p)?;
                p = if to.is_absolute() { to } else { p.parent().unwrap_or(Path::new("")).join(to) };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// The directory holding `file` (`.` for a bare name).
pub fn dir_of(file: &Path) -> &Path {
    file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Whether `a` and `b` are one file: the same inode if both exist, else the same name
/// in the same directory once symlinks are followed.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        (Err(_), Err(_)) => {
            let place = |p: &Path| {
                let real = resolve(p).ok()?;
                Some((fs::canonicalize(dir_of(&real)).ok()?, real.file_name()?.to_os_string()))
            };
            place(a).is_some_and(|x| Some(x) == place(b))
        }
        _ => false,
    }
}
