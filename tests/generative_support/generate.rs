//! Random nets from a seed: every construct of the language (blocks with parameters
//! and defaults, `repeat` with and without an index, `cat`, residual sums with factors,
//! conditions, labels, `let`, `default`) and every layer with its argument forms.
//! Candidates are checked against the model's shape rules as they are drawn, so most
//! nets are valid; a few carry a deliberate mistake and must be rejected.

use super::model::*;
use super::render::Render;
use super::templates::{conv_to, env_child, inception_residual_block, residual_block};
use netc::data::Rng;

/// One generated net.
pub struct Generated {
    pub source: String,
    /// The model's prediction: the output shape, or why the checker should refuse.
    pub predicted: Result<Sh, String>,
    /// A mistake was put in on purpose.
    pub broken: bool,
    /// The model the source was rendered from (for shrinking a failure).
    pub net: Net,
}

/// Per-sample multiply-accumulates a net may cost: the reference engine trains each
/// net a few steps, so nets stay around LeNet-5's size (325k MACs).
const MAX_MACS: u64 = 400_000;
const MAX_ACTIVATIONS: u64 = 60_000;

struct Gen {
    rng: Rng,
    net: Net,
    labels: u32,
    blocks: u32,
    depth: usize,
}

/// The net of `seed`.
pub fn net(seed: u64) -> Generated {
    let mut g = Gen { rng: Rng::new(seed), net: Net::default(), labels: 0, blocks: 0, depth: 0 };
    let broken = g.chance(0.08);
    g.preamble();
    let mut env = Env::default();
    for (n, v) in &g.net.lets {
        env.vals.insert(n.clone(), Val::Int(*v));
    }
    let mut x = Sh::Map(1, g.net.input.0, g.net.input.1);
    env.input = Some(x);
    let mut cost = Cost::default();
    let stages = 2 + g.below(6);
    let mistake_at = g.below(stages + 1);
    for k in 0..=stages {
        if broken && k == mistake_at {
            let m = g.mistake(x);
            g.net.body.push(Chain::of(vec![m]));
            continue;
        }
        if k == stages {
            break;
        }
        if let Some((c, y, c2)) = g.top_stage(x, &env, cost) {
            g.net.body.push(c);
            x = y;
            cost = c2;
        }
    }
    let head = g.head(x, &env);
    g.net.body.push(head);
    let predicted = g.net.simulate().map(|(s, _)| s);
    let source = render(&g.net, seed);
    Generated { source, predicted, broken, net: g.net }
}

/// The source of `net`, formatted with the style of `seed`.
pub fn render(net: &Net, seed: u64) -> String {
    Render { style: seed, out: String::new() }.net(net, &format!("generated from seed {seed}"))
}

impl Gen {
    fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.rng.next_f64() < p
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
    fn label(&mut self) -> String {
        self.labels += 1;
        self.pick(&["L", "stage", "part", "t"]).to_string() + &self.labels.to_string()
    }

    fn preamble(&mut self) {
        self.net.input = self.pick(&[(28, 28), (28, 28), (28, 28), (32, 32), (29, 31), (30, 28)]);
        for (p, line) in [
            (0.2, "default conv(bias = false)"),
            (0.15, "default bn(eps = 0.001)"),
            (0.1, "default avgpool(count_pad = false)"),
            (0.1, "default maxpool(ceil = true)"),
            (0.1, "default dropout(p = 0.3)"),
        ] {
            if self.chance(p) {
                self.net.defaults.push(line.to_string());
                self.net.maxpool_ceil |= line.contains("ceil");
            }
        }
        if self.chance(0.3) {
            let v = 2 + self.below(7) as i64;
            self.net.lets.push(("width".into(), v));
        }
    }

    /// A top-level stage within the cost budget: (the chain, its output, the cost so far).
    fn top_stage(&mut self, x: Sh, env: &Env, cost: Cost) -> Option<(Chain, Sh, Cost)> {
        for _ in 0..8 {
            let (st, _) = self.stage(x, env)?;
            let mut c = cost;
            let label = self.chance(0.15).then(|| self.label());
            let chain = Chain(vec![(label, st)]);
            if let Ok(y) = self.net.chain(&chain, x, env, &mut c) {
                if c.macs <= MAX_MACS && c.activations <= MAX_ACTIVATIONS {
                    return Some((chain, y, c));
                }
            }
        }
        None
    }

