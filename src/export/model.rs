//! The ONNX model around the graph: IR version and opset, the producer, the net's name
//! and doc string, metadata, and the graph's input and output with a symbolic batch.

use super::builder::GraphBuilder;
use super::lower::{INPUT, OUTPUT};
use super::proto::tensor_proto::DataType;
use super::proto::tensor_shape_proto::{dimension, Dimension};
use super::proto::{
    type_proto, GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};
use crate::ir::Shape;

/// The ONNX operator set the model uses.
pub const OPSET: i64 = 17;
/// The IR version that goes with opset 17 (ONNX 1.12).
pub const IR_VERSION: i64 = 8;
/// The name of the batch dimension (`dim_param`) of the input and output.
pub const BATCH: &str = "batch";

/// What the model says about itself.
pub struct ModelInfo {
    /// The net's name (its file stem): the graph's name.
    pub name: String,
    /// The model's doc string: the comment that opens the net's source, or its name.
    pub doc: String,
    /// Extra `metadata_props`, e.g. where the weights come from.
    pub metadata: Vec<(String, String)>,
}

/// Wraps the written graph into a model whose input is `input` (N×C×H×W) and output
/// `output` (N×K or N×C×H×W), N being the symbolic `batch`.
pub fn model(b: GraphBuilder, input: Shape, output: Shape, info: &ModelInfo) -> ModelProto {
    let graph = GraphProto {
        node: b.nodes,
        name: Some(info.name.clone()),
        initializer: b.initializers,
        doc_string: Some(info.doc.clone()),
        input: vec![value_info(INPUT, input)],
        output: vec![value_info(OUTPUT, output)],
        ..GraphProto::default()
    };
    ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) }],
        producer_name: Some("netc".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some(info.doc.clone()),
        graph: Some(graph),
        metadata_props: info
            .metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto { key: Some(k.clone()), value: Some(v.clone()) })
            .collect(),
        ..ModelProto::default()
    }
}

/// A float tensor of shape [batch, ...netc's per-sample dims].
fn value_info(name: &str, shape: Shape) -> ValueInfoProto {
    let batch = Dimension { value: Some(dimension::Value::DimParam(BATCH.into())), ..Dimension::default() };
    let sample = shape.dims();
    let dims =
        sample.iter().map(|&d| Dimension { value: Some(dimension::Value::DimValue(d as i64)), ..Dimension::default() });
    let tensor = type_proto::Tensor {
        elem_type: Some(DataType::Float as i32),
        shape: Some(TensorShapeProto { dim: std::iter::once(batch).chain(dims).collect() }),
    };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..TypeProto::default() }),
        ..ValueInfoProto::default()
    }
}

/// The comment block that opens a source (its `#` lines before the first statement,
/// without the `#`), or `None` if it opens with a statement.
pub fn leading_comment(source: &str) -> Option<String> {
    let mut lines = Vec::new();
    for line in source.lines() {
        let t = line.trim();
        match t.strip_prefix('#') {
            Some(text) => lines.push(text.strip_prefix(' ').unwrap_or(text).trim_end().to_string()),
            None if t.is_empty() && lines.is_empty() => continue,
            None => break,
        }
    }
    let text = lines.join("\n").trim().to_string();
    (!text.is_empty()).then_some(text)
}
