//! The JIT op kernels (`codegen::kernels::ops`) against the reference
//! executor, on seeded random shapes: odd sizes (vector tails), batch 1 and
//! odd batches, batch strides (the gaps must stay untouched), accumulation,
//! fused epilogues, FMA on and forced off, and parts run shuffled and on two
//! threads (bit-identical to sequential). Tolerances are relative to each
//! output tensor's largest magnitude (see `jit_ops_support::error`); 0 means
//! bit-identical. Run with `--nocapture` for each family's worst error.
//!
//! Element-wise, layout and pooling kernels are tested here; normalisation,
//! the classifier heads and the optimizers in the modules below.

#[path = "jit_ops_support/heads.rs"]
mod heads;
mod jit_ops_support;
#[path = "jit_ops_support/normalization.rs"]
mod normalization;
#[path = "jit_ops_support/optimizers.rs"]
mod optimizers;

use jit_ops_support::*;
use netc::autodiff::Kernel;
use netc::codegen::kernels::ops::compile_op_with;
use netc::ir::{window_out, Act, Pad2d, Pool, PoolKind, Window, ZeroPad};
use netc::sched::Fused;

/// Every activation, LeNet-5's scaled tanh included.
fn activations() -> [Act; 5] {
    [Act::Relu, Act::LeakyRelu { slope: 0.1 }, Act::Tanh, Act::Sigmoid, Act::ScaledTanh { a: 1.7159, s: 2.0 / 3.0 }]
}

/// Bit-exact for the (leaky) ReLU, else the vmath bound of tanh / sigmoid (scaled).
fn act_tol(a: Act) -> f64 {
    if matches!(a, Act::Relu | Act::LeakyRelu { .. }) {
        0.0
    } else {
        4e-7
    }
}

/// A random batched shape: flat N×F or N×C×H×W, odd sizes likely.
fn shape(g: &mut Gen) -> Vec<usize> {
    let n = [1, 3, 2, 5][g.below(4)];
    if g.below(2) == 0 {
        vec![n, 1 + g.below(37)]
    } else {
        vec![n, 1 + g.below(5), 1 + g.below(9), 1 + g.below(9)]
    }
}

#[test]
fn activations_forward_and_backward() {
    let mut g = Gen::new(1);
    let (mut worst_fwd, mut worst_bwd) = (0.0f64, 0.0f64);
    for a in activations() {
        for round in 0..6 {
            let dims = shape(&mut g);
            let x = g.dense(&dims, -4.0, 4.0);
            let x = g.maybe_padded(x);
            let y = g.strided(&dims, 0.0, 0.0);
            let mut case = Case::new(Kernel::Act(a), vec![x.clone()], vec![y.clone()]);
            case.accumulate = round % 3 == 2;
            if case.accumulate {
                case.outputs[0] = g.dense(&dims, -1.0, 1.0);
            }
            worst_fwd = worst_fwd.max(check(&format!("act {a:?} {dims:?}"), &case, act_tol(a)));
            let yv = reference(&Case::new(Kernel::Act(a), vec![x], vec![y.clone()])).remove(0);
            let dy = g.strided(&dims, -1.0, 1.0);
            let case = Case::new(Kernel::ActBackward(a), vec![Buf::dense(&dims, yv), dy], vec![y]);
            worst_bwd = worst_bwd.max(check(&format!("act bwd {a:?} {dims:?}"), &case, 0.0));
        }
    }
    report("activation forward", worst_fwd, 4e-7);
    report("activation backward", worst_bwd, 0.0);
}

