//! JIT convolution and dense kernels against the reference executor (f64): random
//! shapes (odd sizes, strides 1–3, asymmetric paddings and kernels, groups,
//! depthwise, connection tables, bias on/off, batch 1 and odd batches), accumulate,
//! every epilogue, operands that are slices of bigger buffers, FMA forced off, and
//! parts run shuffled or on two threads (bit-identical to sequential).
//! The tolerance is stated in `jit_conv_support`.

mod jit_conv_support;

use std::sync::Arc;

use jit_conv_support::{check, check_with, random_act, Case, Order, Tensor};
use netc::autodiff::Kernel;
use netc::codegen::jit::{Jit, JitOptions};
use netc::codegen::kernels::conv::{ConvOptions, Lanes};
use netc::data::Rng;
use netc::ir::{window_out, ConnTable, Conv, Dense, Pad2d, Window};
use netc::sched::Fused;

fn jit() -> Jit {
    Jit::native().unwrap()
}

/// A random convolution layer and its input dims.
fn random_conv(rng: &mut Rng, batch: usize) -> (Conv, Vec<usize>) {
    let r = |rng: &mut Rng, lo: u64, hi: u64| lo + rng.below(hi - lo + 1);
    let groups = [1, 1, 2, 3, 0][rng.below(5) as usize];
    let (cin_g, cout_g) = (r(rng, 1, 4), r(rng, 1, 5));
    let (in_c, out_c, groups) = match groups {
        0 => {
            let c = r(rng, 1, 5);
            (c, c * r(rng, 1, 2), c)
        }
        g => (g * cin_g, g * cout_g, g),
    };
    let (kh, kw) = match rng.below(4) {
        0 => (1, r(rng, 2, 7)),
        1 => (r(rng, 2, 7), 1),
        _ => (r(rng, 1, 5), r(rng, 1, 5)),
    };
    let pad = Pad2d { top: r(rng, 0, 2), bottom: r(rng, 0, 2), left: r(rng, 0, 2), right: r(rng, 0, 2) };
    let (sh, sw) = (r(rng, 1, 3), r(rng, 1, 3));
    let h = r(rng, (kh.saturating_sub(pad.top + pad.bottom)).max(1), 13);
    let w = r(rng, (kw.saturating_sub(pad.left + pad.right)).max(1), 13);
    let window = Window { kh, kw, sh, sw, pad };
    let conv = Conv { in_c, out_c, window, groups, bias: rng.below(2) == 0, table: None };
    (conv, vec![batch, in_c as usize, h as usize, w as usize])
}

fn out_dims(c: &Conv, x: &[usize]) -> Vec<usize> {
    let (oh, ow) = window_out(&c.window, x[2] as u64, x[3] as u64, false).unwrap();
    vec![x[0], c.out_c as usize, oh as usize, ow as usize]
}

fn random_epilogue(rng: &mut Rng, forward: bool) -> (Vec<Fused>, Vec<usize>) {
    let act = random_act(rng);
    match (forward, rng.below(4)) {
        (true, 0) => (vec![Fused::Act(act)], vec![]),
        (true, 1) => (vec![Fused::Scale(0.5), Fused::AddOperand(0), Fused::Act(act)], vec![rng.below(3) as usize]),
        (false, 0 | 1) => (vec![Fused::MulActGrad(act, 0)], vec![rng.below(3) as usize]),
        _ => (vec![], vec![]),
    }
}

fn forward_case(rng: &mut Rng, conv: Conv, x: Vec<usize>) -> Case {
    let y = out_dims(&conv, &x);
    let wlen = conv.links() as usize * (conv.window.kh * conv.window.kw) as usize;
    let mut inputs = vec![Tensor::batched(&x, rng.below(3) as usize * 5), Tensor::param(&[wlen])];
    if conv.bias {
        inputs.push(Tensor::param(&[conv.out_c as usize]));
    }
    let (epilogue, extra_gaps) = random_epilogue(rng, true);
    Case {
        kernel: Kernel::Conv(conv),
        inputs,
        outputs: vec![Tensor::batched(&y, rng.below(3) as usize * 7)],
        epilogue,
        extra_gaps,
        accumulate: rng.below(3) == 0,
    }
}

