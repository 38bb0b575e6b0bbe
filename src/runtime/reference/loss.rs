//! Softmax (`Softmax`, `SoftmaxBackward`) and the training losses
//! (`SoftmaxCrossEntropy`, `SigmoidCrossEntropy`). Each sample's features are a row: x is
//! viewed as N×F.
//!
//! Exponentials are always taken after subtracting the row's maximum (log-sum-exp),
//! so large logits neither overflow nor lose the loss to rounding.

use super::contract::Check;
use super::{In, Out, Real};

/// `Softmax`: y[n,·] = exp(x[n,·]) / Σ exp(x[n,·]).
pub(super) fn softmax<T: Real>(ck: &Check, x: &In<T>, y: &mut Out<T>) {
    let n = ck.batch("x", x.dims);
    let f = ck.per_sample("x", x.dims, n);
    ck.same_len("y", y.data.len(), "x", x.data.len());
    for (row, out) in x.data.chunks(f.max(1)).zip(y.data.chunks_mut(f.max(1))) {
        let lse = log_sum_exp(row.iter().copied());
        for (o, &v) in out.iter_mut().zip(row) {
            *o = (v - lse).exp();
        }
    }
}

/// `SoftmaxBackward`: dx = y·(dy − Σ dy·y), per sample.
pub(super) fn softmax_backward<T: Real>(ck: &Check, y: &In<T>, dy: &In<T>, dx: &mut Out<T>) {
    let n = ck.batch("y", y.dims);
    let f = ck.per_sample("y", y.dims, n).max(1);
    ck.same_len("dy", dy.data.len(), "y", y.data.len());
    ck.same_len("dx", dx.data.len(), "y", y.data.len());
    for ((y, dy), dx) in y.data.chunks(f).zip(dy.data.chunks(f)).zip(dx.data.chunks_mut(f)) {
        let dot: T = y.iter().zip(dy).map(|(&a, &b)| a * b).sum();
        for ((o, &y), &d) in dx.iter_mut().zip(y).zip(dy) {
            *o = y * (d - dot);
        }
    }
}

/// `SoftmaxCrossEntropy`: loss = mean over samples of −Σ_k q_k·log softmax(z)_k with
/// z = ±logits (− when `negate`) and q = (1 − ε)·onehot(label) + ε/K, which is
/// lse(z) − (1 − ε)·z[label] − (ε/K)·Σ_k z_k; dlogits = ±(softmax(z) − q)/N. With ε = 0
/// the smoothing terms are left out, not multiplied by 0. A label that is not a class
/// index (negative, fractional, too large, NaN) makes the loss and that sample's gradient
/// NaN rather than being silently skipped.
pub(super) fn softmax_xent<T: Real>(ck: &Check, negate: bool, eps: f32, ins: &[In<T>], outs: &mut [Out<T>]) {
    let [logits, labels] = ins else { unreachable!("arity is checked by execute") };
    let [loss, dlogits] = outs else { unreachable!("arity is checked by execute") };
    let n = ck.batch("the logits", logits.dims);
    let k = ck.per_sample("the logits", logits.dims, n);
    ck.len("the labels", labels.data.len(), n);
    ck.len("the loss", loss.data.len(), 1);
    ck.same_len("dlogits", dlogits.data.len(), "the logits", logits.data.len());
    let sign = if negate { -T::one() } else { T::one() };
    let inv_n = T::one() / T::from_usize(n);
    let smooth = eps != 0.0;
    let (keep, spread) = (T::one() - T::from_f64(f64::from(eps)), T::from_f64(f64::from(eps)) / T::from_usize(k));
    let mut total = T::zero();
    for s in 0..n {
        let z: Vec<T> = logits.data[s * k..(s + 1) * k].iter().map(|&v| sign * v).collect();
        let lse = log_sum_exp(z.iter().copied());
        let label = class_index(labels.data[s], k);
        total += match label {
            None => T::from_f64(f64::NAN),
            Some(l) if smooth => lse - keep * z[l] - spread * z.iter().copied().sum::<T>(),
            Some(l) => lse - z[l],
        };
        for (c, g) in dlogits.data[s * k..(s + 1) * k].iter_mut().enumerate() {
            let hit = match label {
                Some(l) if l == c => T::one(),
                Some(_) => T::zero(),
                None => T::from_f64(f64::NAN),
            };
            let target = if smooth { keep * hit + spread } else { hit };
            *g = sign * ((z[c] - lse).exp() - target) * inv_n;
        }
    }
    loss.data[0] = total * inv_n;
}

/// `SigmoidCrossEntropy`: loss = mean over samples of max(z, 0) − z·q + ln(1 + exp(−|z|))
/// with q = (1 − ε)·y + ε/2, and dlogits = (σ(z) − q)/N, σ(z) taken from the same
/// exp(−|z|) (1/(1 + e) for z ≥ 0, e/(1 + e) below), so neither overflows. A label other
/// than 0 or 1 makes the loss and that sample's gradient NaN.
pub(super) fn sigmoid_xent<T: Real>(ck: &Check, eps: f32, ins: &[In<T>], outs: &mut [Out<T>]) {
    let [logits, labels] = ins else { unreachable!("arity is checked by execute") };
    let [loss, dlogits] = outs else { unreachable!("arity is checked by execute") };
    let n = ck.batch("the logits", logits.dims);
    let k = ck.per_sample("the logits", logits.dims, n);
    ck.ensure(k == 1, || format!("expected one logit per sample, got {k}"));
    ck.len("the labels", labels.data.len(), n);
    ck.len("the loss", loss.data.len(), 1);
    ck.same_len("dlogits", dlogits.data.len(), "the logits", logits.data.len());
    let inv_n = T::one() / T::from_usize(n);
    let eps = T::from_f64(f64::from(eps));
    let half = T::from_f64(0.5);
    let mut total = T::zero();
    for s in 0..n {
        let z = logits.data[s];
        let q = match class_index(labels.data[s], 2) {
            Some(y) => (T::one() - eps) * T::from_usize(y) + eps * half,
            None => T::from_f64(f64::NAN),
        };
        let e = (-z.max(-z)).exp();
        total += z.max(T::zero()) - z * q + (T::one() + e).ln();
        let sigma = if z >= T::zero() { T::one() / (T::one() + e) } else { e / (T::one() + e) };
        dlogits.data[s] = (sigma - q) * inv_n;
    }
    loss.data[0] = total * inv_n;
}

/// log Σ exp(v), computed as m + log Σ exp(v − m) with m the maximum.
fn log_sum_exp<T: Real>(v: impl Iterator<Item = T> + Clone) -> T {
    let Some(m) = v.clone().reduce(T::max) else { return T::from_f64(f64::NEG_INFINITY) };
    m + v.map(|x| (x - m).exp()).sum::<T>().ln()
}

/// The class a label denotes, if it is an exact index below `classes`.
fn class_index<T: Real>(label: T, classes: usize) -> Option<usize> {
    let l = label.to_f64();
    (l >= 0.0 && l.fract() == 0.0 && l < classes as f64).then_some(l as usize)
}
