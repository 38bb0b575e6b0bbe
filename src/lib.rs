//! netc: a compiler for declarative descriptions of convolutional networks.
//!
//! The pipeline is the module layout; each module imports only from those above it:
//!
//! ```text
//!  .net text ─syntax─▶ AST ─elab─▶ graph IR ─infer─▶ report (table / json / dot)
//!                                     │
//!                                     ├─export (with weights)─▶ ONNX model
//!                                     │
//!                                     └─autodiff─▶ programs (inference; training: forward, loss, backward)
//!                                                     │
//!                                                     ├─sched─▶ plan per batch size ─codegen─▶ native kernels ─┐
//!                                                     └───────────────── reference kernels ────────────────────┴─runtime─▶ engine
//!                                                                                                                          │
//!  dataset files ─data─▶ splits, preprocessing, batches ──────────────────────────────────────────────────────────▶ train ◀─┘
//!                                                                             (the loop, optimizers, checkpoints, metrics)
//! ```
//!
//! - [`diag`]: spans, source files and diagnostics as data; one renderer.
//! - [`syntax`]: the pest grammar (`grammar/net.pest`) and the AST; the only user of pest.
//! - [`ir`]: the graph of ops with their shape rules and parameter tensors; later stages
//!   (autodiff, executors, the JIT) consume it.
//! - [`elab`]: AST → IR (blocks, repetition, branches, names), checking shapes as it wires.
//! - [`infer`]: parameters, MACs, FLOPs and memory; the report and its renderings.
//! - [`autodiff`]: graph → [`autodiff::Program`]s: the inference program (the forward pass
//!   as kernel steps over numbered buffers) and the training program (forward, the loss on
//!   the class scores and the backward pass from one vector-Jacobian rule per op, with
//!   every tensor's [`autodiff::ParamInfo`]); `fold_batch_norm` folds batch norm into
//!   the convolutions of an inference program. Programs are data, so both engines run
//!   the same ones.
//! - [`sched`]: program and batch size → [`sched::Plan`]: element-wise steps fused into
//!   their producers, concatenations written in place, one arena with offsets shared by
//!   buffers whose lifetimes do not overlap.
//! - [`codegen`]: a plan's steps → native kernels compiled by Cranelift (convolutions and
//!   dense layers as implicit GEMMs, pooling, normalisation, element-wise ops, optimizer
//!   updates); the only user of `cranelift-*`.
//! - [`runtime`]: programs → [`runtime::Engine`]s: the JIT engine (plans and compiles a
//!   program per batch size, runs it on a thread pool) and the reference engine (the
//!   plain executor, the oracle); the parameter store; what a run will allocate.
//! - [`data`]: dataset files (IDX, CIFAR, image folders, synthetic) → splits of images
//!   and labels, a preprocessing pipeline fitted to the net's input, augmentation,
//!   deterministic batches prepared on worker threads.
//! - [`train`]: an engine, a store and the splits → trained weights: initialisation,
//!   optimizers and schedules, the epoch loop (its progress reported to an observer),
//!   evaluation and metrics, checkpoints (safetensors, written atomically).
//! - [`files`]: opening input files safely (regular files only, bounded reads).
//! - [`export`]: a graph and its weights → an ONNX model (prost with the official schema).
//! - [`driver`]: the stages above as a few functions per command (`check`, `run`,
//!   `predict`, `bench`, `export`), returning data and typed errors; each program is built
//!   once. [`cli`]: options → driver calls → text; the only place that prints.

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
