//! The Winograd convolution kernels, F(2×2,3×3), F(4×4,3×3) and F(6×6,3×3) forced on, for the
//! forward convolution, its data gradient and its weight gradient, against the f64
//! reference: random shapes (batch 1–5, 1–20 channels, maps 1–17 pixels a
//! side, maps smaller than a tile, paddings 0/1 and asymmetric), bias or none,
//! random fused epilogues with extra operands, operands that are slices of bigger
//! buffers (gaps between samples), accumulation, parts in any order or on two
//! threads; weight gradients split over output channels or summed in batch slices
//! (two phases, the slices added in a second).
//!
//! Tolerance: the harness's per-element bound (`jit_conv_support`) plus a norm-wise
//! term before the epilogue, `NORM_TOL[m] · max mag`, mag being Σ|x·w| (+|bias|) of
//! the reference. Measured over the 300 epilogue-free cases of
//! `accuracy_per_tile_size`, the largest error relative to that norm is about
//! 1.6e-7 for F(2×2), 4e-6 for F(4×4) and 4.6e-6 for F(6×6) (printed by that test); the bounds keep a
//! margin of ~10×.

mod jit_conv_support;

use jit_conv_support::{check_norm, random_act, Case, Order, Tensor};
use netc::autodiff::Kernel;
use netc::codegen::jit::Jit;
use netc::codegen::kernels::conv::ConvOptions;
use netc::data::Rng;
use netc::ir::{window_out, Conv, Pad2d, Window};
use netc::sched::Fused;

/// Norm-wise tolerance before the epilogue, for F(2×2), F(4×4) and F(6×6).
const NORM_TOL: [(usize, f64); 3] = [(2, 2e-6), (4, 4e-5), (6, 5e-5)];

fn tol(m: usize) -> f64 {
    NORM_TOL.iter().find(|(k, _)| *k == m).unwrap().1
}

fn opts(m: usize) -> ConvOptions {
    ConvOptions { winograd: Some(true), winograd_m: Some(m), min_part_flops: 1.0, ..ConvOptions::default() }
}

/// [`opts`] with weight gradients in batch slices (`true`) or split over channels.
fn opts_sliced(m: usize, sliced: bool) -> ConvOptions {
    ConvOptions { batch_slices: Some(sliced), ..opts(m) }
}

/// What a case computes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Forward,
    DataGradient,
    WeightGradient,
}

const ROLES: [Role; 3] = [Role::Forward, Role::DataGradient, Role::WeightGradient];

fn r(rng: &mut Rng, lo: u64, hi: u64) -> u64 {
    lo + rng.below(hi - lo + 1)
}

/// A random 3×3 stride-1 case of `role`; `plain`: no epilogue, no accumulation.
fn random_case(rng: &mut Rng, plain: bool, role: Role) -> Case {
    let (n, cin, cout) = (r(rng, 1, 5) as usize, r(rng, 1, 20), r(rng, 1, 20));
    let pad = match rng.below(4) {
        0 => Pad2d::uniform(0),
        1 | 2 => Pad2d::uniform(1),
        _ => Pad2d { top: r(rng, 0, 2), bottom: r(rng, 0, 2), left: r(rng, 0, 2), right: r(rng, 0, 2) },
    };
    // At least the kernel's size with padding.
    let h = (r(rng, 1, 17) as usize).max(3 - (pad.top + pad.bottom).min(2) as usize);
    // Now and then a wide map: there most groups of tiles are read in place, on
    // narrow ones from a band (two paths of the input transform).
    let wide = rng.below(4) == 0;
    let w =
        (if wide { r(rng, 40, 80) } else { r(rng, 1, 17) } as usize).max(3 - (pad.left + pad.right).min(2) as usize);
    shaped_case(rng, plain, role, (n, cin, cout), (h, w), pad)
}

