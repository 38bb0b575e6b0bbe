//! `netc run` with the optimisers, schedules and clipping of issue 10 §3: exact
//! resumption with RMSprop and Nesterov, the learning rate and gradient norms in the
//! log, absurd options refused, and a short MNIST run that learns.

mod common;

use common::{checkpoint_contents as contents, expect_success as ok, path_arg as s, train_synthetic as train};

use std::path::{Path, PathBuf};
use std::process::Command;

fn dir(tag: &str) -> PathBuf {
    common::temp_dir("optim", tag)
}

fn log_lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn rmsprop_and_nesterov_resume_bit_for_bit_with_warmup_decay_and_clipping() {
    let d = dir("resume");
    // The warm-up ends inside the first epoch; the decay is on the global step, so a
    // 1-epoch run is the first half of the 2-epoch one.
    let recipes: [&[&str]; 2] = [
        &["--optimizer", "rmsprop", "--momentum", "0.9", "--rms-eps", "1", "--lr", "0.01", "--weight-decay", "1e-4"],
        &["--optimizer", "nesterov", "--lr", "0.01", "--weight-decay", "1e-4"],
    ];
    for recipe in recipes {
        let name = recipe[1];
        let common = [recipe, &["--schedule", "exp:0.7/5it", "--warmup", "6it", "--clip-norm", "0.5"]].concat();
        let (straight, first, resumed) =
            (d.join(format!("{name}-straight")), d.join(format!("{name}-first")), d.join(format!("{name}-resumed")));
        let (log_a, log_b) = (d.join(format!("{name}-a.jsonl")), d.join(format!("{name}-b.jsonl")));
        ok(&train(&[&["--epochs", "2", "--save", &s(&straight), "--log", &s(&log_a)], &common[..]].concat()));
        ok(&train(&[&["--epochs", "1", "--save", &s(&first)], &common[..]].concat()));
        std::fs::copy(&first, &resumed).unwrap();
        let out = ok(&train(
            &[&["--epochs", "2", "--resume", &s(&resumed), "--save", &s(&resumed), "--log", &s(&log_b)], &common[..]]
                .concat(),
        ));
        assert!(out.contains("epoch  2/2") && !out.contains("epoch  1/2"), "{out}");
        let (a, b) = (contents(&straight), contents(&resumed));
        assert_eq!(a.1, b.1, "{name}: metadata");
        assert_eq!(a.1["netc.optimizer"], name);
        let moments: Vec<&String> = a.0.keys().filter(|k| k.starts_with("optimizer.")).collect();
        let want_v = name == "rmsprop";
        assert!(moments.iter().any(|k| k.starts_with("optimizer.m.")), "{name}: {moments:?}");
        assert_eq!(moments.iter().any(|k| k.starts_with("optimizer.v.")), want_v, "{name}: {moments:?}");
        assert_eq!(a.0.keys().collect::<Vec<_>>(), b.0.keys().collect::<Vec<_>>(), "{name}: tensors");
        for (tensor, data) in &a.0 {
            assert!(b.0.get(tensor) == Some(data), "{name}: {tensor}: 1 + 1 epochs differ from 2 epochs");
        }
        // The second epoch's log line is the same too, rates and norms included.
        let (la, lb) = (log_lines(&log_a), log_lines(&log_b));
        for key in ["train_loss", "test_acc", "lr", "lr_first", "lr_mean", "grad_norm_mean", "grad_norm_max"] {
            assert_eq!(la[2][key], lb[1][key], "{name}: {key} of epoch 2");
        }
    }
    // Another optimizer cannot take the state over.
    let wrong = train(&["--epochs", "2", "--optimizer", "momentum", "--resume", &s(&d.join("rmsprop-first"))]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("saved with --optimizer rmsprop"));
}

