//! The built-in layers: their signatures, and how their arguments become an [`Op`].

use super::args::ArgVal;
use super::value::Value;
use crate::diag::{codes, Diagnostic, Span};
use crate::ir::*;
use std::sync::Arc;

/// A parameter's expected kind of value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A positive integer.
    Count,
    /// `k`, `KHxKW` or `[kh, kw]`, positive.
    Pair,
    /// `p`, `PHxPW`, `[top, bottom, left, right]`, `same` or `valid`.
    Pad,
    Bool,
    /// A positive number.
    Float,
    /// A probability in [0, 1).
    Prob,
    /// Any number.
    Number,
    /// A list of lists of input channels, one per output channel.
    Table,
    /// Zero channels: `n` before and after, or `[before, after]`, non-negative.
    ChannelPad,
    /// An initialiser's name: `glorot_uniform`, `he_normal`, ... (see `ir::WEIGHT_INITS`).
    Init,
}

/// A parameter's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dflt {
    Required,
    /// Optional with no value (e.g. no connection table).
    Absent,
    Int(i64),
    Float(f64),
    Bool(bool),
    Sym(&'static str),
    /// The value of another parameter (pooling stride = kernel).
    Same(&'static str),
}

pub struct P {
    pub name: &'static str,
    pub ty: Ty,
    pub default: Dflt,
}

pub struct Sig {
    pub name: &'static str,
    pub params: &'static [P],
}

const fn p(name: &'static str, ty: Ty, default: Dflt) -> P {
    P { name, ty, default }
}

use Ty::*;

/// Every built-in layer. `id` (identity) is handled by the elaborator.
pub static BUILTINS: &[Sig] = &[
    Sig {
        name: "conv",
        params: &[
            p("out", Count, Dflt::Required),
            p("kernel", Pair, Dflt::Required),
            p("stride", Pair, Dflt::Int(1)),
            p("pad", Pad, Dflt::Int(0)),
            p("groups", Count, Dflt::Int(1)),
            p("bias", Ty::Bool, Dflt::Bool(true)),
            p("table", Table, Dflt::Absent),
            p("init", Init, Dflt::Absent),
            p("bias_init", Number, Dflt::Absent),
        ],
    },
    Sig {
        name: "maxpool",
        params: &[
            p("kernel", Pair, Dflt::Required),
            p("stride", Pair, Dflt::Same("kernel")),
            p("pad", Pad, Dflt::Int(0)),
            p("ceil", Ty::Bool, Dflt::Bool(false)),
        ],
    },
    Sig {
        name: "avgpool",
        params: &[
            p("kernel", Pair, Dflt::Required),
            p("stride", Pair, Dflt::Same("kernel")),
            p("pad", Pad, Dflt::Int(0)),
            p("ceil", Ty::Bool, Dflt::Bool(false)),
            p("count_pad", Ty::Bool, Dflt::Bool(true)),
        ],
    },
    Sig { name: "gap", params: &[] },
    Sig {
        name: "dense",
        params: &[
            p("out", Count, Dflt::Required),
            p("bias", Ty::Bool, Dflt::Bool(true)),
            p("init", Init, Dflt::Absent),
            p("bias_init", Number, Dflt::Absent),
        ],
    },
    Sig { name: "flatten", params: &[] },
    Sig {
        name: "bn",
        params: &[
            p("eps", Ty::Float, Dflt::Float(1e-5)),
            p("momentum", Prob, Dflt::Float(0.1)),
            p("gamma_init", Number, Dflt::Absent),
            p("beta_init", Number, Dflt::Absent),
        ],
    },
    Sig {
        name: "lrn",
        params: &[
            p("size", Count, Dflt::Int(5)),
            p("alpha", Ty::Float, Dflt::Float(1e-4)),
            p("beta", Ty::Float, Dflt::Float(0.75)),
            p("k", Ty::Float, Dflt::Float(1.0)),
        ],
    },
    Sig { name: "dropout", params: &[p("p", Prob, Dflt::Float(0.5))] },
    Sig { name: "relu", params: &[] },
    Sig { name: "leaky_relu", params: &[p("slope", Prob, Dflt::Float(0.01))] },
    Sig { name: "tanh", params: &[] },
    Sig { name: "sigmoid", params: &[] },
    Sig { name: "softmax", params: &[] },
    Sig { name: "scaled_tanh", params: &[p("a", Number, Dflt::Float(1.7159)), p("s", Number, Dflt::Float(2.0 / 3.0))] },
    Sig { name: "subsample", params: &[p("kernel", Count, Dflt::Int(2))] },
    Sig { name: "rbf", params: &[p("classes", Count, Dflt::Required), p("trainable", Ty::Bool, Dflt::Bool(false))] },
    Sig { name: "zeropad", params: &[p("pad", Pad, Dflt::Int(0)), p("channels", ChannelPad, Dflt::Int(0))] },
    Sig { name: "scale", params: &[p("factor", Number, Dflt::Required)] },
];

pub fn lookup(name: &str) -> Option<&'static Sig> {
    BUILTINS.iter().find(|s| s.name == name)
}

