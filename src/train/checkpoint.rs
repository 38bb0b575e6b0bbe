//! Weights on disk in the safetensors format, one tensor per parameter or state
//! tensor, named by layer path (`layer1.0.conv1.weight`). Optimizer state travels in
//! the same file under `optimizer.` names so that `--resume` continues exactly.
//!
//! Saving writes a temporary file beside the real target and renames it over it, so a
//! crash or a full disk never leaves a half-written checkpoint behind; [`check_target`]
//! says before training whether a target can take checkpoints at all (see `target.rs`
//! for symlinks, special files and stale temporary files).
//!
//! Loading reads the header first, with bounds (see `header.rs`), and checks it against
//! the net and the file's length before reading the payload. It takes weights as other
//! tools save them (`convert.rs`, `matching.rs`): F16, BF16 and F64 tensors are read as
//! F32, PyTorch's `num_batches_tracked` counters are ignored with a note, and names that
//! differ come with suggestions. [`load`] wants every tensor of the net; [`load_matching`]
//! (fine-tuning) takes those whose name and shape match and says what it left.

mod classes;
mod convert;
mod header;
mod matching;
mod metadata;
mod target;

pub use classes::{classes_entry, stored_classes, CLASSES_KEY};
pub use metadata::{read_metadata, run_metadata, stored_preprocess, RunMetadata, PREPROCESS_KEY};

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
    /// A `--save` target that cannot or must not take a checkpoint. `shown` is the path
    /// as given, with the real file after an arrow when a symlink led there.
    Target {
        shown: String,
        reason: String,
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
            CheckpointError::Target { shown, reason } => write!(f, "cannot save checkpoints to {shown}: {reason}"),
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
    target::write(path, &data)
}

/// Checks, before any training, that checkpoints can be written to `path`: the file it
/// names (through symlinks) is absent, empty or a safetensors file, is none of the
/// run's `inputs` (each a description such as "the net's source", and its path), and
/// its directory takes new files. Returns the real file the checkpoints will replace.
pub fn check_target(path: &Path, inputs: &[(&str, &Path)]) -> Result<PathBuf, CheckpointError> {
    target::check(path, inputs)
}

/// A checkpoint read from disk and checked against the net.
pub struct Loaded {
    /// Tensors with `optimizer.` names, if any.
    pub extra: HashMap<String, Vec<f32>>,
    pub metadata: HashMap<String, String>,
    /// What loading tolerated (ignored counters, converted float types), for the user.
    pub notes: Vec<String>,
    /// For [`load_matching`]: what was loaded and what was left as initialised.
    pub matching: Option<Matching>,
}

/// What [`load_matching`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matching {
    /// Tensors of the net read from the file.
    pub loaded: Vec<String>,
    /// Tensors of the net left as initialised, each with the reason.
    pub kept: Vec<(String, String)>,
    /// Tensors of the file the net has no use for (counters and optimizer state aside).
    pub unused: Vec<String>,
}

/// Reads `path` into `store`, checking every name, shape and dtype against the net.
/// On any error the store is left unchanged. The header is checked (against the net
/// and the file's length) before the payload is read, so reading is bounded by what
/// the net needs: its tensors and their optimizer moments.
pub fn load(path: &Path, store: &mut ParamStore) -> Result<Loaded, CheckpointError> {
    read(path, store, false)
}

/// Reads the tensors of `path` whose name and shape match the net's into `store`, and
/// leaves the others as they are (initialised): for fine-tuning weights trained for
/// another class count. Optimizer state in the file is not read.
pub fn load_matching(path: &Path, store: &mut ParamStore) -> Result<Loaded, CheckpointError> {
    read(path, store, true)
}

