//! What `netc predict` prints (the top classes of each sample, as text or JSON) and where
//! `--output` may write the raw outputs.

use crate::autodiff::ScoreKind;
use crate::cli::classes::{printable, ClassNames};
use crate::files::{dir_of, resolve, same_file};
use crate::train::metrics::{probabilities, top_k};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// One predicted sample: its file, its index in the file (for N×C×H×W files), its outputs.
pub struct Prediction<'a> {
    pub file: &'a Path,
    pub sample: Option<usize>,
    pub outputs: &'a [f32],
}

/// The `k` best classes of a sample with their probabilities, best first.
fn best(outputs: &[f32], kind: ScoreKind, k: usize) -> Vec<(usize, f64)> {
    let p = probabilities(outputs, kind);
    top_k(outputs, k, kind).into_iter().map(|i| (i, p[i])).collect()
}

/// Per sample a line naming it, then one line per class: probability, index and name. A
/// binary output gets one line instead: both class names with their probabilities, then
/// the predicted one (`  cat 0.1200 / dog 0.8800 -> dog`).
pub fn text(predictions: &[Prediction], names: &ClassNames, kind: ScoreKind, k: usize) -> String {
    let mut out = String::new();
    for p in predictions {
        let file = printable(&p.file.to_string_lossy());
        match p.sample {
            Some(i) => out.push_str(&format!("{file}[{i}]\n")),
            None => out.push_str(&format!("{file}\n")),
        }
        if kind.is_binary() {
            out.push_str(&binary_line(p.outputs, names, kind));
            continue;
        }
        for (class, prob) in best(p.outputs, kind, k) {
            let name = if names.are_indices() {
                class.to_string()
            } else {
                format!("{class} {}", printable(&names.names[class]))
            };
            out.push_str(&format!("  {:>7.2}%  {name}\n", 100.0 * prob));
        }
    }
    out
}

/// `  negative p0 / positive p1 -> predicted` for a binary output's sample.
fn binary_line(outputs: &[f32], names: &ClassNames, kind: ScoreKind) -> String {
    let p = probabilities(outputs, kind);
    let name = |i: usize| printable(&names.names[i]);
    let predicted = crate::train::metrics::predict(outputs, kind);
    format!("  {} {:.4} / {} {:.4} -> {}\n", name(0), p[0], name(1), p[1], name(predicted))
}

/// `[{"file", "sample" (N×C×H×W files only), "top": [{"class", "index", "prob"}]}]`; a
/// binary output's entries also have `"positive": {"class", "index": 1, "prob"}`, the
/// probability of class 1.
pub fn json(predictions: &[Prediction], names: &ClassNames, kind: ScoreKind, k: usize) -> Value {
    let entries: Vec<Value> = predictions
        .iter()
        .map(|p| {
            let top: Vec<Value> = best(p.outputs, kind, k)
                .into_iter()
                .map(|(i, prob)| json!({"class": names.names[i], "index": i, "prob": prob}))
                .collect();
            let mut entry = serde_json::Map::new();
            entry.insert("file".into(), json!(p.file.to_string_lossy()));
            if let Some(i) = p.sample {
                entry.insert("sample".into(), json!(i));
            }
            entry.insert("top".into(), Value::Array(top));
            if kind.is_binary() {
                let prob = probabilities(p.outputs, kind)[1];
                entry.insert("positive".into(), json!({"class": names.names[1], "index": 1, "prob": prob}));
            }
            Value::Object(entry)
        })
        .collect();
    Value::Array(entries)
}

/// Checks, before anything runs, that `--output` can be written: the file it names (through
/// symlinks) is absent, empty or a `.npy` file, none of the command's `inputs`, and its
/// directory takes new files. Returns the real file.
pub fn check_target(path: &Path, inputs: &[(&str, &Path)]) -> Result<PathBuf, String> {
    let refuse = |why: String| format!("cannot write --output {}: {why}", path.display());
    let real = resolve(path).map_err(|e| refuse(e.to_string()))?;
    if real.file_name().is_none() {
        return Err(refuse("it names no file".into()));
    }
    if let Some((what, _)) = inputs.iter().find(|(_, p)| same_file(&real, p)) {
        return Err(refuse(format!("it is {what}")));
    }
    match std::fs::metadata(&real) {
        Ok(m) if !m.is_file() => return Err(refuse(crate::files::wrong_kind(m.file_type()).to_string())),
        Ok(m) if m.len() > 0 && !crate::data::npy::is_npy(&real) => {
            return Err(refuse("it is not a .npy file, and netc overwrites only .npy files".into()))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(refuse(e.to_string())),
    }
    let dir = dir_of(&real);
    tempfile::Builder::new()
        .prefix(".netc-npy-")
        .tempfile_in(dir)
        .map_err(|e| refuse(format!("cannot create files in {}: {e}", dir.display())))?;
    Ok(real)
}
