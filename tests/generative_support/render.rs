//! Source text of a [`Net`](super::model::Net): every construct in the forms the
//! README documents, with separators varied by a running counter so that one net mixes
//! spaces, `->`, continuation lines and `;`.

use super::model::*;
use std::fmt::Write;

impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            E::K(k) => write!(f, "{k}"),
            E::InC => f.write_str("in.c"),
            E::InH => f.write_str("in.h"),
            E::Name(n) => f.write_str(n),
            E::IfFirst(i, a, b) => write!(f, "(if {i} == 0 then {a} else {b})"),
            E::PlusIndex(a, i, k) => write!(f, "({a} + {i} * {k})"),
            E::Div(a, k) => write!(f, "{a} / {k}"),
        }
    }
}

impl std::fmt::Display for B {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            B::Lit(b) => write!(f, "{b}"),
            B::Name(n) => f.write_str(n),
            B::Cmp(a, op, b) => write!(f, "{a} {op} {b}"),
            B::And(a, b) => write!(f, "({a} and {b})"),
            B::Or(a, b) => write!(f, "({a} or {b})"),
            B::Not(a) => write!(f, "not ({a})"),
        }
    }
}

impl std::fmt::Display for Pad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pad::N(p) => write!(f, "{p}"),
            Pad::Hw(a, b) => write!(f, "{a}x{b}"),
            Pad::Four([a, b, c, d]) => write!(f, "[{a}, {b}, {c}, {d}]"),
            Pad::Same => f.write_str("same"),
            Pad::Valid => f.write_str("valid"),
            Pad::Expr(e) => write!(f, "{e}"),
        }
    }
}

