//! One or more ready-to-run invocations of every kernel of the contract, with inputs
//! that are well conditioned (no ties, positive variances): the material for the
//! tests that sweep all kernels (accumulation, f32 against f64, NaN inputs).

use super::*;
use netc::ir::Subsample;
use netc::ir::{PoolKind, Rbf, ZeroPad};

/// A kernel with its inputs and its output buffers' prior contents.
pub struct Invocation {
    pub kernel: Kernel,
    pub ins: Vec<Tensor>,
    pub outs: Vec<Tensor>,
}

fn inv(kernel: Kernel, ins: Vec<Tensor>, out_dims: &[&[usize]]) -> Invocation {
    Invocation { kernel, ins, outs: out_dims.iter().map(|d| Tensor::zeros(d)).collect() }
}

/// Every kernel at least once (each activation, both pooling kinds, both losses).
pub fn all(g: &mut Gen) -> Vec<Invocation> {
    let mut v = convs(g);
    v.extend(pools(g));
    v.extend(dense_and_norms(g));
    v.extend(elementwise(g));
    v.extend(lenet_and_losses(g));
    v
}

fn convs(g: &mut Gen) -> Vec<Invocation> {
    let c = conv(3, 4, window(3, 3, 1, 1, [1, 1, 1, 1]), 1, true);
    let t = table_conv(3, &[&[0, 1], &[2], &[1, 0, 2]], window(2, 3, 2, 1, [0, 1, 1, 0]), false);
    let (x, w, b, dy) = (
        g.uniform(&[2, 3, 5, 5], -1.0, 1.0),
        g.uniform(&[4, 3, 3, 3], -1.0, 1.0),
        g.uniform(&[4], -1.0, 1.0),
        g.uniform(&[2, 4, 5, 5], -1.0, 1.0),
    );
    let (tw, tdy) = (g.uniform(&[6, 2, 3], -1.0, 1.0), g.uniform(&[2, 3, 3, 4], -1.0, 1.0));
    vec![
        inv(Kernel::Conv(c.clone()), vec![x.clone(), w.clone(), b], &[&[2, 4, 5, 5]]),
        inv(Kernel::ConvBackwardData(c.clone()), vec![dy.clone(), w], &[&[2, 3, 5, 5]]),
        inv(Kernel::ConvBackwardWeight(c), vec![dy, x.clone()], &[&[4, 3, 3, 3], &[4]]),
        inv(Kernel::Conv(t.clone()), vec![x.clone(), tw.clone()], &[&[2, 3, 3, 4]]),
        inv(Kernel::ConvBackwardData(t.clone()), vec![tdy.clone(), tw], &[&[2, 3, 5, 5]]),
        inv(Kernel::ConvBackwardWeight(t), vec![tdy, x], &[&[6, 2, 3]]),
    ]
}

fn pools(g: &mut Gen) -> Vec<Invocation> {
    let x = g.distinct(&[2, 3, 6, 6]);
    let max = pool(PoolKind::Max, window(3, 3, 2, 2, [1, 1, 1, 1]), false, false);
    let avg = pool(PoolKind::Avg, window(3, 3, 2, 2, [1, 0, 1, 0]), true, false);
    let mut v = Vec::new();
    for p in [max, avg] {
        let y = run1(&Kernel::Pool(p), &[&x], &[2, 3, 3, 3]);
        let dy = g.uniform(&[2, 3, 3, 3], -1.0, 1.0);
        v.push(inv(Kernel::Pool(p), vec![x.clone()], &[&[2, 3, 3, 3]]));
        v.push(inv(Kernel::PoolBackward(p), vec![x.clone(), y, dy], &[&[2, 3, 6, 6]]));
    }
    v.push(inv(Kernel::GlobalAvgPool, vec![x.clone()], &[&[2, 3, 1, 1]]));
    v.push(inv(Kernel::GlobalAvgPoolBackward, vec![g.uniform(&[2, 3, 1, 1], -1.0, 1.0)], &[&[2, 3, 6, 6]]));
    v
}

fn dense_and_norms(g: &mut Gen) -> Vec<Invocation> {
    let d = dense(12, 5, true);
    let (x, w, b, dy) = (
        g.uniform(&[2, 3, 2, 2], -1.0, 1.0),
        g.uniform(&[5, 12], -1.0, 1.0),
        g.uniform(&[5], -1.0, 1.0),
        g.uniform(&[2, 5], -1.0, 1.0),
    );
    let b3 = bn(3);
    let (bx, gamma, beta) =
        (g.uniform(&[4, 3, 2, 2], -2.0, 2.0), g.uniform(&[3], 0.5, 1.5), g.uniform(&[3], -1.0, 1.0));
    let (rm, rv) = (g.uniform(&[3], -1.0, 1.0), g.uniform(&[3], 0.5, 2.0));
    let stats = run(&Kernel::BatchNormTrain(b3), &[&bx, &gamma, &beta], &[&[4, 3, 2, 2], &[3], &[3], &[3], &[3]]);
    let mut train =
        inv(Kernel::BatchNormTrain(b3), vec![bx.clone(), gamma.clone(), beta.clone()], &[&[4, 3, 2, 2], &[3], &[3]]);
    train.outs.extend([rm.clone(), rv.clone()]);
    let l = lrn(3);
    let lx = g.uniform(&[2, 5, 2, 2], -2.0, 2.0);
    let ly = run1(&Kernel::Lrn(l), &[&lx], &[2, 5, 2, 2]);
    vec![
        inv(Kernel::Dense(d), vec![x.clone(), w.clone(), b], &[&[2, 5]]),
        inv(Kernel::DenseBackwardData(d), vec![dy.clone(), w], &[&[2, 3, 2, 2]]),
        inv(Kernel::DenseBackwardWeight(d), vec![dy, x], &[&[5, 12], &[5]]),
        train,
        inv(Kernel::BatchNormEval(b3), vec![bx.clone(), gamma.clone(), beta, rm, rv], &[&[4, 3, 2, 2]]),
        inv(
            Kernel::BatchNormBackward(b3),
            vec![g.uniform(&[4, 3, 2, 2], -1.0, 1.0), bx, gamma, stats[1].clone(), stats[2].clone()],
            &[&[4, 3, 2, 2], &[3], &[3]],
        ),
        inv(Kernel::Lrn(l), vec![lx.clone()], &[&[2, 5, 2, 2]]),
        inv(Kernel::LrnBackward(l), vec![lx, ly, g.uniform(&[2, 5, 2, 2], -1.0, 1.0)], &[&[2, 5, 2, 2]]),
    ]
}

