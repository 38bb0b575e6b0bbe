//! Harness for `tests/jit_conv.rs`: builds a step, runs the JIT kernel with its parts
//! in a chosen order, and compares against the f64 reference executor.
//!
//! Tolerance: every output element is a sum of products (plus bias and old value);
//! the reference run on the absolute values of the inputs gives `mag`, the sum of
//! their magnitudes. Before the epilogue we require `|jit − ref| <= 1e-5·mag + 1e-30`
//! (about 170 f32 roundings of the largest possible partial sum — a wrong or missing
//! product in these small tests is far above it). The epilogue then carries that
//! error through its Lipschitz bound and adds 4e-7·(1 + |y|) for vmath's tanh and
//! sigmoid. Elements outside the operands' samples (slice gaps) must be untouched.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use netc::autodiff::Kernel;
use netc::codegen::jit::Jit;
use netc::codegen::kernels::conv::{compile_conv_with, ConvOptions};
use netc::codegen::kernels::CompiledKernel;
use netc::data::Rng;
use netc::ir::Act;
use netc::runtime::reference::{execute, In, KernelCtx, Out};
use netc::sched::{Fused, Operand, StepSpec};

/// One tensor of a case: dims, and for batched tensors the extra floats between samples.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub dims: Vec<usize>,
    pub batched: bool,
    pub gap: usize,
}

impl Tensor {
    pub fn batched(dims: &[usize], gap: usize) -> Tensor {
        Tensor { dims: dims.to_vec(), batched: true, gap }
    }
    pub fn param(dims: &[usize]) -> Tensor {
        Tensor { dims: dims.to_vec(), batched: false, gap: 0 }
    }
    fn sample(&self) -> usize {
        if self.batched {
            self.dims[1..].iter().product()
        } else {
            self.dims.iter().product()
        }
    }
    fn batch(&self) -> usize {
        if self.batched {
            self.dims[0]
        } else {
            1
        }
    }
    fn stride(&self) -> usize {
        self.sample() + self.gap
    }
    /// Floats of the buffer holding it (plus a guard).
    fn buf_len(&self) -> usize {
        self.batch() * self.stride() + 3
    }
    pub fn operand(&self) -> Operand {
        if self.batched {
            Operand { dims: self.dims.clone(), batch_stride: self.stride(), batched: true }
        } else {
            Operand::unbatched(self.dims.clone())
        }
    }
    /// The contiguous tensor inside `buf`.
    fn gather(&self, buf: &[f32]) -> Vec<f32> {
        (0..self.batch()).flat_map(|n| buf[n * self.stride()..n * self.stride() + self.sample()].to_vec()).collect()
    }
    /// Whether buffer index `i` is an element of the tensor.
    fn holds(&self, i: usize) -> bool {
        i < self.batch() * self.stride() && i % self.stride() < self.sample()
    }
}

/// A step to test.
#[derive(Debug, Clone)]
pub struct Case {
    pub kernel: Kernel,
    pub inputs: Vec<Tensor>,
    pub outputs: Vec<Tensor>,
    pub epilogue: Vec<Fused>,
    /// Extra operands: same dims as output 0, with these gaps.
    pub extra_gaps: Vec<usize>,
    pub accumulate: bool,
}

/// How the parts run.
#[derive(Debug, Clone, Copy)]
pub enum Order {
    Sequential,
    Shuffled(u64),
    Threads(usize),
}

impl Case {
    pub fn spec(&self) -> StepSpec {
        let y = &self.outputs[0];
        StepSpec {
            kernel: self.kernel.clone(),
            inputs: self.inputs.iter().map(Tensor::operand).collect(),
            outputs: self.outputs.iter().map(Tensor::operand).collect(),
            accumulate: self.accumulate,
            epilogue: self.epilogue.clone(),
            extra: self.extra_gaps.iter().map(|&g| Tensor { gap: g, ..y.clone() }.operand()).collect(),
        }
    }

    fn extras(&self) -> Vec<Tensor> {
        self.extra_gaps.iter().map(|&g| Tensor { gap: g, ..self.outputs[0].clone() }).collect()
    }
}

/// Buffers of every operand (inputs, outputs, extras), randomly filled.
pub struct Buffers {
    pub bufs: Vec<Vec<f32>>,
}

impl Buffers {
    pub fn new(case: &Case, seed: u64) -> Buffers {
        let mut rng = Rng::new(seed);
        let all = case.inputs.iter().chain(&case.outputs).cloned().chain(case.extras());
        let bufs = all.map(|t| (0..t.buf_len()).map(|_| rng.uniform(-1.0, 1.0)).collect()).collect();
        let mut b = Buffers { bufs };
        // Activation outputs read by MulActGrad must look like outputs of that activation.
        for f in &case.epilogue {
            if let Fused::MulActGrad(a, k) = *f {
                let at = case.inputs.len() + case.outputs.len() + k;
                for v in &mut b.bufs[at] {
                    *v = act64(a, *v as f64) as f32;
                }
            }
        }
        b
    }