fn backward_data_case(rng: &mut Rng, conv: Conv, x: Vec<usize>) -> Case {
    let y = out_dims(&conv, &x);
    let wlen = conv.links() as usize * (conv.window.kh * conv.window.kw) as usize;
    let (epilogue, extra_gaps) = random_epilogue(rng, false);
    Case {
        kernel: Kernel::ConvBackwardData(conv),
        inputs: vec![Tensor::batched(&y, rng.below(3) as usize * 3), Tensor::param(&[wlen])],
        outputs: vec![Tensor::batched(&x, rng.below(3) as usize * 4)],
        epilogue,
        extra_gaps,
        accumulate: rng.below(3) == 0,
    }
}

fn backward_weight_case(rng: &mut Rng, conv: Conv, x: Vec<usize>) -> Case {
    let y = out_dims(&conv, &x);
    let wlen = conv.links() as usize * (conv.window.kh * conv.window.kw) as usize;
    let mut outputs = vec![Tensor::param(&[wlen])];
    if conv.bias {
        outputs.push(Tensor::param(&[conv.out_c as usize]));
    }
    Case {
        inputs: vec![Tensor::batched(&y, rng.below(3) as usize * 3), Tensor::batched(&x, rng.below(3) as usize * 2)],
        kernel: Kernel::ConvBackwardWeight(conv),
        outputs,
        epilogue: vec![],
        extra_gaps: vec![],
        accumulate: rng.below(3) == 0,
    }
}

/// Every direction of one layer.
fn all_cases(rng: &mut Rng, conv: Conv, x: Vec<usize>) -> [Case; 3] {
    [
        forward_case(rng, conv.clone(), x.clone()),
        backward_data_case(rng, conv.clone(), x.clone()),
        backward_weight_case(rng, conv, x),
    ]
}

#[test]
fn backward_random_shapes() {
    let jit = jit();
    let mut rng = Rng::new(21);
    for i in 0..60 {
        let batch = [1, 2, 3, 5, 6][rng.below(5) as usize];
        let (conv, x) = random_conv(&mut rng, batch);
        let [_, bd, bw] = all_cases(&mut rng, conv, x);
        check(&jit, &bd, 300 + i, Order::Sequential);
        check(&jit, &bw, 400 + i, Order::Sequential);
    }
}

#[test]
fn forward_random_shapes() {
    let jit = jit();
    let mut rng = Rng::new(11);
    for i in 0..60 {
        let batch = [1, 2, 3, 5, 6][rng.below(5) as usize];
        let (conv, x) = random_conv(&mut rng, batch);
        let case = forward_case(&mut rng, conv, x);
        check(&jit, &case, i, Order::Sequential);
    }
}

#[test]
fn forward_tables() {
    let jit = jit();
    let mut rng = Rng::new(12);
    let c3 = lenet_c3_table();
    for i in 0..8 {
        let outs = 1 + rng.below(9) as usize;
        let table = if i == 0 { c3.clone() } else { random_table(&mut rng, 6, outs) };
        let out_c = table.inputs.len() as u64;
        let window = Window { kh: 5, kw: 5, sh: 1, sw: 1, pad: Pad2d::uniform(i % 2) };
        let conv = Conv { in_c: 6, out_c, window, groups: 1, bias: i % 3 == 0, table: Some(Arc::new(table)) };
        for case in all_cases(&mut rng, conv, vec![1 + (i as usize % 5), 6, 14, 14]) {
            check(&jit, &case, 100 + i, Order::Sequential);
        }
    }
}

fn layer(cin: u64, cout: u64, k: (u64, u64), s: u64, pad: Pad2d, bias: bool) -> Conv {
    Conv {
        in_c: cin,
        out_c: cout,
        window: Window { kh: k.0, kw: k.1, sh: s, sw: s, pad },
        groups: 1,
        bias,
        table: None,
    }
}

