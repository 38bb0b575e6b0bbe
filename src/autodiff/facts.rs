//! What the engines and the planner need to know about each kernel, answered in one
//! place: how many operands it takes, which fused epilogue its result accepts, whether
//! it can itself be fused into its producer, and which operands may be a channel slice
//! of a larger tensor. The matches are exhaustive on purpose: a new [`Kernel`] variant
//! does not compile until each of these facts is decided for it.
//!
//! Who asks: the reference executor and the code generator check operand counts with
//! [`Kernel::arity`]; `sched::fuse` asks [`Kernel::epilogue_site`] and
//! [`Kernel::fuses_into`]; `sched::concat` asks [`Kernel::slice_ok`]. The other per-op
//! facts live with the op: its shape rule (`ir::rules`), cost (`infer::cost`), forward
//! kernel (`autodiff::build`) and vector-Jacobian product (`autodiff::vjp`).

use super::kernel::Kernel;

/// Where a fused epilogue attaches: the result of a forward layer (activation, scaling,
/// residual addition), or a data gradient (multiplication by an activation's slope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpilogueSite {
    Forward,
    DataGradient,
}

impl Kernel {
    /// The numbers of inputs and outputs the kernel takes. `given` is how many inputs a
    /// caller has, which the variadic kernels (`Add`, `Concat`) accept if at least one.
    pub fn arity(&self, given: usize) -> (usize, usize) {
        let opt = |b: bool| usize::from(b);
        match self {
            Kernel::Conv(c) => (2 + opt(c.bias), 1),
            Kernel::ConvBackwardData(_) | Kernel::DenseBackwardData(_) => (2, 1),
            Kernel::ConvBackwardWeight(c) => (2, 1 + opt(c.bias)),
            Kernel::Dense(d) => (2 + opt(d.bias), 1),
            Kernel::DenseBackwardWeight(d) => (2, 1 + opt(d.bias)),
            Kernel::Pool(_) | Kernel::GlobalAvgPool | Kernel::GlobalAvgPoolBackward | Kernel::Lrn(_) => (1, 1),
            Kernel::PoolBackward(_) | Kernel::LrnBackward(_) => (3, 1),
            Kernel::BatchNormTrain(_) => (3, 5),
            Kernel::BatchNormEval(_) => (5, 1),
            Kernel::FoldBatchNorm { conv, .. } => (5 + opt(conv.bias), 2),
            Kernel::BatchNormBackward(_) => (5, 3),
            Kernel::DropoutMask { .. } => (0, 1),
            Kernel::Mask | Kernel::ActBackward(_) | Kernel::SoftmaxBackward | Kernel::Rbf(_) => (2, 1),
            Kernel::Act(_) | Kernel::Softmax | Kernel::ZeroPad(_) | Kernel::Crop(_) => (1, 1),
            Kernel::Scale { .. } | Kernel::Slice { .. } | Kernel::Copy => (1, 1),
            Kernel::Subsample(_) => (3, 1),
            Kernel::SubsampleBackward(_) => (3, 3),
            Kernel::RbfBackward(r) => (3, 1 + opt(r.trainable)),
            Kernel::Add | Kernel::Concat => (given.max(1), 1),
            Kernel::SoftmaxCrossEntropy { .. } => (2, 2),
        }
    }

    /// The fused epilogue the kernel's first output accepts, if any: the generated
    /// kernel applies it to each result element before storing it.
    pub fn epilogue_site(&self) -> Option<EpilogueSite> {
        match self {
            Kernel::Conv(_)
            | Kernel::Dense(_)
            | Kernel::Add
            | Kernel::Subsample(_)
            | Kernel::Pool(_)
            | Kernel::GlobalAvgPool
            | Kernel::BatchNormTrain(_)
            | Kernel::BatchNormEval(_) => Some(EpilogueSite::Forward),
            Kernel::ConvBackwardData(_)
            | Kernel::DenseBackwardData(_)
            | Kernel::SubsampleBackward(_)
            | Kernel::PoolBackward(_)
            | Kernel::GlobalAvgPoolBackward
            | Kernel::BatchNormBackward(_)
            | Kernel::RbfBackward(_)
            | Kernel::Mask
            | Kernel::Crop(_)
            | Kernel::Slice { .. } => Some(EpilogueSite::DataGradient),
            Kernel::ConvBackwardWeight(_)
            | Kernel::DenseBackwardWeight(_)
            | Kernel::FoldBatchNorm { .. }
            | Kernel::Lrn(_)
            | Kernel::LrnBackward(_)
            | Kernel::DropoutMask { .. }
            | Kernel::Act(_)
            | Kernel::ActBackward(_)
            | Kernel::Softmax
            | Kernel::SoftmaxBackward
            | Kernel::Rbf(_)
            | Kernel::ZeroPad(_)
            | Kernel::Scale { .. }
            | Kernel::Concat
            | Kernel::Copy
            | Kernel::SoftmaxCrossEntropy { .. } => None,
        }
    }

