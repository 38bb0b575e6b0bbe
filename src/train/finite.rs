//! Sanity of the numbers training is about to use or save: weights and state that must
//! be finite, and loaded running statistics that must make sense. Consumes a
//! [`ParamStore`]; produces the name of the first offending tensor, so that messages can
//! point at it. Nothing here changes a value.

use crate::runtime::ParamStore;

/// The first tensor of the store holding NaN or infinity, if any.
pub fn first_non_finite(store: &ParamStore) -> Option<&str> {
    store.infos.iter().zip(&store.values).find(|(_, v)| v.iter().any(|x| !x.is_finite())).map(|(i, _)| i.name.as_str())
}

/// The value of largest magnitude in the store and the tensor holding it: when outputs
/// overflow while every weight is finite, this is usually why.
pub fn largest_magnitude(store: &ParamStore) -> Option<(String, f32)> {
    let mut best: Option<(usize, f32)> = None;
    for (i, v) in store.values.iter().enumerate() {
        for &x in v.iter().filter(|x| x.is_finite()) {
            if best.is_none_or(|(_, b)| x.abs() > b.abs()) {
                best = Some((i, x));
            }
        }
    }
    best.map(|(i, x)| (store.infos[i].name.clone(), x))
}

/// Refuses loaded values no training run can produce: a negative running variance
/// (batch norm takes its square root at inference). Non-finite values are refused by
/// the loader already.
pub fn check_loaded(store: &ParamStore) -> Result<(), String> {
    for (info, v) in store.infos.iter().zip(&store.values) {
        if info.role == "running_var" {
            if let Some(x) = v.iter().find(|&&x| x < 0.0) {
                return Err(format!(
                    "tensor `{}` holds a negative variance ({x}); a variance is never negative: the file is damaged",
                    info.name
                ));
            }
        }
    }
    Ok(())
}
