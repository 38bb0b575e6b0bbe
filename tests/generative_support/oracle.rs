//! The f64 oracle: a program run by the reference executor in f64 on the f32 weights
//! and inputs. It is the exact answer both f32 engines approximate, so the f32
//! reference's distance from it measures how much a net amplifies rounding.

use netc::autodiff::{Kernel, Program, Role};
use netc::codegen::jit::Jit;
use netc::codegen::kernels::{compile, KernelOptions};
use netc::data::Rng;
use netc::ir::Act;
use netc::runtime::reference::KernelCtx;
use netc::runtime::Executor;
use netc::sched::{Operand, StepSpec};

/// What one f64 run produced.
pub struct Exact {
    /// The loss of a training program, or the output of an inference program.
    pub out: Vec<f64>,
    /// The program's output: the class scores of a training program.
    pub scores: Vec<f64>,
    /// Parameter gradients (empty for tensors without one).
    pub grads: Vec<Vec<f64>>,
    /// Parameter values after the run (batch norm updates its running statistics).
    pub values: Vec<Vec<f64>>,
}

/// The f64 answer of a step, and two runs nudged in opposite directions.
pub struct Oracle {
    pub exact: Exact,
    pub nudged: [Exact; 2],
}

/// Runs `program` in f64 on `values`, `images` and (for training) `labels`, plain and
/// nudged (see [`run`]) with the random directions of `seed` and their opposites.
pub fn consult(
    program: &Program,
    values: &[Vec<f32>],
    images: &[f32],
    labels: Option<&[f32]>,
    n: usize,
    ctx: KernelCtx,
    seed: u64,
) -> Oracle {
    let at = |jitter| run(program, values, images, labels, n, ctx, jitter);
    Oracle { exact: at(None), nudged: [at(Some((seed, 1.0))), at(Some((seed, -1.0)))] }
}

/// Runs `program` in f64 on `values`, `images` and (for training) `labels`.
///
/// With a `jitter` (seed, direction) the run is nudged the way a correct f32 engine may
/// differ: every weight and input value moves by one f32 ulp and every value each step
/// produces by two, each in a random direction (all reversed when the direction is −1,
/// so that of two opposite runs one pushes any value across a ReLU's kink if the nudge
/// can), and tanh and sigmoid are the JIT's polynomials. Comparing with the plain run shows how much this net
/// amplifies such differences: a batch norm over a nearly constant feature followed by
/// a ReLU, say, switches whole gradients on or off.
pub fn run(
    program: &Program,
    values: &[Vec<f32>],
    images: &[f32],
    labels: Option<&[f32]>,
    n: usize,
    ctx: KernelCtx,
    jitter: Option<(u64, f64)>,
) -> Exact {
    let mut rng = jitter.map(|(seed, direction)| (Rng::new(seed), direction));
    // ±1 with the run's direction, or 0 for the plain run.
    let mut sign = move || match rng.as_mut() {
        Some((r, d)) => *d * if r.below(2) == 0 { -1.0 } else { 1.0 },
        None => 0.0,
    };
    let ulp = f64::powi(2.0, -23);
    let mut widen = |v: &[f32]| v.iter().map(|&x| f64::from(x) * (1.0 + sign() * ulp)).collect::<Vec<f64>>();
    // Fixed parameters (RBF centres) and running statistics stay exact.
    let mut params: Vec<Vec<f64>> = values
        .iter()
        .zip(&program.params)
        .map(|(v, info)| {
            if info.kind == netc::ir::ParamKind::Trainable {
                widen(v)
            } else {
                v.iter().map(|&x| f64::from(x)).collect()
            }
        })
        .collect();
    let mut grads: Vec<Vec<f64>> =
        program.params.iter().map(|p| if p.grad.is_some() { vec![0.0; p.len()] } else { Vec::new() }).collect();
    let mut exec: Executor<f64> = Executor::new(program.clone(), n);
    exec.buffer_mut(program.input, n).copy_from_slice(&widen(images));
    if let (Some(l), Some(b)) = (labels, program.labels) {
        exec.buffer_mut(b, n).copy_from_slice(&l.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>());
    }
    if jitter.is_none() {
        exec.run(0..program.steps.len(), n, &mut params, &mut grads, &ctx);
    }
    for (i, step) in program.steps.iter().enumerate().filter(|_| jitter.is_some()) {
        exec.run(i..i + 1, n, &mut params, &mut grads, &ctx);
        if let Kernel::Act(a @ (Act::Tanh | Act::Sigmoid | Act::ScaledTanh { .. })) = step.kernel {
            // The JIT's polynomial, whose error is systematic (the same input gives the
            // same error in every sample), which random nudges would not reproduce.
            let x: Vec<f32> = exec.buffer(step.inputs[0], n).iter().map(|&v| v as f32).collect();
            let y = jit_activation(a, &x);
            exec.buffer_mut(step.outputs[0], n).iter_mut().zip(y).for_each(|(o, y)| *o = f64::from(y));
        }
        for &b in &step.outputs {
            if matches!(program.buffer(b).role, Role::Activation | Role::Gradient | Role::Saved) {
                for v in exec.buffer_mut(b, n) {
                    *v += *v * 2.0 * ulp * sign();
                }
            }
        }
    }
    let out = exec.buffer(program.loss.unwrap_or(program.output), n).to_vec();
    let scores = exec.buffer(program.output, n).to_vec();
    Exact { out, scores, grads, values: params }
}

