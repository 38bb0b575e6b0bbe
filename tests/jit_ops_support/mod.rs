//! Harness of the JIT op-kernel tests: a [`Case`] (kernel, operands with
//! optional batch strides, accumulation, epilogue) run through the
//! reference executor and through compiled kernels in several schedules.
//!
//! The reference side computes the kernel into fresh outputs, applies the
//! epilogue with the reference's own `Act`, `Scale`, `Add` and
//! `ActBackward` kernels, then adds the old contents when accumulating.
//! Errors are max|got − want| / max(max|want|, 1e-6) per output tensor: one
//! relative error on the tensor's scale.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use netc::autodiff::Kernel;
use netc::codegen::jit::{Jit, JitOptions};
use netc::codegen::kernels::ops::{compile_op_with, OpOptions};
use netc::codegen::kernels::CompiledKernel;
use netc::data::Rng;
use netc::runtime::reference::{execute, In, KernelCtx, Out};
use netc::sched::{Fused, Operand, StepSpec};

/// Fills the gaps between strided samples; must survive every kernel.
pub const SENTINEL: f32 = -7777.25;

/// The JITs the tests use: native (FMA if present) and FMA forced off.
pub fn jits() -> &'static [Jit; 2] {
    static JITS: OnceLock<[Jit; 2]> = OnceLock::new();
    JITS.get_or_init(|| {
        let make = |allow_fma| Jit::new(JitOptions { allow_fma, ..Default::default() }).expect("jit");
        [make(true), make(false)]
    })
}

/// One operand: dense data plus where it lives.
#[derive(Debug, Clone)]
pub struct Buf {
    pub dims: Vec<usize>,
    pub data: Vec<f32>,
    /// Elements between samples in memory (= the sample size when dense).
    pub stride: usize,
    pub batched: bool,
}

impl Buf {
    /// A contiguous batched tensor.
    pub fn dense(dims: &[usize], data: Vec<f32>) -> Buf {
        assert_eq!(data.len(), dims.iter().product::<usize>());
        Buf { dims: dims.to_vec(), stride: dims[1..].iter().product(), data, batched: true }
    }

    /// A parameter-like tensor without a batch dimension.
    pub fn param(dims: &[usize], data: Vec<f32>) -> Buf {
        assert_eq!(data.len(), dims.iter().product::<usize>());
        Buf { dims: dims.to_vec(), stride: data.len(), data, batched: false }
    }

    /// The same tensor stored with `extra` more elements between samples.
    pub fn padded(mut self, extra: usize) -> Buf {
        assert!(self.batched);
        self.stride += extra;
        self
    }

    fn sample(&self) -> usize {
        if self.batched {
            self.dims[1..].iter().product()
        } else {
            self.data.len()
        }
    }

    fn operand(&self) -> Operand {
        Operand { dims: self.dims.clone(), batch_stride: self.stride, batched: self.batched }
    }

    /// Memory image: samples at `stride` apart, gaps holding [`SENTINEL`].
    fn image(&self) -> Vec<f32> {
        if !self.batched {
            return self.data.clone();
        }
        let (n, s) = (self.dims[0], self.sample());
        let mut mem = vec![SENTINEL; n * self.stride];
        for i in 0..n {
            mem[i * self.stride..i * self.stride + s].copy_from_slice(&self.data[i * s..(i + 1) * s]);
        }
        mem
    }

    /// Dense data back from a memory image; panics if a gap was written.
    fn read(&self, mem: &[f32], what: &str) -> Vec<f32> {
        if !self.batched {
            return mem.to_vec();
        }
        let (n, s) = (self.dims[0], self.sample());
        let mut out = Vec::with_capacity(n * s);
        for i in 0..n {
            out.extend_from_slice(&mem[i * self.stride..i * self.stride + s]);
            let gap = &mem[i * self.stride + s..(i + 1) * self.stride];
            assert!(gap.iter().all(|g| g.to_bits() == SENTINEL.to_bits()), "{what}: wrote between samples");
        }
        out
    }
}

/// A kernel invocation to test.
#[derive(Debug, Clone)]
pub struct Case {
    pub kernel: Kernel,
    pub inputs: Vec<Buf>,
    /// Outputs with their prior contents (accumulation, in-place statistics).
    pub outputs: Vec<Buf>,
    pub extras: Vec<Buf>,
    pub accumulate: bool,
    pub epilogue: Vec<Fused>,
}

impl Case {
    /// A case without accumulation or epilogue; `outputs` hold the prior contents.
    pub fn new(kernel: Kernel, inputs: Vec<Buf>, outputs: Vec<Buf>) -> Case {
        Case { kernel, inputs, outputs, extras: Vec::new(), accumulate: false, epilogue: Vec::new() }
    }

