//! Tensor shapes. The batch dimension is implicit (symbolic) everywhere.

use std::fmt;

/// The shape of one sample: a C×H×W feature map, or a flat vector of features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    Map { c: u64, h: u64, w: u64 },
    Flat(u64),
}

impl Shape {
    pub fn map(c: u64, h: u64, w: u64) -> Shape {
        Shape::Map { c, h, w }
    }

    /// Channels of a map, features of a flat vector.
    pub fn channels(&self) -> u64 {
        match *self {
            Shape::Map { c, .. } => c,
            Shape::Flat(n) => n,
        }
    }

    /// (H, W); a flat vector counts as 1×1.
    pub fn spatial(&self) -> (u64, u64) {
        match *self {
            Shape::Map { h, w, .. } => (h, w),
            Shape::Flat(_) => (1, 1),
        }
    }

    /// Elements per sample, or `None` if that overflows u64.
    pub fn numel(&self) -> Option<u64> {
        match *self {
            Shape::Map { c, h, w } => c.checked_mul(h)?.checked_mul(w),
            Shape::Flat(n) => Some(n),
        }
    }

    /// Dimensions as a list: `[C, H, W]` or `[N]`.
    pub fn dims(&self) -> Vec<u64> {
        match *self {
            Shape::Map { c, h, w } => vec![c, h, w],
            Shape::Flat(n) => vec![n],
        }
    }

    /// True for a map whose spatial size is 1×1, or a flat vector: dense layers accept both.
    pub fn is_vector_like(&self) -> bool {
        self.spatial() == (1, 1)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shape::Map { c, h, w } => write!(f, "{c}×{h}×{w}"),
            Shape::Flat(n) => write!(f, "{n}"),
        }
    }
}