/// The largest |a − b| over two tensors; NaN if any difference is NaN.
pub fn max_diff<A: Copy + Into<f64>, B: Copy + Into<f64>>(a: &[A], b: &[B]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| (x.into() - y.into()).abs()).fold(0.0, |m, d| if d.is_nan() { d } else { m.max(d) })
}

/// The largest |a|.
pub fn max_abs<A: Copy + Into<f64>>(a: &[A]) -> f64 {
    a.iter().map(|&x| x.into().abs()).fold(0.0, f64::max)
}

/// True if running `program` in f32 (the reference kernels) produces a non-finite value
/// anywhere: an overflow the output may hide (the reference's ReLU maps NaN to 0, the
/// JIT's propagates it).
pub fn overflows(
    program: &Program,
    values: &[Vec<f32>],
    images: &[f32],
    labels: Option<&[f32]>,
    n: usize,
    ctx: KernelCtx,
) -> bool {
    let mut params = values.to_vec();
    let mut grads: Vec<Vec<f32>> =
        program.params.iter().map(|p| if p.grad.is_some() { vec![0.0; p.len()] } else { Vec::new() }).collect();
    let mut exec: Executor<f32> = Executor::new(program.clone(), n);
    exec.buffer_mut(program.input, n).copy_from_slice(images);
    if let (Some(l), Some(b)) = (labels, program.labels) {
        exec.buffer_mut(b, n).copy_from_slice(l);
    }
    exec.run(0..program.steps.len(), n, &mut params, &mut grads, &ctx);
    let buffers = program
        .buffers
        .iter()
        .enumerate()
        .filter(|(_, b)| matches!(b.role, Role::Activation | Role::Gradient | Role::Loss));
    buffers.into_iter().any(|(i, _)| exec.buffer(netc::autodiff::BufId(i as u32), n).iter().any(|v| !v.is_finite()))
        || grads.iter().flatten().any(|v| !v.is_finite())
}

thread_local! {
    static JIT: Option<Jit> = Jit::native().ok();
}

/// `a` of every value of `x` as the JIT computes it (its compiled `Act` kernel).
fn jit_activation(a: Act, x: &[f32]) -> Vec<f32> {
    let spec = StepSpec {
        kernel: Kernel::Act(a),
        inputs: vec![Operand::dense(vec![1, x.len()])],
        outputs: vec![Operand::dense(vec![1, x.len()])],
        accumulate: false,
        epilogue: Vec::new(),
        extra: Vec::new(),
    };
    JIT.with(|jit| {
        let jit = jit.as_ref().expect("a native JIT");
        let k = compile(jit, &spec, &KernelOptions::default()).expect("an activation kernel");
        let mut input = x.to_vec();
        let mut out = vec![0f32; x.len()];
        let ptrs = [input.as_mut_ptr(), out.as_mut_ptr()];
        let mut scratch = vec![0f32; k.scratch_len()];
        let mut workspace = vec![0f32; k.workspace_len()];
        for part in 0..k.parts() {
            // SAFETY: both operands hold the spec's x.len() floats and do not overlap;
            // parts in order run the phases in order.
            unsafe { k.run(&ptrs, part, &mut scratch, workspace.as_mut_ptr()) };
        }
        out
    })
}