fn read(path: &Path, store: &mut ParamStore, matching: bool) -> Result<Loaded, CheckpointError> {
    let p = || path.to_path_buf();
    let format = |detail: String| CheckpointError::Format { path: p(), detail };
    let io = |source| CheckpointError::Io { path: p(), source };
    let (mut file, len) = crate::files::open_regular(path).map_err(io)?;
    let h = header::read(&mut file, len).map_err(format)?;
    header::check_length(&h, len).map_err(format)?;
    let (take, matched) = if matching {
        let m = match_against_net(path, &h.meta, store)?;
        let take = store.infos.iter().map(|i| m.loaded.contains(&i.name)).collect();
        (take, Some(m))
    } else {
        check_against_net(path, &h.meta, store)?;
        let tensors = h.meta.tensors();
        let take: Vec<bool> = store.infos.iter().map(|i| !i.head || tensors.contains_key(&i.name)).collect();
        (take, None)
    };
    // The header fits the net and the file's length: now read the tensors.
    use std::io::Seek;
    file.rewind().map_err(io)?;
    let data = crate::files::read_capped(&file, len).map_err(io)?;
    if data.len() as u64 != len {
        return Err(format(format!("the file changed size while being read ({} bytes, then {})", len, data.len())));
    }
    let st = SafeTensors::deserialize(&data).map_err(|e| format(e.to_string()))?;
    let read = |name: &str| -> Result<Vec<f32>, CheckpointError> {
        let view = st.tensor(name).map_err(|e| format(e.to_string()))?;
        let values = convert::to_f32(view.dtype(), view.data());
        if values.iter().any(|x| !x.is_finite()) {
            return Err(CheckpointError::NotFinite { path: p(), name: name.into() });
        }
        Ok(values)
    };
    let mut values = Vec::with_capacity(store.infos.len());
    for (info, take) in store.infos.iter().zip(&take) {
        values.push(if *take { Some(read(&info.name)?) } else { None });
    }
    let mut extra = HashMap::new();
    if !matching {
        for n in st.names().into_iter().filter(|n| n.starts_with(OPTIMIZER_PREFIX)) {
            extra.insert(n.to_string(), read(n)?);
        }
    }
    for (slot, v) in store.values.iter_mut().zip(values) {
        if let Some(v) = v {
            *slot = v;
        }
    }
    store.touch();
    Ok(Loaded {
        extra,
        metadata: h.meta.metadata().clone().unwrap_or_default(),
        notes: notes(&h.meta, store),
        matching: matched,
    })
}

/// Notes on what loading tolerated: ignored counters, converted float types.
fn notes(meta: &safetensors::tensor::Metadata, store: &ParamStore) -> Vec<String> {
    let tensors = meta.tensors();
    let mut notes = Vec::new();
    let counters = tensors.keys().filter(|n| matching::is_unused_buffer(n, |m| store.find(m).is_some())).count();
    if counters > 0 {
        notes.push(format!(
            "note: ignored {counters} `num_batches_tracked` tensors (PyTorch's batch-norm update counters, which \
             netc does not use)"
        ));
    }
    let mut converted: Vec<(String, usize)> = Vec::new();
    for info in &store.infos {
        if let Some(t) = tensors.get(&info.name).filter(|t| t.dtype != Dtype::F32 && convert::is_float(t.dtype)) {
            let dtype = format!("{:?}", t.dtype);
            match converted.iter_mut().find(|(d, _)| *d == dtype) {
                Some((_, n)) => *n += 1,
                None => converted.push((dtype, 1)),
            }
        }
    }
    for (dtype, n) in converted {
        notes.push(format!("note: converted {n} {dtype} tensors to F32"));
    }
    let heads = store.infos.iter().filter(|i| i.head && !tensors.contains_key(&i.name)).count();
    if heads > 0 {
        notes.push(format!(
            "note: {heads} tensors of the net's auxiliary heads are not in the file and were left as they were \
             (inference does not use them)"
        ));
    }
    notes
}

/// `name`, with the closest of `candidates` (names on the other side: `side` is "the
/// file" or "the net") when one is close.
fn with_suggestion<'a>(name: &str, side: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    match matching::closest(name, candidates) {
        Some(c) => format!("{name} ({side} has {c})"),
        None => name.to_string(),
    }
}

