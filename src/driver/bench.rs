//! The `bench` pipeline after the programs: a JIT engine for one of them, compiled for one
//! batch size, timed on synthetic data, with the machine's f32x4 FMA ceiling measured on
//! the spot and, if asked, the time of each planned step grouped by layer. Produces a
//! [`Bench`]: data, rendered by the command line.

use super::Programs;
use crate::codegen::ceiling::fma_ceiling;
use crate::codegen::jit::Jit;
use crate::data::Rng;
use crate::infer::Report;
use crate::ir::Graph;
use crate::runtime::memory::AllocError;
use crate::runtime::update::Step;
use crate::runtime::{Engine, JitEngine, JitOptions, ParamStore};
use crate::sched::cost::{is_conv, step_macs};
use crate::train::{self, OptimizerKind};
use std::time::{Duration, Instant};

/// What to measure.
pub struct BenchOptions {
    /// Training steps (forward, backward, a momentum-SGD update) instead of inference.
    pub train: bool,
    pub batch: usize,
    /// The engine: threads, Winograd, autotuning.
    pub jit: JitOptions,
    /// Minimum seconds of timed runs (at least 5 runs are timed).
    pub seconds: f64,
    /// Time each planned step too.
    pub profile: bool,
}

/// The autotuner's work during compilation (part of `compile_seconds`).
#[derive(serde::Serialize)]
pub struct Tuning {
    /// Shapes measured, and how many kept another choice than the cost model's.
    pub measured: usize,
    pub changed: usize,
    /// Candidate kernels compiled and timed.
    pub candidates: usize,
    /// Shapes whose choice came from the table.
    pub from_table: usize,
    pub seconds: f64,
    /// The table file, if there is a cache directory.
    pub table: Option<String>,
    pub warnings: Vec<String>,
    /// The one-line summary the text output prints.
    pub summary: String,
}

impl Tuning {
    fn of(r: &crate::runtime::jit::TuneReport) -> Tuning {
        let s = &r.stats;
        Tuning {
            measured: s.measured,
            changed: s.changed,
            candidates: s.candidates,
            from_table: s.from_table,
            seconds: s.time.as_secs_f64(),
            table: r.file.as_ref().map(|f| f.display().to_string()),
            warnings: r.warnings.clone(),
            summary: r.summary(),
        }
    }
}

/// Why a benchmark could not be measured.
#[derive(Debug)]
pub enum BenchError {
    Memory(AllocError),
    /// The JIT or the ceiling's measurement could not start; the message says which.
    Machine(String),
}

/// The measurements of one benchmark.
#[derive(serde::Serialize)]
pub struct Bench {
    pub net: String,
    pub mode: &'static str,
    pub batch: usize,
    pub threads: usize,
    pub compile_seconds: f64,
    pub kernels_compiled: usize,
    pub kernels_reused: usize,
    pub median_seconds: f64,
    pub iterations: usize,
    pub images_per_sec: f64,
    pub gflops: f64,
    pub ceiling_gflops: f64,
    pub ceiling_gflops_one_thread: f64,
    pub percent_of_ceiling: f64,
    pub conv_gflops: Option<f64>,
    pub conv_percent_of_ceiling: Option<f64>,
    pub arena_bytes: usize,
    pub memory: PlannedMemory,
    /// What the autotuner did while compiling (absent with `--tune off`).
    pub tuning: Option<Tuning>,
    pub profile: Vec<ProfileRow>,
    /// The same profile grouped by kernel kind and algorithm, e.g. `conv_bwd_weight dot`.
    pub profile_kinds: Vec<KindRow>,
    /// With the profile: GB/s of a large memory copy on the benchmark's threads.
    pub memory_bandwidth_gbs: Option<f64>,
}

