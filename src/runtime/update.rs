//! Optimizer update rules and their reference arithmetic, applied to one tensor at a
//! time. The trainer owns the optimizer state; engines apply the rule (the JIT with
//! compiled kernels that must match this code).
//!
//! - SGD: w ← w − lr·(g + wd·w).
//! - Momentum (PyTorch's SGD with momentum μ): m ← μ·m + g + wd·w; w ← w − lr·m.
//! - Nesterov momentum (PyTorch's `SGD(nesterov=True)`, Sutskever et al. 2013 in the
//!   form of Bengio et al. 2012): d ← g + wd·w; m ← μ·m + d; w ← w − lr·(d + μ·m).
//! - Adam (Kingma & Ba 2015) with bias correction and decoupled weight decay (AdamW,
//!   Loshchilov & Hutter 2019): m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
//!   w ← w − lr·((m/(1−β1^t)) / (√(v/(1−β2^t)) + ε) + wd·w).
//! - RMSprop as TensorFlow 1's `RMSPropOptimizer` (Tieleman & Hinton 2012), `v` the mean
//!   square (starting at 1, as in TensorFlow) and `m` the momentum buffer, ρ the decay:
//!   d ← g + wd·w; v ← ρ·v + (1−ρ)·d·d; m ← μ·m + lr·d/√(v + ε); w ← w − m.
//!   ε is inside the square root, and the rate multiplies the gradient before it enters
//!   the buffer (a rate change acts on new gradients only), unlike PyTorch's RMSprop
//!   (ε outside the root, lr applied to the buffer).
//!
//! The expressions are evaluated in f32, left to right as written (`μ·m + d + e` is
//! `(μ·m + d) + e`), without fused multiply-adds; the JIT's kernels do the same.

pub use crate::autodiff::update::{Rule, Step};

/// Updates `w` from `g`, with moment buffers `m` and `v` (empty when the rule has none).
pub fn apply(rule: Rule, s: Step, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    let (lr, wd) = (s.lr, s.weight_decay);
    match rule {
        Rule::Sgd => w.iter_mut().zip(g).for_each(|(w, g)| *w -= lr * (g + wd * *w)),
        Rule::Momentum { mu } => {
            for ((w, g), m) in w.iter_mut().zip(g).zip(m) {
                *m = mu * *m + g + wd * *w;
                *w -= lr * *m;
            }
        }
        Rule::Nesterov { mu } => {
            for ((w, g), m) in w.iter_mut().zip(g).zip(m) {
                let d = g + wd * *w;
                *m = mu * *m + d;
                *w -= lr * (d + mu * *m);
            }
        }
        Rule::RmsProp { decay, momentum, eps } => {
            for (((w, g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                let d = g + wd * *w;
                *v = decay * *v + (1.0 - decay) * d * d;
                *m = momentum * *m + lr * d / (*v + eps).sqrt();
                *w -= *m;
            }
        }
        Rule::Adam { beta1, beta2, eps } => {
            let (c1, c2) = rule.bias_corrections(s.t);
            for (((w, g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                *w -= lr * ((*m / c1) / ((*v / c2).sqrt() + eps) + wd * *w);
            }
        }
    }
}
