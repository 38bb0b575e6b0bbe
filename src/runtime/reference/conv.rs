//! Convolution, grouped or through a connection table: `Conv` (x, w, [b] → y),
//! `ConvBackwardData` (dy, w → dx) and `ConvBackwardWeight` (dy, x → dw, [db]).
//!
//! All three walk one enumeration of the products the forward sum is made of, so the
//! two backward kernels are the transposes of the forward one by construction. The
//! enumeration goes by runs: for a sample, a link, a tap and an output row, the output
//! columns whose tap lands inside the input, with the input columns they read (a fixed
//! stride apart). Out-of-range taps read zero and are simply skipped.

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
    plan.for_each_run(|xi, yi, wi, len, sw| {
        let wv = w.data[wi];
        for k in 0..len {
            y.data[yi + k] += wv * x.data[xi + k * sw];
        }
    });
}

/// `ConvBackwardData`: dx[xi] = Σ w·dy over every product that read x[xi].
pub(super) fn backward_data<T: Real>(ck: &Check, c: &Conv, dy: &In<T>, w: &In<T>, dx: &mut Out<T>) {
    let plan = plan(ck, c, dx.dims, dy.dims, w.data.len());
    dx.data.fill(T::zero());
    plan.for_each_run(|xi, yi, wi, len, sw| {
        let wv = w.data[wi];
        for k in 0..len {
            dx.data[xi + k * sw] += wv * dy.data[yi + k];
        }
    });
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
    plan.for_each_run(|xi, yi, wi, len, sw| {
        let mut sum = T::zero();
        for k in 0..len {
            sum += dy.data[yi + k] * x.data[xi + k * sw];
        }
        dw.data[wi] += sum;
    });
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
    /// Calls `f(x start, y start, w index, length, x stride)` for every run: the products
    /// w[wi]·x[xs + k·stride] that the forward sum adds into y[ys + k], for k < length.
    fn for_each_run(&self, mut f: impl FnMut(usize, usize, usize, usize, usize)) {
        let g = &self.g;
        for n in 0..g.n {
            for l in &self.links {
                for p in 0..g.kh {
                    for q in 0..g.kw {
                        let wi = (l.row * g.kh + p) * g.kw + q;
                        for i in 0..g.oh {
                            if let Some(r) = g.run(i, p, q) {
                                f(g.x_at(n, l.inp, r.ih, r.first), g.y_at(n, l.out, i, r.j0), wi, r.j1 - r.j0, r.sw);
                            }
                        }
                    }
                }
            }
        }
    }
}
