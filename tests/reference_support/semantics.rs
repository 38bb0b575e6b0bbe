//! Execution semantics: overwriting and accumulation, dropout masks, f32 against f64,
//! data values that never panic, and contract violations that always do.

use crate::reference_support::catalogue::{self, Invocation};
use crate::reference_support::*;
use netc::autodiff::Kernel;
use netc::data::rng::mix_seed;
use netc::runtime::reference::{dropout_mask, execute, In, KernelCtx, Out};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs an invocation from the given prior output contents.
fn run_from(inv: &Invocation, mut outs: Vec<Tensor>, accumulate: bool) -> Vec<Tensor> {
    let ins: Vec<&Tensor> = inv.ins.iter().collect();
    run_into(&inv.kernel, &ins, &mut outs, accumulate);
    outs
}

/// Prior contents: garbage in the first output, the invocation's own in the others
/// (batch norm's running statistics are read).
fn with_garbage_first(inv: &Invocation, g: &mut Gen) -> Vec<Tensor> {
    let mut outs = inv.outs.clone();
    outs[0] = g.uniform(&outs[0].dims, -100.0, 100.0);
    outs
}

#[test]
fn every_kernel_overwrites_and_accumulates_into_its_first_output_only() {
    let mut g = Gen::new(31);
    for inv in catalogue::all(&mut g) {
        let fresh = run_from(&inv, inv.outs.clone(), false);
        let mut garbage = inv.outs.clone();
        for t in garbage.iter_mut().take(if matches!(inv.kernel, Kernel::BatchNormTrain(_)) { 3 } else { usize::MAX }) {
            *t = g.uniform(&t.dims, -100.0, 100.0);
        }
        assert_eq!(run_from(&inv, garbage, false), fresh, "{:?} read its output buffers", inv.kernel);
        let prior = with_garbage_first(&inv, &mut g);
        let summed = run_from(&inv, prior.clone(), true);
        let want: Vec<f64> = prior[0].data.iter().zip(&fresh[0].data).map(|(p, f)| p + f).collect();
        assert_close(&format!("{:?}: accumulated output", inv.kernel), &summed[0].data, &want, 1e-15);
        assert_eq!(summed[1..], fresh[1..], "{:?}: accumulate touched another output", inv.kernel);
    }
}

#[test]
fn f32_and_f64_agree_on_every_kernel() {
    let mut g = Gen::new(32);
    let mut worst: f64 = 0.0;
    for inv in catalogue::all(&mut g) {
        let wide = run_from(&inv, inv.outs.clone(), false);
        let ins: Vec<Tensor<f32>> = inv.ins.iter().map(Tensor::to_f32).collect();
        let mut narrow: Vec<Tensor<f32>> = inv.outs.iter().map(Tensor::to_f32).collect();
        run_into(&inv.kernel, &ins.iter().collect::<Vec<_>>(), &mut narrow, false);
        for (k, (w, n)) in wide.iter().zip(&narrow).enumerate() {
            let n: Vec<f64> = n.data.iter().map(|&v| f64::from(v)).collect();
            worst = worst.max(assert_close(&format!("{:?}, output {k}", inv.kernel), &n, &w.data, 1e-5));
        }
    }
    report("f32 vs f64", worst);
}

