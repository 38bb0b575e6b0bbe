//! `netc run --eval`'s report end to end on the synthetic dataset: the JSON report against
//! an in-process oracle (the reference executor's scores, counted by the simplest code),
//! for a net with softmax outputs and one with RBF distances (the smallest wins); the text
//! report's parts; the class names saved by `--save` and read back.

mod cli_support;

use cli_support::output::*;
use cli_support::TempDir;
use netc::autodiff::ScoreKind;
use netc::data::{load, Batcher, LoadOptions, Pipeline, PrepOptions, SearchRoots};
use netc::diag::SourceMap;
use netc::runtime::{Engine, ParamStore, ReferenceEngine};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Output;

const LIMIT: usize = 300;

/// The class names of the synthetic dataset, in label order (its digits' rotations).
fn synthetic_names() -> Vec<String> {
    let opts = LoadOptions { limit: Some(LIMIT), ..LoadOptions::default() };
    load("synthetic", None, &SearchRoots::from_process(), &opts).unwrap().train.classes
}

/// Asserts that stderr holds only the preprocessing line `--eval` prints.
fn only_preprocessing(stderr: &[u8]) {
    let t = text(stderr);
    assert!(t.lines().count() == 1 && t.starts_with("preprocessing (stored in "), "{t}");
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Trains `net` for one epoch on synthetic data and saves the weights in `dir`.
fn trained(net: &str, dir: &TempDir) -> PathBuf {
    let w = dir.0.join("w.safetensors");
    let limit = LIMIT.to_string();
    ok(&netc(&["run", net, "--train", "synthetic", "--limit", &limit, "--epochs", "1", "--quiet", "--save", &s(&w)]));
    w
}

fn eval(net: &str, w: &Path, extra: &[&str]) -> Output {
    let limit = LIMIT.to_string();
    let mut args = vec!["run", net, "--weights", w.to_str().unwrap(), "--eval", "synthetic", "--limit", &limit];
    args.extend_from_slice(extra);
    netc(&args)
}

/// The class scores of the test split, computed in process by the reference executor with
/// the same preprocessing as `netc run`, with the labels and the kind of scores.
fn oracle_scores(net: &str, w: &Path) -> (Vec<Vec<f32>>, Vec<usize>, ScoreKind) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(net)).unwrap();
    let graph = netc::driver::compile(&mut SourceMap::new(), net, &text).unwrap_or_else(|_| panic!("{net} compiles"));
    let opts = LoadOptions { limit: Some(LIMIT), ..LoadOptions::default() };
    let splits = load("synthetic", None, &SearchRoots::from_process(), &opts).unwrap();
    let input = match graph.node(graph.input()).shape {
        netc::ir::Shape::Map { c, h, w } => (c as usize, h as usize, w as usize),
        s => panic!("{s}"),
    };
    // The run's default preprocessing: the training split's mean and standard deviation.
    let prep = Pipeline::build(&PrepOptions::default(), &splits.train, input).unwrap();
    let mut engine = ReferenceEngine::new(&graph, 1, 1).unwrap();
    engine.reserve(&[], &[LIMIT]).unwrap();
    let mut store = ParamStore::try_new(&engine.training_program().params, false).unwrap();
    netc::train::checkpoint::load(w, &mut store).unwrap();
    let (classes, _, kind) = engine.scores();
    let mut batcher = Batcher::new(&splits.test, &prep, LIMIT).unwrap();
    let mut epoch = batcher.in_order();
    let b = epoch.next_batch().unwrap();
    let scores = engine.infer(&mut store, b.images, b.len()).to_vec();
    let labels = b.labels.iter().map(|&l| l as usize).collect();
    (scores.chunks(classes).map(<[f32]>::to_vec).collect(), labels, kind)
}

/// The class a row predicts and the label's rank, by plain sorting: best score first
/// (smallest distance first), ties to the lower index.
fn predicted_and_rank(row: &[f32], label: usize, kind: ScoreKind) -> (usize, usize) {
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|&a, &b| {
        let by = if kind == ScoreKind::Distances { row[a].total_cmp(&row[b]) } else { row[b].total_cmp(&row[a]) };
        by.then(a.cmp(&b))
    });
    (order[0], order.iter().position(|&c| c == label).unwrap())
}