    pub fn spec(&self) -> StepSpec {
        StepSpec {
            kernel: self.kernel.clone(),
            inputs: self.inputs.iter().map(Buf::operand).collect(),
            outputs: self.outputs.iter().map(Buf::operand).collect(),
            accumulate: self.accumulate,
            epilogue: self.epilogue.clone(),
            extra: self.extras.iter().map(Buf::operand).collect(),
        }
    }
}

/// Runs the reference executor; returns every output, dense.
pub fn reference(case: &Case) -> Vec<Vec<f32>> {
    let ctx = KernelCtx::default();
    let ins: Vec<In<f32>> = case.inputs.iter().map(|b| In { data: &b.data, dims: &b.dims }).collect();
    let mut outs: Vec<Vec<f32>> = case.outputs.iter().map(|b| b.data.clone()).collect();
    let old = outs[0].clone();
    {
        let mut views: Vec<Out<f32>> =
            outs.iter_mut().zip(&case.outputs).map(|(d, b)| Out { data: &mut d[..], dims: &b.dims }).collect();
        execute(&case.kernel, &ins, &mut views, false, &ctx);
    }
    let dims = &case.outputs[0].dims;
    for f in &case.epilogue {
        let y = outs[0].clone();
        let yin = In { data: &y, dims };
        let (kernel, args): (Kernel, Vec<In<f32>>) = match *f {
            Fused::Act(a) => (Kernel::Act(a), vec![yin]),
            Fused::Scale(s) => (Kernel::Scale { factor: s }, vec![yin]),
            Fused::AddOperand(k) => (Kernel::Add, vec![yin, In { data: &case.extras[k].data, dims }]),
            Fused::MulActGrad(a, k) => (Kernel::ActBackward(a), vec![In { data: &case.extras[k].data, dims }, yin]),
        };
        execute(&kernel, &args, &mut [Out { data: &mut outs[0][..], dims }], false, &ctx);
    }
    if case.accumulate {
        outs[0].iter_mut().zip(&old).for_each(|(y, o)| *y += o);
    }
    outs
}

/// How the parts of a kernel are run.
#[derive(Debug, Clone, Copy)]
pub enum Schedule {
    Sequential,
    /// A seeded random permutation, one thread.
    Shuffled(u64),
    /// Two threads taking alternate parts.
    Threads,
}

struct Ptrs(Vec<*mut f32>);
// SAFETY: the pointers are only used by the kernel under the ABI's disjointness rule.
unsafe impl Send for Ptrs {}
unsafe impl Sync for Ptrs {}

/// Runs a compiled kernel on the case's operands; returns the outputs, dense.
pub fn run_jit(case: &Case, k: &Arc<dyn CompiledKernel>, schedule: Schedule) -> Vec<Vec<f32>> {
    let mut ins: Vec<Vec<f32>> = case.inputs.iter().map(Buf::image).collect();
    let mut outs: Vec<Vec<f32>> = case.outputs.iter().map(Buf::image).collect();
    let mut extras: Vec<Vec<f32>> = case.extras.iter().map(Buf::image).collect();
    let ptrs: Vec<*mut f32> =
        ins.iter_mut().chain(outs.iter_mut()).chain(extras.iter_mut()).map(|b| b.as_mut_ptr()).collect();
    let ptrs = Ptrs(ptrs);
    let parts = k.parts();
    let scratch = k.scratch_len();
    let mut order: Vec<usize> = (0..parts).collect();
    match schedule {
        Schedule::Sequential => run_parts(k, &ptrs, &order, scratch),
        Schedule::Shuffled(seed) => {
            Rng::new(seed).shuffle(&mut order);
            run_parts(k, &ptrs, &order, scratch);
        }
        Schedule::Threads => std::thread::scope(|s| {
            for t in 0..2 {
                let mine: Vec<usize> = order.iter().copied().filter(|p| p % 2 == t).collect();
                let (k, ptrs) = (&k, &ptrs);
                s.spawn(move || run_parts(k, ptrs, &mine, scratch));
            }
        }),
    }
    drop(ptrs);
    for (b, mem) in case.inputs.iter().zip(&ins) {
        assert_eq!(
            b.image().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            mem.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "an input was modified"
        );
    }
    case.outputs.iter().zip(&outs).enumerate().map(|(i, (b, mem))| b.read(mem, &format!("output {i}"))).collect()
}

