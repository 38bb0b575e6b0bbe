//! One generated net through the whole pipeline: checked (report, JSON, diagram),
//! verified (graph and plans), then trained a few steps on `synthetic` by the reference
//! engine and the JIT from the same weights, with the losses compared step by step and
//! the inference outputs compared at the end.

use netc::data::synthetic::{generate, SyntheticConfig};
use netc::data::{Batcher, Prep, Scaling};
use netc::diag::{render_all, SourceMap, Style};
use netc::ir::Graph;
use netc::runtime::{Engine, JitEngine, JitOptions, ParamStore, ReferenceEngine};
use netc::train::{Optimizer, OptimizerKind};

/// How a net is trained.
#[derive(Debug, Clone, Copy)]
pub struct Training {
    pub batch: usize,
    pub steps: usize,
    pub seed: u64,
    pub threads: usize,
    pub optimizer: OptimizerKind,
    pub lr: f32,
}

/// What happened to a net that did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The checker refused it, with this diagnostic.
    Rejected(String),
    /// Valid but not a 10-class classifier (the trainer refuses it cleanly).
    NotTrainable(String),
    /// Trained on both engines; the largest loss difference relative to the loss tolerance.
    Matched { steps: usize, worst: f64 },
    /// The reference loss stopped being finite at this step (both engines agreed until then).
    Diverged { step: usize },
}

/// Loss tolerance at step `k` (0-based), relative to 1 + |loss|. See the test for why.
pub fn loss_tolerance(k: usize) -> f64 {
    2e-4 * (1.0 + k as f64)
}

/// Tolerance of inference outputs, relative to the largest output.
pub const OUTPUT_TOLERANCE: f64 = 2e-3;

/// Checks and, if valid, trains `source` on both engines. `Err` describes a failure.
pub fn run(source: &str, t: &Training) -> Result<Outcome, String> {
    let mut sources = SourceMap::new();
    let checked = netc::driver::check(&mut sources, "gen.net", source, None);
    if !checked.diagnostics.is_empty() {
        let text = render_all(&checked.diagnostics, &sources, Style::Plain);
        let _ = netc::infer::json::render_errors("gen.net", &checked.diagnostics, &sources);
        return Ok(Outcome::Rejected(text.lines().next().unwrap_or_default().to_string()));
    }
    let (Some(g), Some(report)) = (checked.graph, checked.report) else {
        return Err("accepted without a graph and a report".into());
    };
    let _ = (netc::infer::text::render(&report), netc::infer::json::render(&report), netc::infer::dot::render(&g, "gen"));
    netc::ir::verify(&g).map_err(|e| format!("ir::verify: {e}"))?;
    train_both(&g, t)
}

fn train_both(g: &Graph, t: &Training) -> Result<Outcome, String> {
    let mut reference = match ReferenceEngine::new(g, t.batch, t.seed) {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::NotTrainable(e.to_string())),
    };
    let classes = reference.training_program().classes;
    if classes < 10 {
        return Ok(Outcome::NotTrainable(format!("{classes} classes")));
    }
    let mut jit = JitEngine::new(g, JitOptions { threads: t.threads, seed: t.seed, ..JitOptions::default() })
        .map_err(|e| format!("the JIT refuses what the reference accepts: {e}"))?;
    let input = g.node(g.input()).shape.dims();
    let shape = (input[0] as usize, input[1] as usize, input[2] as usize);
    let splits = generate(&SyntheticConfig { seed: t.seed, train: t.batch * t.steps, test: t.batch })
        .map_err(|e| e.to_string())?;
    let scaling = Scaling::standardize_from(&splits.train).map_err(|e| e.to_string())?;
    let prep = Prep::new(&splits.train, shape, scaling).map_err(|e| e.to_string())?;
    let mut a = ParamStore::new(&reference.training_program().params);
    netc::train::initialise(&mut a, g, t.seed);
    let mut b = a.clone();
    let (mut opt_a, mut opt_b) = (Optimizer::new(t.optimizer, 0.0, &a), Optimizer::new(t.optimizer, 0.0, &b));
    let mut batcher = Batcher::new(&splits.train, prep.clone(), t.batch).map_err(|e| e.to_string())?;
    let mut epoch = batcher.epoch(t.seed, 0);
    let mut worst = 0f64;
    let mut k = 0;
    while let Some(batch) = epoch.next_batch() {
        let labels: Vec<f32> = batch.labels.iter().map(|&l| f32::from(l)).collect();
        let n = batch.len();
        let la = reference.train_step(&mut a, batch.images, &labels, n, k as u64);
        let lb = jit.train_step(&mut b, batch.images, &labels, n, k as u64);
        if k == 0 {
            let plan = jit.train_plan(n).ok_or("no training plan")?;
            netc::sched::verify(jit.training_program(), plan).map_err(|e| format!("sched::verify (training): {e}"))?;
        }
        if !la.is_finite() {
            return Ok(Outcome::Diverged { step: k });
        }
        let diff = f64::from((la - lb).abs()) / (1.0 + f64::from(la.abs()));
        if !(diff <= loss_tolerance(k)) {
            return Err(format!("step {k}: loss {la} (reference) vs {lb} (jit)"));
        }
        worst = worst.max(diff / loss_tolerance(k));
        opt_a.step(&mut reference, &mut a, t.lr);
        opt_b.step(&mut jit, &mut b, t.lr);
        k += 1;
    }
    let mut test = Batcher::new(&splits.test, prep, t.batch).map_err(|e| e.to_string())?;
    let mut order = test.in_order();
    let batch = order.next_batch().ok_or("an empty test split")?;
    let n = batch.len();
    let sa = reference.infer(&mut a, batch.images, n).to_vec();
    let sb = jit.infer(&mut b, batch.images, n).to_vec();
    let plan = jit.eval_plan(n).ok_or("no inference plan")?;
    netc::sched::verify(jit.inference_program(), plan).map_err(|e| format!("sched::verify (inference): {e}"))?;
    let scale = sa.iter().fold(0f64, |m, v| m.max(f64::from(v.abs()))).max(1e-3);
    if sa.len() != sb.len() {
        return Err(format!("inference outputs {} (reference) vs {} (jit) values", sa.len(), sb.len()));
    }
    for (i, (x, y)) in sa.iter().zip(&sb).enumerate() {
        let d = f64::from((x - y).abs()) / scale;
        if !(d <= OUTPUT_TOLERANCE) && x.is_finite() {
            return Err(format!("inference output {i}: {x} (reference) vs {y} (jit), largest output {scale}"));
        }
    }
    Ok(Outcome::Matched { steps: k, worst })
}
