//! Execution: the parameter store, the plain executor that runs a program with the
//! reference kernels (the oracle), the [`Engine`] interface the trainer drives, and
//! [`memory`]: what a run will allocate, what the machine has, and allocations that fail
//! with an error instead of aborting.

mod engine;
mod exec;
pub mod jit;
pub mod memory;
pub mod reference;
mod store;
pub mod update;

/// The type of [`JitOptions::winograd`], for callers that pick it (the CLI).
pub use crate::codegen::kernels::WinogradChoice;
pub use engine::{Engine, ReferenceEngine};
pub use exec::Executor;
pub use jit::{JitEngine, JitOptions};
pub use store::ParamStore;
