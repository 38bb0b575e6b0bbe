//! Error type shared by every code-generation entry point.
//!
//! Consumes: failures from Cranelift (ISA lookup, settings, verifier, module
//! linking) and from argument validation (bad sizes and parameters).
//! Produces: one [`CodegenError`] enum so callers can match on the cause.
//! Guarantees: public functions of `codegen` report bad input through this
//! type instead of panicking.

use std::fmt;

/// Result alias used throughout `codegen`.
pub type Result<T> = std::result::Result<T, CodegenError>;

/// Everything that can go wrong while building or running a JIT kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodegenError {
    /// The host ISA could not be configured (unsupported CPU, bad flag).
    Isa(String),
    /// Cranelift rejected the function (verifier or lowering failure) or the
    /// module could not be finalised.
    Compile(String),
    /// A size, stride or parameter is invalid (zero where forbidden, too
    /// small stride, overflowing product, too many kernel arguments ...).
    InvalidArgument(String),
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodegenError::Isa(m) => write!(f, "cannot configure host ISA: {m}"),
            CodegenError::Compile(m) => write!(f, "JIT compilation failed: {m}"),
            CodegenError::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
        }
    }
}

impl std::error::Error for CodegenError {}

/// Shorthand for an [`CodegenError::InvalidArgument`].
pub(crate) fn invalid(msg: impl Into<String>) -> CodegenError {
    CodegenError::InvalidArgument(msg.into())
}
