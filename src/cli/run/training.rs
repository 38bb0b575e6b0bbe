//! `netc run --train`: the optimizer, where training starts from (`--weights`,
//! `--resume`, `--freeze`), the `--save` and `--log` targets checked first, then the
//! trainer driven with an observer that prints each epoch, draws the progress bar and
//! saves checkpoints.

use super::{checks, load_weights, weights, Fail, Fed, Optim, RunArgs, WarmupArg};
use crate::cli::epoch_log::EpochLog;
use crate::cli::{out, shown, EXIT_INVALID, EXIT_USAGE};
use crate::data;
use crate::data::Splits;
use crate::runtime::update::Rule;
use crate::runtime::{Engine, ParamStore};
use crate::train::{self, checkpoint, EpochStats, Observer, Optimizer, OptimizerKind, TrainConfig, TrainError};
use crate::train::{Warmup, WarmupKind};
use std::path::Path;

/// The update rule `--optimizer` and its constants ask for.
fn rule(args: &RunArgs) -> Rule {
    let mu = |default: f64| args.momentum.unwrap_or(default) as f32;
    match args.optimizer {
        Optim::Sgd => Rule::Sgd,
        Optim::Momentum => Rule::Momentum { mu: mu(0.9) },
        Optim::Nesterov => Rule::Nesterov { mu: mu(0.9) },
        Optim::Adam => OptimizerKind::Adam.rule(),
        Optim::Rmsprop => Rule::RmsProp {
            decay: args.rms_decay.unwrap_or(0.9) as f32,
            momentum: mu(0.0),
            eps: args.rms_eps.unwrap_or(1e-10) as f32,
        },
    }
}

/// The warm-up `--warmup`, `--warmup-mode` and `--warmup-lr` ask for.
fn warmup(args: &RunArgs) -> Option<Warmup> {
    let length = args.warmup?;
    let (kind, default) = match args.warmup_mode {
        WarmupArg::Linear => (WarmupKind::Linear, 0.0),
        WarmupArg::Constant => (WarmupKind::Constant, args.lr / 10.0),
    };
    Some(Warmup { length, kind, from: args.warmup_lr.unwrap_or(default) })
}

/// What the run does besides the optimizer's name and the schedule, for the first line.
fn recipe(args: &RunArgs, rule: Rule, warmup: Option<&Warmup>) -> String {
    let mut parts = Vec::new();
    match rule {
        Rule::Momentum { mu } | Rule::Nesterov { mu } if args.momentum.is_some() => parts.push(format!("μ {mu}")),
        Rule::RmsProp { decay, momentum, eps } => parts.push(format!("ρ {decay} μ {momentum} ε {eps:e}")),
        _ => {}
    }
    if let Some(w) = warmup {
        let mode = match w.kind {
            WarmupKind::Linear => "linear",
            WarmupKind::Constant => "constant",
        };
        parts.push(format!("{mode} warm-up {} from {}", w.length, rate(w.from)));
    }
    if let Some(c) = args.clip_norm {
        parts.push(format!("gradients clipped to norm {c}"));
    }
    if let Some(eps) = args.label_smoothing.filter(|&e| e > 0.0) {
        parts.push(format!("label smoothing {eps}"));
    }
    parts.iter().map(|p| format!(", {p}")).collect()
}

