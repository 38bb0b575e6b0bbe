//! The pipeline as a few functions per command; each returns data (or typed errors) and
//! prints nothing, so that `cli` can render it. A command reads as its stages:
//!
//! ```text
//!  check   compile ─▶ check (counts, with a partial report on an error)
//!  run     compile ─▶ Programs::build ─▶ (data, preprocessing: `data`) ─▶ Session::start ─▶ train / evaluate
//!  predict compile ─▶ Programs::build ─▶ Session::start ─▶ weights::load ─▶ infer
//!  bench   compile ─▶ count ─▶ Programs::build ─▶ bench::measure
//!  export  compile ─▶ export::tensors ─▶ weights::load ─▶ export::onnx
//! ```
//!
//! - [`compile`]: `.net` text → graph (`syntax`, `elab`); [`count`] and [`check`]: the
//!   report (`infer`).
//! - [`Programs`]: graph → training and inference programs (`autodiff`), built once and
//!   handed to the engine; [`Session`]: an engine that plans (`sched`) and compiles
//!   (`codegen`) them, with its buffers reserved and a parameter store (`runtime`).
//! - [`weights`]: checkpoints into a store, with typed errors.
//! - [`mod@bench`]: timing a JIT engine on synthetic data; [`export`]: the ONNX model.

use crate::diag::{Diagnostic, SourceMap};
use crate::elab::{self, Failure};
use crate::infer::{self, Report};
use crate::ir::Graph;
use crate::syntax;
use std::path::Path;

pub mod bandwidth;
pub mod bench;
pub mod export;
mod session;
pub mod weights;

pub use session::{Batches, EngineChoice, Programs, Session, SessionError};

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

/// Counts a complete graph: parameters, MACs, FLOPs and memory, layer by layer.
pub fn count(graph: &Graph, file_name: &str) -> Result<Report, Diagnostic> {
    infer::analyze(graph, &net_name(file_name), file_name, None, true)
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
        Err(f) => (f.partial.map(|g| *g), false, f.diagnostics),
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
