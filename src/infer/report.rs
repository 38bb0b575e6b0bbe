//! The static report of a net: one row per layer (or per module with `--depth`)
//! and the totals. This is data; `text`, `json` and `dot` render it.

use super::cost::{node_cost, Cost, Count};
use super::heads::HeadReport;
use super::memory::{forward_memory, Memory, F32};
use crate::diag::{codes, Diagnostic};
use crate::ir::{Graph, NodeId, ScopeId, ScopeKind, Shape};

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Dotted path, e.g. `layer3.2.conv2`, or a module's path when folded.
    pub name: String,
    /// Op kind (`conv`), or for a folded module its block name or `repeat`/`group`.
    pub op: String,
    /// Op arguments in short form (`64 3x3/2 pad 1`); empty for modules.
    pub detail: String,
    pub output: Shape,
    pub cost: Cost,
    /// Layers folded into this row (1 for a plain layer).
    pub layers: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub name: String,
    pub file: String,
    pub input: Shape,
    pub output: Shape,
    pub rows: Vec<Row>,
    pub total: Cost,
    pub memory: Memory,
    /// Trainable plus fixed parameters.
    pub params: Count,
    /// Forward FLOPs: 2 · MACs.
    pub flops: Count,
    /// 2 · backward MACs + 2 · other ops: an estimate (see `cost`).
    pub flops_backward: Count,
    /// Parameters and state in f32.
    pub params_bytes: Count,
    /// Whether the graph is complete (false when shown up to an error).
    pub complete: bool,
    /// The auxiliary heads (training only), each with its rows and totals; the fields
    /// above leave them out.
    pub heads: Vec<HeadReport>,
    /// The net's total cost with its heads: what training builds.
    pub with_heads: Cost,
}

pub(super) fn overflow(g: &Graph, what: &str) -> Diagnostic {
    let span = g.node(g.output()).span;
    Diagnostic::error(codes::ARITHMETIC, format!("the {what} of this net exceeds 2^64"), span, "counted up to here")
}

/// Counts every layer of `g`. With `depth = Some(n)`, rows show paths of at most
/// `n` components: anything deeper is folded into its enclosing module's row.
///
/// The rows and totals are the net as inference runs it; each auxiliary head gets its
/// own rows and totals in [`Report::heads`], and [`Report::with_heads`] sums both.
pub fn analyze(g: &Graph, name: &str, file: &str, depth: Option<usize>, complete: bool) -> Result<Report, Diagnostic> {
    let members = g.head_members();
    let (rows, total) = rows(g, |id| members[id.index()].is_none(), depth)?;
    let memory = forward_memory(g, |id| members[id.index()].is_none()).ok_or_else(|| overflow(g, "memory"))?;
    let input = g.node(g.input()).shape;
    let output = g.node(g.output()).shape;
    let derived = || -> Option<(Count, Count, Count, Count)> {
        let params = total.params()?;
        let backward = total.backward_macs.checked_mul(2)?.checked_add(total.other_ops.checked_mul(2)?)?;
        Some((params, total.macs.checked_mul(2)?, backward, params.checked_add(total.state)?.checked_mul(F32)?))
    };
    let (params, flops, flops_backward, params_bytes) = derived().ok_or_else(|| overflow(g, "total count"))?;
    let heads = super::heads::analyze(g, &members, depth)?;
    let with_heads = heads.iter().try_fold(total, |t, h| t.plus(&h.total)).ok_or_else(|| overflow(g, "total count"))?;
    Ok(Report {
        name: name.into(),
        file: file.into(),
        input,
        output,
        rows,
        total,
        memory,
        params,
        flops,
        flops_backward,
        params_bytes,
        complete,
        heads,
        with_heads,
    })
}

/// The rows and the total cost of the nodes `keep` accepts, in graph order.
pub(super) fn rows(
    g: &Graph,
    keep: impl Fn(NodeId) -> bool,
    depth: Option<usize>,
) -> Result<(Vec<Row>, Cost), Diagnostic> {
    let mut rows: Vec<Row> = Vec::new();
    let mut total = Cost::default();
    let mut open: Option<(ScopeId, usize)> = None; // folded scope and its row
    for id in g.ids().skip(1).filter(|&id| keep(id)) {
        let node = g.node(id);
        let cost = node_cost(g, id).ok_or_else(|| overflow(g, "size of a layer"))?;
        total = total.plus(&cost).ok_or_else(|| overflow(g, "total count"))?;
        let fold = depth.and_then(|d| g.scope_chain(node.scope).get(d.saturating_sub(1)).copied());
        match fold {
            Some(scope) => {
                let row = match open {
                    Some((s, r)) if s == scope => r,
                    _ => {
                        rows.push(module_row(g, scope, node.shape));
                        rows.len() - 1
                    }
                };
                let r = &mut rows[row];
                r.cost = r.cost.plus(&cost).ok_or_else(|| overflow(g, "total count"))?;
                r.output = node.shape;
                r.layers += 1;
                open = Some((scope, row));
            }
            None => {
                rows.push(Row {
                    name: g.path(id),
                    op: node.op.kind().into(),
                    detail: node.op.detail(),
                    output: node.shape,
                    cost,
                    layers: 1,
                });
                open = None;
            }
        }
    }
    Ok((rows, total))
}

fn module_row(g: &Graph, scope: ScopeId, shape: Shape) -> Row {
    let op = match &g.scope(scope).kind {
        ScopeKind::Block(b) => b.clone(),
        ScopeKind::Repeat => "repeat".into(),
        ScopeKind::Iteration => "copy".into(),
        ScopeKind::Head => "aux".into(),
        ScopeKind::Group | ScopeKind::Root => "group".into(),
    };
    Row { name: g.scope_path(scope), op, detail: String::new(), output: shape, cost: Cost::default(), layers: 0 }
}