fn check_against_oracle(net: &str, expect_kind: ScoreKind) {
    let d = TempDir::new(&net.replace(['/', '.'], "-"));
    let w = trained(net, &d);
    let report: Value = serde_json::from_str(&ok(&eval(net, &w, &["--engine", "reference", "--format", "json"])))
        .expect("the report is JSON");
    let (rows, labels, kind) = oracle_scores(net, &w);
    assert_eq!(kind, expect_kind);
    let (mut correct, mut top5) = ([0u64; 10], [0u64; 10]);
    let mut count = [0u64; 10];
    let mut confusions: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    for (row, &label) in rows.iter().zip(&labels) {
        let (predicted, rank) = predicted_and_rank(row, label, kind);
        count[label] += 1;
        correct[label] += u64::from(predicted == label);
        top5[label] += u64::from(rank < 5);
        if predicted != label {
            *confusions.entry((label as u64, predicted as u64)).or_default() += 1;
        }
    }
    assert_eq!(report["schema"], "netc.eval/1");
    assert_eq!(report["engine"], "reference");
    assert_eq!(report["dataset"], "synthetic");
    assert_eq!(report["class_names"], "checkpoint");
    assert_eq!(report["images"], LIMIT as u64);
    let total_correct: u64 = correct.iter().sum();
    // serde_json parses floats to within an ulp (without its float_roundtrip feature).
    let near = |v: &Value, x: f64| (v.as_f64().unwrap() - x).abs() < 1e-12;
    assert!(near(&report["top1"], total_correct as f64 / LIMIT as f64), "{net}: {}", report["top1"]);
    assert!(near(&report["top5"], top5.iter().sum::<u64>() as f64 / LIMIT as f64), "{net}: {}", report["top5"]);
    let classes = report["classes"].as_array().unwrap();
    let names = synthetic_names();
    assert_eq!(classes.len(), 10);
    for (i, c) in classes.iter().enumerate() {
        assert_eq!(c["index"], i as u64);
        assert_eq!(c["name"], names[i]);
        assert_eq!(
            (c["images"].as_u64(), c["correct"].as_u64(), c["top5_correct"].as_u64()),
            (Some(count[i]), Some(correct[i]), Some(top5[i])),
            "{net}, class {i}"
        );
    }
    let got: BTreeMap<(u64, u64), u64> = report["confusions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| ((c["true"].as_u64().unwrap(), c["predicted"].as_u64().unwrap()), c["images"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, confusions, "{net}");
    // The most frequent confusion comes first.
    let firsts: Vec<u64> =
        report["confusions"].as_array().unwrap().iter().map(|c| c["images"].as_u64().unwrap()).collect();
    assert!(firsts.windows(2).all(|p| p[0] >= p[1]), "{firsts:?}");
    // Some images must be wrong for the confusion counts to be tested at all.
    assert!(total_correct < LIMIT as u64 && total_correct > 0, "{net}: {total_correct} correct");
}

#[test]
fn the_report_matches_the_reference_executor_for_softmax_outputs() {
    check_against_oracle("nets/lenet-keras.net", ScoreKind::Probabilities);
}

#[test]
fn the_report_matches_the_reference_executor_for_rbf_distances() {
    check_against_oracle("nets/lenet.net", ScoreKind::Distances);
}

/// Tensors by name, shape and little-endian bytes.
type Tensors = Vec<(String, Vec<usize>, Vec<u8>)>;

/// The tensors and metadata of a checkpoint.
fn read_checkpoint(p: &Path) -> (Tensors, HashMap<String, String>) {
    let bytes = std::fs::read(p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors = st.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec())).collect();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    (tensors, meta.metadata().clone().unwrap_or_default())
}

