//! A binary output (one unit, then `sigmoid`) end to end through the command line, and
//! `--label-smoothing` (issue 10 §2).
//!
//! The two-class data is built at test time: the synthetic bars at 0° ("flat", label 0)
//! and 90° ("upright", label 1), written as a PNG image folder with train/ and test/.
//! Oracles: chance is 50%, so ≥ 90% test accuracy shows that the net learns; the reference
//! engine for the JIT's training losses; `netc run --eval` for `predict` (the same predicted
//! class for every test file, so the same accuracy); the probabilities of a line summing to
//! 1 with the predicted name on the side above 0.5. MNIST's zeros against ones too, when
//! `$NETC_DATA` has MNIST. For label smoothing: with the weights
//! held still, the logged training loss is affine in ε (the formula's
//! (1 − ε)·CE(label) + ε·mean_k CE(k)) while the test loss does not move.

mod cli_support;

use cli_support::output::*;
use cli_support::TempDir;
use image::{DynamicImage, ImageBuffer, ImageFormat};
use netc::data::{synthetic, Dataset, SyntheticConfig};
use serde_json::Value;
use std::path::Path;

/// A small net with a binary output.
const NET: &str = "# two classes: one logit, then sigmoid
input 1x28x28
conv(4, 5) relu maxpool(2)
flatten
dense(1) sigmoid
";

/// The synthetic classes kept, with the folder names they get (sorted: labels 0, 1).
const KEPT: [(u16, &str); 2] = [(0, "flat"), (5, "upright")];

/// Writes the images of `ds` whose class is kept (at most `max` of each) as
/// `root/split/<name>/<index>.png`.
fn write_split(root: &Path, split: &str, ds: &Dataset, kept: &[(u16, &str)], max: usize) -> usize {
    let mut written = 0;
    for &(label, name) in kept {
        let dir = root.join(split).join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for i in (0..ds.count()).filter(|&i| ds.labels[i] == label).take(max) {
            let img = ds.image(i);
            let buf = ImageBuffer::from_raw(img.w as u32, img.h as u32, img.pixels.to_vec()).unwrap();
            DynamicImage::ImageLuma8(buf).save_with_format(dir.join(format!("{i:04}.png")), ImageFormat::Png).unwrap();
            written += 1;
        }
    }
    written
}

/// Bars at 0° and 90°: about 200 training and 80 test images.
fn two_class_folder(d: &TempDir) -> std::path::PathBuf {
    let splits = synthetic::generate(&SyntheticConfig { seed: 5, train: 1000, test: 400 }).unwrap();
    let root = d.join("bars");
    assert!(write_split(&root, "train", &splits.train, &KEPT, usize::MAX) >= 180);
    assert!(write_split(&root, "test", &splits.test, &KEPT, usize::MAX) >= 70);
    root
}

fn log_lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The test accuracy of `netc run --eval`'s first line, in %.
fn eval_accuracy(out: &str) -> f64 {
    let at = out.find("test accuracy ").expect("an accuracy line") + "test accuracy ".len();
    out[at..].split('%').next().unwrap().parse().unwrap()
}

