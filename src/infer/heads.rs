//! The auxiliary heads in the report: each head's layers and totals, apart from the
//! net's, since only training builds them.

use super::cost::{Cost, Count};
use super::report::{overflow, rows, Row};
use crate::diag::Diagnostic;
use crate::ir::{Graph, Shape};

#[derive(Debug, Clone, PartialEq)]
pub struct HeadReport {
    /// The head's name (`AuxLogits`), the prefix of its layers' paths.
    pub name: String,
    /// The factor of its loss in the training loss.
    pub weight: f64,
    /// Path of the layer whose output the head reads.
    pub reads: String,
    /// Shape of the head's output.
    pub output: Shape,
    /// The head's layers (folded like the net's with `--depth`).
    pub rows: Vec<Row>,
    pub total: Cost,
    /// Trainable plus fixed parameters of the head.
    pub params: Count,
}

/// One report per head of `g`; `members` is [`Graph::head_members`].
pub fn analyze(g: &Graph, members: &[Option<usize>], depth: Option<usize>) -> Result<Vec<HeadReport>, Diagnostic> {
    g.heads()
        .iter()
        .enumerate()
        .map(|(k, h)| {
            let (rows, total) = rows(g, |id| members[id.index()] == Some(k), depth)?;
            Ok(HeadReport {
                name: h.name.clone(),
                weight: h.weight,
                reads: g.path(h.reads),
                output: g.node(h.output).shape,
                rows,
                params: total.params().ok_or_else(|| overflow(g, "total count"))?,
                total,
            })
        })
        .collect()
}
