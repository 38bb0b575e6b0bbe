//! Where an exported model may go, and how it gets there.
//!
//! - A symlink is followed: the model replaces the file it names (the link stays a link).
//! - Only an absent file, an empty one or an ONNX model is replaced; a directory, a
//!   device, any other file, and the command's own inputs (the net's source, the weights)
//!   are refused before anything is computed.
//! - The bytes go to a temporary file beside the target (created exclusively, with a
//!   random name), are synced, and are renamed over it; then the directory is synced. A
//!   crash leaves the old file or the new one, never a mix.

use crate::files::{dir_of, resolve, same_file};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Checks, before anything runs, that a model can be written to `path`: the real file
/// (symlinks followed) is absent, empty or an ONNX model, is none of `inputs` (each a
/// description such as "the net's source" and a path), and its directory takes new
/// files. Returns the real file, or why not (without an `error:` prefix).
pub fn check_target(path: &Path, inputs: &[(&str, &Path)]) -> Result<PathBuf, String> {
    let refuse = |why: String| format!("cannot write {}: {why}", path.display());
    let real = resolve(path).map_err(|e| refuse(e.to_string()))?;
    if real.file_name().is_none() {
        return Err(refuse("it names no file".into()));
    }
    if let Some((what, _)) = inputs.iter().find(|(_, p)| same_file(&real, p)) {
        return Err(refuse(format!("it is {what}")));
    }
    match fs::metadata(&real) {
        Ok(m) if !m.is_file() => return Err(refuse(crate::files::wrong_kind(m.file_type()).to_string())),
        Ok(m) if m.len() > 0 && !is_onnx(&real) => {
            return Err(refuse("it is not an ONNX model, and netc overwrites only ONNX models".into()))
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(refuse(e.to_string())),
    }
    let dir = dir_of(&real);
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(refuse(format!("{} is not a directory", dir.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(refuse(format!("the directory {} does not exist", dir.display())))
        }
        Err(e) => return Err(refuse(format!("{}: {e}", dir.display()))),
    }
    // The only sure test of "can I create a file there": create one (deleted on drop).
    temp_file(&real).map_err(|e| refuse(format!("cannot create files in {}: {e}", dir.display())))?;
    Ok(real)
}

/// Whether the regular file at `path` starts as ONNX models do: with field 1 of
/// `ModelProto`, the IR version (tag byte 0x08), a small varint. Every ONNX writer
/// (protobuf's C++ and Python, prost) puts it first, since fields go in tag order.
pub fn is_onnx(path: &Path) -> bool {
    let Ok((file, _)) = crate::files::open_regular(path) else { return false };
    let mut head = [0u8; 2];
    let mut read = 0;
    let mut reader = file.take(2);
    while read < 2 {
        match reader.read(&mut head[read..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => read += n,
        }
    }
    head[0] == 0x08 && (1..0x80).contains(&head[1])
}

/// A new temporary file beside `real`, created exclusively, readable like a file made by
/// `File::create` (0666 less the umask).
fn temp_file(real: &Path) -> io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(".netc-onnx-")
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir_of(real))
}

/// Writes `bytes` to `path` (through symlinks) atomically and durably, after the same
/// checks as [`check_target`] on the file it replaces.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let real = check_target(path, &[])?;
    let fail = |e: io::Error| format!("cannot write {}: {e}", path.display());
    let mut tmp = temp_file(&real).map_err(fail)?;
    tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(fail)?;
    tmp.persist(&real).map_err(|e| fail(e.error))?;
    // The rename is durable only once the directory itself is synced.
    fs::File::open(dir_of(&real)).and_then(|d| d.sync_all()).map_err(fail)
}
