//! Normalisation: batch norm (`BatchNormTrain`, `BatchNormEval`, `BatchNormBackward`)
//! and local response normalisation (`Lrn`, `LrnBackward`).
//!
//! Both work on a batched tensor seen as N×C×S: a map N×C×H×W has S = H·W, a flat
//! N×F vector has C = F and S = 1. Batch statistics are per channel over N·S values,
//! computed in two passes (mean, then squared deviations).

use super::contract::Check;
use super::{In, Out, Real};
use crate::ir::{BatchNorm, Lrn};

/// A batched tensor's N×C×S layout.
#[derive(Clone, Copy)]
struct Layout {
    n: usize,
    c: usize,
    s: usize,
}

impl Layout {
    /// Flat indices of every value of channel `ch`, over all samples and positions.
    fn channel(self, ch: usize) -> impl Iterator<Item = usize> {
        (0..self.n).flat_map(move |n| {
            let base = (n * self.c + ch) * self.s;
            base..base + self.s
        })
    }

    /// Values reduced per channel: N·S.
    fn count(self) -> usize {
        self.n * self.s
    }
}

/// `BatchNormTrain`: normalises with the batch statistics, returns them (mean and
/// 1/√(var + eps), biased variance) and moves the running statistics towards them
/// (unbiased variance, as PyTorch does).
pub(super) fn bn_train<T: Real>(
    ck: &Check,
    b: &BatchNorm,
    x: &In<T>,
    gamma: &In<T>,
    beta: &In<T>,
    outs: &mut [Out<T>],
) {
    let [y, mean, invstd, run_mean, run_var] = outs else { unreachable!("arity is checked by execute") };
    let lens = [gamma.data.len(), beta.data.len(), mean.data.len(), invstd.data.len()];
    let l = bn_layout(ck, b, x.dims, lens.into_iter().chain([run_mean.data.len(), run_var.data.len()]));
    ck.same_len("y", y.data.len(), "x", x.data.len());
    let (m, mom) = (T::from_usize(l.count()), T::from_f64(b.momentum));
    for ch in 0..l.c {
        let mu = l.channel(ch).map(|i| x.data[i]).sum::<T>() / m;
        let sq: T = l.channel(ch).map(|i| (x.data[i] - mu) * (x.data[i] - mu)).sum();
        let inv = T::one() / (sq / m + T::from_f64(b.eps)).sqrt();
        for i in l.channel(ch) {
            y.data[i] = gamma.data[ch] * (x.data[i] - mu) * inv + beta.data[ch];
        }
        // A single value per channel has no spread: its unbiased variance is taken as 0.
        let unbiased = sq / T::from_usize(l.count().saturating_sub(1).max(1));
        mean.data[ch] = mu;
        invstd.data[ch] = inv;
        run_mean.data[ch] = (T::one() - mom) * run_mean.data[ch] + mom * mu;
        run_var.data[ch] = (T::one() - mom) * run_var.data[ch] + mom * unbiased;
    }
}

/// `BatchNormEval`: y = γ·(x − running_mean)/√(running_var + eps) + β.
pub(super) fn bn_eval<T: Real>(ck: &Check, b: &BatchNorm, ins: &[In<T>], y: &mut Out<T>) {
    let [x, gamma, beta, run_mean, run_var] = ins else { unreachable!("arity is checked by execute") };
    let l = bn_layout(ck, b, x.dims, [gamma, beta, run_mean, run_var].map(|t| t.data.len()));
    ck.same_len("y", y.data.len(), "x", x.data.len());
    for ch in 0..l.c {
        let inv = T::one() / (run_var.data[ch] + T::from_f64(b.eps)).sqrt();
        for i in l.channel(ch) {
            y.data[i] = gamma.data[ch] * (x.data[i] - run_mean.data[ch]) * inv + beta.data[ch];
        }
    }
}

/// `BatchNormBackward`: with x̂ = (x − mean)·invstd and M = N·S values per channel,
/// dβ = Σ dy, dγ = Σ dy·x̂ and dx = γ·invstd·(dy − dβ/M − x̂·dγ/M).
pub(super) fn bn_backward<T: Real>(ck: &Check, b: &BatchNorm, ins: &[In<T>], outs: &mut [Out<T>]) {
    let [dy, x, gamma, mean, invstd] = ins else { unreachable!("arity is checked by execute") };
    let [dx, dgamma, dbeta] = outs else { unreachable!("arity is checked by execute") };
    let lens = [gamma, mean, invstd].map(|t| t.data.len());
    let l = bn_layout(ck, b, x.dims, lens.into_iter().chain([dgamma.data.len(), dbeta.data.len()]));
    ck.same_len("dy", dy.data.len(), "x", x.data.len());
    ck.same_len("dx", dx.data.len(), "x", x.data.len());
    let m = T::from_usize(l.count());
    for ch in 0..l.c {
        let xhat = |i: usize| (x.data[i] - mean.data[ch]) * invstd.data[ch];
        let db: T = l.channel(ch).map(|i| dy.data[i]).sum();
        let dg: T = l.channel(ch).map(|i| dy.data[i] * xhat(i)).sum();
        for i in l.channel(ch) {
            dx.data[i] = gamma.data[ch] * invstd.data[ch] * (dy.data[i] - db / m - xhat(i) * dg / m);
        }
        dgamma.data[ch] = dg;
        dbeta.data[ch] = db;
    }
}

