//! A small writer of ONNX graphs: nodes with their attributes, constants, initializers,
//! and tensor names that are unique in the graph.
//!
//! Consumes: op types, tensor names and values. Produces: the node list and initializers
//! of a `GraphProto`. Guarantees: every tensor name is defined once (a wanted name that is
//! taken gets a `#2`, `#3`, ... suffix); integer constants (shapes, axes, indices) are
//! `Constant` nodes, so the initializers are exactly the net's own tensors.

use super::proto::{attribute_proto::AttributeType, tensor_proto::DataType, AttributeProto, NodeProto, TensorProto};
use std::collections::HashSet;

/// The nodes and initializers of a graph being written.
#[derive(Default)]
pub struct GraphBuilder {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    taken: HashSet<String>,
}

impl GraphBuilder {
    /// Reserves `name` (the graph's input and output) so that no other tensor takes it.
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }

    /// `wanted` if no tensor has that name yet, else `wanted#2`, `wanted#3`, ...; reserved.
    pub fn fresh(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_string();
        let mut k = 2;
        while self.taken.contains(&name) {
            name = format!("{wanted}#{k}");
            k += 1;
        }
        self.taken.insert(name.clone());
        name
    }

    /// Appends a node `op_type(inputs) -> output` named `name`; `output` must be a name
    /// from [`GraphBuilder::fresh`] or a reserved one.
    pub fn node(&mut self, op_type: &str, name: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            name: Some(name.to_string()),
            op_type: Some(op_type.to_string()),
            domain: Some(String::new()),
            attribute: attrs,
            ..NodeProto::default()
        });
    }

    /// A node whose output gets a fresh name derived from `out`; returns that name.
    pub fn op(&mut self, op_type: &str, name: &str, inputs: &[&str], out: &str, attrs: Vec<AttributeProto>) -> String {
        let output = self.fresh(out);
        self.node(op_type, name, inputs, &output, attrs);
        output
    }

    /// A `Constant` node holding int64 values of shape `dims`; returns its output.
    pub fn const_i64(&mut self, name: &str, dims: &[usize], values: &[i64]) -> String {
        let tensor = tensor(DataType::Int64, dims, values.iter().flat_map(|v| v.to_le_bytes()).collect());
        self.op("Constant", name, &[], name, vec![attr_tensor("value", tensor)])
    }

    /// A `Constant` node holding one f32 (a scalar, which broadcasts); returns its output.
    pub fn const_f32(&mut self, name: &str, value: f32) -> String {
        let tensor = tensor(DataType::Float, &[], value.to_le_bytes().to_vec());
        self.op("Constant", name, &[], name, vec![attr_tensor("value", tensor)])
    }

    /// Adds a float initializer named `name` (which must not be taken).
    pub fn initializer(&mut self, name: &str, dims: &[usize], values: Vec<f32>) {
        let fresh = self.fresh(name);
        debug_assert_eq!(fresh, name, "an initializer's name is taken");
        let mut raw = Vec::with_capacity(values.len() * 4);
        for v in values {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        let mut t = tensor(DataType::Float, dims, raw);
        t.name = Some(fresh);
        self.initializers.push(t);
    }
}

/// A tensor with its bytes in `raw_data` (little-endian, as ONNX specifies).
pub fn tensor(data_type: DataType, dims: &[usize], raw: Vec<u8>) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(data_type as i32),
        raw_data: Some(raw),
        ..TensorProto::default()
    }
}

fn attr(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto { name: Some(name.to_string()), r#type: Some(kind as i32), ..AttributeProto::default() }
}

pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { i: Some(v), ..attr(name, AttributeType::Int) }
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { ints: v.to_vec(), ..attr(name, AttributeType::Ints) }
}

pub fn attr_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { f: Some(v), ..attr(name, AttributeType::Float) }
}

pub fn attr_string(name: &str, v: &str) -> AttributeProto {
    AttributeProto { s: Some(v.as_bytes().to_vec()), ..attr(name, AttributeType::String) }
}

pub fn attr_tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto { t: Some(t), ..attr(name, AttributeType::Tensor) }
}