fn elementwise(g: &mut Gen) -> Vec<Invocation> {
    let x = g.away_from_zero(&[2, 6, 2, 2], 0.05);
    let mut v = vec![
        inv(Kernel::DropoutMask { p: 0.3, stream: 5 }, vec![], &[&[2, 10]]),
        inv(Kernel::Mask, vec![x.clone(), g.uniform(&[2, 6, 2, 2], 0.0, 2.0)], &[&[2, 6, 2, 2]]),
        inv(Kernel::Scale { factor: -0.75 }, vec![x.clone()], &[&[2, 6, 2, 2]]),
        inv(Kernel::Copy, vec![x.clone()], &[&[2, 6, 2, 2]]),
        inv(
            Kernel::Add,
            vec![x.clone(), g.uniform(&[2, 6, 2, 2], -1.0, 1.0), g.uniform(&[2, 6, 2, 2], -1.0, 1.0)],
            &[&[2, 6, 2, 2]],
        ),
        inv(Kernel::Concat, vec![x.clone(), g.uniform(&[2, 1, 2, 2], -1.0, 1.0)], &[&[2, 7, 2, 2]]),
        inv(Kernel::Slice { offset: 2 }, vec![x.clone()], &[&[2, 3, 2, 2]]),
    ];
    let pad = ZeroPad::spatial(Pad2d { top: 1, bottom: 0, left: 2, right: 1 });
    v.push(inv(Kernel::ZeroPad(pad), vec![x.clone()], &[&[2, 6, 3, 5]]));
    v.push(inv(Kernel::Crop(pad), vec![g.uniform(&[2, 6, 3, 5], -1.0, 1.0)], &[&[2, 6, 2, 2]]));
    let both = ZeroPad { channels_before: 2, channels_after: 1, ..pad };
    v.push(inv(Kernel::ZeroPad(both), vec![x.clone()], &[&[2, 9, 3, 5]]));
    v.push(inv(Kernel::Crop(both), vec![g.uniform(&[2, 9, 3, 5], -1.0, 1.0)], &[&[2, 6, 2, 2]]));
    for a in activations() {
        let y = run1(&Kernel::Act(a), &[&x], &[2, 6, 2, 2]);
        v.push(inv(Kernel::Act(a), vec![x.clone()], &[&[2, 6, 2, 2]]));
        v.push(inv(Kernel::ActBackward(a), vec![y, g.uniform(&[2, 6, 2, 2], -1.0, 1.0)], &[&[2, 6, 2, 2]]));
    }
    v
}

fn lenet_and_losses(g: &mut Gen) -> Vec<Invocation> {
    let s = Subsample { channels: 3, k: 2 };
    let (x, w, b) = (g.uniform(&[2, 3, 4, 5], -1.0, 1.0), g.uniform(&[3], -1.0, 1.0), g.uniform(&[3], -1.0, 1.0));
    let dy = g.uniform(&[2, 3, 2, 2], -1.0, 1.0);
    let (rx, centers, rdy) =
        (g.uniform(&[3, 8], -1.0, 1.0), g.uniform(&[4, 8], -1.0, 1.0), g.uniform(&[3, 4], -1.0, 1.0));
    let sx = g.uniform(&[3, 6], -3.0, 3.0);
    let sy = run1(&Kernel::Softmax, &[&sx], &[3, 6]);
    let mut v = vec![
        inv(Kernel::Subsample(s), vec![x.clone(), w.clone(), b], &[&[2, 3, 2, 2]]),
        inv(Kernel::SubsampleBackward(s), vec![dy, x, w], &[&[2, 3, 4, 5], &[3], &[3]]),
        inv(Kernel::Softmax, vec![sx], &[&[3, 6]]),
        inv(Kernel::SoftmaxBackward, vec![sy, g.uniform(&[3, 6], -1.0, 1.0)], &[&[3, 6]]),
    ];
    for trainable in [true, false] {
        let r = Rbf { in_features: 8, classes: 4, trainable };
        v.push(inv(Kernel::Rbf(r), vec![rx.clone(), centers.clone()], &[&[3, 4]]));
        let outs: &[&[usize]] = if trainable { &[&[3, 8], &[4, 8]] } else { &[&[3, 8]] };
        v.push(inv(Kernel::RbfBackward(r), vec![rdy.clone(), rx.clone(), centers.clone()], outs));
    }
    for negate in [false, true] {
        let ins = vec![g.uniform(&[4, 5], -3.0, 3.0), g.labels(4, 5)];
        v.push(inv(Kernel::SoftmaxCrossEntropy { negate, smoothing: 0.0 }, ins, &[&[1], &[4, 5]]));
    }
    v
}
