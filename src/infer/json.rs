//! The report as JSON (`netc check --format json`). The schema is stable and
//! documented in the README; fields are only ever added, never renamed.

use super::cost::Count;
use super::heads::HeadReport;
use super::report::{Report, Row};
use crate::ir::Shape;
use serde::Serialize;

/// Identifies the schema of [`CheckJson`].
pub const SCHEMA: &str = "netc.check/1";

#[derive(Serialize)]
pub struct CheckJson {
    pub schema: &'static str,
    pub name: String,
    pub file: String,
    pub input: Vec<u64>,
    pub output: Vec<u64>,
    pub params: Params,
    pub state: Count,
    pub macs: Count,
    pub flops: Count,
    pub flops_backward: Count,
    pub other_ops: Count,
    pub memory: MemoryJson,
    /// Totals of what training builds: the net and its auxiliary heads.
    pub with_heads: WithHeadsJson,
    pub layers: Vec<LayerJson>,
    /// The auxiliary heads (training only), which the fields above leave out.
    pub heads: Vec<HeadJson>,
}

#[derive(Serialize)]
pub struct WithHeadsJson {
    pub params: Params,
    pub state: Count,
    pub macs: Count,
    pub other_ops: Count,
}

#[derive(Serialize)]
pub struct HeadJson {
    pub name: String,
    pub weight: f64,
    /// Path of the layer whose output the head reads.
    pub reads: String,
    pub output: Vec<u64>,
    pub params: Params,
    pub state: Count,
    pub macs: Count,
    pub other_ops: Count,
    pub layers: Vec<LayerJson>,
}

#[derive(Serialize)]
pub struct Params {
    pub trainable: Count,
    pub non_trainable: Count,
    pub total: Count,
}

#[derive(Serialize)]
pub struct MemoryJson {
    pub params_bytes: Count,
    pub input_bytes: Count,
    pub activations_bytes: Count,
    pub peak_activations_bytes: Count,
}

#[derive(Serialize)]
pub struct LayerJson {
    pub name: String,
    pub op: String,
    pub detail: String,
    pub output: Vec<u64>,
    pub params: Count,
    pub trainable: Count,
    pub state: Count,
    pub macs: Count,
    pub other_ops: Count,
    pub layers: usize,
}

fn dims(s: &Shape) -> Vec<u64> {
    s.dims()
}

fn layer(r: &Row) -> LayerJson {
    LayerJson {
        name: r.name.clone(),
        op: r.op.clone(),
        detail: r.detail.clone(),
        output: dims(&r.output),
        params: r.cost.params().unwrap_or(Count::MAX),
        trainable: r.cost.trainable,
        state: r.cost.state,
        macs: r.cost.macs,
        other_ops: r.cost.other_ops,
        layers: r.layers,
    }
}

fn params(c: &super::cost::Cost) -> Params {
    Params { trainable: c.trainable, non_trainable: c.fixed, total: c.params().unwrap_or(Count::MAX) }
}

fn head(h: &HeadReport) -> HeadJson {
    HeadJson {
        name: h.name.clone(),
        weight: h.weight,
        reads: h.reads.clone(),
        output: dims(&h.output),
        params: params(&h.total),
        state: h.total.state,
        macs: h.total.macs,
        other_ops: h.total.other_ops,
        layers: h.rows.iter().map(layer).collect(),
    }
}

pub fn to_json(r: &Report) -> CheckJson {
    CheckJson {
        schema: SCHEMA,
        name: r.name.clone(),
        file: r.file.clone(),
        input: dims(&r.input),
        output: dims(&r.output),
        params: Params { trainable: r.total.trainable, non_trainable: r.total.fixed, total: r.params },
        state: r.total.state,
        macs: r.total.macs,
        flops: r.flops,
        flops_backward: r.flops_backward,
        other_ops: r.total.other_ops,
        memory: MemoryJson {
            params_bytes: r.params_bytes,
            input_bytes: r.memory.input,
            activations_bytes: r.memory.activations,
            peak_activations_bytes: r.memory.peak,
        },
        with_heads: WithHeadsJson {
            params: params(&r.with_heads),
            state: r.with_heads.state,
            macs: r.with_heads.macs,
            other_ops: r.with_heads.other_ops,
        },
        layers: r.rows.iter().map(layer).collect(),
        heads: r.heads.iter().map(head).collect(),
    }
}

