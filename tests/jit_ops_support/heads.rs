//! The classifier heads against the reference: softmax and its backward
//! pass, softmax cross-entropy (negated, invalid labels), LeNet-5's
//! subsampling (k 2 and 3, leftover rows and columns) and RBF output.

use crate::jit_ops_support::*;
use netc::autodiff::Kernel;
use netc::ir::{Act, Rbf, Subsample};
use netc::sched::Fused;

#[test]
fn softmax_and_cross_entropy() {
    let mut g = Gen::new(10);
    let (mut worst_sm, mut worst_xent) = (0.0f64, 0.0f64);
    for i in 0..16 {
        let n = [1, 3, 2, 5][i % 4];
        let f = 1 + g.below(23);
        let dims = if i % 2 == 0 { vec![n, f] } else { vec![n, f, 1, 1] };
        let x = g.strided(&dims, -5.0, 5.0);
        let mut case = Case::new(Kernel::Softmax, vec![x.clone()], vec![g.strided(&dims, 0.0, 1.0)]);
        case.accumulate = i % 3 == 2;
        worst_sm = worst_sm.max(check(&format!("softmax {dims:?}"), &case, 1e-6));
        let y =
            reference(&Case::new(Kernel::Softmax, vec![x.clone()], vec![Buf::dense(&dims, vec![0.0; x.data.len()])]));
        let dy = g.strided(&dims, -1.0, 1.0);
        let mut case = Case::new(
            Kernel::SoftmaxBackward,
            vec![Buf::dense(&dims, y[0].clone()), dy],
            vec![g.strided(&dims, -1.0, 1.0)],
        );
        case.accumulate = i % 3 == 0;
        worst_sm = worst_sm.max(check(&format!("softmax backward {dims:?}"), &case, 1e-6));
        let mut labels: Vec<f32> = (0..n).map(|_| g.below(f) as f32).collect();
        if i % 4 == 3 {
            // Not class indices: the loss and that sample's gradient become NaN.
            labels[n - 1] = [f as f32, -1.0, 0.5, f32::NAN][(i / 4) % 4];
        }
        let labels = g.maybe_padded(Buf::dense(&[n], labels));
        let negate = i % 2 == 1;
        let outs = vec![Buf::param(&[1], vec![0.25]), g.strided(&dims, 0.0, 0.0)];
        let mut case = Case::new(Kernel::SoftmaxCrossEntropy { negate, smoothing: 0.0 }, vec![x, labels], outs);
        case.accumulate = i % 4 == 2;
        worst_xent = worst_xent.max(check(&format!("softmax xent negate {negate} {dims:?}"), &case, 1e-6));
    }
    report("softmax forward/backward", worst_sm, 1e-6);
    report("softmax cross-entropy", worst_xent, 1e-6);
}

#[test]
fn subsampling() {
    let mut g = Gen::new(11);
    let mut worst: f64 = 0.0;
    for i in 0..12 {
        let k = 2 + i % 2;
        let [n, c] = [[1, 3, 2][i % 3], 1 + g.below(4)];
        let (h, w) = (k + g.below(3 * k + 2), k + g.below(6 * k + 2));
        let s = Subsample { channels: c as u64, k: k as u64 };
        let yd = [n, c, h / k, w / k];
        let x = g.strided(&[n, c, h, w], -1.0, 1.0);
        let (wt, b) = (g.param(&[c], -1.0, 1.0), g.param(&[c], -1.0, 1.0));
        let mut case = Case::new(Kernel::Subsample(s), vec![x, wt.clone(), b], vec![g.strided(&yd, -1.0, 1.0)]);
        case.accumulate = i % 3 == 1;
        if i % 4 == 0 {
            case.epilogue = vec![Fused::Act(Act::ScaledTanh { a: 1.7159, s: 2.0 / 3.0 })];
        }
        worst = worst.max(check(&format!("subsample {s:?} {h}x{w}"), &case, 4e-7));
        // Positive values: the dw and db sums then have no cancellation.
        let (dy, x) = (g.strided(&yd, 0.1, 1.0), g.strided(&[n, c, h, w], 0.0, 1.0));
        let outs = vec![g.strided(&[n, c, h, w], -1.0, 1.0), g.param(&[c], 0.0, 0.0), g.param(&[c], 0.0, 0.0)];
        let mut case = Case::new(Kernel::SubsampleBackward(s), vec![dy, x, wt], outs);
        case.accumulate = i % 2 == 0;
        worst = worst.max(check(&format!("subsample backward {s:?} {h}x{w}"), &case, 1e-6));
    }
    report("subsampling", worst, 1e-6);
}

#[test]
fn rbf() {
    let mut g = Gen::new(12);
    let mut worst: f64 = 0.0;
    for i in 0..10 {
        let (n, f, classes) = ([1, 3, 2, 5][i % 4], [84, 13, 5, 1, 8][i % 5], [10, 3, 1][i % 3]);
        let trainable = i % 2 == 0;
        let r = Rbf { in_features: f as u64, classes: classes as u64, trainable };
        let x = g.strided(&[n, f], -1.0, 1.0);
        let centres = g.param(&[classes, f], -1.0, 1.0);
        let mut case =
            Case::new(Kernel::Rbf(r), vec![x.clone(), centres.clone()], vec![g.strided(&[n, classes], 0.0, 1.0)]);
        case.accumulate = i % 3 == 0;
        worst = worst.max(check(&format!("rbf {r:?}"), &case, 1e-6));
        let dy = g.strided(&[n, classes], -1.0, 1.0);
        let mut outs = vec![g.strided(&[n, f], -1.0, 1.0)];
        if trainable {
            outs.push(g.param(&[classes, f], 0.0, 0.0));
        }
        let mut case = Case::new(Kernel::RbfBackward(r), vec![dy, x, centres], outs);
        case.accumulate = i % 3 == 1;
        check(&format!("rbf backward {r:?}"), &case, 0.0);
    }
    report("rbf distances", worst, 1e-6);
}
