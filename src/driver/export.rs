//! The `export` pipeline: a graph's inference tensors (what a model file holds, batch-norm
//! statistics included; never an auxiliary head's), and, once a store holds their values,
//! the ONNX model encoded.

use crate::autodiff::{self, ParamInfo};
use crate::export::{self, ExportError, ModelInfo};
use crate::ir::Graph;
use crate::runtime::ParamStore;

/// The tensors of `graph` an exported model holds, in store order.
pub fn tensors(graph: &Graph) -> Vec<ParamInfo> {
    autodiff::inference(graph).params
}

/// The tensors a checkpoint of `graph` may hold: [`tensors`], then those of its auxiliary
/// heads, which a store reads with the rest and [`ParamStore::without_heads`] then drops.
pub fn checkpoint_tensors(graph: &Graph) -> Vec<ParamInfo> {
    let mut infos = tensors(graph);
    if let Ok(train) = autodiff::training(graph) {
        infos.extend(train.params.into_iter().filter(|p| p.head));
    }
    infos
}

/// An encoded model, ready to be written.
pub struct Encoded {
    pub bytes: Vec<u8>,
    /// Nodes of the model's graph.
    pub nodes: usize,
}

/// The ONNX model of `graph` with the weights of `store` (consumed: its tensors move into
/// the model), encoded. The model is dropped before this returns, so that only the bytes
/// stay in memory.
pub fn onnx(graph: &Graph, store: ParamStore, info: &ModelInfo) -> Result<Encoded, ExportError> {
    let model = export::to_model(graph, store, info);
    let nodes = model.graph.as_ref().map_or(0, |g| g.node.len());
    let bytes = export::encode(&model)?;
    Ok(Encoded { bytes, nodes })
}
