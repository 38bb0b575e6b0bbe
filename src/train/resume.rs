//! Optimizer state in checkpoints, so that `--resume` continues exactly where a run
//! stopped: moment tensors as `optimizer.m.<name>` / `optimizer.v.<name>` (momentum
//! buffers and first moments in `m`; Adam's second moments and RMSprop's mean squares
//! in `v`), and the update count, optimizer kind and completed epochs as metadata, with
//! the constants of the rule for the record (`netc.optimizer.momentum`, `.rms_decay`,
//! `.rms_eps`; not required when loading, and not compared: the flags of the resumed
//! run apply, like its `--lr`).

use super::checkpoint::{Extra, Loaded, OPTIMIZER_PREFIX};
use super::optim::{Optimizer, MAX_EPOCHS, MAX_UPDATES};
use crate::runtime::update::Rule;
use crate::runtime::ParamStore;

/// The optimizer's moment tensors, named after their parameters.
pub fn optimizer_tensors(opt: &Optimizer, store: &ParamStore) -> Extra {
    let mut out = Extra::new();
    for (tag, moments) in [("m", &opt.m), ("v", &opt.v)] {
        for (i, m) in moments.iter().enumerate().filter(|(_, m)| !m.is_empty()) {
            let info = &store.infos[i];
            out.push((format!("{OPTIMIZER_PREFIX}{tag}.{}", info.name), info.dims.clone(), m.clone()));
        }
    }
    out
}

/// Metadata entries describing the optimizer.
pub fn optimizer_metadata(opt: &Optimizer) -> Vec<(String, String)> {
    let mut meta =
        vec![("netc.optimizer".into(), opt.kind.name().into()), ("netc.optimizer.t".into(), opt.t.to_string())];
    let mut put = |k: &str, x: f32| meta.push((format!("netc.optimizer.{k}"), x.to_string()));
    match opt.rule {
        Rule::Nesterov { mu } => put("momentum", mu),
        Rule::RmsProp { decay, momentum, eps } => {
            put("rms_decay", decay);
            put("rms_eps", eps);
            put("momentum", momentum);
        }
        // Momentum's and Adam's constants are the fixed ones of netc before --momentum;
        // left out so that their checkpoints stay as they were.
        Rule::Momentum { mu } if mu != 0.9 => put("momentum", mu),
        _ => {}
    }
    meta
}

/// Restores the optimizer from a loaded checkpoint; returns the number of completed
/// epochs. Every value is checked before anything is changed: the counters must parse
/// and be in range (at most [`MAX_EPOCHS`] epochs and [`MAX_UPDATES`] updates, at least
/// one update per epoch), every moment of this net and optimizer must be there with
/// its size, second moments must not be negative, and no other `optimizer.` tensor may
/// be present. (The loader has already refused NaN and infinity.)
pub fn restore_optimizer(opt: &mut Optimizer, store: &ParamStore, loaded: &Loaded) -> Result<usize, String> {
    let meta = |k: &str| {
        loaded.metadata.get(k).ok_or_else(|| format!("no `{k}` entry: not a checkpoint written by `netc run --save`"))
    };
    let number = |k: &str, max: u64| -> Result<u64, String> {
        let text = meta(k)?;
        let n: u64 = text.trim().parse().map_err(|_| format!("the `{k}` entry `{text}` is not a whole number"))?;
        if n > max {
            return Err(format!("the `{k}` entry {n} is beyond any real run (at most {max}): the file is damaged"));
        }
        Ok(n)
    };
    let epochs = number("netc.epoch", MAX_EPOCHS as u64)? as usize;
    let kind = meta("netc.optimizer")?;
    if kind != opt.kind.name() {
        return Err(format!("saved with --optimizer {kind}, resumed with --optimizer {}", opt.kind.name()));
    }
    let t = number("netc.optimizer.t", MAX_UPDATES)?;
    if t < epochs as u64 {
        return Err(format!(
            "the `netc.optimizer.t` entry {t} counts fewer updates than the {epochs} epochs the file holds \
             (every epoch makes at least one): the file is damaged"
        ));
    }
    let mut expected = std::collections::HashSet::new();
    for (tag, moments) in [("m", &opt.m), ("v", &opt.v)] {
        for (i, m) in moments.iter().enumerate().filter(|(_, m)| !m.is_empty()) {
            let name = Optimizer::moment_name(tag, store, i);
            match loaded.extra.get(&name) {
                Some(v) if v.len() != m.len() => return Err(format!("`{name}` has the wrong size")),
                Some(v) if tag == "v" => {
                    if let Some(x) = v.iter().find(|&&x| x < 0.0) {
                        return Err(format!(
                            "`{name}` holds a negative second moment ({x}); {}'s second moments are averages of \
                             squares: the file is damaged",
                            if opt.kind == super::OptimizerKind::RmsProp { "RMSprop" } else { "Adam" }
                        ));
                    }
                }
                Some(_) => {}
                None => return Err(format!("`{name}` is missing")),
            }
            expected.insert(name);
        }
    }
    let mut stray: Vec<&String> = loaded.extra.keys().filter(|k| !expected.contains(*k)).collect();
    stray.sort();
    if let Some(first) = stray.first() {
        return Err(format!(
            "`{first}` is not optimizer state of this net with --optimizer {}{}",
            opt.kind.name(),
            if stray.len() > 1 { format!(" ({} such tensors)", stray.len()) } else { String::new() }
        ));
    }
    for (tag, moments) in [("m", &mut opt.m), ("v", &mut opt.v)] {
        for (i, m) in moments.iter_mut().enumerate().filter(|(_, m)| !m.is_empty()) {
            m.copy_from_slice(&loaded.extra[&Optimizer::moment_name(tag, store, i)]);
        }
    }
    opt.t = t;
    Ok(epochs)
}
