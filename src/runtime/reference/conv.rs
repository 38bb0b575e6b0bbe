//! Convolution, grouped or through a connection table: `Conv` (x, w, [b] → y),
//! `ConvBackwardData` (dy, w → dx) and `ConvBackwardWeight` (dy, x → dw, [db]).
//!
//! All three walk one enumeration of the products the forward sum is made of
//! (sample, link, output position, in-range tap), so the two backward kernels are the
//! transposes of the forward one by construction. Out-of-range taps read zero and are
//! simply skipped.

use super::contract::Check;
use super::window::Geometry;
use super::{In, Out, Real};
use crate::ir::Conv;

/// A connected (output channel, input channel) pair and the row of the weight tensor
/// that holds its kh×kw taps.
struct Link {
    out: usize,
    inp: usize,
    row: usize,
}

/// A validated invocation: the window geometry and the links of the layer.
struct Plan {
    g: Geometry,
    links: Vec<Link>,
}

/// `Conv`: y[n,o] = b[o] + Σ over o's links and in-range taps of w·x.
pub(super) fn forward<T: Real>(ck: &Check, c: &Conv, x: &In<T>, w: &In<T>, b: Option<&In<T>>, y: &mut Out<T>) {
    let plan = plan(ck, c, x.dims, y.dims, w.data.len());
    let g = &plan.g;
    if let Some(b) = b {
        ck.len("the bias", b.data.len(), g.c_out);
    }
    let plane = g.oh * g.ow;
    for (k, v) in y.data.iter_mut().enumerate() {
        *v = b.map_or(T::zero(), |b| b.data[(k / plane) % g.c_out]);
    }
    plan.for_each(|xi, yi, wi| y.data[yi] += w.data[wi] * x.data[xi]);
}

/// `ConvBackwardData`: dx[xi] = Σ w·dy over every product that read x[xi].
pub(super) fn backward_data<T: Real>(ck: &Check, c: &Conv, dy: &In<T>, w: &In<T>, dx: &mut Out<T>) {
    let plan = plan(ck, c, dx.dims, dy.dims, w.data.len());
    dx.data.fill(T::zero());
    plan.for_each(|xi, yi, wi| dx.data[xi] += w.data[wi] * dy.data[yi]);
}

/// `ConvBackwardWeight`: dw[wi] = Σ dy·x over every product that used w[wi]; db[o] = Σ dy[·,o].
pub(super) fn backward_weight<T: Real>(
    ck: &Check,
    c: &Conv,
    dy: &In<T>,
    x: &In<T>,
    dw: &mut Out<T>,
    db: Option<&mut Out<T>>,
) {
    let plan = plan(ck, c, x.dims, dy.dims, dw.data.len());
    dw.data.fill(T::zero());
    plan.for_each(|xi, yi, wi| dw.data[wi] += dy.data[yi] * x.data[xi]);
    if let Some(db) = db {
        let g = &plan.g;
        ck.len("the bias gradient", db.data.len(), g.c_out);
        db.data.fill(T::zero());
        let plane = g.oh * g.ow;
        for (k, &v) in dy.data.iter().enumerate() {
            db.data[(k / plane) % g.c_out] += v;
        }
    }
}

/// Validates the maps against the layer and the weight's length against its links.
fn plan(ck: &Check, c: &Conv, x: &[usize], y: &[usize], w_len: usize) -> Plan {
    let g = Geometry::new(ck, &c.window, false, x, y);
    ck.ensure(g.c_in as u64 == c.in_c, || format!("the input map has {} channels, the layer {}", g.c_in, c.in_c));
    ck.ensure(g.c_out as u64 == c.out_c, || format!("the output map has {} channels, the layer {}", g.c_out, c.out_c));
    let links = links(ck, c);
    ck.len("the weight", w_len, links.len() * g.kh * g.kw);
    Plan { g, links }
}

/// The layer's links in weight-row order: table rows in order, or for groups
/// `o·(in/G) + i` linking output o to input channel `group(o)·(in/G) + i`.
fn links(ck: &Check, c: &Conv) -> Vec<Link> {
    let (in_c, out_c) = (c.in_c as usize, c.out_c as usize);
    if let Some(t) = &c.table {
        ck.len("the connection table's rows", t.inputs.len(), out_c);
        let pairs = t.inputs.iter().enumerate().flat_map(|(o, ins)| ins.iter().map(move |&i| (o, i as usize)));
        let links: Vec<Link> = pairs.enumerate().map(|(row, (out, inp))| Link { out, inp, row }).collect();
        ck.ensure(links.iter().all(|l| l.inp < in_c), || "the connection table names a missing input channel".into());
        return links;
    }
    let groups = c.groups as usize;
    ck.ensure(groups > 0 && in_c % groups == 0 && out_c % groups == 0, || {
        format!("{groups} groups do not divide {in_c} input and {out_c} output channels")
    });
    let (per_in, per_out) = (in_c / groups, out_c / groups);
    (0..out_c)
        .flat_map(|o| (0..per_in).map(move |i| Link { out: o, inp: (o / per_out) * per_in + i, row: o * per_in + i }))
        .collect()
}

impl Plan {
    /// Calls `f(x index, y index, w index)` once for every product w·x that the forward
    /// sum adds into y.
    fn for_each(&self, mut f: impl FnMut(usize, usize, usize)) {
        let g = &self.g;
        for n in 0..g.n {
            for l in &self.links {
                for i in 0..g.oh {
                    for j in 0..g.ow {
                        let yi = g.y_at(n, l.out, i, j);
                        for t in g.taps(i, j) {
                            f(g.x_at(n, l.inp, t.ih, t.iw), yi, (l.row * g.kh + t.p) * g.kw + t.q);
                        }
                    }
                }
            }
        }
    }
}