/// Renders `name(args)`: positional values first, then `key = value` pairs.
fn call(name: &str, positional: &[String], keywords: &[(&str, String)]) -> String {
    if positional.is_empty() && keywords.is_empty() {
        return name.to_string();
    }
    let kw = keywords.iter().map(|(k, v)| format!("{k} = {v}"));
    format!("{name}({})", positional.iter().cloned().chain(kw).collect::<Vec<_>>().join(", "))
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let opt = |k: &'static str, v: Option<String>| v.map(|v| (k, v));
        let text = match self {
            Layer::Conv { out, k, form, stride, pad, groups, bias, table } => {
                let ks = match form {
                    KForm::Square if k.0 == k.1 => k.0.to_string(),
                    KForm::List => format!("[{}, {}]", k.0, k.1),
                    _ => format!("{}x{}", k.0, k.1),
                };
                let mut pos = vec![out.to_string(), ks];
                let mut kw = Vec::new();
                // The stride goes positionally when there is one; `pad` by keyword.
                if let Some(s) = stride {
                    pos.push(s.to_string());
                }
                kw.extend(opt("pad", pad.as_ref().map(|p| p.to_string())));
                kw.extend(opt("groups", groups.map(|g| g.to_string())));
                kw.extend(opt("bias", bias.map(|b| b.to_string())));
                if let Some(t) = table {
                    let rows: Vec<String> = t
                        .iter()
                        .map(|r| format!("[{}]", r.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")))
                        .collect();
                    kw.push(("table", format!("[{}]", rows.join(", "))));
                }
                call("conv", &pos, &kw)
            }
            Layer::Pool { max, k, stride, pad, ceil, count_pad } => {
                let ks = if k.0 == k.1 { k.0.to_string() } else { format!("[{}, {}]", k.0, k.1) };
                let mut pos = vec![ks];
                pos.extend(stride.map(|s| s.to_string()));
                let mut kw: Vec<(&str, String)> = Vec::new();
                kw.extend(opt("pad", pad.map(|p| p.to_string())));
                kw.extend(opt("ceil", ceil.map(|c| c.to_string())));
                kw.extend(opt("count_pad", count_pad.map(|c| c.to_string())));
                call(if *max { "maxpool" } else { "avgpool" }, &pos, &kw)
            }
            Layer::Gap => "gap".into(),
            Layer::Dense { out, bias } => call(
                "dense",
                &[out.to_string()],
                &opt("bias", bias.map(|b| b.to_string())).into_iter().collect::<Vec<_>>(),
            ),
            Layer::Flatten => "flatten".into(),
            Layer::Bn { eps, momentum } => {
                let kw: Vec<_> =
                    [opt("eps", eps.map(|e| format!("{e:e}"))), opt("momentum", momentum.map(|m| format!("{m:?}")))]
                        .into_iter()
                        .flatten()
                        .collect();
                call("bn", &[], &kw)
            }
            Layer::Lrn { size, alpha } => {
                let kw: Vec<_> =
                    [opt("size", size.map(|s| s.to_string())), opt("alpha", alpha.map(|a| format!("{a:e}")))]
                        .into_iter()
                        .flatten()
                        .collect();
                call("lrn", &[], &kw)
            }
            Layer::Dropout(p) => call("dropout", &p.map(|p| format!("{p:?}")).into_iter().collect::<Vec<_>>(), &[]),
            Layer::Plain(n) => n.to_string(),
            Layer::ScaledTanh(None) => "scaled_tanh".into(),
            Layer::ScaledTanh(Some((a, s))) => {
                call("scaled_tanh", &[], &[("a", format!("{a:?}")), ("s", format!("{s:?}"))])
            }
            Layer::Subsample(k) => call("subsample", &k.map(|k| k.to_string()).into_iter().collect::<Vec<_>>(), &[]),
            Layer::Rbf { classes, trainable } => call(
                "rbf",
                &[classes.to_string()],
                &opt("trainable", trainable.map(|t| t.to_string())).into_iter().collect::<Vec<_>>(),
            ),
            Layer::ZeroPad(p) => call("zeropad", &[p.to_string()], &[]),
            Layer::Scale(k) => call("scale", &[format!("{k:?}")], &[]),
            Layer::Broken(s) => s.clone(),
        };
        f.write_str(&text)
    }
}

/// Renders with a separator chosen by `style` (a running counter), so one net mixes
/// spaces, `->` and continuation lines.
pub struct Render {
    pub style: u64,
    pub out: String,
}

impl Render {
    fn pick(&mut self, n: u64) -> u64 {
        self.style = self.style.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.style >> 33) % n
    }

    pub fn chain(&mut self, c: &Chain, indent: &str) -> String {
        let mut s = String::new();
        for (k, (label, stage)) in c.0.iter().enumerate() {
            let mut st = self.stage(stage, indent);
            if let Some(l) = label {
                st = format!("{l}: {st}");
            }
            if k > 0 {
                // `relu (a + b)` would pass the group to `relu` as arguments.
                let call_then_group = st.starts_with('(') && s.ends_with(|c: char| c.is_alphanumeric() || c == '_');
                match self.pick(6) {
                    1 => {
                        let _ = write!(s, "\n{indent}  -> ");
                    }
                    0 => s.push_str(" -> "),
                    _ if call_then_group => s.push_str(" -> "),
                    _ => s.push(' '),
                }
            }
            s.push_str(&st);
        }
        s
    }

    fn stage(&mut self, st: &Stage, indent: &str) -> String {
        let inner = format!("{indent}  ");
        match st {
            Stage::Layer(l) => l.to_string(),
            Stage::Tensor(t) => t.clone(),
            Stage::Cat(bs) => {
                let sep = if self.pick(2) == 0 { ", ".to_string() } else { format!(",\n{inner}") };
                let parts: Vec<String> = bs.iter().map(|b| self.chain(b, &inner)).collect();
                format!("cat({})", parts.join(&sep))
            }
            Stage::Sum(ts) => {
                let parts: Vec<String> = ts
                    .iter()
                    .map(|t| match &t.factor {
                        Some(f) => format!("{f} * {}", self.chain(&t.chain, &inner)),
                        None => self.chain(&t.chain, &inner),
                    })
                    .collect();
                format!("({})", parts.join(" + "))
            }
            Stage::If(cond, then, other) => {
                let mut s = format!("if {cond} {{ {} }}", self.chain(then, &inner));
                if let Some(o) = other {
                    // `else if` chains when the else branch is a single condition.
                    match o.0.as_slice() {
                        [(None, nested @ Stage::If(..))] => {
                            let _ = write!(s, " else {}", self.stage(nested, indent));
                        }
                        _ => {
                            let _ = write!(s, " else {{ {} }}", self.chain(o, &inner));
                        }
                    }
                }
                s
            }
            Stage::Repeat { n, index, body } => {
                let idx = index.as_ref().map_or(String::new(), |i| format!(" as {i}"));
                if self.pick(2) == 0 {
                    format!("repeat {n}{idx} {{ {} }}", self.chain(body, &inner))
                } else {
                    format!("repeat {n}{idx} {{\n{inner}{}\n{indent}}}", self.chain(body, &inner))
                }
            }
            Stage::Call { block, args } => {
                let pos: Vec<String> = args.iter().filter(|a| a.0.is_none()).map(|a| a.1.to_string()).collect();
                let kw: Vec<(&str, String)> =
                    args.iter().filter_map(|a| a.0.as_deref().map(|k| (k, a.1.to_string()))).collect();
                call(block, &pos, &kw)
            }
        }
    }

    /// The whole file.
    pub fn net(&mut self, net: &Net, comment: &str) -> String {
        let mut s = format!("# {comment}\n");
        let _ = writeln!(s, "input 1x{}x{}", net.input.0, net.input.1);
        for d in &net.defaults {
            let _ = writeln!(s, "{d}");
        }
        for (n, v) in &net.lets {
            let _ = writeln!(s, "let {n} = {v}");
        }
        for b in &net.blocks {
            let params: Vec<String> = b
                .params
                .iter()
                .map(|(n, d)| match d {
                    Some(v) => format!("{n} = {v}"),
                    None => n.clone(),
                })
                .collect();
            let _ = writeln!(s, "block {}({}) {{", b.name, params.join(", "));
            for st in &b.body {
                let line = match st {
                    Stmt::Bind(n, c) => format!("{n} = {}", self.chain(c, "  ")),
                    Stmt::Flow(c) => self.chain(c, "  "),
                };
                let _ = writeln!(s, "  {line}");
            }
            s.push_str("}\n");
        }
        for c in &net.body {
            let line = self.chain(c, "");
            s.push_str(&line);
            s.push_str(if self.pick(5) == 0 { "; " } else { "\n" });
        }
        s
    }
}
