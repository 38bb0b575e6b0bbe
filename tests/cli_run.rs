//! `netc run` end to end on the synthetic dataset (no files needed): logs, checkpoints,
//! evaluation, determinism, exact resumption, divergence and bad inputs.

mod common;

use common::{checkpoint_contents as contents, expect_success as ok, path_arg as s, train_synthetic as train};

use std::path::PathBuf;
use std::process::Output;

fn netc(args: &[&str]) -> Output {
    common::netc_output(args)
}

fn dir(tag: &str) -> PathBuf {
    common::temp_dir("run", tag)
}

fn same_checkpoint(a: &std::path::Path, b: &std::path::Path) -> bool {
    contents(a) == contents(b)
}

#[test]
fn activations_after_a_flatten_train_on_the_default_engine() {
    // Issue 7 §1: the JIT panicked ("output map has dims [8, 4056]") on these nets.
    let d = dir("flatten-act");
    for (k, layers) in [
        "conv(6, 3)\nflatten\nrelu",
        "conv(6, 3) maxpool(2)\nflatten\ntanh",
        "conv(6, 3) subsample(2)\nflatten\nsigmoid",
        "conv(6, 3) bn\nflatten\nscaled_tanh scale(2)",
    ]
    .iter()
    .enumerate()
    {
        let net = d.join(format!("fr{k}.net"));
        std::fs::write(&net, format!("input 1x28x28\n{layers}\ndense(10)\n")).unwrap();
        let out = ok(&netc(&["run", &s(&net), "--train", "synthetic", "--limit", "32", "--epochs", "1", "--quiet"]));
        assert!(out.contains("final test accuracy"), "{layers}: {out}");
    }
}

#[test]
fn log_checkpoint_and_evaluation_agree() {
    let d = dir("log");
    let (log, ckpt) = (d.join("log.jsonl"), d.join("w.safetensors"));
    let out = ok(&train(&["--epochs", "2", "--log", &s(&log), "--save", &s(&ckpt)]));
    assert!(out.contains("epoch  2/2") && out.contains("final test accuracy"), "{out}");
    let mut lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // The run's header line (preprocessing and augmentation), then one line per epoch.
    assert_eq!(lines.len(), 3);
    let header = lines.remove(0);
    assert!(header["run"]["preprocess"].as_str().is_some_and(|p| p.starts_with("preprocessing: ")), "{header}");
    for key in
        ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "images_per_sec", "data_wait_seconds"]
    {
        assert!(lines[1].get(key).is_some_and(|v| v.is_number()), "log lacks {key}: {}", lines[1]);
    }
    assert!(lines[1]["train_loss"].as_f64() < lines[0]["train_loss"].as_f64(), "the loss falls");
    let eval =
        ok(&netc(&["run", "nets/lenet-keras.net", "--weights", &s(&ckpt), "--eval", "synthetic", "--limit", "400"]));
    let acc = 100.0 * lines[1]["test_acc"].as_f64().unwrap();
    assert!(eval.contains(&format!("test accuracy {acc:.2}%")), "eval says {eval}, the log says {acc:.2}%");
}

#[test]
fn same_seed_and_threads_give_identical_weights() {
    let d = dir("det");
    for engine in ["jit", "reference"] {
        let (a, b) = (d.join(format!("{engine}-a")), d.join(format!("{engine}-b")));
        ok(&train(&["--epochs", "1", "--engine", engine, "--save", &s(&a)]));
        ok(&train(&["--epochs", "1", "--engine", engine, "--save", &s(&b)]));
        assert!(same_checkpoint(&a, &b), "{engine}: two runs differ");
    }
    let other = d.join("seed2");
    ok(&train(&["--epochs", "1", "--seed", "2", "--save", &s(&other)]));
    assert!(!same_checkpoint(&d.join("jit-a"), &other), "another seed, other weights");
}

