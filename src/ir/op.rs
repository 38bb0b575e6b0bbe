//! The operations of the graph, one parameter struct per op.
//!
//! Every number an op needs is explicit and resolved: `pad = same` has become four
//! paddings, kernels are (kh, kw), and ops that own parameters record the input
//! channels or features they were built for, so that their parameter tensors
//! ([`Op::params`]) are known without looking at the graph.

use std::sync::Arc;

/// Zero padding on each side of a feature map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pad2d {
    pub top: u64,
    pub bottom: u64,
    pub left: u64,
    pub right: u64,
}

impl Pad2d {
    pub fn uniform(p: u64) -> Pad2d {
        Pad2d { top: p, bottom: p, left: p, right: p }
    }
    pub fn is_zero(&self) -> bool {
        *self == Pad2d::default()
    }
    pub fn is_uniform(&self) -> bool {
        self.top == self.bottom && self.bottom == self.left && self.left == self.right
    }
}

/// `zeropad`: zeros added around a feature map, in front of and behind its channels and
/// on the four sides of each plane. Channel padding gives the option-A shortcuts of the
/// CIFAR ResNets (He et al. 2015, Sec. 4.2): extra channels that are all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ZeroPad {
    /// Zero channels before the first channel of the input.
    pub channels_before: u64,
    /// Zero channels after its last channel.
    pub channels_after: u64,
    /// Zero rows and columns around every plane.
    pub spatial: Pad2d,
}

impl ZeroPad {
    /// Spatial padding only.
    pub fn spatial(spatial: Pad2d) -> ZeroPad {
        ZeroPad { spatial, ..ZeroPad::default() }
    }

    /// Padding in channels only.
    pub fn channels(before: u64, after: u64) -> ZeroPad {
        ZeroPad { channels_before: before, channels_after: after, spatial: Pad2d::default() }
    }

    /// The padded size of a c×h×w map, or `None` if a size overflows.
    pub fn padded(&self, c: u64, h: u64, w: u64) -> Option<(u64, u64, u64)> {
        let grow = |n: u64, a: u64, b: u64| n.checked_add(a)?.checked_add(b);
        let p = &self.spatial;
        Some((
            grow(c, self.channels_before, self.channels_after)?,
            grow(h, p.top, p.bottom)?,
            grow(w, p.left, p.right)?,
        ))
    }
}

/// A sliding window: kernel size, stride and padding, shared by convolution and pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub kh: u64,
    pub kw: u64,
    pub sh: u64,
    pub sw: u64,
    pub pad: Pad2d,
}

/// For each output channel, the input channels it reads (LeNet-5's C3 table).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnTable {
    pub inputs: Vec<Vec<u32>>,
}

impl ConnTable {
    /// Number of (output, input) channel pairs that are connected.
    pub fn links(&self) -> u64 {
        self.inputs.iter().map(|v| v.len() as u64).sum()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    pub in_c: u64,
    pub out_c: u64,
    pub window: Window,
    pub groups: u64,
    pub bias: bool,
    /// When present, replaces `groups`: output channel o reads only `table.inputs[o]`.
    pub table: Option<Arc<ConnTable>>,
}

impl Conv {
    /// The same layer as a dense one, when the kernel covers the whole unpadded input
    /// (a 1×1 output, like LeNet-5's C5): its weights [out, in, kh, kw] are already a dense
    /// layer's [out, in·kh·kw] over the input flattened in C×H×W order.
    pub fn as_dense(&self, input: (u64, u64)) -> Option<Dense> {
        let full = input == (self.window.kh, self.window.kw) && self.window.pad.is_zero();
        (full && self.groups == 1 && self.table.is_none()).then(|| Dense {
            in_features: self.in_c * self.window.kh * self.window.kw,
            out_features: self.out_c,
            bias: self.bias,
        })
    }

