//! The metadata (`__metadata__`, string → string) a checkpoint carries besides its
//! tensors, built in one place for every writer:
//! - `netc.net`: the net's source path as given; `netc.epoch`: epochs completed;
//! - `netc.classes`: the class names, a JSON array in label order (see `classes.rs`);
//! - `netc.preprocess`: the preprocessing pipeline and training augmentation as JSON
//!   ([`crate::data::Pipeline::to_json`]), so that `--eval`, `--resume` and
//!   `netc predict` repeat what training did;
//! - `netc.optimizer.*`: added by [`crate::train::optimizer_metadata`].
//!
//! [`read_metadata`] reads the metadata alone (the header, with its bounds), before the
//! data is loaded: the stored pipeline tells the loader how small it may store images.

use super::classes::classes_entry;
use super::{header, CheckpointError};
use crate::data::{Augment, Pipeline};
use std::collections::HashMap;
use std::path::Path;

/// The metadata key of the preprocessing pipeline.
pub const PREPROCESS_KEY: &str = "netc.preprocess";

/// What a run records in each checkpoint it saves.
pub struct RunMetadata<'a> {
    /// The net's source as the user named it.
    pub net: &'a str,
    /// Epochs completed.
    pub epoch: usize,
    /// Class names in label order.
    pub classes: &'a [String],
    pub pipeline: &'a Pipeline,
    pub augment: &'a Augment,
}

/// The metadata entries of a checkpoint (without the optimizer's).
pub fn run_metadata(m: &RunMetadata<'_>) -> HashMap<String, String> {
    let mut meta = HashMap::new();
    meta.insert("netc.net".to_string(), m.net.to_string());
    meta.insert("netc.epoch".to_string(), m.epoch.to_string());
    meta.extend([classes_entry(m.classes)]);
    meta.insert(PREPROCESS_KEY.to_string(), m.pipeline.to_json(m.augment));
    meta
}

/// The pipeline and augmentation stored in `metadata`: `Ok(None)` when there is none
/// (a checkpoint from an earlier netc), an error when the entry is damaged.
pub fn stored_preprocess(metadata: &HashMap<String, String>) -> Result<Option<(Pipeline, Option<Augment>)>, String> {
    let Some(text) = metadata.get(PREPROCESS_KEY) else { return Ok(None) };
    Pipeline::from_json(text).map(Some).map_err(|e| format!("its `{PREPROCESS_KEY}` entry is damaged: {e}"))
}

/// The metadata of the checkpoint at `path`, reading only its header.
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>, CheckpointError> {
    let (mut file, len) =
        crate::files::open_regular(path).map_err(|source| CheckpointError::Io { path: path.to_path_buf(), source })?;
    let h =
        header::read(&mut file, len).map_err(|detail| CheckpointError::Format { path: path.to_path_buf(), detail })?;
    Ok(h.meta.metadata().clone().unwrap_or_default())
}