#[test]
fn network_shapes() {
    let jit = jit();
    let mut rng = Rng::new(15);
    let p = Pad2d::uniform;
    let layers = [
        (layer(1, 6, (5, 5), 1, p(0), true), vec![9, 1, 32, 32]),
        (layer(6, 16, (5, 5), 1, p(0), true), vec![9, 6, 14, 14]),
        (layer(3, 16, (7, 7), 2, p(3), false), vec![2, 3, 30, 30]),
        (layer(24, 20, (3, 3), 2, p(1), false), vec![1, 24, 15, 15]),
        (layer(24, 40, (1, 1), 2, p(0), false), vec![3, 24, 14, 14]),
        (layer(40, 24, (1, 1), 1, p(0), false), vec![1, 40, 7, 7]),
        (layer(16, 16, (3, 3), 1, p(1), true), vec![5, 16, 7, 7]),
    ];
    for (i, (conv, x)) in layers.into_iter().enumerate() {
        for case in all_cases(&mut rng, conv, x) {
            check(&jit, &case, 800 + i as u64, Order::Threads(2));
        }
    }
}

#[test]
fn pointwise_kernels_on_one_column_maps_and_padded_edges() {
    // Found by the generative engine test: the weight gradient of a 1×1 stride-2
    // convolution on a 2×3×1 map (one output column looked like a flattened map).
    // Padding only at the bottom or right makes output pixels read nothing.
    let jit = jit();
    let mut rng = Rng::new(16);
    let pad = |b, r| Pad2d { top: 0, bottom: b, left: 0, right: r };
    let shapes = [
        (3, 1, (1, 1), 2, pad(0, 0)),
        (1, 3, (1, 1), 2, pad(0, 0)),
        (5, 1, (3, 1), 2, pad(0, 0)),
        (4, 1, (1, 1), 3, pad(0, 0)),
        (3, 2, (1, 1), 2, pad(0, 0)),
        (3, 3, (1, 1), 1, pad(1, 0)),
        (3, 3, (1, 1), 1, pad(0, 2)),
        (4, 5, (1, 1), 2, pad(1, 1)),
    ];
    for (i, (h, w, k, s, pad)) in shapes.into_iter().enumerate() {
        for batch in [1, 3] {
            let conv = layer(2, 9, k, s, pad, true);
            for case in all_cases(&mut rng, conv, vec![batch, 2, h, w]) {
                check(&jit, &case, 850 + i as u64, Order::Sequential);
            }
        }
    }
}

#[test]
fn unpadded_strided_sources_read_in_place() {
    let jit = jit();
    let mut rng = Rng::new(16);
    let opts = ConvOptions { lanes: Some(Lanes::Spatial), min_part_flops: 1.0, ..ConvOptions::default() };
    for i in 0..12 {
        let (k, s) = ([(1, 2), (3, 2), (2, 2), (1, 3), (4, 3), (3, 1)])[i % 6];
        let h = 5 + rng.below(9);
        let conv = layer(1 + rng.below(5), 1 + rng.below(9), (k, k + rng.below(2)), s, Pad2d::default(), i % 2 == 0);
        let x = vec![1 + rng.below(3) as usize, conv.in_c as usize, h as usize, h as usize + rng.below(4) as usize];
        for case in all_cases(&mut rng, conv, x) {
            check_with(&jit, &case, 900 + i as u64, Order::Sequential, &opts);
        }
    }
}

#[test]
fn strided_pointwise_convolutions_read_their_subsample() {
    // A 1×1 convolution with strides that reads no padding runs as the pointwise
    // convolution of its subsampled map. Unequal strides, odd maps, and padding at
    // the bottom and right that no output reads (9 rows, stride 2, pad 1: rows
    // 0, 2, …, 8) all take that path; the result must still match the reference.
    let jit = jit();
    let mut rng = Rng::new(17);
    let pad = |b| Pad2d { top: 0, bottom: b, left: 0, right: b };
    let shapes = [(2, 2, 14, 14, 0), (2, 3, 9, 11, 0), (3, 1, 10, 7, 0), (2, 2, 7, 7, 0), (2, 2, 9, 9, 1)];
    for (i, (sh, sw, h, w, p)) in shapes.into_iter().enumerate() {
        for batch in [1, 3] {
            let mut conv = layer(5, 7, (1, 1), 1, pad(p), i % 2 == 0);
            (conv.window.sh, conv.window.sw) = (sh, sw);
            let case = forward_case(&mut rng, conv, vec![batch, 5, h, w]);
            let (_, desc) = check(&jit, &case, 950 + i as u64, Order::Threads(2));
            assert!(desc.contains("subsampled"), "stride {sh}x{sw} on {h}x{w}: {desc}");
        }
    }
}

