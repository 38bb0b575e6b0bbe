//! Running `netc` to completion and reading what it printed, for tests that need no
//! timeout (see [`super::run`] for those that could hang).

use std::path::Path;
use std::process::Output;

/// Runs `netc args` from the repository root without `NETC_DATA`, stdin closed.
pub fn netc(args: &[&str]) -> Output {
    super::netc(args).output().expect("netc runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

pub fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

/// Asserts a zero exit; returns stdout.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", stdout(o), stderr(o));
    stdout(o)
}

/// Asserts the exit code and that nothing panicked; returns stderr.
#[track_caller]
pub fn exits(o: &Output, code: i32) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stdout:\n{}\nstderr:\n{err}", stdout(o));
    assert!(!err.contains("panicked") && !err.contains("crashed"), "{err}");
    err
}

/// Asserts a failure with `code` whose stderr contains every one of `needles`; returns stderr.
#[track_caller]
pub fn fails(o: &Output, code: i32, needles: &[&str]) -> String {
    let err = exits(o, code);
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
    err
}

/// A path as an argument (the tests' temp paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}
