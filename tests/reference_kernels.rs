//! The reference kernels against independent oracles.
//!
//! 1. Gradients: every backward kernel against central differences (step `H`) of
//!    L = Σ r·y for a random projection r, in f64, over many shapes; the accepted
//!    relative error is `TOL` = 1e-6 (max-norm over the tensor, see `rel_err`).
//! 2. Forward values: hand-computed cases and naive loops written from the contract
//!    (`oracles`).
//! 3. Semantics: accumulation, overwriting, dropout masks, f32 against f64, data
//!    values never panicking, contract violations panicking (`semantics`).
//!
//! Run with `--nocapture` to see the worst relative error of each kernel family.

#[path = "reference_support/oracles.rs"]
mod oracles;
mod reference_support;
#[path = "reference_support/semantics.rs"]
mod semantics;

use netc::autodiff::Kernel;
use netc::ir::{window_out, Conv, Pad2d, PoolKind, Rbf, Subsample, ZeroPad};
use reference_support::*;

/// Borrows every tensor of a slice, as the kernels' input list.
fn refs(t: &[Tensor]) -> Vec<&Tensor> {
    t.iter().collect()
}

/// Checks all three conv kernels' consistency on an N×in×H×W input.
fn conv_case(g: &mut Gen, name: &str, c: Conv, n: usize, h: usize, w: usize) -> f64 {
    let (oh, ow) = window_out(&c.window, h as u64, w as u64, false).unwrap();
    let (kh, kw) = (c.window.kh as usize, c.window.kw as usize);
    let y_dims = [n, c.out_c as usize, oh as usize, ow as usize];
    let mut inputs = vec![g.uniform(&[n, c.in_c as usize, h, w], -1.0, 1.0)];
    inputs.push(g.uniform(&[c.links() as usize, kh, kw], -1.0, 1.0));
    if c.bias {
        inputs.push(g.uniform(&[c.out_c as usize], -1.0, 1.0));
    }
    grad_check(
        name,
        g,
        &inputs,
        |t| run1(&Kernel::Conv(c.clone()), &refs(t), &y_dims),
        |t, r| {
            let dx = run1(&Kernel::ConvBackwardData(c.clone()), &[r, &t[1]], &t[0].dims);
            let param_dims: Vec<&[usize]> = t[1..].iter().map(|p| &p.dims[..]).collect();
            let params = run(&Kernel::ConvBackwardWeight(c.clone()), &[r, &t[0]], &param_dims);
            std::iter::once((0, dx)).chain(params.into_iter().enumerate().map(|(k, p)| (k + 1, p))).collect()
        },
    )
}

#[test]
fn conv_gradients() {
    let mut g = Gen::new(1);
    let cases = [
        ("3x3 pad 1", conv(3, 4, window(3, 3, 1, 1, [1; 4]), 1, true), 6, 6),
        ("1x7", conv(2, 3, window(1, 7, 1, 1, [0, 0, 3, 3]), 1, false), 5, 9),
        ("7x1", conv(2, 2, window(7, 1, 1, 1, [3, 3, 0, 0]), 1, true), 9, 4),
        ("stride 2, pad [0,1,2,1], groups 2", conv(4, 6, window(3, 2, 2, 2, [0, 1, 2, 1]), 2, true), 7, 6),
        ("groups 3", conv(6, 3, window(3, 3, 2, 1, [1; 4]), 3, true), 6, 5),
        ("depthwise", conv(4, 4, window(3, 3, 1, 1, [1, 0, 0, 1]), 4, false), 5, 5),
        ("stride 3 1x1", conv(3, 2, window(1, 1, 3, 2, [0; 4]), 1, true), 7, 5),
    ];
    let mut worst: f64 = 0.0;
    for (name, c, h, w) in cases {
        worst = worst.max(conv_case(&mut g, name, c, 2, h, w));
    }
    // LeNet-5 C3-like ragged table, with a row out of ascending order.
    let rows: &[&[u32]] = &[&[0, 1, 2], &[1, 2, 3], &[4, 0, 2], &[0, 1, 3, 4], &[5], &[0, 1, 2, 3, 4, 5]];
    let t = table_conv(6, rows, window(5, 5, 1, 1, [0; 4]), true);
    worst = worst.max(conv_case(&mut g, "connection table", t, 2, 8, 7));
    let t = table_conv(6, rows, window(3, 3, 2, 2, [1, 0, 1, 0]), false);
    worst = worst.max(conv_case(&mut g, "strided connection table", t, 1, 7, 7));
    report("conv", worst);
}

