//! Rough single-thread throughput of the JIT op kernels: each kernel runs all
//! its parts in sequence, best of several repetitions; GB/s counts the bytes
//! each element must read and write once.
//!
//! `cargo run --release --example jit_ops_bench`

use std::time::Instant;

use netc::autodiff::Kernel;
use netc::codegen::jit::Jit;
use netc::codegen::kernels::ops::{compile_op, compile_optimizer};
use netc::ir::{Act, BatchNorm, Pad2d, Pool, PoolKind, Window};
use netc::sched::{Fused, Operand, StepSpec};
use netc::train::OptimizerKind;

/// Times `spec` on buffers of its operands' sizes; `traffic` is bytes moved per run.
fn bench(jit: &Jit, name: &str, spec: StepSpec, traffic: usize) {
    let k = compile_op(jit, &spec).expect("compile");
    let ops: Vec<&Operand> = spec.inputs.iter().chain(&spec.outputs).chain(&spec.extra).collect();
    let mut bufs: Vec<Vec<f32>> = ops
        .iter()
        .map(|o| {
            let len = if o.dims.len() > 1 { o.dims[0] * o.batch_stride } else { o.dims.iter().product() };
            (0..len).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0 + 1e-3).collect()
        })
        .collect();
    let ptrs: Vec<*mut f32> = bufs.iter_mut().map(|b| b.as_mut_ptr()).collect();
    let mut scratch = vec![0.0f32; k.scratch_len()];
    let mut best = f64::INFINITY;
    for _ in 0..15 {
        let t = Instant::now();
        for p in 0..k.parts() {
            // SAFETY: every buffer has its operand's size.
            unsafe { k.run(&ptrs, p, &mut scratch, std::ptr::null_mut()) };
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let elems: usize = spec.outputs[0].dims.iter().product();
    println!(
        "{name:<34} {:>8.1} µs {:>7.2} GB/s {:>6.3} ns/elem   ({})",
        best * 1e6,
        traffic as f64 / best / 1e9,
        best * 1e9 / elems as f64,
        k.describe()
    );
}

fn spec(kernel: Kernel, inputs: Vec<Vec<usize>>, outputs: Vec<Vec<usize>>) -> StepSpec {
    let op = |d: Vec<usize>| if d.len() > 1 { Operand::dense(d) } else { Operand::unbatched(d) };
    StepSpec {
        kernel,
        inputs: inputs.into_iter().map(op).collect(),
        outputs: outputs.into_iter().map(op).collect(),
        accumulate: false,
        epilogue: Vec::new(),
        extra: Vec::new(),
    }
}

fn main() {
    let jit = Jit::native().expect("jit");
    for (label, n) in [("L2", 64 * 1024), ("DRAM", 8 * 1024 * 1024)] {
        let d = vec![1, n];
        let b = 4 * n;
        println!("-- element-wise, {n} floats ({label})");
        bench(&jit, "relu", spec(Kernel::Act(Act::Relu), vec![d.clone()], vec![d.clone()]), 2 * b);
        bench(
            &jit,
            "relu backward",
            spec(Kernel::ActBackward(Act::Relu), vec![d.clone(), d.clone()], vec![d.clone()]),
            3 * b,
        );
        bench(&jit, "tanh", spec(Kernel::Act(Act::Tanh), vec![d.clone()], vec![d.clone()]), 2 * b);
        bench(&jit, "sigmoid", spec(Kernel::Act(Act::Sigmoid), vec![d.clone()], vec![d.clone()]), 2 * b);
        bench(&jit, "add", spec(Kernel::Add, vec![d.clone(), d.clone()], vec![d.clone()]), 3 * b);
        let mut res = spec(Kernel::Add, vec![d.clone(), d.clone()], vec![d.clone()]);
        res.epilogue = vec![Fused::Act(Act::Relu)];
        bench(&jit, "add + relu (fused)", res, 3 * b);
        let mut acc = spec(Kernel::Scale { factor: 0.5 }, vec![d.clone()], vec![d.clone()]);
        acc.accumulate = true;
        bench(&jit, "scale, accumulate", acc, 3 * b);
    }
    println!("-- maps 32×64×56×56");
    let x = vec![32, 64, 56, 56];
    let b = 4 * x.iter().product::<usize>();
    let bn = BatchNorm { channels: 64, eps: 1e-5, momentum: 0.1 };
    let c = vec![64];
    let ins = vec![x.clone(), c.clone(), c.clone(), c.clone(), c.clone()];
    bench(&jit, "bn eval", spec(Kernel::BatchNormEval(bn), ins, vec![x.clone()]), 2 * b);
    let outs = vec![x.clone(), c.clone(), c.clone(), c.clone(), c.clone()];
    bench(&jit, "bn train", spec(Kernel::BatchNormTrain(bn), vec![x.clone(), c.clone(), c.clone()], outs), 4 * b);
    let ins = vec![x.clone(), x.clone(), c.clone(), c.clone(), c.clone()];
    bench(&jit, "bn backward", spec(Kernel::BatchNormBackward(bn), ins, vec![x.clone(), c.clone(), c.clone()]), 5 * b);
    let y = vec![32, 64, 28, 28];
    for (name, win) in [
        ("maxpool 2x2 s2", Window { kh: 2, kw: 2, sh: 2, sw: 2, pad: Pad2d::default() }),
        ("maxpool 3x3 s2 p1", Window { kh: 3, kw: 3, sh: 2, sw: 2, pad: Pad2d::uniform(1) }),
    ] {
        let p = Pool { kind: PoolKind::Max, window: win, ceil: false, count_pad: true };
        bench(&jit, name, spec(Kernel::Pool(p), vec![x.clone()], vec![y.clone()]), b + b / 4);
        let ins = vec![x.clone(), y.clone(), y.clone()];
        bench(&jit, &format!("{name} backward"), spec(Kernel::PoolBackward(p), ins, vec![x.clone()]), 2 * b + b / 4);
    }
    println!("-- rows 256×1000");
    let r = vec![256, 1000];
    bench(&jit, "softmax", spec(Kernel::Softmax, vec![r.clone()], vec![r.clone()]), 2 * 4 * 256_000);
    println!("-- optimizers, 4M parameters");
    let n = 4 * 1024 * 1024;
    let (mut w, g, mut m, mut v) = (vec![0.5f32; n], vec![0.1f32; n], vec![0.0f32; n], vec![0.0f32; n]);
    for (kind, streams) in [(OptimizerKind::Sgd, 3), (OptimizerKind::Momentum, 5), (OptimizerKind::Adam, 7)] {
        let k = compile_optimizer(&jit, kind.rule(), n).expect("compile");
        let mut best = f64::INFINITY;
        for t in 1..=10 {
            let start = Instant::now();
            for p in 0..k.parts() {
                // SAFETY: all four buffers hold n floats.
                unsafe { k.run(w.as_mut_ptr(), g.as_ptr(), m.as_mut_ptr(), v.as_mut_ptr(), 1e-3, 1e-4, t, p) };
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        let gbs = (streams * 4 * n) as f64 / best / 1e9;
        println!("{:<34} {:>8.1} µs {gbs:>7.2} GB/s {:>6.3} ns/elem", kind.name(), best * 1e6, best * 1e9 / n as f64);
    }
}
