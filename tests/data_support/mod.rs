//! Shared helpers for the data tests: temp dirs, hand-built IDX files,
//! gzip, and access to the real datasets through `$NETC_DATA`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

pub const IMAGES_MAGIC: u32 = 0x0000_0803;
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("netc-data-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to `<dir>/<rel>`, creating parent directories.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&p, bytes).expect("write file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Big-endian IDX header followed by `payload`.
pub fn idx_bytes(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// `n` 28×28 images; image `i` has pixel `(r, c)` = `(i + r * 28 + c) % 256`.
pub fn images_file(n: u32) -> Vec<u8> {
    let payload: Vec<u8> = (0..n as usize * 784).map(|k| ((k / 784) + (k % 784)) as u8).collect();
    idx_bytes(IMAGES_MAGIC, &[n, 28, 28], &payload)
}

/// `n` labels `i % 10`.
pub fn labels_file(n: u32) -> Vec<u8> {
    let payload: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    idx_bytes(LABELS_MAGIC, &[n], &payload)
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip finish")
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).expect("gunzip");
    out
}

/// Writes a small, valid 4-file dataset into `<tmp>/<rel>` (gzipped if `gz`).
pub fn write_small_dataset(tmp: &TempDir, rel: &str, train: u32, test: u32, gz: bool) {
    let files = [
        ("train-images-idx3-ubyte", images_file(train)),
        ("train-labels-idx1-ubyte", labels_file(train)),
        ("t10k-images-idx3-ubyte", images_file(test)),
        ("t10k-labels-idx1-ubyte", labels_file(test)),
    ];
    for (name, bytes) in files {
        if gz {
            tmp.write(&format!("{rel}/{name}.gz"), &gzip(&bytes));
        } else {
            tmp.write(&format!("{rel}/{name}"), &bytes);
        }
    }
}

/// `$NETC_DATA`, or `None` after printing the skip notice.
pub fn real_data_root() -> Option<PathBuf> {
    match std::env::var_os("NETC_DATA").filter(|v| !v.is_empty()) {
        Some(v) => Some(PathBuf::from(v)),
        None => {
            eprintln!("skipping: NETC_DATA not set");
            None
        }
    }
}

/// Asserts the error's message mentions `path`.
pub fn assert_names_file(err: &dyn std::error::Error, path: &Path) {
    let msg = err.to_string();
    let shown = path.display().to_string();
    assert!(msg.contains(&shown), "message does not name {shown}: {msg}");
}

pub mod cifar;
pub mod random_folder;
