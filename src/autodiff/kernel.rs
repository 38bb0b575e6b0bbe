//! The kernels a [`Program`](super::Program) invokes: the contract shared by the
//! reference executor and the JIT, which must compute exactly this.
//!
//! Tensors are dense f32, row-major. A batched buffer of per-sample shape C×H×W is
//! N×C×H×W (NCHW); a flat one is N×F. Parameter shapes are those of
//! [`Op::params`](crate::ir::Op::params). Inputs and outputs are listed in order;
//! "→" separates them. Every kernel overwrites its outputs, except that a step with
//! `accumulate` adds its first output into what the buffer already holds (gradients
//! of tensors read by several layers).
//!
//! Each op's parameter struct comes from the IR unchanged, so shapes, windows and
//! paddings mean the same thing everywhere.

use crate::ir::{Act, BatchNorm, Conv, Dense, Lrn, Pool, Rbf, Subsample, ZeroPad};

#[derive(Debug, Clone, PartialEq)]
pub enum Kernel {
    /// `x, w, [b] → y`: `y[n,o,i,j] = b[o] + Σ_{c,p,q} w[o,c,p,q]·x[n, g·Cin/G + c, i·sh − pt + p, j·sw − pl + q]`
    /// over the input channels c of o's group (or, with a connection table, over
    /// `table[o]` in order, the link's weights being the rows of w = [links, kh, kw]
    /// taken in table order). Out-of-range input positions read as 0.
    Conv(Conv),
    /// `dy, w → dx`: the gradient of `Conv` with respect to x.
    ConvBackwardData(Conv),
    /// `dy, x → dw, [db]`: gradients with respect to the weights (and bias, if the conv has one).
    ConvBackwardWeight(Conv),
    /// `x → y`: max or average over each window. Padding never wins a max. An average
    /// divides, when `count_pad`, by the window clipped to the padded extent (kh·kw except
    /// for ceil-mode windows hanging past the trailing padding, as PyTorch), else by the
    /// number of in-range input positions.
    Pool(Pool),
    /// `x, y, dy → dx`: max pooling sends each dy to the first position (in row-major
    /// window order) holding the maximum; average pooling spreads it with the forward divisor.
    PoolBackward(Pool),
    /// `x → y`: `y[n,c,0,0]` = mean over H×W of `x[n,c]`.
    GlobalAvgPool,
    /// `dy → dx`: `dx[n,c,h,w] = dy[n,c] / (H·W)`; dx's shape is that of the step's output buffer.
    GlobalAvgPoolBackward,
    /// `x, w, [b] → y`: `y[n,o] = b[o] + Σ_i w[o,i]·x[n,i]`, x viewed as N×in.
    Dense(Dense),
    /// `dy, w → dx`.
    DenseBackwardData(Dense),
    /// `dy, x → dw, [db]`.
    DenseBackwardWeight(Dense),
    /// `x, γ, β → y, mean, invstd, running_mean, running_var`: batch statistics per channel
    /// over N·H·W (biased variance), y = γ·(x − mean)·invstd + β with invstd = 1/√(var + eps).
    /// The last two outputs are read and updated in place as PyTorch does:
    /// r ← (1 − momentum)·r + momentum·stat, with the unbiased variance for running_var.
    BatchNormTrain(BatchNorm),
    /// `x, γ, β, running_mean, running_var → y` with the running statistics.
    BatchNormEval(BatchNorm),
    /// `w, [b], γ, β, running_mean, running_var → w', b'`: an inference batch norm folded
    /// into the convolution before it. With `s[o] = γ[o]/√(var[o] + eps)`: `w'[o,…] = s[o]·w[o,…]`
    /// (a connection table's links scale with their output channel) and
    /// `b'[o] = s[o]·(b[o] − mean[o]) + β[o]`, where b is 0 for a convolution without bias.
    FoldBatchNorm { conv: Conv, bn: BatchNorm },
    /// `dy, x, γ, mean, invstd → dx, dγ, dβ` for batch statistics.
    BatchNormBackward(BatchNorm),
    /// `x → y`: y = x / (k + α/size · Σ x²)^β, the sum over channels c − ⌊(size−1)/2⌋ ..
    /// c + ⌊size/2⌋ clipped to the valid range (Caffe; the same as PyTorch for the odd sizes
    /// every published net uses).
    Lrn(Lrn),
    /// `x, y, dy → dx`.
    LrnBackward(Lrn),
    /// `→ mask`: fills the mask with 0 (probability p) or 1/(1−p), from the host's
    /// deterministic generator seeded by the step counter and `stream`. Both engines run
    /// the same host code, so their masks are identical.
    DropoutMask { p: f64, stream: u64 },
    /// `x, mask → y`: y = x·mask. Dropout forward and backward.
    Mask,
    /// `x → y`.
    Act(Act),
    /// `y, dy → dx`, from the activation's output y: relu `dy·[y > 0]`; tanh dy·(1 − y²);
    /// sigmoid dy·y·(1 − y); a·tanh(s·x): dy·s·(a − y²/a).
    ActBackward(Act),
    /// `x → y`: softmax over the features of each sample.
    Softmax,
    /// `y, dy → dx`: dx = y·(dy − Σ dy·y).
    SoftmaxBackward,
    /// `x, w, b → y`: `y[n,c,i,j] = w[c]·Σ_{p,q<k} x[n,c,k·i+p,k·j+q] + b[c]`.
    Subsample(Subsample),
    /// `dy, x, w → dx, dw, db`.
    SubsampleBackward(Subsample),
    /// `x, centers → y`: `y[n,j] = Σ_i (x[n,i] − centers[j,i])²`.
    Rbf(Rbf),
    /// `dy, x, centers → dx, [dcenters]` (dcenters only when the centres are trainable).
    RbfBackward(Rbf),
    /// `x → y`: zero padding: y[n, b + c, t + i, l + j] = x[n, c, i, j] for `b` channels
    /// before, `t` rows on top and `l` columns on the left; every other element is 0.
    ZeroPad(ZeroPad),
    /// `dy → dx`: the inverse of `ZeroPad`, cropping the padding (channels and frame) away.
    Crop(ZeroPad),
    /// `x → y`: y = factor·x.
    Scale { factor: f64 },
    /// `x₁, …, xₖ → y`: element-wise sum.
    Add,
    /// `x₁, …, xₖ → y`: concatenation along channels (or features).
    Concat,
    /// `x → y`: channels `offset .. offset + y's channels` of x (the backward of `Concat`).
    Slice { offset: usize },
    /// `x → y`: a copy.
    Copy,
    /// `logits, labels → loss, dlogits`: mean over the batch of −Σ_k q_k·log softmax(z)_k
    /// over the K classes, with the target q = (1 − ε)·onehot(label) + ε/K (label smoothing
    /// ε = `smoothing`, 0 for plain cross-entropy `−log softmax(z)[label]`) and z = −logits when
    /// `negate` (LeNet-5's RBF outputs are distances: the nearest centre should win).
    /// dlogits is the gradient of that mean loss, ±(softmax(z) − q)/N. Labels are class
    /// indices stored as f32; loss is a 1-element buffer.
    SoftmaxCrossEntropy { negate: bool, smoothing: f32 },
    /// `logits, labels → loss, dlogits`: binary cross-entropy of one logit z per sample
    /// (the input of a final sigmoid), in the fused form
    /// max(z, 0) − z·q + log(1 + exp(−|z|)) = −q·log σ(z) − (1 − q)·log(1 − σ(z)), averaged
    /// over the batch, with the target q = (1 − ε)·y + ε/2 for the label y ∈ {0, 1} (ε =
    /// `smoothing`). dlogits = (σ(z) − q)/N. A label other than 0 or 1 makes the loss and
    /// that sample's gradient NaN.
    SigmoidCrossEntropy { smoothing: f32 },
}

