//! Command-line interface: argument parsing, file I/O and all printing.
//!
//! Exit codes: 0 success, 1 an invalid net (or a failed run), 2 a usage or I/O error.

mod bench;
mod check;
mod dot;
mod resources;
mod run;

use clap::{Parser, Subcommand, ValueEnum};

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
    /// Measure JIT compile time, images/s and GFLOP/s against the machine's f32x4 ceiling.
    Bench(bench::BenchArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
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
            eprintln!("error: netc crashed; this is a bug, please report it with the input that caused it");
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

/// Writes to stdout. A closed pipe (`netc check ... | head`) ends the program
/// quietly instead of panicking as `print!` would.
pub fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_OK);
        }
        eprintln!("error: cannot write the output: {e}");
        std::process::exit(EXIT_USAGE);
    }
}

/// Reads a source file, or explains why it cannot.
pub fn read_source(path: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("error: cannot read `{path}`: {e}"))?;
    String::from_utf8(bytes).map_err(|e| {
        format!("error: `{path}` is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())
    })
}