/// Checks the tensors a header lists against the net: every parameter present as a float
/// tensor of its shape (an auxiliary head's may be absent), and nothing else but optimizer moments (`optimizer.m.NAME`,
/// `optimizer.v.NAME`, F32) shaped like their parameter and ignored counters.
fn check_against_net(
    path: &Path,
    meta: &safetensors::tensor::Metadata,
    store: &ParamStore,
) -> Result<(), CheckpointError> {
    let p = || path.to_path_buf();
    let tensors = meta.tensors();
    // The parameter an optimizer moment belongs to, if its name is one netc writes.
    let moment_of = |n: &str| {
        let rest = n.strip_prefix(OPTIMIZER_PREFIX)?;
        let param = rest.strip_prefix("m.").or_else(|| rest.strip_prefix("v."))?;
        store.infos.iter().find(|i| i.name == param)
    };
    let unused = |n: &str| {
        store.find(n).is_none() && moment_of(n).is_none() && !matching::is_unused_buffer(n, |m| store.find(m).is_some())
    };
    let mut unexpected: Vec<&String> = tensors.keys().filter(|n| unused(n)).collect();
    unexpected.sort();
    // An auxiliary head's tensors may be absent: weights for inference often come without.
    let missing: Vec<String> = store
        .infos
        .iter()
        .filter(|i| !i.head && !tensors.contains_key(&i.name))
        .map(|i| with_suggestion(&i.name, "the file", unexpected.iter().map(|s| s.as_str())))
        .collect();
    if !missing.is_empty() {
        return Err(CheckpointError::Missing { path: p(), names: missing });
    }
    if !unexpected.is_empty() {
        let names = unexpected
            .iter()
            .map(|n| with_suggestion(n, "the net", store.infos.iter().map(|i| i.name.as_str())))
            .collect();
        return Err(CheckpointError::Unexpected { path: p(), names });
    }
    let mut names: Vec<&String> =
        tensors.keys().filter(|n| !matching::is_unused_buffer(n, |m| store.find(m).is_some())).collect();
    names.sort();
    for name in names {
        let info = tensors[name];
        let moment = store.find(name).is_none();
        if !(convert::is_float(info.dtype) && (!moment || info.dtype == Dtype::F32)) {
            return Err(CheckpointError::Dtype { path: p(), name: name.clone(), found: format!("{:?}", info.dtype) });
        }
        let expected = match store.find(name) {
            Some(i) => &store.infos[i].dims,
            None => &moment_of(name).expect("checked above").dims,
        };
        if &info.shape != expected {
            return Err(CheckpointError::Shape {
                path: p(),
                name: name.clone(),
                expected: expected.clone(),
                found: info.shape.clone(),
            });
        }
    }
    Ok(())
}

/// Which of the net's tensors the file can give (same name, same shape, a float type),
/// and why the others are left; refuses a file that gives none.
fn match_against_net(
    path: &Path,
    meta: &safetensors::tensor::Metadata,
    store: &ParamStore,
) -> Result<Matching, CheckpointError> {
    let tensors = meta.tensors();
    let shape = |d: &[usize]| d.iter().map(ToString::to_string).collect::<Vec<_>>().join("×");
    let mut m = Matching::default();
    for info in &store.infos {
        match tensors.get(&info.name) {
            Some(t) if !convert::is_float(t.dtype) => {
                m.kept.push((info.name.clone(), format!("{:?} in the file, not a float type", t.dtype)))
            }
            Some(t) if t.shape != info.dims => m.kept.push((
                info.name.clone(),
                format!("{} in the file, {} in the net", shape(&t.shape), shape(&info.dims)),
            )),
            Some(_) => m.loaded.push(info.name.clone()),
            None => m.kept.push((info.name.clone(), "not in the file".into())),
        }
    }
    let mut unused: Vec<String> = tensors
        .keys()
        .filter(|n| {
            store.find(n).is_none()
                && !n.starts_with(OPTIMIZER_PREFIX)
                && !matching::is_unused_buffer(n, |x| store.find(x).is_some())
        })
        .cloned()
        .collect();
    unused.sort();
    m.unused = unused;
    if m.loaded.is_empty() {
        let names = store
            .infos
            .iter()
            .take(5)
            .map(|i| with_suggestion(&i.name, "the file", tensors.keys().map(String::as_str)))
            .collect();
        return Err(CheckpointError::Missing { path: path.to_path_buf(), names });
    }
    Ok(m)
}
