//! The weights stage: a checkpoint read into a parameter store and checked for values no
//! trained net holds (a negative variance). Consumes a file and a store shaped by the
//! net's program; produces the store filled and what the file said beside the tensors
//! ([`Loaded`]: metadata, notes for the user, optimizer state), or a typed error.

use crate::runtime::ParamStore;
use crate::train::checkpoint::{self, CheckpointError, Loaded};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why weights could not be taken from a file.
#[derive(Debug)]
pub enum WeightsError {
    /// The file cannot be read, is not a checkpoint, or does not fit the net.
    Read(CheckpointError),
    /// The file fits the net but holds values no trained net holds.
    Damaged { path: PathBuf, why: String },
}

impl WeightsError {
    /// Whether the file was saved from another net (a tensor missing on either side, or
    /// of another shape): the case that `--finetune` is for.
    pub fn is_another_net(&self) -> bool {
        matches!(
            self,
            WeightsError::Read(
                CheckpointError::Missing { .. } | CheckpointError::Unexpected { .. } | CheckpointError::Shape { .. }
            )
        )
    }
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightsError::Read(e) => write!(f, "{e}"),
            WeightsError::Damaged { path, why } => write!(f, "{}: {why}", path.display()),
        }
    }
}

impl std::error::Error for WeightsError {}

/// Reads every tensor of the net from `path` into `store`, with the file's optimizer state.
pub fn load(path: &Path, store: &mut ParamStore) -> Result<Loaded, WeightsError> {
    let loaded = checkpoint::load(path, store).map_err(WeightsError::Read)?;
    check(path, store)?;
    Ok(loaded)
}

/// Reads the tensors of `path` whose name and shape match the net's into `store` and
/// leaves the rest as initialised (fine-tuning). On an error the store is unchanged.
pub fn load_matching(path: &Path, store: &mut ParamStore) -> Result<Loaded, WeightsError> {
    let before = store.values.clone();
    let loaded = checkpoint::load_matching(path, store).map_err(WeightsError::Read)?;
    check(path, store).inspect_err(|_| store.values = before)?;
    Ok(loaded)
}

fn check(path: &Path, store: &ParamStore) -> Result<(), WeightsError> {
    crate::train::check_loaded(store).map_err(|why| WeightsError::Damaged { path: path.to_path_buf(), why })
}
