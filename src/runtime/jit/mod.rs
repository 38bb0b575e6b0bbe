//! The JIT engine: programs planned by `sched`, every step compiled to native code by
//! `codegen` (kernels cached by their full specification, so repeated blocks compile
//! once), run on a small thread pool.
//!
//! A plan is compiled per batch size, so the last, smaller batch of an epoch gets its
//! own. Steps the code generator does not cover run the reference kernel behind the
//! same interface ([`fallback`]), which keeps every net runnable while the generated
//! kernels grow.

mod compiled;
pub mod fallback;
mod pool;
pub mod tune_file;

use super::engine::Engine;
use super::memory::AllocError;
use super::update::{Rule, Step};
use super::ParamStore;
use crate::autodiff::{self, NotAClassifier, Program, ScoreKind};
use crate::codegen::jit::Jit;
use crate::codegen::kernels::ops::{compile_optimizer, OptimizerKernel};
use crate::codegen::kernels::{CompiledKernel, KernelOptions, WinogradChoice};
pub use crate::codegen::tune::{TuneMode, TuneStats};
use crate::codegen::tune::{TuneTable, Tuner};
use crate::ir::Graph;
use crate::sched::StepSpec;
use crate::sched::{self, Plan};
use compiled::CompiledPlan;
use fallback::ReferenceKernel;
pub use pool::Pool;

/// A pointer handed to the pool's workers; the parts of one update touch disjoint elements.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings of the JIT engine.
#[derive(Debug, Clone)]
pub struct JitOptions {
    pub threads: usize,
    pub seed: u64,
    pub plan: sched::Options,
    /// Use generated kernels where available (off: the reference kernel for every step).
    pub codegen: bool,
    /// Winograd convolutions: by the cost model, off, or forced (for comparisons).
    pub winograd: WinogradChoice,
    /// Measured tiles and algorithms per convolution (see [`crate::codegen::tune`]);
    /// off by default here, so that library users get reproducible plans.
    pub tune: TuneMode,
    /// The directory of the autotune table ([`tune_file`]; None: the default one).
    pub tune_dir: Option<std::path::PathBuf>,
}

impl Default for JitOptions {
    fn default() -> JitOptions {
        JitOptions {
            threads: crate::codegen::machine::DEFAULT_THREADS,
            seed: 1,
            plan: sched::Options::default(),
            codegen: true,
            winograd: WinogradChoice::Auto,
            tune: TuneMode::Off,
            tune_dir: None,
        }
    }
}

/// The engine's autotuner and where its table is kept.
struct Tuning {
    tuner: Tuner,
    file: Option<std::path::PathBuf>,
    /// Problems reading or writing the table (reported, never fatal).
    warnings: Vec<String>,
}

impl Tuning {
    fn new(opts: &JitOptions) -> Option<Tuning> {
        if opts.tune == TuneMode::Off {
            return None;
        }
        let file = tune_file::path(opts.tune_dir.as_deref());
        let mut warnings = Vec::new();
        let table = match (&file, opts.tune) {
            (_, TuneMode::Fresh) | (None, _) => TuneTable::default(),
            (Some(f), _) => {
                let (t, warn) = tune_file::load(f);
                warnings.extend(warn);
                t
            }
        };
        Some(Tuning { tuner: Tuner::new(opts.tune, table), file, warnings })
    }

    /// Writes the table if this engine measured anything new.
    fn save(&mut self) {
        self.tuner.release();
        if self.tuner.table.changed == 0 {
            return;
        }
        if let Some(f) = &self.file {
            if let Err(e) = tune_file::save(f, &self.tuner.table) {
                self.warnings.push(e);
            }
        }
        self.tuner.table.changed = 0;
    }
}

/// What the autotuner did for an engine: [`JitEngine::tuning`].
#[derive(Debug, Clone)]
pub struct TuneReport {
    pub stats: TuneStats,
    /// The table file (None: no cache directory known, results kept in memory only).
    pub file: Option<std::path::PathBuf>,
    pub entries: usize,
    pub warnings: Vec<String>,
}