#[test]
fn a_sigmoid_net_learns_two_classes_and_predict_agrees_with_eval() {
    let d = TempDir::new("binary");
    let data = two_class_folder(&d);
    let net = d.write("binary.net", NET);
    let (w, log) = (d.path("w.safetensors"), d.path("log.jsonl"));
    let train = ["run", s(&net), "--train", s(&data), "--batch", "16", "--quiet", "--augment", "none"];
    ok(&netc(&[&train[..], &["--epochs", "3", "--save", s(&w), "--log", s(&log)]].concat()));
    let epochs = log_lines(&log);
    let last = &epochs[3];
    println!("bars at 0° against 90°: test accuracy {} after 3 epochs", last["test_acc"]);
    assert!(last["test_acc"].as_f64().unwrap() >= 0.9, "chance is 0.5: {last}");
    assert!(last["train_loss"].as_f64().unwrap() < epochs[1]["train_loss"].as_f64().unwrap(), "{epochs:?}");
    // The reference engine trains the same way (one epoch; f32 sums in another order).
    let logs = [d.path("jit.jsonl"), d.path("ref.jsonl")];
    for (engine, log) in ["jit", "reference"].iter().zip(&logs) {
        ok(&netc(&[&train[..], &["--epochs", "1", "--engine", engine, "--log", s(log)]].concat()));
    }
    let (a, b) = (&log_lines(&logs[0])[1], &log_lines(&logs[1])[1]);
    for key in ["train_loss", "test_loss"] {
        let (x, y) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
        assert!((x - y).abs() <= 1e-4 * y.abs(), "{key}: jit {x} reference {y}");
    }
    // --eval: the confusion matrix is 2×2 under the folder's class names.
    let eval = ok(&netc(&["run", s(&net), "--eval", s(&data), "--weights", s(&w)]));
    let accuracy = eval_accuracy(&eval);
    assert!((accuracy / 100.0 - last["test_acc"].as_f64().unwrap()).abs() < 1e-9, "{eval}");
    assert!(eval.contains("0 flat") && eval.contains("1 upright"), "{eval}");
    // predict on every test image: the same accuracy as --eval, file by file.
    let npy = d.path("out.npy");
    let test = data.join("test");
    let o = netc(&["predict", s(&net), "--weights", s(&w), "--format", "json", "--output", s(&npy), s(&test)]);
    let entries: Vec<Value> = serde_json::from_str::<Value>(&ok(&o)).unwrap().as_array().unwrap().clone();
    let raw = netc::data::npy::read(&npy).unwrap();
    assert_eq!(raw.shape, vec![entries.len(), 1], "--output holds one probability per image");
    let mut correct = 0;
    for (e, &p) in entries.iter().zip(&raw.data) {
        let file = e["file"].as_str().unwrap();
        let truth = if file.contains("/upright/") { 1 } else { 0 };
        let top = &e["top"][0];
        let positive = e["positive"]["prob"].as_f64().unwrap();
        assert_eq!(e["positive"]["class"], "upright");
        assert_eq!(positive as f32, p, "{file}: JSON and --output");
        assert_eq!(top["index"].as_u64().unwrap(), u64::from(positive > 0.5), "{file}: threshold 0.5");
        let sum = e["top"][0]["prob"].as_f64().unwrap() + e["top"][1]["prob"].as_f64().unwrap();
        assert!((sum - 1.0).abs() < 1e-6, "{file}: {sum}");
        correct += usize::from(top["index"].as_u64().unwrap() == truth);
    }
    let predicted = 100.0 * correct as f64 / entries.len() as f64;
    assert!((predicted - accuracy).abs() < 0.006, "predict {predicted}% vs --eval {accuracy}%");
    // The text form: one line per image, both names with their probabilities, then the class.
    let upright = std::fs::read_dir(test.join("upright")).unwrap().next().unwrap().unwrap().path();
    let out = ok(&netc(&["predict", s(&net), "--weights", s(&w), s(&upright)]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let words: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!((words[0], words[2], words[3], words[5]), ("flat", "/", "upright", "->"), "{out}");
    let (p0, p1): (f64, f64) = (words[1].parse().unwrap(), words[4].parse().unwrap());
    assert!((p0 + p1 - 1.0).abs() <= 1e-4, "{out}");
    assert_eq!(words[6], if p1 > 0.5 { "upright" } else { "flat" }, "{out}");
}

/// MNIST's zeros and ones (from `$NETC_DATA`; skipped without it): 500 of each to train on,
/// the test set's 2,115 to test on. Three epochs of the sigmoid net separate them almost
/// perfectly (chance: 54% ones).
#[test]
fn a_sigmoid_net_separates_mnist_zeros_from_ones() {
    let Some(env) = std::env::var_os("NETC_DATA").filter(|v| !v.is_empty()) else {
        eprintln!("skipping: NETC_DATA not set");
        return;
    };
    let roots = netc::data::SearchRoots { cwd: std::env::temp_dir(), netc_data: Some(env.into()) };
    let mnist = netc::data::load("mnist", None, &roots, &netc::data::LoadOptions::default()).expect("MNIST");
    let d = TempDir::new("binary-mnist");
    let root = d.join("zero-one");
    let kept = [(0, "0"), (1, "1")];
    assert_eq!(write_split(&root, "train", &mnist.train, &kept, 500), 1000);
    assert_eq!(write_split(&root, "test", &mnist.test, &kept, usize::MAX), 980 + 1135);
    let net = d.write("binary.net", NET);
    let log = d.path("log.jsonl");
    ok(&netc(&["run", s(&net), "--train", s(&root), "--epochs", "3", "--batch", "32", "--quiet", "--log", s(&log)]));
    let acc = log_lines(&log)[3]["test_acc"].as_f64().unwrap();
    println!("MNIST zeros against ones: test accuracy {acc}");
    assert!(acc >= 0.99, "zeros against ones: {acc}");
}

#[test]
fn bad_binary_and_smoothing_inputs_are_refused() {
    let d = TempDir::new("binary-bad");
    let net = d.write("binary.net", NET);
    // A binary output on ten classes: the class-count diagnostic, no training.
    let ten = netc(&["run", s(&net), "--train", "synthetic", "--limit", "50", "--epochs", "1", "--quiet"]);
    fails(&ten, 1, &["binary output (2 classes), but synthetic has 10", "two-class data"]);
    // One unit without sigmoid on two classes: not a binary output, and not a classifier.
    let data = two_class_folder(&d);
    let plain = d.write("plain.net", NET.replace("dense(1) sigmoid", "dense(1)"));
    let o = netc(&["run", s(&plain), "--train", s(&data), "--epochs", "1", "--quiet"]);
    fails(&o, 1, &["scores 1 classes, but"]);
    for bad in ["1", "-0.1", "1.5", "nan", "inf", "x"] {
        let o = netc(&["run", "nets/lenet-keras.net", "--train", "synthetic", &format!("--label-smoothing={bad}")]);
        fails(&o, 2, &["--label-smoothing", "expected a label smoothing ε from 0 to below 1"]);
    }
    let o = netc(&["run", "nets/lenet-keras.net", "--eval", "synthetic", "--weights", "w", "--label-smoothing", "0.1"]);
    fails(&o, 2, &["--label-smoothing is for training"]);
}

#[test]
fn the_logged_training_loss_is_smoothed_and_the_test_loss_is_not() {
    let d = TempDir::new("smoothing");
    // SGD at 1e-30 leaves every weight as initialised: each run sees the same scores.
    let mut losses = Vec::new();
    for eps in ["0", "0.25", "0.5"] {
        let log = d.path(&format!("{eps}.jsonl"));
        let base = ["run", "nets/lenet-keras.net", "--train", "synthetic", "--limit", "400", "--batch", "32"];
        let rest = ["--quiet", "--epochs", "1", "--optimizer", "sgd", "--lr", "1e-30", "--augment", "none"];
        let out = ok(&netc(&[&base[..], &rest[..], &["--label-smoothing", eps, "--log", s(&log)]].concat()));
        if eps != "0" {
            assert!(out.lines().next().unwrap().contains(&format!("label smoothing {eps}")), "{out}");
        }
        let lines = log_lines(&log);
        assert_eq!(lines[0]["run"]["label_smoothing"].as_f64().unwrap(), eps.parse::<f64>().unwrap());
        losses.push((lines[1]["train_loss"].as_f64().unwrap(), lines[1]["test_loss"].as_f64().unwrap()));
    }
    let [(l0, t0), (l1, t1), (l2, t2)] = losses[..] else { unreachable!() };
    assert!((l1 - (l0 + l2) / 2.0).abs() < 1e-9 * l1, "affine in ε: {l0} {l1} {l2}");
    assert!((l1 - l0).abs() > 1e-3, "smoothing changes the training loss: {l0} {l1}");
    assert_eq!((t0, t1), (t2, t2), "the test loss is plain cross-entropy");
}
