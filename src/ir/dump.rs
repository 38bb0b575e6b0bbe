//! The IR's text form (`netc check --dump ir`), one node per line:
//! `%3 = conv 64 7x7/2 pad 3 (%2) : 64×112×112  # conv1`.

use super::*;
use std::fmt::{self, Write};

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for id in self.ids() {
            let n = self.node(id);
            let inputs = n.inputs.iter().map(|i| format!("%{}", i.0)).collect::<Vec<_>>().join(", ");
            let detail = n.op.detail();
            let sep = if detail.is_empty() { "" } else { " " };
            writeln!(f, "%{} = {}{sep}{detail} ({inputs}) : {}  # {}", id.0, n.op.kind(), n.shape, self.path(id))?;
        }
        writeln!(f, "return %{}", self.output().0)
    }
}

fn window(w: &Window, out: &mut String) {
    let _ = write!(out, "{}x{}", w.kh, w.kw);
    if (w.sh, w.sw) != (1, 1) {
        if w.sh == w.sw {
            let _ = write!(out, "/{}", w.sh);
        } else {
            let _ = write!(out, "/{}x{}", w.sh, w.sw);
        }
    }
    pad(&w.pad, out);
}

fn pad(p: &Pad2d, out: &mut String) {
    if p.is_zero() {
        return;
    }
    if p.is_uniform() {
        let _ = write!(out, " pad {}", p.top);
    } else if p.top == p.bottom && p.left == p.right {
        let _ = write!(out, " pad {}x{}", p.top, p.left);
    } else {
        let _ = write!(out, " pad [{}, {}, {}, {}]", p.top, p.bottom, p.left, p.right);
    }
}

impl Op {
    /// The op's arguments in a compact form, e.g. `64 3x3/2 pad 1 g2 nobias`.
    pub fn detail(&self) -> String {
        let mut s = String::new();
        match self {
            Op::Conv(c) => {
                let _ = write!(s, "{} ", c.out_c);
                window(&c.window, &mut s);
                if c.groups != 1 {
                    let _ = write!(s, " g{}", c.groups);
                }
                if let Some(t) = &c.table {
                    let _ = write!(s, " table {} links", t.links());
                }
                if !c.bias {
                    s.push_str(" nobias");
                }
            }
            Op::Pool(p) => {
                window(&p.window, &mut s);
                if p.ceil {
                    s.push_str(" ceil");
                }
                if p.kind == PoolKind::Avg && !p.count_pad && !p.window.pad.is_zero() {
                    s.push_str(" nopadcount");
                }
            }
            Op::Dense(d) => {
                let _ = write!(s, "{}", d.out_features);
                if !d.bias {
                    s.push_str(" nobias");
                }
            }
            Op::Lrn(l) => {
                let _ = write!(s, "{} a={} b={} k={}", l.size, l.alpha, l.beta, l.k);
            }
            Op::Dropout { p } => {
                let _ = write!(s, "{p}");
            }
            Op::Act(Act::LeakyRelu { slope }) => {
                let _ = write!(s, "{slope}");
            }
            Op::Act(Act::ScaledTanh { a, s: k }) => {
                let _ = write!(s, "{a}·tanh({k:.4}x)");
            }
            Op::Subsample(sub) => {
                let _ = write!(s, "{0}x{0}", sub.k);
            }
            Op::Rbf(r) => {
                let _ = write!(s, "{}{}", r.classes, if r.trainable { "" } else { " fixed" });
            }
            Op::ZeroPad(p) => {
                match (p.channels_before, p.channels_after) {
                    (0, 0) => {}
                    (b, a) if b == a => {
                        let _ = write!(s, "channels {b}");
                    }
                    (b, a) => {
                        let _ = write!(s, "channels [{b}, {a}]");
                    }
                }
                pad(&p.spatial, &mut s);
            }
            Op::Scale { factor } => {
                let _ = write!(s, "{factor}");
            }
            _ => {}
        }
        s.trim().to_string()
    }
}