    /// A random stage valid at `x` (by the model), with its output shape.
    fn stage(&mut self, x: Sh, env: &Env) -> Option<(Stage, Sh)> {
        for _ in 0..12 {
            let roll = self.below(100);
            let deep = self.depth < 3;
            let st = match roll {
                55..=62 if deep => self.cat(x, env),
                63..=72 if deep => self.sum(x, env),
                73..=78 if deep => self.cond(x, env),
                79..=86 if deep => self.repeat(x, env),
                87..=96 if deep => self.call(x, env),
                _ => Some(Stage::Layer(self.layer(x, env))),
            };
            let Some(st) = st else { continue };
            if let Ok(y) = self.net.chain(&Chain::of(vec![st.clone()]), x, env, &mut Cost::default()) {
                return Some((st, y));
            }
        }
        None
    }

    /// A chain of 1..=max stages from `x`.
    fn chain(&mut self, x: Sh, env: &Env, max: u64) -> Option<(Chain, Sh)> {
        self.depth += 1;
        let mut stages = Vec::new();
        let mut y = x;
        for _ in 0..1 + self.below(max) {
            if let Some((st, z)) = self.stage(y, env) {
                let label = self.chance(0.1).then(|| self.label());
                stages.push((label, st));
                y = z;
            }
        }
        self.depth -= 1;
        (!stages.is_empty()).then_some((Chain(stages), y))
    }

    /// A chain from `x` that ends at exactly `want`, or `None`.
    fn chain_to(&mut self, x: Sh, env: &Env, want: impl Fn(Sh) -> bool) -> Option<Chain> {
        for _ in 0..3 {
            if let Some((c, y)) = self.chain(x, env, 2) {
                if want(y) {
                    return Some(c);
                }
            }
        }
        None
    }

    /// A projection from `x` to exactly `t`: a convolution whose kernel spans the size
    /// difference, or a dense layer.
    fn projection(&mut self, x: Sh, t: Sh) -> Option<Chain> {
        match (x, t) {
            (Sh::Map(_, h0, w0), Sh::Map(c, h, w)) if h <= h0 && w <= w0 => {
                Some(Chain::of(vec![Stage::Layer(conv_to(c, (h0 - h + 1, w0 - w + 1)))]))
            }
            (Sh::Map(..), Sh::Map(c, h, w)) => {
                let (h0, w0) = x.hw();
                let pad = Pad::Four([0, h.saturating_sub(h0), 0, w.saturating_sub(w0)]);
                let mut c2 = vec![Stage::Layer(Layer::ZeroPad(pad))];
                let (h1, w1) = (h0.max(h), w0.max(w));
                c2.push(Stage::Layer(conv_to(c, (h1 - h + 1, w1 - w + 1))));
                Some(Chain::of(c2))
            }
            (_, Sh::Flat(n)) => {
                let mut c = Vec::new();
                if !x.vector_like() || self.chance(0.3) {
                    c.push(Stage::Layer(Layer::Flatten));
                }
                c.push(Stage::Layer(Layer::Dense { out: E::K(n as i64), bias: None }));
                Some(Chain::of(c))
            }
            _ => None,
        }
    }

    fn cat(&mut self, x: Sh, env: &Env) -> Option<Stage> {
        let (first, t) = self.chain(x, env, 3)?;
        let mut branches = vec![first];
        for _ in 0..1 + self.below(2) {
            let same = |y: Sh| matches!(y, Sh::Flat(_)) == matches!(t, Sh::Flat(_)) && y.hw() == t.hw();
            let b = match self.chain_to(x, env, same) {
                Some(b) => b,
                None => {
                    let c = 1 + self.below(4);
                    let target = match t {
                        Sh::Map(_, h, w) => Sh::Map(c, h, w),
                        Sh::Flat(_) => Sh::Flat(c),
                    };
                    self.projection(x, target)?
                }
            };
            branches.push(b);
        }
        Some(Stage::Cat(branches))
    }