/// Arena bytes the planner gives each program at this batch size, and without sharing.
#[derive(serde::Serialize)]
pub struct PlannedMemory {
    pub training_bytes: Option<usize>,
    pub training_unshared_bytes: Option<usize>,
    pub inference_bytes: usize,
    pub inference_unshared_bytes: usize,
    /// Of `inference_bytes`, the weights with batch norm folded in (they persist).
    pub inference_folded_weight_bytes: usize,
}

/// One kernel kind's share of a profiled step (all its launches together).
#[derive(serde::Serialize, Clone)]
pub struct KindRow {
    pub kind: String,
    pub seconds: f64,
    pub percent: f64,
    pub gflops: Option<f64>,
}

/// One layer's share of a profiled step.
#[derive(serde::Serialize, Clone)]
pub struct ProfileRow {
    pub layer: String,
    pub kernels: String,
    pub seconds: f64,
    pub percent: f64,
    pub gflops: Option<f64>,
}

fn planned_memory(programs: &Programs, n: usize) -> PlannedMemory {
    let opts = crate::sched::Options::default();
    let train = programs.train.as_ref().ok().map(|p| crate::sched::plan(p, n, opts));
    let eval = crate::sched::plan(&programs.eval, n, opts);
    PlannedMemory {
        training_bytes: train.as_ref().map(|p| p.arena_bytes()),
        training_unshared_bytes: train.as_ref().map(|p| p.unshared_len * 4),
        inference_bytes: eval.arena_bytes(),
        inference_unshared_bytes: eval.unshared_len * 4,
        inference_folded_weight_bytes: eval.derived_len * 4,
    }
}

