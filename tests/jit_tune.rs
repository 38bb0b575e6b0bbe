//! The autotuner (`codegen::tune`): every kernel it may pick computes what the
//! reference kernel does, its table is written, reused and survives corruption, and
//! `netc bench` reports what it did.

mod common;
#[allow(dead_code)]
mod kernel_variants_support;

use std::collections::HashSet;

use netc::codegen::kernels::conv::compile_conv_with;
use netc::codegen::kernels::KernelOptions;
use netc::codegen::tune::Choice;
use netc::codegen::Jit;
use netc::runtime::jit::{TuneMode, TuneReport};
use netc::runtime::{JitEngine, JitOptions};
use netc::sched::StepSpec;

/// Every tunable family: 3×3 stride-1 convolutions big enough for Winograd, a
/// stride-2 one, 1×1 shortcuts, batch norm epilogues, a dense layer.
const NET: &str = "input 3x16x16
default conv(bias = false)
block basic(w, stride = 1) {
  main = conv(w, 3, stride, pad = 1) bn relu -> conv(w, 3, pad = 1) bn
  short = if stride != 1 or in.c != w { conv(w, 1, stride) bn }
  (main + short) relu
}
conv(16, 3, pad = 1) bn relu
basic(16) basic(24, 2)
gap flatten dense(10)
";

fn graph() -> netc::ir::Graph {
    let mut sources = netc::diag::SourceMap::new();
    netc::driver::compile(&mut sources, "t.net", NET).unwrap_or_else(|f| panic!("{:?}", f.diagnostics))
}

fn engine(tune: TuneMode, dir: &std::path::Path) -> JitEngine {
    let opts = JitOptions { tune, tune_dir: Some(dir.to_path_buf()), ..JitOptions::default() };
    JitEngine::new(&graph(), opts).unwrap()
}

/// The distinct convolution and dense steps of the training plan at batch `n`.
fn tunable_specs(n: usize) -> Vec<StepSpec> {
    let mut e = JitEngine::new(&graph(), JitOptions::default()).unwrap();
    let (plan, _) = e.describe_plan(true, n);
    let mut seen = HashSet::new();
    let conv = |s: &StepSpec| ["conv", "dense"].iter().any(|k| s.kernel.name().starts_with(k));
    plan.steps.into_iter().map(|s| s.spec).filter(|s| conv(s) && seen.insert(format!("{s:?}"))).collect()
}

/// Each stage's candidates, as the tuner derives them from the model's choice.
fn candidates(spec: &StepSpec) -> Vec<Choice> {
    let mut all = vec![Choice::default()];
    for stage in 0..Choice::STAGES {
        all.extend(Choice::stage(stage, &Choice::default(), &spec.kernel, true, true));
    }
    all
}

