//! The acceptance runs, in full: `netc run NET --train mnist` with every default (10
//! epochs, JIT engine) must reach at least 99.0% test accuracy for LeNet-5 and the Keras
//! LeNet. Needs the real MNIST files (`NETC_DATA`, which `.ci/run` sets).

mod common;

use std::process::Command;

fn final_accuracy(net: &str) -> Option<f64> {
    let Some(data) = std::env::var_os("NETC_DATA") else {
        eprintln!("skipping: NETC_DATA not set (CI sets it to ../shared/data)");
        return None;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["run", net, "--train", "mnist", "--quiet"])
        .env("NETC_DATA", data)
        .env("NETC_VERIFY", "1")
        // Every default, autotuning included, into a table of this test's own.
        .env("NETC_TUNE", "on")
        .env("XDG_CACHE_HOME", common::temp_dir("mnist", "tune"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("netc runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{stdout}");
    let line = stdout.lines().find(|l| l.starts_with("final test accuracy")).expect("a final line");
    let pct = line.trim_start_matches("final test accuracy ").split('%').next().unwrap();
    Some(pct.parse().unwrap())
}

#[test]
fn lenet5_reaches_99_percent_with_the_defaults() {
    if common::fast_tier("a full MNIST training run") {
        return;
    }
    if let Some(acc) = final_accuracy("nets/lenet.net") {
        assert!(acc >= 99.0, "LeNet-5 reached {acc}%");
    }
}

#[test]
fn keras_lenet_reaches_99_percent_with_the_defaults() {
    if common::fast_tier("a full MNIST training run") {
        return;
    }
    if let Some(acc) = final_accuracy("nets/lenet-keras.net") {
        assert!(acc >= 99.0, "the Keras LeNet reached {acc}%");
    }
}