#[test]
fn data_values_never_panic() {
    let mut g = Gen::new(33);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, -0.0] {
        for inv in catalogue::all(&mut g) {
            let ins: Vec<Tensor> = inv.ins.iter().map(|t| t.map(|_| bad)).collect();
            let outs = inv.outs.iter().map(|t| t.map(|_| bad)).collect();
            let poisoned = Invocation { kernel: inv.kernel.clone(), ins, outs };
            let outcome = catch_unwind(AssertUnwindSafe(|| run_from(&poisoned, poisoned.outs.clone(), true)));
            assert!(outcome.is_ok(), "{:?} panicked on {bad} inputs", inv.kernel);
        }
    }
}

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("a contract violation must panic");
    err.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn contract_violations_panic_naming_the_kernel() {
    let x = Tensor::from(&[1, 1, 2, 2], &[1.0; 4]);
    let c = conv(1, 1, window(2, 2, 1, 1, [0; 4]), 1, true);
    let msg = panic_message(|| drop(run1(&Kernel::Conv(c.clone()), &[&x, &x], &[1, 1, 1, 1])));
    assert!(msg.contains("`conv`") && msg.contains("3 inputs"), "{msg}");
    let short_w = Tensor::from(&[3], &[1.0; 3]);
    let msg =
        panic_message(|| drop(run1(&Kernel::Conv(c), &[&x, &short_w, &Tensor::from(&[1], &[0.])], &[1, 1, 1, 1])));
    assert!(msg.contains("`conv`") && msg.contains("weight"), "{msg}");
    let p = pool(netc::ir::PoolKind::Max, window(2, 2, 2, 2, [0; 4]), false, false);
    let msg = panic_message(|| drop(run1(&Kernel::Pool(p), &[&x], &[1, 1, 2, 1])));
    assert!(msg.contains("`pool`") && msg.contains("output"), "{msg}");
    let msg = panic_message(|| drop(run1(&Kernel::Dense(dense(3, 2, false)), &[&x, &Tensor::zeros(&[2, 3])], &[1, 2])));
    assert!(msg.contains("`dense`"), "{msg}");
    let msg = panic_message(|| {
        let mut y = [0.0f64; 3];
        let ins = [In { data: &[1.0f64, 2.0][..], dims: &[1, 3][..] }];
        execute(&Kernel::Copy, &ins, &mut [Out { data: &mut y, dims: &[1, 3] }], false, &KernelCtx::default());
    });
    assert!(msg.contains("`copy`") && msg.contains("input 0"), "{msg}");
}

#[test]
fn dropout_masks_are_deterministic_and_unbiased() {
    let mask = |p: f64, seed, step, stream| {
        let mut m = vec![0.0f64; 100_000];
        dropout_mask(p, seed, step, stream, &mut m);
        m
    };
    for p in [0.1, 0.3, 0.5, 0.8] {
        let m = mask(p, 42, 7, 3);
        assert_eq!(m, mask(p, 42, 7, 3), "p = {p}: the same arguments gave another mask");
        for other in [mask(p, 43, 7, 3), mask(p, 42, 8, 3), mask(p, 42, 7, 4)] {
            assert_ne!(m, other, "p = {p}: changing the seed, step or stream left the mask unchanged");
        }
        let keep = 1.0 / (1.0 - p);
        assert!(m.iter().all(|&v| v == 0.0 || v == keep), "p = {p}: values other than 0 and 1/(1 − p)");
        let zeros = m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
        let mean = m.iter().sum::<f64>() / m.len() as f64;
        assert!((zeros - p).abs() < 0.01, "p = {p}: {zeros} of the mask is zero");
        assert!((mean - 1.0).abs() < 0.02, "p = {p}: the mask's mean is {mean}");
        let mut narrow = vec![0.0f32; m.len()];
        dropout_mask(p, 42, 7, 3, &mut narrow);
        assert!(narrow.iter().zip(&m).all(|(&a, &b)| (a == 0.0) == (b == 0.0)), "f32 and f64 masks differ");
    }
    assert!(mask(0.0, 1, 2, 3).iter().all(|&v| v == 1.0), "p = 0 must keep everything");
}

#[test]
fn dropout_kernel_is_the_host_generator() {
    let mut want = vec![0.0f64; 64];
    dropout_mask(0.25, 9, 11, 5, &mut want);
    let mut got = vec![0.0f64; 64];
    let ctx = KernelCtx { seed: 9, step: 11 };
    let kernel = Kernel::DropoutMask { p: 0.25, stream: 5 };
    execute(&kernel, &[], &mut [Out { data: &mut got, dims: &[4, 16] }], false, &ctx);
    assert_eq!(got, want);
}

#[test]
fn dropout_masks_follow_the_documented_derivation() {
    // Pinned so that a run's masks stay reproducible across versions: element i is
    // dropped when draw i of Rng::new(mix_seed(mix_seed(seed, step), stream)) is below p.
    let (p, seed, step, stream) = (0.35, 1234, 56, 7);
    let mut rng = netc::data::Rng::new(mix_seed(mix_seed(seed, step), stream));
    let want: Vec<f64> = (0..1000).map(|_| if rng.next_f64() < p { 0.0 } else { 1.0 / (1.0 - p) }).collect();
    let mut got = vec![0.0f64; 1000];
    dropout_mask(p, seed, step, stream, &mut got);
    assert_eq!(got, want);
}