#[test]
fn every_candidate_the_tuner_may_pick_matches_the_reference() {
    let jit = Jit::native().expect("a JIT for this machine");
    let base = KernelOptions::default().conv_options();
    let (mut checked, mut kinds) = (HashSet::new(), HashSet::new());
    let mut failures = Vec::new();
    for spec in tunable_specs(4) {
        for c in candidates(&spec) {
            let Ok(k) = compile_conv_with(&jit, &spec, &c.apply(&base)) else { continue };
            if !checked.insert(format!("{spec:?}{}", k.describe())) {
                continue;
            }
            let d = k.describe();
            kinds.extend(["winograd", " fma", "direct-w", "packed-w", "dot"].into_iter().filter(|w| d.contains(w)));
            // Winograd's error, relative to the largest output, stays under ~3e-6 (see
            // tests/jit_winograd.rs); direct sums in another order, under ~1e-6.
            let o = kernel_variants_support::check(&spec, k.as_ref(), 11, 1e-4);
            if !o.errors.is_empty() {
                failures.push(format!("{d} ({}): {:?}", c.to_text(), o.errors));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked.len() >= 40, "only {} kernels checked", checked.len());
    let fma = Jit::native().unwrap().features().has_fma;
    for want in ["winograd", "direct-w", "packed-w", "dot"].into_iter().chain(fma.then_some(" fma")) {
        assert!(kinds.contains(want), "no `{want}` kernel among the candidates: {kinds:?}");
    }
}

fn report(e: &JitEngine) -> TuneReport {
    e.tuning().expect("tuning is on")
}

#[test]
fn the_table_is_written_reused_and_bad_lines_are_skipped() {
    let dir = common::temp_dir("tune", "table");
    let mut first = engine(TuneMode::On, &dir);
    first.try_prepare(true, 4).unwrap();
    let r = report(&first);
    let file = r.file.clone().expect("a table file");
    assert!(r.stats.measured >= 10, "{r:?}");
    assert_eq!(r.stats.from_table, 0);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), r.stats.measured, "{text}");
    let (_, kernels_first) = first.describe_plan(true, 4);

    // A second engine measures nothing and compiles the same kernels.
    let mut second = engine(TuneMode::On, &dir);
    second.try_prepare(true, 4).unwrap();
    let r2 = report(&second);
    assert_eq!((r2.stats.measured, r2.stats.from_table), (0, r.stats.measured), "{r2:?}");
    assert_eq!(second.describe_plan(true, 4).1, kernels_first);

    // Garbage, a broken line and a lost entry: the bad lines are skipped with a
    // warning, and only the lost entry is measured again.
    let mut lines: Vec<&str> = text.lines().collect();
    let lost = lines.pop().unwrap();
    let broken = &lost[..10];
    let mut damaged = lines.join("\n");
    damaged += &format!("\nnot a table line\n{broken}\n0123\tw=f9 t=- p=- fma=0\t1.0\tx\n\u{0}\u{1}\n");
    std::fs::write(&file, damaged).unwrap();
    let mut third = engine(TuneMode::On, &dir);
    third.try_prepare(true, 4).unwrap();
    let r3 = report(&third);
    assert_eq!(r3.stats.measured, 1, "{r3:?}");
    assert!(r3.warnings.iter().any(|w| w.contains("skipped 4 malformed")), "{:?}", r3.warnings);

    // `cached` measures nothing even where the table has no entry.
    std::fs::write(&file, "").unwrap();
    let mut cached = engine(TuneMode::Cached, &dir);
    cached.try_prepare(true, 4).unwrap();
    assert_eq!(report(&cached).stats.measured, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unwritable_table_costs_the_results_not_the_run() {
    let dir = common::temp_dir("tune", "unwritable");
    // A regular file where the directory should be.
    let not_a_dir = dir.join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let mut e = engine(TuneMode::On, &not_a_dir);
    e.try_prepare(false, 2).unwrap();
    let r = report(&e);
    assert!(r.stats.measured > 0);
    assert!(r.warnings.iter().any(|w| w.contains("cannot write the autotune table")), "{:?}", r.warnings);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_reports_the_tuning_and_reuses_its_table() {
    let dir = common::temp_dir("tune", "bench");
    let d = dir.to_str().unwrap();
    let args = |tune: &'static str| {
        let mut a = vec!["bench", "nets/lenet.net", "--batch", "8", "--seconds", "0", "--format", "json"];
        a.extend(["--tune", tune, "--tune-cache", d]);
        a
    };
    let json = |o: &std::process::Output| -> serde_json::Value {
        serde_json::from_str(&common::expect_success(o)).expect("json")
    };
    let fresh = json(&common::netc_output(&args("fresh")));
    let measured = fresh["tuning"]["measured"].as_u64().unwrap();
    assert!(measured >= 3, "{fresh}");
    let again = json(&common::netc_output(&args("on")));
    assert_eq!(again["tuning"]["measured"], 0, "{again}");
    assert_eq!(again["tuning"]["from_table"].as_u64(), Some(measured), "{again}");
    let off = json(&common::netc_output(&args("off")));
    assert!(off["tuning"].is_null(), "{off}");
    let text = common::expect_success(&common::netc_output(&[
        "bench",
        "nets/lenet.net",
        "--batch",
        "8",
        "--seconds",
        "0",
        "--tune-cache",
        d,
        "--tune",
        "on",
    ]));
    assert!(text.contains("autotune    0 shapes measured"), "{text}");
    let bad = common::netc_output(&["bench", "nets/lenet.net", "--tune", "sometimes"]);
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
