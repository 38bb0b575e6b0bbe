//! Batch norm (train, eval, backward; maps and vectors) and LRN (window
//! sizes 1–5, the special and the general exponents) against the reference.

use crate::jit_ops_support::*;
use netc::autodiff::Kernel;
use netc::ir::{Act, BatchNorm, Lrn};
use netc::sched::Fused;

/// Batch-norm shapes: maps of odd sizes, vectors with C below 4, a multiple of 4
/// and neither (the vector kernels group channels by four), and maps with enough
/// channels that training kernels take blocks of them (short planes), the last
/// block usually shorter.
fn bn_shape(g: &mut Gen, i: usize) -> Vec<usize> {
    let n = [1, 3, 2, 5][i % 4];
    match i % 4 {
        0 => vec![n, 1 + g.below(5), 1 + g.below(7), 1 + g.below(7)],
        1 => vec![n, [1, 3, 4, 8, 11, 13][g.below(6)]],
        2 => vec![n, 1 + g.below(6), 1, 1],
        _ => vec![[1, 3, 4][g.below(3)], 16 + g.below(30), 1 + g.below(9), 2 + g.below(9)],
    }
}

#[test]
fn batch_norm() {
    let mut g = Gen::new(8);
    let (mut worst_stats, mut worst_bwd) = (0.0f64, 0.0f64);
    for i in 0..20 {
        let dims = bn_shape(&mut g, i);
        let c = dims[1];
        let b = BatchNorm { channels: c as u64, eps: 1e-5, momentum: 0.1 };
        let x = g.strided(&dims, -1.0, 2.0);
        let (gamma, beta) = (g.param(&[c], 0.5, 1.5), g.param(&[c], -0.5, 0.5));
        let stat = |g: &mut Gen| g.param(&[c], 0.0, 0.0);
        let (rm, rv) = (g.param(&[c], -0.5, 0.5), g.param(&[c], 0.5, 1.5));
        let outs = vec![g.strided(&dims, 0.0, 1.0), stat(&mut g), stat(&mut g), rm.clone(), rv.clone()];
        let mut case = Case::new(Kernel::BatchNormTrain(b), vec![x.clone(), gamma.clone(), beta.clone()], outs);
        case.accumulate = i % 4 == 3;
        if i % 5 == 1 {
            case.epilogue = vec![Fused::Act(Act::Relu)];
        }
        worst_stats = worst_stats.max(check(&format!("bn train {dims:?}"), &case, 1e-6));
        let ins = vec![x.clone(), gamma.clone(), beta, rm, rv];
        let mut case = Case::new(Kernel::BatchNormEval(b), ins, vec![g.strided(&dims, 0.0, 1.0)]);
        case.accumulate = i % 2 == 0;
        check(&format!("bn eval {dims:?}"), &case, 0.0);
        let fwd = reference(&Case::new(
            Kernel::BatchNormTrain(b),
            vec![x.clone(), gamma.clone(), g.param(&[c], 0.0, 0.0)],
            vec![Buf::dense(&dims, vec![0.0; x.data.len()]), stat(&mut g), stat(&mut g), stat(&mut g), stat(&mut g)],
        ));
        let (mean, invstd) = (Buf::param(&[c], fwd[1].clone()), Buf::param(&[c], fwd[2].clone()));
        let dy = g.strided(&dims, -1.0, 1.0);
        let outs = vec![g.strided(&dims, 0.0, 1.0), stat(&mut g), stat(&mut g)];
        let mut case = Case::new(Kernel::BatchNormBackward(b), vec![dy, x, gamma, mean, invstd], outs);
        case.accumulate = i % 3 == 2;
        worst_bwd = worst_bwd.max(check(&format!("bn backward {dims:?}"), &case, 1e-6));
    }
    report("batch norm train (statistics, y)", worst_stats, 1e-6);
    report("batch norm backward", worst_bwd, 1e-6);
}

/// Maps whose mean is far from zero against their spread (|μ| ≈ 100σ): the JIT's
/// one-pass statistics must shift their sums (Σx² − (Σx)²/M alone would lose about
/// 1e-3 of the variance here, 5e-4 of y). The tolerance is looser than
/// `batch_norm`'s because x − μ itself is rounded at |x| ≈ 60: the two-pass
/// statistics measured 4.4e-5 on these cases too.
#[test]
fn batch_norm_statistics_of_offset_maps() {
    let mut g = Gen::new(18);
    let mut worst = 0.0f64;
    for i in 0..8 {
        let dims = match i % 4 {
            2 => vec![7, 6],
            // Blocks of channels (see `batch_norm`).
            3 => vec![3, 17 + g.below(20), 5 + g.below(5), 5 + g.below(5)],
            _ => vec![[3, 5][i % 2], 1 + g.below(4), 9 + g.below(9), 9 + g.below(9)],
        };
        let c = dims[1];
        let b = BatchNorm { channels: c as u64, eps: 1e-5, momentum: 0.1 };
        let x = g.strided(&dims, 59.0, 61.0);
        let (gamma, beta) = (g.param(&[c], 0.5, 1.5), g.param(&[c], -0.5, 0.5));
        let stat = |g: &mut Gen| g.param(&[c], 0.0, 0.0);
        let outs = vec![g.strided(&dims, 0.0, 1.0), stat(&mut g), stat(&mut g), stat(&mut g), stat(&mut g)];
        let case = Case::new(Kernel::BatchNormTrain(b), vec![x, gamma, beta], outs);
        worst = worst.max(check(&format!("bn train offset {dims:?}"), &case, 1e-4));
    }
    report("batch norm train, offset maps", worst, 1e-4);
}

#[test]
fn local_response_normalization() {
    let mut g = Gen::new(9);
    let (mut worst_fwd, mut worst_bwd) = (0.0f64, 0.0f64);
    for i in 0..20 {
        let size = 1 + (i % 5) as u64;
        let beta = [0.75, 0.6, 0.5, 1.0][i % 4];
        let p = Lrn { size, alpha: [1e-4, 0.6][i % 2], beta, k: [2.0, 1.0][(i / 2) % 2] };
        let n = [1, 3, 2][i % 3];
        let dims =
            if i % 4 == 3 { vec![n, 1 + g.below(9)] } else { vec![n, 1 + g.below(7), 1 + g.below(6), 1 + g.below(7)] };
        let x = g.strided(&dims, -2.0, 2.0);
        let mut case = Case::new(Kernel::Lrn(p), vec![x.clone()], vec![g.strided(&dims, -1.0, 1.0)]);
        case.accumulate = i % 3 == 1;
        worst_fwd = worst_fwd.max(check(&format!("lrn {p:?} {dims:?}"), &case, 1e-6));
        let y =
            reference(&Case::new(Kernel::Lrn(p), vec![x.clone()], vec![Buf::dense(&dims, vec![0.0; x.data.len()])]));
        let dy = g.strided(&dims, -1.0, 1.0);
        let mut case = Case::new(
            Kernel::LrnBackward(p),
            vec![x, Buf::dense(&dims, y[0].clone()), dy],
            vec![g.strided(&dims, -1.0, 1.0)],
        );
        case.accumulate = i % 2 == 0;
        if i % 7 == 0 {
            case.epilogue = vec![Fused::Scale(0.5)];
        }
        worst_bwd = worst_bwd.max(check(&format!("lrn backward {p:?} {dims:?}"), &case, 1e-6));
    }
    report("lrn forward", worst_fwd, 1e-6);
    report("lrn backward", worst_bwd, 1e-6);
}