#[test]
fn pool_gradients() {
    let mut g = Gen::new(2);
    let mut worst: f64 = 0.0;
    for kind in [PoolKind::Max, PoolKind::Avg] {
        for (win, ceil, h, w) in [
            (window(2, 2, 2, 2, [0; 4]), false, 6, 6),
            (window(3, 3, 2, 2, [1; 4]), false, 7, 6),
            (window(3, 3, 2, 2, [1; 4]), true, 6, 6),
            (window(2, 2, 2, 2, [0; 4]), true, 5, 5),
            (window(3, 2, 1, 2, [1, 0, 0, 1]), false, 5, 6),
            (window(3, 3, 3, 3, [2, 2, 2, 2]), true, 7, 8),
        ] {
            for count_pad in [false, true] {
                let p = pool(kind, win, ceil, count_pad);
                let (oh, ow) = window_out(&win, h, w, ceil).unwrap();
                let y_dims = [2, 3, oh as usize, ow as usize];
                let x = g.distinct(&[2, 3, h as usize, w as usize]);
                let name = format!("{p:?}");
                worst = worst.max(grad_check(
                    &name,
                    &mut g,
                    &[x],
                    |t| run1(&Kernel::Pool(p), &refs(t), &y_dims),
                    |t, r| {
                        let y = run1(&Kernel::Pool(p), &refs(t), &y_dims);
                        vec![(0, run1(&Kernel::PoolBackward(p), &[&t[0], &y, r], &t[0].dims))]
                    },
                ));
            }
        }
    }
    report("pool", worst);
}

#[test]
fn global_avg_pool_gradient() {
    let mut g = Gen::new(3);
    let x = g.uniform(&[2, 3, 4, 5], -1.0, 1.0);
    let worst = grad_check(
        "global avg pool",
        &mut g,
        &[x],
        |t| run1(&Kernel::GlobalAvgPool, &refs(t), &[2, 3, 1, 1]),
        |t, r| vec![(0, run1(&Kernel::GlobalAvgPoolBackward, &[r], &t[0].dims))],
    );
    report("global avg pool", worst);
}

#[test]
fn dense_gradients() {
    let mut g = Gen::new(4);
    let mut worst: f64 = 0.0;
    for (x_dims, fout, bias) in [(vec![3, 7], 5, true), (vec![2, 4, 1, 1], 3, false), (vec![2, 3, 2, 2], 4, true)] {
        let fin: usize = x_dims[1..].iter().product();
        let d = dense(fin as u64, fout as u64, bias);
        let mut inputs = vec![g.uniform(&x_dims, -1.0, 1.0), g.uniform(&[fout, fin], -1.0, 1.0)];
        if bias {
            inputs.push(g.uniform(&[fout], -1.0, 1.0));
        }
        let y_dims = [x_dims[0], fout];
        worst = worst.max(grad_check(
            &format!("{d:?}"),
            &mut g,
            &inputs,
            |t| run1(&Kernel::Dense(d), &refs(t), &y_dims),
            |t, r| {
                let dx = run1(&Kernel::DenseBackwardData(d), &[r, &t[1]], &t[0].dims);
                let param_dims: Vec<&[usize]> = t[1..].iter().map(|p| &p.dims[..]).collect();
                let params = run(&Kernel::DenseBackwardWeight(d), &[r, &t[0]], &param_dims);
                std::iter::once((0, dx)).chain(params.into_iter().enumerate().map(|(k, p)| (k + 1, p))).collect()
            },
        ));
    }
    report("dense", worst);
}

#[test]
fn batch_norm_gradients() {
    let mut g = Gen::new(5);
    let mut worst: f64 = 0.0;
    for x_dims in [vec![3, 4, 3, 3], vec![5, 6], vec![1, 2, 4, 3]] {
        let c = x_dims[1];
        let b = bn(c as u64);
        let inputs = [g.uniform(&x_dims, -2.0, 2.0), g.uniform(&[c], 0.5, 1.5), g.uniform(&[c], -1.0, 1.0)];
        let train = |t: &[Tensor]| run(&Kernel::BatchNormTrain(b), &refs(t), &[&x_dims, &[c], &[c], &[c], &[c]]);
        worst = worst.max(grad_check(
            &format!("batch norm over {x_dims:?}"),
            &mut g,
            &inputs,
            |t| train(t).remove(0),
            |t, r| {
                let stats = train(t);
                let ins = [r, &t[0], &t[1], &stats[1], &stats[2]];
                let grads = run(&Kernel::BatchNormBackward(b), &ins, &[&x_dims, &[c], &[c]]);
                grads.into_iter().enumerate().collect()
            },
        ));
    }
    report("batch norm", worst);
}