pub(super) fn train_net(
    args: &RunArgs,
    engine: &mut dyn Engine,
    store: &mut ParamStore,
    splits: &Splits,
    fed: &Fed,
) -> Result<(), Fail> {
    let rule = rule(args);
    let kind = OptimizerKind::of(rule);
    let schedule = args.schedule.schedule(args.epochs);
    let warmup = warmup(args);
    let batches = splits.train.count().div_ceil(args.batch.max(1)) as u64;
    let warnings = schedule
        .check(warmup.as_ref(), batches, args.epochs as u64)
        .map_err(|e| Fail(EXIT_USAGE, format!("error: {e}")))?;
    for w in warnings {
        crate::cli::err(&format!("{w}\n"));
    }
    let mut optimizer = Optimizer::try_with_rule(rule, args.weight_decay as f32, store)
        .map_err(|e| Fail(EXIT_INVALID, format!("error: {}: {e}", args.net.display())))?;
    let mut start_epoch = 0;
    if let Some(path) = &args.weights {
        weights::start_from(path, args, store)?;
    }
    weights::freeze(args, store)?;
    if let Some(path) = &args.resume {
        let loaded = load_weights(path, store)?;
        start_epoch = train::restore_optimizer(&mut optimizer, store, &loaded)
            .map_err(|e| Fail(EXIT_USAGE, format!("error: {}: {e}", path.display())))?;
        if start_epoch >= args.epochs {
            return Err(Fail(
                EXIT_USAGE,
                format!("error: {} already holds {start_epoch} epochs; ask for more with --epochs", path.display()),
            ));
        }
    }
    let cfg = TrainConfig {
        epochs: args.epochs,
        batch: args.batch,
        lr: args.lr,
        schedule,
        warmup,
        clip_norm: args.clip_norm,
        seed: args.seed,
        augment: fed.augment,
        data_workers: args.data_workers,
    };
    check_save_target(args)?;
    let mut log = match &args.log {
        Some(p) => Some(EpochLog::open(p, &inputs(args, false)).map_err(|e| Fail(EXIT_USAGE, format!("error: {e}")))?),
        None => None,
    };
    out(&format!(
        "training {} on {} ({} train / {} test images) with {} engine: {} lr {} {} schedule{}, batch {}, {} epoch{}, seed {}\n",
        args.net.display(),
        splits.train.name,
        splits.train.count(),
        splits.test.count(),
        engine.name(),
        kind.name(),
        rate(args.lr),
        args.schedule,
        recipe(args, rule, cfg.warmup.as_ref()),
        if args.batch > splits.train.count() {
            format!("{} (the whole training set)", splits.train.count())
        } else {
            args.batch.to_string()
        },
        args.epochs,
        if args.epochs == 1 { "" } else { "s" },
        args.seed
    ));
    out(&format!("{}; training augmentation: {}\n", fed.line, fed.augment));
    if let Some(line) = fed.images {
        out(&format!("{line}\n"));
    }
    if let Some(log) = log.as_mut() {
        log.header(&serde_json::json!({"run": {
            "net": shown(&args.net),
            "train": splits.train.name,
            "preprocess": fed.line,
            "augment": fed.augment.to_string(),
            "pipeline": serde_json::from_str::<serde_json::Value>(&fed.pipeline.to_json(&fed.augment)).expect("valid JSON"),
            "data_workers": args.data_workers,
            "images": fed.images.map_or("in memory", |l| l.trim_start_matches("images: ")),
            "optimizer": optimizer_json(rule, args),
            "schedule": args.schedule.to_string(),
            "warmup": cfg.warmup.map(|w| serde_json::json!({
                "length": w.length.to_string(),
                "steps": w.steps(batches),
                "mode": match w.kind { WarmupKind::Linear => "linear", WarmupKind::Constant => "constant" },
                "from": w.from,
            })),
            "clip_norm": args.clip_norm,
            "label_smoothing": args.label_smoothing.unwrap_or(0.0),
        }}), start_epoch + 1);
    }
    let mut observer = CliObserver {
        args,
        log: log.as_mut(),
        bar: None,
        started: std::time::Instant::now(),
        best: None,
        saved: None,
        classes: &splits.train.classes,
        fed,
    };
    let resumed = args.resume.is_some().then_some(start_epoch);
    let history = train::train(
        engine,
        store,
        &mut optimizer,
        &splits.train,
        &splits.test,
        fed.pipeline,
        &cfg,
        start_epoch,
        &mut observer,
    )
    .map_err(|e| {
        observer.finish_bar();
        // A streamed file that changed is an I/O error; the rest are failed runs.
        let code =
            if matches!(e, TrainError::Data(data::DataError::ImageChanged { .. })) { EXIT_USAGE } else { EXIT_INVALID };
        Fail(code, format!("error: {e}{}", checks::hint(&e, args, store, observer.saved, resumed)))
    })?;
    observer.finish_bar();
    if let (Some(last), Some((best, at))) = (history.last(), observer.best) {
        out(&format!(
            "final test accuracy {:.2}% (best {:.2}% at epoch {at}); {:.1} s in all\n",
            100.0 * last.test_acc,
            100.0 * best,
            observer.started.elapsed().as_secs_f64()
        ));
    }
    if let Some(failure) = observer.log.as_ref().and_then(|l| l.failure()) {
        return Err(Fail(EXIT_USAGE, format!("error: {failure}; the checkpoints were saved")));
    }
    Ok(())
}

/// The optimizer and its constants, for the log's header.
fn optimizer_json(rule: Rule, args: &RunArgs) -> serde_json::Value {
    let mut o = serde_json::json!({"name": rule.name(), "weight_decay": args.weight_decay});
    let mut put = |k: &str, x: f32| o[k] = serde_json::json!(x);
    match rule {
        Rule::Sgd => {}
        Rule::Momentum { mu } | Rule::Nesterov { mu } => put("momentum", mu),
        Rule::Adam { beta1, beta2, eps } => {
            put("beta1", beta1);
            put("beta2", beta2);
            put("eps", eps);
        }
        Rule::RmsProp { decay, momentum, eps } => {
            put("rms_decay", decay);
            put("momentum", momentum);
            put("rms_eps", eps);
        }
    }
    o
}

