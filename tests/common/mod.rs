//! Helpers shared by the integration tests.
#![allow(dead_code)]

use netc::diag::{Diagnostic, SourceMap};
use netc::driver;
use netc::infer::Report;
use std::path::PathBuf;

/// Every `.net` file of the zoo, sorted by name.
pub fn zoo() -> Vec<PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/nets");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("nets/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "net"))
        .collect();
    files.sort();
    files
}

/// Reads `nets/<name>.net`.
pub fn zoo_source(name: &str) -> String {
    std::fs::read_to_string(format!("{}/nets/{name}.net", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("nets/{name}.net: {e}"))
}

/// Checks a zoo net and returns its full report, panicking with the rendered diagnostics on failure.
pub fn report(name: &str) -> Report {
    netc::ir::enable_checks();
    let text = zoo_source(name);
    let mut sources = SourceMap::new();
    let file = format!("nets/{name}.net");
    let checked = driver::check(&mut sources, &file, &text, None);
    if !checked.diagnostics.is_empty() {
        panic!("{}", netc::diag::render_all(&checked.diagnostics, &sources, netc::diag::Style::Plain));
    }
    checked.report.expect("a report for a valid net")
}

/// Checks `text` and returns its diagnostics (empty if the net is valid) and the source map.
pub fn diagnose(text: &str) -> (Vec<Diagnostic>, SourceMap) {
    netc::ir::enable_checks();
    let mut sources = SourceMap::new();
    let checked = driver::check(&mut sources, "test.net", text, None);
    (checked.diagnostics, sources)
}

/// The fast test tier (`NETC_FAST=1`, for local iteration; CI runs everything): true if
/// the calling test should skip its expensive part, which it names on stderr.
#[allow(dead_code)]
pub fn fast_tier(what: &str) -> bool {
    let fast = std::env::var_os("NETC_FAST").is_some_and(|v| !v.is_empty() && v != "0");
    if fast {
        eprintln!("NETC_FAST: skipped {what}");
    }
    fast
}

/// Runs the netc binary in the crate's folder, with `NETC_DATA` unset (tests that need
/// data say where it is) and the engine's self-checks on (`NETC_VERIFY=1`).
pub fn netc_output(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NETC_DATA")
        .env("NETC_VERIFY", "1")
        // Tuned kernels differ in rounding from run to run; the tune tests ask for them.
        .env("NETC_TUNE", "off")
        .output()
        .expect("netc runs")
}

/// A fresh folder under the system's temp dir, unique to this process and `tag`:
/// emptied the first time this process asks for it, since a folder of the same name
/// may be left by an earlier process with the same (reused) PID, and files such as
/// `--log`'s are appended to; later calls in this process return it as it is.
pub fn temp_dir(prefix: &str, tag: &str) -> PathBuf {
    static MADE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let d = std::env::temp_dir().join(format!("netc-{prefix}-{tag}-{}", std::process::id()));
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if !made.contains(&d) {
        let _ = std::fs::remove_dir_all(&d);
        made.push(d.clone());
    }
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Trains lenet-keras on 400 synthetic images (13 batches of 32 per epoch); `extra`
/// arguments are appended.
pub fn train_synthetic(extra: &[&str]) -> std::process::Output {
    let mut args =
        vec!["run", "nets/lenet-keras.net", "--train", "synthetic", "--limit", "400", "--batch", "32", "--quiet"];
    args.extend_from_slice(extra);
    netc_output(&args)
}

/// A checkpoint's tensors (name → little-endian bytes) and metadata.
pub type Checkpoint = (std::collections::BTreeMap<String, Vec<u8>>, std::collections::BTreeMap<String, String>);

/// Reads the tensors and metadata of the checkpoint at `p`.
pub fn checkpoint_contents(p: &std::path::Path) -> Checkpoint {
    let bytes = std::fs::read(p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors = st.tensors().into_iter().map(|(n, v)| (n, v.data().to_vec())).collect();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    (tensors, meta.metadata().clone().unwrap_or_default().into_iter().collect())
}

/// The stdout of a run that must have succeeded (else both streams in the failure).
pub fn expect_success(o: &std::process::Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// A path as a string argument.
pub fn path_arg(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}