#[test]
fn lrn_gradients() {
    let mut g = Gen::new(6);
    let mut worst: f64 = 0.0;
    for (size, x_dims) in
        [(3, vec![2, 7, 3, 3]), (4, vec![2, 5, 2, 3]), (5, vec![1, 7, 2, 2]), (1, vec![2, 3, 2, 2]), (2, vec![3, 4])]
    {
        let l = lrn(size);
        let x = g.uniform(&x_dims, -2.0, 2.0);
        worst = worst.max(grad_check(
            &format!("lrn size {size}"),
            &mut g,
            &[x],
            |t| run1(&Kernel::Lrn(l), &refs(t), &x_dims),
            |t, r| {
                let y = run1(&Kernel::Lrn(l), &refs(t), &x_dims);
                vec![(0, run1(&Kernel::LrnBackward(l), &[&t[0], &y, r], &x_dims))]
            },
        ));
    }
    report("lrn", worst);
}

#[test]
fn activation_gradients() {
    let mut g = Gen::new(7);
    let mut worst: f64 = 0.0;
    for a in activations() {
        // Away from relu's kink, so that x ± h stays on one side of it.
        let x = g.away_from_zero(&[2, 3, 4, 4], 1e-3).map(|v| 2.0 * v);
        worst = worst.max(grad_check(
            &format!("{a:?}"),
            &mut g,
            &[x],
            |t| run1(&Kernel::Act(a), &refs(t), &t[0].dims),
            |t, r| {
                let y = run1(&Kernel::Act(a), &refs(t), &t[0].dims);
                vec![(0, run1(&Kernel::ActBackward(a), &[&y, r], &t[0].dims))]
            },
        ));
    }
    report("activations", worst);
}

#[test]
fn softmax_gradient() {
    let mut g = Gen::new(8);
    let mut worst: f64 = 0.0;
    for dims in [vec![3, 6], vec![2, 5, 1, 1]] {
        let x = g.uniform(&dims, -3.0, 3.0);
        worst = worst.max(grad_check(
            "softmax",
            &mut g,
            &[x],
            |t| run1(&Kernel::Softmax, &refs(t), &dims),
            |t, r| {
                let y = run1(&Kernel::Softmax, &refs(t), &dims);
                vec![(0, run1(&Kernel::SoftmaxBackward, &[&y, r], &dims))]
            },
        ));
    }
    report("softmax", worst);
}

#[test]
fn softmax_cross_entropy_gradients() {
    let mut g = Gen::new(9);
    let mut worst: f64 = 0.0;
    for negate in [false, true] {
        let k = Kernel::SoftmaxCrossEntropy { negate, smoothing: 0.0 };
        let labels = g.labels(4, 5);
        let logits = g.uniform(&[4, 5], -3.0, 3.0);
        let both = |t: &[Tensor]| run(&k, &[&t[0], &labels], &[&[1], &[4, 5]]);
        worst = worst.max(grad_check(
            &format!("softmax cross-entropy, negate = {negate}"),
            &mut g,
            &[logits],
            |t| both(t).remove(0),
            // dlogits is dloss/dlogits; L = r·loss scales it by r.
            |t, r| vec![(0, both(t).remove(1).map(|v| v * r.data[0]))],
        ));
    }
    report("softmax cross-entropy", worst);
}

#[test]
fn subsample_gradients() {
    let mut g = Gen::new(10);
    let mut worst: f64 = 0.0;
    for (k, h, w) in [(2, 6, 6), (3, 7, 8)] {
        let s = Subsample { channels: 3, k };
        let inputs = [g.uniform(&[2, 3, h, w], -1.0, 1.0), g.uniform(&[3], -1.0, 1.0), g.uniform(&[3], -1.0, 1.0)];
        let y_dims = [2, 3, h / k as usize, w / k as usize];
        worst = worst.max(grad_check(
            &format!("subsample k = {k}"),
            &mut g,
            &inputs,
            |t| run1(&Kernel::Subsample(s), &refs(t), &y_dims),
            |t, r| {
                let grads = run(&Kernel::SubsampleBackward(s), &[r, &t[0], &t[1]], &[&t[0].dims, &[3], &[3]]);
                grads.into_iter().enumerate().collect()
            },
        ));
    }
    report("subsample", worst);
}

#[test]
fn rbf_gradients() {
    let mut g = Gen::new(11);
    let mut worst: f64 = 0.0;
    for (trainable, x_dims) in [(true, vec![3, 10]), (false, vec![2, 10, 1, 1])] {
        let r = Rbf { in_features: 10, classes: 4, trainable };
        let inputs = [g.uniform(&x_dims, -1.0, 1.0), g.uniform(&[4, 10], -1.0, 1.0)];
        let y_dims = [x_dims[0], 4];
        worst = worst.max(grad_check(
            &format!("rbf, trainable = {trainable}"),
            &mut g,
            &inputs,
            |t| run1(&Kernel::Rbf(r), &refs(t), &y_dims),
            |t, dy| {
                let outs: Vec<&[usize]> = if trainable { vec![&x_dims, &[4, 10]] } else { vec![&x_dims] };
                run(&Kernel::RbfBackward(r), &[dy, &t[0], &t[1]], &outs).into_iter().enumerate().collect()
            },
        ));
    }
    report("rbf", worst);
}

