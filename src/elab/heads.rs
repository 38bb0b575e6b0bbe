//! `aux name(weight = w) { body }`: an auxiliary head. Its body is elaborated on the
//! current flow in a scope of its own (so its layers are `name.conv`, ...), and the flow
//! goes on unchanged. Once the whole net is built, [`check`] compares each head's class
//! scores with the net's output.

use super::args;
use super::env::Env;
use super::{Elab, R};
use crate::diag::{codes, Diagnostic};
use crate::ir::{Graph, Head, NodeId, Op, ScopeId, ScopeKind};
use crate::syntax::ast::HeadDef;

/// A head's weight when none is given.
pub const DEFAULT_WEIGHT: f64 = 1.0;

impl Elab<'_> {
    pub(super) fn head(&mut self, def: &HeadDef, flow: NodeId, env: &Env, scope: ScopeId) -> R<()> {
        if scope != ScopeId::ROOT || !self.stack.is_empty() {
            let d = Diagnostic::error(
                codes::MISUSE,
                "an auxiliary head inside a block or a group",
                def.span,
                "declared here",
            )
            .with_hint("declare `aux` heads at the top level of the net, after the layer whose output they read");
            return Err(self.err(d));
        }
        let weight = self.head_weight(def, env)?;
        let before = self.graph.nodes().len();
        let hscope = self.new_scope(scope, def.name.name.clone(), true, ScopeKind::Head, def.span)?;
        let mut child = Env::child(env, flow, self.shape(flow));
        let output = self.stmts(&def.body.stmts, &mut child, hscope)?;
        if self.graph.nodes().len() == before || output.index() < before {
            let d = Diagnostic::error(
                codes::MISUSE,
                format!("auxiliary head `{}` has no layers of its own", def.name.name),
                def.body.span,
                "nothing computed here",
            )
            .with_hint("a head ends in the layer that scores the classes, e.g. `{ gap flatten dense(1000) }`");
            return Err(self.err(d));
        }
        self.graph.add_head(Head {
            name: def.name.name.clone(),
            scope: hscope,
            reads: flow,
            output,
            weight,
            span: def.span,
        });
        Ok(())
    }

    fn head_weight(&self, def: &HeadDef, env: &Env) -> R<f64> {
        let slots =
            args::bind("aux", &["weight"], def.args.as_deref().unwrap_or(&[]), &[], env).map_err(|d| self.err(d))?;
        let Some(arg) = slots.into_iter().next().flatten() else { return Ok(DEFAULT_WEIGHT) };
        match arg.value.as_f64() {
            Some(w) if w.is_finite() && w > 0.0 => Ok(w),
            Some(w) => Err(self.err(Diagnostic::error(
                codes::NON_POSITIVE,
                "a head's loss weight must be a positive number",
                arg.span,
                format!("this is {w}"),
            ))),
            None => Err(self.err(Diagnostic::error(
                codes::BAD_VALUE,
                "a head's loss weight must be a number",
                arg.span,
                format!("this is {}", arg.value.type_name()),
            ))),
        }
    }
}

/// The node a loss reads as class scores: `id`, or the input of `id` when it is a softmax.
fn scores(g: &Graph, id: NodeId) -> NodeId {
    let n = g.node(id);
    if n.op == Op::Softmax {
        n.inputs[0]
    } else {
        id
    }
}

/// Each head must score as many classes as the net's output: one diagnostic per head
/// that does not (or whose output is not a vector of scores).
pub fn check(g: &Graph) -> Vec<Diagnostic> {
    let out = g.node(g.output());
    let main_classes = out.shape.is_vector_like().then(|| g.node(scores(g, g.output())).shape.channels());
    let mut errors = Vec::new();
    for h in g.heads() {
        let node = g.node(h.output);
        let classes = g.node(scores(g, h.output)).shape.channels();
        let problem = match main_classes {
            _ if !node.shape.is_vector_like() => Some(format!(
                "auxiliary head `{}` ends in {}, not one score per class (a vector or C×1×1)",
                h.name, node.shape
            )),
            None => {
                Some(format!("auxiliary head `{}` on a net whose output is {}, not class scores", h.name, out.shape))
            }
            Some(c) if c != classes => {
                Some(format!("auxiliary head `{}` scores {classes} classes, but the net's output scores {c}", h.name))
            }
            Some(_) => None,
        };
        if let Some(message) = problem {
            let d = Diagnostic::error(
                codes::CLASS_COUNT,
                message,
                node.span,
                format!("the head's output is {}", node.shape),
            )
            .with_label(out.span, format!("the net's output is {}", out.shape))
            .with_hint(
                "a head is trained on the same labels as the net: end it in a layer that scores as many classes",
            );
            errors.push(d);
        }
    }
    errors
}