fn run_parts(k: &Arc<dyn CompiledKernel>, ptrs: &Ptrs, order: &[usize], scratch: usize) {
    // Element-wise kernels have one phase and no workspace (their parts are
    // independent, which the shuffled and threaded schedules rely on).
    assert_eq!((k.phases(), k.workspace_len()), (1, 0), "{}", k.describe());
    // Garbage in scratch: kernels must not depend on its contents.
    let mut buf = vec![f32::NAN; scratch];
    for &p in order {
        // SAFETY: the images hold every operand at the sizes of the spec.
        unsafe { k.run(&ptrs.0, p, &mut buf, std::ptr::null_mut()) };
    }
}

/// max|got − want| / max(max|want|, 1e-6); NaN where the two disagree on NaN.
pub fn error(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().map(|v| v.abs() as f64).fold(1e-6, f64::max);
    let mut worst: f64 = 0.0;
    for (&g, &w) in got.iter().zip(want) {
        if g.is_nan() || w.is_nan() {
            if g.is_nan() != w.is_nan() {
                return f64::INFINITY;
            }
            continue;
        }
        worst = worst.max((g as f64 - w as f64).abs() / scale);
    }
    worst
}

fn bits(x: &[Vec<f32>]) -> Vec<Vec<u32>> {
    x.iter().map(|o| o.iter().map(|v| v.to_bits()).collect()).collect()
}

/// The fine split the tests use, so that every kernel runs in many parts.
pub fn fine() -> OpOptions {
    OpOptions { grain: 1, max_parts: 7 }
}

/// Checks a case against the reference with both JITs (error at most `tol`
/// per output), and that every schedule and the default split give
/// bit-identical results. Returns the worst error.
pub fn check(name: &str, case: &Case, tol: f64) -> f64 {
    let want = reference(case);
    let spec = case.spec();
    let mut worst: f64 = 0.0;
    for (j, jit) in jits().iter().enumerate() {
        let k = compile_op_with(jit, &spec, &fine()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = run_jit(case, &k, Schedule::Sequential);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let err = error(g, w);
            assert!(
                err <= tol,
                "{name} (fma {}): output {i} error {err:.3e} > {tol:.1e}\n got  {g:?}\n want {w:?}",
                j == 0
            );
            worst = worst.max(err);
        }
        let seq = bits(&got);
        assert_eq!(seq, bits(&run_jit(case, &k, Schedule::Shuffled(j as u64 + 11))), "{name}: shuffled parts differ");
        assert_eq!(seq, bits(&run_jit(case, &k, Schedule::Threads)), "{name}: threaded parts differ");
        if j == 0 {
            let k1 = compile_op_with(jit, &spec, &OpOptions::default()).expect("default split");
            assert_eq!(seq, bits(&run_jit(case, &k1, Schedule::Sequential)), "{name}: the default split differs");
        }
    }
    worst
}

/// Seeded random data.
pub struct Gen(pub Rng);

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(Rng::new(seed))
    }
    pub fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }
    /// `n` uniform values in `[lo, hi)`.
    pub fn vals(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.0.uniform(lo, hi)).collect()
    }
    /// A dense batched tensor of uniform values.
    pub fn dense(&mut self, dims: &[usize], lo: f32, hi: f32) -> Buf {
        let n = dims.iter().product();
        Buf::dense(dims, self.vals(n, lo, hi))
    }
    /// An unbatched tensor of uniform values.
    pub fn param(&mut self, dims: &[usize], lo: f32, hi: f32) -> Buf {
        let n = dims.iter().product();
        Buf::param(dims, self.vals(n, lo, hi))
    }
    /// [`Gen::dense`], maybe stored with gaps between samples.
    pub fn strided(&mut self, dims: &[usize], lo: f32, hi: f32) -> Buf {
        let b = self.dense(dims, lo, hi);
        self.maybe_padded(b)
    }
    /// Values on a coarse grid, so that ties (equal maxima) happen.
    pub fn coarse(&mut self, dims: &[usize]) -> Buf {
        let n = dims.iter().product();
        Buf::dense(dims, (0..n).map(|_| self.0.below(7) as f32 - 3.0).collect())
    }
    /// Maybe (one time in two) store `b` with a few elements between samples.
    pub fn maybe_padded(&mut self, b: Buf) -> Buf {
        if self.0.below(2) == 0 {
            let extra = 1 + self.below(5);
            b.padded(extra)
        } else {
            b
        }
    }
}

/// Prints a family's worst error (visible with `--nocapture`).
pub fn report(family: &str, worst: f64, tol: f64) {
    println!("{family}: worst error {worst:.2e} (tolerance {tol:.0e})");
}