#[test]
fn resuming_continues_exactly() {
    let d = dir("resume");
    let (straight, first, resumed) = (d.join("straight"), d.join("first"), d.join("resumed"));
    // A constant rate, so that the 1-epoch run is the first half of the 2-epoch one (a cosine
    // schedule spans --epochs, so an interrupted run resumes exactly with the same --epochs).
    let common = ["--optimizer", "adam", "--schedule", "constant"];
    ok(&train(&[&["--epochs", "2", "--save", &s(&straight)], &common[..]].concat()));
    ok(&train(&[&["--epochs", "1", "--save", &s(&first)], &common[..]].concat()));
    std::fs::copy(&first, &resumed).unwrap();
    let out = ok(&train(&[&["--epochs", "2", "--resume", &s(&resumed), "--save", &s(&resumed)], &common[..]].concat()));
    assert!(out.contains("epoch  2/2") && !out.contains("epoch  1/2"), "{out}");
    let (a, b) = (contents(&straight), contents(&resumed));
    assert_eq!(a.1, b.1, "metadata");
    for (name, data) in &a.0 {
        assert!(b.0.get(name) == Some(data), "{name}: 1 + 1 epochs differ from 2 epochs");
    }
    let wrong = train(&["--epochs", "2", "--optimizer", "sgd", "--resume", &s(&first)]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("saved with --optimizer adam"));
}

#[test]
fn divergence_stops_with_the_step_and_keeps_the_checkpoint() {
    let d = dir("nan");
    let ckpt = d.join("w.safetensors");
    ok(&train(&["--epochs", "1", "--optimizer", "sgd", "--save", &s(&ckpt)]));
    let before = std::fs::read(&ckpt).unwrap();
    // Plain SGD at an absurd rate: the weights overflow within a step or two.
    let o = train(&["--epochs", "3", "--resume", &s(&ckpt), "--save", &s(&ckpt), "--optimizer", "sgd", "--lr", "1e38"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the loss became") && err.contains("at step") && err.contains("hint: lower the learning rate"),
        "{err}"
    );
    assert_eq!(std::fs::read(&ckpt).unwrap(), before, "the last good checkpoint must survive");
}

#[test]
fn bad_weights_files_are_refused_clearly() {
    let d = dir("bad");
    let keras = d.join("keras.safetensors");
    ok(&train(&["--epochs", "1", "--save", &s(&keras)]));
    let wrong_net =
        netc(&["run", "nets/lenet-classic.net", "--weights", &s(&keras), "--eval", "synthetic", "--limit", "100"]);
    assert_eq!(wrong_net.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong_net.stderr).contains("was it saved from another net?"));
    let bytes = std::fs::read(&keras).unwrap();
    let cut = d.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let truncated =
        netc(&["run", "nets/lenet-keras.net", "--weights", &s(&cut), "--eval", "synthetic", "--limit", "100"]);
    assert_eq!(truncated.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&truncated.stderr).contains("not a valid safetensors file"));
    let missing = netc(&["run", "nets/lenet-keras.net", "--weights", "/no/such/file", "--eval", "synthetic"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn missing_data_and_unfit_nets_are_explained() {
    let o = netc(&["run", "nets/lenet.net", "--train", "mnist", "--data", "/no/such/dir"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("train-images-idx3-ubyte") && err.contains("/no/such/dir"), "{err}");
    // Gray digits go into AlexNet's 3×227×227 input (replicated and resized), so what stops
    // it is its 1000-class head.
    let o = netc(&["run", "nets/alexnet.net", "--train", "synthetic", "--limit", "10"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("scores 1000 classes, but synthetic has 10"), "{err}");
    let o = netc(&["run", "nets/lenet.net"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_net_scoring_another_number_of_classes_names_the_layer_and_its_line() {
    // Fewer scores than classes, and more (a head left at another size): both stop with
    // the line to edit, before anything is compiled or trained.
    let d = dir("classes");
    for (out, note) in
        [(5, "labels 5 to 9 could never be predicted"), (12, "scores 10 to 11 would belong to no class of synthetic")]
    {
        let net = d.join(format!("head{out}.net"));
        std::fs::write(&net, format!("input 1x28x28\nconv(4, 3) relu\nflatten\nfc: dense({out})\n")).unwrap();
        let o = netc(&["run", &s(&net), "--train", "synthetic", "--limit", "50", "--epochs", "1", "--quiet"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        for want in [
            format!("error[E0301]: the output layer `fc: dense({out})` scores {out} classes, but synthetic has 10"),
            format!("{}:4:5", s(&net)),
            note.to_string(),
            "hint: change it to `dense(10)`".to_string(),
        ] {
            assert!(err.contains(&want), "missing {want:?} in:\n{err}");
        }
        assert!(o.stdout.is_empty(), "nothing trained: {}", String::from_utf8_lossy(&o.stdout));
    }
    std::fs::remove_dir_all(&d).ok();
}