/// The JSON text: indented, with each layer on one line so that reports diff well.
pub fn render(r: &Report) -> String {
    let mut doc = to_json(r);
    let layers = std::mem::take(&mut doc.layers);
    let heads = std::mem::take(&mut doc.heads);
    let text = pretty(&doc).replacen("\"layers\": []", &format!("\"layers\": {}", layer_lines(&layers, 2)), 1);
    let heads: Vec<String> = heads
        .into_iter()
        .map(|mut h| {
            let layers = std::mem::take(&mut h.layers);
            let text = pretty(&h).replacen("\"layers\": []", &format!("\"layers\": {}", layer_lines(&layers, 2)), 1);
            text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
        })
        .collect();
    let body = if heads.is_empty() { "[]".to_string() } else { format!("[\n{}\n  ]", heads.join(",\n")) };
    text.replacen("\"heads\": []", &format!("\"heads\": {body}"), 1)
}

/// Pretty JSON with lists of numbers on one line.
fn pretty(v: &impl Serialize) -> String {
    compact_number_lists(&serde_json::to_string_pretty(v).expect("the report serialises: strings and numbers only"))
}

/// A list of layers, one per line, closed at `indent` spaces.
fn layer_lines(layers: &[LayerJson], indent: usize) -> String {
    let pad = " ".repeat(indent);
    let rows: Vec<String> =
        layers.iter().map(|l| format!("{pad}  {}", serde_json::to_string(l).expect("a layer serialises"))).collect();
    if rows.is_empty() {
        "[]".to_string()
    } else {
        format!("[\n{}\n{pad}]", rows.join(",\n"))
    }
}

/// Puts lists of plain numbers (`[\n 3,\n 224,\n 224\n ]`) on one line: `[3, 224, 224]`.
fn compact_number_lists(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_digit() || c == ',' || c.is_whitespace()) => {
                let items: Vec<&str> = after[..close].split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
                out.push_str(&format!("[{}]", items.join(", ")));
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The JSON text for a net that failed to check.
pub fn render_errors(file: &str, diags: &[crate::diag::Diagnostic], sources: &crate::diag::SourceMap) -> String {
    serde_json::to_string_pretty(&errors(file, diags, sources)).expect("JSON values serialise")
}

/// The JSON document for a file that could not be read (missing, not a regular file,
/// too large, not UTF-8): one error with code E0004 and no location.
pub fn render_unreadable(file: &str, message: &str) -> String {
    let err = serde_json::json!({
        "code": crate::diag::codes::UNREADABLE,
        "message": message,
        "file": file,
        "line": null,
        "col": null,
        "hint": null,
    });
    let doc = serde_json::json!({ "schema": SCHEMA, "file": file, "errors": [err] });
    serde_json::to_string_pretty(&doc).expect("JSON values serialise")
}

/// The JSON document for a net that failed to check: its diagnostics with locations.
pub fn errors(file: &str, diags: &[crate::diag::Diagnostic], sources: &crate::diag::SourceMap) -> serde_json::Value {
    let errs: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let loc = d.primary_span().map(|s| sources.location(s));
            serde_json::json!({
                "code": d.code,
                "message": d.message,
                "file": loc.map(|l| l.file.to_string()),
                "line": loc.map(|l| l.line),
                "col": loc.map(|l| l.col),
                "hint": d.hint,
            })
        })
        .collect();
    serde_json::json!({ "schema": SCHEMA, "file": file, "errors": errs })
}