#[test]
fn the_log_holds_the_rates_of_warmup_and_decay_and_the_gradient_norms() {
    let d = dir("log");
    let log = d.join("log.jsonl");
    // 13 updates per epoch; linear warm-up over 13 from 0 to 0.01, then ×0.5 every epoch.
    let out = ok(&train(&[
        "--epochs",
        "3",
        "--optimizer",
        "rmsprop",
        "--lr",
        "0.01",
        "--warmup",
        "1",
        "--schedule",
        "exp:0.5/1",
        "--clip-norm",
        "0.001",
        "--log",
        &s(&log),
    ]));
    assert!(out.contains("rmsprop lr 0.01 exp:0.5/1ep schedule"), "{out}");
    assert!(out.contains("linear warm-up 1ep from 0,") && out.contains("clipped to norm 0.001"), "{out}");
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 4);
    let run = &lines[0]["run"];
    assert_eq!(run["optimizer"]["name"], "rmsprop");
    assert_eq!(run["warmup"]["steps"], 13);
    assert_eq!(run["clip_norm"], 0.001);
    let f = |l: &serde_json::Value, k: &str| l[k].as_f64().unwrap_or_else(|| panic!("no {k} in {l}"));
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-12;
    // Epoch 1 is the warm-up: 0, 0.01/13, …, 12·0.01/13; mean 6·0.01/13.
    assert_eq!(f(&lines[1], "lr_first"), 0.0);
    assert!(near(f(&lines[1], "lr"), 0.12 / 13.0), "{}", lines[1]);
    assert!(near(f(&lines[1], "lr_mean"), 0.06 / 13.0), "{}", lines[1]);
    // Epoch 2 (steps 13–25): ×0.5; epoch 3: ×0.25.
    for (l, want) in [(&lines[2], 0.005), (&lines[3], 0.0025)] {
        for k in ["lr", "lr_first", "lr_mean"] {
            assert!(near(f(l, k), want), "{k}: {l}");
        }
    }
    // The threshold is far below any real gradient norm: every update is clipped.
    for l in &lines[1..] {
        assert!(f(l, "grad_norm_max") >= f(l, "grad_norm_mean") && f(l, "grad_norm_mean") > 0.001, "{l}");
        assert_eq!(f(l, "clipped_fraction"), 1.0);
    }
    // Without clipping, no norm fields; the rate fields are always there.
    let plain = d.join("plain.jsonl");
    ok(&train(&["--epochs", "1", "--log", &s(&plain)]));
    let l = &log_lines(&plain)[1];
    assert!(l.get("grad_norm_mean").is_none() && l.get("clipped_fraction").is_none(), "{l}");
    assert!(l["lr_first"].is_number() && l["lr_mean"].is_number(), "{l}");
}

#[test]
fn clipping_changes_the_run_only_when_the_norm_exceeds_the_threshold() {
    let d = dir("clip");
    let [plain, high, low] = ["plain", "high", "low"].map(|n| d.join(n));
    let base = ["--epochs", "1", "--optimizer", "nesterov", "--lr", "0.01"];
    ok(&train(&[&base[..], &["--save", &s(&plain)]].concat()));
    ok(&train(&[&base[..], &["--save", &s(&high), "--clip-norm", "1e30"]].concat()));
    ok(&train(&[&base[..], &["--save", &s(&low), "--clip-norm", "1e-3"]].concat()));
    assert_eq!(contents(&plain).0, contents(&high).0, "a threshold never reached changes nothing");
    assert_ne!(contents(&plain).0, contents(&low).0, "clipping every update changes the weights");
}

