//! Checks a file's declarations before any layer is built: the `input`, the
//! blocks (unique names, unique parameters, no self-instantiation), and the
//! `default` declarations. All problems are reported together.

use super::args::{unknown_keyword, ArgVal};
use super::builtins;
use super::env::Env;
use super::value::eval;
use crate::diag::{codes, Diagnostic, FileId, Span};
use crate::ir::{NodeId, Shape};
use crate::syntax::ast::*;
use std::collections::HashMap;

pub struct Declarations<'a> {
    pub input_shape: Shape,
    pub input_span: Span,
    pub blocks: HashMap<&'a str, &'a BlockDef>,
    pub presets: HashMap<String, Vec<(String, ArgVal)>>,
    pub stmts: Vec<&'a Stmt>,
}

pub fn collect(file: &File, id: FileId) -> Result<Declarations<'_>, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut input: Option<(Shape, Span)> = None;
    let mut input_seen = false;
    let mut blocks: HashMap<&str, &BlockDef> = HashMap::new();
    let mut stmts = Vec::new();
    let mut defaults = Vec::new();
    for item in &file.items {
        match item {
            Item::Input { dims, span } => {
                match (&input, input_shape(dims, *span), std::mem::replace(&mut input_seen, true)) {
                    (Some((_, first)), _, _) => errors.push(
                        Diagnostic::error(
                            codes::INPUT_DECL,
                            "the input is declared twice",
                            *span,
                            "second declaration",
                        )
                        .with_label(*first, "first declaration"),
                    ),
                    (None, Ok(shape), _) if stmts.is_empty() => input = Some((shape, *span)),
                    (None, Ok(_), _) => errors.push(Diagnostic::error(
                        codes::INPUT_DECL,
                        "the input must be declared before the first layer",
                        *span,
                        "declared too late",
                    )),
                    (None, Err(_), true) => {}
                    (None, Err(e), false) => errors.push(e),
                }
            }
            Item::Block(b) => {
                if let Err(e) = check_block(b, &blocks) {
                    errors.push(e);
                } else {
                    blocks.insert(&b.name.name, b);
                }
            }
            Item::Default { target, args, span } => defaults.push((target, args, *span)),
            Item::Stmt(s) => stmts.push(s),
        }
    }
    let presets = defaults
        .into_iter()
        .filter_map(|(t, a, _)| check_default(t, a, &blocks).map_err(|e| errors.push(e)).ok())
        .collect();
    errors.extend(recursion(&blocks));
    let Some((input_shape, input_span)) = input else {
        if input_seen {
            return Err(errors);
        }
        let at = file.items.first().map_or(Span::new(id, 0, 0), item_span);
        errors.insert(
            0,
            Diagnostic::error(
                codes::INPUT_DECL,
                "the net has no `input` declaration",
                at,
                "expected `input C×H×W` before this",
            )
            .with_hint("start the file with e.g. `input 3x224x224` (channels x height x width)"),
        );
        return Err(errors);
    };
    if errors.is_empty() {
        Ok(Declarations { input_shape, input_span, blocks, presets, stmts })
    } else {
        Err(errors)
    }
}

fn item_span(item: &Item) -> Span {
    match item {
        Item::Input { span, .. } | Item::Default { span, .. } => *span,
        Item::Block(b) => b.span,
        Item::Stmt(Stmt::Let { span, .. } | Stmt::Bind { span, .. }) => *span,
        Item::Stmt(Stmt::Head(h)) => h.span,
        Item::Stmt(Stmt::Chain(c)) => c.span,
    }
}

fn input_shape(dims: &[i64], span: Span) -> Result<Shape, Diagnostic> {
    let [c, h, w] = dims else {
        return Err(Diagnostic::error(
            codes::INPUT_DECL,
            format!("the input must have 3 sizes (C×H×W), this has {}", dims.len()),
            span,
            "expected e.g. `3x224x224`",
        ));
    };
    if dims.iter().any(|&d| d <= 0) {
        return Err(Diagnostic::error(codes::NON_POSITIVE, "input sizes must be positive", span, "a size is 0"));
    }
    Ok(Shape::map(*c as u64, *h as u64, *w as u64))
}

fn check_block(b: &BlockDef, blocks: &HashMap<&str, &BlockDef>) -> Result<(), Diagnostic> {
    let name = &b.name;
    if builtins::is_reserved(&name.name) {
        return Err(Diagnostic::error(
            codes::DUPLICATE_NAME,
            format!("`{}` is a built-in name", name.name),
            name.span,
            "cannot name a block this",
        )
        .with_hint("choose another name for the block"));
    }
    if let Some(first) = blocks.get(name.name.as_str()) {
        return Err(Diagnostic::error(
            codes::DUPLICATE_NAME,
            format!("block `{}` is defined twice", name.name),
            name.span,
            "second definition",
        )
        .with_label(first.name.span, "first definition"));
    }
    for (i, p) in b.params.iter().enumerate() {
        if builtins::is_reserved(&p.name.name) {
            return Err(Diagnostic::error(
                codes::DUPLICATE_NAME,
                format!("`{}` is a built-in name and cannot be a parameter", p.name.name),
                p.name.span,
                "reserved name",
            ));
        }
        if let Some(prev) = b.params[..i].iter().find(|q| q.name.name == p.name.name) {
            return Err(Diagnostic::error(
                codes::DUPLICATE_NAME,
                format!("parameter `{}` is declared twice", p.name.name),
                p.name.span,
                "second declaration",
            )
            .with_label(prev.name.span, "first declaration"));
        }
    }
    Ok(())
}

