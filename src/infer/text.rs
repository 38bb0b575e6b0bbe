//! The report as a table, like Keras `summary()` or torchinfo.

use super::cost::Count;
use super::report::{Report, Row};
use std::fmt::Write;

/// `1234567` → `1,234,567`.
pub fn grouped(n: Count) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `12345678` → `12.35 M`: three significant decimals with an SI prefix.
pub fn si(n: Count) -> String {
    let x = n as f64;
    let (v, p) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(s, _)| x >= *s)
        .map_or((x, ""), |(s, p)| (x / s, p));
    if p.is_empty() {
        format!("{n}")
    } else {
        format!("{v:.2} {p}")
    }
}

/// Bytes in binary units.
pub fn bytes(n: Count) -> String {
    let x = n as f64;
    [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        .into_iter()
        .find(|(s, _)| n >= *s)
        .map_or(format!("{n} B"), |(s, u)| format!("{:.2} {u}", x / s as f64))
}

/// Longest cell shown in a table; a longer name keeps its start and end around an ellipsis.
pub const MAX_CELL_CHARS: usize = 80;

/// `s` cut to at most `max` characters, keeping its start and its end (where the
/// distinguishing part of a path such as `…layer4.2.conv3` is) around `…`.
pub fn fit(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max || max < 3 {
        return s.to_string();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let start: String = s.chars().take(head).collect();
    let end: String = s.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// Which side of a column the text keeps to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// `s` padded with spaces to `width` characters. Written out rather than with a format
/// width (`{:<w$}`), which panics for widths above 65,535.
pub fn pad(s: &str, width: usize, align: Align) -> String {
    let fill = " ".repeat(width.saturating_sub(s.chars().count()));
    match align {
        Align::Left => format!("{s}{fill}"),
        Align::Right => format!("{fill}{s}"),
    }
}

/// The whole report as text: header, one row per layer, the auxiliary heads' layers
/// (when the net has any), totals.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({}): input {}", r.name, r.file, r.input);
    let header = ["layer", "op", "output", "params", "MACs"];
    let cells = |rows: &[Row]| -> Vec<[String; 5]> {
        rows.iter()
            .map(|row| {
                let op = if row.detail.is_empty() { row.op.clone() } else { format!("{} {}", row.op, row.detail) };
                [
                    fit(&row.name, MAX_CELL_CHARS),
                    fit(&op, MAX_CELL_CHARS),
                    row.output.to_string(),
                    grouped(row.cost.params().unwrap_or(Count::MAX)),
                    grouped(row.cost.macs),
                ]
            })
            .collect()
    };
    let main = cells(&r.rows);
    let heads: Vec<Vec<[String; 5]>> = r.heads.iter().map(|h| cells(&h.rows)).collect();
    let mut width = header.map(|h| h.chars().count());
    for c in main.iter().chain(heads.iter().flatten()) {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let align = [Align::Left, Align::Left, Align::Left, Align::Right, Align::Right];
    let line = |out: &mut String, c: &[String; 5]| {
        let padded: Vec<String> = (0..5).map(|i| pad(&c[i], width[i], align[i])).collect();
        let _ = writeln!(out, "{}", padded.join("  "));
    };
    line(&mut out, &header.map(String::from));
    let rule = width.map(|w| "─".repeat(w));
    line(&mut out, &rule);
    for c in &main {
        line(&mut out, c);
    }
    for (h, cells) in r.heads.iter().zip(&heads) {
        let _ = writeln!(
            out,
            "\nauxiliary head `{}` (training only, loss weight {}), reading {}:",
            h.name,
            h.weight,
            fit(&h.reads, MAX_CELL_CHARS)
        );
        for c in cells {
            line(&mut out, c);
        }
    }
    if !r.complete {
        let _ = writeln!(out, "… stopped at an error (see below)");
        return out;
    }
    totals(&mut out, r);
    out
}

fn totals(out: &mut String, r: &Report) {
    let t = &r.total;
    let rows = [
        ("output", r.output.to_string(), String::new()),
        (
            "params",
            grouped(r.params),
            format!("trainable {} · non-trainable {}", grouped(t.trainable), grouped(t.fixed)),
        ),
        ("state", grouped(t.state), "batch-norm running statistics, saved but not learned".into()),
        ("MACs", grouped(t.macs), format!("conv + dense; forward FLOPs = 2 × MACs = {}", si(r.flops))),
        ("other ops", grouped(t.other_ops), "bias, normalisation, activations, pooling, additions".into()),
        ("backward", format!("≈ {}FLOPs", si(r.flops_backward)), "weight and input gradients, estimated".into()),
        (
            "memory",
            bytes(r.params_bytes),
            format!(
                "parameters and state (f32); activations {} at batch 1, inference peak {}",
                bytes(r.memory.activations),
                bytes(r.memory.peak)
            ),
        ),
    ];
    let mut rows = rows.to_vec();
    if !r.heads.is_empty() {
        let n = r.heads.len();
        let head_params: Count = r.heads.iter().map(|h| h.params).sum();
        let head_macs: Count = r.heads.iter().map(|h| h.total.macs).sum();
        rows.push((
            "with heads",
            grouped(r.with_heads.params().unwrap_or(Count::MAX)),
            format!(
                "params in training: + {} in {n} auxiliary head{} ({} MACs), left out of inference",
                grouped(head_params),
                if n == 1 { "" } else { "s" },
                grouped(head_macs)
            ),
        ));
    }
    let w = rows.iter().map(|(_, v, _)| v.chars().count()).max().unwrap_or(0);
    let _ = writeln!(out);
    for (k, v, note) in rows {
        let sep = if note.is_empty() { "" } else { "  " };
        let _ = writeln!(out, "{} {}{sep}{note}", pad(k, 10, Align::Left), pad(&v, w, Align::Right));
    }
}