#[test]
fn pad_and_crop_gradients() {
    let mut g = Gen::new(12);
    let spatial = Pad2d { top: 1, bottom: 2, left: 0, right: 3 };
    let mut worst: f64 = 0.0;
    for (pad, big) in [
        (ZeroPad::spatial(spatial), [2, 3, 7, 8]),
        (ZeroPad::channels(2, 1), [2, 6, 4, 5]),
        (ZeroPad { channels_before: 0, channels_after: 2, spatial }, [2, 5, 7, 8]),
    ] {
        let small = [2, 3, 4, 5];
        let x = g.uniform(&small, -1.0, 1.0);
        worst = worst.max(grad_check(
            &format!("zero pad {pad:?}"),
            &mut g,
            &[x],
            |t| run1(&Kernel::ZeroPad(pad), &refs(t), &big),
            |_, r| vec![(0, run1(&Kernel::Crop(pad), &[r], &small))],
        ));
        let y = g.uniform(&big, -1.0, 1.0);
        worst = worst.max(grad_check(
            &format!("crop {pad:?}"),
            &mut g,
            &[y],
            |t| run1(&Kernel::Crop(pad), &refs(t), &small),
            |_, r| vec![(0, run1(&Kernel::ZeroPad(pad), &[r], &big))],
        ));
    }
    report("pad / crop", worst);
}

#[test]
fn scale_add_copy_mask_gradients() {
    let mut g = Gen::new(13);
    let dims = [2, 3, 2, 2];
    let x = g.uniform(&dims, -1.0, 1.0);
    let scale = Kernel::Scale { factor: -0.37 };
    let mut worst = grad_check(
        "scale",
        &mut g,
        std::slice::from_ref(&x),
        |t| run1(&scale, &refs(t), &dims),
        |_, r| vec![(0, run1(&scale, &[r], &dims))],
    );
    let three = [g.uniform(&dims, -1.0, 1.0), g.uniform(&dims, -1.0, 1.0), g.uniform(&dims, -1.0, 1.0)];
    worst = worst.max(grad_check(
        "add",
        &mut g,
        &three,
        |t| run1(&Kernel::Add, &refs(t), &dims),
        |_, r| (0..3).map(|k| (k, run1(&Kernel::Copy, &[r], &dims))).collect(),
    ));
    worst = worst.max(grad_check(
        "copy",
        &mut g,
        std::slice::from_ref(&x),
        |t| run1(&Kernel::Copy, &refs(t), &dims),
        |_, r| vec![(0, run1(&Kernel::Copy, &[r], &dims))],
    ));
    let mut mask = Tensor::zeros(&dims);
    netc::runtime::reference::dropout_mask(0.4, 1, 2, 3, &mut mask.data);
    worst = worst.max(grad_check(
        "mask",
        &mut g,
        &[x],
        |t| run1(&Kernel::Mask, &[&t[0], &mask], &dims),
        |_, r| vec![(0, run1(&Kernel::Mask, &[r, &mask], &dims))],
    ));
    report("scale / add / copy / mask", worst);
}

#[test]
fn concat_and_slice_gradients() {
    let mut g = Gen::new(14);
    let mut worst: f64 = 0.0;
    for spatial in [vec![3, 2], vec![]] {
        let dims = |c: usize| [vec![2, c], spatial.clone()].concat();
        let parts = [g.uniform(&dims(2), -1.0, 1.0), g.uniform(&dims(3), -1.0, 1.0), g.uniform(&dims(1), -1.0, 1.0)];
        let y_dims = dims(6);
        worst = worst.max(grad_check(
            "concat",
            &mut g,
            &parts,
            |t| run1(&Kernel::Concat, &refs(t), &y_dims),
            |_, r| {
                let offsets = [(0, 2), (2, 3), (5, 1)];
                offsets
                    .iter()
                    .enumerate()
                    .map(|(k, &(o, c))| (k, run1(&Kernel::Slice { offset: o }, &[r], &dims(c))))
                    .collect()
            },
        ));
        // The gradient of a slice is dy placed among zero channels: a concatenation.
        let x = g.uniform(&y_dims, -1.0, 1.0);
        worst = worst.max(grad_check(
            "slice",
            &mut g,
            &[x],
            |t| run1(&Kernel::Slice { offset: 2 }, &refs(t), &dims(3)),
            |_, r| vec![(0, run1(&Kernel::Concat, &[&Tensor::zeros(&dims(2)), r, &Tensor::zeros(&dims(1))], &y_dims))],
        ));
    }
    report("concat / slice", worst);
}
