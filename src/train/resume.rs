//! Optimizer state in checkpoints, so that `--resume` continues exactly where a run
//! stopped: moment tensors as `optimizer.m.<name>` / `optimizer.v.<name>`, and the
//! update count, optimizer kind and completed epochs as metadata.

use super::checkpoint::{Extra, Loaded, OPTIMIZER_PREFIX};
use super::optim::Optimizer;
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
    vec![("netc.optimizer".into(), opt.kind.name().into()), ("netc.optimizer.t".into(), opt.t.to_string())]
}

/// Restores the optimizer from a loaded checkpoint; returns the number of completed epochs.
pub fn restore_optimizer(opt: &mut Optimizer, store: &ParamStore, loaded: &Loaded) -> Result<usize, String> {
    let meta = |k: &str| {
        loaded.metadata.get(k).ok_or_else(|| format!("no `{k}` entry: not a checkpoint written by `netc run --save`"))
    };
    let epochs: usize = meta("netc.epoch")?.parse().map_err(|_| "a malformed `netc.epoch` entry".to_string())?;
    let kind = meta("netc.optimizer")?;
    if kind != opt.kind.name() {
        return Err(format!("saved with --optimizer {kind}, resumed with --optimizer {}", opt.kind.name()));
    }
    let t: u64 = meta("netc.optimizer.t")?.parse().map_err(|_| "a malformed `netc.optimizer.t` entry".to_string())?;
    for (tag, moments) in [("m", &mut opt.m), ("v", &mut opt.v)] {
        for (i, m) in moments.iter_mut().enumerate().filter(|(_, m)| !m.is_empty()) {
            let name = format!("{OPTIMIZER_PREFIX}{tag}.{}", store.infos[i].name);
            match loaded.extra.get(&name) {
                Some(v) if v.len() == m.len() => m.copy_from_slice(v),
                Some(_) => return Err(format!("`{name}` has the wrong size")),
                None => return Err(format!("`{name}` is missing")),
            }
        }
    }
    opt.t = t;
    Ok(epochs)
}
