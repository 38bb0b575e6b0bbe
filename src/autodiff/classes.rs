//! How many classes a net scores, which layer decides it, and what to say when a
//! dataset has another number of classes.
//!
//! Consumes: a graph, and its sources to quote the deciding layer. Produces: the scores
//! node the loss reads ([`scores`]), the layer that sets their count ([`class_layer`]),
//! and an error at that layer's span when a dataset has another number of classes
//! ([`class_count_check`]).
//! Guarantees: the walk back from the scores only passes layers that keep the number of
//! features, so the layer it stops at is the one to edit.

use crate::diag::{codes, Diagnostic, SourceMap};
use crate::ir::{Act, Graph, NodeId, Op, ScopeKind, Shape};

/// The node whose output the loss reads as class scores: the net's output, or the input of
/// a final `softmax` or of a binary output's `sigmoid` (the loss includes either).
pub fn scores(g: &Graph) -> NodeId {
    let out = g.node(g.output());
    if out.op == Op::Softmax || is_binary(g) {
        out.inputs[0]
    } else {
        g.output()
    }
}

/// Whether the net is a binary classifier: its output is one unit (a vector or 1×1×1)
/// from a final `sigmoid`, the probability of class 1 of two. It trains with binary
/// cross-entropy on the sigmoid's input, and scores two classes.
pub fn is_binary(g: &Graph) -> bool {
    let out = g.node(g.output());
    out.op == Op::Act(Act::Sigmoid) && out.shape.is_vector_like() && out.shape.channels() == 1
}

/// How many classes the net scores: the channels of its scores, or 2 for a binary output.
pub fn class_count(g: &Graph) -> u64 {
    if is_binary(g) {
        2
    } else {
        g.node(scores(g)).shape.channels()
    }
}

/// The layer whose output size is the class count: walking back from the scores past
/// layers that keep the number of features (activations, batch norm, dropout, scaling,
/// pooling, additions, flattening a C×1×1 map, spatial zero padding), the first that sets
/// it: a dense, convolution or RBF layer, a concatenation, a channel padding, a flatten of
/// a larger map, or the input itself.
pub fn class_layer(g: &Graph) -> NodeId {
    let mut id = scores(g);
    loop {
        let node = g.node(id);
        let keeps = match &node.op {
            Op::Act(_)
            | Op::Dropout { .. }
            | Op::Scale { .. }
            | Op::BatchNorm(_)
            | Op::Lrn(_)
            | Op::Softmax
            | Op::Pool(_)
            | Op::GlobalAvgPool
            | Op::Subsample(_)
            | Op::Add => true,
            Op::ZeroPad(p) => p.channels_before == 0 && p.channels_after == 0,
            Op::Flatten => matches!(g.node(node.inputs[0]).shape, Shape::Map { h: 1, w: 1, .. }),
            Op::Input | Op::Conv(_) | Op::Dense(_) | Op::Rbf(_) | Op::Concat => false,
        };
        if !keeps {
            return id;
        }
        id = node.inputs[0];
    }
}

/// `None` when the net scores exactly `data_classes` classes (or is not a classifier, which
/// training reports itself); otherwise an error at the layer that sets the count. Fewer
/// scores than classes leave labels that can never be predicted. More are refused too: the
/// extra scores would have no class name, and a 1000-way head on a 10-class dataset is
/// almost always a head someone forgot to change.
pub fn class_count_check(g: &Graph, sources: &SourceMap, dataset: &str, data_classes: usize) -> Option<Diagnostic> {
    if !g.node(g.output()).shape.is_vector_like() {
        return None;
    }
    let net_classes = class_count(g);
    let data = data_classes as u64;
    if net_classes == data {
        return None;
    }
    let id = class_layer(g);
    let node = g.node(id);
    if is_binary(g) {
        let message = format!(
            "the output layer `{}` followed by `sigmoid` is a binary output (2 classes), but {dataset} has {data_classes}",
            quote(g, sources, id)
        );
        let d = Diagnostic::error(codes::CLASS_COUNT, message, node.span, "one unit: the probability of class 1")
            .with_note("a one-unit sigmoid output trains with binary cross-entropy on two-class data only");
        return Some(d.with_hint(format!(
            "for {data_classes} classes, end the net with `dense({data_classes}) softmax` (or no softmax)"
        )));
    }
    let message = format!(
        "the output layer `{}` scores {net_classes} classes, but {dataset} has {data_classes}",
        quote(g, sources, id)
    );
    let note = if net_classes < data {
        format!("labels {net_classes} to {} could never be predicted", data - 1)
    } else {
        format!("scores {data} to {} would belong to no class of {dataset}", net_classes - 1)
    };
    let mut d = Diagnostic::error(codes::CLASS_COUNT, message, node.span, format!("scores {net_classes} classes"))
        .with_note(note);
    for scope in g.scope_chain(node.scope).into_iter().rev() {
        if let ScopeKind::Block(block) = &g.scope(scope).kind {
            let path = g.scope_path(scope);
            d = d.with_label(g.scope(scope).span, format!("in `{path}`, an instance of block `{block}`"));
        }
    }
    Some(d.with_hint(fix(&node.op, data_classes)))
}

/// `path: source` of a layer, e.g. `fc: dense(1000)`; the op's kind when its source is not
/// a short single line (a concatenation spanning lines).
fn quote(g: &Graph, sources: &SourceMap, id: NodeId) -> String {
    let node = g.node(id);
    let text = sources.files().get(node.span.file.0 as usize).map(|f| f.text.as_str()).unwrap_or("");
    let written = text.get(node.span.start as usize..node.span.end as usize).unwrap_or("");
    let shown =
        if written.is_empty() || written.len() > 60 || written.contains('\n') { node.op.kind() } else { written };
    format!("{}: {shown}", g.path(id))
}

/// What to write instead.
fn fix(op: &Op, classes: usize) -> String {
    match op {
        Op::Dense(_) => format!("change it to `dense({classes})`"),
        Op::Rbf(_) => format!("change it to `rbf({classes})`"),
        Op::Conv(_) => format!("give it {classes} output channels: `conv({classes}, ...)`"),
        _ => format!("end the net with a layer that scores {classes} classes, e.g. `dense({classes})`"),
    }
}
