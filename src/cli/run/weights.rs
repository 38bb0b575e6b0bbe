//! Where training starts from: `--weights` (every tensor, or with `--finetune` those whose
//! name and shape match, with a report of what was taken and what was initialised) and
//! `--freeze` (tensors the optimizer leaves unchanged).

use super::{loaded, Fail, RunArgs};
use crate::cli::{out, EXIT_USAGE};
use crate::driver;
use crate::runtime::ParamStore;
use std::path::Path;

/// `--weights` for training: every tensor, or with `--finetune` those that match, with a
/// report of what was taken and what was left as initialised.
pub(super) fn start_from(path: &Path, args: &RunArgs, store: &mut ParamStore) -> Result<(), Fail> {
    if !args.finetune {
        let hint = "hint: to take only the tensors whose name and shape match (weights trained for another class \
                    count, say) and initialise the rest, add --finetune";
        return match driver::weights::load(path, store) {
            Err(e) if e.is_another_net() => Err(Fail(EXIT_USAGE, format!("error: {e}\n{hint}"))),
            result => loaded(result).map(|_| ()),
        };
    }
    let loaded = loaded(driver::weights::load_matching(path, store))?;
    let m = loaded.matching.expect("load_matching reports its matching");
    let values = |names: &mut dyn Iterator<Item = &String>| -> usize {
        names.filter_map(|n| store.find(n)).map(|i| store.values[i].len()).sum()
    };
    out(&format!(
        "fine-tuning from {}: loaded {} of {} tensors ({} values)\n",
        path.display(),
        m.loaded.len(),
        store.infos.len(),
        values(&mut m.loaded.iter())
    ));
    if !m.kept.is_empty() {
        out(&format!(
            "initialised {} tensors ({} values):\n",
            m.kept.len(),
            values(&mut m.kept.iter().map(|(n, _)| n))
        ));
        for (name, why) in &m.kept {
            out(&format!("  {name}: {why}\n"));
        }
    }
    if !m.unused.is_empty() {
        let some: Vec<&str> = m.unused.iter().take(5).map(String::as_str).collect();
        let more = if m.unused.len() > 5 { format!(", … ({} in all)", m.unused.len()) } else { String::new() };
        out(&format!("not used: {}{more}\n", some.join(", ")));
    }
    Ok(())
}

/// Marks the tensors under the `--freeze` prefixes as frozen; a prefix that matches no
/// trainable tensor is an error naming the closest layer path.
pub(super) fn freeze(args: &RunArgs, store: &mut ParamStore) -> Result<(), Fail> {
    if args.freeze.is_empty() {
        return Ok(());
    }
    let under = |name: &str, prefix: &str| {
        name == prefix || name.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))
    };
    let trainable: Vec<usize> = store.trainable().collect();
    store.frozen = vec![false; store.infos.len()];
    for prefix in &args.freeze {
        let hits: Vec<usize> = trainable.iter().copied().filter(|&i| under(&store.infos[i].name, prefix)).collect();
        if hits.is_empty() {
            let near = store.infos.iter().map(|i| i.name.as_str()).find(|n| n.contains(prefix.as_str()));
            let hint = near.map_or(String::new(), |n| format!(" (a tensor named like it: {n})"));
            return Err(Fail(
                EXIT_USAGE,
                format!(
                    "error: --freeze {prefix}: no trainable tensor of {} is under that layer path{hint}",
                    args.net.display()
                ),
            ));
        }
        for i in hits {
            store.frozen[i] = true;
        }
    }
    let frozen: Vec<usize> = (0..store.infos.len()).filter(|&i| store.frozen[i]).collect();
    let values: usize = frozen.iter().map(|&i| store.values[i].len()).sum();
    let total: usize = trainable.iter().map(|&i| store.values[i].len()).sum();
    out(&format!(
        "frozen: {} of {} trainable tensors ({values} of {total} values) under {}\n",
        frozen.len(),
        trainable.len(),
        args.freeze.join(", ")
    ));
    Ok(())
}
