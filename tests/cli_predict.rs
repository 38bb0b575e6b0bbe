//! `netc predict` end to end: its raw outputs (`--output`) against the reference executor
//! run in process on the same tensors, the top-k lists and probabilities for each kind of
//! score, the class names, and bad inputs (each a clear message naming the file, the good
//! inputs still predicted, a non-zero exit).

mod cli_support;

use cli_support::output::*;
use cli_support::TempDir;
use netc::autodiff::ScoreKind;
use netc::data::npy;
use netc::diag::SourceMap;
use netc::runtime::{Engine, ParamStore, ReferenceEngine};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NAMES: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// A net of the zoo: its graph, and an engine and store holding weights initialised with
/// `seed` (the oracle).
struct Net {
    name: &'static str,
    input: (usize, usize, usize),
    engine: ReferenceEngine,
    store: ParamStore,
}

impl Net {
    fn new(name: &'static str, seed: u64) -> Net {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap();
        let graph = netc::driver::compile(&mut SourceMap::new(), name, &text).unwrap_or_else(|_| panic!("{name}"));
        let input = match graph.node(graph.input()).shape {
            netc::ir::Shape::Map { c, h, w } => (c as usize, h as usize, w as usize),
            s => panic!("{s}"),
        };
        let engine = ReferenceEngine::new(&graph, 1, 1).unwrap();
        let mut store = ParamStore::try_new(&engine.training_program().params, false).unwrap();
        netc::train::initialise(&mut store, &graph, seed);
        Net { name, input, engine, store }
    }

    fn sample_len(&self) -> usize {
        self.input.0 * self.input.1 * self.input.2
    }

    /// Saves the weights, with class names if given.
    fn save(&self, path: &Path, names: Option<&[&str]>) {
        let mut meta = HashMap::new();
        if let Some(n) = names {
            meta.insert("netc.classes".to_string(), serde_json::to_string(n).unwrap());
        }
        netc::train::checkpoint::save(path, &self.store, &Vec::new(), meta).unwrap();
    }

    /// The reference executor's outputs for `n` samples.
    fn outputs(&mut self, images: &[f32], n: usize) -> Vec<f32> {
        self.engine.reserve(&[], &[n]).unwrap();
        self.engine.infer(&mut self.store, images, n).to_vec()
    }

    fn kind(&self) -> ScoreKind {
        self.engine.scores().2
    }
}

/// Deterministic pseudo-random inputs of roughly unit scale.
fn inputs(n: usize, seed: u32) -> Vec<f32> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32) * 3.0 - 1.5
        })
        .collect()
}

/// Three input files holding 7 samples: a.npy (4, N×C×H×W), b.npy (1, C×H×W), c.npy (2).
fn three_files(d: &TempDir, net: &Net) -> (Vec<PathBuf>, Vec<f32>) {
    let (c, h, w) = net.input;
    let all = inputs(7 * net.sample_len(), 7);
    let len = net.sample_len();
    let (a, b, cc) = (d.path("a.npy"), d.path("b.npy"), d.path("c.npy"));
    npy::write_f32(&a, &[4, c, h, w], &all[..4 * len]).unwrap();
    npy::write_f32(&b, &[c, h, w], &all[4 * len..5 * len]).unwrap();
    npy::write_f32(&cc, &[2, c, h, w], &all[5 * len..]).unwrap();
    (vec![a, b, cc], all)
}

fn predict(net: &Net, weights: &Path, inputs: &[PathBuf], extra: &[&str]) -> Output {
    let mut args = vec!["predict", net.name, "--weights", s(weights)];
    args.extend(inputs.iter().map(|p| s(p)));
    args.extend_from_slice(extra);
    netc(&args)
}

fn max_error(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0, f32::max)
}

#[test]
fn outputs_equal_the_reference_executor() {
    for (name, kind) in [
        ("nets/lenet-keras.net", ScoreKind::Probabilities),
        ("nets/lenet.net", ScoreKind::Distances),
        ("nets/lenet-classic.net", ScoreKind::Logits),
    ] {
        let d = TempDir::new("outputs");
        let mut net = Net::new(name, 3);
        assert_eq!(net.kind(), kind);
        let w = d.path("w.safetensors");
        net.save(&w, Some(&NAMES));
        let (files, all) = three_files(&d, &net);
        let expect = net.outputs(&all, 7);
        let out = d.path("out.npy");
        // Batches of 3 cross the files' boundaries and end with a batch of 1.
        for engine in ["jit", "reference"] {
            let o = predict(&net, &w, &files, &["--batch", "3", "--engine", engine, "--output", s(&out)]);
            ok(&o);
            let got = npy::read(&out).unwrap();
            assert_eq!(got.shape, vec![7, 10], "{name}");
            let err = max_error(&got.data, &expect);
            let tolerance = if engine == "jit" { 1e-4 } else { 1e-6 };
            assert!(err <= tolerance, "{name} on {engine}: outputs differ from the reference by {err}");
        }
        // Every batch size gives the same rows (a padded last batch changes nothing).
        for batch in ["1", "7", "64"] {
            ok(&predict(&net, &w, &files, &["--batch", batch, "--engine", "reference", "--output", s(&out)]));
            let err = max_error(&npy::read(&out).unwrap().data, &expect);
            assert!(err <= 1e-6, "{name}, batch {batch}: {err}");
        }
    }
}

