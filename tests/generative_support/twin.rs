//! One generated net through the whole pipeline: checked (report, JSON, diagram),
//! verified (graph and plans), trained a few steps on `synthetic` by the JIT with the
//! reference engine in lock-step, and run for inference by both.
//!
//! Lock-step: before every step the reference takes the JIT's current weights, so each
//! step compares the two engines on the same weights and the same batch (loss,
//! gradients, batch-norm statistics), and the JIT's optimizer update is compared with
//! the reference arithmetic applied to the same inputs. Free-running trajectories drift
//! apart on ill-conditioned nets, which says nothing about either engine (see the test's
//! module docs).

use super::compare::{Compare, GRADIENT_FLOOR, STATE_FLOOR, UPDATE_ROUNDING, VALUE_ROUNDING};
use super::oracle::{self, max_abs};
use netc::data::synthetic::{generate, SyntheticConfig};
use netc::data::{Batcher, Pipeline, PrepOptions};
use netc::diag::{render_all, SourceMap, Style};
use netc::ir::Graph;
use netc::ir::ParamKind;
use netc::runtime::reference::KernelCtx;
use netc::runtime::update::{self, Step};
use netc::runtime::{Engine, JitEngine, JitOptions, ParamStore, ReferenceEngine};
use netc::train::{Optimizer, OptimizerKind};

/// How a net is trained.
#[derive(Debug, Clone, Copy)]
pub struct Training {
    pub batch: usize,
    pub steps: usize,
    /// The last batch has one image less.
    pub short_last: bool,
    pub seed: u64,
    pub threads: usize,
    pub optimizer: OptimizerKind,
    pub lr: f32,
    pub weight_decay: f32,
}

/// What happened to a net that did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The checker refused it, with this diagnostic.
    Rejected(String),
    /// Valid but not a 10-class classifier (the trainer refuses it cleanly).
    NotTrainable(String),
    /// Trained on both engines; the largest difference relative to its tolerance.
    Matched { steps: usize, worst: f64 },
    /// The loss left f32's range at this step (both engines agreed until then).
    Diverged { step: usize },
}

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
    let _ =
        (netc::infer::text::render(&report), netc::infer::json::render(&report), netc::infer::dot::render(&g, "gen"));
    netc::ir::verify(&g).map_err(|e| format!("ir::verify: {e}"))?;
    train_both(&g, t)
}