/// Measures `programs` (built for the JIT; with `opts.train` the training program must
/// exist) of the net `net`, whose counts are `report`.
pub fn measure(
    net: String,
    g: &Graph,
    report: &Report,
    programs: Programs,
    opts: &BenchOptions,
) -> Result<Bench, BenchError> {
    let n = opts.batch;
    let memory = planned_memory(&programs, n);
    let jit_opts = opts.jit.clone();
    let threads = jit_opts.threads;
    let mut engine = match programs.train {
        Ok(train) if opts.train => JitEngine::from_programs(train, programs.eval, jit_opts),
        _ => JitEngine::from_programs(programs.eval.clone(), programs.eval, jit_opts),
    };
    let program = if opts.train { engine.training_program() } else { engine.inference_program() };
    let input_len = program.buffer(program.input).len(n);
    let classes = program.classes;
    let mut store = ParamStore::try_new(&program.params, opts.train).map_err(BenchError::Memory)?;
    train::initialise(&mut store, g, 1);
    engine.try_prepare(opts.train, n).map_err(BenchError::Memory)?;
    let compile_seconds = engine.compile_time.as_secs_f64();

    let mut rng = Rng::new(9);
    let mut images: Vec<f32> = Vec::new();
    images.try_reserve_exact(input_len).map_err(|_| BenchError::Memory(AllocError { bytes: input_len as u128 * 4 }))?;
    images.extend((0..input_len).map(|_| rng.uniform(-1.0, 1.0)));
    let labels: Vec<f32> = (0..n).map(|_| rng.below(classes.max(1) as u64) as f32).collect();
    let mut optimizer = train::Optimizer::try_new(OptimizerKind::Momentum, 0.0, &store).map_err(BenchError::Memory)?;
    let mut once = |engine: &mut JitEngine, store: &mut ParamStore, step: u64| {
        if opts.train {
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
    while times.len() < 5 || started.elapsed().as_secs_f64() < opts.seconds {
        let t = Instant::now();
        once(&mut engine, &mut store, times.len() as u64);
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2].as_secs_f64();
    let flops_per_image =
        2.0 * (report.total.macs as f64 + if opts.train { report.total.backward_macs as f64 } else { 0.0 });
    let gflops = flops_per_image * n as f64 / median / 1e9;
    let jit = Jit::native().map_err(|e| BenchError::Machine(format!("cannot start the JIT: {e}")))?;
    let (one, many) =
        fma_ceiling(&jit, threads).map_err(|e| BenchError::Machine(format!("cannot measure the ceiling: {e}")))?;
    let ceiling = if threads == 1 { one } else { many };
    let (profile, profile_kinds, conv_gflops) = if opts.profile {
        profile(&mut engine, g, opts.train, n, &mut once, &mut store)
    } else {
        (Vec::new(), Vec::new(), None)
    };
    let plan = if opts.train { engine.train_plan(n) } else { engine.eval_plan(n) }.expect("prepared");
    Ok(Bench {
        net,
        mode: if opts.train { "train" } else { "inference" },
        batch: n,
        threads,
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
        memory,
        tuning: engine.tuning().map(|r| Tuning::of(&r)),
        profile,
        profile_kinds,
        memory_bandwidth_gbs: if opts.profile { super::bandwidth::copy_bandwidth(threads) } else { None },
    })
}

/// Times each planned step over a few runs and groups the time by layer and by
/// kernel kind (the kernel's name and the first word of its algorithm).
fn profile(
    engine: &mut JitEngine,
    g: &Graph,
    training: bool,
    n: usize,
    once: &mut dyn FnMut(&mut JitEngine, &mut ParamStore, u64),
    store: &mut ParamStore,
) -> (Vec<ProfileRow>, Vec<KindRow>, Option<f64>) {
    engine.profile(training, n, true);
    let runs = 10;
    for step in 0..runs {
        once(engine, store, step);
    }
    let (plan, times, names) = engine.profile(training, n, false).expect("prepared");
    let (mut layers, mut kinds): (Vec<ProfileRow>, Vec<ProfileRow>) = (Vec::new(), Vec::new());
    let total: Duration = times.iter().sum();
    let (mut conv_macs, mut conv_time) = (0u128, Duration::ZERO);
    for (i, s) in plan.steps.iter().enumerate() {
        let macs = step_macs(s) * runs as u128;
        if is_conv(&s.spec.kernel) {
            conv_macs += macs;
            conv_time += times[i];
        }
        let algorithm = names[i].split_once(": ").and_then(|(_, a)| a.split_whitespace().next());
        let kind = format!("{} {}", s.spec.kernel.name(), algorithm.unwrap_or("")).trim_end().to_string();
        add_time(&mut layers, g.path(s.node), &names[i], times[i], macs);
        add_time(&mut kinds, kind, "", times[i], macs);
    }
    for rows in [&mut layers, &mut kinds] {
        for r in rows.iter_mut() {
            r.percent = 100.0 * r.seconds / total.as_secs_f64().max(1e-12);
            r.gflops = r.gflops.filter(|m| *m > 0.0).map(|m| 2.0 * m / r.seconds.max(1e-12) / 1e9);
            r.seconds /= runs as f64;
        }
        rows.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    }
    let conv = (conv_macs > 0).then(|| 2.0 * conv_macs as f64 / conv_time.as_secs_f64().max(1e-12) / 1e9);
    let kinds = kinds
        .into_iter()
        .map(|r| KindRow { kind: r.layer, seconds: r.seconds, percent: r.percent, gflops: r.gflops })
        .collect();
    (layers, kinds, conv)
}

/// Adds a step's time and MACs to the row named `key` (gflops holds MACs until the end;
/// kinds use the same rows, `key` being the kind).
fn add_time(rows: &mut Vec<ProfileRow>, key: String, kernel: &str, time: Duration, macs: u128) {
    match rows.iter_mut().find(|r| r.layer == key) {
        Some(r) => {
            r.seconds += time.as_secs_f64();
            if !kernel.is_empty() {
                r.kernels.push_str(&format!(", {kernel}"));
            }
            r.gflops = Some(r.gflops.unwrap_or(0.0) + macs as f64);
        }
        None => rows.push(ProfileRow {
            layer: key,
            kernels: kernel.to_string(),
            seconds: time.as_secs_f64(),
            percent: 0.0,
            gflops: Some(macs as f64),
        }),
    }
}