/// Names the user may not rebind.
pub fn is_reserved(name: &str) -> bool {
    lookup(name).is_some() || matches!(name, "in" | "id" | "same" | "valid")
}

impl Sig {
    pub fn param_names(&self) -> Vec<&'static str> {
        self.params.iter().map(|p| p.name).collect()
    }
}

/// A call's bound arguments with typed accessors; errors point at the argument.
pub struct Args<'a> {
    pub sig: &'static Sig,
    pub slots: &'a [Option<ArgVal>],
    pub call: Span,
}

type Result<T> = std::result::Result<T, Diagnostic>;

impl Args<'_> {
    fn index(&self, name: &str) -> usize {
        self.sig
            .params
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("builtin `{}` has no parameter `{name}`", self.sig.name))
    }

    /// Where the argument was written, or the call if it took its default.
    pub fn span(&self, name: &str) -> Span {
        self.slots[self.index(name)].as_ref().map_or(self.call, |a| a.span)
    }

    pub(super) fn value(&self, name: &str) -> Result<Option<Value>> {
        let i = self.index(name);
        if let Some(a) = &self.slots[i] {
            return Ok(Some(a.value.clone()));
        }
        Ok(match self.sig.params[i].default {
            Dflt::Required => {
                return Err(Diagnostic::error(
                    codes::ARGUMENTS,
                    format!("`{}` needs its `{name}` argument", self.sig.name),
                    self.call,
                    format!("`{name}` missing"),
                )
                .with_hint(format!(
                    "`{}` takes ({})",
                    self.sig.name,
                    self.sig.param_names().join(", ")
                )));
            }
            Dflt::Absent => None,
            Dflt::Int(i) => Some(Value::Int(i)),
            Dflt::Float(x) => Some(Value::Float(x)),
            Dflt::Bool(b) => Some(Value::Bool(b)),
            Dflt::Sym(s) => Some(Value::Sym(s)),
            Dflt::Same(other) => self.value(other)?,
        })
    }

    pub(super) fn bad(&self, name: &str, expected: &str, got: &Value) -> Diagnostic {
        let code = match got {
            Value::Int(i) if *i <= 0 => codes::NON_POSITIVE,
            _ => codes::BAD_VALUE,
        };
        Diagnostic::error(
            code,
            format!("`{name}` of `{}` must be {expected}", self.sig.name),
            self.span(name),
            format!("this is {got}"),
        )
    }

    pub fn count(&self, name: &str) -> Result<u64> {
        let v = self.value(name)?.expect("count parameters have defaults or are required");
        positive(&v).ok_or_else(|| self.bad(name, "a positive integer", &v))
    }

    pub fn pair(&self, name: &str) -> Result<(u64, u64)> {
        let v = self.value(name)?.expect("pair parameters have defaults or are required");
        let pair = match &v {
            Value::Int(_) => positive(&v).map(|k| (k, k)),
            Value::List(items) if items.len() == 2 => positive(&items[0]).zip(positive(&items[1])),
            _ => None,
        };
        pair.ok_or_else(|| self.bad(name, "a positive integer, `HxW` or `[h, w]`", &v))
    }

    pub fn boolean(&self, name: &str) -> Result<bool> {
        match self.value(name)?.expect("bool parameters have defaults") {
            Value::Bool(b) => Ok(b),
            v => Err(self.bad(name, "`true` or `false`", &v)),
        }
    }

    pub fn float(&self, name: &str) -> Result<f64> {
        let v = self.value(name)?.expect("float parameters have defaults or are required");
        let ty = self.sig.params[self.index(name)].ty;
        match (ty, v.as_f64()) {
            (Ty::Float, Some(x)) if x > 0.0 => Ok(x),
            (Prob, Some(x)) if (0.0..1.0).contains(&x) => Ok(x),
            (Number, Some(x)) => Ok(x),
            (Ty::Float, _) => Err(self.bad(name, "a positive number", &v)),
            (Prob, _) => Err(self.bad(name, "a number in [0, 1)", &v)),
            _ => Err(self.bad(name, "a number", &v)),
        }
    }

    /// Explicit padding, with `same` resolved for this kernel, stride and input size
    /// (TensorFlow's rule: output = ceil(input / stride); an odd total puts the extra
    /// row/column at the bottom/right).
    pub fn pad(&self, name: &str, k: (u64, u64), s: (u64, u64), hw: (u64, u64)) -> Result<Pad2d> {
        let v = self.value(name)?.expect("pad parameters have defaults or are required");
        let nonneg = |v: &Value| match v {
            Value::Int(i) if *i >= 0 => Some(*i as u64),
            _ => None,
        };
        let pad = match &v {
            Value::Sym("valid") => Some(Pad2d::default()),
            Value::Sym(_) if self.sig.name == "zeropad" => None,
            Value::Sym(_) => Some(same_pad(k, s, hw)),
            Value::Int(_) => nonneg(&v).map(Pad2d::uniform),
            Value::List(l) if l.len() == 2 => {
                nonneg(&l[0]).zip(nonneg(&l[1])).map(|(h, w)| Pad2d { top: h, bottom: h, left: w, right: w })
            }
            Value::List(l) if l.len() == 4 => {
                let v: Option<Vec<u64>> = l.iter().map(nonneg).collect();
                v.map(|v| Pad2d { top: v[0], bottom: v[1], left: v[2], right: v[3] })
            }
            _ => None,
        };
        let expected = if self.sig.name == "zeropad" {
            "a non-negative integer, `HxW` or `[top, bottom, left, right]`"
        } else {
            "a non-negative integer, `HxW`, `[top, bottom, left, right]`, `same` or `valid`"
        };
        pad.ok_or_else(|| {
            Diagnostic::error(
                codes::BAD_VALUE,
                format!("`{name}` of `{}` must be {expected}", self.sig.name),
                self.span(name),
                format!("this is {v}"),
            )
        })
    }

    /// Whether the call wrote this argument (or a `default` declaration supplied it).
    pub fn given(&self, name: &str) -> bool {
        self.slots[self.index(name)].is_some()
    }

    /// Channel padding: `n` zero channels before and after, or `[before, after]`.
    pub fn channel_pad(&self, name: &str) -> Result<(u64, u64)> {
        let v = self.value(name)?.expect("channel padding has a default");
        let nonneg = |v: &Value| match v {
            Value::Int(i) if *i >= 0 => Some(*i as u64),
            _ => None,
        };
        let pair = match &v {
            Value::Int(_) => nonneg(&v).map(|n| (n, n)),
            Value::List(l) if l.len() == 2 => nonneg(&l[0]).zip(nonneg(&l[1])),
            _ => None,
        };
        pair.ok_or_else(|| {
            Diagnostic::error(
                codes::BAD_VALUE,
                format!(
                    "`{name}` of `{}` must be a non-negative integer (zero channels before and after) or `[before, after]`",
                    self.sig.name
                ),
                self.span(name),
                format!("this is {v}"),
            )
        })
    }

    pub fn table(&self, name: &str) -> Result<Option<ConnTable>> {
        let Some(v) = self.value(name)? else {
            return Ok(None);
        };
        let channel = |v: &Value| match v {
            Value::Int(i) => u32::try_from(*i).ok(),
            _ => None,
        };
        let rows = match &v {
            Value::List(rows) => rows
                .iter()
                .map(|r| match r {
                    Value::List(cs) => cs.iter().map(channel).collect::<Option<Vec<u32>>>(),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        rows.map(|inputs| Some(ConnTable { inputs }))
            .ok_or_else(|| self.bad(name, "a list with, per output channel, the list of its input channels", &v))
    }
}

fn positive(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) if *i > 0 => Some(*i as u64),
        _ => None,
    }
}

