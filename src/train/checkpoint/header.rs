//! The header of a safetensors file, read with bounds: the 8-byte little-endian
//! length, then that many bytes of JSON describing each tensor's dtype, shape and
//! byte range. Nothing past the header is read here, so a file can be judged (is it a
//! checkpoint at all? does it fit the net? is it as long as it says?) before its
//! payload, which may be hundreds of megabytes, is touched.

use crate::data::error::grouped;
use safetensors::tensor::Metadata;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Largest JSON header accepted: the safetensors crate's own limit.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// Bytes of the length field before the JSON header.
const LENGTH_FIELD: u64 = 8;

/// A parsed header and where the payload starts.
pub struct Header {
    pub meta: Metadata,
    /// Offset of the first payload byte: 8 + the JSON header's length.
    pub payload_start: u64,
}

/// Reads and parses the header of `file`, `len` bytes long, reading only the header.
/// The error is a detail for [`super::CheckpointError::Format`].
pub fn read(file: &mut File, len: u64) -> Result<Header, String> {
    if len < LENGTH_FIELD {
        return Err(format!("the file is {len} bytes, too short for the 8-byte header length"));
    }
    let mut field = [0u8; LENGTH_FIELD as usize];
    file.read_exact(&mut field).map_err(|e| e.to_string())?;
    let n = u64::from_le_bytes(field);
    if n > MAX_HEADER_BYTES {
        return Err(format!(
            "the header claims {} bytes, more than the {} bytes safetensors allows",
            grouped(n),
            grouped(MAX_HEADER_BYTES)
        ));
    }
    if n > len - LENGTH_FIELD {
        return Err(format!(
            "the header claims {} bytes, but only {} follow its length",
            grouped(n),
            grouped(len - LENGTH_FIELD)
        ));
    }
    let mut json = Vec::with_capacity(n as usize);
    file.take(n).read_to_end(&mut json).map_err(|e| e.to_string())?;
    if json.len() as u64 != n {
        return Err("the file ended inside its header".into());
    }
    let meta: Metadata = serde_json::from_slice(&json).map_err(|e| format!("the header is not valid: {e}"))?;
    Ok(Header { meta, payload_start: LENGTH_FIELD + n })
}

/// Checks that the tensors the header describes fill the rest of the file exactly.
pub fn check_length(h: &Header, len: u64) -> Result<(), String> {
    let described = h.meta.data_len() as u64;
    let held = len - h.payload_start;
    if described != held {
        return Err(format!(
            "the header describes {} bytes of tensors, but the file holds {}",
            grouped(described),
            grouped(held)
        ));
    }
    Ok(())
}

/// Whether the regular file at `path` starts with a safetensors header (its payload
/// is not examined: a damaged checkpoint is still a checkpoint).
pub fn is_checkpoint(path: &Path) -> std::io::Result<bool> {
    let (mut file, len) = crate::files::open_regular(path)?;
    Ok(read(&mut file, len).is_ok())
}
