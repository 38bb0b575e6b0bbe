//! LeNet-5's own layers: trainable subsampling (`Subsample`, `SubsampleBackward`) and
//! the Euclidean RBF output (`Rbf`, `RbfBackward`).
//!
//! Subsampling sums non-overlapping k×k blocks (rows and columns left over when k
//! does not divide the size are ignored), scales by one coefficient and shifts by one
//! bias per map. The RBF views x as N×in, like a dense layer.

use super::contract::Check;
use super::{In, Out, Real};
use crate::ir::{Rbf, Subsample};

/// The validated sizes of a subsampling: input N×C×H×W, output N×C×oh×ow.
struct Blocks {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    k: usize,
}

impl Blocks {
    fn new(ck: &Check, s: &Subsample, x: &[usize], y: &[usize]) -> Blocks {
        let [n, c, h, w] = ck.nchw("x", x);
        let k = s.k as usize;
        ck.ensure(k > 0, || "the subsampling block is empty".into());
        ck.ensure(c as u64 == s.channels, || format!("x has {c} channels, the layer {}", s.channels));
        ck.dims4("y", y, [n, c, h / k, w / k]);
        Blocks { n, c, h, w, oh: h / k, ow: w / k, k }
    }

    /// Calls `f(map, y index, x indices of the block)` for every output position.
    fn for_each(&self, mut f: impl FnMut(usize, usize, &mut dyn Iterator<Item = usize>)) {
        let k = self.k;
        for plane in 0..self.n * self.c {
            for i in 0..self.oh {
                for j in 0..self.ow {
                    let yi = (plane * self.oh + i) * self.ow + j;
                    let x0 = (plane * self.h + k * i) * self.w + k * j;
                    let mut block = (0..k).flat_map(|p| (0..k).map(move |q| x0 + p * self.w + q));
                    f(plane % self.c, yi, &mut block);
                }
            }
        }
    }
}

/// `Subsample`: y = w[c]·(sum of the k×k block) + b[c].
pub(super) fn subsample<T: Real>(ck: &Check, s: &Subsample, ins: &[In<T>], y: &mut Out<T>) {
    let [x, w, b] = ins else { unreachable!("arity is checked by execute") };
    let g = Blocks::new(ck, s, x.dims, y.dims);
    ck.len("the weight", w.data.len(), g.c);
    ck.len("the bias", b.data.len(), g.c);
    g.for_each(|c, yi, block| {
        y.data[yi] = w.data[c] * block.map(|i| x.data[i]).sum::<T>() + b.data[c];
    });
}

/// `SubsampleBackward`: dx = w[c]·dy over each block (0 outside blocks),
/// dw[c] = Σ dy·(block sum), db[c] = Σ dy.
pub(super) fn subsample_backward<T: Real>(ck: &Check, s: &Subsample, ins: &[In<T>], outs: &mut [Out<T>]) {
    let [dy, x, w] = ins else { unreachable!("arity is checked by execute") };
    let [dx, dw, db] = outs else { unreachable!("arity is checked by execute") };
    let g = Blocks::new(ck, s, x.dims, dy.dims);
    ck.same_len("dx", dx.data.len(), "x", x.data.len());
    for (what, len) in [("the weight", w.data.len()), ("dw", dw.data.len()), ("db", db.data.len())] {
        ck.len(what, len, g.c);
    }
    dx.data.fill(T::zero());
    dw.data.fill(T::zero());
    db.data.fill(T::zero());
    g.for_each(|c, yi, block| {
        let d = dy.data[yi];
        let mut sum = T::zero();
        for i in block {
            sum += x.data[i];
            dx.data[i] = w.data[c] * d;
        }
        dw.data[c] += d * sum;
        db.data[c] += d;
    });
}

/// `Rbf`: y[n,j] = Σ_i (x[n,i] − centers[j,i])².
pub(super) fn rbf<T: Real>(ck: &Check, r: &Rbf, x: &In<T>, centers: &In<T>, y: &mut Out<T>) {
    let (n, f, k) = rbf_sizes(ck, r, x.dims, y.dims, centers.data.len());
    for s in 0..n {
        for j in 0..k {
            y.data[s * k + j] = (0..f).map(|i| sq(x.data[s * f + i] - centers.data[j * f + i])).sum();
        }
    }
}

/// `RbfBackward`: dx[n,i] = Σ_j 2·dy[n,j]·(x[n,i] − c[j,i]); dcenters = −Σ_n of the same terms.
pub(super) fn rbf_backward<T: Real>(ck: &Check, r: &Rbf, ins: &[In<T>], outs: &mut [Out<T>]) {
    let [dy, x, centers] = ins else { unreachable!("arity is checked by execute") };
    let (dx, mut dc) = match outs {
        [dx] => (dx, None),
        [dx, dc] => (dx, Some(dc)),
        _ => unreachable!("arity is checked by execute"),
    };
    let (n, f, k) = rbf_sizes(ck, r, x.dims, dy.dims, centers.data.len());
    ck.same_len("dx", dx.data.len(), "x", x.data.len());
    if let Some(dc) = dc.as_deref_mut() {
        ck.same_len("dcenters", dc.data.len(), "the centres", centers.data.len());
        dc.data.fill(T::zero());
    }
    dx.data.fill(T::zero());
    let two = T::from_f64(2.0);
    for s in 0..n {
        for j in 0..k {
            for i in 0..f {
                let g = two * dy.data[s * k + j] * (x.data[s * f + i] - centers.data[j * f + i]);
                dx.data[s * f + i] += g;
                if let Some(dc) = dc.as_deref_mut() {
                    dc.data[j * f + i] -= g;
                }
            }
        }
    }
}

/// Batch, features and classes, checked against x (or dx), y (or dy) and the centres.
fn rbf_sizes(ck: &Check, r: &Rbf, x: &[usize], y: &[usize], centers: usize) -> (usize, usize, usize) {
    let n = ck.batch("x", x);
    let (f, k) = (r.in_features as usize, r.classes as usize);
    ck.len("x's sample", ck.per_sample("x", x, n), f);
    ck.len("y's sample", ck.per_sample("y", y, n), k);
    ck.len("the centres", centers, k * f);
    (n, f, k)
}

fn sq<T: Real>(v: T) -> T {
    v * v
}
