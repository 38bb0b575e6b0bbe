//! Checks of `netc run`'s options before anything is loaded or trained, and the hint
//! that follows a failed run: what most likely caused it, and where the last good
//! epoch is.

use super::{Fail, Optim, RunArgs};
use crate::cli::{resources, EXIT_USAGE};
use crate::ir::ParamKind;
use crate::runtime::ParamStore;
use crate::train::{TrainError, MAX_EPOCHS};

fn usage(msg: String) -> Fail {
    Fail(EXIT_USAGE, format!("error: {msg}"))
}

/// What the run is asked to do: the dataset of `--train` or `--eval`, after the options
/// are checked (their warnings printed).
pub(super) fn what_to_do(args: &RunArgs) -> Result<&str, Fail> {
    let Some(dataset) = args.train.as_deref().or(args.eval.as_deref()) else {
        return Err(Fail(
            EXIT_USAGE,
            "error: say what to do: `--train DATASET`, or `--weights FILE --eval DATASET`".into(),
        ));
    };
    for warning in options(args)? {
        crate::cli::err(&format!("{warning}\n"));
    }
    Ok(dataset)
}

/// Refuses options out of their range; returns warnings to print.
pub(super) fn options(args: &RunArgs) -> Result<Vec<String>, Fail> {
    if args.batch == 0 {
        return Err(usage("--batch must be at least 1".into()));
    }
    if args.epochs == 0 || args.epochs > MAX_EPOCHS {
        return Err(usage(format!("--epochs must be from 1 to {MAX_EPOCHS}, got {}", args.epochs)));
    }
    // The arithmetic is f32: a rate that is finite as a double may not be as a float.
    let lr32 = args.lr as f32;
    if !(args.lr.is_finite() && args.lr > 0.0) {
        return Err(usage(format!("--lr must be a positive number, got {}", super::rate(args.lr))));
    }
    if !lr32.is_finite() || lr32 < f32::MIN_POSITIVE {
        return Err(usage(format!(
            "--lr {} is out of the range of f32, in which training computes ({:e} to {:e})",
            super::rate(args.lr),
            f32::MIN_POSITIVE,
            f32::MAX
        )));
    }
    let wd = args.weight_decay;
    if !(wd.is_finite() && wd >= 0.0) {
        return Err(usage(format!("--weight-decay must be a number ≥ 0, got {}", super::rate(wd))));
    }
    if !(wd as f32).is_finite() {
        return Err(usage(format!(
            "--weight-decay {} is beyond the range of f32, in which training computes (at most {:e})",
            super::rate(wd),
            f32::MAX
        )));
    }
    if args.momentum.is_some() && matches!(args.optimizer, Optim::Sgd | Optim::Adam) {
        return Err(usage(format!(
            "--momentum is for --optimizer momentum, nesterov or rmsprop, not {}",
            if args.optimizer == Optim::Sgd { "sgd" } else { "adam (its β1 is 0.9)" }
        )));
    }
    if args.optimizer != Optim::Rmsprop {
        if let Some(flag) = [("--rms-decay", args.rms_decay), ("--rms-eps", args.rms_eps)]
            .into_iter()
            .find_map(|(flag, x)| x.map(|_| flag))
        {
            return Err(usage(format!("{flag} is for --optimizer rmsprop")));
        }
    }
    if args.label_smoothing.is_some() && args.eval.is_some() {
        return Err(usage("--label-smoothing is for training (--train); --eval reports plain cross-entropy".into()));
    }
    if args.format == crate::cli::Format::Json && args.eval.is_none() {
        return Err(usage(
            "--format json is for the report of --eval; training writes JSON with --log FILE (one object per epoch)"
                .into(),
        ));
    }
    if args.limit == Some(0) {
        return Err(usage("--limit must be at least 1".into()));
    }
    if let Some(f) = args.val_split {
        crate::data::split::check_fraction(f).map_err(|e| usage(e.to_string()))?;
    }
    if args.max_pixels == 0 {
        return Err(usage("--max-pixels must be at least 1".into()));
    }
    if args.data_workers > crate::data::feeder::MAX_WORKERS {
        return Err(usage(format!(
            "--data-workers must be from 0 to {}, got {}",
            crate::data::feeder::MAX_WORKERS,
            args.data_workers
        )));
    }
    let threads = resources::check_threads(args.threads).map_err(|e| Fail(EXIT_USAGE, e))?;
    Ok(threads.into_iter().collect())
}