impl TuneReport {
    /// One line, e.g. `12 shapes measured in 0.41 s (57 candidates, 3 changed from the
    /// cost model), 40 from the table; table ~/.cache/netc/tune-….tsv (52 entries)`.
    pub fn summary(&self) -> String {
        let s = &self.stats;
        let table = match &self.file {
            Some(f) => format!("table {} ({} entries)", f.display(), self.entries),
            None => "no cache directory, results not kept".into(),
        };
        format!(
            "{} shape{} measured in {:.2} s ({} candidates, {} changed from the cost model), {} from the table; {table}",
            s.measured,
            if s.measured == 1 { "" } else { "s" },
            s.time.as_secs_f64(),
            s.candidates,
            s.changed,
            s.from_table
        )
    }
}

pub struct JitEngine {
    train: Program,
    eval: Program,
    opts: JitOptions,
    jit: Option<Jit>,
    pool: Pool,
    kernels: HashMap<String, Arc<dyn CompiledKernel>>,
    updates: HashMap<(String, usize), Arc<dyn OptimizerKernel>>,
    train_plans: HashMap<usize, CompiledPlan>,
    eval_plans: HashMap<usize, CompiledPlan>,
    last_train: usize,
    tuning: Option<Tuning>,
    /// Time spent planning and compiling so far.
    pub compile_time: Duration,
    /// Distinct kernels compiled (cache misses) and steps served from the cache.
    pub compiled_kernels: usize,
    pub cached_kernels: usize,
}

impl JitEngine {
    pub fn new(g: &Graph, opts: JitOptions) -> Result<JitEngine, NotAClassifier> {
        let train = autodiff::training(g)?;
        Ok(Self::from_programs(train, autodiff::fold_batch_norm(&autodiff::inference(g)), opts))
    }

    /// An engine for inference only (any net, classifier or not).
    pub fn inference(g: &Graph, opts: JitOptions) -> JitEngine {
        let eval = autodiff::fold_batch_norm(&autodiff::inference(g));
        Self::from_programs(eval.clone(), eval, opts)
    }

    /// An engine for programs built already: `train` (for an inference-only engine, a
    /// copy of `eval`) and `eval`, the inference program as it should run.
    pub fn from_programs(train: Program, eval: Program, opts: JitOptions) -> JitEngine {
        let jit = if opts.codegen { Jit::native().ok() } else { None };
        let tuning = if jit.is_some() { Tuning::new(&opts) } else { None };
        let threads = opts.threads;
        JitEngine {
            train,
            eval,
            opts,
            jit,
            pool: Pool::new(threads),
            kernels: HashMap::new(),
            updates: HashMap::new(),
            train_plans: HashMap::new(),
            eval_plans: HashMap::new(),
            last_train: 0,
            tuning,
            compile_time: Duration::ZERO,
            compiled_kernels: 0,
            cached_kernels: 0,
        }
    }

    pub fn training_program(&self) -> &Program {
        &self.train
    }

    pub fn inference_program(&self) -> &Program {
        &self.eval
    }

    /// Plans and compiles the training (or inference) program for batches of `n` now.
    /// Panics if the arena cannot be allocated: callers that must not, such as the
    /// command line, reserve every batch size first with [`JitEngine::try_prepare`].
    pub fn prepare(&mut self, training: bool, n: usize) {
        self.try_prepare(training, n).unwrap_or_else(|e| panic!("{e}"));
    }

    /// [`JitEngine::prepare`], reporting a refused allocation instead of aborting.
    pub fn try_prepare(&mut self, training: bool, n: usize) -> Result<(), AllocError> {
        let started = Instant::now();
        let program = if training { &self.train } else { &self.eval };
        if (if training { &self.train_plans } else { &self.eval_plans }).contains_key(&n) {
            return Ok(());
        }
        let plan = sched::plan(program, n, self.opts.plan);
        if crate::ir::checks_enabled() {
            if let Err(e) = sched::verify(program, &plan) {
                panic!("internal error: the plan for batch {n} fails verification: {e}");
            }
        }
        let kernels: Vec<Option<Arc<dyn CompiledKernel>>> =
            plan.steps.iter().map(|s| (!Plan::is_host(&s.spec.kernel)).then(|| self.kernel(&s.spec))).collect();
        if let Some(t) = &mut self.tuning {
            t.save();
        }
        let compiled = CompiledPlan::new(plan, kernels, self.opts.threads)?;
        if training {
            self.train_plans.insert(n, compiled);
        } else {
            self.eval_plans.insert(n, compiled);
        }
        self.compile_time += started.elapsed();
        Ok(())
    }

