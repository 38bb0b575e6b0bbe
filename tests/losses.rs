//! The training losses of issue 10 §2 against independent oracles:
//!
//! - label smoothing of softmax cross-entropy (`SoftmaxCrossEntropy { smoothing }`):
//!   target q = (1 − ε)·onehot(label) + ε/K, loss −Σ q_k log softmax(z)_k averaged over
//!   the batch, dlogits = (softmax(z) − q)/N;
//! - binary cross-entropy of a sigmoid output (`SigmoidCrossEntropy`), fused:
//!   max(z, 0) − z·q + log(1 + exp(−|z|)), dz = (σ(z) − q)/N, q = (1 − ε)·y + ε/2.
//!
//! Oracles: values computed by hand (3 classes with logits 0, ln 2, ln 3, whose softmax is
//! 1/6, 2/6, 3/6; logits ±ln 3, whose sigmoid is 3/4 and 1/4) and from the textbook
//! two-term definition −q·ln σ − (1 − q)·ln(1 − σ); central differences of the reference
//! executor in f64 for the gradients; the reference executor for the JIT. Run with
//! `--nocapture` to see the worst errors.

mod jit_ops_support;
mod reference_support;

use jit_ops_support as jit;
use netc::autodiff::{Kernel, ScoreKind};
use netc::train::metrics;
use reference_support::{self as rs, Tensor};

fn xent(negate: bool, eps: f32) -> Kernel {
    Kernel::SoftmaxCrossEntropy { negate, smoothing: eps }
}

fn bce(eps: f32) -> Kernel {
    Kernel::SigmoidCrossEntropy { smoothing: eps }
}

/// Runs a loss kernel in f64: (loss, dlogits).
fn loss(k: &Kernel, dims: &[usize], logits: &[f64], labels: &[f64]) -> (f64, Vec<f64>) {
    let ins = [Tensor::from(dims, logits), Tensor::from(&[labels.len()], labels)];
    let mut out = rs::run(k, &[&ins[0], &ins[1]], &[&[1], dims]);
    let d = out.remove(1).data;
    (out[0].data[0], d)
}

fn close(what: &str, got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-12 * want.abs().max(1.0), "{what}: got {got}, want {want}");
}

fn all_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        close(&format!("{what}[{i}]"), g, w);
    }
}

#[test]
fn smoothed_cross_entropy_by_hand() {
    let (l2, l3, l6) = (2f64.ln(), 3f64.ln(), 6f64.ln());
    // softmax(0, ln 2, ln 3) = (1/6, 2/6, 3/6); ε = 0.25 (exact in f32, as the kernel
    // holds it), K = 3, label 0: q = (0.75 + 0.25/3, 0.25/3, 0.25/3), loss = −Σ q ln p.
    let (p, e) = ([1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0], 0.25);
    let q = [1.0 - e + e / 3.0, e / 3.0, e / 3.0];
    let want = q[0] * l6 + q[1] * (6.0f64 / 2.0).ln() + q[2] * 2f64.ln();
    let (got, d) = loss(&xent(false, 0.25), &[1, 3], &[0.0, l2, l3], &[0.0]);
    close("ε 0.25, label 0", got, want);
    all_close("its gradient", &d, &[p[0] - q[0], p[1] - q[1], p[2] - q[2]]);
    // The same as a number: 0.8333…·ln 6 + 0.0833…·ln 3 + 0.0833…·ln 2 = 1.642446…
    assert!((got - 1.642_446_3).abs() < 1e-6, "{got}");
    // Label 2 and a batch of two: the loss is the mean, the gradient divided by N = 2.
    let q2 = [e / 3.0, e / 3.0, 1.0 - e + e / 3.0];
    let want2 = q2[0] * l6 + q2[1] * 3f64.ln() + q2[2] * 2f64.ln();
    let (got, d) = loss(&xent(false, 0.25), &[2, 3], &[0.0, l2, l3, 0.0, l2, l3], &[0.0, 2.0]);
    close("mean of two", got, (want + want2) / 2.0);
    close("gradient of the second, class 2", d[5], (p[2] - q2[2]) / 2.0);
    // Negated (RBF distances): z = −logits, dlogits = −(softmax(z) − q)/N.
    let (got, d) = loss(&xent(true, 0.25), &[1, 3], &[0.0, -l2, -l3], &[0.0]);
    close("negated", got, want);
    all_close("negated gradient", &d, &[q[0] - p[0], q[1] - p[1], q[2] - p[2]]);
    // ε = 0 is plain cross-entropy, and equal logits cost ln K whatever ε is.
    close("ε 0", loss(&xent(false, 0.0), &[1, 3], &[0.0, l2, l3], &[0.0]).0, l6);
    close("equal logits", loss(&xent(false, 0.4), &[1, 3], &[0.7; 3], &[1.0]).0, l3);
    // An invalid label still poisons the loss and that sample's gradient.
    let (got, d) = loss(&xent(false, 0.1), &[2, 3], &[0.0; 6], &[0.0, 1.5]);
    assert!(got.is_nan() && d[3..].iter().all(|v| v.is_nan()) && d[..3].iter().all(|v| v.is_finite()));
    // The host's training loss (what the log shows) is the same formula.
    let host = metrics::smoothed_cross_entropy(&[0.0, l2 as f32, l3 as f32], 0, ScoreKind::Logits, 0.25);
    assert!((host - 1.642_446_3).abs() < 1e-6, "host {host}");
}