    pub fn ptrs(&mut self) -> Vec<*mut f32> {
        self.bufs.iter_mut().map(|b| b.as_mut_ptr()).collect()
    }
}

/// Raw pointers made shareable for the threaded run (the ABI makes parts disjoint).
struct Shared(Vec<*mut f32>);
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

/// Runs every part of `k` on `bufs` in the given order, phase by phase (the parts of
/// each phase in that order, a phase finishing before the next starts), with NaN in
/// scratch and workspace: kernels must not depend on what they hold on entry.
pub fn run(k: &dyn CompiledKernel, bufs: &mut Buffers, order: Order) {
    let ptrs = Shared(bufs.ptrs());
    assert!(k.parts() >= 1 && k.phases() >= 1);
    let mut workspace = vec![f32::NAN; k.workspace_len()];
    let ws = Shared(vec![workspace.as_mut_ptr()]);
    let mut covered = 0;
    for phase in 0..k.phases() {
        let range = k.phase_parts(phase);
        assert_eq!(range.start, covered, "phases cover the parts in order");
        covered = range.end;
        match order {
            Order::Sequential | Order::Shuffled(_) => {
                let mut ids: Vec<usize> = range.collect();
                if let Order::Shuffled(s) = order {
                    Rng::new(s).shuffle(&mut ids);
                }
                let mut scratch = vec![f32::NAN; k.scratch_len()];
                for p in ids {
                    // SAFETY: buffers are sized from the spec the kernel was compiled for.
                    unsafe { k.run(&ptrs.0, p, &mut scratch, ws.0[0]) };
                }
            }
            Order::Threads(t) => {
                let next = AtomicUsize::new(range.start);
                std::thread::scope(|s| {
                    for _ in 0..t {
                        s.spawn(|| {
                            let mut scratch = vec![f32::NAN; k.scratch_len()];
                            loop {
                                let p = next.fetch_add(1, Ordering::Relaxed);
                                if p >= range.end {
                                    break;
                                }
                                let (ptrs, ws) = (&ptrs, &ws);
                                // SAFETY: as above; a phase's parts write disjoint elements.
                                unsafe { k.run(&ptrs.0, p, &mut scratch, ws.0[0]) };
                            }
                        });
                    }
                });
            }
        }
    }
    assert_eq!(covered, k.parts(), "phases cover every part");
}

/// Compiles the case, runs it, checks against the reference; returns the outputs
/// (all buffers) for bit-identity comparisons and the kernel's description.
pub fn check(jit: &Jit, case: &Case, seed: u64, order: Order) -> (Vec<Vec<f32>>, String) {
    check_with(jit, case, seed, order, &ConvOptions::default())
}

/// [`check`] with explicit kernel options.
pub fn check_with(jit: &Jit, case: &Case, seed: u64, order: Order, opts: &ConvOptions) -> (Vec<Vec<f32>>, String) {
    let (bufs, desc, _) = check_norm(jit, case, seed, order, opts, 0.0);
    (bufs, desc)
}

/// [`check_with`] with a norm-wise term added to the tolerance before the epilogue:
/// `norm_tol · max_i mag[i]` over the sample's output (Winograd's transforms spread
/// every element's rounding over the whole tile). Also returns the observed error
/// before the epilogue relative to that norm, `max |jit − ref| / max mag` (only
/// meaningful without an epilogue and accumulation).
pub fn check_norm(
    jit: &Jit,
    case: &Case,
    seed: u64,
    order: Order,
    opts: &ConvOptions,
    norm_tol: f64,
) -> (Vec<Vec<f32>>, String, f64) {
    let kernel = compile_conv_with(jit, &case.spec(), opts).unwrap_or_else(|e| panic!("compile {case:?}: {e}"));
    let mut bufs = Buffers::new(case, seed);
    let before = bufs.bufs.clone();
    run(&*kernel, &mut bufs, order);
    let desc = kernel.describe();
    if std::env::var_os("JIT_CONV_VERBOSE").is_some() {
        eprintln!("{desc}: {} parts, scratch {}", kernel.parts(), kernel.scratch_len());
    }
    let rel = verify(case, &before, &bufs.bufs, &desc, norm_tol);
    (bufs.bufs, desc, rel)
}

