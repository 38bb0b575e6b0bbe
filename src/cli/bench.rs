//! `netc bench NET [--train] [--batch N] [--threads N] [--format json] [--profile]`:
//! JIT compile time, images per second, achieved GFLOP/s and its share of this
//! machine's f32x4 FMA ceiling, measured on the spot. Data is synthetic.

use super::resources::{check, Budget, Demand};
use super::{diag_style, err, out, read_source, shown, Format, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::autodiff::Program;
use crate::codegen::ceiling::fma_ceiling;
use crate::codegen::jit::Jit;
use crate::data::Rng;
use crate::diag::{render_all, SourceMap};
use crate::driver;
use crate::infer;
use crate::infer::text::{fit, pad, Align, MAX_CELL_CHARS};
use crate::runtime::memory::footprint::{self, Bytes};
use crate::runtime::memory::AllocError;
use crate::runtime::update::Step;
use crate::runtime::{Engine, JitEngine, JitOptions, ParamStore};
use crate::sched::cost::{is_conv, step_macs};
use crate::train::{self, OptimizerKind};
use std::time::{Duration, Instant};

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
}

#[derive(serde::Serialize)]
struct BenchJson {
    net: String,
    mode: &'static str,
    batch: usize,
    threads: usize,
    compile_seconds: f64,
    kernels_compiled: usize,
    kernels_reused: usize,
    median_seconds: f64,
    iterations: usize,
    images_per_sec: f64,
    gflops: f64,
    ceiling_gflops: f64,
    ceiling_gflops_one_thread: f64,
    percent_of_ceiling: f64,
    conv_gflops: Option<f64>,
    conv_percent_of_ceiling: Option<f64>,
    arena_bytes: usize,
    memory: PlannedMemory,
    profile: Vec<ProfileRow>,
}

/// Arena bytes the planner gives each program at this batch size, and without sharing.
#[derive(serde::Serialize)]
struct PlannedMemory {
    training_bytes: Option<usize>,
    training_unshared_bytes: Option<usize>,
    inference_bytes: usize,
    inference_unshared_bytes: usize,
    /// Of `inference_bytes`, the weights with batch norm folded in (they persist).
    inference_folded_weight_bytes: usize,
}

fn planned_memory(g: &crate::ir::Graph, n: usize) -> PlannedMemory {
    let opts = crate::sched::Options::default();
    let train = crate::autodiff::training(g).ok().map(|p| crate::sched::plan(&p, n, opts));
    let eval = crate::sched::plan(&crate::autodiff::fold_batch_norm(&crate::autodiff::inference(g)), n, opts);
    PlannedMemory {
        training_bytes: train.as_ref().map(|p| p.arena_bytes()),
        training_unshared_bytes: train.as_ref().map(|p| p.unshared_len * 4),
        inference_bytes: eval.arena_bytes(),
        inference_unshared_bytes: eval.unshared_len * 4,
        inference_folded_weight_bytes: eval.derived_len * 4,
    }
}

#[derive(serde::Serialize, Clone)]
struct ProfileRow {
    layer: String,
    kernels: String,
    seconds: f64,
    percent: f64,
    gflops: Option<f64>,
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
    let g = driver::compile(&mut sources, &net, &text)
        .map_err(|f| (EXIT_INVALID, render_all(&f.diagnostics, &sources, diag_style())))?;
    let report = infer::analyze(&g, &driver::net_name(&net), &net, None, true)
        .map_err(|d| (EXIT_INVALID, render_all(&[d], &sources, diag_style())))?;
    let opts = JitOptions { threads: args.threads, ..JitOptions::default() };
    let mut engine = if args.train {
        JitEngine::new(&g, opts).map_err(|e| (EXIT_INVALID, format!("error: {net}: {e}")))?
    } else {
        JitEngine::inference(&g, opts)
    };
    let program = if args.train { engine.training_program().clone() } else { engine.inference_program().clone() };
    check_memory(args, &program, budget.as_ref())?;
    let no_memory = |e: AllocError| (EXIT_INVALID, format!("error: {}: {e}", args.net.display()));
    let mut store = ParamStore::try_new(&program.params, args.train).map_err(no_memory)?;
    train::initialise(&mut store, &g, 1);
    engine.try_prepare(args.train, args.batch).map_err(no_memory)?;
    let compile_seconds = engine.compile_time.as_secs_f64();

