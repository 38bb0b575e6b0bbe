//! The f64 oracle: a program run by the reference executor in f64 on the f32 weights
//! and inputs. It is the exact answer both f32 engines approximate, so the f32
//! reference's distance from it measures how much a net amplifies rounding.

use netc::autodiff::{Program, Role};
use netc::data::Rng;
use netc::runtime::reference::KernelCtx;
use netc::runtime::Executor;

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

/// Runs `program` in f64 on `values`, `images` and (for training) `labels`. With a
/// `jitter` seed, every weight and input value is first moved by up to one f32 ulp
/// (relative 2^-23), so comparing with the plain run shows how much the result depends
/// on rounding the inputs: a batch norm over a constant feature followed by a ReLU, say,
/// turns that into whole gradients switched on or off.
pub fn run(
    program: &Program,
    values: &[Vec<f32>],
    images: &[f32],
    labels: Option<&[f32]>,
    n: usize,
    ctx: KernelCtx,
    jitter: Option<u64>,
) -> Exact {
    let mut rng = jitter.map(Rng::new);
    let mut widen = |v: &[f32]| {
        v.iter()
            .map(|&x| {
                let shake = rng.as_mut().map_or(0.0, |r| f64::from(r.uniform(-1.0, 1.0)) * f64::powi(2.0, -23));
                f64::from(x) * (1.0 + shake)
            })
            .collect::<Vec<f64>>()
    };
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
    exec.run(0..program.steps.len(), n, &mut params, &mut grads, &ctx);
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
pub fn overflows(program: &Program, values: &[Vec<f32>], images: &[f32], labels: Option<&[f32]>, n: usize, ctx: KernelCtx) -> bool {
    let mut params = values.to_vec();
    let mut grads: Vec<Vec<f32>> =
        program.params.iter().map(|p| if p.grad.is_some() { vec![0.0; p.len()] } else { Vec::new() }).collect();
    let mut exec: Executor<f32> = Executor::new(program.clone(), n);
    exec.buffer_mut(program.input, n).copy_from_slice(images);
    if let (Some(l), Some(b)) = (labels, program.labels) {
        exec.buffer_mut(b, n).copy_from_slice(l);
    }
    exec.run(0..program.steps.len(), n, &mut params, &mut grads, &ctx);
    let buffers = program.buffers.iter().enumerate().filter(|(_, b)| matches!(b.role, Role::Activation | Role::Gradient | Role::Loss));
    buffers.into_iter().any(|(i, _)| exec.buffer(netc::autodiff::BufId(i as u32), n).iter().any(|v| !v.is_finite()))
        || grads.iter().flatten().any(|v| !v.is_finite())
}
