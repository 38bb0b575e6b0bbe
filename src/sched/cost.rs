//! Multiply-accumulates of a planned step, from its kernel and operand shapes: the
//! numerator of the GFLOP/s that `netc bench --profile` reports per layer.

use super::PlannedStep;
use crate::autodiff::Kernel;

/// MACs of the convolution or dense arithmetic in a step (0 for other kernels). The
/// backward kernels do as many MACs as the forward one they differentiate.
pub fn step_macs(s: &PlannedStep) -> u128 {
    let dims = |k: usize, out: bool| if out { &s.spec.outputs[k].dims } else { &s.spec.inputs[k].dims };
    match &s.spec.kernel {
        Kernel::Conv(c) | Kernel::ConvBackwardData(c) | Kernel::ConvBackwardWeight(c) => {
            // The gradient of y (dy) or y itself carries the output geometry.
            let y = match s.spec.kernel {
                Kernel::Conv(_) => dims(0, true),
                _ => dims(0, false),
            };
            let (n, oh, ow) = (y[0] as u128, y[2] as u128, y[3] as u128);
            n * oh * ow * u128::from(c.links()) * u128::from(c.window.kh * c.window.kw)
        }
        Kernel::Dense(d) | Kernel::DenseBackwardData(d) | Kernel::DenseBackwardWeight(d) => {
            let n = dims(0, false)[0] as u128;
            n * u128::from(d.in_features) * u128::from(d.out_features)
        }
        _ => 0,
    }
}

/// True for the convolution kernels (forward and backward).
pub fn is_conv(k: &Kernel) -> bool {
    matches!(k, Kernel::Conv(_) | Kernel::ConvBackwardData(_) | Kernel::ConvBackwardWeight(_))
}
