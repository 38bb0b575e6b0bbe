//! The net's tensors as ONNX initializers, and the size limits of an ONNX file.
//!
//! Consumes: a [`ParamStore`] (trained or initial weights). Produces: one float initializer
//! per tensor, named as in checkpoints (`layer1.0.conv1.weight`, `bn1.running_mean`), with
//! netc's shape. Guarantees: the initializers are exactly the store's tensors, so their
//! sizes add up to `netc check`'s parameters plus its state (the batch-norm running
//! statistics, `*.running_mean` and `*.running_var`).

use super::builder::GraphBuilder;
use crate::autodiff::ParamInfo;
use crate::ir::NodeId;
use crate::runtime::ParamStore;
use std::collections::HashMap;

/// The largest protobuf message, hence ONNX file, that readers accept: 2 GiB − 1.
pub const MAX_MODEL_BYTES: u64 = i32::MAX as u64;

/// Room kept for the graph itself (nodes, names, constants) below [`MAX_MODEL_BYTES`]
/// when judging the weights alone, before anything is allocated.
const GRAPH_ALLOWANCE: u64 = 64 << 20;

/// Bytes of the tensors in f32.
pub fn tensor_bytes(infos: &[ParamInfo]) -> u128 {
    infos.iter().map(|p| p.dims.iter().map(|&d| d as u128).product::<u128>() * 4).sum()
}

/// Whether weights of `bytes` bytes can fit in one ONNX file (with the graph's allowance).
pub fn fits(bytes: u128) -> bool {
    bytes <= u128::from(MAX_MODEL_BYTES - GRAPH_ALLOWANCE)
}

/// Moves every tensor of `store` into `b` as an initializer (one tensor at a time, so that
/// the weights are not held twice over), and returns the initializer names of each node.
pub fn add_initializers(b: &mut GraphBuilder, store: ParamStore) -> HashMap<NodeId, Vec<String>> {
    let mut names: HashMap<NodeId, Vec<String>> = HashMap::new();
    for (info, values) in store.infos.into_iter().zip(store.values) {
        b.initializer(&info.name, &info.dims, values);
        names.entry(info.node).or_default().push(info.name);
    }
    names
}

/// Whether an initializer holds batch-norm state rather than a parameter.
pub fn is_state(name: &str) -> bool {
    name.ends_with(".running_mean") || name.ends_with(".running_var")
}