/// Refuses, before training, a `--save` target that cannot take checkpoints or is one
/// of the run's own inputs (`--resume` may be the target: that continues in place).
fn check_save_target(args: &RunArgs) -> Result<(), Fail> {
    let Some(target) = &args.save else { return Ok(()) };
    checkpoint::check_target(target, &inputs(args, true))
        .map(|_| ())
        .map_err(|e| Fail(EXIT_USAGE, format!("error: {e}")))
}

/// The files a run reads, each with a description, which neither `--save` nor `--log`
/// may write: for `--save`, the log too, but not `--resume`.
fn inputs(args: &RunArgs, for_save: bool) -> Vec<(&'static str, &Path)> {
    let mut inputs = vec![("the net's source", args.net.as_path())];
    if let Some(w) = &args.weights {
        inputs.push(("the --weights file (use --resume to continue a checkpoint in place)", w));
    }
    match (&args.resume, &args.log) {
        (Some(r), _) if !for_save => inputs.push(("the --resume file", r)),
        (_, Some(l)) if for_save => inputs.push(("the --log file", l)),
        _ => {}
    }
    inputs
}

/// A learning rate in a compact form: `0.001`, `3.33e-4`, `1e38`.
pub(super) fn rate(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&x) {
        format!("{}", (x * 1e6).round() / 1e6)
    } else {
        format!("{x:.3e}").replace(".000e", "e").replace("00e", "e").replace("0e", "e")
    }
}

struct CliObserver<'a> {
    args: &'a RunArgs,
    log: Option<&'a mut EpochLog>,
    bar: Option<indicatif::ProgressBar>,
    started: std::time::Instant,
    /// The best test accuracy so far and its epoch.
    best: Option<(f64, usize)>,
    /// The last epoch saved by this run.
    saved: Option<usize>,
    /// Class names, saved in checkpoints.
    classes: &'a [String],
    fed: &'a Fed<'a>,
}

impl CliObserver<'_> {
    fn finish_bar(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Observer for CliObserver<'_> {
    fn batch(&mut self, p: &train::BatchProgress) {
        if self.args.quiet {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::new(p.batches as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            b
        });
        bar.set_prefix(format!("{}/{}", p.epoch + 1, self.args.epochs));
        bar.set_position(p.batch as u64);
        if p.batch.is_multiple_of(10) || p.batch == p.batches {
            bar.set_message(format!("loss {:.4} acc {:.2}% {:.0} img/s", p.loss, 100.0 * p.accuracy, p.images_per_sec));
        }
    }

    fn epoch(&mut self, s: &EpochStats, store: &ParamStore, optimizer: &Optimizer) -> Result<(), String> {
        self.finish_bar();
        if self.best.is_none_or(|(best, _)| s.test_acc > best) {
            self.best = Some((s.test_acc, s.epoch));
        }
        out(&format!(
            "epoch {:>2}/{}  train loss {:.4} acc {:.2}%  test loss {:.4} acc {:.2}%  {:.1} s  {:.0} img/s  \
             data wait {:.2} s ({:.1}%)\n",
            s.epoch,
            self.args.epochs,
            s.train_loss,
            100.0 * s.train_acc,
            s.test_loss,
            100.0 * s.test_acc,
            s.seconds,
            s.images_per_sec,
            s.data_wait_seconds,
            100.0 * s.data_wait_seconds / s.train_seconds.max(1e-9)
        ));
        // The checkpoint first: a failing log must not cost an epoch of training.
        if let Some(path) = &self.args.save {
            let meta = checkpoint::run_metadata(&checkpoint::RunMetadata {
                net: &shown(&self.args.net),
                epoch: s.epoch,
                classes: self.classes,
                pipeline: self.fed.pipeline,
                augment: &self.fed.augment,
            });
            checkpoint::save(
                path,
                store,
                &train::optimizer_tensors(optimizer, store),
                meta.into_iter().chain(train::optimizer_metadata(optimizer)).collect(),
            )
            .map_err(|e| format!("cannot save: {e}"))?;
            self.saved = Some(s.epoch);
        }
        if let Some(log) = self.log.as_mut() {
            log.append(s);
        }
        Ok(())
    }
}
