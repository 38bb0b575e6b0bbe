//! Code generation: CLIF kernels JIT-compiled with Cranelift.
//!
//! * [`jit`]: the JIT module for the host ISA and typed kernel handles;
//! * [`simd`], [`loops`]: small f32x4 and control-flow emitters;
//! * [`ceiling`]: the measured f32x4 FMA throughput ceiling;
//! * [`vmath`], [`map`]: vectorised exp / tanh / sigmoid / log and
//!   elementwise kernels using them;
//! * [`gemm`]: shape-specialised, register-blocked GEMM ([`gemm_spec`])
//!   with fused [`epilogue`], built from [`pack`], [`blocking`],
//!   [`orient`] and [`microkernel`]; [`gemm_cache`] memoises compiled GEMMs
//!   by spec.
//!
//! Only this module uses `cranelift-*`. The one `unsafe` operation is
//! calling JIT code ([`JitFn::call`]); every caller in here checks slice
//! lengths against the sizes it passes before calling.

pub mod blocking;
pub mod ceiling;
pub mod epilogue;
pub mod error;
pub mod gemm;
pub mod gemm_cache;
pub mod gemm_spec;
pub mod jit;
pub mod kernels;
pub mod loops;
pub mod map;
pub mod microkernel;
pub mod orient;
pub mod pack;
pub mod simd;
pub mod vmath;

pub use epilogue::{Bias, Epilogue};
pub use error::{CodegenError, Result};
pub use gemm::{compile_gemm, compile_gemm_with, CompiledGemm, GemmOptions, GemmScratch};
pub use gemm_cache::GemmCache;
pub use gemm_spec::GemmSpec;
pub use jit::{CpuFeatures, Jit, JitFn, JitOptions, Opt};
