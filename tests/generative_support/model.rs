//! The generator's own model of a `.net` program: just enough structure to render it
//! as source text (`render`) and to predict its shapes (so that most generated nets are valid).
//! The model follows the README's language reference; it is not netc's elaborator, and
//! where the two disagree the checker decides (a rejected net is still a valid test).

use std::collections::BTreeMap;

/// A per-sample shape, as the checker infers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sh {
    Map(u64, u64, u64),
    Flat(u64),
}

impl Sh {
    pub fn c(self) -> u64 {
        match self {
            Sh::Map(c, ..) | Sh::Flat(c) => c,
        }
    }
    pub fn hw(self) -> (u64, u64) {
        match self {
            Sh::Map(_, h, w) => (h, w),
            Sh::Flat(_) => (1, 1),
        }
    }
    pub fn vector_like(self) -> bool {
        self.hw() == (1, 1)
    }
    pub fn numel(self) -> u64 {
        let (h, w) = self.hw();
        self.c() * h * w
    }
}

/// A value of a block parameter, a `let` or a repeat index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Int(i) => write!(f, "{i}"),
            Val::Float(x) => write!(f, "{x:?}"),
            Val::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// An integer expression.
#[derive(Debug, Clone, PartialEq)]
pub enum E {
    K(i64),
    /// `in.c`, `in.h`.
    InC,
    InH,
    /// A block parameter, a `let` or a repeat index.
    Name(String),
    /// `if <index> == 0 then a else b`.
    IfFirst(String, Box<E>, Box<E>),
    /// `a + <index> * k`.
    PlusIndex(Box<E>, String, i64),
    /// `a / k` (integer division).
    Div(Box<E>, i64),
}

