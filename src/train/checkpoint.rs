//! Weights on disk in the safetensors format, one tensor per parameter or state
//! tensor, named by layer path (`layer1.0.conv1.weight`). Optimizer state travels in
//! the same file under `optimizer.` names so that `--resume` continues exactly.
//!
//! Saving writes a temporary file beside the target and renames it over the target,
//! so a crash or a full disk never leaves a half-written checkpoint behind.

use crate::runtime::ParamStore;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Prefix of optimizer tensors in a checkpoint.
pub const OPTIMIZER_PREFIX: &str = "optimizer.";

#[derive(Debug)]
pub enum CheckpointError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The bytes are not a safetensors file.
    Format {
        path: PathBuf,
        detail: String,
    },
    Missing {
        path: PathBuf,
        names: Vec<String>,
    },
    Unexpected {
        path: PathBuf,
        names: Vec<String>,
    },
    Shape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    Dtype {
        path: PathBuf,
        name: String,
        found: String,
    },
    NotFinite {
        path: PathBuf,
        name: String,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| {
            let shown: Vec<&str> = v.iter().take(5).map(String::as_str).collect();
            let more = if v.len() > 5 { format!(" and {} more", v.len() - 5) } else { String::new() };
            format!("{}{more}", shown.join(", "))
        };
        match self {
            CheckpointError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            CheckpointError::Format { path, detail } => {
                write!(f, "{}: not a valid safetensors file ({detail})", path.display())
            }
            CheckpointError::Missing { path, names } => write!(
                f,
                "{}: the net has tensors the file lacks: {}; was it saved from another net?",
                path.display(),
                list(names)
            ),
            CheckpointError::Unexpected { path, names } => write!(
                f,
                "{}: the file has tensors the net lacks: {}; was it saved from another net?",
                path.display(),
                list(names)
            ),
            CheckpointError::Shape { path, name, expected, found } => {
                write!(f, "{}: tensor `{name}` is {found:?} in the file but {expected:?} in the net; was it saved from another net?", path.display())
            }
            CheckpointError::Dtype { path, name, found } => {
                write!(f, "{}: tensor `{name}` is {found}; netc stores F32", path.display())
            }
            CheckpointError::NotFinite { path, name } => {
                write!(f, "{}: tensor `{name}` holds NaN or infinity", path.display())
            }
        }
    }
}

impl std::error::Error for CheckpointError {}

/// Extra tensors saved beside the weights (optimizer moments), by name.
pub type Extra = Vec<(String, Vec<usize>, Vec<f32>)>;

/// Writes the store's tensors, `extra` tensors and `metadata` atomically to `path`.
pub fn save(
    path: &Path,
    store: &ParamStore,
    extra: &Extra,
    metadata: HashMap<String, String>,
) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io { path: path.to_path_buf(), source };
    let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> =
        store.infos.iter().zip(&store.values).map(|(p, v)| (p.name.clone(), p.dims.clone(), bytes(v))).collect();
    owned.extend(extra.iter().map(|(n, d, v)| (n.clone(), d.clone(), bytes(v))));
    let views = owned
        .iter()
        .map(|(n, d, b)| safetensors::tensor::TensorView::new(Dtype::F32, d.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CheckpointError::Format { path: path.to_path_buf(), detail: e.to_string() })?;
    let data = safetensors::serialize(views, Some(metadata))
        .map_err(|e| CheckpointError::Format { path: path.to_path_buf(), detail: e.to_string() })?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().map_or("checkpoint".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// A checkpoint read from disk and checked against the net.
pub struct Loaded {
    /// Tensors with `optimizer.` names, if any.
    pub extra: HashMap<String, Vec<f32>>,
    pub metadata: HashMap<String, String>,
}

/// Reads `path` into `store`, checking every name, shape and dtype against the net.
/// On any error the store is left unchanged.
pub fn load(path: &Path, store: &mut ParamStore) -> Result<Loaded, CheckpointError> {
    let p = || path.to_path_buf();
    let data = std::fs::read(path).map_err(|source| CheckpointError::Io { path: p(), source })?;
    let st =
        SafeTensors::deserialize(&data).map_err(|e| CheckpointError::Format { path: p(), detail: e.to_string() })?;
    let (_, meta) =
        SafeTensors::read_metadata(&data).map_err(|e| CheckpointError::Format { path: p(), detail: e.to_string() })?;
    let names: Vec<String> = st.names().into_iter().map(String::from).collect();
    let missing: Vec<String> =
        store.infos.iter().filter(|i| !names.contains(&i.name)).map(|i| i.name.clone()).collect();
    if !missing.is_empty() {
        return Err(CheckpointError::Missing { path: p(), names: missing });
    }
    let unexpected: Vec<String> =
        names.iter().filter(|n| !n.starts_with(OPTIMIZER_PREFIX) && store.find(n).is_none()).cloned().collect();
    if !unexpected.is_empty() {
        return Err(CheckpointError::Unexpected { path: p(), names: unexpected });
    }
    let read = |name: &str| -> Result<(Vec<usize>, Vec<f32>), CheckpointError> {
        let view = st.tensor(name).map_err(|e| CheckpointError::Format { path: p(), detail: e.to_string() })?;
        if view.dtype() != Dtype::F32 {
            return Err(CheckpointError::Dtype { path: p(), name: name.into(), found: format!("{:?}", view.dtype()) });
        }
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if values.iter().any(|x| !x.is_finite()) {
            return Err(CheckpointError::NotFinite { path: p(), name: name.into() });
        }
        Ok((view.shape().to_vec(), values))
    };
    let mut values = Vec::with_capacity(store.infos.len());
    for info in &store.infos {
        let (shape, v) = read(&info.name)?;
        if shape != info.dims {
            return Err(CheckpointError::Shape {
                path: p(),
                name: info.name.clone(),
                expected: info.dims.clone(),
                found: shape,
            });
        }
        values.push(v);
    }
    let mut extra = HashMap::new();
    for n in names.iter().filter(|n| n.starts_with(OPTIMIZER_PREFIX)) {
        extra.insert(n.clone(), read(n)?.1);
    }
    store.values = values;
    store.touch();
    Ok(Loaded { extra, metadata: meta.metadata().clone().unwrap_or_default() })
}