    fn sum(&mut self, x: Sh, env: &Env) -> Option<Stage> {
        let (first, t) = self.chain(x, env, 3)?;
        let mut terms = vec![Term { factor: None, chain: first }];
        let n = if self.chance(0.15) { 0 } else { 1 + self.below(2) };
        for _ in 0..n {
            let chain = if t == x && self.chance(0.5) {
                let name = if env.input == Some(x) && self.chance(0.5) { "in" } else { "id" };
                Chain::of(vec![if name == "in" {
                    Stage::Tensor("in".into())
                } else {
                    Stage::Layer(Layer::Plain("id"))
                }])
            } else {
                match self.chain_to(x, env, |y| y == t) {
                    Some(c) => c,
                    None => self.projection(x, t)?,
                }
            };
            let factor = self.factor(env);
            terms.push(Term { factor, chain });
        }
        Some(Stage::Sum(terms))
    }

    fn factor(&mut self, env: &Env) -> Option<String> {
        let floats: Vec<String> =
            env.vals.iter().filter(|(_, v)| matches!(v, Val::Float(_))).map(|(n, _)| n.clone()).collect();
        match self.below(6) {
            0 => Some(self.pick(&["0.5", "0.17", "2", "1.5"]).to_string()),
            1 if !floats.is_empty() => Some(self.pick(&floats)),
            _ => None,
        }
    }

    fn cond(&mut self, x: Sh, env: &Env) -> Option<Stage> {
        let cond = self.condition(env);
        let inner = env_child(env, x);
        let (then, _) = self.chain(x, &inner, 2)?;
        let other = match self.below(3) {
            0 => None,
            1 => Some(self.chain(x, &inner, 2)?.0),
            _ => {
                let nested = self.cond(x, env)?;
                Some(Chain::of(vec![nested]))
            }
        };
        Some(Stage::If(cond, then, other))
    }

    fn condition(&mut self, env: &Env) -> B {
        let ints: Vec<String> =
            env.vals.iter().filter(|(_, v)| matches!(v, Val::Int(_))).map(|(n, _)| n.clone()).collect();
        let bools: Vec<String> =
            env.vals.iter().filter(|(_, v)| matches!(v, Val::Bool(_))).map(|(n, _)| n.clone()).collect();
        let op = self.pick(&["==", "!=", "<", "<=", ">", ">="]);
        let simple = match self.below(5) {
            0 if !ints.is_empty() => B::Cmp(E::Name(self.pick(&ints)), op, E::K(self.below(3) as i64)),
            1 if !bools.is_empty() => B::Name(self.pick(&bools)),
            2 => B::Lit(self.chance(0.5)),
            3 => B::Cmp(E::InH, op, E::K(8 + self.below(20) as i64)),
            _ => B::Cmp(E::InC, op, E::K(1 + self.below(8) as i64)),
        };
        match self.below(6) {
            0 => B::Not(Box::new(simple)),
            1 => B::And(Box::new(simple), Box::new(B::Cmp(E::InC, ">", E::K(0)))),
            2 => B::Or(Box::new(simple), Box::new(B::Lit(false))),
            _ => simple,
        }
    }

    fn repeat(&mut self, x: Sh, env: &Env) -> Option<Stage> {
        let n = 1 + self.below(3);
        let index = ["i", "j", "k"].into_iter().find(|i| !env.vals.contains_key(*i)).filter(|_| self.chance(0.6));
        let mut inner = env_child(env, x);
        if let Some(i) = index {
            inner.vals.insert(i.into(), Val::Int(0));
        }
        let (body, _) = self.chain(x, &inner, 3)?;
        Some(Stage::Repeat { n, index: index.map(String::from), body })
    }

