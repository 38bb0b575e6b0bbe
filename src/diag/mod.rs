//! Diagnostics as data: source files, spans, and errors with labelled spans.
//!
//! Every stage of the pipeline reports problems as [`Diagnostic`] values; nothing
//! here prints. [`render`] turns diagnostics into text (`file:line:col`, the source
//! line, the span underlined, notes and a hint) at the edge, in the CLI and tests.

mod render;
mod source;

pub use render::{render, render_all, Style};
pub use source::{FileId, SourceFile, SourceMap, Span};

/// One problem found in a source, renderer-independent.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Stable error code, e.g. `E0201`; one per diagnostic kind (see [`codes`]).
    pub code: &'static str,
    /// One-line summary ("channel mismatch at an addition").
    pub message: String,
    /// Labelled spans; the first primary one is where the error is reported.
    pub labels: Vec<Label>,
    /// Extra context lines, e.g. the instantiation chain of a module.
    pub notes: Vec<String>,
    /// What the user could do about it.
    pub hint: Option<String>,
}

/// A span with a message; primary labels mark the error, secondary ones give context.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

impl Diagnostic {
    /// A diagnostic with a primary label at `span`.
    pub fn error(code: &'static str, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            labels: vec![Label { span, message: label.into(), primary: true }],
            notes: Vec::new(),
            hint: None,
        }
    }

    /// Adds a secondary label (context, e.g. where a module was instantiated).
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label { span, message: message.into(), primary: false });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The span of the first primary label: where the error is.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }
}

/// The error codes, one per diagnostic kind. The README lists them.
pub mod codes {
    /// The source is not valid syntax.
    pub const SYNTAX: &str = "E0001";
    /// Brackets nest too deeply or the file is too large to parse safely.
    pub const TOO_DEEP: &str = "E0002";
    /// A number literal does not fit.
    pub const BAD_LITERAL: &str = "E0003";
    /// The file cannot be read: missing, not a regular file, too large or not UTF-8
    /// (reported by the CLI; appears in JSON output).
    pub const UNREADABLE: &str = "E0004";
    /// There is no `input` declaration, or more than one.
    pub const INPUT_DECL: &str = "E0101";
    /// A name that is not a layer, block, tensor or value in scope.
    pub const UNKNOWN_NAME: &str = "E0102";
    /// A name defined twice (block, parameter, tensor, label).
    pub const DUPLICATE_NAME: &str = "E0103";
    /// Too many, missing, unknown or repeated arguments.
    pub const ARGUMENTS: &str = "E0104";
    /// A value of the wrong type, or out of its allowed range.
    pub const BAD_VALUE: &str = "E0105";
    /// A block that instantiates itself, directly or through others.
    pub const RECURSION: &str = "E0106";
    /// Arithmetic overflow, division by zero or a count beyond 2^64.
    pub const ARITHMETIC: &str = "E0107";
    /// The net is too large to elaborate (nodes, repetitions, nesting).
    pub const TOO_LARGE: &str = "E0108";
    /// A tensor used where a value is needed, or the other way round.
    pub const MISUSE: &str = "E0109";
    /// Operand shapes of an addition differ.
    pub const ADD_MISMATCH: &str = "E0201";
    /// Spatial sizes of a concatenation differ.
    pub const CONCAT_MISMATCH: &str = "E0202";
    /// A window (kernel) is larger than the padded input.
    pub const WINDOW_TOO_LARGE: &str = "E0203";
    /// A size is zero or negative.
    pub const NON_POSITIVE: &str = "E0204";
    /// A layer needs a spatial map or a flat vector and got the other.
    pub const RANK: &str = "E0205";
    /// Channels do not divide into groups, or a connection table does not fit.
    pub const CHANNELS: &str = "E0206";
    /// The net scores another number of classes than the dataset has.
    pub const CLASS_COUNT: &str = "E0301";
}
