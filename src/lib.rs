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
//! - [`alloc`]: zeroed allocations that fail with an error instead of aborting, asking
//!   for huge pages (the runtime's buffers and the autotuner's stand-ins).
//! - [`export`]: a graph and its weights → an ONNX model (prost with the official schema).
//! - [`driver`]: the stages above as a few functions per command (`check`, `run`,
//!   `predict`, `bench`, `export`), returning data and typed errors; each program is built
//!   once. [`cli`]: options → driver calls → text; the only place that prints.
//!
//! # Adding an op
//!
//! Matches on [`ir::Op`], [`ir::Act`] and [`autodiff::Kernel`] are exhaustive wherever a
//! fact about the op is decided, so after step 1 the compiler lists most of what is left.
//! An activation (a new [`ir::Act`] variant, as `leaky_relu(slope)` was added) only needs
//! the `Act` arms of steps 1, 2, 6, 7, 8 and 9, and step 10: its cost, kernels, fusion into
//! producers' epilogues and vector-Jacobian rule are shared by every activation.
//!
//! 1. [`ir`] (`ir/op.rs`): the variant, its parameter struct, `Op::name` / `Act::name`;
//!    `ir/params.rs` if it has parameter tensors; `ir/rules.rs` its shape rule;
//!    `ir/dump.rs` its arguments in `--dump graph`.
//! 2. [`elab`] (`elab/builtins.rs`): its signature (names, types, defaults: the type
//!    checks ranges and reports them at file:line:col) and the constructor.
//! 3. [`infer`] (`infer/cost.rs`): its MACs and other ops.
//! 4. [`autodiff`]: a [`autodiff::Kernel`] variant for the forward (and backward) work
//!    (`kernel.rs`, with the exact contract in its doc comment), its facts in `facts.rs`
//!    (arity, epilogue site, fusability, channel-slice operands), the forward step in
//!    `build.rs` and the vector-Jacobian rule in `vjp.rs`.
//! 5. [`sched`]: nothing, unless the kernel is host code (`sched::spec`).
//! 6. [`runtime`] (`runtime/reference/`): the kernel in the reference executor, generic
//!    over f32/f64 — the oracle every other implementation is tested against. Activations:
//!    `act_value` and `act_slope` (from the output) in `reference/elementwise.rs`.
//! 7. [`codegen`] (`codegen/kernels/ops/`, dispatched in `ops/mod.rs`): a JIT kernel. Optional:
//!    the JIT runs the reference kernel for any step the code generator refuses, and says
//!    so in `--dump plan` (`(reference)`). Activations: `forward_n` and `slope` in
//!    `ops/act.rs`, which also serve every fused epilogue.
//! 8. [`export`] (`export/lower.rs`): its ONNX lowering.
//! 9. [`train`] (`train/init.rs`): its initialisation, if it has parameters (or, for an
//!    activation, the gain of the layer before it).
//! 10. Tests and docs: a gradient check against finite differences (`tests/gradcheck_nets.rs`),
//!     JIT against reference (`tests/jit_ops.rs`; activations also `tests/jit_conv.rs` and
//!     its f64 oracle in `tests/jit_conv_support`), ONNX against tract (`tests/export_onnx.rs`),
//!     shapes and costs (`tests/language.rs`), diagnostics (`tests/diagnostics.rs`); the
//!     README's layer table, ONNX table and cost conventions.

pub mod alloc;
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
