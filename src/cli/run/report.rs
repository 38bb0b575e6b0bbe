//! The report of `netc run --eval`: text for people, JSON (`netc.eval/1`) for programs.
//!
//! Text: the accuracy line (as before), top-5 accuracy from 10 classes on, a per-class
//! table, and a confusion matrix. Beyond [`MATRIX_MAX_CLASSES`] classes a matrix no longer
//! fits a terminal, so the [`SHOWN`] most frequent confusions are listed instead; beyond
//! [`TABLE_MAX_CLASSES`] the per-class table keeps the [`SHOWN`] classes with the lowest
//! accuracy. The JSON report always holds everything: every class and every confusion.

use super::super::classes::{printable, width, ClassNames};
use crate::train::evaluation::{Evaluation, TOP5_MIN_CLASSES};
use serde_json::{json, Value};

/// Largest class count printed as a full confusion matrix.
pub const MATRIX_MAX_CLASSES: usize = 20;
/// Largest class count whose per-class table is printed whole.
pub const TABLE_MAX_CLASSES: usize = 100;
/// Rows of the shortened lists.
pub const SHOWN: usize = 20;
/// The JSON schema's name; fields are only ever added to it.
pub const SCHEMA: &str = "netc.eval/1";

/// What was evaluated, for the report's header.
pub struct Context<'a> {
    pub net: &'a str,
    pub weights: &'a str,
    pub dataset: &'a str,
    pub engine: &'a str,
}

fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// The text report.
pub fn text(ctx: &Context, e: &Evaluation, names: &ClassNames) -> String {
    let mut out = format!(
        "{}: {} test accuracy {} (loss {:.4}) on {} images\n",
        ctx.net,
        ctx.dataset,
        percent(e.top1()),
        e.tally.loss(),
        e.tally.count
    );
    if let Some(top5) = e.top5() {
        out.push_str(&format!("top-5 accuracy {}\n", percent(top5)));
    }
    out.push_str(&class_table(e, names));
    if e.classes() <= MATRIX_MAX_CLASSES {
        out.push_str(&matrix(e));
    } else {
        out.push_str(&confused_pairs(e, names));
    }
    out
}

/// A class's label in tables: its index, and its name unless names are just indices.
fn label(names: &ClassNames, i: usize) -> String {
    if names.are_indices() {
        i.to_string()
    } else {
        format!("{i} {}", printable(&names.names[i]))
    }
}

fn class_table(e: &Evaluation, names: &ClassNames) -> String {
    let mut rows: Vec<usize> = (0..e.classes()).collect();
    let heading = if rows.len() <= TABLE_MAX_CLASSES {
        format!("per class (names from the {}):\n", names.source.as_str())
    } else {
        // The worst first; classes without test images last.
        rows.sort_by(|&a, &b| {
            let acc = |i: usize| e.per_class[i].accuracy().unwrap_or(f64::INFINITY);
            acc(a).total_cmp(&acc(b)).then(a.cmp(&b))
        });
        rows.truncate(SHOWN);
        format!(
            "the {SHOWN} classes with the lowest accuracy, of {} (names from the {}; all are in --format json):\n",
            e.classes(),
            names.source.as_str()
        )
    };
    let labels: Vec<String> = rows.iter().map(|&i| label(names, i)).collect();
    let lw = labels.iter().map(|l| width(l)).max().unwrap_or(0).max("class".len());
    let mut out = heading;
    out.push_str(&format!("  {:<lw$}  {:>7}  {:>7}  {:>8}\n", "class", "images", "correct", "accuracy"));
    for (&i, l) in rows.iter().zip(&labels) {
        let c = e.per_class[i];
        let acc = c.accuracy().map_or("-".to_string(), percent);
        let pad = lw - width(l);
        out.push_str(&format!("  {l}{:pad$}  {:>7}  {:>7}  {acc:>8}\n", "", c.count, c.correct));
    }
    out
}

fn matrix(e: &Evaluation) -> String {
    let n = e.classes();
    let largest = (0..n).flat_map(|t| (0..n).map(move |p| (t, p))).map(|(t, p)| e.cell(t, p)).max().unwrap_or(0);
    let w = largest.to_string().len().max((n - 1).to_string().len()).max(2);
    let mut out = String::from("confusion matrix (rows: true class, columns: predicted class):\n");
    out.push_str(&format!("  {:>w$} ", ""));
    for p in 0..n {
        out.push_str(&format!(" {p:>w$}"));
    }
    out.push('\n');
    for t in 0..n {
        out.push_str(&format!("  {t:>w$} "));
        for p in 0..n {
            out.push_str(&format!(" {:>w$}", e.cell(t, p)));
        }
        out.push('\n');
    }
    out
}

fn confused_pairs(e: &Evaluation, names: &ClassNames) -> String {
    let pairs = e.confusions();
    if pairs.is_empty() {
        return "no confusions: every image was classified correctly\n".into();
    }
    let shown = &pairs[..pairs.len().min(SHOWN)];
    let mut out = format!(
        "the {} most frequent confusions, of {} (true → predicted: images, share of the true class):\n",
        shown.len(),
        pairs.len()
    );
    let arrows: Vec<String> =
        shown.iter().map(|c| format!("{} → {}", label(names, c.truth), label(names, c.predicted))).collect();
    let aw = arrows.iter().map(|a| width(a)).max().unwrap_or(0);
    for (c, a) in shown.iter().zip(&arrows) {
        let share = c.count as f64 / e.per_class[c.truth].count.max(1) as f64;
        let pad = aw - width(a);
        out.push_str(&format!("  {a}{:pad$}  {:>6}  {:>7}\n", "", c.count, percent(share)));
    }
    out
}

