//! Kernels that move or transform values without mixing positions: activations and
//! their backward (from the output y), `Mask`, `Scale`, `Add`, `Copy`, zero padding
//! (in channels and space) and cropping, and channel concatenation and slicing.
//!
//! Concatenation and slicing treat each sample as channels × spatial: channels are
//! the outermost per-sample dimension, so a channel range is one contiguous run.

use super::contract::Check;
use super::{In, Out, Real};
use crate::ir::{Act, ZeroPad};

/// f(x): the activation formulas every other implementation is checked against (the
/// JIT's fallback kernel applies its fused epilogues with these).
pub fn act_value<T: Real>(a: &Act, x: T) -> T {
    match *a {
        Act::Relu => x.max(T::zero()),
        Act::LeakyRelu { .. } if x > T::zero() => x,
        Act::LeakyRelu { slope } => T::from_f64(slope) * x,
        Act::Tanh => x.tanh(),
        Act::Sigmoid => T::one() / (T::one() + (-x).exp()),
        Act::ScaledTanh { a, s } => T::from_f64(a) * (T::from_f64(s) * x).tanh(),
    }
}

/// f'(x) written in terms of the output y = f(x).
pub fn act_slope<T: Real>(a: &Act, y: T) -> T {
    match *a {
        Act::Relu if y > T::zero() => T::one(),
        Act::Relu => T::zero(),
        Act::LeakyRelu { .. } if y > T::zero() => T::one(),
        Act::LeakyRelu { slope } => T::from_f64(slope),
        Act::Tanh => T::one() - y * y,
        Act::Sigmoid => y * (T::one() - y),
        Act::ScaledTanh { a, s } => {
            let a = T::from_f64(a);
            T::from_f64(s) * (a - y * y / a)
        }
    }
}

/// `Act`: y = f(x) element-wise.
pub(super) fn act<T: Real>(ck: &Check, a: &Act, x: &In<T>, y: &mut Out<T>) {
    ck.same_len("y", y.data.len(), "x", x.data.len());
    for (v, &x) in y.data.iter_mut().zip(x.data) {
        *v = act_value(a, x);
    }
}

/// `ActBackward`: dx = dy·f'(x), with f' written in terms of the output y.
pub(super) fn act_backward<T: Real>(ck: &Check, a: &Act, y: &In<T>, dy: &In<T>, dx: &mut Out<T>) {
    ck.same_len("dy", dy.data.len(), "y", y.data.len());
    ck.same_len("dx", dx.data.len(), "y", y.data.len());
    for ((v, &y), &d) in dx.data.iter_mut().zip(y.data).zip(dy.data) {
        *v = d * act_slope(a, y);
    }
}

/// `Mask`: y = x·mask.
pub(super) fn mask<T: Real>(ck: &Check, x: &In<T>, m: &In<T>, y: &mut Out<T>) {
    ck.same_len("the mask", m.data.len(), "x", x.data.len());
    ck.same_len("y", y.data.len(), "x", x.data.len());
    for ((v, &x), &m) in y.data.iter_mut().zip(x.data).zip(m.data) {
        *v = x * m;
    }
}

/// `Scale`: y = factor·x.
pub(super) fn scale<T: Real>(ck: &Check, factor: f64, x: &In<T>, y: &mut Out<T>) {
    ck.same_len("y", y.data.len(), "x", x.data.len());
    let f = T::from_f64(factor);
    for (v, &x) in y.data.iter_mut().zip(x.data) {
        *v = f * x;
    }
}

/// `Add`: y = x₁ + … + xₖ.
pub(super) fn add<T: Real>(ck: &Check, xs: &[In<T>], y: &mut Out<T>) {
    for (k, x) in xs.iter().enumerate() {
        ck.same_len(&format!("operand {}", k + 1), x.data.len(), "y", y.data.len());
    }
    for (i, v) in y.data.iter_mut().enumerate() {
        *v = xs.iter().map(|x| x.data[i]).sum();
    }
}

/// `Copy`: y = x.
pub(super) fn copy<T: Real>(ck: &Check, x: &In<T>, y: &mut Out<T>) {
    ck.same_len("y", y.data.len(), "x", x.data.len());
    y.data.copy_from_slice(x.data);
}

