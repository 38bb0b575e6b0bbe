//! Cheap checks that run before the recursive-descent parser so that no input
//! can make it (or the evaluator after it) recurse deeply.
//!
//! Recursion in the grammar comes from brackets (`(`, `[`, `{`: groups, lists,
//! arguments, `cat`, bodies) and from `if`, which nests without brackets: `if a then
//! if b then …`, an `if` in a condition, and `else if` chains of expressions and
//! statements. The guard counts both on one scale: the bracket depth plus the `if`s
//! still open at each bracket level. An `if` stays open until its level ends: a `,` or
//! a `;`, a newline or a closing `}` not followed by `else`, or the level's closing
//! bracket. That bound is never below the real nesting, and siblings on separate lines
//! or separated by commas do not add up. Prefix operators (`-`, `not`) are capped by
//! the grammar at [`MAX_PREFIX`] in a row; longer runs get the same kind of error.

use super::{MAX_NESTING, MAX_SOURCE_BYTES};
use crate::diag::{codes, Diagnostic, FileId, Span};

/// Prefix operators the grammar takes before one operand (`prefix{0, 16}`).
pub const MAX_PREFIX: usize = 16;

/// Rejects sources that are too large or nest too deeply.
pub fn check(text: &str, file: FileId) -> Result<(), Diagnostic> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::error(
            codes::TOO_DEEP,
            format!("source is {} bytes; netc accepts at most {} bytes", text.len(), MAX_SOURCE_BYTES),
            Span::new(file, 0, 0),
            "file starts here",
        ));
    }
    Scan {
        text: text.as_bytes(),
        file,
        ifs: vec![0],
        open_ifs: 0,
        prefix_run: 0,
        after_operand: false,
        next_token: (0, false),
    }
    .run()
}

struct Scan<'a> {
    text: &'a [u8],
    file: FileId,
    /// Open `if`s per bracket level; its length − 1 is the bracket depth.
    ifs: Vec<usize>,
    /// The sum of `ifs`.
    open_ifs: usize,
    /// Prefix operators in a row so far.
    prefix_run: usize,
    /// Whether the last token ends an operand, making a following `-` binary.
    after_operand: bool,
    /// The last look past blanks: where the next token starts and whether it is `else`.
    /// Every newline of a blank run asks the same question; one scan answers them all.
    next_token: (usize, bool),
}

impl Scan<'_> {
    fn run(mut self) -> Result<(), Diagnostic> {
        let mut i = 0;
        while i < self.text.len() {
            let b = self.text[i];
            let start = i;
            i += 1;
            match b {
                b'#' => {
                    while i < self.text.len() && self.text[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b' ' | b'\t' | b'\r' => continue,
                b'\n' | b'}' => {
                    if b == b'}' {
                        self.close();
                    }
                    if self.ifs.last().is_some_and(|&n| n > 0) && !self.else_follows(i) {
                        self.end_level();
                    }
                }
                b'(' | b'[' | b'{' => self.open(start)?,
                b')' | b']' => self.close(),
                b',' | b';' => self.end_level(),
                b'-' if self.text.get(i) != Some(&b'>') && !self.after_operand => {
                    self.prefix(start, i)?;
                    continue;
                }
                _ if b.is_ascii_alphanumeric() || b == b'_' => {
                    while i < self.text.len() && (self.text[i].is_ascii_alphanumeric() || self.text[i] == b'_') {
                        i += 1;
                    }
                    match &self.text[start..i] {
                        b"not" => {
                            self.prefix(start, i)?;
                            continue;
                        }
                        b"if" => self.open_if(start, i)?,
                        _ => {}
                    }
                    self.after_operand = !is_keyword(&self.text[start..i]);
                    self.prefix_run = 0;
                    continue;
                }
                _ => {}
            }
            self.after_operand = b == b')' || b == b']';
            self.prefix_run = 0;
        }
        Ok(())
    }

    fn depth(&self) -> usize {
        self.ifs.len() - 1 + self.open_ifs
    }

    fn too_deep(&self, start: usize, end: usize, what: &str) -> Diagnostic {
        Diagnostic::error(
            codes::TOO_DEEP,
            format!("{what} nest more than {MAX_NESTING} levels deep"),
            Span::new(self.file, start, end),
            format!("level {} opens here", self.depth()),
        )
        .with_hint("split the expression with `let` bindings or blocks")
    }

    fn open(&mut self, at: usize) -> Result<(), Diagnostic> {
        self.ifs.push(0);
        if self.ifs.len() - 1 > MAX_NESTING {
            return Err(self.too_deep(at, at + 1, "brackets"));
        }
        if self.depth() > MAX_NESTING {
            return Err(self.too_deep(at, at + 1, "brackets and `if`s"));
        }
        Ok(())
    }

    fn close(&mut self) {
        if self.ifs.len() > 1 {
            self.open_ifs -= self.ifs.pop().unwrap_or(0);
        }
    }

    fn open_if(&mut self, start: usize, end: usize) -> Result<(), Diagnostic> {
        *self.ifs.last_mut().expect("the top level is never popped") += 1;
        self.open_ifs += 1;
        if self.depth() > MAX_NESTING {
            return Err(self.too_deep(start, end, "brackets and `if`s"));
        }
        Ok(())
    }

    /// Everything open at the current bracket level is complete.
    fn end_level(&mut self) {
        let level = self.ifs.last_mut().expect("the top level is never popped");
        self.open_ifs -= *level;
        *level = 0;
    }

    fn prefix(&mut self, start: usize, end: usize) -> Result<(), Diagnostic> {
        self.prefix_run += 1;
        self.after_operand = false;
        if self.prefix_run > MAX_PREFIX {
            let msg = format!("more than {MAX_PREFIX} prefix operators (`-`, `not`) in a row");
            return Err(Diagnostic::error(codes::TOO_DEEP, msg, Span::new(self.file, start, end), "one too many")
                .with_hint("write the operand once, or use parentheses"));
        }
        Ok(())
    }

    /// Whether the next token after blanks, newlines and comments is `else`.
    fn else_follows(&mut self, from: usize) -> bool {
        if from <= self.next_token.0 {
            return self.next_token.1;
        }
        let mut i = from;
        let is_else = loop {
            if i >= self.text.len() {
                break false;
            }
            match self.text[i] {
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                b'#' => {
                    while i < self.text.len() && self.text[i] != b'\n' {
                        i += 1;
                    }
                }
                _ => {
                    let rest = &self.text[i..];
                    let word_end = rest.get(4).is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'));
                    break rest.starts_with(b"else") && word_end;
                }
            }
        };
        self.next_token = (i, is_else);
        is_else
    }
}

/// Words after which a `-` is a prefix, not a subtraction.
fn is_keyword(word: &[u8]) -> bool {
    matches!(
        word,
        b"if" | b"then" | b"else" | b"and" | b"or" | b"not" | b"repeat" | b"as" | b"let" | b"input" | b"default"
    )
}