    /// An instance of an existing block, or of a new one.
    fn call(&mut self, x: Sh, env: &Env) -> Option<Stage> {
        let _ = env;
        if !self.net.blocks.is_empty() && self.chance(0.4) {
            let b = self.pick(&self.net.blocks.clone());
            let args = self.args_for(&b);
            return Some(Stage::Call { block: b.name, args });
        }
        self.blocks += 1;
        let name = format!("{}{}", self.pick(&["unit", "res", "mix", "blk"]), self.blocks);
        let block = match self.below(4) {
            0 => residual_block(&name, self.chance(0.5)),
            1 => inception_residual_block(&name, self.below(3) as i64 + 1),
            _ => self.random_block(&name, x)?,
        };
        let args = self.args_for(&block);
        self.net.blocks.push(block);
        Some(Stage::Call { block: name, args })
    }

    /// Arguments for `b`: its required parameters, and some of the defaulted ones.
    fn args_for(&mut self, b: &Block) -> Vec<(Option<String>, Val)> {
        let mut args = Vec::new();
        let mut positional = true;
        for (p, default) in &b.params {
            let v = match default {
                Some(Val::Int(_)) if p == "s" => Val::Int(1 + self.below(2) as i64),
                Some(Val::Int(_)) | None => Val::Int(1 + self.below(8) as i64),
                Some(Val::Float(_)) => Val::Float(self.pick(&[0.1, 0.2, 1.0])),
                Some(Val::Bool(_)) => Val::Bool(self.chance(0.5)),
            };
            if default.is_some() && self.chance(0.5) {
                positional = false;
                continue;
            }
            if positional && self.chance(0.7) {
                args.push((None, v));
            } else {
                positional = false;
                args.push((Some(p.clone()), v));
            }
        }
        args
    }

    /// A block `name(w, s = 1)` whose body is a random chain that starts with a
    /// convolution of `w` channels and stride `s`.
    fn random_block(&mut self, name: &str, x: Sh) -> Option<Block> {
        if matches!(x, Sh::Flat(_)) {
            return None;
        }
        let mut env = Env { input: Some(x), ..Env::default() };
        env.vals.insert("w".into(), Val::Int(4));
        env.vals.insert("s".into(), Val::Int(1));
        let first = Layer::Conv {
            out: E::Name("w".into()),
            k: (3, 3),
            form: KForm::Square,
            stride: Some(E::Name("s".into())),
            pad: Some(self.pick(&[Pad::N(1), Pad::Same, Pad::Expr(E::Div(Box::new(E::K(2)), 2))])),
            groups: None,
            bias: None,
            table: None,
        };
        let mut cost = Cost::default();
        let y = self.net.chain(&Chain::of(vec![Stage::Layer(first.clone())]), x, &env, &mut cost).ok()?;
        let mut body = Chain::of(vec![Stage::Layer(first)]);
        if let Some((rest, _)) = self.chain(y, &env, 2) {
            body.0.extend(rest.0);
        }
        Some(Block {
            name: name.into(),
            params: vec![("w".into(), None), ("s".into(), Some(Val::Int(1)))],
            body: vec![Stmt::Flow(body)],
        })
    }

    /// A layer valid at `x` most of the time.
    fn layer(&mut self, x: Sh, env: &Env) -> Layer {
        if x.vector_like() && self.chance(0.6) {
            return self.vector_layer(x, env);
        }
        match self.below(22) {
            0..=5 => self.conv(x, env),
            6..=8 => self.pool(),
            9 => Layer::Gap,
            10 => Layer::Flatten,
            11 => Layer::Bn { eps: self.chance(0.3).then_some(1e-3), momentum: self.chance(0.2).then_some(0.2) },
            12 => Layer::Lrn {
                size: self.chance(0.5).then(|| self.pick(&[3, 5])),
                alpha: self.chance(0.3).then_some(1e-3),
            },
            13 => Layer::Dropout(self.chance(0.5).then(|| self.pick(&[0.1, 0.5]))),
            14 => Layer::Subsample(self.chance(0.5).then(|| self.pick(&[2, 3]))),
            15 => Layer::ZeroPad(self.pick(&[Pad::N(1), Pad::Hw(0, 2), Pad::Four([1, 0, 2, 1])])),
            16 => Layer::Scale(self.pick(&[0.5, 2.0, -1.0])),
            17 => Layer::ScaledTanh(self.chance(0.3).then_some((1.0, 0.5))),
            _ => self.activation(),
        }
    }

