//! `netc bench NET [--train] [--batch N] [--threads N] [--format json] [--profile]`:
//! JIT compile time, images per second, achieved GFLOP/s and its share of this
//! machine's f32x4 FMA ceiling, measured on the spot. Data is synthetic.

use super::resources::{check, Budget, Demand};
use super::{diag_style, err, out, read_source, shown, Format, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::autodiff::Program;
use crate::diag::{render_all, SourceMap};
use crate::driver;
use crate::driver::bench::{Bench, BenchError, BenchOptions, PlannedMemory};
use crate::infer::text::{fit, pad, Align, MAX_CELL_CHARS};
use crate::runtime::memory::footprint::{self, Bytes};
use crate::runtime::JitOptions;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// The .net file to measure.
    net: std::path::PathBuf,
    /// Measure training steps (forward, backward and a momentum-SGD update) instead of inference.
    #[arg(long)]
    train: bool,
    #[arg(long, default_value_t = 64)]
    batch: usize,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Winograd convolutions for 3×3 stride-1 layers: auto (the cost model's choice per
    /// layer), off, f2, f4 or f6 (forced wherever they apply).
    #[arg(long, value_enum, default_value_t = super::WinogradArg::Auto, value_name = "WHEN")]
    winograd: super::WinogradArg,
    /// Minimum seconds of timed runs.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Add a per-layer time breakdown.
    #[arg(long)]
    profile: bool,
    /// Memory netc may use, e.g. 512M or 8G (default: what the system has available).
    #[arg(long, value_name = "SIZE", value_parser = super::resources::parse_size)]
    memory_limit: Option<u64>,
    #[command(flatten)]
    tune: super::tune::TuneArgs,
}

pub fn run(args: BenchArgs) -> i32 {
    match bench(&args) {
        Ok(()) => EXIT_OK,
        Err((code, msg)) => {
            err(&format!("{msg}\n"));
            code
        }
    }
}

fn bench(args: &BenchArgs) -> Result<(), (i32, String)> {
    if args.batch == 0 {
        return Err((EXIT_USAGE, "error: --batch must be at least 1".into()));
    }
    if !(args.seconds.is_finite() && args.seconds >= 0.0 && args.seconds <= 3600.0) {
        return Err((EXIT_USAGE, format!("error: --seconds must be from 0 to 3600, got {}", args.seconds)));
    }
    if let Some(warning) = super::resources::check_threads(args.threads).map_err(|e| (EXIT_USAGE, e))? {
        err(&format!("{warning}\n"));
    }
    let budget = super::resources::budget(args.memory_limit);
    let text = read_source(&args.net).map_err(|e| (EXIT_USAGE, format!("error: {e}")))?;
    let net = shown(&args.net);
    let mut sources = SourceMap::new();
    let graph = driver::compile(&mut sources, &net, &text)
        .map_err(|f| (EXIT_INVALID, render_all(&f.diagnostics, &sources, diag_style())))?;
    let report = driver::count(&graph, &net).map_err(|d| (EXIT_INVALID, render_all(&[d], &sources, diag_style())))?;
    let jit_opts =
        args.tune.apply(JitOptions { threads: args.threads, winograd: args.winograd.into(), ..JitOptions::default() });
    let jit = driver::EngineChoice::Jit(jit_opts.clone());
    let programs = driver::Programs::build(&graph, &jit);
    let program = if args.train {
        programs.classifier().map_err(|e| (EXIT_INVALID, format!("error: {net}: {e}")))?
    } else {
        &programs.eval
    };
    check_memory(args, program, budget.as_ref())?;
    let opts = BenchOptions {
        train: args.train,
        batch: args.batch,
        jit: jit_opts,
        seconds: args.seconds,
        profile: args.profile,
    };
    let result = driver::bench::measure(net, &graph, &report, programs, &opts).map_err(|e| match e {
        BenchError::Memory(e) => (EXIT_INVALID, format!("error: {}: {e}", args.net.display())),
        BenchError::Machine(why) => (EXIT_USAGE, format!("error: {why}")),
    })?;
    out(&match args.format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&result).expect("bench results serialise")),
        Format::Text => render_text(&result),
    });
    Ok(())
}