/// The probabilities of one sample as the documentation states them, computed here.
fn expected_probabilities(row: &[f32], kind: ScoreKind) -> Vec<f64> {
    let z: Vec<f64> = match kind {
        ScoreKind::Probabilities => return row.iter().map(|&p| f64::from(p)).collect(),
        ScoreKind::Logits => row.iter().map(|&x| f64::from(x)).collect(),
        ScoreKind::Distances => row.iter().map(|&x| -f64::from(x)).collect(),
        // One value for two classes: σ(z), or z with σ(z) = softmax(0, z)[1].
        ScoreKind::BinaryProbability => return row.iter().flat_map(|&p| [1.0 - f64::from(p), f64::from(p)]).collect(),
        ScoreKind::BinaryLogit => row.iter().flat_map(|&z| [0.0, f64::from(z)]).collect(),
    };
    let sum: f64 = z.iter().map(|v| v.exp()).sum();
    z.iter().map(|v| v.exp() / sum).collect()
}

#[test]
fn top_k_lists_and_probabilities() {
    for name in ["nets/lenet-keras.net", "nets/lenet.net", "nets/lenet-classic.net"] {
        let d = TempDir::new("topk");
        let net = Net::new(name, 5);
        let w = d.path("w.safetensors");
        net.save(&w, Some(&NAMES));
        let (files, _) = three_files(&d, &net);
        let out = d.path("out.npy");
        let json: Value =
            serde_json::from_str(&ok(&predict(&net, &w, &files, &["--format", "json", "--output", s(&out)]))).unwrap();
        let rows = npy::read(&out).unwrap().data;
        let entries = json.as_array().unwrap();
        assert_eq!(entries.len(), 7);
        let expect_place = [
            ("a.npy", Some(0)),
            ("a.npy", Some(1)),
            ("a.npy", Some(2)),
            ("a.npy", Some(3)),
            ("b.npy", None),
            ("c.npy", Some(0)),
            ("c.npy", Some(1)),
        ];
        for (i, (e, (file, sample))) in entries.iter().zip(expect_place).enumerate() {
            assert!(e["file"].as_str().unwrap().ends_with(file), "{e}");
            assert_eq!(e["sample"].as_u64().map(|x| x as usize), sample, "{e}");
            let row = &rows[i * 10..(i + 1) * 10];
            let p = expected_probabilities(row, net.kind());
            let top = e["top"].as_array().unwrap();
            assert_eq!(top.len(), 5, "five by default");
            let mut previous = f64::INFINITY;
            for t in top {
                let k = t["index"].as_u64().unwrap() as usize;
                assert_eq!(t["class"], NAMES[k]);
                let prob = t["prob"].as_f64().unwrap();
                assert!((prob - p[k]).abs() < 1e-6, "{name}: class {k} has {prob}, expected {}", p[k]);
                assert!(prob <= previous, "{name}: not sorted: {top:?}");
                previous = prob;
            }
            // Nothing left out scores better than the fifth.
            let listed: Vec<usize> = top.iter().map(|t| t["index"].as_u64().unwrap() as usize).collect();
            assert!((0..10).filter(|c| !listed.contains(c)).all(|c| p[c] <= previous + 1e-12), "{name}: {p:?}");
            // The best class is the one the scores say (the smallest distance for RBF).
            let best = (0..10)
                .min_by(|&a, &b| match net.kind() {
                    ScoreKind::Distances => row[a].total_cmp(&row[b]),
                    _ => row[b].total_cmp(&row[a]),
                })
                .unwrap();
            assert_eq!(listed[0], best, "{name}: {row:?}");
        }
        // --top: fewer, or all ten when more are asked for.
        let j: Value =
            serde_json::from_str(&ok(&predict(&net, &w, &files[1..2], &["--format", "json", "--top", "2"]))).unwrap();
        assert_eq!(j[0]["top"].as_array().unwrap().len(), 2);
        let j: Value =
            serde_json::from_str(&ok(&predict(&net, &w, &files[1..2], &["--format", "json", "--top", "50"]))).unwrap();
        let all: f64 = j[0]["top"].as_array().unwrap().iter().map(|t| t["prob"].as_f64().unwrap()).sum();
        assert_eq!(j[0]["top"].as_array().unwrap().len(), 10);
        assert!((all - 1.0).abs() < 1e-5, "{name}: the ten probabilities sum to {all}");
    }
}

