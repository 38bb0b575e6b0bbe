//! The ONNX protobuf messages (`ModelProto`, `GraphProto`, `NodeProto`, `TensorProto`, ...),
//! generated at build time by prost from the official schema vendored in
//! `proto/onnx.proto` (ONNX 1.23.0, Apache-2.0; see `proto/README.md`). Encoding and
//! decoding are prost's.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
