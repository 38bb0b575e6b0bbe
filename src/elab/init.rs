//! The initialiser arguments of a layer (`init`, `bias_init` of `conv` and `dense`;
//! `gamma_init`, `beta_init` of `bn`) read into an [`ir::LayerInit`](crate::ir::LayerInit).

use super::builtins::Args;
use super::value::Value;
use crate::diag::Diagnostic;
use crate::ir::{LayerInit, WeightInit, WEIGHT_INITS};

/// The initialisers a call chose (all `None` for a layer without such parameters).
pub fn layer_init(a: &Args) -> Result<LayerInit, Diagnostic> {
    let has = |n: &str| a.sig.params.iter().any(|p| p.name == n);
    let number = |n: &str| -> Result<Option<f64>, Diagnostic> {
        if !has(n) {
            return Ok(None);
        }
        match a.value(n)? {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(a.bad(n, "a number", &v)),
            },
        }
    };
    let weight = match has("init").then(|| a.value("init")).transpose()?.flatten() {
        None => None,
        Some(Value::Sym(s)) if WeightInit::named(s).is_some() => WeightInit::named(s),
        Some(v) => {
            let names: Vec<&str> = WEIGHT_INITS.iter().map(|(n, _)| *n).collect();
            return Err(a.bad("init", &format!("an initialiser: {}", names.join(", ")), &v));
        }
    };
    let bias = number("bias_init")?;
    if bias.is_some() && !a.boolean("bias")? {
        return Err(Diagnostic::error(
            crate::diag::codes::ARGUMENTS,
            format!("`bias_init` on a `{}` without bias", a.sig.name),
            a.span("bias_init"),
            "there is no bias to initialise",
        ));
    }
    Ok(LayerInit { weight, bias, gamma: number("gamma_init")?, beta: number("beta_init")? })
}