/// A case of `role` on `n` samples of `cin` channels of h×w (random bias, and
/// unless `plain` random epilogue and accumulation).
fn shaped_case(
    rng: &mut Rng,
    plain: bool,
    role: Role,
    (n, cin, cout): (usize, u64, u64),
    (h, w): (usize, usize),
    pad: Pad2d,
) -> Case {
    let bias = role != Role::DataGradient && rng.below(2) == 0;
    let conv = Conv {
        in_c: cin,
        out_c: cout,
        window: Window { kh: 3, kw: 3, sh: 1, sw: 1, pad },
        groups: 1,
        bias,
        table: None,
    };
    let x = vec![n, cin as usize, h, w];
    let (oh, ow) = window_out(&conv.window, h as u64, w as u64, false).unwrap();
    let y = vec![n, cout as usize, oh as usize, ow as usize];
    let w = Tensor::param(&[(cin * cout * 9) as usize]);
    if role == Role::WeightGradient {
        let mut outputs = vec![w];
        if bias {
            outputs.push(Tensor::param(&[cout as usize]));
        }
        return Case {
            inputs: vec![
                Tensor::batched(&y, rng.below(3) as usize * 3),
                Tensor::batched(&x, rng.below(3) as usize * 2),
            ],
            kernel: Kernel::ConvBackwardWeight(conv),
            outputs,
            epilogue: vec![],
            extra_gaps: vec![],
            accumulate: !plain && rng.below(3) == 0,
        };
    }
    let (src, dst) = if role == Role::DataGradient { (&y, &x) } else { (&x, &y) };
    let mut inputs = vec![Tensor::batched(src, rng.below(3) as usize * 5), w];
    if bias {
        inputs.push(Tensor::param(&[cout as usize]));
    }
    let act = random_act(rng);
    let (epilogue, extra_gaps) = match (plain, rng.below(4)) {
        (true, _) | (false, 3) => (vec![], vec![]),
        (false, 0) => (vec![Fused::Act(act)], vec![]),
        (false, 1) => (vec![Fused::Scale(0.5), Fused::AddOperand(0), Fused::Act(act)], vec![rng.below(3) as usize]),
        (false, _) => (vec![Fused::AddOperand(1), Fused::AddOperand(0)], vec![0, 3]),
    };
    Case {
        kernel: if role == Role::DataGradient { Kernel::ConvBackwardData(conv) } else { Kernel::Conv(conv) },
        inputs,
        outputs: vec![Tensor::batched(dst, rng.below(3) as usize * 7)],
        epilogue,
        extra_gaps,
        accumulate: !plain && rng.below(3) == 0,
    }
}

#[test]
fn random_shapes_epilogues_slices_and_accumulation() {
    let jit = Jit::native().unwrap();
    let mut rng = Rng::new(12);
    // Forward and data-gradient kernels transform the weights a row block at a time
    // or all at once (`weights-by-block`); all three put one tile row or several
    // (maps of at most two tiles a row: `2-row-slots`, `4-row-slots`) in a vector:
    // each kind must be among the cases.
    let mut orders = [0usize; 2];
    let mut packs = [[0usize; 3]; 2];
    // Weight gradients summed by channels or in batch slices.
    let mut splits = [0usize; 2];
    for i in 0..200u64 {
        let case = random_case(&mut rng, false, ROLES[i as usize % 3]);
        for m in [2, 4, 6] {
            let order = match i % 3 {
                0 => Order::Sequential,
                1 => Order::Shuffled(i),
                _ => Order::Threads(2),
            };
            let sliced = (i / 3 + m as u64 / 2).is_multiple_of(2);
            let (_, desc, _) = check_norm(&jit, &case, 100 + i, order, &opts_sliced(m, sliced), tol(m));
            if desc.starts_with("conv_bwd_weight") {
                splits[usize::from(desc.contains("batch-slices"))] += 1;
            }
            assert!(desc.contains(&format!("winograd F({m}x{m},3x3)")), "{desc}");
            if !desc.starts_with("conv_bwd_weight") {
                orders[usize::from(desc.contains("weights-by-block"))] += 1;
            }
            let pack = ["2-row-slots", "4-row-slots"].iter().position(|p| desc.contains(p)).map_or(0, |k| k + 1);
            packs[usize::from(desc.starts_with("conv_bwd_weight"))][pack] += 1;
        }
    }
    assert!(orders.iter().all(|&k| k > 0), "whole-U and by-block cases: {orders:?}");
    assert!(splits.iter().all(|&k| k > 10), "weight gradients by channels and in batch slices: {splits:?}");
    assert!(
        packs.iter().flatten().all(|&k| k > 0),
        "one, two and four tile rows per slot (forward and data, weights): {packs:?}"
    );
}

