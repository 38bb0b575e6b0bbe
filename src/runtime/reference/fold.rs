//! `FoldBatchNorm`: an inference batch norm folded into the convolution before it.

use super::contract::Check;
use super::{In, Out, Real};
use crate::ir::{BatchNorm, Conv};

/// w' = s·w per output channel and b' = s·(b − mean) + β, with s = γ/√(var + eps).
pub(super) fn fold_batch_norm<T: Real>(ck: &Check, c: &Conv, bn: &BatchNorm, ins: &[In<T>], outs: &mut [Out<T>]) {
    let (w, rest) = ins.split_first().expect("arity is checked by execute");
    let (b, stats) = if c.bias { (Some(&rest[0]), &rest[1..]) } else { (None, rest) };
    let [gamma, beta, mean, var] = stats else { unreachable!("arity is checked by execute") };
    let [w2, b2] = outs else { unreachable!("arity is checked by execute") };
    let out_c = c.out_c as usize;
    for t in [gamma, beta, mean, var] {
        ck.len("a batch-norm tensor", t.data.len(), out_c);
    }
    ck.len("the folded bias", b2.data.len(), out_c);
    ck.len("the folded weight", w2.data.len(), w.data.len());
    let taps = (c.window.kh * c.window.kw) as usize;
    // Weight rows of each output channel: Cin/groups·kh·kw, or its table links·kh·kw.
    let rows: Vec<usize> = match &c.table {
        Some(t) => t.inputs.iter().map(|r| r.len() * taps).collect(),
        None => vec![(c.in_c / c.groups) as usize * taps; out_c],
    };
    let mut at = 0;
    for (o, len) in rows.into_iter().enumerate() {
        let s = gamma.data[o] / (var.data[o] + T::from_f64(bn.eps)).sqrt();
        for k in at..at + len {
            w2.data[k] = s * w.data[k];
        }
        at += len;
        let bias = b.map_or(T::zero(), |b| b.data[o]);
        b2.data[o] = s * (bias - mean.data[o]) + beta.data[o];
    }
}
