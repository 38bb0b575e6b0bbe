//! Helpers for the reference-kernel tests: owned tensors, running a kernel, seeded
//! random inputs, op constructors, and the central-difference gradient check.
#![allow(dead_code)]

pub mod catalogue;
pub mod naive;

use netc::autodiff::Kernel;
use netc::data::Rng;
use netc::ir::{Act, BatchNorm, ConnTable, Conv, Dense, Lrn, Pad2d, Pool, PoolKind, Window};
use netc::runtime::reference::{execute, In, KernelCtx, Out, Real};
use std::sync::Arc;

/// Step size of the central differences.
pub const H: f64 = 1e-6;
/// Largest accepted relative error, max|analytic − numeric| / max(|numeric|, |analytic|).
pub const TOL: f64 = 1e-6;

/// An owned tensor: row-major data and its dims.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor<T = f64> {
    pub data: Vec<T>,
    pub dims: Vec<usize>,
}

impl<T: Real> Tensor<T> {
    pub fn new(dims: &[usize], data: Vec<T>) -> Self {
        assert_eq!(data.len(), dims.iter().product::<usize>(), "tensor data does not fill {dims:?}");
        Tensor { data, dims: dims.to_vec() }
    }
    pub fn zeros(dims: &[usize]) -> Self {
        Tensor::new(dims, vec![T::zero(); dims.iter().product()])
    }
    pub fn view(&self) -> In<'_, T> {
        In { data: &self.data, dims: &self.dims }
    }
    pub fn map<U: Real>(&self, f: impl Fn(T) -> U) -> Tensor<U> {
        Tensor { data: self.data.iter().map(|&v| f(v)).collect(), dims: self.dims.clone() }
    }
}

impl Tensor<f64> {
    pub fn from(dims: &[usize], data: &[f64]) -> Self {
        Tensor::new(dims, data.to_vec())
    }
    pub fn to_f32(&self) -> Tensor<f32> {
        self.map(|v| v as f32)
    }
}

/// Runs `kernel` into `outs` (their contents are the buffers' prior contents).
pub fn run_into<T: Real>(kernel: &Kernel, ins: &[&Tensor<T>], outs: &mut [Tensor<T>], accumulate: bool) {
    let views: Vec<In<T>> = ins.iter().map(|t| t.view()).collect();
    let mut bufs: Vec<Out<T>> = outs.iter_mut().map(|t| Out { data: &mut t.data, dims: &t.dims }).collect();
    execute(kernel, &views, &mut bufs, accumulate, &KernelCtx { seed: 7, step: 3 });
}

/// Runs `kernel` into fresh zeroed outputs of the given dims.
pub fn run<T: Real>(kernel: &Kernel, ins: &[&Tensor<T>], out_dims: &[&[usize]]) -> Vec<Tensor<T>> {
    let mut outs: Vec<Tensor<T>> = out_dims.iter().map(|d| Tensor::zeros(d)).collect();
    run_into(kernel, ins, &mut outs, false);
    outs
}

/// Runs a single-output kernel.
pub fn run1<T: Real>(kernel: &Kernel, ins: &[&Tensor<T>], out_dims: &[usize]) -> Tensor<T> {
    run(kernel, ins, &[out_dims]).remove(0)
}

/// Seeded random tensors.
pub struct Gen(Rng);

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(Rng::new(seed))
    }
    pub fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        self.0.shuffle(items);
    }
    pub fn uniform(&mut self, dims: &[usize], lo: f64, hi: f64) -> Tensor {
        let n = dims.iter().product();
        Tensor::new(dims, (0..n).map(|_| lo + (hi - lo) * self.0.next_f64()).collect())
    }
    /// Values in [-1, 1] whose magnitudes all exceed `gap`.
    pub fn away_from_zero(&mut self, dims: &[usize], gap: f64) -> Tensor {
        let mut t = self.uniform(dims, gap, 1.0);
        for v in &mut t.data {
            if self.0.next_f64() < 0.5 {
                *v = -*v;
            }
        }
        t
    }
    /// Pairwise distinct values in [-1, 1) at least 2/len apart (for max pooling: no
    /// ties, so finite differences never cross an argmax switch).
    pub fn distinct(&mut self, dims: &[usize]) -> Tensor {
        let n: usize = dims.iter().product();
        let mut v: Vec<f64> = (0..n).map(|i| -1.0 + 2.0 * i as f64 / n as f64).collect();
        self.0.shuffle(&mut v);
        Tensor::new(dims, v)
    }
    /// `n` class indices below `classes`, stored as reals.
    pub fn labels(&mut self, n: usize, classes: usize) -> Tensor {
        Tensor::new(&[n], (0..n).map(|_| self.below(classes) as f64).collect())
    }
}

