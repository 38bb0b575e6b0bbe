//! Code generation: CLIF kernels JIT-compiled with Cranelift.
//!
//! * [`jit`]: the JIT module for the host ISA and typed kernel handles;
//! * [`simd`], [`loops`]: small f32x4 and control-flow emitters;
//! * [`ceiling`]: the measured f32x4 FMA throughput ceiling;
//! * [`machine`]: what the kernel planners assume about the machine (caches, rates);
//! * [`vmath`]: vectorised exp / tanh / sigmoid / log (their accuracy is measured by
//!   `tests/codegen_vmath.rs`);
//! * [`tune`]: the autotuner (measured tiles and algorithms per step);
//! * [`kernels`]: one generator per kernel family (convolutions and dense layers as
//!   implicit GEMMs, pooling, normalisation, element-wise ops, optimizer updates).
//!
//! Only this module uses `cranelift-*`. The one `unsafe` operation is
//! calling JIT code ([`JitFn::call`]); every caller in here checks slice
//! lengths against the sizes it passes before calling.

pub mod ceiling;
pub mod error;
pub mod jit;
pub mod kernels;
pub mod loops;
pub mod machine;
pub mod simd;
pub mod tune;
pub mod vmath;

pub use error::{CodegenError, Result};
pub use jit::{CpuFeatures, Jit, JitFn, JitOptions, Opt};