    fn activation(&mut self) -> Layer {
        Layer::Plain(self.pick(&["relu", "relu", "tanh", "sigmoid", "id"]))
    }

    /// A layer for a flat vector or a C×1×1 map.
    fn vector_layer(&mut self, x: Sh, env: &Env) -> Layer {
        match self.below(14) {
            0..=3 => Layer::Dense { out: self.count(env, 4, 24), bias: self.chance(0.2).then_some(false) },
            4 => Layer::Flatten,
            5 => Layer::Bn { eps: None, momentum: None },
            6 => Layer::Dropout(None),
            7 => Layer::Plain("softmax"),
            8 => Layer::ScaledTanh(None),
            9 => Layer::Scale(0.5),
            10 => Layer::Rbf { classes: 4 + self.below(10), trainable: self.chance(0.5).then_some(true) },
            11 if matches!(x, Sh::Map(..)) => self.conv(x, env),
            _ => self.activation(),
        }
    }

    /// A channel count: a literal, `in.c`, a parameter, or an expression of the repeat index.
    fn count(&mut self, env: &Env, lo: u64, hi: u64) -> E {
        let ints: Vec<String> =
            env.vals.iter().filter(|(_, v)| matches!(v, Val::Int(_))).map(|(n, _)| n.clone()).collect();
        let index = ["i", "j", "k"].into_iter().find(|i| env.vals.contains_key(*i));
        let literal = E::K((lo + self.below(hi - lo + 1)) as i64);
        match self.below(10) {
            0 if env.input.is_some() => E::InC,
            1 if env.input.is_some() => E::Div(Box::new(E::InC), 2),
            2 if !ints.is_empty() => E::Name(self.pick(&ints)),
            3 if index.is_some() => E::PlusIndex(Box::new(literal), index.unwrap().into(), 2),
            4 if index.is_some() => E::IfFirst(index.unwrap().into(), Box::new(literal), Box::new(E::K(4))),
            _ => literal,
        }
    }

    fn conv(&mut self, x: Sh, env: &Env) -> Layer {
        let c = x.c();
        let k = self.pick(&[(1, 1), (3, 3), (3, 3), (5, 5), (1, 3), (3, 1), (2, 2), (1, 5)]);
        let form = self.pick(&[KForm::Square, KForm::Dims, KForm::List]);
        let index = ["i", "j", "k"].into_iter().find(|i| env.vals.contains_key(*i));
        let stride = match self.below(8) {
            0 | 1 => Some(E::K(2)),
            2 => Some(E::K(1)),
            3 if index.is_some() => Some(E::IfFirst(index.unwrap().into(), Box::new(E::K(2)), Box::new(E::K(1)))),
            _ => None,
        };
        let pad = match self.below(9) {
            0 | 1 => Some(Pad::Same),
            2 => Some(Pad::Valid),
            3 => Some(Pad::N(k.0.max(k.1) / 2)),
            4 => Some(Pad::Hw(k.0 / 2, k.1 / 2)),
            5 => Some(Pad::Four([k.0 / 2, (k.0 - 1) / 2, k.1 / 2, (k.1 - 1) / 2])),
            6 => Some(Pad::Expr(E::Div(Box::new(E::K(k.0 as i64 - 1)), 2))),
            _ => None,
        };
        let bias = self.chance(0.15).then(|| self.chance(0.5));
        let (mut groups, mut table) = (None, None);
        let out = match self.below(10) {
            0 if c > 1 => {
                let g = self.pick(
                    &(2..=c.min(4))
                        .filter(|g| c.is_multiple_of(*g))
                        .collect::<Vec<_>>()
                        .into_iter()
                        .chain([1])
                        .collect::<Vec<_>>(),
                );
                groups = Some(g);
                E::K((g * (1 + self.below(3))) as i64)
            }
            1 if c > 1 => {
                let rows = 2 + self.below(6);
                let t: Vec<Vec<u32>> = (0..rows)
                    .map(|_| {
                        let mut r: Vec<u32> = (0..c as u32).filter(|_| self.chance(0.5)).collect();
                        if r.is_empty() {
                            r.push(self.below(c) as u32);
                        }
                        r
                    })
                    .collect();
                table = Some(t);
                E::K(rows as i64)
            }
            _ => self.count(env, 1, 12),
        };
        Layer::Conv { out, k, form, stride, pad, groups, bias, table }
    }