/// −q·ln σ − (1 − q)·ln(1 − σ): the textbook form the fused kernel must equal.
fn two_term(z: f64, q: f64) -> f64 {
    let s = 1.0 / (1.0 + (-z).exp());
    -q * s.ln() - (1.0 - q) * (1.0 - s).ln()
}

#[test]
fn binary_cross_entropy_by_hand() {
    let l3 = 3f64.ln();
    // σ(ln 3) = 3/4, σ(−ln 3) = 1/4, σ(0) = 1/2.
    let (got, d) = loss(&bce(0.0), &[3, 1], &[l3, -l3, 0.0], &[1.0, 1.0, 0.0]);
    close("three samples", got, ((4.0f64 / 3.0).ln() + 4f64.ln() + 2f64.ln()) / 3.0);
    all_close("their gradient", &d, &[(0.75 - 1.0) / 3.0, (0.25 - 1.0) / 3.0, 0.5 / 3.0]);
    // Smoothing ε = 0.25: q = 0.75·y + 0.125.
    let (got, d) = loss(&bce(0.25), &[2, 1, 1, 1], &[l3, -l3], &[1.0, 0.0]);
    close("smoothed", got, (two_term(l3, 0.875) + two_term(-l3, 0.125)) / 2.0);
    all_close("smoothed gradient", &d, &[(0.75 - 0.875) / 2.0, (0.25 - 0.125) / 2.0]);
    // Against the two-term form over a range of logits (where 1 − σ keeps its digits).
    for z in [-7.5, -1.0, -0.1, 0.3, 2.0, 7.5] {
        for (y, eps) in [(0.0, 0.0), (1.0, 0.0), (1.0, 0.1), (0.0, 0.3)] {
            // The kernel holds ε as an f32.
            let e = f64::from(eps as f32);
            let q = (1.0 - e) * y + e / 2.0;
            let (got, _) = loss(&bce(eps as f32), &[1, 1], &[z], &[y]);
            let want = two_term(z, q);
            assert!((got - want).abs() <= 1e-12 * want.max(1.0), "z {z} y {y} ε {eps}: {got} vs {want}");
        }
    }
    // Far out, the softplus form: loss = |z| + ln(1 + e^−|z|) for the wrong label.
    for z in [-40.0, 40.0] {
        let (got, d) = loss(&bce(0.0), &[1, 1], &[z], &[if z > 0.0 { 0.0 } else { 1.0 }]);
        close(&format!("z {z}"), got, 40.0 + (-40f64).exp().ln_1p());
        close(&format!("gradient at z {z}"), d[0], z.signum() * (1.0 - (-40f64).exp() / (1.0 + (-40f64).exp())));
    }
    // Stable where the two-term form overflows: huge logits in f32.
    let ins =
        [Tensor::from(&[4, 1], &[1e4, -1e4, 1e4, 100.0]).to_f32(), Tensor::from(&[4], &[0.0, 1.0, 1.0, 0.0]).to_f32()];
    let out = rs::run(&bce(0.0), &[&ins[0], &ins[1]], &[&[1], &[4, 1]]);
    assert_eq!(out[0].data[0], (1e4f32 + 1e4 + 0.0 + 100.0) / 4.0, "f32 loss of saturated logits");
    assert_eq!(out[1].data, vec![0.25, -0.25, 0.0, 0.25], "f32 gradient of saturated logits");
    // A label that is neither 0 nor 1 gives NaN for that sample only.
    for bad in [2.0, -1.0, 0.5, f64::NAN] {
        let (got, d) = loss(&bce(0.0), &[2, 1], &[0.5, 0.5], &[1.0, bad]);
        assert!(got.is_nan() && d[1].is_nan() && d[0].is_finite(), "label {bad}");
    }
    // The host reads the logit as two-class logits [0, z]: its loss is the same.
    let host = metrics::cross_entropy(&[l3 as f32], 1, ScoreKind::BinaryLogit);
    assert!((host - (4.0f64 / 3.0).ln()).abs() < 1e-7, "host {host}");
    let host = metrics::smoothed_cross_entropy(&[l3 as f32], 1, ScoreKind::BinaryLogit, 0.25);
    assert!((host - two_term(l3, 0.875)).abs() < 1e-7, "host smoothed {host}");
}

