//! Accuracy of the f32x4 exp / tanh / sigmoid / log emitters against f64 std,
//! on dense grids including the clamping ranges and special values, with
//! native FMA and with FMA forced off.

mod codegen_vmath_support;

use codegen_vmath_support::{compile_unary, UnaryOp};
use netc::codegen::jit::{Jit, JitOptions};
use netc::codegen::vmath::{EXP_HI, EXP_LO};

fn jits() -> Vec<Jit> {
    [true, false]
        .iter()
        .map(|&allow_fma| Jit::new(JitOptions { allow_fma, ..Default::default() }).expect("jit"))
        .collect()
}

fn grid(lo: f32, hi: f32, n: usize) -> Vec<f32> {
    (0..=n).map(|i| lo + (hi - lo) * (i as f32 / n as f32)).collect()
}

/// Positive floats spread over all exponents: `count` mantissas per binade.
fn binades(lo_exp: i32, hi_exp: i32, count: u32) -> Vec<f32> {
    let mut v = Vec::new();
    for e in lo_exp..=hi_exp {
        for k in 0..count {
            let bits = (((e + 127) as u32) << 23) | (k * (0x7f_ffff / count));
            v.push(f32::from_bits(bits));
        }
    }
    v
}

fn apply(jit: &Jit, op: UnaryOp, x: &[f32]) -> Vec<f32> {
    let k = compile_unary(jit, op);
    let mut y = vec![0f32; x.len()];
    k.apply(x, &mut y);
    y
}

/// (max relative error, max absolute error) against `f` in f64.
fn errors(x: &[f32], y: &[f32], f: impl Fn(f64) -> f64) -> (f64, f64) {
    let (mut rel, mut abs) = (0f64, 0f64);
    for (&xi, &yi) in x.iter().zip(y) {
        let r = f(xi as f64);
        let d = (yi as f64 - r).abs();
        assert!(yi.is_finite(), "non-finite {yi} at x={xi}");
        abs = abs.max(d);
        if r != 0.0 {
            rel = rel.max(d / r.abs());
        }
    }
    (rel, abs)
}

#[test]
fn exp_accuracy() {
    let mut x = grid(EXP_LO, EXP_HI, 400_000);
    x.extend(grid(-1.0, 1.0, 100_000));
    x.extend([0.0, -0.0, 1e-30, -1e-30, EXP_LO, EXP_HI]);
    for jit in jits() {
        let y = apply(&jit, UnaryOp::Exp, &x);
        let (rel, _) = errors(&x, &y, f64::exp);
        assert!(rel < 2e-7, "exp rel err {rel:e} (fma={})", jit.features().has_fma);
    }
}

#[test]
fn exp_edges() {
    let x = [-1e30, -100.0, -87.5, 89.0, 1e30, f32::INFINITY, f32::NEG_INFINITY];
    for jit in jits() {
        let y = apply(&jit, UnaryOp::Exp, &x);
        assert_eq!(&y[..3], &[0.0, 0.0, 0.0]);
        for &v in &y[3..6] {
            assert!(v.is_finite() && v > 3.0e38, "saturated exp {v}");
        }
        assert_eq!(y[6], 0.0);
        assert!(apply(&jit, UnaryOp::Exp, &[f32::NAN])[0].is_nan());
    }
}

#[test]
fn tanh_accuracy() {
    let mut x = grid(-20.0, 20.0, 400_000);
    x.extend(grid(-0.5, 0.5, 100_000));
    x.extend(binades(-40, 6, 64).iter().flat_map(|&v| [v, -v]));
    for jit in jits() {
        let y = apply(&jit, UnaryOp::Tanh, &x);
        let (rel, abs) = errors(&x, &y, f64::tanh);
        assert!(abs < 4e-7, "tanh abs err {abs:e}");
        assert!(rel < 4e-7, "tanh rel err {rel:e}");
    }
}

#[test]
fn tanh_saturates() {
    let x = [30.0, -30.0, 1e30, -1e30, f32::INFINITY, f32::NEG_INFINITY, 0.0];
    for jit in jits() {
        let y = apply(&jit, UnaryOp::Tanh, &x);
        assert_eq!(y, vec![1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 0.0]);
        assert!(apply(&jit, UnaryOp::Tanh, &[f32::NAN])[0].is_nan());
    }
}

#[test]
fn tanh_never_exceeds_one() {
    // The result is not clamped: the rational must stay at or below 1 for every float
    // up to the input clamp (7.918) and reach exactly 1 there. Every float of [6, 9.5].
    let x: Vec<f32> = (6.0f32.to_bits()..9.5f32.to_bits()).map(f32::from_bits).collect();
    let neg: Vec<f32> = x.iter().map(|v| -v).collect();
    for jit in jits() {
        let y = apply(&jit, UnaryOp::Tanh, &x);
        let worst = y.iter().zip(&x).find(|(y, _)| **y > 1.0);
        assert!(worst.is_none(), "tanh{:?} above 1", worst.map(|(y, x)| (x, y)));
        assert_eq!(y.last(), Some(&1.0));
        assert!(apply(&jit, UnaryOp::Tanh, &neg).iter().all(|&v| v >= -1.0));
    }
}

#[test]
fn sigmoid_accuracy() {
    let mut x = grid(-87.0, 40.0, 400_000);
    x.extend(grid(-2.0, 2.0, 100_000));
    let f = |v: f64| 1.0 / (1.0 + (-v).exp());
    for jit in jits() {
        let y = apply(&jit, UnaryOp::Sigmoid, &x);
        let (rel, _) = errors(&x, &y, f);
        assert!(rel < 3e-7, "sigmoid rel err {rel:e}");
        let e = apply(&jit, UnaryOp::Sigmoid, &[1e30, -1e30, f32::INFINITY]);
        assert_eq!(e[0], 1.0);
        assert!(e[1] >= 0.0 && e[1] < 1e-37);
        assert_eq!(e[2], 1.0);
    }
}

#[test]
fn log_accuracy() {
    let mut x = binades(-126, 127, 2048);
    x.extend(grid(0.5, 2.0, 400_000));
    x.extend([1.0, f32::MIN_POSITIVE, f32::MAX]);
    for jit in jits() {
        let y = apply(&jit, UnaryOp::Log, &x);
        let (rel, _) = errors(&x, &y, f64::ln);
        assert!(rel < 3e-7, "log rel err {rel:e}");
    }
}

#[test]
fn log_domain_edges() {
    let floor = (f32::MIN_POSITIVE as f64).ln() as f32;
    for jit in jits() {
        let y = apply(&jit, UnaryOp::Log, &[0.0, -0.0, -5.0, 1e-45, f32::INFINITY]);
        for &v in &y[..4] {
            assert!((v - floor).abs() < 1e-4, "log floor {v}");
        }
        assert!((y[4] - 88.72).abs() < 0.01);
        assert!(apply(&jit, UnaryOp::Log, &[f32::NAN])[0].is_nan());
        assert_eq!(apply(&jit, UnaryOp::Log, &[1.0])[0], 0.0);
    }
}

#[test]
fn map_handles_tails() {
    let jit = Jit::native().unwrap();
    let k = compile_unary(&jit, UnaryOp::Exp);
    for n in 0..9 {
        let x: Vec<f32> = (0..n).map(|i| i as f32 * 0.1).collect();
        let mut y = vec![f32::NAN; n];
        k.apply(&x, &mut y);
        for (a, b) in x.iter().zip(&y) {
            assert!((a.exp() - b).abs() < 1e-6);
        }
    }
}
