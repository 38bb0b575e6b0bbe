//! Softmax (`Softmax`, `SoftmaxBackward`) and the training loss
//! (`SoftmaxCrossEntropy`). Each sample's features are a row: x is viewed as N×F.
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

/// `SoftmaxCrossEntropy`: loss = mean over samples of −log softmax(z)[label] with
/// z = ±logits (− when `negate`), and dlogits its gradient. A label that is not a
/// class index (negative, fractional, too large, NaN) makes the loss and that
/// sample's gradient NaN rather than being silently skipped.
pub(super) fn softmax_xent<T: Real>(ck: &Check, negate: bool, ins: &[In<T>], outs: &mut [Out<T>]) {
    let [logits, labels] = ins else { unreachable!("arity is checked by execute") };
    let [loss, dlogits] = outs else { unreachable!("arity is checked by execute") };
    let n = ck.batch("the logits", logits.dims);
    let k = ck.per_sample("the logits", logits.dims, n);
    ck.len("the labels", labels.data.len(), n);
    ck.len("the loss", loss.data.len(), 1);
    ck.same_len("dlogits", dlogits.data.len(), "the logits", logits.data.len());
    let sign = if negate { -T::one() } else { T::one() };
    let inv_n = T::one() / T::from_usize(n);
    let mut total = T::zero();
    for s in 0..n {
        let z: Vec<T> = logits.data[s * k..(s + 1) * k].iter().map(|&v| sign * v).collect();
        let lse = log_sum_exp(z.iter().copied());
        let label = class_index(labels.data[s], k);
        total += label.map_or(T::from_f64(f64::NAN), |l| lse - z[l]);
        for (c, g) in dlogits.data[s * k..(s + 1) * k].iter_mut().enumerate() {
            let target = match label {
                Some(l) if l == c => T::one(),
                Some(_) => T::zero(),
                None => T::from_f64(f64::NAN),
            };
            *g = sign * ((z[c] - lse).exp() - target) * inv_n;
        }
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
