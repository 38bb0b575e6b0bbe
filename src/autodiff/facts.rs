//! What the engines and the planner need to know about each kernel, answered in one
//! place: how many operands it takes, which fused epilogue its result accepts, whether
//! it can itself be fused into its producer, and which operands may be a channel slice
//! of a larger tensor. They are one table, a row per kernel, in an exhaustive match: a new
//! [`Kernel`] variant does not compile until its row is written.
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

/// Which operands may be a channel slice of a larger tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slices {
    None,
    All,
    Outputs,
    FirstInputAndOutputs,
    SecondInput,
}

/// One kernel's facts: a row of the table in [`Kernel::facts`].
struct Facts {
    /// Inputs; `None` for the variadic kernels (any number from one).
    inputs: Option<usize>,
    outputs: usize,
    /// The epilogue its first output accepts.
    epilogue: Option<EpilogueSite>,
    /// The epilogue it can be folded into, as an element-wise kernel.
    fuses_into: Option<EpilogueSite>,
    slices: Slices,
}

use EpilogueSite::{DataGradient as GRAD, Forward as FWD};

const fn row(inputs: usize, outputs: usize, epilogue: Option<EpilogueSite>, slices: Slices) -> Facts {
    Facts { inputs: Some(inputs), outputs, epilogue, fuses_into: None, slices }
}

/// An element-wise kernel that can be folded into a producer's `site` epilogue.
const fn fusable(inputs: Option<usize>, site: EpilogueSite, epilogue: Option<EpilogueSite>) -> Facts {
    Facts { inputs, outputs: 1, epilogue, fuses_into: Some(site), slices: Slices::All }
}

impl Kernel {
    /// The table: one row per kernel.
    fn facts(&self) -> Facts {
        let opt = |b: bool| usize::from(b);
        match self {
            Kernel::Conv(c) => row(2 + opt(c.bias), 1, Some(FWD), Slices::FirstInputAndOutputs),
            Kernel::ConvBackwardData(_) => row(2, 1, Some(GRAD), Slices::Outputs),
            Kernel::ConvBackwardWeight(c) => row(2, 1 + opt(c.bias), None, Slices::SecondInput),
            Kernel::Dense(d) => row(2 + opt(d.bias), 1, Some(FWD), Slices::None),
            Kernel::DenseBackwardData(_) => row(2, 1, Some(GRAD), Slices::None),
            Kernel::DenseBackwardWeight(d) => row(2, 1 + opt(d.bias), None, Slices::None),
            Kernel::Pool(_) => row(1, 1, Some(FWD), Slices::All),
            Kernel::PoolBackward(_) => row(3, 1, Some(GRAD), Slices::None),
            Kernel::GlobalAvgPool => row(1, 1, Some(FWD), Slices::None),
            Kernel::GlobalAvgPoolBackward => row(1, 1, Some(GRAD), Slices::None),
            Kernel::BatchNormTrain(_) => row(3, 5, Some(FWD), Slices::None),
            Kernel::BatchNormEval(_) => row(5, 1, Some(FWD), Slices::None),
            Kernel::FoldBatchNorm { conv, .. } => row(5 + opt(conv.bias), 2, None, Slices::None),
            Kernel::BatchNormBackward(_) => row(5, 3, Some(GRAD), Slices::None),
            Kernel::Lrn(_) => row(1, 1, None, Slices::None),
            Kernel::LrnBackward(_) => row(3, 1, None, Slices::None),
            Kernel::DropoutMask { .. } => row(0, 1, None, Slices::None),
            Kernel::Mask => row(2, 1, Some(GRAD), Slices::None),
            Kernel::Act(_) => fusable(Some(1), FWD, None),
            Kernel::ActBackward(_) => fusable(Some(2), GRAD, None),
            Kernel::Softmax => row(1, 1, None, Slices::None),
            Kernel::SoftmaxBackward => row(2, 1, None, Slices::None),
            Kernel::Subsample(_) => row(3, 1, Some(FWD), Slices::None),
            Kernel::SubsampleBackward(_) => row(3, 3, Some(GRAD), Slices::None),
            Kernel::Rbf(_) => row(2, 1, None, Slices::None),
            Kernel::RbfBackward(r) => row(3, 1 + opt(r.trainable), Some(GRAD), Slices::None),
            Kernel::ZeroPad(_) => row(1, 1, None, Slices::None),
            Kernel::Crop(_) => row(1, 1, Some(GRAD), Slices::None),
            Kernel::Scale { .. } => fusable(Some(1), FWD, None),
            // A binary addition folds into the producer of one summand (the other becomes
            // an extra operand); any addition accepts an epilogue itself.
            Kernel::Add => fusable(None, FWD, Some(FWD)),
            Kernel::Concat => Facts { inputs: None, ..row(0, 1, None, Slices::None) },
            Kernel::Slice { .. } => row(1, 1, Some(GRAD), Slices::None),
            Kernel::Copy => row(1, 1, None, Slices::All),
            Kernel::SoftmaxCrossEntropy { .. } | Kernel::SigmoidCrossEntropy { .. } => row(2, 2, None, Slices::None),
        }
    }

    /// The numbers of inputs and outputs the kernel takes. `given` is how many inputs a
    /// caller has, which the variadic kernels (`Add`, `Concat`) accept if at least one.
    pub fn arity(&self, given: usize) -> (usize, usize) {
        let f = self.facts();
        (f.inputs.unwrap_or(given.max(1)), f.outputs)
    }

    /// The fused epilogue the kernel's first output accepts, if any: the generated
    /// kernel applies it to each result element before storing it.
    pub fn epilogue_site(&self) -> Option<EpilogueSite> {
        self.facts().epilogue
    }

    /// The epilogue site this element-wise kernel can be folded into, if it can: an
    /// activation or a scaling (one input), a binary addition (the other summand becomes
    /// an extra operand), an activation's gradient (its `y` becomes the extra operand).
    pub fn fuses_into(&self) -> Option<EpilogueSite> {
        self.facts().fuses_into
    }

    /// Whether operand `k` (inputs, then outputs, then epilogue operands; `inputs` is the
    /// number of inputs) may be a channel slice of a larger tensor, that is, be read or
    /// written with a batch stride larger than its sample. This is what lets a branch
    /// write straight into its place in a concatenation.
    pub fn slice_ok(&self, k: usize, inputs: usize) -> bool {
        match self.facts().slices {
            Slices::None => false,
            Slices::All => true,
            Slices::Outputs => k >= inputs,
            Slices::FirstInputAndOutputs => k == 0 || k >= inputs,
            Slices::SecondInput => k == 1,
        }
    }
}