fn rewrite_metadata(p: &Path, to: &Path, edit: impl Fn(&mut HashMap<String, String>)) {
    let (tensors, mut meta) = read_checkpoint(p);
    edit(&mut meta);
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, shape, data)| {
            (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data).unwrap())
        })
        .collect();
    std::fs::write(to, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
}

#[test]
fn text_report_and_class_names() {
    let d = TempDir::new("text");
    let net = "nets/lenet-keras.net";
    let w = trained(net, &d);
    // --save stored the training set's class names.
    let (_, meta) = read_checkpoint(&w);
    let names: Vec<String> = serde_json::from_str(&meta["netc.classes"]).unwrap();
    assert_eq!(names, synthetic_names());

    let out = eval(net, &w, &[]);
    let report = ok(&out);
    let json: Value = serde_json::from_str(&ok(&eval(net, &w, &["--format", "json"]))).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    let acc = 100.0 * json["top1"].as_f64().unwrap();
    assert_eq!(
        lines[0],
        format!(
            "{net}: synthetic test accuracy {acc:.2}% (loss {:.4}) on {LIMIT} images",
            json["loss"].as_f64().unwrap()
        )
    );
    assert_eq!(lines[1], format!("top-5 accuracy {:.2}%", 100.0 * json["top5"].as_f64().unwrap()));
    assert_eq!(lines[2], "per class (names from the checkpoint):");
    // Ten rows of the per-class table, each with its counts.
    for i in 0..10 {
        let c = &json["classes"][i];
        let row = lines[4 + i].split_whitespace().collect::<Vec<_>>();
        assert_eq!(
            row[..4],
            [i.to_string(), names[i].clone(), c["images"].to_string(), c["correct"].to_string()],
            "{}",
            lines[4 + i]
        );
    }
    // The matrix: its diagonal is the correct counts, each row sums to the class's images.
    assert!(lines[14].starts_with("confusion matrix"), "{report}");
    for t in 0..10 {
        let cells: Vec<u64> = lines[16 + t].split_whitespace().skip(1).map(|x| x.parse().unwrap()).collect();
        assert_eq!(cells.len(), 10);
        assert_eq!(cells[t], json["classes"][t]["correct"].as_u64().unwrap());
        assert_eq!(cells.iter().sum::<u64>(), json["classes"][t]["images"].as_u64().unwrap());
    }
    only_preprocessing(&out.stderr);

    // Without stored names, the dataset's are used, silently.
    let bare = d.0.join("bare.safetensors");
    rewrite_metadata(&w, &bare, |m| {
        m.remove("netc.classes");
    });
    let o = eval(net, &bare, &["--format", "json"]);
    let j: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!((j["class_names"].as_str(), j["top1"].as_f64()), (Some("dataset"), json["top1"].as_f64()));
    only_preprocessing(&o.stderr);

    // Names that differ from the dataset's are used, with a warning.
    let named = d.0.join("named.safetensors");
    let zoo = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    rewrite_metadata(&w, &named, |m| {
        m.insert("netc.classes".into(), serde_json::to_string(&zoo).unwrap());
    });
    let o = eval(net, &named, &[]);
    let report = ok(&o);
    assert!(report.contains("\n  3 three ") && report.contains("\n  9 nine  "), "{report}");
    let warning = text(&o.stderr);
    assert!(
        warning.contains("differ from those of synthetic") && warning.contains("zero, one, two, three, …"),
        "{warning}"
    );

    // A broken entry is a warning, and the dataset's names are used.
    let broken = d.0.join("broken.safetensors");
    rewrite_metadata(&w, &broken, |m| {
        m.insert("netc.classes".into(), "[\"a\", ".into());
    });
    let o = eval(net, &broken, &["--format", "json"]);
    assert_eq!(serde_json::from_str::<Value>(&ok(&o)).unwrap()["class_names"], "dataset");
    assert!(text(&o.stderr).contains("not a JSON array of strings"), "{}", text(&o.stderr));
}

#[test]
fn json_format_is_for_eval_only() {
    let o = netc(&["run", "nets/lenet-keras.net", "--train", "synthetic", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("--format json is for the report of --eval"), "{}", text(&o.stderr));
}