#[test]
fn mask_scale_add_copy() {
    let mut g = Gen::new(2);
    for round in 0..8 {
        let dims = shape(&mut g);
        let out = g.strided(&dims, 0.0, 0.0);
        let x = g.strided(&dims, -2.0, 2.0);
        let m = g.dense(&dims, 0.0, 2.0);
        let k = 1 + round % 4;
        let xs: Vec<Buf> = (0..k).map(|_| g.strided(&dims, -2.0, 2.0)).collect();
        let cases = [
            Case::new(Kernel::Mask, vec![x.clone(), m], vec![out.clone()]),
            Case::new(Kernel::Scale { factor: -0.3 }, vec![x.clone()], vec![out.clone()]),
            Case::new(Kernel::Add, xs, vec![out.clone()]),
            Case::new(Kernel::Copy, vec![x], vec![out]),
        ];
        for mut case in cases {
            case.accumulate = round % 2 == 1;
            if case.accumulate {
                case.outputs[0] = g.dense(&dims, -1.0, 1.0);
            }
            check(&format!("{} {dims:?}", case.kernel.name()), &case, 0.0);
        }
    }
}

#[test]
fn epilogues() {
    let mut g = Gen::new(3);
    let mut worst: f64 = 0.0;
    let lists: Vec<Vec<Fused>> = vec![
        vec![Fused::Act(Act::Relu)],
        vec![Fused::Scale(0.25)],
        vec![Fused::AddOperand(0), Fused::Act(Act::Relu)],
        vec![Fused::MulActGrad(Act::Tanh, 0)],
        vec![Fused::Act(Act::Sigmoid), Fused::Scale(-2.0)],
        vec![Fused::AddOperand(1), Fused::MulActGrad(Act::Relu, 0), Fused::Scale(3.0)],
    ];
    for (i, list) in lists.into_iter().enumerate() {
        let dims = shape(&mut g);
        let x = g.strided(&dims, -2.0, 2.0);
        let z = g.strided(&dims, -0.9, 0.9);
        let r = g.strided(&dims, -2.0, 2.0);
        let mut case = Case::new(Kernel::Scale { factor: 1.5 }, vec![x], vec![g.dense(&dims, -1.0, 1.0)]);
        case.extras = vec![z, r];
        case.accumulate = i % 2 == 0;
        case.epilogue = list;
        let tol = if i == 4 { 4e-7 } else { 0.0 };
        worst = worst.max(check(&format!("epilogue {:?}", case.epilogue), &case, tol));
    }
    report("epilogues", worst, 4e-7);
}

#[test]
fn zero_pad_and_crop() {
    // Spatial frames, zero channels before and after (the option-A shortcut of the CIFAR
    // ResNets), and both at once.
    let mut g = Gen::new(4);
    for round in 0..16 {
        let [n, c, h, w] = [[1, 3, 2, 5][round % 4], 1 + g.below(4), 1 + g.below(8), 1 + g.below(9)];
        let mut side = || g.below(3) as u64;
        let spatial = match round % 4 {
            0 => Pad2d { top: side(), bottom: side(), left: 0, right: 0 },
            1 => Pad2d::default(),
            _ => Pad2d { top: side(), bottom: side(), left: side(), right: side() },
        };
        let (before, after) = if round % 4 == 2 { (0, 0) } else { (g.below(3) as u64, g.below(4) as u64) };
        let p = ZeroPad { channels_before: before, channels_after: after, spatial };
        let big = [
            n,
            c + (before + after) as usize,
            h + (spatial.top + spatial.bottom) as usize,
            w + (spatial.left + spatial.right) as usize,
        ];
        let x = g.strided(&[n, c, h, w], -1.0, 1.0);
        let mut case = Case::new(Kernel::ZeroPad(p), vec![x.clone()], vec![g.strided(&big, 0.0, 0.0)]);
        case.accumulate = round % 2 == 1;
        if round % 4 == 3 {
            case.epilogue = vec![Fused::Scale(2.0), Fused::AddOperand(0)];
            case.extras = vec![g.strided(&big, -1.0, 1.0)];
        }
        check(&format!("zeropad {p:?} {:?}", x.dims), &case, 0.0);
        let dy = g.strided(&big, -1.0, 1.0);
        let mut case = Case::new(Kernel::Crop(p), vec![dy], vec![g.strided(&[n, c, h, w], -1.0, 1.0)]);
        case.accumulate = round % 2 == 0;
        check(&format!("crop {p:?} {big:?}"), &case, 0.0);
    }
}

