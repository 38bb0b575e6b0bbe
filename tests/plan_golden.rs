//! Golden plans: for every zoo net, `netc check NET --dump plan` (the kernel chosen for
//! each launch, what was fused into it, where each buffer lives in the arena) must equal
//! `tests/golden/plans/NET.plan`. A change in kernel selection, fusion or memory
//! planning then shows up as a diff of these files in review. When the change is
//! intended, bless the new plans and commit them with it:
//!
//! ```text
//! NETC_BLESS=1 cargo test --release --test plan_golden
//! ```
//!
//! The plans depend only on the net and the compiler (kernel choices come from a model,
//! not from the machine), so they are the same on every x86-64 machine.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn golden_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/plans"))
}

fn bless() -> bool {
    std::env::var_os("NETC_BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// `netc check NET --dump plan`, as the user would run it.
fn dump_plan(net: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["check", "--dump", "plan"])
        .arg(net)
        .output()
        .expect("netc runs");
    assert!(out.status.success(), "{}: {}", net.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 plan")
}

/// The first lines where `want` and `got` differ, with line numbers, for the failure message.
fn first_differences(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut shown = Vec::new();
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i).copied().unwrap_or("<end>"), g.get(i).copied().unwrap_or("<end>"));
        if a != b {
            shown.push(format!("line {}:\n  golden: {a}\n  now:    {b}", i + 1));
            if shown.len() == 5 {
                break;
            }
        }
    }
    format!("{} of {} lines differ; first:\n{}", diff_count(&w, &g), w.len().max(g.len()), shown.join("\n"))
}

fn diff_count(w: &[&str], g: &[&str]) -> usize {
    (0..w.len().max(g.len())).filter(|&i| w.get(i) != g.get(i)).count()
}

#[test]
fn every_zoo_plan_matches_its_golden_file() {
    let mut failures = Vec::new();
    let nets = common::zoo();
    assert!(nets.len() >= 18, "the zoo has {} nets", nets.len());
    for net in &nets {
        let name = net.file_stem().expect("a file name").to_string_lossy().into_owned();
        let path = golden_dir().join(format!("{name}.plan"));
        let got = dump_plan(net);
        if bless() {
            std::fs::write(&path, &got).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!("{name}: {}", first_differences(&want, &got))),
            Err(e) => failures.push(format!("{name}: no golden plan ({}: {e})", path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "plans changed (if intended: NETC_BLESS=1 cargo test --release --test plan_golden, and commit the files):\n\n{}",
        failures.join("\n\n")
    );
}

/// The golden files cover exactly the zoo: a net removed or renamed leaves no stale plan.
#[test]
fn no_golden_plan_without_its_net() {
    let nets: Vec<String> =
        common::zoo().iter().map(|p| p.file_stem().expect("a name").to_string_lossy().into_owned()).collect();
    for entry in std::fs::read_dir(golden_dir()).expect("tests/golden/plans exists") {
        let path = entry.expect("readable entry").path();
        let stem = path.file_stem().expect("a name").to_string_lossy().into_owned();
        assert!(nets.contains(&stem), "{} has no net in nets/; delete it", path.display());
    }
}