    /// Connected (output, input) channel pairs: out·in/groups, or the table's links.
    pub fn links(&self) -> u64 {
        match &self.table {
            Some(t) => t.links(),
            None => self.out_c * (self.in_c / self.groups),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolKind {
    Max,
    Avg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool {
    pub kind: PoolKind,
    pub window: Window,
    /// Round the output size up (Caffe, PyTorch `ceil_mode`); windows that would
    /// start inside the right/bottom padding are dropped, as both do.
    pub ceil: bool,
    /// Average pooling: whether padded zeros count in the divisor (PyTorch `count_include_pad`).
    pub count_pad: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dense {
    pub in_features: u64,
    pub out_features: u64,
    pub bias: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNorm {
    pub channels: u64,
    pub eps: f64,
    pub momentum: f64,
}

/// Local response normalisation across channels, as in AlexNet and Caffe:
/// b = a / (k + alpha/size · Σ a²)^beta over `size` neighbouring channels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lrn {
    pub size: u64,
    pub alpha: f64,
    pub beta: f64,
    pub k: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    Relu,
    /// x for x > 0, slope·x otherwise, with 0 ≤ slope < 1 (so y > 0 exactly when x > 0,
    /// which lets the gradient be taken from the output).
    LeakyRelu {
        slope: f64,
    },
    Tanh,
    Sigmoid,
    /// a·tanh(s·x); LeNet-5 uses a = 1.7159, s = 2/3.
    ScaledTanh {
        a: f64,
        s: f64,
    },
}

impl Act {
    /// The activation's name in the language (`relu`, `scaled_tanh`).
    pub fn name(&self) -> &'static str {
        match self {
            Act::Relu => "relu",
            Act::LeakyRelu { .. } => "leaky_relu",
            Act::Tanh => "tanh",
            Act::Sigmoid => "sigmoid",
            Act::ScaledTanh { .. } => "scaled_tanh",
        }
    }
}

impl std::fmt::Display for Act {
    /// The name, with the parameters of parameterised activations: `scaled_tanh(1.7159, 0.6667)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Act::ScaledTanh { a, s } => write!(f, "scaled_tanh({a}, {s:.4})"),
            Act::LeakyRelu { slope } => write!(f, "leaky_relu({slope})"),
            other => f.write_str(other.name()),
        }
    }
}

/// LeNet-5's trainable subsampling: each k×k block is summed, multiplied by one
/// coefficient per map and shifted by one bias per map (stride k).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subsample {
    pub channels: u64,
    pub k: u64,
}

/// LeNet-5's Euclidean RBF output: y_j = Σ_i (x_i − w_ji)², one centre per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rbf {
    pub in_features: u64,
    pub classes: u64,
    pub trainable: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Input,
    Conv(Conv),
    Pool(Pool),
    GlobalAvgPool,
    Dense(Dense),
    Flatten,
    BatchNorm(BatchNorm),
    Lrn(Lrn),
    Dropout { p: f64 },
    Act(Act),
    Softmax,
    Subsample(Subsample),
    Rbf(Rbf),
    ZeroPad(ZeroPad),
    Scale { factor: f64 },
    Add,
    Concat,
}

impl Op {
    /// Short kind name, used for automatic layer names and the report's op column.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Conv(_) => "conv",
            Op::Pool(p) if p.kind == PoolKind::Max => "maxpool",
            Op::Pool(_) => "avgpool",
            Op::GlobalAvgPool => "gap",
            Op::Dense(_) => "dense",
            Op::Flatten => "flatten",
            Op::BatchNorm(_) => "bn",
            Op::Lrn(_) => "lrn",
            Op::Dropout { .. } => "dropout",
            Op::Act(a) => a.name(),
            Op::Softmax => "softmax",
            Op::Subsample(_) => "subsample",
            Op::Rbf(_) => "rbf",
            Op::ZeroPad(_) => "zeropad",
            Op::Scale { .. } => "scale",
            Op::Add => "add",
            Op::Concat => "cat",
        }
    }

    /// The window of convolutions and poolings.
    pub fn window(&self) -> Option<&Window> {
        match self {
            Op::Conv(c) => Some(&c.window),
            Op::Pool(p) => Some(&p.window),
            _ => None,
        }
    }
}