/// A condition of an `if`.
#[derive(Debug, Clone, PartialEq)]
pub enum B {
    Lit(bool),
    Name(String),
    /// `a op b` with op one of `== != < <= > >=`.
    Cmp(E, &'static str, E),
    And(Box<B>, Box<B>),
    Or(Box<B>, Box<B>),
    Not(Box<B>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Pad {
    N(u64),
    Hw(u64, u64),
    Four([u64; 4]),
    Same,
    Valid,
    Expr(E),
}

/// How a kernel size is written: `3`, `1x7` or `[1, 7]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KForm {
    Square,
    Dims,
    List,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    Conv {
        out: E,
        k: (u64, u64),
        form: KForm,
        stride: Option<E>,
        pad: Option<Pad>,
        groups: Option<u64>,
        bias: Option<bool>,
        table: Option<Vec<Vec<u32>>>,
    },
    Pool {
        max: bool,
        k: (u64, u64),
        stride: Option<u64>,
        pad: Option<u64>,
        ceil: Option<bool>,
        count_pad: Option<bool>,
    },
    Gap,
    Dense {
        out: E,
        bias: Option<bool>,
    },
    Flatten,
    Bn {
        eps: Option<f64>,
        momentum: Option<f64>,
    },
    Lrn {
        size: Option<u64>,
        alpha: Option<f64>,
    },
    Dropout(Option<f64>),
    /// relu, tanh, sigmoid, softmax, id (no arguments).
    Plain(&'static str),
    ScaledTanh(Option<(f64, f64)>),
    Subsample(Option<u64>),
    Rbf {
        classes: u64,
        trainable: Option<bool>,
    },
    ZeroPad(Pad),
    Scale(f64),
    /// Deliberately wrong source (an unknown layer, a bad argument): the net must be
    /// rejected with a diagnostic.
    Broken(String),
}

/// A residual term: an optional factor (a number or a parameter name) times a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub factor: Option<String>,
    pub chain: Chain,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Layer(Layer),
    Cat(Vec<Chain>),
    /// `( a + b + ... )`; one term is a (labelled) group.
    Sum(Vec<Term>),
    If(B, Chain, Option<Chain>),
    Repeat {
        n: u64,
        index: Option<String>,
        body: Chain,
    },
    Call {
        block: String,
        args: Vec<(Option<String>, Val)>,
    },
    /// A tensor name (`in` or a block's binding) starting a chain.
    Tensor(String),
}

/// Stages applied one after the other, each optionally labelled.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chain(pub Vec<(Option<String>, Stage)>);

impl Chain {
    pub fn of(stages: Vec<Stage>) -> Chain {
        Chain(stages.into_iter().map(|s| (None, s)).collect())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Bind(String, Chain),
    Flow(Chain),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub name: String,
    pub params: Vec<(String, Option<Val>)>,
    pub body: Vec<Stmt>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Net {
    pub input: (u64, u64),
    /// `default layer(arg = value)` lines, with their effect on shapes (maxpool's ceil).
    pub defaults: Vec<String>,
    pub maxpool_ceil: bool,
    pub lets: Vec<(String, i64)>,
    pub blocks: Vec<Block>,
    pub body: Vec<Chain>,
}

/// What a chain sees: names, `in`, the block's tensors.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub vals: BTreeMap<String, Val>,
    pub tensors: BTreeMap<String, Sh>,
    /// What `in` names: the input of the enclosing block, repeat copy or `if` body.
    pub input: Option<Sh>,
}

impl Env {
    fn input(&self) -> Sim<Sh> {
        self.input.ok_or_else(|| "no `in` here".to_string())
    }

    /// A body nested in this one (a repeat copy, an `if` branch) whose `in` is `x`.
    fn child(&self, x: Sh) -> Env {
        Env { input: Some(x), ..self.clone() }
    }
}

/// Predicted costs of a net (per sample), to keep generated nets cheap.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cost {
    pub macs: u64,
    pub layers: u64,
    pub activations: u64,
}

pub type Sim<T> = Result<T, String>;

impl E {
    pub fn eval(&self, env: &Env) -> Sim<i64> {
        Ok(match self {
            E::K(k) => *k,
            E::InC => env.input()?.c() as i64,
            E::InH => env.input()?.hw().0 as i64,
            E::Name(n) => match env.vals.get(n) {
                Some(Val::Int(i)) => *i,
                v => return Err(format!("{n} is {v:?}, not an integer")),
            },
            E::IfFirst(i, a, b) => {
                if (E::Name(i.clone())).eval(env)? == 0 {
                    a.eval(env)?
                } else {
                    b.eval(env)?
                }
            }
            E::PlusIndex(a, i, k) => a.eval(env)? + E::Name(i.clone()).eval(env)? * k,
            E::Div(a, k) => a.eval(env)? / k,
        })
    }

    fn positive(&self, env: &Env) -> Sim<u64> {
        let v = self.eval(env)?;
        if v <= 0 {
            return Err(format!("{v} is not positive"));
        }
        Ok(v as u64)
    }
}

impl B {
    pub fn eval(&self, env: &Env) -> Sim<bool> {
        Ok(match self {
            B::Lit(b) => *b,
            B::Name(n) => match env.vals.get(n) {
                Some(Val::Bool(b)) => *b,
                v => return Err(format!("{n} is {v:?}, not a boolean")),
            },
            B::Cmp(a, op, b) => {
                let (a, b) = (a.eval(env)?, b.eval(env)?);
                match *op {
                    "==" => a == b,
                    "!=" => a != b,
                    "<" => a < b,
                    "<=" => a <= b,
                    ">" => a > b,
                    _ => a >= b,
                }
            }
            B::And(a, b) => a.eval(env)? && b.eval(env)?,
            B::Or(a, b) => a.eval(env)? || b.eval(env)?,
            B::Not(a) => !a.eval(env)?,
        })
    }
}

/// `out` of one axis of a sliding window, as the checker computes it.
fn axis(n: u64, k: u64, s: u64, lo: u64, hi: u64, ceil: bool) -> Sim<u64> {
    let padded = n + lo + hi;
    if k > padded || s == 0 {
        return Err(format!("window {k} over {padded}"));
    }
    let span = padded - k;
    let mut out = if ceil { span.div_ceil(s) + 1 } else { span / s + 1 };
    if ceil && (out - 1) * s >= n + lo {
        out -= 1;
    }
    Ok(out)
}

/// TensorFlow's `same` padding: output ⌈n / s⌉, the odd extra at the bottom/right.
fn same(n: u64, k: u64, s: u64) -> (u64, u64) {
    let out = n.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(n);
    (total / 2, total - total / 2)
}

impl Pad {
    /// [top, bottom, left, right] for a window `k` with stride `s` over `hw`.
    fn sides(&self, k: (u64, u64), s: (u64, u64), hw: (u64, u64), env: &Env) -> Sim<[u64; 4]> {
        Ok(match self {
            Pad::N(p) => [*p; 4],
            Pad::Hw(a, b) => [*a, *a, *b, *b],
            Pad::Four(f) => *f,
            Pad::Valid => [0; 4],
            Pad::Same => {
                let (t, b) = same(hw.0, k.0, s.0);
                let (l, r) = same(hw.1, k.1, s.1);
                [t, b, l, r]
            }
            Pad::Expr(e) => {
                let v = e.eval(env)?;
                if v < 0 {
                    return Err("negative pad".into());
                }
                [v as u64; 4]
            }
        })
    }
}

impl Net {
    /// The predicted output shape and cost, or why the checker should refuse the net.
    pub fn simulate(&self) -> Sim<(Sh, Cost)> {
        let mut env = Env::default();
        for (n, v) in &self.lets {
            env.vals.insert(n.clone(), Val::Int(*v));
        }
        let mut cost = Cost::default();
        let mut x = Sh::Map(1, self.input.0, self.input.1);
        env.input = Some(x);
        for c in &self.body {
            x = self.chain(c, x, &env, &mut cost)?;
        }
        Ok((x, cost))
    }

    pub fn chain(&self, c: &Chain, mut x: Sh, env: &Env, cost: &mut Cost) -> Sim<Sh> {
        for (_, s) in &c.0 {
            x = self.stage(s, x, env, cost)?;
            cost.activations += x.numel();
            if x.numel() == 0 {
                return Err("empty tensor".into());
            }
        }
        Ok(x)
    }

    fn stage(&self, s: &Stage, x: Sh, env: &Env, cost: &mut Cost) -> Sim<Sh> {
        match s {
            Stage::Layer(l) => self.layer(l, x, env, cost),
            Stage::Tensor(t) if t == "in" => env.input(),
            Stage::Tensor(t) => env.tensors.get(t).copied().ok_or_else(|| format!("no tensor {t}")),
            Stage::Cat(branches) => {
                let outs: Vec<Sh> = branches.iter().map(|b| self.chain(b, x, env, cost)).collect::<Sim<_>>()?;
                let first = outs[0];
                let flat = matches!(first, Sh::Flat(_));
                if outs.iter().any(|o| matches!(o, Sh::Flat(_)) != flat || o.hw() != first.hw()) {
                    return Err("concat mismatch".into());
                }
                let c = outs.iter().map(|o| o.c()).sum();
                Ok(if flat { Sh::Flat(c) } else { Sh::Map(c, first.hw().0, first.hw().1) })
            }
            Stage::Sum(terms) => {
                let outs: Vec<Sh> = terms.iter().map(|t| self.chain(&t.chain, x, env, cost)).collect::<Sim<_>>()?;
                if outs.iter().any(|o| *o != outs[0]) {
                    return Err("add mismatch".into());
                }
                Ok(outs[0])
            }
            Stage::If(cond, then, other) => {
                if cond.eval(env)? {
                    self.chain(then, x, &env.child(x), cost)
                } else if let Some(o) = other {
                    // An `else if` is evaluated in the enclosing body, an `else` body nested.
                    match o.0.as_slice() {
                        [(None, nested @ Stage::If(..))] => self.stage(nested, x, env, cost),
                        _ => self.chain(o, x, &env.child(x), cost),
                    }
                } else {
                    Ok(x)
                }
            }
            Stage::Repeat { n, index, body } => {
                let mut x = x;
                for i in 0..*n {
                    let mut env = env.child(x);
                    if let Some(name) = index {
                        env.vals.insert(name.clone(), Val::Int(i as i64));
                    }
                    x = self.chain(body, x, &env, cost)?;
                }
                Ok(x)
            }
            Stage::Call { block, args } => self.call(block, args, x, env, cost),
        }
    }

    fn call(&self, name: &str, args: &[(Option<String>, Val)], x: Sh, outer: &Env, cost: &mut Cost) -> Sim<Sh> {
        let b = self.blocks.iter().find(|b| b.name == name).ok_or("no such block")?;
        // A block body starts a fresh environment: it sees neither the file's `let`s nor
        // the caller's names.
        let _ = outer;
        let mut env = Env::default();
        for (k, (p, default)) in b.params.iter().enumerate() {
            let given =
                args.iter().find(|(n, _)| n.as_deref() == Some(p)).or_else(|| args.get(k).filter(|a| a.0.is_none()));
            match given.map(|a| a.1).or(*default) {
                Some(v) => env.vals.insert(p.clone(), v),
                None => return Err(format!("missing {p}")),
            };
        }
        env.input = Some(x);
        let mut flow = x;
        for st in &b.body {
            match st {
                Stmt::Bind(n, c) => {
                    let t = self.chain(c, flow, &env, cost)?;
                    env.tensors.insert(n.clone(), t);
                }
                Stmt::Flow(c) => flow = self.chain(c, flow, &env, cost)?,
            }
        }
        Ok(flow)
    }

    fn layer(&self, l: &Layer, x: Sh, env: &Env, cost: &mut Cost) -> Sim<Sh> {
        cost.layers += 1;
        let map = || match x {
            Sh::Map(c, h, w) => Ok((c, h, w)),
            Sh::Flat(_) => Err("a spatial layer on a vector".to_string()),
        };
        let vector = || if x.vector_like() { Ok(x.c()) } else { Err("needs a vector".to_string()) };
        match l {
            Layer::Conv { out, k, stride, pad, groups, table, .. } => {
                let (c, h, w) = map()?;
                let out = out.positive(env)?;
                let s = match stride {
                    Some(e) => e.positive(env)?,
                    None => 1,
                };
                let p = pad.as_ref().unwrap_or(&Pad::N(0)).sides(*k, (s, s), (h, w), env)?;
                let oh = axis(h, k.0, s, p[0], p[1], false)?;
                let ow = axis(w, k.1, s, p[2], p[3], false)?;
                let links = match (table, groups) {
                    (Some(t), _) => {
                        let ok = t.len() as u64 == out
                            && t.iter().all(|r| !r.is_empty() && r.iter().all(|&i| u64::from(i) < c));
                        if !ok {
                            return Err("bad table".into());
                        }
                        t.iter().map(|r| r.len() as u64).sum()
                    }
                    (None, g) => {
                        let g = g.unwrap_or(1);
                        if c % g != 0 || out % g != 0 {
                            return Err("groups".into());
                        }
                        out * c / g
                    }
                };
                cost.macs += oh * ow * k.0 * k.1 * links;
                Ok(Sh::Map(out, oh, ow))
            }
            Layer::Pool { k, stride, pad, ceil, .. } => {
                let (c, h, w) = map()?;
                let s = stride.unwrap_or(k.0);
                let p = pad.unwrap_or(0);
                if p >= k.0 || p >= k.1 {
                    return Err("pool pad".into());
                }
                let ceil = ceil.unwrap_or(self.maxpool_ceil && matches!(l, Layer::Pool { max: true, .. }));
                let sw = stride.unwrap_or(k.1);
                Ok(Sh::Map(c, axis(h, k.0, s, p, p, ceil)?, axis(w, k.1, sw, p, p, ceil)?))
            }
            Layer::Gap => map().map(|(c, ..)| Sh::Map(c, 1, 1)),
            Layer::Dense { out, .. } => {
                let n = vector()?;
                let out = out.positive(env)?;
                cost.macs += n * out;
                Ok(Sh::Flat(out))
            }
            Layer::Flatten => Ok(Sh::Flat(x.numel())),
            Layer::Lrn { .. } => map().map(|_| x),
            Layer::Plain("softmax") => vector().map(|_| x),
            Layer::Bn { .. } | Layer::Dropout(_) | Layer::Plain(_) | Layer::ScaledTanh(_) | Layer::Scale(_) => Ok(x),
            Layer::Subsample(k) => {
                let (c, h, w) = map()?;
                let k = k.unwrap_or(2);
                if k > h || k > w {
                    return Err("subsample window".into());
                }
                Ok(Sh::Map(c, h / k, w / k))
            }
            Layer::Rbf { classes, .. } => {
                let n = vector()?;
                cost.macs += n * classes;
                Ok(Sh::Flat(*classes))
            }
            Layer::ZeroPad(p) => {
                let (c, h, w) = map()?;
                let s = p.sides((1, 1), (1, 1), (h, w), env)?;
                Ok(Sh::Map(c, h + s[0] + s[1], w + s[2] + s[3]))
            }
            Layer::Broken(_) => Err("broken on purpose".into()),
        }
    }
}