/// The loss `kernel`'s dlogits against finite differences of its loss at `logits`.
fn loss_grad_check(name: &str, g: &mut rs::Gen, kernel: &Kernel, logits: Tensor, labels: &Tensor) -> f64 {
    let dims = logits.dims.clone();
    let both = |t: &[Tensor]| rs::run(kernel, &[&t[0], labels], &[&[1], &dims]);
    rs::grad_check(
        name,
        g,
        std::slice::from_ref(&logits),
        |t| both(t).remove(0),
        |t, r| vec![(0, both(t).remove(1).map(|v| v * r.data[0]))],
    )
}

#[test]
fn smoothed_losses_match_finite_differences() {
    let mut g = rs::Gen::new(31);
    let mut worst: f64 = 0.0;
    for (negate, eps, n, k) in [(false, 0.1, 4, 5), (true, 0.1, 3, 7), (false, 0.3, 2, 2), (false, 0.9, 5, 3)] {
        let kernel = xent(negate, eps);
        let (labels, logits) = (g.labels(n, k), g.uniform(&[n, k], -3.0, 3.0));
        let name = format!("softmax cross-entropy, negate {negate}, ε {eps}, {n}×{k}");
        worst = worst.max(loss_grad_check(&name, &mut g, &kernel, logits, &labels));
    }
    rs::report("smoothed softmax cross-entropy", worst);
    let mut worst: f64 = 0.0;
    for (eps, n, spread) in [(0.0, 6, 4.0), (0.1, 5, 4.0), (0.25, 4, 12.0)] {
        let kernel = bce(eps);
        let (labels, logits) = (g.labels(n, 2), g.uniform(&[n, 1], -spread, spread));
        let name = format!("binary cross-entropy, ε {eps}, batch {n}");
        worst = worst.max(loss_grad_check(&name, &mut g, &kernel, logits, &labels));
    }
    rs::report("binary cross-entropy", worst);
}

#[test]
fn jit_losses_match_the_reference() {
    let mut g = jit::Gen::new(32);
    let tol = 1e-6;
    let mut worst: f64 = 0.0;
    for i in 0..16 {
        let n = [1, 3, 2, 5][i % 4];
        let f = 2 + g.below(22);
        let dims = if i % 2 == 0 { vec![n, f] } else { vec![n, f, 1, 1] };
        let x = g.strided(&dims, -5.0, 5.0);
        let mut labels: Vec<f32> = (0..n).map(|_| g.below(f) as f32).collect();
        if i % 5 == 4 {
            labels[n - 1] = [f as f32, 0.5, f32::NAN][(i / 5) % 3];
        }
        let labels = g.maybe_padded(jit::Buf::dense(&[n], labels));
        let (negate, eps) = (i % 3 == 1, [0.1, 0.2, 0.05, 0.9][i % 4]);
        let outs = vec![jit::Buf::param(&[1], vec![0.25]), g.strided(&dims, 0.0, 0.0)];
        let mut case = jit::Case::new(xent(negate, eps), vec![x, labels], outs);
        case.accumulate = i % 4 == 2;
        worst = worst.max(jit::check(&format!("smoothed xent negate {negate} ε {eps} {dims:?}"), &case, tol));
    }
    jit::report("smoothed softmax cross-entropy", worst, tol);
    let mut worst: f64 = 0.0;
    for i in 0..16 {
        let n = [1, 3, 7, 16][i % 4];
        let dims = if i % 2 == 0 { vec![n, 1] } else { vec![n, 1, 1, 1] };
        let spread = [3.0, 20.0, 90.0][i % 3];
        let x = g.strided(&dims, -spread, spread);
        let mut labels: Vec<f32> = (0..n).map(|_| g.below(2) as f32).collect();
        if i % 5 == 4 {
            labels[n - 1] = [2.0, -1.0, 0.5, f32::NAN][(i / 5) % 4];
        }
        let labels = g.maybe_padded(jit::Buf::dense(&[n], labels));
        let eps = [0.0, 0.1, 0.0, 0.3][i % 4];
        let outs = vec![jit::Buf::param(&[1], vec![0.25]), g.strided(&dims, 0.0, 0.0)];
        let mut case = jit::Case::new(bce(eps), vec![x, labels], outs);
        case.accumulate = i % 4 == 3;
        worst = worst.max(jit::check(&format!("binary xent ε {eps} {dims:?}"), &case, tol));
    }
    jit::report("binary cross-entropy", worst, tol);
}
