//! Initialisers chosen in the source (`conv(64, 3, init = he_normal)`, `bias_init = 0.1`,
//! `bn(gamma_init = 0)`): kept beside the graph, per node, for `train::initialise`. A layer
//! without a choice keeps netc's per-kind default.

use super::{Graph, NodeId};

/// How a convolution's or dense layer's weights start. fan_in and fan_out are the
/// weight's inputs and outputs per unit (times the kernel area for a convolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightInit {
    /// U(±√(6/(fan_in + fan_out))) (Glorot & Bengio 2010; Keras' default).
    GlorotUniform,
    /// N(0, 2/(fan_in + fan_out)).
    GlorotNormal,
    /// U(±√(6/fan_in)) (He et al. 2015).
    HeUniform,
    /// N(0, 2/fan_in).
    HeNormal,
    /// U(±√(3/fan_in)) (LeCun et al. 1998).
    LecunUniform,
    /// N(0, 1/fan_in).
    LecunNormal,
    /// All 0.
    Zeros,
    /// All 1.
    Ones,
}

/// The names `init =` accepts, aliases included.
pub const WEIGHT_INITS: &[(&str, WeightInit)] = &[
    ("glorot_uniform", WeightInit::GlorotUniform),
    ("glorot_normal", WeightInit::GlorotNormal),
    ("xavier_uniform", WeightInit::GlorotUniform),
    ("xavier_normal", WeightInit::GlorotNormal),
    ("he_uniform", WeightInit::HeUniform),
    ("he_normal", WeightInit::HeNormal),
    ("kaiming_uniform", WeightInit::HeUniform),
    ("kaiming_normal", WeightInit::HeNormal),
    ("lecun_uniform", WeightInit::LecunUniform),
    ("lecun_normal", WeightInit::LecunNormal),
    ("zeros", WeightInit::Zeros),
    ("ones", WeightInit::Ones),
];

impl WeightInit {
    pub fn named(name: &str) -> Option<WeightInit> {
        WEIGHT_INITS.iter().find(|(n, _)| *n == name).map(|(_, w)| *w)
    }

    /// Whether values are drawn from a normal distribution (else uniform or constant).
    pub fn is_normal(self) -> bool {
        matches!(self, WeightInit::GlorotNormal | WeightInit::HeNormal | WeightInit::LecunNormal)
    }

    /// The variance of the values for a weight with these fans (0 for the constants).
    pub fn variance(self, fan_in: f64, fan_out: f64) -> f64 {
        match self {
            WeightInit::GlorotUniform | WeightInit::GlorotNormal => 2.0 / (fan_in + fan_out),
            WeightInit::HeUniform | WeightInit::HeNormal => 2.0 / fan_in,
            WeightInit::LecunUniform | WeightInit::LecunNormal => 1.0 / fan_in,
            WeightInit::Zeros | WeightInit::Ones => 0.0,
        }
    }
}

/// What the source chose for one layer; `None` fields keep the default.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LayerInit {
    /// Convolution and dense weights.
    pub weight: Option<WeightInit>,
    /// Convolution and dense biases: a constant.
    pub bias: Option<f64>,
    /// Batch norm's γ: a constant.
    pub gamma: Option<f64>,
    /// Batch norm's β: a constant.
    pub beta: Option<f64>,
}

impl Graph {
    /// Records the source's initialisers for `node`.
    pub fn set_init(&mut self, node: NodeId, init: LayerInit) {
        if init != LayerInit::default() {
            self.inits.push((node, init));
        }
    }

    /// The source's initialisers for `node` (all `None` if it chose none).
    pub fn init(&self, node: NodeId) -> LayerInit {
        self.inits.iter().find(|(n, _)| *n == node).map(|(_, i)| *i).unwrap_or_default()
    }
}
