//! Fully connected layers: `Dense` (x, w, [b] → y), `DenseBackwardData` (dy, w → dx)
//! and `DenseBackwardWeight` (dy, x → dw, [db]).
//!
//! x is viewed as N×in whatever its dims (a C×1×1 map and a flat C vector are the
//! same thing); w is out×in, row-major.

use super::contract::Check;
use super::{In, Out, Real};
use crate::ir::Dense;

/// The validated sizes: batch, inputs and outputs per sample.
struct Sizes {
    n: usize,
    fin: usize,
    fout: usize,
}

/// `Dense`: y[n,o] = b[o] + Σ_i w[o,i]·x[n,i].
pub(super) fn forward<T: Real>(ck: &Check, d: &Dense, x: &In<T>, w: &In<T>, b: Option<&In<T>>, y: &mut Out<T>) {
    let s = sizes(ck, d, x.dims, y.dims, w.data.len());
    if let Some(b) = b {
        ck.len("the bias", b.data.len(), s.fout);
    }
    for n in 0..s.n {
        let xs = &x.data[n * s.fin..(n + 1) * s.fin];
        for o in 0..s.fout {
            let row = &w.data[o * s.fin..(o + 1) * s.fin];
            let dot: T = row.iter().zip(xs).map(|(&a, &b)| a * b).sum();
            y.data[n * s.fout + o] = b.map_or(T::zero(), |b| b.data[o]) + dot;
        }
    }
}

/// `DenseBackwardData`: dx[n,i] = Σ_o dy[n,o]·w[o,i].
pub(super) fn backward_data<T: Real>(ck: &Check, d: &Dense, dy: &In<T>, w: &In<T>, dx: &mut Out<T>) {
    let s = sizes(ck, d, dx.dims, dy.dims, w.data.len());
    dx.data.fill(T::zero());
    for n in 0..s.n {
        for o in 0..s.fout {
            let g = dy.data[n * s.fout + o];
            for i in 0..s.fin {
                dx.data[n * s.fin + i] += g * w.data[o * s.fin + i];
            }
        }
    }
}

/// `DenseBackwardWeight`: dw[o,i] = Σ_n dy[n,o]·x[n,i]; db[o] = Σ_n dy[n,o].
pub(super) fn backward_weight<T: Real>(
    ck: &Check,
    d: &Dense,
    dy: &In<T>,
    x: &In<T>,
    dw: &mut Out<T>,
    db: Option<&mut Out<T>>,
) {
    let s = sizes(ck, d, x.dims, dy.dims, dw.data.len());
    dw.data.fill(T::zero());
    for n in 0..s.n {
        for o in 0..s.fout {
            let g = dy.data[n * s.fout + o];
            for i in 0..s.fin {
                dw.data[o * s.fin + i] += g * x.data[n * s.fin + i];
            }
        }
    }
    if let Some(db) = db {
        ck.len("the bias gradient", db.data.len(), s.fout);
        db.data.fill(T::zero());
        for (k, &g) in dy.data.iter().enumerate() {
            db.data[k % s.fout] += g;
        }
    }
}

/// Checks the batched input (x or dx), output (y or dy) and weight against the layer.
fn sizes(ck: &Check, d: &Dense, x: &[usize], y: &[usize], w_len: usize) -> Sizes {
    let n = ck.batch("the input", x);
    let (fin, fout) = (d.in_features as usize, d.out_features as usize);
    ck.len("the input's sample", ck.per_sample("the input", x, n), fin);
    ck.len("the output's sample", ck.per_sample("the output", y, n), fout);
    ck.len("the weight", w_len, fout * fin);
    Sizes { n, fin, fout }
}
