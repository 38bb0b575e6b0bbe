//! Rendering diagnostics as text, the only place that knows the rendering crate.

use super::{Diagnostic, SourceMap};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{self, Files};
use codespan_reporting::term::{self, termcolor, Config, Styles, StylesWriter};
use std::ops::Range;

/// Plain text (tests, pipes) or ANSI colours (terminals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Color,
}

/// Renders one diagnostic: `error[E0201]: message`, then `┌─ file:line:col`, the
/// source lines with underlined spans, notes, and the hint.
pub fn render(diag: &Diagnostic, sources: &SourceMap, style: Style) -> String {
    let mut labels: Vec<cs::Label<usize>> = diag
        .labels
        .iter()
        .map(|l| {
            let range = l.span.start as usize..l.span.end as usize;
            let label = if l.primary {
                cs::Label::primary(l.span.file.0 as usize, range)
            } else {
                cs::Label::secondary(l.span.file.0 as usize, range)
            };
            label.with_message(l.message.clone())
        })
        .collect();
    // Primary first, so the header location is the error's.
    labels.sort_by_key(|l| l.style != cs::LabelStyle::Primary);
    let mut notes = diag.notes.clone();
    if let Some(hint) = &diag.hint {
        notes.push(format!("hint: {hint}"));
    }
    let out = cs::Diagnostic::error()
        .with_code(diag.code)
        .with_message(diag.message.clone())
        .with_labels(labels)
        .with_notes(notes);
    let config = Config::default();
    let result = match style {
        Style::Plain => term::emit_into_string(&config, sources, &out),
        Style::Color => {
            let mut buffer = termcolor::Buffer::ansi();
            let styles = Styles::default();
            let mut writer = StylesWriter::new(&mut buffer, &styles);
            term::emit_to_write_style(&mut writer, &config, sources, &out)
                .map(|()| String::from_utf8_lossy(buffer.as_slice()).into_owned())
        }
    };
    // A span outside its file is a bug upstream; still say something useful rather than panic.
    result.unwrap_or_else(|e| format!("error[{}]: {} (could not show the source: {e})\n", diag.code, diag.message))
}

/// Renders several diagnostics separated as a compiler would print them.
pub fn render_all(diags: &[Diagnostic], sources: &SourceMap, style: Style) -> String {
    diags.iter().map(|d| render(d, sources, style)).collect::<Vec<_>>().join("\n")
}

impl<'a> Files<'a> for SourceMap {
    type FileId = usize;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<&'a str, files::Error> {
        self.files().get(id).map(|f| f.name.as_str()).ok_or(files::Error::FileMissing)
    }

    fn source(&'a self, id: usize) -> Result<&'a str, files::Error> {
        self.files().get(id).map(|f| f.text.as_str()).ok_or(files::Error::FileMissing)
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, files::Error> {
        let text = self.source(id)?;
        Ok(text.get(..byte_index.min(text.len())).map_or(0, |s| s.matches('\n').count()))
    }

    fn line_range(&'a self, id: usize, line_index: usize) -> Result<Range<usize>, files::Error> {
        let text = self.source(id)?;
        let mut starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1));
        let start = starts
            .nth(line_index)
            .ok_or(files::Error::LineTooLarge { given: line_index, max: text.matches('\n').count() })?;
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i + 1);
        Ok(start..end)
    }
}
