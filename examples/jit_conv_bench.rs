//! Throughput of the JIT convolution and dense kernels on the shapes that matter:
//! LeNet-classic's training layers at batch 64 (all three directions), LeNet-5's C3
//! with its connection table, and ResNet-50's forward convolutions at batch 1.
//!
//! `cargo run --release --example jit_conv_bench [runs] [filter]`
//!
//! For each shape: compile time, then GFLOP/s on 1 thread (all parts in turn) and on
//! 2 threads (a persistent spinning pool pulling parts from a shared counter, as a
//! runtime would), as the median of individually timed runs (at least `runs` and
//! 0.2 s worth, so runs preempted by other processes do not skew it), and as a
//! percentage of the measured f32x4 ceiling for that thread count. FLOPs count only
//! connected channel pairs (2 per multiply-add). Nothing is asserted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use netc::autodiff::Kernel;
use netc::codegen::ceiling::{compile_fma_loop, measure, CeilingConfig};
use netc::codegen::jit::Jit;
use netc::codegen::kernels::conv::{compile_conv_with, ConvOptions, Lanes};
use netc::codegen::kernels::CompiledKernel;
use netc::ir::{window_out, ConnTable, Conv, Dense, Pad2d, Window};
use netc::sched::{Operand, StepSpec};

/// One benchmarked step and how often the network uses it.
struct Shape {
    name: String,
    spec: StepSpec,
    flops: f64,
    count: usize,
}

fn conv(cin: u64, cout: u64, k: (u64, u64), s: u64, p: u64, table: Option<ConnTable>) -> Conv {
    let window = Window { kh: k.0, kw: k.1, sh: s, sw: s, pad: Pad2d::uniform(p) };
    Conv { in_c: cin, out_c: cout, window, groups: 1, bias: true, table: table.map(Arc::new) }
}

/// The three steps of a convolution on `n × cin × hw × hw`.
fn conv_steps(name: &str, c: &Conv, n: usize, hw: usize, dirs: &[usize], count: usize) -> Vec<Shape> {
    let (oh, ow) = window_out(&c.window, hw as u64, hw as u64, false).unwrap();
    let x = vec![n, c.in_c as usize, hw, hw];
    let y = vec![n, c.out_c as usize, oh as usize, ow as usize];
    let w = vec![(c.links() * c.window.kh * c.window.kw) as usize];
    let b = vec![c.out_c as usize];
    let flops = 2.0 * (n as u64 * oh * ow * c.links() * c.window.kh * c.window.kw) as f64;
    let d = Operand::dense;
    let specs = [
        (
            "fwd",
            Kernel::Conv(c.clone()),
            vec![d(x.clone()), Operand::unbatched(w.clone()), Operand::unbatched(b.clone())],
            vec![d(y.clone())],
        ),
        (
            "bwd-data",
            Kernel::ConvBackwardData(c.clone()),
            vec![d(y.clone()), Operand::unbatched(w.clone())],
            vec![d(x.clone())],
        ),
        (
            "bwd-weight",
            Kernel::ConvBackwardWeight(c.clone()),
            vec![d(y), d(x)],
            vec![Operand::unbatched(w), Operand::unbatched(b)],
        ),
    ];
    dirs.iter()
        .map(|&i| {
            let (dir, kernel, inputs, outputs) = specs[i].clone();
            let spec = StepSpec { kernel, inputs, outputs, accumulate: false, epilogue: vec![], extra: vec![] };
            Shape { name: format!("{name} {dir}"), spec, flops, count }
        })
        .collect()
}