#[test]
fn concat_and_slice() {
    let mut g = Gen::new(5);
    for round in 0..10 {
        let n = [1, 3, 2][round % 3];
        let spatial: Vec<usize> = if round % 2 == 0 { vec![] } else { vec![1 + g.below(5), 1 + g.below(6)] };
        let dims = |c: usize| [vec![n, c], spatial.clone()].concat();
        let chans: Vec<usize> = (0..1 + g.below(4)).map(|_| 1 + g.below(5)).collect();
        let total: usize = chans.iter().sum();
        let xs: Vec<Buf> = chans.iter().map(|&c| g.strided(&dims(c), -1.0, 1.0)).collect();
        let mut case = Case::new(Kernel::Concat, xs, vec![g.strided(&dims(total), 0.0, 0.0)]);
        case.accumulate = round % 4 == 1;
        check(&format!("concat {chans:?} {spatial:?}"), &case, 0.0);
        let cy = 1 + g.below(total);
        let offset = g.below(total - cy + 1);
        let x = g.strided(&dims(total), -1.0, 1.0);
        let mut case = Case::new(Kernel::Slice { offset }, vec![x], vec![g.strided(&dims(cy), -1.0, 1.0)]);
        case.accumulate = round % 3 == 0;
        check(&format!("slice {offset}+{cy} of {total} {spatial:?}"), &case, 0.0);
    }
}

/// A random pooling: window up to 4×4, stride up to 3, padding below the
/// window, ceil mode and count_pad at random; with an input it fits.
fn random_pool(g: &mut Gen) -> (Pool, [usize; 4], [usize; 4]) {
    loop {
        let (kh, kw) = (1 + g.below(4) as u64, 1 + g.below(4) as u64);
        let (sh, sw) = (1 + g.below(3) as u64, 1 + g.below(3) as u64);
        let mut pad = |k: u64| g.below(k as usize) as u64;
        let p = Pad2d { top: pad(kh), bottom: pad(kh), left: pad(kw), right: pad(kw) };
        let kind = if g.below(2) == 0 { PoolKind::Max } else { PoolKind::Avg };
        let window = Window { kh, kw, sh, sw, pad: p };
        let pool = Pool { kind, window, ceil: g.below(2) == 0, count_pad: g.below(2) == 0 };
        let x = [[1, 3, 2][g.below(3)], 1 + g.below(3), 1 + g.below(11), 1 + g.below(13)];
        if let Ok((oh, ow)) = window_out(&window, x[2] as u64, x[3] as u64, pool.ceil) {
            return (pool, x, [x[0], x[1], oh as usize, ow as usize]);
        }
    }
}