    /// The plan for batches of `n` and what runs each of its steps (the compiled
    /// kernel's description, `... (reference)` for a step the code generator does not
    /// cover, `host` for steps run on the host), without allocating the arena: what
    /// `netc check --dump plan` prints.
    pub fn describe_plan(&mut self, training: bool, n: usize) -> (Plan, Vec<String>) {
        let plan = sched::plan(if training { &self.train } else { &self.eval }, n, self.opts.plan);
        let kernels = plan
            .steps
            .iter()
            .map(|s| if Plan::is_host(&s.spec.kernel) { "host".into() } else { self.kernel(&s.spec).describe() })
            .collect();
        (plan, kernels)
    }

    /// The compiled kernel for a step, from the cache when an identical step was compiled
    /// before: the generated kernel, or the [`ReferenceKernel`] where the code generator
    /// does not cover the step. Public so tests can run exactly what a plan runs.
    pub fn kernel(&mut self, spec: &StepSpec) -> Arc<dyn CompiledKernel> {
        let key = format!("{spec:?}");
        if let Some(k) = self.kernels.get(&key) {
            self.cached_kernels += 1;
            return k.clone();
        }
        self.compiled_kernels += 1;
        let opts = KernelOptions { threads: self.opts.threads, winograd: self.opts.winograd };
        let generated = self.jit.as_ref().and_then(|jit| match &mut self.tuning {
            Some(t) => t.tuner.compile(jit, spec, &opts).ok(),
            None => crate::codegen::kernels::compile(jit, spec, &opts).ok(),
        });
        let k: Arc<dyn CompiledKernel> = generated.unwrap_or_else(|| Arc::new(ReferenceKernel::new(spec.clone())));
        self.kernels.insert(key, k.clone());
        k
    }

    /// What the autotuner measured and reused so far (None when tuning is off).
    pub fn tuning(&self) -> Option<TuneReport> {
        let t = self.tuning.as_ref()?;
        Some(TuneReport {
            stats: t.tuner.stats.clone(),
            file: t.file.clone(),
            entries: t.tuner.table.len(),
            warnings: t.warnings.clone(),
        })
    }

    /// The compiled update for tensors of `len` floats, if the code generator is on.
    fn optimizer_kernel(&mut self, rule: Rule, len: usize) -> Option<Arc<dyn OptimizerKernel>> {
        let jit = self.jit.as_ref()?;
        let key = (format!("{rule:?}"), len);
        if let Some(k) = self.updates.get(&key) {
            return Some(k.clone());
        }
        let k = compile_optimizer(jit, rule, len).ok()?;
        self.updates.insert(key, k.clone());
        Some(k)
    }

    /// The plan compiled for training batches of `n`, if any.
    pub fn train_plan(&self, n: usize) -> Option<&Plan> {
        self.train_plans.get(&n).map(|c| &c.plan)
    }

    pub fn eval_plan(&self, n: usize) -> Option<&Plan> {
        self.eval_plans.get(&n).map(|c| &c.plan)
    }

    /// Per-step timings (and the plan they refer to) collected since profiling was enabled.
    pub fn profile(&mut self, training: bool, n: usize, enable: bool) -> Option<(&Plan, Vec<Duration>, Vec<String>)> {
        let c = if training { self.train_plans.get_mut(&n)? } else { self.eval_plans.get_mut(&n)? };
        if enable && c.profile.is_none() {
            c.profile = Some(vec![Duration::ZERO; c.plan.steps.len()]);
        }
        let names = c.kernels.iter().map(|k| k.as_ref().map_or("host".into(), |k| k.describe())).collect();
        Some((&c.plan, c.profile.clone()?, names))
    }
}

