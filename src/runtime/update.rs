//! Optimizer update rules and their reference arithmetic, applied to one tensor at a
//! time. The trainer owns the optimizer state; engines apply the rule (the JIT with
//! compiled kernels that must match this code).
//!
//! - SGD: w ← w − lr·(g + wd·w).
//! - Momentum (PyTorch's SGD with momentum μ): m ← μ·m + g + wd·w; w ← w − lr·m.
//! - Adam (Kingma & Ba 2015) with bias correction and decoupled weight decay (AdamW,
//!   Loshchilov & Hutter 2019): m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
//!   w ← w − lr·((m/(1−β1^t)) / (√(v/(1−β2^t)) + ε) + wd·w).

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