/// The three steps of a dense layer at batch `n`.
fn dense_steps(fin: usize, fout: usize, n: usize) -> Vec<Shape> {
    let d = Dense { in_features: fin as u64, out_features: fout as u64, bias: true };
    let (x, y, w, b) = (
        Operand::dense(vec![n, fin]),
        Operand::dense(vec![n, fout]),
        Operand::unbatched(vec![fout, fin]),
        Operand::unbatched(vec![fout]),
    );
    let flops = 2.0 * (n * fin * fout) as f64;
    let specs = [
        ("fwd", Kernel::Dense(d), vec![x.clone(), w.clone(), b.clone()], vec![y.clone()]),
        ("bwd-data", Kernel::DenseBackwardData(d), vec![y.clone(), w.clone()], vec![x.clone()]),
        ("bwd-weight", Kernel::DenseBackwardWeight(d), vec![y, x], vec![w, b]),
    ];
    specs
        .into_iter()
        .map(|(dir, kernel, inputs, outputs)| {
            let spec = StepSpec { kernel, inputs, outputs, accumulate: false, epilogue: vec![], extra: vec![] };
            Shape { name: format!("dense {fin}->{fout} {dir}"), spec, flops, count: 1 }
        })
        .collect()
}

fn lenet_c3() -> ConnTable {
    let mut inputs: Vec<Vec<u32>> = (0..6u32).map(|o| (0..3).map(|k| (o + k) % 6).collect()).collect();
    inputs.extend((0..6u32).map(|o| (0..4).map(|k| (o + k) % 6).collect::<Vec<u32>>()));
    inputs.extend((0..3u32).map(|o| vec![o, o + 1, (o + 3) % 6, (o + 4) % 6]));
    inputs.push((0..6).collect());
    ConnTable { inputs }
}

/// LeNet-classic's training step at batch 64: the convolutions (conv1's data
/// gradient is not needed: the input takes no gradient) and the dense layers.
fn lenet() -> Vec<Shape> {
    let mut v = conv_steps("lenet conv1 1->6 5x5 32", &conv(1, 6, (5, 5), 1, 0, None), 64, 32, &[0, 2], 1);
    v.extend(conv_steps("lenet conv2 6->16 5x5 14", &conv(6, 16, (5, 5), 1, 0, None), 64, 14, &[0, 1, 2], 1));
    v.extend(dense_steps(400, 120, 64));
    v.extend(dense_steps(120, 84, 64));
    v.extend(dense_steps(84, 10, 64));
    v
}

/// Other LeNet layers: conv1's data gradient and LeNet-5's C3 with its table.
fn lenet_extra() -> Vec<Shape> {
    let mut v = conv_steps("lenet conv1 1->6 5x5 32", &conv(1, 6, (5, 5), 1, 0, None), 64, 32, &[1], 1);
    v.extend(conv_steps("lenet5 C3 table 5x5 14", &conv(6, 16, (5, 5), 1, 0, Some(lenet_c3())), 64, 14, &[0, 1, 2], 1));
    v
}

/// ResNet-50's distinct forward convolutions at batch 1 with their multiplicity.
fn resnet50() -> Vec<Shape> {
    let table: [(u64, u64, u64, u64, u64, usize, usize); 20] = [
        // (cin, cout, k, stride, pad, input size, count)
        (3, 64, 7, 2, 3, 224, 1),
        (64, 64, 1, 1, 0, 56, 1),
        (64, 64, 3, 1, 1, 56, 3),
        (64, 256, 1, 1, 0, 56, 4),
        (256, 64, 1, 1, 0, 56, 2),
        (256, 128, 1, 1, 0, 56, 1),
        (128, 128, 3, 2, 1, 56, 1),
        (128, 512, 1, 1, 0, 28, 4),
        (256, 512, 1, 2, 0, 56, 1),
        (512, 128, 1, 1, 0, 28, 3),
        (128, 128, 3, 1, 1, 28, 3),
        (512, 256, 1, 1, 0, 28, 1),
        (256, 256, 3, 2, 1, 28, 1),
        (256, 1024, 1, 1, 0, 14, 6),
        (512, 1024, 1, 2, 0, 28, 1),
        (1024, 256, 1, 1, 0, 14, 5),
        (256, 256, 3, 1, 1, 14, 5),
        (1024, 512, 1, 1, 0, 14, 1),
        (512, 512, 3, 2, 1, 14, 1),
        (512, 512, 3, 1, 1, 7, 2),
    ];
    let mut v: Vec<Shape> = table
        .iter()
        .flat_map(|&(cin, cout, k, s, p, hw, count)| {
            let name = format!("resnet {cin}->{cout} {k}x{k}/{s} {hw}");
            conv_steps(&name, &conv(cin, cout, (k, k), s, p, None), 1, hw, &[0], count)
        })
        .collect();
    v.extend(conv_steps("resnet 1024->2048 1x1/2 14", &conv(1024, 2048, (1, 1), 2, 0, None), 1, 14, &[0], 1));
    v.extend(conv_steps("resnet 512->2048 1x1/1 7", &conv(512, 2048, (1, 1), 1, 0, None), 1, 7, &[0], 3));
    v.extend(conv_steps("resnet 2048->512 1x1/1 7", &conv(2048, 512, (1, 1), 1, 0, None), 1, 7, &[0], 2));
    v
}