#[test]
fn text_output_and_class_names() {
    let d = TempDir::new("text");
    let net = Net::new("nets/lenet-keras.net", 2);
    let w = d.path("w.safetensors");
    net.save(&w, Some(&NAMES));
    let (files, _) = three_files(&d, &net);
    let o = predict(&net, &w, &files[..2], &["--top", "2"]);
    let out = ok(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5 * 3, "{out}");
    assert!(lines[0].ends_with("a.npy[0]") && lines[12].ends_with("b.npy"), "{out}");
    let json: Value =
        serde_json::from_str(&ok(&predict(&net, &w, &files[..2], &["--top", "2", "--format", "json"]))).unwrap();
    let t = &json[0]["top"][0];
    let expect = format!(
        "  {:>7.2}%  {} {}",
        100.0 * t["prob"].as_f64().unwrap(),
        t["index"],
        NAMES[t["index"].as_u64().unwrap() as usize]
    );
    assert_eq!(lines[1], expect);
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));

    // Without names: indices, and a note saying so.
    let bare = d.path("bare.safetensors");
    net.save(&bare, None);
    let o = predict(&net, &bare, &files[1..2], &["--format", "json"]);
    let j: Value = serde_json::from_str(&ok(&o)).unwrap();
    let first = &j[0]["top"][0];
    assert_eq!(first["class"].as_str().unwrap(), first["index"].to_string());
    assert!(
        text(&o.stderr).contains("stores no class names (`netc.classes`); classes are shown by index"),
        "{}",
        text(&o.stderr)
    );
}

/// The error lines of a run, and its exit code.
fn failure(o: &Output) -> (Option<i32>, String) {
    (o.status.code(), text(&o.stderr))
}

#[test]
fn bad_inputs_are_named_and_the_good_ones_still_predicted() {
    let d = TempDir::new("bad");
    let net = Net::new("nets/lenet-keras.net", 4);
    let w = d.path("w.safetensors");
    net.save(&w, Some(&NAMES));
    let (files, _) = three_files(&d, &net);
    let (c, h, w_) = net.input;
    let wrong_shape = d.path("shape.npy");
    npy::write_f32(&wrong_shape, &[2, c, h + 4, w_ + 4], &vec![0.0; 2 * 32 * 32]).unwrap();
    let ints = d.path("ints.npy");
    let mut bytes = std::fs::read(&files[1]).unwrap();
    let at = bytes.windows(3).position(|x| x == b"<f4").unwrap();
    bytes[at..at + 3].copy_from_slice(b"<i4");
    std::fs::write(&ints, &bytes).unwrap();
    let truncated = d.path("cut.npy");
    let full = std::fs::read(&files[0]).unwrap();
    std::fs::write(&truncated, &full[..full.len() - 10]).unwrap();
    let nan = d.path("nan.npy");
    let mut values = inputs(3 * net.sample_len(), 9);
    values[2 * net.sample_len() + 17] = f32::NAN;
    npy::write_f32(&nan, &[3, c, h, w_], &values).unwrap();
    let image = d.path("digit.png");
    std::fs::write(&image, b"\x89PNG\r\n\x1a\n not really").unwrap();
    let missing = d.path("missing.npy");
    let empty = d.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let cases: [(&Path, &str); 7] = [
        (&missing, "cannot read"),
        (&wrong_shape, "its shape is (2, 1, 32, 32), but the net takes 1×28×28 inputs"),
        (&ints, "'<i4', int32; netc reads float16, float32 and float64"),
        (&truncated, "truncated"),
        (&nan, "sample 2 (counting from 0) holds NaN or infinity"),
        (&image, "does not say how images were preprocessed"),
        (&empty, "a folder without image files"),
    ];
    for (bad, says) in cases {
        // Alone: a clear message and exit 2.
        let (code, err) = failure(&predict(&net, &w, &[bad.to_path_buf()], &[]));
        assert_eq!(code, Some(2), "{}: {err}", bad.display());
        assert!(err.contains(&bad.display().to_string()) && err.contains(says), "{}: {err}", bad.display());
        assert!(!err.contains("panicked"), "{err}");
        // Between good inputs: they are predicted, the bad one is named, the exit is 2.
        let out = d.path("out.npy");
        let _ = std::fs::remove_file(&out);
        let list = vec![files[0].clone(), bad.to_path_buf(), files[2].clone()];
        let o = predict(&net, &w, &list, &["--format", "json", "--output", s(&out)]);
        let (code, err) = failure(&o);
        assert_eq!(code, Some(2), "{}: {err}", bad.display());
        assert!(err.contains(says) && err.contains("1 of 3 inputs could not be predicted"), "{err}");
        let j: Value = serde_json::from_str(&text(&o.stdout)).unwrap();
        let files_seen: Vec<&str> = j.as_array().unwrap().iter().map(|e| e["file"].as_str().unwrap()).collect();
        assert_eq!(files_seen.len(), 6, "{}: {files_seen:?}", bad.display());
        assert!(files_seen.iter().all(|f| f.ends_with("a.npy") || f.ends_with("c.npy")), "{files_seen:?}");
        assert_eq!(npy::read(&out).unwrap().shape, vec![6, 10]);
        assert!(err.contains("holds the outputs of the 6 samples that were predicted"), "{err}");
    }
}

