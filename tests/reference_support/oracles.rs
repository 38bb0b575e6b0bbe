//! Forward values against independent oracles: hand-computed cases, and naive loops
//! written from the contract's formulas (`naive`) on random shapes.

use crate::reference_support::*;
use netc::autodiff::Kernel;
use netc::ir::{window_out, BatchNorm, ConnTable, Lrn, Pad2d, PoolKind, Rbf, Subsample, ZeroPad};
use std::sync::Arc;

/// Asserts agreement to 1e-12 (results of a few exact-ish operations).
fn exact(what: &str, got: &Tensor, want: &[f64]) {
    assert_close(what, &got.data, want, 1e-12);
}

#[test]
fn conv_hand_computed_3x3() {
    // 3×3 ones kernel over 1..9 with padding 1: each output sums a clipped neighbourhood.
    let x = Tensor::from(&[1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
    let w = Tensor::from(&[1, 1, 3, 3], &[1.0; 9]);
    let c = conv(1, 1, window(3, 3, 1, 1, [1; 4]), 1, true);
    let y = run1(&Kernel::Conv(c), &[&x, &w, &Tensor::from(&[1], &[1.0])], &[1, 1, 3, 3]);
    exact("padded conv", &y, &[13., 22., 17., 28., 46., 34., 25., 40., 29.]);
    // Stride 2, a 2×2 kernel [[1, 0], [0, -1]]: x[i, j] − x[i+1, j+1] at (0,0) only.
    let c = conv(1, 1, window(2, 2, 2, 2, [0; 4]), 1, false);
    let y = run1(&Kernel::Conv(c), &[&x, &Tensor::from(&[1, 1, 2, 2], &[1., 0., 0., -1.])], &[1, 1, 1, 1]);
    exact("strided conv", &y, &[-4.0]);
}

/// A random convolution: groups or (one time in four) a random connection table.
fn random_conv(g: &mut Gen) -> (netc::ir::Conv, usize, usize) {
    let groups = 1 + g.below(3) as u64;
    let (in_c, out_c) = (groups * (1 + g.below(3) as u64), groups * (1 + g.below(3) as u64));
    let (kh, kw) = (1 + g.below(4) as u64, 1 + g.below(4) as u64);
    let pad = [g.below(kh as usize + 1), g.below(kh as usize + 1), g.below(kw as usize), g.below(kw as usize)];
    let win = window(kh, kw, 1 + g.below(3) as u64, 1 + g.below(3) as u64, pad.map(|p| p as u64));
    let mut c = conv(in_c, out_c, win, groups, g.below(2) == 1);
    if g.below(4) == 0 {
        c.groups = 1;
        let rows = (0..out_c).map(|_| {
            let mut chans: Vec<u32> = (0..in_c as u32).collect();
            g.shuffle(&mut chans);
            chans.truncate(1 + g.below(in_c as usize));
            chans
        });
        c.table = Some(Arc::new(ConnTable { inputs: rows.collect() }));
    }
    (c, kh as usize + g.below(6), kw as usize + g.below(6))
}

#[test]
fn conv_matches_naive_loop() {
    let mut g = Gen::new(21);
    for case in 0..60 {
        let (c, h, w) = random_conv(&mut g);
        let n = 1 + g.below(2);
        let x = g.uniform(&[n, c.in_c as usize, h, w], -1.0, 1.0);
        let wt = g.uniform(&[c.links() as usize, c.window.kh as usize, c.window.kw as usize], -1.0, 1.0);
        let b = g.uniform(&[c.out_c as usize], -1.0, 1.0);
        let bias = c.bias.then_some(&b);
        let want = naive::conv(&c, &x, &wt, bias);
        let ins: Vec<&Tensor> = [&x, &wt].into_iter().chain(bias).collect();
        let got = run1(&Kernel::Conv(c.clone()), &ins, &want.dims);
        assert_close(&format!("case {case}: {c:?} on {h}×{w}"), &got.data, &want.data, 1e-12);
    }
}

#[test]
fn dense_matches_naive_matmul() {
    let mut g = Gen::new(22);
    for (n, fin, fout, bias) in [(1, 1, 1, true), (3, 7, 5, false), (4, 12, 9, true), (2, 30, 1, true)] {
        let (x, w, b) =
            (g.uniform(&[n, fin], -1.0, 1.0), g.uniform(&[fout, fin], -1.0, 1.0), g.uniform(&[fout], -1.0, 1.0));
        let bias = bias.then_some(&b);
        let want = naive::matmul(&x, &w, bias, fin, fout);
        let ins: Vec<&Tensor> = [&x, &w].into_iter().chain(bias).collect();
        let d = dense(fin as u64, fout as u64, bias.is_some());
        exact("dense", &run1(&Kernel::Dense(d), &ins, &[n, fout]), &want.data);
        // The same values through a C×1×1 map.
        let map = Tensor::new(&[n, fin, 1, 1], x.data.clone());
        let ins: Vec<&Tensor> = [&map, &w].into_iter().chain(bias).collect();
        exact("dense on a map", &run1(&Kernel::Dense(d), &ins, &[n, fout, 1, 1]), &want.data);
    }
}

#[test]
fn avg_pool_divisors_at_the_corner() {
    // 1..9, 2×2 windows, stride 2, padding 1: the corner window holds only x[0,0].
    let x = Tensor::from(&[1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
    let win = window(2, 2, 2, 2, [1; 4]);
    let with = run1(&Kernel::Pool(pool(PoolKind::Avg, win, false, true)), &[&x], &[1, 1, 2, 2]);
    exact("count_pad", &with, &[0.25, 1.25, 2.75, 7.0]);
    let without = run1(&Kernel::Pool(pool(PoolKind::Avg, win, false, false)), &[&x], &[1, 1, 2, 2]);
    exact("no count_pad", &without, &[1.0, 2.5, 5.5, 7.0]);
}

#[test]
fn avg_pool_ceil_windows_past_the_padded_border() {
    // 6×6 ones, 3×3 windows, stride 2, padding 1, ceil: 4×4 windows; the last one
    // starts at 5 and reaches 7, past the padded extent 6 + 1, so PyTorch counts
    // 2 positions per axis there: 1/4 at the far corner, 4/9 at the near one.
    let x = Tensor::from(&[1, 1, 6, 6], &[1.0; 36]);
    let win = window(3, 3, 2, 2, [1; 4]);
    let y = run1(&Kernel::Pool(pool(PoolKind::Avg, win, true, true)), &[&x], &[1, 1, 4, 4]);
    // Per axis: in-range taps / positions inside the padded input, for windows
    // starting at −1, 1, 3 and 5: 2/3, 3/3, 3/3, 1/2.
    let ratio = [2. / 3., 1., 1., 0.5];
    let want: Vec<f64> = ratio.iter().flat_map(|r| ratio.map(|q| r * q)).collect();
    exact("ceil, count_pad", &y, &want);
    let y = run1(&Kernel::Pool(pool(PoolKind::Avg, win, true, false)), &[&x], &[1, 1, 4, 4]);
    exact("ceil, no count_pad", &y, &[1.0; 16]);
    // Without padding: 5×5, 2×2 windows, stride 2, ceil: the last window holds one column.
    let x = Tensor::new(&[1, 1, 5, 5], (1..=25).map(f64::from).collect());
    let y = run1(&Kernel::Pool(pool(PoolKind::Avg, window(2, 2, 2, 2, [0; 4]), true, true)), &[&x], &[1, 1, 3, 3]);
    exact("ceil without padding", &y, &[4., 6., 7.5, 14., 16., 17.5, 21.5, 23.5, 25.]);
}

#[test]
fn max_pool_padding_never_wins_and_ties_go_to_the_first() {
    let x = Tensor::from(&[1, 1, 2, 2], &[-4., -3., -2., -1.]);
    let p = pool(PoolKind::Max, window(2, 2, 1, 1, [1; 4]), false, false);
    let y = run1(&Kernel::Pool(p), &[&x], &[1, 1, 3, 3]);
    exact("negative inputs with padding", &y, &[-4., -3., -3., -2., -1., -1., -2., -1., -1.]);
    let p = pool(PoolKind::Max, window(2, 2, 2, 2, [0; 4]), false, false);
    for (xs, want) in
        [([5.; 4], [1., 0., 0., 0.]), ([1., 7., 7., 0.], [0., 1., 0., 0.]), ([0., 1., 3., 3.], [0., 0., 1., 0.])]
    {
        let x = Tensor::from(&[1, 1, 2, 2], &xs);
        let y = run1(&Kernel::Pool(p), &[&x], &[1, 1, 1, 1]);
        let dx = run1(&Kernel::PoolBackward(p), &[&x, &y, &Tensor::from(&[1, 1, 1, 1], &[1.0])], &[1, 1, 2, 2]);
        exact(&format!("tie routing for {xs:?}"), &dx, &want);
    }
}

#[test]
fn pool_output_dims_follow_window_out() {
    let mut g = Gen::new(23);
    for _ in 0..40 {
        let (kh, kw) = (1 + g.below(4) as u64, 1 + g.below(4) as u64);
        let pad = [g.below(kh as usize), g.below(kh as usize), g.below(kw as usize), g.below(kw as usize)];
        let win = window(kh, kw, 1 + g.below(3) as u64, 1 + g.below(3) as u64, pad.map(|p| p as u64));
        let (h, w, ceil) = (kh as usize + g.below(6), kw as usize + g.below(6), g.below(2) == 1);
        let (oh, ow) = window_out(&win, h as u64, w as u64, ceil).unwrap();
        let x = g.distinct(&[1, 2, h, w]);
        for kind in [PoolKind::Max, PoolKind::Avg] {
            let k = Kernel::Pool(pool(kind, win, ceil, g.below(2) == 1));
            let y = run1(&k, &[&x], &[1, 2, oh as usize, ow as usize]);
            assert!(y.data.iter().all(|v| v.is_finite()), "{k:?} on {h}×{w}: an empty window");
            let wrong = std::panic::catch_unwind(|| run1(&k, &[&x], &[1, 2, oh as usize + 1, ow as usize]));
            assert!(wrong.is_err(), "{k:?} accepted an output one row too tall");
        }
    }
    // The ceil rule drops a window that would start in the trailing padding: 5 + 1 + 1
    // with 2×2 windows, stride 2 gives 3 outputs, not 4.
    assert_eq!(window_out(&window(2, 2, 2, 2, [1; 4]), 5, 5, true).unwrap(), (3, 3));
}

#[test]
fn global_avg_pool_hand_computed() {
    let x = Tensor::from(&[1, 2, 2, 2], &[1., 2., 3., 4., 5., 6., 7., 9.]);
    exact("gap", &run1(&Kernel::GlobalAvgPool, &[&x], &[1, 2, 1, 1]), &[2.5, 6.75]);
    let dx = run1(&Kernel::GlobalAvgPoolBackward, &[&Tensor::from(&[1, 2], &[4., 8.])], &[1, 2, 2, 2]);
    exact("gap backward", &dx, &[1., 1., 1., 1., 2., 2., 2., 2.]);
}

#[test]
fn lrn_hand_computed() {
    let x = Tensor::from(&[1, 3, 1, 1], &[1., 2., 3.]);
    let l = |size, alpha, beta| Kernel::Lrn(Lrn { size, alpha, beta, k: 1.0 });
    // size 3 (α/size = 1): windows {0,1}, {0,1,2}, {1,2}.
    exact("size 3", &run1(&l(3, 3.0, 1.0), &[&x], &[1, 3, 1, 1]), &[1. / 6., 2. / 15., 3. / 14.]);
    let roots = [1. / 6f64.sqrt(), 2. / 15f64.sqrt(), 3. / 14f64.sqrt()];
    exact("size 3, beta 1/2", &run1(&l(3, 3.0, 0.5), &[&x], &[1, 3, 1, 1]), &roots);
    // size 2 (even): c − 0 ..= c + 1, i.e. {0,1}, {1,2}, {2}.
    exact("size 2", &run1(&l(2, 2.0, 1.0), &[&x], &[1, 3, 1, 1]), &[1. / 6., 2. / 14., 3. / 10.]);
}

#[test]
fn batch_norm_statistics_and_running_update() {
    // Channel 0 holds 1, 2, 3, 4 (mean 2.5, var 1.25, unbiased 5/3); channel 1 holds
    // 10, 10, 10, 14 (mean 11, var 3, unbiased 4). Layout N=2 × C=2 × S=2.
    let x = Tensor::from(&[2, 2, 1, 2], &[1., 2., 10., 10., 3., 4., 10., 14.]);
    let b = BatchNorm { channels: 2, eps: 1e-5, momentum: 0.1 };
    let (ones, zeros) = (Tensor::from(&[2], &[1., 1.]), Tensor::from(&[2], &[0., 0.]));
    let mut outs = vec![Tensor::zeros(&[2, 2, 1, 2]), Tensor::zeros(&[2]), Tensor::zeros(&[2])];
    outs.extend([Tensor::from(&[2], &[1., 2.]), Tensor::from(&[2], &[2., 0.5])]);
    run_into(&Kernel::BatchNormTrain(b), &[&x, &ones, &zeros], &mut outs, false);
    exact("mean", &outs[1], &[2.5, 11.]);
    exact("invstd", &outs[2], &[1. / (1.25f64 + 1e-5).sqrt(), 1. / (3f64 + 1e-5).sqrt()]);
    exact("running mean", &outs[3], &[0.9 * 1. + 0.1 * 2.5, 0.9 * 2. + 0.1 * 11.]);
    exact("running var", &outs[4], &[0.9 * 2. + 0.1 * 5. / 3., 0.9 * 0.5 + 0.1 * 4.]);
    // On a larger random batch, each channel of γ·x̂ + β has mean β and variance γ²·var/(var + eps).
    let mut g = Gen::new(24);
    let x = g.uniform(&[6, 3, 4, 4], -3.0, 5.0);
    let (gamma, beta) = (Tensor::from(&[3], &[1., 2., 0.5]), Tensor::from(&[3], &[0., -1., 3.]));
    let b = BatchNorm { channels: 3, eps: 1e-5, momentum: 0.1 };
    let outs = run(&Kernel::BatchNormTrain(b), &[&x, &gamma, &beta], &[&x.dims, &[3], &[3], &[3], &[3]]);
    for c in 0..3 {
        let of = |t: &Tensor| -> Vec<f64> { (0..6).flat_map(|n| t.data[(n * 3 + c) * 16..][..16].to_vec()).collect() };
        let (xs, ys) = (of(&x), of(&outs[0]));
        let (mx, vx) = mean_var(&xs);
        let (my, vy) = mean_var(&ys);
        assert!((my - beta.data[c]).abs() < 1e-12, "channel {c}: mean {my}");
        let want = gamma.data[c].powi(2) * vx / (vx + 1e-5);
        assert!((vy - want).abs() < 1e-12, "channel {c}: variance {vy}, want {want}");
        assert!((outs[1].data[c] - mx).abs() < 1e-12);
    }
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (m, v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64)
}

#[test]
fn batch_norm_eval_hand_computed() {
    let b = BatchNorm { channels: 2, eps: 0.0, momentum: 0.1 };
    let t = |v: &[f64]| Tensor::from(&[2], v);
    let (x, gamma, beta, mean, var) =
        (Tensor::from(&[1, 2], &[3., 5.]), t(&[2., 1.]), t(&[0., 1.]), t(&[1., 1.]), t(&[4., 16.]));
    exact("eval", &run1(&Kernel::BatchNormEval(b), &[&x, &gamma, &beta, &mean, &var], &[1, 2]), &[2., 2.]);
}

#[test]
fn softmax_cross_entropy_known_values() {
    let xent = |negate, logits: &[f64], labels: &[f64]| {
        let n = labels.len();
        let ins = [Tensor::from(&[n, logits.len() / n], logits), Tensor::from(&[n], labels)];
        run(&Kernel::SoftmaxCrossEntropy { negate, smoothing: 0.0 }, &[&ins[0], &ins[1]], &[&[1], &ins[0].dims])
    };
    let out = xent(false, &[0.7, 0.7, 0.7], &[1.]);
    exact("equal logits", &out[0], &[3f64.ln()]);
    exact("equal logits, gradient", &out[1], &[1. / 3., -2. / 3., 1. / 3.]);
    let (l2, l3) = (2f64.ln(), 3f64.ln());
    let out = xent(false, &[0.7, 0.7, 0.7, 0., l2, l3], &[0., 2.]);
    exact("mean of two", &out[0], &[(l3 + l2) / 2.]);
    exact("negated", &xent(true, &[0., -l2, -l3], &[2.])[0], &[l2]);
    let big = xent(false, &[1000., 0., 0., 1000., 0., 0.], &[0., 1.]);
    exact("large logits", &big[0], &[500.]);
    assert!(big[1].data.iter().all(|v| v.is_finite()), "large logits overflowed: {:?}", big[1].data);
    let nan = xent(false, &[1., 2., 3.], &[3.]);
    assert!(nan[0].data[0].is_nan(), "an out-of-range label must poison the loss");
}

#[test]
fn softmax_sums_to_one_and_is_stable() {
    let x = Tensor::from(&[2, 3], &[1000., 1001., 1002., 0., 1., 2.]);
    let y = run1(&Kernel::Softmax, &[&x], &[2, 3]);
    let e = [1f64, 1f64.exp(), 2f64.exp()];
    let s: f64 = e.iter().sum();
    let row: Vec<f64> = e.iter().map(|v| v / s).collect();
    exact("softmax", &y, &[row.clone(), row].concat());
}

#[test]
fn subsample_and_rbf_hand_computed() {
    let x = Tensor::new(&[1, 1, 4, 4], (1..=16).map(f64::from).collect());
    let s = Kernel::Subsample(Subsample { channels: 1, k: 2 });
    let y = run1(&s, &[&x, &Tensor::from(&[1], &[0.5]), &Tensor::from(&[1], &[1.])], &[1, 1, 2, 2]);
    exact("subsample", &y, &[8., 12., 24., 28.]);
    // 5×5 with k = 2: the last row and column are left out.
    let x = Tensor::new(&[1, 1, 5, 5], (1..=25).map(f64::from).collect());
    let y = run1(&s, &[&x, &Tensor::from(&[1], &[1.]), &Tensor::from(&[1], &[0.])], &[1, 1, 2, 2]);
    exact("subsample with leftovers", &y, &[16., 24., 56., 64.]);
    let r = Kernel::Rbf(Rbf { in_features: 2, classes: 3, trainable: false });
    let centers = Tensor::from(&[3, 2], &[0., 0., 1., 2., 3., 0.]);
    exact("rbf", &run1(&r, &[&Tensor::from(&[1, 2], &[1., 2.]), &centers], &[1, 3]), &[5., 0., 8.]);
}

#[test]
fn pad_crop_concat_slice_hand_computed() {
    let pad = ZeroPad::spatial(Pad2d { top: 1, bottom: 0, left: 0, right: 1 });
    let x = Tensor::from(&[1, 1, 1, 2], &[1., 2.]);
    let y = run1(&Kernel::ZeroPad(pad), &[&x], &[1, 1, 2, 3]);
    exact("zero pad", &y, &[0., 0., 0., 1., 2., 0.]);
    exact("crop", &run1(&Kernel::Crop(pad), &[&y], &[1, 1, 1, 2]), &[1., 2.]);
    // Option A of the CIFAR ResNets: F.pad(x, (0, 0, 0, 0, 1, 2)) on 2 samples of 2 channels.
    let chan = ZeroPad::channels(1, 2);
    let x = Tensor::from(&[2, 2, 1, 1], &[1., 2., 3., 4.]);
    let y = run1(&Kernel::ZeroPad(chan), &[&x], &[2, 5, 1, 1]);
    exact("channel pad", &y, &[0., 1., 2., 0., 0., 0., 3., 4., 0., 0.]);
    exact("channel crop", &run1(&Kernel::Crop(chan), &[&y], &[2, 2, 1, 1]), &x.data);
    let both =
        ZeroPad { channels_before: 1, channels_after: 0, spatial: Pad2d { top: 0, bottom: 0, left: 1, right: 0 } };
    let y = run1(&Kernel::ZeroPad(both), &[&Tensor::from(&[1, 1, 1, 1], &[5.])], &[1, 2, 1, 2]);
    exact("channel and spatial pad", &y, &[0., 0., 0., 5.]);
    let a = Tensor::from(&[2, 1, 1, 2], &[1., 2., 3., 4.]);
    let b = Tensor::from(&[2, 2, 1, 2], &[5., 6., 7., 8., 9., 10., 11., 12.]);
    let y = run1(&Kernel::Concat, &[&a, &b], &[2, 3, 1, 2]);
    exact("concat", &y, &[1., 2., 5., 6., 7., 8., 3., 4., 9., 10., 11., 12.]);
    exact("slice", &run1(&Kernel::Slice { offset: 1 }, &[&y], &[2, 2, 1, 2]), &b.data);
    exact(
        "slice of a flat vector",
        &run1(&Kernel::Slice { offset: 2 }, &[&Tensor::from(&[1, 4], &[1., 2., 3., 4.])], &[1, 1]),
        &[3.],
    );
}

#[test]
fn activation_values() {
    let x = Tensor::from(&[1, 4], &[-1., 0., 3f64.ln(), 1.]);
    let [relu, tanh, sigmoid, scaled] = activations().map(|a| run1(&Kernel::Act(a), &[&x], &[1, 4]));
    exact("relu", &relu, &[0., 0., 3f64.ln(), 1.]);
    exact("tanh", &tanh, &x.data.iter().map(|v| v.tanh()).collect::<Vec<_>>());
    exact("sigmoid", &sigmoid, &[1. / (1. + 1f64.exp()), 0.5, 0.75, 1. / (1. + (-1f64).exp())]);
    // LeNet-5's choice of a and s makes f(±1) = ±1 (to 4 digits).
    assert!((scaled.data[3] - 1.0).abs() < 1e-4 && (scaled.data[0] + 1.0).abs() < 1e-4, "{scaled:?}");
}