fn train_both(g: &Graph, t: &Training) -> Result<Outcome, String> {
    let mut reference = match ReferenceEngine::new(g, t.batch, t.seed) {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::NotTrainable(e.to_string())),
    };
    let program = reference.training_program().clone();
    if program.classes < 10 {
        return Ok(Outcome::NotTrainable(format!("{} classes", program.classes)));
    }
    let mut jit = JitEngine::new(g, JitOptions { threads: t.threads, seed: t.seed, ..JitOptions::default() })
        .map_err(|e| format!("the JIT refuses what the reference accepts: {e}"))?;
    let input = g.node(g.input()).shape.dims();
    let shape = (input[0] as usize, input[1] as usize, input[2] as usize);
    let splits = generate(&SyntheticConfig {
        seed: t.seed,
        train: t.batch * t.steps - usize::from(t.short_last),
        test: t.batch,
    })
    .map_err(|e| e.to_string())?;
    let prep = Pipeline::build(&PrepOptions::default(), &splits.train, shape).map_err(|e| e.to_string())?;
    let mut b = ParamStore::new(&program.params);
    netc::train::initialise(&mut b, g, t.seed);
    let mut opt = Optimizer::new(t.optimizer, t.weight_decay, &b);
    let mut batcher = Batcher::new(&splits.train, &prep, t.batch).map_err(|e| e.to_string())?;
    let mut epoch = batcher.epoch(t.seed, 0);
    let mut cmp = Compare::new(program.params.len());
    let mut k = 0;
    while let Some(batch) = epoch.next_batch() {
        let labels: Vec<f32> = batch.labels.iter().map(|&l| f32::from(l)).collect();
        let n = batch.len();
        let ctx = KernelCtx { seed: t.seed, step: k as u64 };
        let oracle = oracle::consult(&program, &b.values, batch.images, Some(&labels), n, ctx, t.seed ^ k as u64);
        let before = b.values.clone();
        let mut a = b.clone();
        jit.prepare(true, n);
        let plan = jit.train_plan(n).ok_or("no training plan")?;
        netc::sched::verify(jit.training_program(), plan).map_err(|e| format!("sched::verify (training): {e}"))?;
        let la = reference.train_step(&mut a, batch.images, &labels, n, k as u64);
        let lb = jit.train_step(&mut b, batch.images, &labels, n, k as u64);
        // Beyond f32's range (exponentials, squared distances) the engines may overflow at
        // different points, and the reference's ReLU turns NaN into 0 where the JIT's
        // keeps it: only the absence of panics is checked from the first overflow on.
        let jit_finite = lb.is_finite() && b.grads.iter().flatten().all(|g| g.is_finite());
        let in_range = oracle.exact.out[0].abs() < 1e30;
        if !in_range || (!jit_finite && oracle::overflows(&program, &before, batch.images, Some(&labels), n, ctx)) {
            return Ok(Outcome::Diverged { step: k });
        }
        let (za, zb) = (reference.train_scores(n).to_vec(), jit.train_scores(n));
        cmp.step_outputs(k, (lb, la), (zb, &za), &oracle)?;
        let at = |what: &str| format!("step {k}: {what}");
        let whole = super::compare::norm(&a.grads.iter().flatten().copied().collect::<Vec<f32>>());
        let [up, down] = &oracle.nudged;
        for (i, info) in program.params.iter().enumerate() {
            let (got, want, exact, nudged, floor) = match info.kind {
                ParamKind::Trainable => {
                    let nudged = [&up.grads[i][..], &down.grads[i][..]];
                    (&b.grads[i], &a.grads[i], &oracle.exact.grads[i], nudged, GRADIENT_FLOOR * whole)
                }
                // Batch norm's running statistics, updated by the step.
                ParamKind::State => {
                    let floor = STATE_FLOOR * (a.values[i].len() as f64).sqrt();
                    let nudged = [&up.values[i][..], &down.values[i][..]];
                    (&b.values[i], &a.values[i], &oracle.exact.values[i], nudged, floor)
                }
                ParamKind::Fixed => continue,
            };
            let name = if info.kind == ParamKind::Trainable { format!("d({})", info.name) } else { info.name.clone() };
            cmp.tensor(&at(&name), i, (got, want), (exact, nudged), floor)?;
        }
        // The JIT's optimizer kernels against the reference arithmetic on the same inputs.
        opt.t += 1;
        let (rule, step) = (t.optimizer.rule(), Step { lr: t.lr, weight_decay: t.weight_decay, t: opt.t });
        let trainable: Vec<usize> = b.trainable().collect();
        let mut want = (b.values.clone(), opt.m.clone(), opt.v.clone());
        for &i in &trainable {
            update::apply(rule, step, &mut want.0[i], &b.grads[i], &mut want.1[i], &mut want.2[i]);
        }
        jit.update(rule, step, &mut b, &mut opt.m, &mut opt.v);
        for &i in &trainable {
            let name = &program.params[i].name;
            for (what, got, want) in [
                ("", &b.values[i], &want.0[i]),
                (" moments", &opt.m[i], &want.1[i]),
                (" second moments", &opt.v[i], &want.2[i]),
            ] {
                let scale = max_abs(want).max(1e-30);
                cmp.values(&at(&format!("{name}{what} after the update")), got, want, 0.0, UPDATE_ROUNDING, scale)?;
            }
        }
        k += 1;
    }
    infer_both(g, t, &mut reference, &mut jit, b, &splits.test, &prep, &mut cmp)?;
    Ok(Outcome::Matched { steps: k, worst: cmp.worst })
}

/// Inference (batch norm folded, dropout off) on the first test batch from the trained
/// weights, both engines.
#[allow(clippy::too_many_arguments)]
fn infer_both(
    g: &Graph,
    t: &Training,
    reference: &mut ReferenceEngine,
    jit: &mut JitEngine,
    mut b: ParamStore,
    test: &netc::data::Dataset,
    prep: &Pipeline,
    cmp: &mut Compare,
) -> Result<(), String> {
    let mut batcher = Batcher::new(test, prep, t.batch).map_err(|e| e.to_string())?;
    let mut order = batcher.in_order();
    let batch = order.next_batch().ok_or("an empty test split")?;
    let n = batch.len();
    let mut a = b.clone();
    jit.prepare(false, n);
    let plan = jit.eval_plan(n).ok_or("no inference plan")?;
    netc::sched::verify(jit.inference_program(), plan).map_err(|e| format!("sched::verify (inference): {e}"))?;
    let sa = reference.infer(&mut a, batch.images, n).to_vec();
    let sb = jit.infer(&mut b, batch.images, n).to_vec();
    let program = netc::autodiff::inference(g);
    let ctx = KernelCtx { seed: t.seed, step: 0 };
    let oracle = oracle::consult(&program, &a.values, batch.images, None, n, ctx, t.seed);
    let overflow = !oracle.exact.out.iter().all(|v| v.abs() < 1e30)
        || (sb.iter().any(|v| !v.is_finite()) && oracle::overflows(&program, &a.values, batch.images, None, n, ctx));
    if !overflow {
        let ill = super::compare::ill(&sa, &oracle, |e| &e.out);
        cmp.values("inference output", &sb, &sa, ill, VALUE_ROUNDING, max_abs(&sa).max(1.0))?;
    }
    Ok(())
}