/// A few ResNet-50 layers in training at batch 8, every direction.
fn resnet_training() -> Vec<Shape> {
    let layers: [(u64, u64, u64, u64, u64, usize); 6] = [
        (3, 64, 7, 2, 3, 224),
        (64, 64, 3, 1, 1, 56),
        (256, 64, 1, 1, 0, 56),
        (128, 128, 3, 2, 1, 56),
        (256, 512, 1, 2, 0, 56),
        (512, 512, 3, 1, 1, 7),
    ];
    layers
        .iter()
        .flat_map(|&(cin, cout, k, s, p, hw)| {
            let name = format!("train {cin}->{cout} {k}x{k}/{s} {hw}");
            let dirs: &[usize] = if cin == 3 { &[0, 2] } else { &[0, 1, 2] };
            conv_steps(&name, &conv(cin, cout, (k, k), s, p, None), 8, hw, dirs, 1)
        })
        .collect()
}

/// A persistent pool of helper threads; the caller is one more worker. Helpers spin
/// briefly for the next job (a runtime's steady state) and then park, so they do
/// not steal a core from single-thread measurements. A run ends when all its parts
/// are finished: a helper that found no part is never waited for.
struct Pool {
    job: Arc<Job>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Job {
    epoch: AtomicUsize,
    task: std::sync::Mutex<Option<Task>>,
    wake: std::sync::Condvar,
}

/// One run: the kernel, its operands, and its own part counters (a late helper
/// only ever touches the counters of the task it picked up).
#[derive(Clone)]
struct Task {
    kernel: Arc<dyn CompiledKernel>,
    /// The operands, then the workspace.
    ptrs: Vec<usize>,
    /// The parts of the phase this task runs.
    parts: std::ops::Range<usize>,
    next: Arc<AtomicUsize>,
    finished: Arc<AtomicUsize>,
}

impl Task {
    fn new(kernel: Arc<dyn CompiledKernel>, ptrs: Vec<usize>) -> Task {
        Task { kernel, ptrs, parts: 0..0, next: Arc::default(), finished: Arc::default() }
    }

    /// A task running phase `phase`.
    fn fresh(&self, phase: usize) -> Task {
        let parts = self.kernel.phase_parts(phase);
        let next = Arc::new(AtomicUsize::new(parts.start));
        Task { kernel: Arc::clone(&self.kernel), ptrs: self.ptrs.clone(), parts, next, finished: Arc::default() }
    }
}

/// Spins before a helper parks.
const SPINS: usize = 1 << 18;

impl Pool {
    fn new(helpers: usize) -> Pool {
        let job = Arc::new(Job::default());
        let handles = (0..helpers)
            .map(|_| {
                let job = Arc::clone(&job);
                std::thread::spawn(move || helper(&job))
            })
            .collect();
        Pool { job, handles }
    }