/// F(4×4) on maps of whole tiles whose tile rows are not whole vectors: several
/// tile rows per slot, groups of four tiles straddling rows, padding lanes at a
/// slot's end (28×28 in one slot: 49 tiles in 52 lanes). Every role, random
/// epilogues, accumulation, parts on two threads; the rows per slot are the
/// kernel's choice (the fewest lanes for its parts and chunks), and the maps give
/// several.
#[test]
fn tile_rows_packed_across_vector_boundaries() {
    let jit = Jit::native().unwrap();
    let mut rng = Rng::new(31);
    let maps = [(16, 12), (8, 24), (28, 28), (20, 20), (12, 20), (24, 28), (56, 56)];
    let mut packs = std::collections::BTreeSet::new();
    for (i, (h, w)) in maps.into_iter().enumerate() {
        for (k, role) in ROLES.into_iter().enumerate() {
            let shape = (r(&mut rng, 1, 3) as usize, r(&mut rng, 1, 9), r(&mut rng, 1, 9));
            let case = shaped_case(&mut rng, false, role, shape, (h, w), Pad2d::uniform(1));
            let order = [Order::Sequential, Order::Shuffled(i as u64), Order::Threads(2)][k];
            let sliced = (i + k) % 2 == 0;
            let (_, desc, _) = check_norm(&jit, &case, 300 + i as u64, order, &opts_sliced(4, sliced), tol(4));
            assert!(desc.contains("winograd F(4x4,3x3)"), "{desc}");
            let pack = desc.split_whitespace().find_map(|w| w.strip_suffix("-row-slots")?.parse::<usize>().ok());
            packs.insert(pack.unwrap_or(1));
        }
    }
    // Two and four rows a slot (no padding lanes) and three, five, six or seven
    // (padding at the slot's end) must be among the cases.
    assert!(packs.contains(&2) && packs.contains(&4), "rows per slot: {packs:?}");
    assert!([3, 5, 6, 7].iter().any(|p| packs.contains(p)), "rows per slot: {packs:?}");
}

#[test]
fn accuracy_per_tile_size() {
    let jit = Jit::native().unwrap();
    for (r, role) in ROLES.into_iter().enumerate() {
        for m in [2, 4, 6] {
            let mut rng = Rng::new(7 + m as u64 + 10 * r as u64);
            let mut worst: f64 = 0.0;
            for i in 0..150u64 {
                let case = random_case(&mut rng, true, role);
                let (_, _, rel) = check_norm(&jit, &case, i, Order::Sequential, &opts(m), tol(m));
                worst = worst.max(rel);
            }
            eprintln!(
                "winograd F({m}x{m},3x3) {role:?}: max |jit - ref| / max mag = {worst:.3e} (bound {:.0e})",
                tol(m)
            );
        }
    }
}

#[test]
fn parts_agree_bit_for_bit_and_forced_off_is_direct() {
    let jit = Jit::native().unwrap();
    let mut rng = Rng::new(99);
    for i in 0..20u64 {
        let case = random_case(&mut rng, false, ROLES[i as usize % 3]);
        let m = [2, 4, 6][i as usize % 3];
        let o = opts_sliced(m, i % 4 < 2);
        let (a, _, _) = check_norm(&jit, &case, i, Order::Sequential, &o, tol(m));
        let (b, _, _) = check_norm(&jit, &case, i, Order::Threads(2), &o, tol(m));
        assert_eq!(bits(&a), bits(&b));
        let off = ConvOptions { winograd: Some(false), ..ConvOptions::default() };
        let (_, desc, _) = check_norm(&jit, &case, i, Order::Sequential, &off, 0.0);
        assert!(!desc.contains("winograd"), "{desc}");
    }
}

fn bits(b: &[Vec<f32>]) -> Vec<Vec<u32>> {
    b.iter().map(|v| v.iter().map(|x| x.to_bits()).collect()).collect()
}