/// Reference outputs (value, magnitude) in f64, before accumulation and epilogue.
fn reference(case: &Case, before: &[Vec<f32>]) -> Vec<(Vec<f64>, Vec<f64>)> {
    let ins: Vec<Vec<f32>> = case.inputs.iter().zip(before).map(|(t, b)| t.gather(b)).collect();
    let eval = |abs: bool| -> Vec<Vec<f64>> {
        let data: Vec<Vec<f64>> =
            ins.iter().map(|v| v.iter().map(|&x| if abs { (x as f64).abs() } else { x as f64 }).collect()).collect();
        let views: Vec<In<f64>> = data.iter().zip(&case.inputs).map(|(d, t)| In { data: d, dims: &t.dims }).collect();
        let mut outs: Vec<Vec<f64>> = case.outputs.iter().map(|t| vec![0.0; t.dims.iter().product()]).collect();
        let mut ov: Vec<Out<f64>> =
            outs.iter_mut().zip(&case.outputs).map(|(d, t)| Out { data: d.as_mut_slice(), dims: &t.dims }).collect();
        execute(&case.kernel, &views, &mut ov, false, &KernelCtx::default());
        drop(ov);
        outs
    };
    eval(false).into_iter().zip(eval(true)).collect()
}

fn verify(case: &Case, before: &[Vec<f32>], after: &[Vec<f32>], desc: &str, norm_tol: f64) -> f64 {
    let refs = reference(case, before);
    let mut rel: f64 = 0.0;
    let nin = case.inputs.len();
    let extras: Vec<Vec<f32>> =
        case.extras().iter().zip(&before[nin + case.outputs.len()..]).map(|(t, b)| t.gather(b)).collect();
    for (o, t) in case.outputs.iter().enumerate() {
        let (want, mag) = &refs[o];
        let (old, got) = (t.gather(&before[nin + o]), t.gather(&after[nin + o]));
        let norm = mag.iter().fold(0.0f64, |a, &b| a.max(b)) + 1e-30;
        for i in 0..want.len() {
            rel = rel.max((got[i] as f64 - want[i]).abs() / norm);
            let (mut y, mut err) = (want[i], 1e-5 * mag[i] + norm_tol * norm + 1e-30);
            if o == 0 {
                for f in &case.epilogue {
                    (y, err) = epilogue64(*f, y, err, &extras, i);
                }
                if case.accumulate {
                    y += old[i] as f64;
                    err += 1e-7 * (old[i] as f64).abs();
                }
            }
            let g = got[i] as f64;
            assert!(
                (g - y).abs() <= err,
                "{desc}: output {o} element {i}: got {g}, want {y} (tolerance {err:e})\ncase {case:?}"
            );
        }
        for (i, (b, a)) in before[nin + o].iter().zip(&after[nin + o]).enumerate() {
            assert!(
                t.holds(i) || b.to_bits() == a.to_bits(),
                "{desc}: output {o} buffer index {i} outside the tensor was written"
            );
        }
    }
    rel
}

/// One epilogue op in f64 on (value, error bound).
fn epilogue64(f: Fused, y: f64, err: f64, extras: &[Vec<f32>], i: usize) -> (f64, f64) {
    match f {
        Fused::Act(a) => {
            let v = act64(a, y);
            (v, err * lipschitz(a) + 4e-7 * (1.0 + v.abs()))
        }
        Fused::Scale(s) => (y * s, err * s.abs() + 1e-7 * (y * s).abs()),
        Fused::AddOperand(k) => {
            let e = extras[k][i] as f64;
            (y + e, err + 1e-7 * (y + e).abs() + 1e-7 * e.abs())
        }
        Fused::MulActGrad(a, k) => {
            let s = slope64(a, extras[k][i] as f64);
            (y * s, err * s.abs() + 1e-6 * (y * s).abs())
        }
    }
}

/// One of every activation kind, drawn at random (LeNet-5's scaled tanh included).
pub fn random_act(rng: &mut netc::data::Rng) -> Act {
    let acts = [
        Act::Relu,
        Act::LeakyRelu { slope: 0.2 },
        Act::Tanh,
        Act::Sigmoid,
        Act::ScaledTanh { a: 1.7159, s: 2.0 / 3.0 },
    ];
    acts[rng.below(acts.len() as u64) as usize]
}

pub fn act64(a: Act, x: f64) -> f64 {
    match a {
        Act::Relu => x.max(0.0),
        Act::LeakyRelu { slope } => {
            if x > 0.0 {
                x
            } else {
                slope * x
            }
        }
        Act::Tanh => x.tanh(),
        Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Act::ScaledTanh { a, s } => a * (s * x).tanh(),
    }
}

fn slope64(a: Act, z: f64) -> f64 {
    match a {
        Act::Relu => f64::from(u8::from(z > 0.0)),
        Act::LeakyRelu { slope } => {
            if z > 0.0 {
                1.0
            } else {
                slope
            }
        }
        Act::Tanh => 1.0 - z * z,
        Act::Sigmoid => z * (1.0 - z),
        Act::ScaledTanh { a, s } => s * (a - z * z / a),
    }
}

fn lipschitz(a: Act) -> f64 {
    match a {
        Act::Relu | Act::LeakyRelu { .. } | Act::Tanh => 1.0,
        Act::Sigmoid => 0.25,
        Act::ScaledTanh { a, s } => (a * s).abs(),
    }
}