#[test]
fn pooling() {
    let mut g = Gen::new(6);
    let mut worst: f64 = 0.0;
    let named = [
        (Window { kh: 2, kw: 2, sh: 2, sw: 2, pad: Pad2d::default() }, [2, 3, 9, 11], false),
        (Window { kh: 3, kw: 3, sh: 2, sw: 2, pad: Pad2d::uniform(1) }, [3, 2, 13, 15], true),
        (Window { kh: 3, kw: 3, sh: 1, sw: 1, pad: Pad2d::uniform(1) }, [1, 2, 7, 10], false),
        // x[:, :, ::2, ::2], the subsampling of the CIFAR ResNets' option-A shortcut.
        (Window { kh: 1, kw: 1, sh: 2, sw: 2, pad: Pad2d::default() }, [2, 4, 32, 32], false),
        (Window { kh: 1, kw: 1, sh: 2, sw: 2, pad: Pad2d::default() }, [1, 3, 9, 11], true),
        // Windows that tile the input exactly (the average's backward writes each
        // share once): whole vectors of windows, a leftover window, stride 3.
        (Window { kh: 2, kw: 2, sh: 2, sw: 2, pad: Pad2d::default() }, [2, 3, 8, 16], false),
        (Window { kh: 2, kw: 2, sh: 2, sw: 2, pad: Pad2d::default() }, [1, 2, 6, 10], false),
        (Window { kh: 3, kw: 3, sh: 3, sw: 3, pad: Pad2d::default() }, [2, 2, 9, 27], true),
        (Window { kh: 2, kw: 3, sh: 2, sw: 3, pad: Pad2d::default() }, [1, 2, 4, 21], false),
        // Windows past the last four whose inputs make one vector a row: two of
        // stride 2 (LeNet's 14 outputs a row), one of stride 4.
        (Window { kh: 2, kw: 2, sh: 2, sw: 2, pad: Pad2d::default() }, [2, 3, 6, 28], false),
        (Window { kh: 1, kw: 4, sh: 1, sw: 4, pad: Pad2d::default() }, [1, 2, 3, 20], false),
    ];
    let mut configs: Vec<(Pool, [usize; 4], [usize; 4])> = Vec::new();
    for (window, x, ceil) in named {
        for kind in [PoolKind::Max, PoolKind::Avg] {
            let pool = Pool { kind, window, ceil, count_pad: true };
            let (oh, ow) = window_out(&window, x[2] as u64, x[3] as u64, ceil).unwrap();
            configs.push((pool, x, [x[0], x[1], oh as usize, ow as usize]));
        }
    }
    configs.extend((0..40).map(|_| random_pool(&mut g)));
    for (i, (pool, xd, yd)) in configs.into_iter().enumerate() {
        let x = if pool.kind == PoolKind::Max && i % 2 == 0 { g.coarse(&xd) } else { g.dense(&xd, -1.0, 1.0) };
        let x = g.maybe_padded(x);
        let mut case = Case::new(Kernel::Pool(pool), vec![x.clone()], vec![g.strided(&yd, 0.0, 0.0)]);
        case.accumulate = i % 3 == 1;
        if i % 5 == 0 {
            case.epilogue = vec![Fused::Act(Act::Relu)];
        }
        let name = format!("pool {pool:?} {xd:?}");
        worst = worst.max(check(&name, &case, 0.0));
        let y = reference(&Case::new(
            Kernel::Pool(pool),
            vec![x.clone()],
            vec![Buf::dense(&yd, vec![0.0; yd.iter().product()])],
        ));
        let y = Buf::dense(&yd, y[0].clone());
        let dy = g.strided(&yd, -1.0, 1.0);
        let mut case = Case::new(Kernel::PoolBackward(pool), vec![x, y, dy], vec![g.strided(&xd, -1.0, 1.0)]);
        case.accumulate = i % 2 == 1;
        worst = worst.max(check(&format!("{name} backward"), &case, 0.0));
    }
    report("pooling", worst, 0.0);
}

#[test]
fn global_average_pooling() {
    let mut g = Gen::new(7);
    let mut worst: f64 = 0.0;
    for i in 0..12 {
        let (n, c) = ([1, 3, 2][i % 3], 1 + g.below(6));
        let (h, w) = (1 + g.below(9), 1 + g.below(9));
        // Positive values: a sum's rounding is then relative to the mean itself.
        let x = g.strided(&[n, c, h, w], 0.25, 1.25);
        let ydims = if i % 2 == 0 { vec![n, c, 1, 1] } else { vec![n, c] };
        let mut case = Case::new(Kernel::GlobalAvgPool, vec![x], vec![g.strided(&ydims, 0.0, 1.0)]);
        case.accumulate = i % 3 == 0;
        worst = worst.max(check(&format!("gap {n}x{c}x{h}x{w}"), &case, 4e-7));
        let dy = g.strided(&ydims, -1.0, 1.0);
        let mut case = Case::new(Kernel::GlobalAvgPoolBackward, vec![dy], vec![g.strided(&[n, c, h, w], -1.0, 1.0)]);
        case.accumulate = i % 4 == 1;
        check(&format!("gap backward {n}x{c}x{h}x{w}"), &case, 0.0);
    }
    report("global average pooling", worst, 4e-7);
}

