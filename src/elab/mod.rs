//! AST → graph IR: the only bridge between the two.
//!
//! [`elaborate`] checks the file's declarations (one `input`, unique block names,
//! valid `default`s, no block that instantiates itself), then walks the network
//! body: it evaluates arguments, instantiates blocks and repetitions, and wires
//! every layer into the [`Graph`], whose shape rules run as each node is added.
//! Finally every node gets its name (see `names`) and nodes whose output is never
//! used are rejected.
//!
//! Errors carry the instantiation chain (which block instance, called from where),
//! as rustc does for macros. On a failure the graph built so far is returned too, so
//! the report can show the layers inferred up to the error.

mod args;
mod body;
mod builtins;
mod declarations;
mod env;
mod heads;
mod init;
mod names;
mod suggest;
mod value;

pub use builtins::{Sig, BUILTINS};

use crate::diag::{codes, Diagnostic, FileId, Span};
use crate::ir::{Graph, ScopeId, Shape};
use crate::syntax::ast;
use args::ArgVal;
use std::collections::HashMap;

/// Most nodes a net may elaborate to (the zoo's largest has about a thousand).
pub const MAX_NODES: usize = 200_000;
/// Most copies one `repeat` may make.
pub const MAX_REPEAT: i64 = 10_000;
/// Deepest nesting of block instances.
pub const MAX_DEPTH: usize = 64;

/// Why elaboration failed, with whatever graph was built before the failure.
#[derive(Debug)]
pub struct Failure {
    pub diagnostics: Vec<Diagnostic>,
    /// Boxed: a failure is rare, and a small `Result` keeps the happy path light.
    pub partial: Option<Box<Graph>>,
}

/// Elaborates a parsed file into its graph.
pub fn elaborate(file: &ast::File, id: FileId) -> Result<Graph, Failure> {
    let decls = declarations::collect(file, id).map_err(|diagnostics| Failure { diagnostics, partial: None })?;
    let shape = decls.input_shape;
    let mut elab = Elab {
        blocks: decls.blocks,
        presets: decls.presets,
        graph: Graph::new(shape, decls.input_span),
        stack: Vec::new(),
    };
    let mut env = env::Env::root(elab.graph.input(), shape);
    let result = elab.stmts(decls.stmts.iter().copied(), &mut env, ScopeId::ROOT);
    let mut graph = elab.graph;
    match result {
        Ok(out) => {
            graph.set_output(out);
            let mut diagnostics = names::assign(&mut graph);
            diagnostics.extend(dead_node(&graph));
            diagnostics.extend(heads::check(&graph));
            if diagnostics.is_empty() {
                if crate::ir::checks_enabled() {
                    if let Err(e) = crate::ir::verify(&graph) {
                        panic!("internal error: the elaborated graph fails verification: {e}");
                    }
                }
                Ok(graph)
            } else {
                Err(Failure { diagnostics, partial: Some(Box::new(graph)) })
            }
        }
        Err(e) => {
            names::assign(&mut graph);
            Err(Failure { diagnostics: vec![e.finish(&graph)], partial: Some(Box::new(graph)) })
        }
    }
}

/// The first layer whose output reaches neither the network's output nor a head's.
fn dead_node(g: &Graph) -> Option<Diagnostic> {
    let live = g.live_with_heads();
    let dead = g.ids().find(|id| !live[id.index()])?;
    let node = g.node(dead);
    Some(
        Diagnostic::error(codes::MISUSE, format!("the output of `{}` is never used", g.path(dead)), node.span, "computed here, then dropped")
            .with_hint("a chain that starts with a tensor name discards the flow before it; bind the flow to a name and use it, or remove the layer"),
    )
}

/// A block instance on the elaboration stack.
#[derive(Debug, Clone)]
struct Frame {
    block: String,
    call: Span,
    scope: ScopeId,
}

/// An error and the instantiation chain at the moment it happened.
struct ElabError {
    diag: Diagnostic,
    frames: Vec<Frame>,
}

impl ElabError {
    /// Adds the instantiation chain, innermost first, once names are final.
    fn finish(self, g: &Graph) -> Diagnostic {
        const SHOWN: usize = 4;
        let mut d = self.diag;
        for f in self.frames.iter().rev().take(SHOWN) {
            let path = g.scope_path(f.scope);
            d = d.with_label(f.call, format!("in `{path}`, an instance of block `{}`", f.block));
        }
        if !self.frames.is_empty() {
            let mut chain: Vec<String> = self
                .frames
                .iter()
                .rev()
                .take(SHOWN)
                .map(|f| format!("`{}` ({})", g.scope_path(f.scope), f.block))
                .collect();
            if self.frames.len() > SHOWN {
                chain.push(format!("{} more", self.frames.len() - SHOWN));
            }
            d = d.with_note(format!("instantiated through {}", chain.join(" ← ")));
        }
        d
    }
}

/// Errors are boxed: they are rare, and small results keep deep elaboration light on the stack.
type R<T> = Result<T, Box<ElabError>>;

struct Elab<'a> {
    blocks: HashMap<&'a str, &'a ast::BlockDef>,
    /// Keyword defaults from `default` declarations, per layer or block name.
    presets: HashMap<String, Vec<(String, ArgVal)>>,
    graph: Graph,
    stack: Vec<Frame>,
}

impl Elab<'_> {
    fn err(&self, diag: Diagnostic) -> Box<ElabError> {
        Box::new(ElabError { diag, frames: self.stack.clone() })
    }

    fn shape(&self, id: crate::ir::NodeId) -> Shape {
        self.graph.node(id).shape
    }
}
