//! Pooling: `Pool` (x → y) and `PoolBackward` (x, y, dy → dx) for max and average
//! pooling, and `GlobalAvgPool` (x → y) with its backward (dy → dx).
//!
//! Max pooling looks only at in-range taps (padding never wins) and, in both
//! directions, picks the first maximum in row-major window order. Average pooling
//! divides by the in-range tap count, or with `count_pad` by the window clipped to
//! the padded input (PyTorch; equal to kh·kw except for ceil-mode windows that hang
//! past the trailing padding).

use super::contract::Check;
use super::window::Geometry;
use super::{In, Out, Real};
use crate::ir::{Pool, PoolKind};

/// `Pool`: each output is the max or the average of its window.
pub(super) fn forward<T: Real>(ck: &Check, p: &Pool, x: &In<T>, y: &mut Out<T>) {
    let g = geometry(ck, p, x.dims, y.dims);
    for_each_window(&g, |n, c, i, j| {
        y.data[g.y_at(n, c, i, j)] = match p.kind {
            PoolKind::Max => x.data[argmax(ck, &g, x.data, n, c, i, j)],
            PoolKind::Avg => {
                let sum: T = g.taps(i, j).map(|t| x.data[g.x_at(n, c, t.ih, t.iw)]).sum();
                sum / T::from_usize(divisor(p, &g, i, j))
            }
        };
    });
}

/// `PoolBackward`: routes each dy to the window's first maximum, or spreads it
/// evenly over the in-range taps with the forward divisor.
pub(super) fn backward<T: Real>(ck: &Check, p: &Pool, x: &In<T>, y: &In<T>, dy: &In<T>, dx: &mut Out<T>) {
    let g = geometry(ck, p, x.dims, y.dims);
    ck.ensure(dy.dims == y.dims, || format!("dy has dims {:?}, y {:?}", dy.dims, y.dims));
    ck.ensure(dx.dims == x.dims, || format!("dx has dims {:?}, x {:?}", dx.dims, x.dims));
    dx.data.fill(T::zero());
    for_each_window(&g, |n, c, i, j| {
        let d = dy.data[g.y_at(n, c, i, j)];
        match p.kind {
            PoolKind::Max => dx.data[argmax(ck, &g, x.data, n, c, i, j)] += d,
            PoolKind::Avg => {
                let share = d / T::from_usize(divisor(p, &g, i, j));
                for t in g.taps(i, j) {
                    dx.data[g.x_at(n, c, t.ih, t.iw)] += share;
                }
            }
        }
    });
}

/// `GlobalAvgPool`: y[n,c] = mean over the spatial positions of x[n,c].
pub(super) fn global_forward<T: Real>(ck: &Check, x: &In<T>, y: &mut Out<T>) {
    let n = ck.batch("x", x.dims);
    let (c, plane) = ck.channels("x", x.dims, n);
    ck.len("y", y.data.len(), n * c);
    let div = T::from_usize(plane);
    for (k, v) in y.data.iter_mut().enumerate() {
        *v = x.data[k * plane..(k + 1) * plane].iter().copied().sum::<T>() / div;
    }
}

/// `GlobalAvgPoolBackward`: dx[n,c,·] = dy[n,c] / (H·W), dx shaped as the step's output.
pub(super) fn global_backward<T: Real>(ck: &Check, dy: &In<T>, dx: &mut Out<T>) {
    let n = ck.batch("dx", dx.dims);
    let (c, plane) = ck.channels("dx", dx.dims, n);
    ck.len("dy", dy.data.len(), n * c);
    let div = T::from_usize(plane);
    for (k, &d) in dy.data.iter().enumerate() {
        dx.data[k * plane..(k + 1) * plane].fill(d / div);
    }
}

/// Validates the maps; pooling keeps the channel count and pads less than the window,
/// so every window holds at least one in-range tap.
fn geometry(ck: &Check, p: &Pool, x: &[usize], y: &[usize]) -> Geometry {
    let g = Geometry::new(ck, &p.window, p.ceil, x, y);
    ck.ensure(g.c_in == g.c_out, || format!("pooling maps {} channels to {}", g.c_in, g.c_out));
    let pad = &p.window.pad;
    ck.ensure(pad.top.max(pad.bottom) < p.window.kh && pad.left.max(pad.right) < p.window.kw, || {
        "pooling padding must be smaller than the window".into()
    });
    g
}

/// Calls `f(n, c, i, j)` for every output position.
fn for_each_window(g: &Geometry, mut f: impl FnMut(usize, usize, usize, usize)) {
    for n in 0..g.n {
        for c in 0..g.c_out {
            for i in 0..g.oh {
                for j in 0..g.ow {
                    f(n, c, i, j);
                }
            }
        }
    }
}

/// Flat index in x of the first in-range tap holding the window's maximum.
fn argmax<T: Real>(ck: &Check, g: &Geometry, x: &[T], n: usize, c: usize, i: usize, j: usize) -> usize {
    let mut best: Option<usize> = None;
    for t in g.taps(i, j) {
        let k = g.x_at(n, c, t.ih, t.iw);
        if best.is_none_or(|b| x[k] > x[b]) {
            best = Some(k);
        }
    }
    best.unwrap_or_else(|| ck.fail(&format!("pooling window ({i}, {j}) lies entirely in the padding")))
}

/// The average's divisor for output position (i, j).
fn divisor(p: &Pool, g: &Geometry, i: usize, j: usize) -> usize {
    if p.count_pad {
        g.padded_extent(i, j)
    } else {
        g.taps(i, j).count()
    }
}
