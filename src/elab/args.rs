//! Matching a call's arguments to parameters: positional first, then keywords,
//! then keyword defaults from `default` declarations.

use super::env::Env;
use super::suggest;
use super::value::{eval, Value};
use crate::diag::{codes, Diagnostic, Span};
use crate::syntax::ast;

/// An argument's value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgVal {
    pub value: Value,
    pub span: Span,
}

/// Binds `args` to `params` by position and keyword; presets (from `default`
/// declarations) fill keywords the call left out. Slots left `None` take the
/// callee's own defaults.
pub fn bind(
    callee: &str,
    params: &[&str],
    args: &[ast::Arg],
    presets: &[(String, ArgVal)],
    env: &Env,
) -> Result<Vec<Option<ArgVal>>, Diagnostic> {
    let mut slots: Vec<Option<ArgVal>> = vec![None; params.len()];
    let mut seen_keyword = false;
    for (pos, arg) in args.iter().enumerate() {
        let index = match &arg.name {
            None if seen_keyword => {
                return Err(Diagnostic::error(
                    codes::ARGUMENTS,
                    "positional argument after a keyword argument",
                    arg.span,
                    "move this before the keyword arguments",
                ));
            }
            None if params.is_empty() => {
                return Err(Diagnostic::error(
                    codes::ARGUMENTS,
                    format!("`{callee}` takes no arguments"),
                    arg.span,
                    "unexpected argument",
                )
                .with_hint(format!("to apply `{callee}` to a tensor or a sum, put it after it: `(a + b) {callee}`")));
            }
            None if pos >= params.len() => {
                let msg = format!(
                    "`{callee}` takes at most {} argument{}, got {}",
                    params.len(),
                    if params.len() == 1 { "" } else { "s" },
                    args.len()
                );
                let mut d = Diagnostic::error(codes::ARGUMENTS, msg, arg.span, "unexpected argument");
                if !params.is_empty() {
                    d = d.with_hint(format!("`{callee}` takes ({})", params.join(", ")));
                }
                return Err(d);
            }
            None => pos,
            Some(name) => {
                seen_keyword = true;
                params.iter().position(|p| *p == name.name).ok_or_else(|| unknown_keyword(callee, params, name))?
            }
        };
        if slots[index].is_some() {
            return Err(Diagnostic::error(
                codes::ARGUMENTS,
                format!("argument `{}` of `{callee}` given twice", params[index]),
                arg.span,
                "given again here",
            ));
        }
        slots[index] = Some(ArgVal { value: eval(&arg.value, env)?, span: arg.value.span });
    }
    for (name, val) in presets {
        if let Some(i) = params.iter().position(|p| p == name) {
            if slots[i].is_none() {
                slots[i] = Some(val.clone());
            }
        }
    }
    Ok(slots)
}

pub fn unknown_keyword(callee: &str, params: &[&str], name: &ast::Ident) -> Diagnostic {
    let mut d = Diagnostic::error(
        codes::ARGUMENTS,
        format!("`{callee}` has no parameter `{}`", name.name),
        name.span,
        "unknown parameter",
    );
    d = match suggest::closest(&name.name, params.iter().copied()) {
        Some(s) => d.with_hint(format!("did you mean `{s}`?")),
        None if params.is_empty() => d.with_hint(format!("`{callee}` takes no arguments")),
        None => d.with_hint(format!("`{callee}` takes ({})", params.join(", "))),
    };
    d
}