    /// The epilogue site this element-wise kernel can be folded into, if it can: an
    /// activation or a scaling (one input), a binary addition (the other summand becomes
    /// an extra operand), an activation's gradient (its `y` becomes the extra operand).
    pub fn fuses_into(&self) -> Option<EpilogueSite> {
        match self {
            Kernel::Act(_) | Kernel::Scale { .. } | Kernel::Add => Some(EpilogueSite::Forward),
            Kernel::ActBackward(_) => Some(EpilogueSite::DataGradient),
            Kernel::Conv(_)
            | Kernel::ConvBackwardData(_)
            | Kernel::ConvBackwardWeight(_)
            | Kernel::Pool(_)
            | Kernel::PoolBackward(_)
            | Kernel::GlobalAvgPool
            | Kernel::GlobalAvgPoolBackward
            | Kernel::Dense(_)
            | Kernel::DenseBackwardData(_)
            | Kernel::DenseBackwardWeight(_)
            | Kernel::BatchNormTrain(_)
            | Kernel::BatchNormEval(_)
            | Kernel::FoldBatchNorm { .. }
            | Kernel::BatchNormBackward(_)
            | Kernel::Lrn(_)
            | Kernel::LrnBackward(_)
            | Kernel::DropoutMask { .. }
            | Kernel::Mask
            | Kernel::Softmax
            | Kernel::SoftmaxBackward
            | Kernel::Subsample(_)
            | Kernel::SubsampleBackward(_)
            | Kernel::Rbf(_)
            | Kernel::RbfBackward(_)
            | Kernel::ZeroPad(_)
            | Kernel::Crop(_)
            | Kernel::Concat
            | Kernel::Slice { .. }
            | Kernel::Copy
            | Kernel::SoftmaxCrossEntropy { .. } => None,
        }
    }

    /// Whether operand `k` (inputs, then outputs, then epilogue operands; `inputs` is the
    /// number of inputs) may be a channel slice of a larger tensor, that is, be read or
    /// written with a batch stride larger than its sample. This is what lets a branch
    /// write straight into its place in a concatenation.
    pub fn slice_ok(&self, k: usize, inputs: usize) -> bool {
        let output = k >= inputs;
        match self {
            Kernel::Conv(_) => k == 0 || output,
            Kernel::ConvBackwardWeight(_) => k == 1,
            Kernel::ConvBackwardData(_) => output,
            Kernel::Act(_)
            | Kernel::ActBackward(_)
            | Kernel::Add
            | Kernel::Scale { .. }
            | Kernel::Copy
            | Kernel::Pool(_) => true,
            Kernel::PoolBackward(_)
            | Kernel::GlobalAvgPool
            | Kernel::GlobalAvgPoolBackward
            | Kernel::Dense(_)
            | Kernel::DenseBackwardData(_)
            | Kernel::DenseBackwardWeight(_)
            | Kernel::BatchNormTrain(_)
            | Kernel::BatchNormEval(_)
            | Kernel::FoldBatchNorm { .. }
            | Kernel::BatchNormBackward(_)
            | Kernel::Lrn(_)
            | Kernel::LrnBackward(_)
            | Kernel::DropoutMask { .. }
            | Kernel::Mask
            | Kernel::Softmax
            | Kernel::SoftmaxBackward
            | Kernel::Subsample(_)
            | Kernel::SubsampleBackward(_)
            | Kernel::Rbf(_)
            | Kernel::RbfBackward(_)
            | Kernel::ZeroPad(_)
            | Kernel::Crop(_)
            | Kernel::Concat
            | Kernel::Slice { .. }
            | Kernel::SoftmaxCrossEntropy { .. } => false,
        }
    }
}