#[test]
fn contract_violations_are_errors() {
    let jit = &jits()[0];
    let d = |dims: &[usize]| Buf::dense(dims, vec![0.0; dims.iter().product()]);
    let conv = netc::ir::Conv {
        in_c: 1,
        out_c: 1,
        window: Window { kh: 1, kw: 1, sh: 1, sw: 1, pad: Pad2d::default() },
        groups: 1,
        bias: false,
        table: None,
    };
    let bad = [
        Case::new(Kernel::Conv(conv), vec![d(&[1, 1, 2, 2]), d(&[1, 1, 1])], vec![d(&[1, 1, 2, 2])]),
        Case::new(Kernel::DropoutMask { p: 0.5, stream: 0 }, vec![], vec![d(&[1, 4])]),
        Case::new(Kernel::Act(Act::Relu), vec![d(&[2, 3])], vec![d(&[2, 4])]),
        Case::new(Kernel::Add, vec![d(&[2, 3]), d(&[3, 3])], vec![d(&[2, 3])]),
        Case::new(Kernel::Copy, vec![d(&[2, 3]), d(&[2, 3])], vec![d(&[2, 3])]),
        Case::new(Kernel::Crop(ZeroPad::spatial(Pad2d::uniform(1))), vec![d(&[1, 1, 3, 3])], vec![d(&[1, 1, 2, 2])]),
        Case::new(Kernel::Crop(ZeroPad::channels(1, 0)), vec![d(&[1, 2, 2, 2])], vec![d(&[1, 2, 2, 2])]),
        Case::new(Kernel::Slice { offset: 2 }, vec![d(&[1, 3, 2])], vec![d(&[1, 2, 2])]),
    ];
    for case in bad {
        assert!(compile_op_with(jit, &case.spec(), &fine()).is_err(), "{:?} accepted", case.kernel);
    }
    let mut strided = Case::new(Kernel::Copy, vec![d(&[2, 3])], vec![d(&[2, 3])]);
    strided.outputs[0].stride = 2;
    assert!(compile_op_with(jit, &strided.spec(), &fine()).is_err(), "a batch stride below the sample size");
    let mut epi = Case::new(Kernel::Copy, vec![d(&[2, 3])], vec![d(&[2, 3])]);
    epi.epilogue = vec![Fused::AddOperand(0)];
    assert!(compile_op_with(jit, &epi.spec(), &fine()).is_err(), "an epilogue operand that is missing");
    epi.extras = vec![d(&[2, 4])];
    assert!(compile_op_with(jit, &epi.spec(), &fine()).is_err(), "an epilogue operand of another shape");
}

#[test]
fn element_wise_kernels_run_in_place() {
    let jit = &jits()[0];
    let mut g = Gen::new(14);
    for kernel in [Kernel::Act(Act::Tanh), Kernel::Scale { factor: 3.0 }, Kernel::Act(Act::Relu)] {
        let x = g.dense(&[3, 13], -2.0, 2.0);
        let want = reference(&Case::new(kernel.clone(), vec![x.clone()], vec![x.clone()])).remove(0);
        let k = compile_op_with(jit, &Case::new(kernel.clone(), vec![x.clone()], vec![x.clone()]).spec(), &fine())
            .expect("compile");
        let mut buf = x.data.clone();
        let p = buf.as_mut_ptr();
        for part in 0..k.parts() {
            // SAFETY: input and output are the same 39 floats; element-wise
            // kernels read each element before writing it.
            unsafe { k.run(&[p, p], part, &mut [], std::ptr::null_mut()) };
        }
        assert!(error(&buf, &want) <= 4e-7, "{kernel:?} in place");
    }
}
