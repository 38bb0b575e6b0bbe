//! Optimizer update rules and their reference arithmetic, applied to one tensor at a
//! time. The trainer owns the optimizer state; engines apply the rule (the JIT with
//! compiled kernels that must match this code).
//!
//! - SGD: w ← w − lr·(g + wd·w).
//! - Momentum (PyTorch's SGD with momentum μ): m ← μ·m + g + wd·w; w ← w − lr·m.
//! - Adam (Kingma & Ba 2015) with bias correction and decoupled weight decay (AdamW,
//!   Loshchilov & Hutter 2019): m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
//!   w ← w − lr·((m/(1−β1^t)) / (√(v/(1−β2^t)) + ε) + wd·w).

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    Sgd,
    Momentum { mu: f32 },
    Adam { beta1: f32, beta2: f32, eps: f32 },
}

/// Hyper-parameters of one update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub lr: f32,
    pub weight_decay: f32,
    /// Updates applied so far, this one included (Adam's bias correction).
    pub t: u64,
}

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
            let t = s.t.min(i32::MAX as u64) as i32;
            let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
            for (((w, g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                *w -= lr * ((*m / c1) / ((*v / c2).sqrt() + eps) + wd * *w);
            }
        }
    }
}
