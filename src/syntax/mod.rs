//! Source text → AST. The only module that sees pest.
//!
//! [`parse`] first guards against inputs that could exhaust the parser (huge files,
//! brackets nested hundreds deep), then runs the pest grammar in `grammar/net.pest`
//! and lowers its pairs into [`ast`] nodes, each with a span. Syntax errors become a
//! [`Diagnostic`] that says what was expected and what was found.

pub mod ast;
mod errors;
mod guard;
mod parser;

use crate::diag::{Diagnostic, FileId};

/// Largest source accepted, in bytes; the zoo's biggest file is a few KB.
pub const MAX_SOURCE_BYTES: usize = 1 << 20;
/// Deepest bracket nesting accepted.
pub const MAX_NESTING: usize = 64;

/// Parses one `.net` source into its AST.
pub fn parse(text: &str, file: FileId) -> Result<ast::File, Diagnostic> {
    guard::check(text, file)?;
    parser::parse_file(text, file)
}
