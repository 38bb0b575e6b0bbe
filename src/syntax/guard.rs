//! Cheap checks that run before the recursive-descent parser so that no input
//! can make it recurse deeply enough to overflow the stack.

use super::{MAX_NESTING, MAX_SOURCE_BYTES};
use crate::diag::{codes, Diagnostic, FileId, Span};

/// Rejects sources that are too large or nest brackets too deeply.
pub fn check(text: &str, file: FileId) -> Result<(), Diagnostic> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::error(
            codes::TOO_DEEP,
            format!("source is {} bytes; netc accepts at most {} bytes", text.len(), MAX_SOURCE_BYTES),
            Span::new(file, 0, 0),
            "file starts here",
        ));
    }
    let mut depth = 0usize;
    let mut in_comment = false;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'\n' => in_comment = false,
            _ if in_comment => {}
            b'#' => in_comment = true,
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Diagnostic::error(
                        codes::TOO_DEEP,
                        format!("brackets nest more than {MAX_NESTING} levels deep"),
                        Span::new(file, i, i + 1),
                        format!("level {depth} opens here"),
                    )
                    .with_hint("split the expression with `let` bindings or blocks"));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}
