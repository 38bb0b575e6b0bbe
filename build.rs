//! Compiles the vendored ONNX schema (`proto/onnx.proto`) into Rust types for `netc export`.
//!
//! protox parses the schema in pure Rust, so building netc needs no system `protoc`;
//! prost-build turns the descriptors into `onnx.rs` in `OUT_DIR`, which `src/export/proto.rs`
//! includes.

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    println!("cargo:rerun-if-changed=build.rs");
    let descriptors = match protox::compile(["onnx.proto"], ["proto"]) {
        Ok(d) => d,
        Err(e) => panic!("proto/onnx.proto does not compile: {e}"),
    };
    let mut config = prost_build::Config::new();
    // The schema's comments hold examples that rustdoc would take for doctests.
    config.disable_comments(["."]);
    if let Err(e) = config.compile_fds(descriptors) {
        panic!("generating Rust types from proto/onnx.proto: {e}");
    }
}