/// `Lrn`: y = x / (k + α/size · Σ_window x²)^β across channels.
pub(super) fn lrn<T: Real>(ck: &Check, p: &Lrn, x: &In<T>, y: &mut Out<T>) {
    let l = lrn_layout(ck, p, x.dims);
    ck.same_len("y", y.data.len(), "x", x.data.len());
    for_each_column(l, |col| {
        let s = lrn_scales(p, x.data, &col);
        for (c, &i) in col.iter().enumerate() {
            y.data[i] = x.data[i] * s[c].powf(T::from_f64(-p.beta));
        }
    });
}

/// `LrnBackward`: dx_j = dy_j·s_j^(−β) − (2αβ/size)·x_j·Σ_{c : j ∈ window(c)} dy_c·y_c / s_c.
pub(super) fn lrn_backward<T: Real>(ck: &Check, p: &Lrn, x: &In<T>, y: &In<T>, dy: &In<T>, dx: &mut Out<T>) {
    let l = lrn_layout(ck, p, x.dims);
    for (what, len) in [("y", y.data.len()), ("dy", dy.data.len()), ("dx", dx.data.len())] {
        ck.same_len(what, len, "x", x.data.len());
    }
    let coef = T::from_f64(2.0 * p.alpha * p.beta / p.size as f64);
    for_each_column(l, |col| {
        let s = lrn_scales(p, x.data, &col);
        for (c, &i) in col.iter().enumerate() {
            dx.data[i] = dy.data[i] * s[c].powf(T::from_f64(-p.beta));
        }
        for (c, &i) in col.iter().enumerate() {
            let back = coef * dy.data[i] * y.data[i] / s[c];
            for j in window(p, c, col.len()) {
                dx.data[col[j]] -= back * x.data[col[j]];
            }
        }
    });
}

/// Checks x against the layer's channel count and the per-channel tensors' lengths.
fn bn_layout(ck: &Check, b: &BatchNorm, x: &[usize], per_channel: impl IntoIterator<Item = usize>) -> Layout {
    let n = ck.batch("x", x);
    let (c, s) = ck.channels("x", x, n);
    ck.len("x's channels", c, b.channels as usize);
    for len in per_channel {
        ck.len("a per-channel tensor", len, c);
    }
    Layout { n, c, s }
}

/// The N×C×S layout of an LRN input; the window must hold at least one channel.
fn lrn_layout(ck: &Check, p: &Lrn, x: &[usize]) -> Layout {
    ck.ensure(p.size > 0, || "the LRN window is empty".into());
    let n = ck.batch("x", x);
    let (c, s) = ck.channels("x", x, n);
    Layout { n, c, s }
}

/// Calls `f` with the flat indices of the C channels at each (sample, position).
fn for_each_column(l: Layout, mut f: impl FnMut(Vec<usize>)) {
    for n in 0..l.n {
        for pos in 0..l.s {
            f((0..l.c).map(|c| (n * l.c + c) * l.s + pos).collect());
        }
    }
}

/// s_c = k + α/size · Σ_{c' ∈ window(c)} x_{c'}² for each channel of a column.
fn lrn_scales<T: Real>(p: &Lrn, x: &[T], col: &[usize]) -> Vec<T> {
    let (k, a) = (T::from_f64(p.k), T::from_f64(p.alpha / p.size as f64));
    (0..col.len()).map(|c| k + a * window(p, c, col.len()).map(|j| x[col[j]] * x[col[j]]).sum::<T>()).collect()
}

/// Channels c − ⌊(size−1)/2⌋ ..= c + ⌊size/2⌋, clipped to 0..channels (Caffe's window).
fn window(p: &Lrn, c: usize, channels: usize) -> std::ops::Range<usize> {
    let size = p.size as usize;
    let lo = c.saturating_sub(size.saturating_sub(1) / 2);
    let hi = (c + size / 2 + 1).min(channels);
    lo..hi
}