    let n = args.batch;
    let mut rng = Rng::new(9);
    let input_len = program.buffer(program.input).len(n);
    let mut images: Vec<f32> = Vec::new();
    images.try_reserve_exact(input_len).map_err(|_| no_memory(AllocError { bytes: input_len as u128 * 4 }))?;
    images.extend((0..input_len).map(|_| rng.uniform(-1.0, 1.0)));
    let labels: Vec<f32> = (0..n).map(|_| rng.below(program.classes.max(1) as u64) as f32).collect();
    let mut optimizer = train::Optimizer::try_new(OptimizerKind::Momentum, 0.0, &store).map_err(no_memory)?;
    let mut once = |engine: &mut JitEngine, store: &mut ParamStore, step: u64| {
        if args.train {
            engine.train_step(store, &images, &labels, n, step);
            optimizer.t += 1;
            let s = Step { lr: 1e-6, weight_decay: 0.0, t: optimizer.t };
            engine.update(OptimizerKind::Momentum.rule(), s, store, &mut optimizer.m, &mut optimizer.v);
        } else {
            engine.infer(store, &images, n);
        }
    };
    for step in 0..3 {
        once(&mut engine, &mut store, step);
    }
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < 5 || started.elapsed().as_secs_f64() < args.seconds {
        let t = Instant::now();
        once(&mut engine, &mut store, times.len() as u64);
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2].as_secs_f64();
    let flops_per_image =
        2.0 * (report.total.macs as f64 + if args.train { report.total.backward_macs as f64 } else { 0.0 });
    let gflops = flops_per_image * n as f64 / median / 1e9;
    let jit = Jit::native().map_err(|e| (EXIT_USAGE, format!("error: cannot start the JIT: {e}")))?;
    let (one, many) =
        fma_ceiling(&jit, args.threads).map_err(|e| (EXIT_USAGE, format!("error: cannot measure the ceiling: {e}")))?;
    let ceiling = if args.threads == 1 { one } else { many };
    let (profile, conv_gflops) =
        if args.profile { profile(&mut engine, &g, args.train, n, &mut once, &mut store) } else { (Vec::new(), None) };
    let plan = if args.train { engine.train_plan(n) } else { engine.eval_plan(n) }.expect("prepared");
    let result = BenchJson {
        net,
        mode: if args.train { "train" } else { "inference" },
        batch: n,
        threads: args.threads,
        compile_seconds,
        kernels_compiled: engine.compiled_kernels,
        kernels_reused: engine.cached_kernels,
        median_seconds: median,
        iterations: times.len(),
        images_per_sec: n as f64 / median,
        gflops,
        ceiling_gflops: ceiling,
        ceiling_gflops_one_thread: one,
        percent_of_ceiling: 100.0 * gflops / ceiling,
        conv_gflops,
        conv_percent_of_ceiling: conv_gflops.map(|c| 100.0 * c / ceiling),
        arena_bytes: plan.arena_bytes(),
        memory: planned_memory(&g, n),
        profile,
    };
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

/// Times each planned step over a few runs and groups the time by layer.
fn profile(
    engine: &mut JitEngine,
    g: &crate::ir::Graph,
    training: bool,
    n: usize,
    once: &mut dyn FnMut(&mut JitEngine, &mut ParamStore, u64),
    store: &mut ParamStore,
) -> (Vec<ProfileRow>, Option<f64>) {
    engine.profile(training, n, true);
    let runs = 10;
    for step in 0..runs {
        once(engine, store, step);
    }
    let (plan, times, names) = engine.profile(training, n, false).expect("prepared");
    let mut rows: Vec<ProfileRow> = Vec::new();
    let total: Duration = times.iter().sum();
    let (mut conv_macs, mut conv_time) = (0u128, Duration::ZERO);
    for (i, s) in plan.steps.iter().enumerate() {
        let layer = g.path(s.node);
        let macs = step_macs(s) * runs as u128;
        if is_conv(&s.spec.kernel) {
            conv_macs += macs;
            conv_time += times[i];
        }
        match rows.iter_mut().find(|r| r.layer == layer) {
            Some(r) => {
                r.seconds += times[i].as_secs_f64();
                r.kernels.push_str(&format!(", {}", names[i]));
                r.gflops = Some(r.gflops.unwrap_or(0.0) + macs as f64);
            }
            None => rows.push(ProfileRow {
                layer,
                kernels: names[i].clone(),
                seconds: times[i].as_secs_f64(),
                percent: 0.0,
                gflops: Some(macs as f64),
            }),
        }
    }
    for r in &mut rows {
        r.percent = 100.0 * r.seconds / total.as_secs_f64().max(1e-12);
        r.gflops = r.gflops.filter(|m| *m > 0.0).map(|m| 2.0 * m / r.seconds.max(1e-12) / 1e9);
        r.seconds /= runs as f64;
    }
    rows.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    let conv = (conv_macs > 0).then(|| 2.0 * conv_macs as f64 / conv_time.as_secs_f64().max(1e-12) / 1e9);
    (rows, conv)
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

fn render_text(r: &BenchJson) -> String {
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
    if let (Some(c), Some(p)) = (r.conv_gflops, r.conv_percent_of_ceiling) {
        s.push_str(&format!("  conv layers {c:.1} GFLOP/s = {p:.1}% of the ceiling\n"));
    }
    if !r.profile.is_empty() {
        let layers: Vec<String> = r.profile.iter().map(|p| fit(&p.layer, MAX_CELL_CHARS)).collect();
        let w = layers.iter().map(|l| l.chars().count()).max().unwrap_or(5).max(5);
        s.push_str(&format!(
            "\n  {}  {:>9}  {:>6}  {:>8}  kernels\n",
            pad("layer", w, Align::Left),
            "ms",
            "%",
            "GFLOP/s"
        ));
        for (p, layer) in r.profile.iter().zip(&layers) {
            let gf = p.gflops.map_or(String::new(), |g| format!("{g:.1}"));
            s.push_str(&format!(
                "  {}  {:>9.4}  {:>6.1}  {:>8}  {}\n",
                pad(layer, w, Align::Left),
                1e3 * p.seconds,
                p.percent,
                gf,
                p.kernels
            ));
        }
    }
    s
}