/// A window with stride and padding [top, bottom, left, right].
pub fn window(kh: u64, kw: u64, sh: u64, sw: u64, pad: [u64; 4]) -> Window {
    let [top, bottom, left, right] = pad;
    Window { kh, kw, sh, sw, pad: Pad2d { top, bottom, left, right } }
}

/// A grouped convolution.
pub fn conv(in_c: u64, out_c: u64, window: Window, groups: u64, bias: bool) -> Conv {
    Conv { in_c, out_c, window, groups, bias, table: None }
}

/// A convolution through a connection table.
pub fn table_conv(in_c: u64, rows: &[&[u32]], window: Window, bias: bool) -> Conv {
    let table = ConnTable { inputs: rows.iter().map(|r| r.to_vec()).collect() };
    Conv { in_c, out_c: rows.len() as u64, window, groups: 1, bias, table: Some(Arc::new(table)) }
}

/// A pooling layer.
pub fn pool(kind: PoolKind, window: Window, ceil: bool, count_pad: bool) -> Pool {
    Pool { kind, window, ceil, count_pad }
}

pub fn dense(in_features: u64, out_features: u64, bias: bool) -> Dense {
    Dense { in_features, out_features, bias }
}

pub fn bn(channels: u64) -> BatchNorm {
    BatchNorm { channels, eps: 1e-5, momentum: 0.1 }
}

pub fn lrn(size: u64) -> Lrn {
    Lrn { size, alpha: 0.6, beta: 0.75, k: 2.0 }
}

/// Every activation, LeNet-5's scaled tanh included.
pub fn activations() -> [Act; 4] {
    [Act::Relu, Act::Tanh, Act::Sigmoid, Act::ScaledTanh { a: 1.7159, s: 2.0 / 3.0 }]
}

/// max|a − b| / max(|a|, |b|, 1e-8): one relative error for a whole tensor, so that
/// near-zero elements are judged on the tensor's scale.
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "compared tensors differ in length");
    let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let scale = a.iter().chain(b).map(|v| v.abs()).fold(1e-8, f64::max);
    diff / scale
}

/// Asserts `rel_err(got, want) <= tol` and returns the error.
pub fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) -> f64 {
    let err = rel_err(got, want);
    assert!(err <= tol, "{what}: relative error {err:.3e} > {tol:.0e}\n got  {got:?}\n want {want:?}");
    err
}

/// Checks the gradients `backward` computes against central differences.
///
/// L = Σ r·forward(inputs) for a random projection r; `backward(inputs, r)` returns
/// (input index, dL/dinput) pairs, each compared with (L(x + h) − L(x − h)) / 2h taken
/// element by element. Returns the worst relative error; panics above [`TOL`] or if
/// the numerical gradient vanishes (a check that cannot fail proves nothing).
pub fn grad_check(
    name: &str,
    gen: &mut Gen,
    inputs: &[Tensor],
    forward: impl Fn(&[Tensor]) -> Tensor,
    backward: impl Fn(&[Tensor], &Tensor) -> Vec<(usize, Tensor)>,
) -> f64 {
    let y = forward(inputs);
    let r = gen.uniform(&y.dims, -1.0, 1.0);
    let mut worst: f64 = 0.0;
    for (k, analytic) in backward(inputs, &r) {
        let numeric = numeric_grad(&forward, inputs, k, &r);
        assert!(numeric.iter().any(|v| v.abs() > 1e-6), "{name}: the gradient of input {k} vanishes");
        worst = worst.max(assert_close(&format!("{name}, input {k}"), &analytic.data, &numeric, TOL));
    }
    worst
}

/// dL/dinputs[k] by central differences, L = Σ r·forward; the difference of the two
/// outputs is formed before the dot product to keep rounding small.
fn numeric_grad(forward: &impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor], k: usize, r: &Tensor) -> Vec<f64> {
    let mut probe = inputs.to_vec();
    (0..inputs[k].data.len())
        .map(|i| {
            let x = inputs[k].data[i];
            probe[k].data[i] = x + H;
            let plus = forward(&probe);
            probe[k].data[i] = x - H;
            let minus = forward(&probe);
            probe[k].data[i] = x;
            plus.data.iter().zip(&minus.data).zip(&r.data).map(|((p, m), r)| r * (p - m)).sum::<f64>() / (2.0 * H)
        })
        .collect()
}

/// Reports a family's worst error (visible with `--nocapture`).
pub fn report(family: &str, worst: f64) {
    println!("{family}: worst relative error {worst:.2e}");
}