impl Kernel {
    /// Short name for dumps and profiles.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Conv(_) => "conv",
            Kernel::ConvBackwardData(_) => "conv_bwd_data",
            Kernel::ConvBackwardWeight(_) => "conv_bwd_weight",
            Kernel::Pool(_) => "pool",
            Kernel::PoolBackward(_) => "pool_bwd",
            Kernel::GlobalAvgPool => "gap",
            Kernel::GlobalAvgPoolBackward => "gap_bwd",
            Kernel::Dense(_) => "dense",
            Kernel::DenseBackwardData(_) => "dense_bwd_data",
            Kernel::DenseBackwardWeight(_) => "dense_bwd_weight",
            Kernel::BatchNormTrain(_) => "bn_train",
            Kernel::BatchNormEval(_) => "bn_eval",
            Kernel::FoldBatchNorm { .. } => "fold_bn",
            Kernel::BatchNormBackward(_) => "bn_bwd",
            Kernel::Lrn(_) => "lrn",
            Kernel::LrnBackward(_) => "lrn_bwd",
            Kernel::DropoutMask { .. } => "dropout_mask",
            Kernel::Mask => "mask",
            Kernel::Act(_) => "act",
            Kernel::ActBackward(_) => "act_bwd",
            Kernel::Softmax => "softmax",
            Kernel::SoftmaxBackward => "softmax_bwd",
            Kernel::Subsample(_) => "subsample",
            Kernel::SubsampleBackward(_) => "subsample_bwd",
            Kernel::Rbf(_) => "rbf",
            Kernel::RbfBackward(_) => "rbf_bwd",
            Kernel::ZeroPad(_) => "zeropad",
            Kernel::Crop(_) => "crop",
            Kernel::Scale { .. } => "scale",
            Kernel::Add => "add",
            Kernel::Concat => "concat",
            Kernel::Slice { .. } => "slice",
            Kernel::Copy => "copy",
            Kernel::SoftmaxCrossEntropy { .. } => "softmax_xent",
            Kernel::SigmoidCrossEntropy { .. } => "sigmoid_xent",
        }
    }
}