    /// Runs every part of the task on the caller and the helpers, phase by phase.
    fn run(&self, task: &Task, scratch: &mut Vec<f32>) {
        for phase in 0..task.kernel.phases() {
            let task = task.fresh(phase);
            {
                // Publish under the lock so a helper about to park cannot miss it.
                let mut guard = self.job.task.lock().unwrap();
                *guard = Some(task.clone());
                self.job.epoch.fetch_add(1, Ordering::AcqRel);
                self.job.wake.notify_all();
            }
            work(&task, scratch);
            while task.finished.load(Ordering::Acquire) < task.parts.len() {
                std::hint::spin_loop();
            }
        }
    }
}

fn helper(job: &Job) {
    let (mut seen, mut scratch) = (0, Vec::new());
    loop {
        let mut spins = 0;
        let mut e = job.epoch.load(Ordering::Acquire);
        while e == seen && spins < SPINS {
            std::hint::spin_loop();
            spins += 1;
            e = job.epoch.load(Ordering::Acquire);
        }
        if e == seen {
            let mut guard = job.task.lock().unwrap();
            while job.epoch.load(Ordering::Acquire) == seen {
                guard = job.wake.wait(guard).unwrap();
            }
            drop(guard);
            e = job.epoch.load(Ordering::Acquire);
        }
        if e == usize::MAX {
            return;
        }
        seen = e;
        let task = job.task.lock().unwrap().clone();
        if let Some(t) = task {
            work(&t, &mut scratch);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let guard = self.job.task.lock().unwrap();
        self.job.epoch.store(usize::MAX, Ordering::Release);
        self.job.wake.notify_all();
        drop(guard);
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn work(t: &Task, scratch: &mut Vec<f32>) {
    scratch.resize(t.kernel.scratch_len(), 0.0);
    let mut ptrs: Vec<*mut f32> = t.ptrs.iter().map(|&p| p as *mut f32).collect();
    let ws = ptrs.pop().unwrap_or(std::ptr::null_mut());
    loop {
        let p = t.next.fetch_add(1, Ordering::AcqRel);
        if p >= t.parts.end {
            return;
        }
        // SAFETY: the buffers were allocated from the kernel's spec and outlive the run.
        unsafe { t.kernel.run(&ptrs, p, scratch, ws) };
        t.finished.fetch_add(1, Ordering::AcqRel);
    }
}

/// Buffers for every operand of `spec`, filled with small values.
fn buffers(spec: &StepSpec) -> Vec<Vec<f32>> {
    let all = spec.inputs.iter().chain(&spec.outputs).chain(&spec.extra);
    all.map(|o| {
        let total: usize = o.dims.iter().product();
        let sample: usize = o.dims.iter().skip(1).product();
        // Parameters have batch_stride = total; batched tensors span (n-1)·stride + sample.
        let len = if o.batch_stride >= total { total } else { (o.dims[0] - 1) * o.batch_stride + sample };
        (0..len).map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3).collect()
    })
    .collect()
}

/// Median seconds of one run of `f`: every run is timed on its own (so a run
/// preempted by another process is an outlier, not an average), for at least
/// `runs` runs and 0.2 s.
fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut v = Vec::new();
    while v.len() < runs || start.elapsed().as_secs_f64() < 0.2 {
        let t = Instant::now();
        f();
        v.push(t.elapsed().as_secs_f64());
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Overrides for exploring alternatives: `JIT_CONV_LANES=spatial|batch`,
/// `JIT_CONV_PACKED=0|1`, `JIT_CONV_TILE=6x2`.
fn options_from_env() -> ConvOptions {
    let mut o = ConvOptions::default();
    match std::env::var("JIT_CONV_LANES").as_deref() {
        Ok("spatial") => o.lanes = Some(Lanes::Spatial),
        Ok("batch") => o.lanes = Some(Lanes::Batch),
        _ => {}
    }
    if let Ok(p) = std::env::var("JIT_CONV_PACKED") {
        o.packed = Some(p == "1");
    }
    if let Ok(t) = std::env::var("JIT_CONV_TILE") {
        let v: Vec<usize> = t.split('x').filter_map(|x| x.parse().ok()).collect();
        if let [r, c] = v[..] {
            o.tile = Some((r, c));
        }
    }
    o
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(7);
    let filter = args.get(2).cloned().unwrap_or_default();
    let jit = Jit::native().expect("JIT");
    let cfg = CeilingConfig::default();
    let lp = compile_fma_loop(&jit, &cfg).expect("ceiling loop");
    let (c1, c2) = (measure(&lp, 1, &cfg).unwrap(), measure(&lp, 2, &cfg).unwrap());
    println!("f32x4 ceiling: 1 thread {c1:.1} GFLOP/s, 2 threads {c2:.1} GFLOP/s");
    let pool = Pool::new(1);
    let opts = options_from_env();
    let groups = [
        ("LeNet-classic training step (batch 64)", lenet()),
        ("Other LeNet layers (batch 64)", lenet_extra()),
        ("ResNet-50 forward (batch 1)", resnet50()),
        ("ResNet-50 layers in training (batch 8)", resnet_training()),
    ];
    for (group, shapes) in groups {
        println!("\n{group}");
        println!("{:<40} {:>8} {:>15} {:>15}  algorithm", "shape", "compile", "1 thread", "2 threads");
        let (mut flops, mut t1s, mut t2s, mut compile) = (0.0, 0.0, 0.0, 0.0);
        for s in shapes.into_iter().filter(|s| s.name.contains(&filter)) {
            let t = Instant::now();
            let k = compile_conv_with(&jit, &s.spec, &opts).expect("compile");
            let ms = t.elapsed().as_secs_f64() * 1e3;
            compile += ms;
            let mut bufs = buffers(&s.spec);
            // The operands and, last, the workspace.
            bufs.push(vec![0f32; k.workspace_len()]);
            let task = Task::new(Arc::clone(&k), bufs.iter_mut().map(|b| b.as_mut_ptr() as usize).collect());
            let mut scratch = vec![0f32; k.scratch_len()];
            let t1 = time(runs, || {
                let mut ptrs: Vec<*mut f32> = task.ptrs.iter().map(|&p| p as *mut f32).collect();
                let ws = ptrs.pop().unwrap_or(std::ptr::null_mut());
                for p in 0..k.parts() {
                    // SAFETY: buffers sized from the spec; parts in order keep the phases.
                    unsafe { k.run(&ptrs, p, &mut scratch, ws) };
                }
            });
            let t2 = time(runs, || pool.run(&task, &mut scratch));
            let (g1, g2) = (s.flops / t1 / 1e9, s.flops / t2 / 1e9);
            println!(
                "{:<40} {ms:>6.1}ms {g1:>6.1} ({:>3.0}%) {g2:>6.1} ({:>3.0}%)  {} [{} parts]",
                s.name,
                100.0 * g1 / c1,
                100.0 * g2 / c2,
                k.describe(),
                k.parts()
            );
            flops += s.flops * s.count as f64;
            t1s += t1 * s.count as f64;
            t2s += t2 * s.count as f64;
        }
        if group.starts_with("LeNet-classic") && t1s > 0.0 {
            println!(
                "  step (these kernels): 1 thread {:.3} ms = {:.0} images/s, 2 threads {:.3} ms = {:.0} images/s",
                t1s * 1e3,
                64.0 / t1s,
                t2s * 1e3,
                64.0 / t2s
            );
        }
        if t1s > 0.0 {
            let (g1, g2) = (flops / t1s / 1e9, flops / t2s / 1e9);
            println!(
                "{:<40} {compile:>6.0}ms {g1:>6.1} ({:>3.0}%) {g2:>6.1} ({:>3.0}%)  (weighted by use count; compile: sum)",
                "total",
                100.0 * g1 / c1,
                100.0 * g2 / c2
            );
        }
    }
}