/// `ZeroPad`: y is x with zero channels before and after its own, and a zero frame
/// around every plane.
pub(super) fn zero_pad<T: Real>(ck: &Check, p: &ZeroPad, x: &In<T>, y: &mut Out<T>) {
    let [n, c, h, w] = ck.nchw("x", x.dims);
    let big = padded(p, c, h, w);
    ck.dims4("y", y.dims, [n, big[0], big[1], big[2]]);
    y.data.fill(T::zero());
    for (plane, src) in x.data.chunks((h * w).max(1)).enumerate() {
        for (r, row) in src.chunks(w).enumerate() {
            let at = big_row(p, c, big, plane, r);
            y.data[at..at + w].copy_from_slice(row);
        }
    }
}

/// `Crop`: dx is dy with the padding of `p` cut away (the gradient of `ZeroPad`).
pub(super) fn crop<T: Real>(ck: &Check, p: &ZeroPad, dy: &In<T>, dx: &mut Out<T>) {
    let [n, c, h, w] = ck.nchw("dx", dx.dims);
    let big = padded(p, c, h, w);
    ck.dims4("dy", dy.dims, [n, big[0], big[1], big[2]]);
    for (plane, dst) in dx.data.chunks_mut((h * w).max(1)).enumerate() {
        for (r, row) in dst.chunks_mut(w).enumerate() {
            let at = big_row(p, c, big, plane, r);
            row.copy_from_slice(&dy.data[at..at + w]);
        }
    }
}

/// `Concat`: each sample of y is the samples of x₁, …, xₖ one after the other.
pub(super) fn concat<T: Real>(ck: &Check, xs: &[In<T>], y: &mut Out<T>) {
    let n = ck.batch("y", y.dims);
    let (_, plane) = ck.channels("y", y.dims, n);
    let sizes: Vec<usize> = xs.iter().enumerate().map(|(k, x)| sample_of(ck, k, x.dims, n, plane)).collect();
    let total: usize = sizes.iter().sum();
    ck.len("y's sample", ck.per_sample("y", y.dims, n), total);
    let mut at = 0;
    for s in 0..n {
        for (x, &size) in xs.iter().zip(&sizes) {
            y.data[at..at + size].copy_from_slice(&x.data[s * size..(s + 1) * size]);
            at += size;
        }
    }
}

/// `Slice`: y holds channels `offset .. offset + C_y` of x.
pub(super) fn slice<T: Real>(ck: &Check, offset: usize, x: &In<T>, y: &mut Out<T>) {
    let n = ck.batch("y", y.dims);
    let (cy, plane) = ck.channels("y", y.dims, n);
    let (cx, plane_x) = ck.channels("x", x.dims, n);
    ck.ensure(plane_x == plane, || format!("x has {plane_x} positions per channel, y {plane}"));
    ck.ensure(offset + cy <= cx, || format!("channels {offset}..{} do not exist in x's {cx}", offset + cy));
    for (s, dst) in y.data.chunks_mut((cy * plane).max(1)).enumerate() {
        let from = (s * cx + offset) * plane;
        dst.copy_from_slice(&x.data[from..from + dst.len()]);
    }
}

/// Padded channels, height and width.
fn padded(p: &ZeroPad, c: usize, h: usize, w: usize) -> [usize; 3] {
    let s = &p.spatial;
    [
        c + (p.channels_before + p.channels_after) as usize,
        h + (s.top + s.bottom) as usize,
        w + (s.left + s.right) as usize,
    ]
}

/// Where row `r` of plane `plane` (sample · c + channel) of the unpadded map starts in
/// the padded one, whose sizes are `big`.
fn big_row(p: &ZeroPad, c: usize, big: [usize; 3], plane: usize, r: usize) -> usize {
    let big_plane = plane / c * big[0] + plane % c + p.channels_before as usize;
    (big_plane * big[1] + r + p.spatial.top as usize) * big[2] + p.spatial.left as usize
}

/// Elements per sample of concatenation operand `k`, whose spatial size must match y's.
fn sample_of(ck: &Check, k: usize, dims: &[usize], n: usize, plane: usize) -> usize {
    let what = format!("operand {}", k + 1);
    let (c, p) = ck.channels(&what, dims, n);
    ck.ensure(p == plane, || format!("{what} has {p} positions per channel, y {plane}"));
    c * p
}