    fn pool(&mut self) -> Layer {
        let max = self.chance(0.6);
        let k = self.pick(&[(2, 2), (2, 2), (3, 3), (3, 2)]);
        let stride = match self.below(4) {
            0 => Some(1),
            1 => Some(2),
            _ => None,
        };
        let pad = (self.chance(0.25) && k.1 > 2).then_some(1);
        let ceil = self.chance(0.3).then(|| self.chance(0.7));
        let count_pad = (!max && self.chance(0.4)).then(|| self.chance(0.5));
        Layer::Pool { max, k, stride, pad, ceil, count_pad }
    }

    /// The classifier head: from `x` to a vector of at least 10 scores.
    fn head(&mut self, x: Sh, env: &Env) -> Chain {
        let mut stages = Vec::new();
        let mut y = x;
        if !y.vector_like() {
            let (h, w) = y.hw();
            let (st, z): (Vec<Layer>, Sh) = match self.below(4) {
                0 => (vec![Layer::Gap, Layer::Flatten], Sh::Flat(y.c())),
                1 => (vec![Layer::Gap], Sh::Map(y.c(), 1, 1)),
                2 if matches!(y, Sh::Map(..)) && h * w <= 64 => {
                    let n = 10 + self.below(4);
                    (vec![conv_to(n, (h, w))], Sh::Map(n, 1, 1))
                }
                _ => (vec![Layer::Flatten], Sh::Flat(y.numel())),
            };
            stages.extend(st.into_iter().map(Stage::Layer));
            y = z;
            if self.chance(0.4) {
                stages.push(Stage::Layer(self.pick(&[
                    Layer::Plain("relu"),
                    Layer::Plain("tanh"),
                    Layer::Plain("sigmoid"),
                    Layer::ScaledTanh(None),
                    Layer::Scale(0.5),
                    Layer::Bn { eps: None, momentum: None },
                    Layer::Dropout(None),
                ])));
            }
        }
        if y.c() < 10 || self.chance(0.6) {
            if self.chance(0.3) {
                stages.push(Stage::Layer(Layer::Dense { out: E::K(16), bias: None }));
                stages.push(Stage::Layer(self.activation()));
            }
            let classes = 10 + self.below(3);
            stages.push(Stage::Layer(match self.below(8) {
                0 => Layer::Rbf { classes, trainable: self.chance(0.5).then_some(true) },
                _ => Layer::Dense { out: E::K(classes as i64), bias: None },
            }));
        }
        if self.chance(0.2) {
            stages.push(Stage::Layer(Layer::Plain("softmax")));
        }
        let _ = env;
        Chain::of(stages)
    }

    /// A stage the checker must refuse (or, for a few, a surprising but valid form).
    fn mistake(&mut self, x: Sh) -> Stage {
        let text = match self.below(14) {
            0 => "conv(4)".to_string(),
            1 => "frobnicate(3)".to_string(),
            2 => "dense(0)".to_string(),
            3 => format!("conv(2, {})", x.hw().0 + 5),
            4 => "maxpool(2, pad = 2)".to_string(),
            5 => "(conv(3, 1) + conv(4, 1))".to_string(),
            6 => "cat(conv(2, 3), conv(2, 1))".to_string(),
            7 => "repeat -1 { relu }".to_string(),
            8 => "zeropad(same)".to_string(),
            9 => "conv(3,, 3)".to_string(),
            10 => format!("conv({}, 1, groups = {})", x.c() + 1, x.c() + 1),
            11 => "nosuchtensor relu".to_string(),
            12 => "scale(1e999)".to_string(),
            _ => "conv(4, 3, table = [[0, 9]])".to_string(),
        };
        Stage::Layer(Layer::Broken(text))
    }
}
