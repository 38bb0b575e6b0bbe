//! The pipeline as one readable function per command: text → AST → graph → report.

use crate::diag::{Diagnostic, SourceMap};
use crate::elab::{self, Failure};
use crate::infer::{self, Report};
use crate::ir::Graph;
use crate::syntax;
use std::path::Path;

pub mod weights;

/// A net's name: its file stem (`nets/resnet50.net` → `resnet50`).
pub fn net_name(path: &str) -> String {
    Path::new(path).file_stem().map_or_else(|| path.to_string(), |s| s.to_string_lossy().into_owned())
}

/// Parses and elaborates one source into its graph.
pub fn compile(sources: &mut SourceMap, file_name: &str, text: &str) -> Result<Graph, Failure> {
    let id = sources.add(file_name, text);
    let ast = syntax::parse(text, id).map_err(|d| Failure { diagnostics: vec![d], partial: None })?;
    elab::elaborate(&ast, id)
}

/// The outcome of checking one file: a report (possibly partial) and diagnostics.
pub struct Checked {
    pub report: Option<Report>,
    pub graph: Option<Graph>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Compiles and counts one source. On an error the report covers the layers
/// inferred before it.
pub fn check(sources: &mut SourceMap, file_name: &str, text: &str, depth: Option<usize>) -> Checked {
    let name = net_name(file_name);
    let (graph, complete, mut diagnostics) = match compile(sources, file_name, text) {
        Ok(g) => (Some(g), true, Vec::new()),
        Err(f) => (f.partial, false, f.diagnostics),
    };
    let report = graph.as_ref().and_then(|g| match infer::analyze(g, &name, file_name, depth, complete) {
        Ok(r) => Some(r),
        Err(d) => {
            diagnostics.push(d);
            None
        }
    });
    Checked { report, graph, diagnostics }
}
