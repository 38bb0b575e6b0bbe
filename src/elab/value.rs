//! Compile-time values (block arguments, `let` bindings, layer arguments) and the
//! evaluation of expressions over them. Integer arithmetic is checked: overflow and
//! division by zero are errors, never wrapped values.

use super::env::{Env, Lookup};
use super::suggest;
use crate::diag::{codes, Diagnostic, Span};
use crate::syntax::ast::{BinOp, Expr, ExprKind, UnOp};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Value>),
    /// `same` or `valid` (padding modes), or an initialiser's name (`he_normal`).
    Sym(&'static str),
}

/// Names that evaluate to symbols unless shadowed (the initialisers' names too).
pub const SYMBOLS: [&str; 2] = ["same", "valid"];

/// The symbol `n` denotes, if any.
fn symbol(n: &str) -> Option<&'static str> {
    SYMBOLS.iter().chain(crate::ir::WEIGHT_INITS.iter().map(|(s, _)| s)).find(|s| **s == n).copied()
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::List(_) => "a list",
            Value::Sym("same" | "valid") => "a padding mode",
            Value::Sym(_) => "an initialiser",
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Sym(s) => write!(f, "{s}"),
            Value::List(v) => {
                let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

type Result<T> = std::result::Result<T, Diagnostic>;

/// Evaluates an expression in an environment.
pub fn eval(e: &Expr, env: &Env) -> Result<Value> {
    match &e.kind {
        ExprKind::Int(i) => Ok(Value::Int(*i)),
        ExprKind::Float(x) => Ok(Value::Float(*x)),
        ExprKind::Bool(b) => Ok(Value::Bool(*b)),
        ExprKind::Dims(d) => Ok(Value::List(d.iter().map(|&i| Value::Int(i)).collect())),
        ExprKind::List(items) => Ok(Value::List(items.iter().map(|x| eval(x, env)).collect::<Result<_>>()?)),
        ExprKind::Name(n) => name(n, e.span, env),
        ExprKind::Field(base, field) => field_of(base, &field.name, field.span, env),
        ExprKind::Unary(op, x) => unary(*op, eval(x, env)?, e.span),
        ExprKind::Binary(op, a, b) => binary(*op, a, b, e.span, env),
        ExprKind::If(c, a, b) => {
            if truth(&eval(c, env)?, c.span)? {
                eval(a, env)
            } else {
                eval(b, env)
            }
        }
    }
}

fn name(n: &str, span: Span, env: &Env) -> Result<Value> {
    match env.lookup(n) {
        Lookup::Value(v) => Ok(v),
        Lookup::Tensor(_) => {
            Err(Diagnostic::error(codes::MISUSE, format!("`{n}` is a tensor, not a value"), span, "a tensor")
                .with_hint(format!(
            "use its shape, e.g. `{n}.c` for its channels; to apply a layer to it, start a chain with it: `{n} relu`"
        )))
        }
        Lookup::Missing if symbol(n).is_some() => Ok(Value::Sym(symbol(n).expect("checked"))),
        Lookup::Missing => {
            let mut d =
                Diagnostic::error(codes::UNKNOWN_NAME, format!("unknown value `{n}`"), span, "not defined here");
            let names = env.value_names();
            let inits = crate::ir::WEIGHT_INITS.iter().map(|(s, _)| *s);
            if let Some(s) = suggest::closest(n, names.iter().map(String::as_str).chain(inits)) {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            Err(d)
        }
    }
}

fn field_of(base: &Expr, field: &str, span: Span, env: &Env) -> Result<Value> {
    let ExprKind::Name(n) = &base.kind else {
        return Err(Diagnostic::error(codes::MISUSE, "only tensors have fields", base.span, "not a tensor name"));
    };
    let shape = match env.lookup(n) {
        Lookup::Tensor(s) => s,
        Lookup::Value(v) => {
            return Err(Diagnostic::error(
                codes::MISUSE,
                format!("`{n}` is {}, not a tensor", v.type_name()),
                base.span,
                "has no fields",
            ))
        }
        Lookup::Missing => {
            return Err(Diagnostic::error(
                codes::UNKNOWN_NAME,
                format!("unknown tensor `{n}`"),
                base.span,
                "not defined here",
            ))
        }
    };
    let (h, w) = shape.spatial();
    let v = match field {
        "c" => shape.channels(),
        "h" => h,
        "w" => w,
        _ => {
            return Err(Diagnostic::error(
                codes::UNKNOWN_NAME,
                format!("tensors have fields `c`, `h` and `w`, not `{field}`"),
                span,
                "unknown field",
            ));
        }
    };
    i64::try_from(v)
        .map(Value::Int)
        .map_err(|_| Diagnostic::error(codes::ARITHMETIC, "size does not fit in a 64-bit integer", span, "too large"))
}

fn unary(op: UnOp, v: Value, span: Span) -> Result<Value> {
    match (op, v) {
        (UnOp::Neg, Value::Int(i)) => i.checked_neg().map(Value::Int).ok_or_else(|| overflow(span)),
        (UnOp::Neg, Value::Float(x)) => Ok(Value::Float(-x)),
        (UnOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (op, v) => {
            Err(type_error(span, if op == UnOp::Neg { "`-` needs a number" } else { "`not` needs a boolean" }, &v))
        }
    }
}

fn binary(op: BinOp, a: &Expr, b: &Expr, span: Span, env: &Env) -> Result<Value> {
    // `and` / `or` short-circuit, so `i > 0 and n / i > 2` is safe.
    if matches!(op, BinOp::And | BinOp::Or) {
        let lhs = truth(&eval(a, env)?, a.span)?;
        if (op == BinOp::And) != lhs {
            return Ok(Value::Bool(lhs));
        }
        return Ok(Value::Bool(truth(&eval(b, env)?, b.span)?));
    }
    let (x, y) = (eval(a, env)?, eval(b, env)?);
    match (&x, &y) {
        (Value::Int(i), Value::Int(j)) => int_op(op, *i, *j, span, b.span),
        _ => match (x.as_f64(), y.as_f64()) {
            (Some(p), Some(q)) => float_op(op, p, q, span),
            _ if matches!(op, BinOp::Eq | BinOp::Ne) => Ok(Value::Bool((x == y) == (op == BinOp::Eq))),
            _ => Err(Diagnostic::error(
                codes::BAD_VALUE,
                format!("`{}` cannot combine {} and {}", op.symbol(), x.type_name(), y.type_name()),
                span,
                format!("{x} {} {y}", op.symbol()),
            )),
        },
    }
}

fn int_op(op: BinOp, i: i64, j: i64, span: Span, rhs: Span) -> Result<Value> {
    let arith = |r: Option<i64>| r.map(Value::Int).ok_or_else(|| overflow(span));
    match op {
        BinOp::Add => arith(i.checked_add(j)),
        BinOp::Sub => arith(i.checked_sub(j)),
        BinOp::Mul => arith(i.checked_mul(j)),
        BinOp::Div | BinOp::Rem if j == 0 => {
            Err(Diagnostic::error(codes::ARITHMETIC, "division by zero", rhs, "this is 0"))
        }
        BinOp::Div => arith(i.checked_div(j)),
        BinOp::Rem => arith(i.checked_rem(j)),
        _ => Ok(Value::Bool(compare(op, i.cmp(&j)))),
    }
}

fn float_op(op: BinOp, p: f64, q: f64, span: Span) -> Result<Value> {
    let v = match op {
        BinOp::Add => p + q,
        BinOp::Sub => p - q,
        BinOp::Mul => p * q,
        BinOp::Div if q == 0.0 => {
            return Err(Diagnostic::error(codes::ARITHMETIC, "division by zero", span, "divides by 0"))
        }
        BinOp::Div => p / q,
        BinOp::Rem => p % q,
        _ => return Ok(Value::Bool(p.partial_cmp(&q).is_some_and(|o| compare(op, o)))),
    };
    if v.is_finite() {
        Ok(Value::Float(v))
    } else {
        Err(overflow(span))
    }
}

fn compare(op: BinOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        BinOp::Eq => o == Equal,
        BinOp::Ne => o != Equal,
        BinOp::Lt => o == Less,
        BinOp::Le => o != Greater,
        BinOp::Gt => o == Greater,
        BinOp::Ge => o != Less,
        _ => unreachable!("compare called with an arithmetic operator"),
    }
}

/// A condition's value, which must be a boolean.
pub fn truth(v: &Value, span: Span) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(type_error(span, "a condition must be true or false", other)),
    }
}

fn type_error(span: Span, what: &str, v: &Value) -> Diagnostic {
    Diagnostic::error(codes::BAD_VALUE, what.to_string(), span, format!("this is {} ({v})", v.type_name()))
}

fn overflow(span: Span) -> Diagnostic {
    Diagnostic::error(codes::ARITHMETIC, "arithmetic overflow", span, "the result does not fit in a 64-bit integer")
}
