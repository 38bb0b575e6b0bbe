//! Assigns every node and scope its final name within its scope.
//!
//! Labels (`conv1: conv(...)`) are kept as written. Unlabelled layers are named
//! after their op, and blocks after the block: `conv` if it is the only one of
//! its kind in the scope, `conv1`, `conv2`, ... if there are several (skipping
//! names a label already took; a base ending in a digit gets `_1`, `_2`, ...).
//! So torchvision's `layer3.2.conv2` comes out without labelling anything.

use crate::diag::{codes, Diagnostic};
use crate::ir::{Graph, Member, ScopeId};
use std::collections::{HashMap, HashSet};

/// Names every member of every scope; reports labels used twice in one scope.
pub fn assign(g: &mut Graph) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    for s in 0..g.scopes().len() {
        errors.extend(assign_scope(g, ScopeId(s as u32)));
    }
    errors
}

fn assign_scope(g: &mut Graph, scope: ScopeId) -> Vec<Diagnostic> {
    let members = g.scope(scope).members.clone();
    let info = |g: &Graph, m: Member| match m {
        Member::Node(n) => (g.node(n).name.clone(), g.node(n).explicit, g.node(n).span),
        Member::Scope(s) => (g.scope(s).name.clone(), g.scope(s).explicit, g.scope(s).span),
    };
    let mut errors = Vec::new();
    let mut taken: HashMap<String, crate::diag::Span> = HashMap::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for &m in &members {
        let (name, explicit, span) = info(g, m);
        if !explicit {
            *counts.entry(name).or_default() += 1;
        } else if let Some(first) = taken.get(&name) {
            errors.push(
                Diagnostic::error(
                    codes::DUPLICATE_NAME,
                    format!("the name `{name}` is used twice in one scope"),
                    span,
                    "second use",
                )
                .with_label(*first, "first use")
                .with_hint("layer paths must be unique; rename one of them"),
            );
        } else {
            taken.insert(name, span);
        }
    }
    let mut used: HashSet<String> = taken.keys().cloned().collect();
    let mut next: HashMap<String, usize> = HashMap::new();
    for &m in &members {
        let (base, explicit, _) = info(g, m);
        if explicit {
            continue;
        }
        let name = if counts[&base] == 1 && !used.contains(&base) {
            base.clone()
        } else {
            let sep = if base.ends_with(|c: char| c.is_ascii_digit()) { "_" } else { "" };
            let k = next.entry(base.clone()).or_insert(0);
            loop {
                *k += 1;
                let candidate = format!("{base}{sep}{k}");
                if !used.contains(&candidate) {
                    break candidate;
                }
            }
        };
        used.insert(name.clone());
        match m {
            Member::Node(n) => g.rename_node(n, name),
            Member::Scope(s) => g.rename_scope(s, name),
        }
    }
    errors
}
