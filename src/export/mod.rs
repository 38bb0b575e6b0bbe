//! `netc export`: a net and its weights as an ONNX model (opset 17), in inference form.
//!
//! Consumes: a [`Graph`] and a [`ParamStore`] holding its tensors (trained or initial).
//! Produces: a [`proto::ModelProto`], its bytes, and the file (written atomically).
//! Guarantees:
//! - every op of the language is exported (`lower`, `lenet`), computing what the
//!   reference kernels compute up to the order of f32 sums;
//! - the initializers are the net's tensors under their checkpoint names (`weights`), so
//!   their sizes add up to `netc check`'s parameters plus its state; integer constants
//!   (shapes, indices) are `Constant` nodes;
//! - the input is `input` (N×C×H×W) and the output `output`, with a symbolic batch `batch`;
//! - a model too large for one protobuf message (2 GiB) is refused before the weights
//!   are allocated ([`check_size`]) and again, exactly, once encoded.

mod builder;
mod file;
mod lenet;
mod lower;
mod model;
pub mod proto;
mod weights;

pub use file::{check_target, is_onnx, write};
pub use lower::{INPUT, OUTPUT};
pub use model::{leading_comment, ModelInfo, BATCH, IR_VERSION, OPSET};
pub use weights::{is_state, MAX_MODEL_BYTES};

use crate::autodiff::ParamInfo;
use crate::ir::Graph;
use crate::runtime::ParamStore;
use prost::Message;

/// Why a model cannot be exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportError {
    /// The model would exceed the 2 GiB a protobuf message may hold.
    TooLarge { bytes: u128 },
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportError::TooLarge { bytes } => write!(
                f,
                "the model would take {bytes} bytes, more than the {MAX_MODEL_BYTES} bytes (2 GiB) an ONNX file can \
                 hold in one protobuf message; netc does not write ONNX external data"
            ),
        }
    }
}

impl std::error::Error for ExportError {}

/// Refuses, from the tensors' sizes alone (before they are allocated), weights that cannot
/// fit in one ONNX file.
pub fn check_size(infos: &[ParamInfo]) -> Result<(), ExportError> {
    let bytes = weights::tensor_bytes(infos);
    if weights::fits(bytes) {
        Ok(())
    } else {
        Err(ExportError::TooLarge { bytes })
    }
}

/// The ONNX model of `g` with the tensors of `store` (moved into the model).
pub fn to_model(g: &Graph, store: ParamStore, info: &ModelInfo) -> ModelProto {
    let mut b = builder::GraphBuilder::default();
    b.reserve(INPUT);
    b.reserve(OUTPUT);
    let params = weights::add_initializers(&mut b, store);
    lower::lower_graph(g, &params, &mut b);
    model::model(b, g.node(g.input()).shape, g.node(g.output()).shape, info)
}

/// The model's bytes, or why they cannot make one ONNX file.
pub fn encode(m: &ModelProto) -> Result<Vec<u8>, ExportError> {
    let len = m.encoded_len();
    if len as u64 > MAX_MODEL_BYTES {
        return Err(ExportError::TooLarge { bytes: len as u128 });
    }
    Ok(m.encode_to_vec())
}

pub use proto::ModelProto;