#[test]
fn options_weights_and_output_targets_are_checked() {
    let d = TempDir::new("opts");
    let net = Net::new("nets/lenet-keras.net", 4);
    let w = d.path("w.safetensors");
    net.save(&w, Some(&NAMES));
    let (files, _) = three_files(&d, &net);
    let one = &files[1..2];
    let usage = |extra: &[&str], says: &str| {
        let (code, err) = failure(&predict(&net, &w, one, extra));
        assert_eq!(code, Some(2), "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
    };
    usage(&["--top", "0"], "--top must be at least 1");
    usage(&["--batch", "0"], "--batch must be at least 1");
    usage(&["--threads", "0"], "--threads must be at least 1");
    // --output may not replace an input, the weights, or a file that is not .npy.
    usage(&["--output", s(&files[1])], "it is one of the inputs");
    usage(&["--output", s(&w)], "it is the --weights file");
    let notes = d.path("notes.txt");
    std::fs::write(&notes, "keep me").unwrap();
    usage(&["--output", s(&notes)], "netc overwrites only .npy files");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "keep me");
    usage(&["--output", s(&d.path("no/such/dir/out.npy"))], "cannot create files in");
    // Weights of another net are refused as by `run --weights`.
    let other = Net::new("nets/lenet-classic.net", 4);
    let ow = d.path("other.safetensors");
    other.save(&ow, None);
    let (code, err) = failure(&predict(&net, &ow, one, &[]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("was it saved from another net?"), "{err}");
    let (code, err) = failure(&predict(&net, Path::new("/dev/zero"), one, &[]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    // Too little memory: refused before allocating, with the largest batch that fits.
    let (code, err) = failure(&predict(&net, &w, one, &["--memory-limit", "64K"]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("does not fit in memory: inference at batch"), "{err}");
    // Weights that make the output overflow: exit 1, naming the input.
    let mut huge = Net::new("nets/lenet-classic.net", 4);
    let last = huge.store.infos.iter().rposition(|i| i.dims.len() == 2).unwrap();
    huge.store.values[last].iter_mut().for_each(|x| *x = 3e38);
    let hw = d.path("huge.safetensors");
    huge.save(&hw, None);
    let hin = d.path("h.npy");
    npy::write_f32(&hin, &[1, 1, 32, 32], &inputs(32 * 32, 3)).unwrap();
    let (code, err) = failure(&predict(&huge, &hw, &[hin], &[]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("h.npy: the net's output is not finite (NaN or infinity) for sample 0"), "{err}");
    // A net that does not score classes.
    let conv = d.path("map.net");
    std::fs::write(&conv, "input 1x28x28\nconv(4, 3)\n").unwrap();
    let o = netc(&["predict", s(&conv), "--weights", s(&w), s(&files[1])]);
    let (code, err) = failure(&o);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not a vector") && err.contains("netc predict needs one score per class"), "{err}");
}

#[test]
fn many_inputs_do_not_hold_many_files_open() {
    // 300 one-sample files under a limit of 64 open descriptors: each file is open only
    // while it is read.
    let d = TempDir::new("many");
    let net = Net::new("nets/lenet-keras.net", 6);
    let w = d.path("w.safetensors");
    net.save(&w, Some(&NAMES));
    let files: Vec<PathBuf> = (0..300)
        .map(|i| {
            let p = d.path(&format!("x{i:03}.npy"));
            npy::write_f32(&p, &[1, 28, 28], &inputs(28 * 28, i)).unwrap();
            p
        })
        .collect();
    let out = d.path("out.npy");
    let mut args = vec!["-c", "ulimit -n 64 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_netc"), "predict", net.name];
    args.extend(["--weights", s(&w), "--output", s(&out), "--batch", "16"]);
    args.extend(files.iter().map(|p| s(p)));
    let o = Command::new("bash")
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NETC_TUNE", "off")
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(npy::read(&out).unwrap().shape, vec![300, 10]);
}
