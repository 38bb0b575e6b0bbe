//! `netc run` and `netc bench` on nets, batches and thread counts the machine cannot
//! hold: a clear refusal with the numbers and a batch that fits, before anything big is
//! allocated, never an abort. Small `--memory-limit`s keep the tests cheap; where the
//! real memory is exceeded, an address-space limit (`ulimit -v`) proves nothing big was
//! allocated on the way to the refusal.

mod cli_support;

use cli_support::output::*;
use cli_support::TempDir;
use std::path::Path;
use std::process::{Command, Output};

/// netc under an address-space limit of `kib` KiB (`ulimit -v`), so that a big allocation fails.
fn netc_limited(kib: u64, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NETC_DATA")
        .env("NETC_TUNE", "off")
        .output()
        .expect("sh runs")
}

fn net(d: &Path, name: &str, text: &str) -> String {
    let p = d.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// The N of "try --batch N".
fn suggested_batch(err: &str) -> usize {
    let at = err.find("try --batch ").unwrap_or_else(|| panic!("no batch suggested:\n{err}")) + "try --batch ".len();
    err[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

const SMALL: &str = "input 1x28x28\nconv(6, 5) relu\nmaxpool(2)\nflatten\ndense(10)\n";

#[test]
fn a_net_larger_than_the_machine_is_refused_before_allocating() {
    let d = TempDir::new("huge");
    // Each activation alone is 256 GiB per image, the weights 5 GiB.
    let huge = net(&d, "huge.net", "input 1x4096x4096\nrepeat 10 { conv(4096, 3, pad = 1) }\ngap\ndense(10)\n");
    let runs: [&[&str]; 4] = [
        &["bench", &huge, "--batch", "1"],
        &["bench", &huge, "--batch", "1", "--train"],
        &["run", &huge, "--train", "synthetic", "--limit", "10", "--batch", "1", "--quiet"],
        &["run", &huge, "--train", "synthetic", "--limit", "10", "--batch", "1", "--quiet", "--engine", "reference"],
    ];
    for args in runs {
        // Under a 1 GiB address space: any attempt at the real allocations would fail.
        let o = netc_limited(1 << 20, args);
        let err = fails(&o, 1, &["does not fit in memory", "at batch 1 needs", "GiB", "available"]);
        assert!(err.contains("even at batch 1") || err.contains("alone needs"), "{err}");
    }
}

#[test]
fn two_huge_dense_layers_are_refused() {
    let d = TempDir::new("dense");
    let dd = net(&d, "dense.net", "input 1x28x28\nflatten\ndense(100000)\ndense(100000)\ndense(10)\n");
    // 10^10 weights: 37 GiB of parameters, as much again of gradients, twice that of Adam's moments.
    let o = netc(&["bench", &dd, "--batch", "1", "--memory-limit", "8G"]);
    fails(&o, 1, &["37.5 GiB for parameters", "8.00 GiB available (--memory-limit)", "alone needs 37.5 GiB"]);
    let o = netc(&["run", &dd, "--train", "synthetic", "--limit", "10", "--memory-limit", "8G"]);
    fails(&o, 1, &["37.5 GiB for gradients", "75.1 GiB for optimizer moments", "alone needs 150 GiB"]);
}

#[test]
fn a_batch_too_large_is_refused_with_the_largest_that_fits() {
    let d = TempDir::new("batch");
    let small = net(&d, "small.net", SMALL);
    for train in [false, true] {
        let mode: &[&str] = if train { &["--train"] } else { &[] };
        let bench = |batch: &str| {
            let args = [&["bench", &small, "--batch", batch, "--memory-limit", "64M", "--seconds", "0"], mode].concat();
            netc(&args)
        };
        let err = fails(&bench("1000000"), 1, &["does not fit in memory", "at batch 1000000", "64.0 MiB available"]);
        let n = suggested_batch(&err);
        assert!(n > 100 && n < 1000000, "{err}");
        ok(&bench(&n.to_string()));
        fails(&bench(&(n + 1).to_string()), 1, &["does not fit in memory"]);
    }
    // The same for training runs, where the test pass and the last, smaller batch of
    // each split get arenas of their own.
    let run = |batch: &str| {
        netc(&[
            "run",
            &small,
            "--train",
            "synthetic",
            "--limit",
            "3000",
            "--epochs",
            "1",
            "--quiet",
            "--batch",
            batch,
            "--memory-limit",
            "24M",
        ])
    };
    let err = fails(&run("1000000"), 1, &["does not fit in memory", "24.0 MiB available", "for the datasets"]);
    let n = suggested_batch(&err);
    assert!(n > 10 && n < 3000, "{err}");
    ok(&run(&n.to_string()));
    fails(&run(&(n + 1).to_string()), 1, &["does not fit in memory"]);
}

#[test]
fn the_largest_batch_number_is_refused_or_clamped_never_a_crash() {
    let d = TempDir::new("max");
    let small = net(&d, "small.net", SMALL);
    let max = u64::MAX.to_string();
    for mode in [&[][..], &["--train"][..]] {
        let o = netc(&[&["bench", &small, "--batch", &max], mode].concat());
        fails(&o, 1, &["does not fit in memory", "at least", "try --batch"]);
    }
    // A batch beyond the training set is the whole set.
    let o =
        netc(&["run", &small, "--train", "synthetic", "--limit", "100", "--epochs", "1", "--quiet", "--batch", &max]);
    ok(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("batch 100 (the whole training set)"), "{out}");
}

#[test]
fn thread_counts_are_checked_alike_by_run_and_bench() {
    let d = TempDir::new("threads");
    let small = net(&d, "small.net", SMALL);
    let run = |threads: &str| {
        netc(&[
            "run",
            &small,
            "--train",
            "synthetic",
            "--limit",
            "64",
            "--epochs",
            "1",
            "--quiet",
            "--threads",
            threads,
        ])
    };
    let bench = |threads: &str| netc(&["bench", &small, "--batch", "8", "--seconds", "0", "--threads", threads]);
    for o in [run("0"), bench("0")] {
        fails(&o, 2, &["--threads must be at least 1", "cores"]);
    }
    for o in [run("100000"), bench("100000")] {
        fails(&o, 2, &["--threads 100000", "at most"]);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 256 {
        let over = (cores + 1).to_string();
        for o in [run(&over), bench(&over)] {
            ok(&o);
            assert!(stderr(&o).contains("warning: --threads"), "{}", stderr(&o));
        }
    }
}

#[test]
fn memory_limits_must_be_sizes() {
    let d = TempDir::new("sizes");
    let small = net(&d, "small.net", SMALL);
    for bad in ["lots", "0", "-1G", "12Q"] {
        let o = netc(&["bench", &small, &format!("--memory-limit={bad}")]);
        fails(&o, 2, &["--memory-limit", "size"]);
    }
    ok(&netc(&["bench", &small, "--batch", "4", "--seconds", "0", "--memory-limit", "512M"]));
}

#[test]
fn an_allocation_the_system_refuses_is_an_error_not_an_abort() {
    let d = TempDir::new("refused");
    // 2.2 GiB of weights, under a 1 GiB address space; --memory-limit lets it past the check.
    let wide = net(&d, "wide.net", "input 1x28x28\nflatten\ndense(700000)\n");
    let o = netc_limited(1 << 20, &["bench", &wide, "--batch", "1", "--memory-limit", "1T"]);
    fails(&o, 1, &["the system refused", "GiB"]);
    // Without the override, the address-space limit is part of what is available.
    let o = netc_limited(1 << 20, &["bench", &wide, "--batch", "1"]);
    fails(&o, 1, &["does not fit in memory", "ulimit -v"]);
}

#[test]
fn bench_seconds_must_be_a_duration() {
    let d = TempDir::new("seconds");
    let small = net(&d, "small.net", SMALL);
    // `inf` used to time runs forever; NaN and negative numbers were taken silently.
    for bad in ["inf", "nan", "-1", "1e9"] {
        let o = netc(&["bench", &small, "--batch", "4", &format!("--seconds={bad}")]);
        fails(&o, 2, &["--seconds"]);
    }
}