/// Weights beyond this magnitude are taken as blown up (trained weights are of order 1).
const HUGE: f32 = 1e15;

/// What a run that ended with `e` should tell the user to do, and what is on disk.
/// `saved` is the last epoch this run saved; `resumed` the epoch the `--resume` file held.
pub(super) fn hint(
    e: &TrainError,
    args: &RunArgs,
    store: &ParamStore,
    saved: Option<usize>,
    resumed: Option<usize>,
) -> String {
    let lower = |by: f64| format!("lower the learning rate (e.g. --lr {})", super::rate(args.lr / by));
    let adam = if args.optimizer == Optim::Adam { "" } else { " or try --optimizer adam" };
    let decay = args.lr * args.weight_decay;
    let cause = match e {
        TrainError::Diverged { updates: 0, .. } => {
            let from = match (&args.resume, &args.weights) {
                (Some(p), _) | (None, Some(p)) => format!("the weights from {}", p.display()),
                _ => "the starting weights".into(),
            };
            format!(
                "{from} already give this loss, so the learning rate is not the cause: values overflow f32 in the \
                 forward pass (look for large `scale` factors or deep stacks without normalisation)"
            )
        }
        TrainError::Diverged { .. } | TrainError::NotFinite { .. } if decay >= 1.0 => format!(
            "--lr {} × --weight-decay {} = {}: the decay term alone overshoots (each update flips and grows \
             the weights); keep the product well below 1, e.g. --weight-decay {}",
            super::rate(args.lr),
            super::rate(args.weight_decay),
            super::rate(decay),
            super::rate(0.01 / args.lr)
        ),
        TrainError::Diverged { .. } | TrainError::NotFinite { .. } => format!("{}{adam}", lower(10.0)),
        TrainError::OutputNotFinite { largest, .. } => {
            let kind = |name: &str| store.find(name).map(|i| store.infos[i].kind);
            match largest {
                Some((name, x)) if x.abs() > HUGE && kind(name) == Some(ParamKind::Trainable) => {
                    format!("the updates made `{name}` huge ({x:e}): {}{adam}", lower(10.0))
                }
                Some((name, x)) if x.abs() > HUGE => format!(
                    "`{name}` ({x:e}) is not learned by the updates: batch norm's running statistics come from the \
                     batches seen (or from the weights file) and are used only in the test pass; was the file damaged?"
                ),
                _ => "the weights are moderate, yet a value overflows f32 in inference mode (batch norm with its \
                      running statistics, no dropout): look for large `scale` factors"
                    .into(),
            }
        }
        // The message says it all; what is on disk follows for a file that changed.
        TrainError::Data(crate::data::DataError::ImageChanged { .. }) if args.save.is_some() => String::new(),
        TrainError::Data(_) | TrainError::Observer(_) => return String::new(),
    };
    let disk = match (&args.save, saved, resumed) {
        (None, _, _) => String::new(),
        (Some(p), Some(k), _) => format!("{} holds epoch {k}, the last good one", p.display()),
        (Some(p), None, Some(k)) if args.resume.as_ref() == Some(p) => {
            format!("{} still holds epoch {k}, the last good one", p.display())
        }
        (Some(p), None, _) => format!("nothing was saved to {}", p.display()),
    };
    let sep = if cause.is_empty() || disk.is_empty() { "" } else { "; " };
    format!("\nhint: {cause}{sep}{disk}")
}
