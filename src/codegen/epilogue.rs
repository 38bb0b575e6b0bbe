//! Fused GEMM epilogue: what happens to an output element on its final
//! store, so the compiler can fuse a layer's bias and activation into the
//! matmul that produces it instead of making another pass over memory.
//!
//! Consumes: an accumulator vector and, when the epilogue has one, the
//! matching bias vector. Produces: `relu?(acc + bias?)`.
//! Guarantees: applied exactly once per output element, after the whole K
//! sum (and after adding the old C when accumulating); ReLU propagates NaN
//! (`max(0, NaN) = NaN`) so divergence stays visible.

use cranelift_codegen::ir::Value;

use crate::codegen::simd::V4;

/// Optional bias added to every output element on its final store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Bias {
    /// No bias.
    #[default]
    None,
    /// `bias[i]` for row `i` (length M): convolution output channels when
    /// C is channels × pixels.
    PerRow,
    /// `bias[j]` for column `j` (length N): dense layers with C = batch ×
    /// features.
    PerCol,
}

/// Bias and activation fused into the final store of a GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Epilogue {
    /// Which bias vector, if any.
    pub bias: Bias,
    /// Apply `max(0, x)` after the bias.
    pub relu: bool,
}

impl Epilogue {
    /// The identity epilogue: store the sum as is.
    pub const NONE: Epilogue = Epilogue { bias: Bias::None, relu: false };

    /// True when the epilogue changes nothing.
    pub fn is_identity(&self) -> bool {
        self.bias == Bias::None && !self.relu
    }
}

/// Emits the epilogue on one f32x4 of results; `bias` must be `Some` iff
/// the epilogue has a bias.
pub fn emit(v: &mut V4, acc: Value, bias: Option<Value>, relu: bool) -> Value {
    let x = match bias {
        Some(bv) => v.add(acc, bv),
        None => acc,
    };
    if relu {
        let zero = v.splat(0.0);
        // `x` second: `maxps` returns the second operand on NaN.
        v.max(zero, x)
    } else {
        x
    }
}
