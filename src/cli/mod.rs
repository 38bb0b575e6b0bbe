//! Command-line interface: argument parsing, file I/O and all printing.
//!
//! Exit codes: 0 success, 1 an invalid net (or a failed run), 2 a usage or I/O error.
//!
//! All printing goes through [`out`] and [`err`]: a stderr that cannot be written is
//! ignored (the exit code still tells), and a stdout that cannot be written ends
//! `check`, `dot` and `bench` but only mutes `run` (see [`keep_going_without_stdout`]).
//! Paths are `PathBuf`s, so file names need not be UTF-8; messages show them lossily.

mod bench;
mod check;
mod classes;
mod dot;
mod epoch_log;
mod export;
mod predict;
mod resources;
mod run;
mod tune;

use crate::syntax::MAX_SOURCE_BYTES;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

#[derive(Parser)]
#[command(name = "netc", version, about = "A compiler for declarative descriptions of convolutional networks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Shape-check nets and report their layers, parameters, MACs and memory.
    Check(check::CheckArgs),
    /// Print a Graphviz diagram of a net (modules as clusters).
    Dot(dot::DotArgs),
    /// Train a net on a dataset, or evaluate saved weights.
    Run(Box<run::RunArgs>),
    /// Classify inputs with trained weights: the top classes of each, with probabilities.
    Predict(Box<predict::PredictArgs>),
    /// Write a net and its weights as an ONNX model (opset 17, inference form).
    Export(export::ExportArgs),
    /// Measure JIT compile time, images/s and GFLOP/s against the machine's f32x4 ceiling.
    Bench(bench::BenchArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// `--winograd`: Winograd convolutions for 3×3 stride-1 layers (forward, data and
/// weight gradients).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WinogradArg {
    /// Where the cost model predicts a gain, per layer.
    Auto,
    /// Never (the direct kernels, for comparison).
    Off,
    /// Everywhere it applies, with F(2×2,3×3).
    F2,
    /// Everywhere it applies, with F(4×4,3×3).
    F4,
    /// Everywhere it applies, with F(6×6,3×3).
    F6,
}

impl From<WinogradArg> for crate::runtime::WinogradChoice {
    fn from(a: WinogradArg) -> Self {
        use crate::runtime::WinogradChoice as W;
        match a {
            WinogradArg::Auto => W::Auto,
            WinogradArg::Off => W::Off,
            WinogradArg::F2 => W::F2,
            WinogradArg::F4 => W::F4,
            WinogradArg::F6 => W::F6,
        }
    }
}

pub const EXIT_OK: i32 = 0;
pub const EXIT_INVALID: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    // Elaboration recurses with the nesting of the source; give it room whatever the input.
    let worker = std::thread::Builder::new().stack_size(256 << 20).spawn(run);
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => {
            err("error: netc crashed; this is a bug, please report it with the input that caused it\n");
            101
        }
    }
}

fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    match cli.command {
        Command::Check(a) => check::run(a),
        Command::Dot(a) => dot::run(a),
        Command::Run(a) => run::run(*a),
        Command::Bench(a) => bench::run(a),
        Command::Predict(a) => predict::run(*a),
        Command::Export(a) => export::run(a),
    }
}

/// Colours for diagnostics when stderr is a terminal and `NO_COLOR` is unset.
pub fn diag_style() -> crate::diag::Style {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        crate::diag::Style::Color
    } else {
        crate::diag::Style::Plain
    }
}

/// Writes to stderr. A stderr that cannot be written (`2>/dev/full`, a closed pipe) is
/// ignored, unlike `eprint!`, which panics: the exit code still tells what happened.
pub fn err(text: &str) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush());
}

/// What a failed write to stdout does.
static KEEP_GOING_WITHOUT_STDOUT: AtomicBool = AtomicBool::new(false);
/// Set once stdout has failed under [`keep_going_without_stdout`]: 1 closed pipe, 2 other error.
static STDOUT_LOST: AtomicU8 = AtomicU8::new(0);

/// From now on a stdout that cannot be written is muted with one note on stderr instead
/// of ending the program: `netc run ... | head -1` must not stop training.
pub fn keep_going_without_stdout() {
    KEEP_GOING_WITHOUT_STDOUT.store(true, Ordering::Relaxed);
}

/// Whether stdout failed with an error other than a closed pipe (a full disk, say)
/// while muted by [`keep_going_without_stdout`]: output was lost, which the exit code says.
pub fn stdout_failed() -> bool {
    STDOUT_LOST.load(Ordering::Relaxed) == 2
}

/// Writes to stdout. By default a closed pipe (`netc check ... | head`) ends the
/// program quietly instead of panicking as `print!` would, and other errors end it
/// with exit code 2; see [`keep_going_without_stdout`] for `run`.
pub fn out(text: &str) {
    use std::io::Write;
    if STDOUT_LOST.load(Ordering::Relaxed) != 0 {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        let closed = e.kind() == std::io::ErrorKind::BrokenPipe;
        if KEEP_GOING_WITHOUT_STDOUT.load(Ordering::Relaxed) {
            STDOUT_LOST.store(if closed { 1 } else { 2 }, Ordering::Relaxed);
            err(&if closed {
                "note: standard output was closed; netc goes on without printing (checkpoints are still saved)\n"
                    .to_string()
            } else {
                format!("warning: cannot write to standard output: {e}; netc goes on without printing\n")
            });
            return;
        }
        if closed {
            std::process::exit(EXIT_OK);
        }
        err(&format!("error: cannot write the output: {e}\n"));
        std::process::exit(EXIT_USAGE);
    }
}

/// A path for messages: lossy where it is not UTF-8.
pub fn shown(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Reads a source file, or says why it cannot (the message has no `error:` prefix).
/// Reads at most [`MAX_SOURCE_BYTES`] + 1 bytes, from a regular file or a pipe.
pub fn read_source(path: &Path) -> Result<String, String> {
    use crate::files::{open_input, read_capped, Kind, Pipes};
    use crate::infer::text::grouped;
    let name = shown(path);
    let cap = MAX_SOURCE_BYTES as u64;
    let too_large = |size: &str| {
        format!("`{name}` is {size}larger than the {} bytes netc accepts in a source", grouped(cap.into()))
    };
    let opened = open_input(path, Pipes::Allowed).map_err(|e| format!("cannot read `{name}`: {e}"))?;
    if let Some(len) = opened.len.filter(|&l| l > cap) {
        return Err(too_large(&format!("{} bytes, ", grouped(len.into()))));
    }
    let bytes = read_capped(&opened.file, cap).map_err(|e| format!("cannot read `{name}`: {e}"))?;
    if bytes.len() as u64 > cap {
        return Err(too_large(""));
    }
    if bytes.is_empty() && opened.kind == Kind::Pipe {
        return Err(format!("cannot read `{name}`: it is a named pipe and nothing wrote to it"));
    }
    String::from_utf8(bytes)
        .map_err(|e| format!("`{name}` is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
}