/// LeNet-5's C3: 16 maps reading 3, 4, 4 or all 6 of S2's maps (60 links).
fn lenet_c3_table() -> ConnTable {
    let mut inputs = Vec::new();
    for o in 0..6u32 {
        inputs.push((0..3).map(|k| (o + k) % 6).collect());
    }
    for o in 0..6u32 {
        inputs.push((0..4).map(|k| (o + k) % 6).collect());
    }
    for o in 0..3u32 {
        inputs.push(vec![o, o + 1, (o + 3) % 6, (o + 4) % 6]);
    }
    inputs.push((0..6).collect());
    ConnTable { inputs }
}

/// A ragged table: each output reads 0–`in_c` distinct inputs in random order.
fn random_table(rng: &mut Rng, in_c: u32, out_c: usize) -> ConnTable {
    let inputs = (0..out_c)
        .map(|_| {
            let mut all: Vec<u32> = (0..in_c).collect();
            rng.shuffle(&mut all);
            all.truncate(rng.below(in_c as u64 + 1) as usize);
            all
        })
        .collect();
    ConnTable { inputs }
}

/// Every forced choice of lanes and weight packing, split into many parts, with
/// `fmul` + `fadd` or `fma`.
fn forced_options() -> Vec<ConvOptions> {
    let mut all = Vec::new();
    for lanes in [Some(Lanes::Spatial), Some(Lanes::Batch)] {
        for packed in [Some(true), Some(false)] {
            // A small A-panel budget also splits the k loop into channel blocks.
            let a_block_bytes = if packed == Some(true) { 2048 } else { 1 << 20 };
            all.push(ConvOptions {
                min_part_flops: 1.0,
                max_parts: 7,
                threads: 2,
                lanes,
                packed,
                a_block_bytes,
                tile: None,
                winograd: Some(false),
                winograd_m: None,
                batch_slices: None,
                // Half the cases with fused multiply-adds (the autotuner's option).
                fused: lanes == Some(Lanes::Batch),
            });
        }
    }
    all
}

#[test]
fn weight_gradients_by_batch_slices() {
    // Small filters over batches of at least eight units (samples, or groups of four
    // with batch lanes) are summed by slices of the batch, then the slots added up:
    // against the reference, with bias, accumulation and a partial last group, in any
    // part order, and the same bits on one thread and two.
    let jit = jit();
    let mut rng = Rng::new(21);
    for i in 0..12 {
        let batch = [8, 9, 33, 37][rng.below(4) as usize];
        let (conv, x) = random_conv(&mut rng, batch);
        let table = conv.table.is_some();
        let case = &all_cases(&mut rng, conv, x)[2];
        let opts = forced_options()[(i as usize) % 4];
        let (a, desc) = check_with(&jit, case, 900 + i, Order::Shuffled(i), &opts);
        let (b, _) = check_with(&jit, case, 900 + i, Order::Threads(2), &opts);
        assert!(bits(&a) == bits(&b), "{desc}: part order changed the results");
        if desc.contains(": dot") && !table {
            let units = if desc.contains("batch-lanes") { batch.div_ceil(4) } else { batch };
            assert_eq!(desc.contains("batch-slices 8"), units >= 8, "{desc}");
        }
    }
}

#[test]
fn every_algorithm_on_random_shapes() {
    let jit = jit();
    let mut rng = Rng::new(14);
    for i in 0..24 {
        let batch = [1, 3, 4, 7][rng.below(4) as usize];
        let (conv, x) = random_conv(&mut rng, batch);
        let cases = all_cases(&mut rng, conv, x);
        let dense = dense_cases(&mut rng, batch);
        for (k, case) in cases.iter().chain(&dense).enumerate() {
            let opts = forced_options()[(i as usize + k) % 4];
            check_with(&jit, case, 700 + i, Order::Shuffled(i), &opts);
        }
    }
}

