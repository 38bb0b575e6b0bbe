//! Where a checkpoint goes, and how it gets there without losing anything.
//!
//! - A symlink is followed to the file it names (even one that does not exist yet), and
//!   the checkpoint replaces that file, so the link keeps pointing at fresh weights.
//! - Only an absent file, an empty one or a safetensors file is replaced; a directory, a
//!   device, a FIFO or any other file is refused, and so are the run's own inputs.
//! - The bytes go to a temporary file created with `O_EXCL` (never through a planted
//!   link) beside the real file, are synced, and are renamed over it; the directory is
//!   synced after the rename. A crash or power loss leaves the old checkpoint or the new
//!   one, never a mix.
//! - Temporary files are named `.NAME.tmp-PID-XXXXXX`. One left by a run that was
//!   killed (its PID no longer alive in `/proc`) is removed at the next save of NAME.

use super::header;
use super::CheckpointError;
use crate::files::{dir_of, resolve, same_file};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Checks that a checkpoint can be written to `path`, without writing it: the real
/// file (symlinks followed) is absent, empty or a safetensors file, is none of
/// `inputs` (a description such as "the net's source" and a path), and its directory
/// takes new files. Returns the real file.
pub fn check(path: &Path, inputs: &[(&str, &Path)]) -> Result<PathBuf, CheckpointError> {
    let real = resolve(path).map_err(|e| refuse(path, path, e.to_string()))?;
    if let Some((role, _)) = inputs.iter().find(|(_, input)| same_file(&real, input)) {
        return Err(refuse(path, &real, format!("it is {role}")));
    }
    replaceable(path, &real)?;
    let dir = dir_of(&real);
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(refuse(path, &real, format!("{} is not a directory", dir.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(refuse(path, &real, format!("the directory {} does not exist", dir.display())));
        }
        Err(e) => return Err(refuse(path, &real, format!("{}: {e}", dir.display()))),
    }
    // The only sure test of "can I create a file there": create one (deleted on drop).
    temp_file(&real).map_err(|e| refuse(path, &real, format!("cannot create files in {}: {e}", dir.display())))?;
    Ok(real)
}

/// Refuses a real file that exists and is not something a checkpoint may replace.
fn replaceable(path: &Path, real: &Path) -> Result<(), CheckpointError> {
    if real.file_name().is_none() {
        return Err(refuse(path, real, "it names no file".into()));
    }
    let meta = match fs::metadata(real) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(refuse(path, real, e.to_string())),
    };
    if !meta.is_file() {
        return Err(refuse(path, real, crate::files::wrong_kind(meta.file_type()).to_string()));
    }
    let ours = meta.len() == 0 || header::is_checkpoint(real).map_err(|e| refuse(path, real, e.to_string()))?;
    if !ours {
        let why = "it is not a safetensors checkpoint, and netc overwrites only checkpoints";
        return Err(refuse(path, real, why.into()));
    }
    Ok(())
}

fn refuse(path: &Path, real: &Path, reason: String) -> CheckpointError {
    let shown =
        if path == real { path.display().to_string() } else { format!("{} (→ {})", path.display(), real.display()) };
    CheckpointError::Target { shown, reason }
}

/// The prefix of `real`'s temporary files, without the PID: `.NAME.tmp-`.
fn temp_stem(real: &Path) -> String {
    format!(".{}.tmp-", real.file_name().map_or("checkpoint".into(), |n| n.to_string_lossy()))
}

/// A new temporary file beside `real`, created exclusively, readable like a file made
/// by `File::create` (0666 less the umask).
fn temp_file(real: &Path) -> io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    let prefix = format!("{}{}-", temp_stem(real), std::process::id());
    tempfile::Builder::new()
        .prefix(&prefix)
        .rand_bytes(6)
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir_of(real))
}

/// Writes `data` to `path` (through symlinks) atomically and durably.
pub fn write(path: &Path, data: &[u8]) -> Result<(), CheckpointError> {
    let real = resolve(path).map_err(|e| refuse(path, path, e.to_string()))?;
    replaceable(path, &real)?;
    remove_stale(&real);
    let io = |source| CheckpointError::Io { path: real.clone(), source };
    let mut tmp = temp_file(&real).map_err(io)?;
    tmp.write_all(data).and_then(|()| tmp.as_file().sync_all()).map_err(io)?;
    tmp.persist(&real).map_err(|e| io(e.error))?;
    // The rename is durable only once the directory itself is synced.
    fs::File::open(dir_of(&real)).and_then(|d| d.sync_all()).map_err(io)
}

/// Removes temporary files of `real` left by runs that no longer exist. Without
/// `/proc` nothing is removed, since no PID can be known to be dead.
fn remove_stale(real: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let stem = temp_stem(real);
    let Ok(entries) = fs::read_dir(dir_of(real)) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&stem)).and_then(temp_pid) else { continue };
        let is_file = entry.file_type().is_ok_and(|t| t.is_file() || t.is_symlink());
        if is_file && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The PID in the tail of a temporary name: `PID` (older netc) or `PID-XXXXXX`.
fn temp_pid(tail: &str) -> Option<u32> {
    let (pid, random) = tail.split_once('-').unwrap_or((tail, "a"));
    let digits = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    let random_ok = !random.is_empty() && random.bytes().all(|b| b.is_ascii_alphanumeric());
    if digits && random_ok {
        pid.parse().ok()
    } else {
        None
    }
}
