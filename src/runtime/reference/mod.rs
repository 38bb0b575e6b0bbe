//! Reference kernels: plain, obviously-correct implementations of every
//! [`Kernel`] of the program contract, forward and backward, generic over f32 and
//! f64 ([`Real`]). They are the oracle the JIT is tested against, so every loop
//! follows the contract's formula directly; speed is a non-goal beyond avoiding
//! needless quadratic work.
//!
//! Consumes: a kernel, its input tensors ([`In`]) and output buffers ([`Out`]), all
//! row-major with the batch dimension first for batched tensors. Produces: the
//! outputs, overwritten (or, with `accumulate`, the first one added into).
//! Guarantees: a panic naming the kernel on any contract violation (arity, lengths,
//! shapes that disagree with the op); never a panic caused by data values.

mod contract;
mod conv;
mod dense;
mod dropout;
mod elementwise;
mod fold;
mod lenet;
mod loss;
mod norm;
mod pool;
mod real;
mod window;

pub use dropout::dropout_mask;
pub use elementwise::{act_slope, act_value};
pub use real::Real;

use crate::autodiff::Kernel;
use contract::Check;

/// A tensor a kernel reads.
#[derive(Debug, Clone, Copy)]
pub struct In<'a, T> {
    pub data: &'a [T],
    /// Dimensions, the batch first for batched tensors; their product is `data.len()`.
    pub dims: &'a [usize],
}

/// A buffer a kernel writes.
#[derive(Debug)]
pub struct Out<'a, T> {
    pub data: &'a mut [T],
    /// Dimensions, the batch first for batched tensors; their product is `data.len()`.
    pub dims: &'a [usize],
}

/// Per-step context: what makes dropout masks differ between steps and runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelCtx {
    pub seed: u64,
    pub step: u64,
}

/// Runs one kernel. Outputs are overwritten, except that with `accumulate` the first
/// output is added into. Panics only on a contract violation (wrong number of inputs or
/// outputs, or lengths and shapes that disagree) with a message naming the kernel;
/// never on data values.
pub fn execute<T: Real>(kernel: &Kernel, ins: &[In<T>], outs: &mut [Out<T>], accumulate: bool, ctx: &KernelCtx) {
    let ck = Check::new(kernel);
    let (want_in, want_out) = kernel.arity(ins.len());
    ck.ensure(ins.len() == want_in, || format!("expected {want_in} inputs, got {}", ins.len()));
    ck.ensure(outs.len() == want_out, || format!("expected {want_out} outputs, got {}", outs.len()));
    for (k, t) in ins.iter().enumerate() {
        ck.len(&format!("input {k} (dims {:?})", t.dims), t.data.len(), t.dims.iter().product());
    }
    for (k, t) in outs.iter().enumerate() {
        ck.len(&format!("output {k} (dims {:?})", t.dims), t.data.len(), t.dims.iter().product());
    }
    if !accumulate {
        return dispatch(&ck, kernel, ins, outs, ctx);
    }
    // Accumulation is the same kernel run into scratch, then added: no kernel needs to know.
    let (first, rest) = outs.split_first_mut().expect("every kernel has an output");
    let mut scratch = vec![T::zero(); first.data.len()];
    let mut staged: Vec<Out<T>> = std::iter::once(Out { data: &mut scratch[..], dims: first.dims })
        .chain(rest.iter_mut().map(|o| Out { data: &mut *o.data, dims: o.dims }))
        .collect();
    dispatch(&ck, kernel, ins, &mut staged, ctx);
    drop(staged);
    for (d, s) in first.data.iter_mut().zip(scratch) {
        *d += s;
    }
}

/// Calls the kernel's implementation; arities have been checked.
fn dispatch<T: Real>(ck: &Check, kernel: &Kernel, ins: &[In<T>], outs: &mut [Out<T>], ctx: &KernelCtx) {
    let (first, rest) = outs.split_first_mut().expect("every kernel has an output");
    let (y, second) = (first, rest.first_mut());
    match kernel {
        Kernel::Conv(c) => conv::forward(ck, c, &ins[0], &ins[1], ins.get(2), y),
        Kernel::ConvBackwardData(c) => conv::backward_data(ck, c, &ins[0], &ins[1], y),
        Kernel::ConvBackwardWeight(c) => conv::backward_weight(ck, c, &ins[0], &ins[1], y, second),
        Kernel::Pool(p) => pool::forward(ck, p, &ins[0], y),
        Kernel::PoolBackward(p) => pool::backward(ck, p, &ins[0], &ins[1], &ins[2], y),
        Kernel::GlobalAvgPool => pool::global_forward(ck, &ins[0], y),
        Kernel::GlobalAvgPoolBackward => pool::global_backward(ck, &ins[0], y),
        Kernel::Dense(d) => dense::forward(ck, d, &ins[0], &ins[1], ins.get(2), y),
        Kernel::DenseBackwardData(d) => dense::backward_data(ck, d, &ins[0], &ins[1], y),
        Kernel::DenseBackwardWeight(d) => dense::backward_weight(ck, d, &ins[0], &ins[1], y, second),
        Kernel::BatchNormTrain(b) => norm::bn_train(ck, b, &ins[0], &ins[1], &ins[2], outs),
        Kernel::BatchNormEval(b) => norm::bn_eval(ck, b, ins, y),
        Kernel::FoldBatchNorm { conv, bn } => fold::fold_batch_norm(ck, conv, bn, ins, outs),
        Kernel::BatchNormBackward(b) => norm::bn_backward(ck, b, ins, outs),
        Kernel::Lrn(l) => norm::lrn(ck, l, &ins[0], y),
        Kernel::LrnBackward(l) => norm::lrn_backward(ck, l, &ins[0], &ins[1], &ins[2], y),
        Kernel::DropoutMask { p, stream } => dropout_mask(*p, ctx.seed, ctx.step, *stream, y.data),
        Kernel::Mask => elementwise::mask(ck, &ins[0], &ins[1], y),
        Kernel::Act(a) => elementwise::act(ck, a, &ins[0], y),
        Kernel::ActBackward(a) => elementwise::act_backward(ck, a, &ins[0], &ins[1], y),
        Kernel::Softmax => loss::softmax(ck, &ins[0], y),
        Kernel::SoftmaxBackward => loss::softmax_backward(ck, &ins[0], &ins[1], y),
        Kernel::Subsample(s) => lenet::subsample(ck, s, ins, y),
        Kernel::SubsampleBackward(s) => lenet::subsample_backward(ck, s, ins, outs),
        Kernel::Rbf(r) => lenet::rbf(ck, r, &ins[0], &ins[1], y),
        Kernel::RbfBackward(r) => lenet::rbf_backward(ck, r, ins, outs),
        Kernel::ZeroPad(p) => elementwise::zero_pad(ck, p, &ins[0], y),
        Kernel::Crop(p) => elementwise::crop(ck, p, &ins[0], y),
        Kernel::Scale { factor } => elementwise::scale(ck, *factor, &ins[0], y),
        Kernel::Add => elementwise::add(ck, ins, y),
        Kernel::Concat => elementwise::concat(ck, ins, y),
        Kernel::Slice { offset } => elementwise::slice(ck, *offset, &ins[0], y),
        Kernel::Copy => elementwise::copy(ck, &ins[0], y),
        Kernel::SoftmaxCrossEntropy { negate, smoothing } => loss::softmax_xent(ck, *negate, *smoothing, ins, outs),
        Kernel::SigmoidCrossEntropy { smoothing } => loss::sigmoid_xent(ck, *smoothing, ins, outs),
    }
}
