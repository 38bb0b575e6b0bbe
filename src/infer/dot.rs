//! A Graphviz diagram of the graph (`netc dot`): one box per layer showing its
//! name, op and output shape, edges along the data flow, and block instances,
//! repeats and labelled groups drawn as nested clusters.

use crate::ir::{Graph, Member, ScopeId, ScopeKind};
use std::fmt::Write;

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The DOT text of `g`, titled `name`.
pub fn render(g: &Graph, name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", quote(name));
    let _ = writeln!(out, "  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];");
    // Scopes nest at most a few dozen deep, so an explicit stack keeps this simple and safe.
    let mut stack: Vec<(ScopeId, usize)> = vec![(ScopeId::ROOT, 0)];
    while let Some((scope, i)) = stack.pop() {
        let members = &g.scope(scope).members;
        let indent = "  ".repeat(stack.len() + 1);
        if i == members.len() {
            if scope != ScopeId::ROOT {
                let _ = writeln!(out, "{indent}}}");
            }
            continue;
        }
        stack.push((scope, i + 1));
        match members[i] {
            Member::Node(id) => {
                let n = g.node(id);
                let op = if n.op.detail().is_empty() {
                    n.op.kind().to_string()
                } else {
                    format!("{} {}", n.op.kind(), n.op.detail())
                };
                let _ =
                    writeln!(out, "{indent}  n{} [label=\"{}\\n{}\\n{}\"];", id.0, quote(&n.name), quote(&op), n.shape);
            }
            Member::Scope(s) => {
                let sc = g.scope(s);
                let what = match &sc.kind {
                    ScopeKind::Block(b) => format!(" ({b})"),
                    ScopeKind::Head => " (auxiliary head, training only)".into(),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "{indent}  subgraph cluster_{} {{\n{indent}    label=\"{}{}\"; style=rounded; color=gray50;",
                    s.0,
                    quote(&g.scope_path(s)),
                    quote(&what)
                );
                stack.push((s, 0));
            }
        }
    }
    for id in g.ids() {
        for &i in &g.node(id).inputs {
            let _ = writeln!(out, "  n{} -> n{} [label=\"{}\"];", i.0, id.0, g.node(i).shape);
        }
    }
    out.push_str("}\n");
    out
}