/// Refuses a benchmark that cannot fit: the parameter store (with gradients and
/// momentum when training), the arena at the batch size, and the synthetic batch.
fn check_memory(args: &BenchArgs, program: &Program, budget: Option<&Budget>) -> Result<(), (i32, String)> {
    let (params, trainable) = footprint::parameters(&program.params);
    let state = if args.train { trainable } else { 0 };
    let sample = program.buffer(program.input).len(1) as u128;
    let per_batch = |n: usize| footprint::arena(program, n) + Bytes::exact((sample + 1) * 4 * n as u128);
    let demand = Demand {
        what: if args.train { "training" } else { "inference" },
        fixed: vec![("parameters", params), ("gradients", state), ("momentum", state)],
        per_batch_what: "the JIT's arena and the batch",
        per_batch: &per_batch,
    };
    check(&shown(&args.net), &demand, args.batch, budget).map_err(|e| (EXIT_INVALID, e))
}

fn mib(b: usize) -> String {
    format!("{:.2} MiB", b as f64 / (1 << 20) as f64)
}

fn memory_line(m: &PlannedMemory) -> String {
    let folded = if m.inference_folded_weight_bytes > 0 {
        format!(", {} of it folded batch-norm weights", mib(m.inference_folded_weight_bytes))
    } else {
        String::new()
    };
    let eval = format!(
        "inference arena {}{folded} ({} without sharing)",
        mib(m.inference_bytes),
        mib(m.inference_unshared_bytes)
    );
    match (m.training_bytes, m.training_unshared_bytes) {
        (Some(t), Some(u)) => format!("training arena {} ({} without sharing); {eval}", mib(t), mib(u)),
        _ => eval,
    }
}

fn render_text(r: &Bench) -> String {
    let mut s = format!(
        "{} ({}, batch {}, {} thread{})\n  compile     {:.3} s ({} kernels compiled, {} reused)\n  step        {:.3} ms median of {}\n  throughput  {:.0} images/s\n  compute     {:.1} GFLOP/s = {:.1}% of the f32x4 FMA ceiling ({:.1} GFLOP/s; {:.1} on one thread)\n  memory      {}\n",
        r.net,
        r.mode,
        r.batch,
        r.threads,
        if r.threads == 1 { "" } else { "s" },
        r.compile_seconds,
        r.kernels_compiled,
        r.kernels_reused,
        1e3 * r.median_seconds,
        r.iterations,
        r.images_per_sec,
        r.gflops,
        r.percent_of_ceiling,
        r.ceiling_gflops,
        r.ceiling_gflops_one_thread,
        memory_line(&r.memory)
    );
    if let Some(t) = &r.tuning {
        s.push_str(&format!("  autotune    {}\n", t.summary));
        for w in &t.warnings {
            s.push_str(&format!("  warning: {w}\n"));
        }
    }
    if let (Some(c), Some(p)) = (r.conv_gflops, r.conv_percent_of_ceiling) {
        s.push_str(&format!("  conv layers {c:.1} GFLOP/s = {p:.1}% of the ceiling\n"));
    }
    if let Some(gbs) = r.memory_bandwidth_gbs {
        s.push_str(&format!("  bandwidth   {gbs:.1} GB/s memory copy (read + written, 64 MiB)\n"));
    }
    if !r.profile.is_empty() {
        let kinds = r.profile_kinds.iter().map(|k| (k.kind.as_str(), k.seconds, k.percent, k.gflops, ""));
        s.push_str(&profile_table(kinds, "kernel kind"));
        let layers = r.profile.iter().map(|p| (p.layer.as_str(), p.seconds, p.percent, p.gflops, p.kernels.as_str()));
        s.push_str(&profile_table(layers, "layer"));
    }
    s
}

/// One profile table of (name, seconds, percent, GFLOP/s, kernels) rows.
fn profile_table<'a>(rows: impl Iterator<Item = ProfileCells<'a>>, heading: &str) -> String {
    let rows: Vec<_> =
        rows.map(|(name, secs, pct, gf, kernels)| (fit(name, MAX_CELL_CHARS), secs, pct, gf, kernels)).collect();
    let w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(5).max(heading.len());
    let mut s = format!("\n  {}  {:>9}  {:>6}  {:>8}  kernels\n", pad(heading, w, Align::Left), "ms", "%", "GFLOP/s");
    for (name, secs, pct, gf, kernels) in rows {
        let gf = gf.map_or(String::new(), |g| format!("{g:.1}"));
        s.push_str(&format!(
            "  {}  {:>9.4}  {:>6.1}  {:>8}  {}\n",
            pad(&name, w, Align::Left),
            1e3 * secs,
            pct,
            gf,
            kernels
        ));
    }
    s
}

/// A profile row's cells: name, seconds, percent, GFLOP/s, kernels.
type ProfileCells<'a> = (&'a str, f64, f64, Option<f64>, &'a str);