impl Engine for JitEngine {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn tune_report(&self) -> Option<TuneReport> {
        self.tuning()
    }

    fn scores(&self) -> (usize, ScoreKind, ScoreKind) {
        (self.train.classes, self.train.scores, self.eval.scores)
    }

    fn label_smoothing(&self) -> f32 {
        self.train.label_smoothing()
    }

    fn reserve(&mut self, train: &[usize], eval: &[usize]) -> Result<(), AllocError> {
        for &n in train {
            self.try_prepare(true, n)?;
        }
        for &n in eval {
            self.try_prepare(false, n)?;
        }
        Ok(())
    }

    fn train_step(&mut self, store: &mut ParamStore, images: &[f32], labels: &[f32], n: usize, step: u64) -> f32 {
        // Batch norm updates its running statistics in the store.
        store.touch();
        self.prepare(true, n);
        self.last_train = n;
        let p = &self.train;
        let c = self.train_plans.get_mut(&n).expect("prepared");
        c.buffer_mut(p, p.input, n).copy_from_slice(images);
        c.buffer_mut(p, p.labels.expect("a training program"), n).copy_from_slice(labels);
        let steps = c.plan.steps.len();
        c.run(p, 0..steps, store, &self.pool, self.opts.seed, step);
        c.buffer(p, p.loss.expect("a training program"), n)[0]
    }

    fn train_scores(&self, n: usize) -> &[f32] {
        let c = self.train_plans.get(&n).expect("a training step ran with this batch size");
        c.buffer(&self.train, self.train.output, n)
    }

    fn infer(&mut self, store: &mut ParamStore, images: &[f32], n: usize) -> &[f32] {
        self.prepare(false, n);
        let p = &self.eval;
        let c = self.eval_plans.get_mut(&n).expect("prepared");
        c.buffer_mut(p, p.input, n).copy_from_slice(images);
        let steps = c.plan.steps.len();
        c.run(p, 0..steps, store, &self.pool, self.opts.seed, 0);
        c.buffer(p, p.output, n)
    }

    fn update(&mut self, rule: Rule, step: Step, store: &mut ParamStore, m: &mut [Vec<f32>], v: &mut [Vec<f32>]) {
        store.touch();
        let trainable: Vec<usize> = store.updated().collect();
        // Every tensor's parts go to the pool as one job: one dispatch per update
        // instead of one per tensor (the tensors are small, the waits are not).
        let mut tensors: Vec<(Arc<dyn OptimizerKernel>, [SendPtr; 4])> = Vec::new();
        for i in trainable {
            let Some(k) = self.optimizer_kernel(rule, store.values[i].len()) else {
                super::update::apply(rule, step, &mut store.values[i], &store.grads[i], &mut m[i], &mut v[i]);
                continue;
            };
            let ptr = |v: &mut Vec<f32>| SendPtr(if v.is_empty() { std::ptr::null_mut() } else { v.as_mut_ptr() });
            let ptrs = [
                ptr(&mut store.values[i]),
                SendPtr(store.grads[i].as_ptr().cast_mut()),
                ptr(&mut m[i]),
                ptr(&mut v[i]),
            ];
            tensors.push((k, ptrs));
        }
        let work: Vec<(usize, usize)> =
            tensors.iter().enumerate().flat_map(|(t, (k, _))| (0..k.parts()).map(move |p| (t, p))).collect();
        // Safety: the four buffers of each tensor hold its elements (or are unused by the
        // rule), tensors do not overlap, and parts update disjoint element ranges.
        self.pool.run(work.len(), &|i, _| unsafe {
            let (t, part) = work[i];
            let (k, [w, g, mm, vv]) = &tensors[t];
            k.run(w.get(), g.get(), mm.get(), vv.get(), step.lr, step.weight_decay, step.t, part)
        });
    }
}