#[test]
fn parts_orders_threads_and_fma_off_agree() {
    let plain = jit();
    let nofma = Jit::new(JitOptions { allow_fma: false, ..Default::default() }).unwrap();
    let mut rng = Rng::new(13);
    for i in 0..4 {
        let (conv, x) = random_conv(&mut rng, 9);
        let cases = all_cases(&mut rng, conv, x);
        let dense = dense_cases(&mut rng, 9);
        for case in cases.iter().chain(&dense) {
            let opts = ConvOptions { min_part_flops: 1.0, ..forced_options()[i as usize] };
            let (seq, d) = check_with(&plain, case, 200 + i, Order::Sequential, &opts);
            let (shuf, _) = check_with(&plain, case, 200 + i, Order::Shuffled(i), &opts);
            let (thr, _) = check_with(&plain, case, 200 + i, Order::Threads(2), &opts);
            check_with(&nofma, case, 200 + i, Order::Threads(2), &opts);
            assert!(bits(&seq) == bits(&shuf) && bits(&seq) == bits(&thr), "{d}: part order changed the results");
        }
    }
}

fn bits(b: &[Vec<f32>]) -> Vec<Vec<u32>> {
    b.iter().map(|v| v.iter().map(|x| x.to_bits()).collect()).collect()
}

/// The three dense kernels of a random layer; x is N×F or N×C×H×W.
fn dense_cases(rng: &mut Rng, batch: usize) -> [Case; 3] {
    let (c, h, w) = (1 + rng.below(9) as usize, 1 + rng.below(3) as usize, 1 + rng.below(3) as usize);
    let fin = c * h * w;
    let fout = 1 + rng.below(30) as usize;
    let d = Dense { in_features: fin as u64, out_features: fout as u64, bias: rng.below(2) == 0 };
    let x = if rng.below(2) == 0 { vec![batch, fin] } else { vec![batch, c, h, w] };
    let y = vec![batch, fout];
    let mut fwd_in = vec![Tensor::batched(&x, rng.below(3) as usize * 3), Tensor::param(&[fout, fin])];
    if d.bias {
        fwd_in.push(Tensor::param(&[fout]));
    }
    let (fe, fx) = random_epilogue(rng, true);
    let (be, bx) = random_epilogue(rng, false);
    let mut wout = vec![Tensor::param(&[fout, fin])];
    if d.bias {
        wout.push(Tensor::param(&[fout]));
    }
    let gap = |rng: &mut Rng| rng.below(3) as usize * 2;
    [
        Case {
            kernel: Kernel::Dense(d),
            inputs: fwd_in,
            outputs: vec![Tensor::batched(&y, gap(rng))],
            epilogue: fe,
            extra_gaps: fx,
            accumulate: rng.below(3) == 0,
        },
        Case {
            kernel: Kernel::DenseBackwardData(d),
            inputs: vec![Tensor::batched(&y, gap(rng)), Tensor::param(&[fout, fin])],
            outputs: vec![Tensor::batched(&x, gap(rng))],
            epilogue: be,
            extra_gaps: bx,
            accumulate: rng.below(3) == 0,
        },
        Case {
            kernel: Kernel::DenseBackwardWeight(d),
            inputs: vec![Tensor::batched(&y, gap(rng)), Tensor::batched(&x, gap(rng))],
            outputs: wout,
            epilogue: vec![],
            extra_gaps: vec![],
            accumulate: rng.below(3) == 0,
        },
    ]
}

#[test]
fn dense_random_shapes() {
    let jit = jit();
    let mut rng = Rng::new(31);
    for i in 0..40 {
        let batch = [1, 2, 3, 5, 8, 13][rng.below(6) as usize];
        for (k, case) in dense_cases(&mut rng, batch).iter().enumerate() {
            check(&jit, case, 500 + 3 * i + k as u64, Order::Sequential);
        }
    }
}