fn check_default(
    target: &Ident,
    args: &[Arg],
    blocks: &HashMap<&str, &BlockDef>,
) -> Result<(String, Vec<(String, ArgVal)>), Diagnostic> {
    let params: Vec<&str> = if let Some(sig) = builtins::lookup(&target.name) {
        sig.param_names()
    } else if let Some(b) = blocks.get(target.name.as_str()) {
        b.params.iter().map(|p| p.name.name.as_str()).collect()
    } else {
        let known = builtins::BUILTINS.iter().map(|s| s.name).chain(blocks.keys().copied());
        let mut d = Diagnostic::error(
            codes::UNKNOWN_NAME,
            format!("`default` for unknown layer or block `{}`", target.name),
            target.span,
            "not a layer or block",
        );
        if let Some(s) = super::suggest::closest(&target.name, known) {
            d = d.with_hint(format!("did you mean `{s}`?"));
        }
        return Err(d);
    };
    let env = Env::root(NodeId(0), Shape::Flat(0));
    let mut out = Vec::new();
    for a in args {
        let Some(name) = &a.name else {
            return Err(Diagnostic::error(
                codes::ARGUMENTS,
                "`default` takes keyword arguments only",
                a.span,
                "write `name = value`",
            ));
        };
        if !params.contains(&name.name.as_str()) {
            return Err(unknown_keyword(&target.name, &params, name));
        }
        out.push((name.name.clone(), ArgVal { value: eval(&a.value, &env)?, span: a.value.span }));
    }
    Ok((target.name.clone(), out))
}

/// Blocks that instantiate themselves, directly or through other blocks.
fn recursion(blocks: &HashMap<&str, &BlockDef>) -> Vec<Diagnostic> {
    let mut names: Vec<&str> = blocks.keys().copied().collect();
    names.sort_by_key(|n| blocks[n].span.start);
    let calls: HashMap<&str, Vec<&Call>> = names
        .iter()
        .map(|&n| {
            let mut v = Vec::new();
            calls_in_stmts(&blocks[n].body.stmts, &mut v);
            v.retain(|c| blocks.contains_key(c.name.name.as_str()));
            (n, v)
        })
        .collect();
    // Iterative depth-first search: a file may define thousands of blocks.
    let mut state: HashMap<&str, u8> = HashMap::new(); // 1 = on the current path, 2 = done
    let mut errors = Vec::new();
    for &start in &names {
        if state.contains_key(start) {
            continue;
        }
        state.insert(start, 1);
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        while let Some(&mut (b, ref mut next)) = stack.last_mut() {
            let Some(&call) = calls[b].get(*next) else {
                state.insert(b, 2);
                stack.pop();
                continue;
            };
            *next += 1;
            let callee = call.name.name.as_str();
            match state.get(callee) {
                Some(1) => {
                    let path: Vec<(&str, &Call)> = stack.iter().map(|&(blk, i)| (blk, calls[blk][i - 1])).collect();
                    errors.push(cycle_error(callee, &path));
                }
                Some(_) => {}
                None => {
                    state.insert(callee, 1);
                    stack.push((callee, 0));
                }
            }
        }
    }
    errors
}

fn cycle_error(callee: &str, path: &[(&str, &Call)]) -> Diagnostic {
    let start = path.iter().position(|(b, _)| *b == callee).unwrap_or(0);
    let cycle = &path[start..];
    let (_, last) = cycle[cycle.len() - 1];
    let route: Vec<&str> = cycle.iter().map(|(b, _)| *b).chain(std::iter::once(callee)).collect();
    let what = if cycle.len() == 1 {
        format!("block `{callee}` instantiates itself")
    } else {
        format!(
            "block `{callee}` instantiates itself through {}",
            route[1..route.len() - 1].iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ")
        )
    };
    let mut d = Diagnostic::error(codes::RECURSION, what, last.span, "this instance would never end");
    for (_, c) in &cycle[..cycle.len() - 1] {
        d = d.with_label(c.span, "part of the cycle");
    }
    d.with_note(format!("cycle: {}", route.join(" → ")))
        .with_hint("a block cannot contain itself; use `repeat` for copies")
}

fn calls_in_stmts<'a>(stmts: &'a [Stmt], out: &mut Vec<&'a Call>) {
    for s in stmts {
        match s {
            Stmt::Let { .. } => {}
            Stmt::Bind { chain, .. } | Stmt::Chain(chain) => calls_in_chain(chain, out),
            Stmt::Head(h) => calls_in_stmts(&h.body.stmts, out),
        }
    }
}

fn calls_in_chain<'a>(chain: &'a Chain, out: &mut Vec<&'a Call>) {
    for st in &chain.stages {
        calls_in_stage(&st.kind, out);
    }
}

fn calls_in_stage<'a>(kind: &'a StageKind, out: &mut Vec<&'a Call>) {
    match kind {
        StageKind::Call(c) => out.push(c),
        StageKind::Repeat { body, .. } => calls_in_stmts(&body.stmts, out),
        StageKind::If { then, otherwise, .. } => {
            calls_in_stmts(&then.stmts, out);
            match otherwise {
                Some(Else::Body(b)) => calls_in_stmts(&b.stmts, out),
                Some(Else::If(st)) => calls_in_stage(&st.kind, out),
                None => {}
            }
        }
        StageKind::Cat(chains) => chains.iter().for_each(|c| calls_in_chain(c, out)),
        StageKind::Group(terms) => terms.iter().for_each(|t| calls_in_chain(&t.chain, out)),
    }
}
