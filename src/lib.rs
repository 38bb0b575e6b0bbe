//! netc: a compiler for declarative descriptions of convolutional networks.
//!
//! The pipeline is the module layout; each module imports only from those above it:
//!
//! ```text
//!  .net text ─syntax─▶ AST ─elab─▶ graph IR ─infer─▶ report (table / json / dot)
//! ```
//!
//! - [`diag`]: spans, source files and diagnostics as data; one renderer.
//! - [`syntax`]: the pest grammar (`grammar/net.pest`) and the AST; the only user of pest.
//! - [`ir`]: the graph of ops with their shape rules and parameter tensors; later stages
//!   (autodiff, executors, the JIT) consume it.
//! - [`elab`]: AST → IR (blocks, repetition, branches, names), checking shapes as it wires.
//! - [`infer`]: parameters, MACs, FLOPs and memory; the report and its renderings.
//! - [`data`]: datasets, preprocessing fitted to a net's input, augmentation, deterministic
//!   batches prepared on worker threads.
//! - [`files`]: opening input files safely (regular files only, bounded reads).
//! - [`export`]: a net and its weights as an ONNX model (prost with the official schema).
//! - [`driver`]: the pipeline as a few functions; [`cli`]: the command line, the only
//!   place that prints.

pub mod autodiff;
pub mod cli;
pub mod codegen;
pub mod data;
pub mod diag;
pub mod driver;
pub mod elab;
pub mod export;
pub mod files;
pub mod infer;
pub mod ir;
pub mod runtime;
pub mod sched;
pub mod syntax;
pub mod train;