/// The JSON report (schema [`SCHEMA`]).
pub fn json(ctx: &Context, e: &Evaluation, names: &ClassNames) -> Value {
    let top5 = e.classes() >= TOP5_MIN_CLASSES;
    let classes: Vec<Value> = e
        .per_class
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "index": i,
                "name": names.names[i],
                "images": c.count,
                "correct": c.correct,
                "accuracy": c.accuracy(),
                "top5_correct": top5.then_some(c.top5),
            })
        })
        .collect();
    let confusions: Vec<Value> =
        e.confusions().iter().map(|c| json!({"true": c.truth, "predicted": c.predicted, "images": c.count})).collect();
    json!({
        "schema": SCHEMA,
        "net": ctx.net,
        "weights": ctx.weights,
        "dataset": ctx.dataset,
        "engine": ctx.engine,
        "images": e.tally.count,
        "loss": e.tally.loss(),
        "top1": e.top1(),
        "top5": e.top5(),
        "class_names": names.source.as_str(),
        "classes": classes,
        "confusions": confusions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::ScoreKind;
    use crate::cli::classes::Source;

    /// An evaluation of `n` classes where sample i of class c is predicted as `guess(c, i)`.
    fn evaluation(n: usize, per_class: usize, guess: impl Fn(usize, usize) -> usize) -> Evaluation {
        let mut e = Evaluation::new(n);
        for c in 0..n {
            for i in 0..per_class {
                let mut row = vec![0f32; n];
                row[guess(c, i)] = 1.0;
                e.add(&row, &[c as u16], ScoreKind::Logits);
            }
        }
        e
    }

    fn names(n: usize, prefix: &str) -> ClassNames {
        ClassNames { names: (0..n).map(|i| format!("{prefix}{i}")).collect(), source: Source::Checkpoint }
    }

    const CTX: Context = Context { net: "n.net", weights: "w", dataset: "d", engine: "jit" };

    #[test]
    fn small_class_counts_get_a_matrix() {
        // Three classes, two samples each; class 2's second sample is taken for class 0.
        let e = evaluation(3, 2, |c, i| if c == 2 && i == 1 { 0 } else { c });
        let t = text(&CTX, &e, &names(3, "k"));
        assert!(t.starts_with("n.net: d test accuracy 83.33% (loss "), "{t}");
        assert!(!t.contains("top-5"), "fewer than 10 classes: no top-5\n{t}");
        assert!(t.contains("  2 k2         2        1    50.00%\n"), "{t}");
        assert!(
            t.contains("confusion matrix")
                && t.contains("\n       0  1  2\n   0   2  0  0\n")
                && t.contains("\n   2   1  0  1\n"),
            "{t}"
        );
        let v = json(&CTX, &e, &names(3, "k"));
        assert_eq!(v["top5"], Value::Null);
        assert_eq!(v["confusions"], json!([{"true": 2, "predicted": 0, "images": 1}]));
        assert_eq!(
            v["classes"][2],
            json!({"index": 2, "name": "k2", "images": 2, "correct": 1, "accuracy": 0.5, "top5_correct": null})
        );
    }

    #[test]
    fn many_classes_list_the_most_confused_pairs() {
        // 25 classes: each class c has one of its four samples taken for c + 1, and class 7
        // three of them for class 3.
        let e = evaluation(25, 4, |c, i| match (c, i) {
            (7, 1..=3) => 3,
            (_, 0) => (c + 1) % 25,
            _ => c,
        });
        let t = text(&CTX, &e, &names(25, "c"));
        assert!(t.contains("top-5 accuracy"), "{t}");
        assert!(!t.contains("confusion matrix"), "{t}");
        assert!(t.contains("the 20 most frequent confusions, of 26"), "{t}");
        // The largest first, with its share of the true class.
        let first = t.lines().skip_while(|l| !l.contains("most frequent")).nth(1).unwrap();
        assert_eq!(first, "  7 c7 → 3 c3           3   75.00%");
        // Every class still has its row (25 ≤ 100).
        assert!(t.contains("  24 c24") && t.contains("per class"), "{t}");
    }

    #[test]
    fn very_many_classes_list_the_worst_classes() {
        let e = evaluation(120, 2, |c, i| if c % 3 == 0 && i == 0 { (c + 1) % 120 } else { c });
        let t =
            text(&CTX, &e, &ClassNames { names: (0..120).map(|i| i.to_string()).collect(), source: Source::Dataset });
        assert!(t.contains("the 20 classes with the lowest accuracy, of 120"), "{t}");
        let rows: Vec<&str> = t.lines().skip_while(|l| !l.contains("lowest")).skip(2).take(20).collect();
        assert!(rows.iter().all(|r| r.ends_with("50.00%")), "{rows:?}");
        assert!(rows[0].starts_with("  0 ") && rows[1].starts_with("  3 "), "{rows:?}");
        assert_eq!(json(&CTX, &e, &names(120, "")).get("classes").and_then(Value::as_array).map(Vec::len), Some(120));
    }
}