#[test]
fn absurd_options_are_refused_with_a_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["--optimizer", "rmsprop", "--rms-decay=-0.1"], "--rms-decay"),
        (&["--optimizer", "rmsprop", "--rms-decay", "1"], "--rms-decay"),
        (&["--optimizer", "rmsprop", "--rms-decay", "nan"], "--rms-decay"),
        (&["--optimizer", "rmsprop", "--rms-eps", "0"], "--rms-eps"),
        (&["--optimizer", "rmsprop", "--rms-eps=-1"], "--rms-eps"),
        (&["--optimizer", "rmsprop", "--rms-eps", "1e-50"], "--rms-eps"),
        (&["--optimizer", "rmsprop", "--rms-eps", "inf"], "--rms-eps"),
        (&["--optimizer", "nesterov", "--momentum", "1.5"], "--momentum"),
        (&["--optimizer", "nesterov", "--momentum", "NaN"], "--momentum"),
        (&["--optimizer", "sgd", "--momentum", "0.9"], "--momentum is for"),
        (&["--optimizer", "adam", "--rms-eps", "1"], "--rms-eps is for --optimizer rmsprop"),
        (&["--schedule", "exp:0/2"], "must be a number > 0"),
        (&["--schedule", "exp:-0.5/2"], "must be a number > 0"),
        (&["--schedule", "exp:nan/2"], "must be a number > 0"),
        (&["--schedule", "exp:0.94"], "say the period"),
        (&["--schedule", "exp:0.94/0"], "--schedule"),
        (&["--schedule", "step:48000it,32000it"], "must increase"),
        (&["--schedule", "step:2,1"], "must increase"),
        (&["--schedule", "step:1,2it"], "same unit"),
        (&["--schedule", "linear"], "expected constant, cosine"),
        (&["--warmup", "2"], "must end before the run does"),
        (&["--warmup", "26it"], "must end before the run does"),
        (&["--warmup", "0"], "--warmup"),
        (&["--warmup", "nan"], "--warmup"),
        (&["--warmup-lr", "0.1"], "--warmup"),
        (&["--warmup", "1it", "--warmup-lr=-1"], "--warmup-lr"),
        (&["--clip-norm", "0"], "--clip-norm"),
        (&["--clip-norm=-1"], "--clip-norm"),
        (&["--clip-norm", "nan"], "--clip-norm"),
        (&["--clip-norm", "inf"], "--clip-norm"),
    ];
    // Milestones beyond the run are only warned about.
    let o = train(&["--epochs", "2", "--schedule", "step:32000,48000"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("add `it` for iterations"));
    for (extra, needle) in cases {
        let o = train(&[&["--epochs", "2"], *extra].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: no {needle:?} in {err}");
        assert!(!err.contains("panicked"), "{extra:?}: {err}");
        assert!(!String::from_utf8_lossy(&o.stdout).contains("epoch  1/"), "{extra:?} trained anyway");
    }
}

#[test]
fn rmsprop_with_warmup_decay_and_clipping_learns_mnist() {
    let Some(data) = std::env::var_os("NETC_DATA") else {
        eprintln!("skipping: NETC_DATA not set");
        return;
    };
    if common::fast_tier("a 2-epoch MNIST run") {
        return;
    }
    let o = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["run", "nets/lenet-keras.net", "--train", "mnist", "--limit", "30000", "--epochs", "2", "--quiet"])
        .args(["--optimizer", "rmsprop", "--clip-norm", "2", "--warmup", "1", "--schedule", "exp:0.94/2"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NETC_TUNE", "off")
        .env("NETC_DATA", data)
        .output()
        .expect("netc runs");
    let out = ok(&o);
    eprintln!("{out}");
    let line = out.lines().find(|l| l.starts_with("final test accuracy")).expect("a final line");
    let acc: f64 = line.trim_start_matches("final test accuracy ").split('%').next().unwrap().parse().unwrap();
    assert!(acc >= 97.0, "RMSprop reached {acc}%");
}

#[test]
fn older_optimizers_keep_their_checkpoint_format_and_new_ones_record_their_constants() {
    let d = dir("format");
    let (mom, rms) = (d.join("momentum"), d.join("rmsprop"));
    ok(&train(&["--epochs", "1", "--optimizer", "momentum", "--lr", "0.01", "--save", &s(&mom)]));
    let meta = contents(&mom).1;
    // As before issue 10: no new entries, so files written before and after are alike.
    let optimizer: Vec<&String> = meta.keys().filter(|k| k.starts_with("netc.optimizer")).collect();
    assert_eq!(optimizer, ["netc.optimizer", "netc.optimizer.t"], "{meta:?}");
    ok(&train(&["--epochs", "2", "--optimizer", "momentum", "--lr", "0.01", "--resume", &s(&mom)]));
    let rmsprop = ["--optimizer", "rmsprop", "--rms-decay", "0.8", "--rms-eps", "0.5", "--momentum", "0.25"];
    ok(&train(&[&["--epochs", "1", "--save", &s(&rms)], &rmsprop[..]].concat()));
    let meta = contents(&rms).1;
    for (k, v) in [("rms_decay", "0.8"), ("rms_eps", "0.5"), ("momentum", "0.25")] {
        assert_eq!(meta[&format!("netc.optimizer.{k}")], v, "{meta:?}");
    }
}