fn same_pad(k: (u64, u64), s: (u64, u64), hw: (u64, u64)) -> Pad2d {
    let axis = |n: u64, k: u64, s: u64| {
        let out = n.div_ceil(s.max(1));
        let total = ((out.saturating_sub(1)).saturating_mul(s).saturating_add(k)).saturating_sub(n);
        (total / 2, total - total / 2)
    };
    let (top, bottom) = axis(hw.0, k.0, s.0);
    let (left, right) = axis(hw.1, k.1, s.1);
    Pad2d { top, bottom, left, right }
}

/// Builds the op of a built-in layer applied to an input of shape `x`.
pub fn build(a: &Args, x: Shape) -> Result<Op> {
    let window = |a: &Args| -> Result<Window> {
        let (kh, kw) = a.pair("kernel")?;
        let (sh, sw) = a.pair("stride")?;
        let pad = a.pad("pad", (kh, kw), (sh, sw), x.spatial())?;
        Ok(Window { kh, kw, sh, sw, pad })
    };
    Ok(match a.sig.name {
        "conv" => {
            let table = a.table("table")?;
            let groups = a.count("groups")?;
            if table.is_some() && groups != 1 {
                return Err(Diagnostic::error(
                    codes::CHANNELS,
                    "a convolution takes either `groups` or a connection `table`, not both",
                    a.span("groups"),
                    "groups given here",
                ));
            }
            Op::Conv(Conv {
                in_c: x.channels(),
                out_c: a.count("out")?,
                window: window(a)?,
                groups,
                bias: a.boolean("bias")?,
                table: table.map(Arc::new),
            })
        }
        "maxpool" | "avgpool" => {
            let max = a.sig.name == "maxpool";
            Op::Pool(Pool {
                kind: if max { PoolKind::Max } else { PoolKind::Avg },
                window: window(a)?,
                ceil: a.boolean("ceil")?,
                count_pad: !max && a.boolean("count_pad")?,
            })
        }
        "gap" => Op::GlobalAvgPool,
        "dense" => {
            Op::Dense(Dense { in_features: x.channels(), out_features: a.count("out")?, bias: a.boolean("bias")? })
        }
        "flatten" => Op::Flatten,
        "bn" => {
            Op::BatchNorm(BatchNorm { channels: x.channels(), eps: a.float("eps")?, momentum: a.float("momentum")? })
        }
        "lrn" => {
            Op::Lrn(Lrn { size: a.count("size")?, alpha: a.float("alpha")?, beta: a.float("beta")?, k: a.float("k")? })
        }
        "dropout" => Op::Dropout { p: a.float("p")? },
        "relu" => Op::Act(Act::Relu),
        "leaky_relu" => Op::Act(Act::LeakyRelu { slope: a.float("slope")? }),
        "tanh" => Op::Act(Act::Tanh),
        "sigmoid" => Op::Act(Act::Sigmoid),
        "softmax" => Op::Softmax,
        "scaled_tanh" => Op::Act(Act::ScaledTanh { a: a.float("a")?, s: a.float("s")? }),
        "subsample" => Op::Subsample(Subsample { channels: x.channels(), k: a.count("kernel")? }),
        "rbf" => {
            Op::Rbf(Rbf { in_features: x.channels(), classes: a.count("classes")?, trainable: a.boolean("trainable")? })
        }
        "zeropad" => zeropad(a, x)?,
        "scale" => Op::Scale { factor: a.float("factor")? },
        other => unreachable!("builtin `{other}` has no builder"),
    })
}

/// `zeropad`: spatial `pad` and channel padding `channels`; a call must write at least one.
fn zeropad(a: &Args, x: Shape) -> Result<Op> {
    if !a.given("pad") && !a.given("channels") {
        return Err(Diagnostic::error(
            codes::ARGUMENTS,
            "`zeropad` needs `pad`, `channels` or both",
            a.call,
            "nothing to pad",
        )
        .with_hint("`zeropad(1)` adds a zero row and column on each side, `zeropad(channels = 8)` 8 zero channels before and after"));
    }
    let (channels_before, channels_after) = a.channel_pad("channels")?;
    let spatial = a.pad("pad", (1, 1), (1, 1), x.spatial())?;
    Ok(Op::ZeroPad(ZeroPad { channels_before, channels_after, spatial }))
}
