//! Loss, accuracy, ranks and probabilities from class scores, computed on the host in f64
//! so that every engine is measured the same way.
//!
//! Scores come in three kinds ([`ScoreKind`]): logits (larger is better), probabilities from
//! a final softmax (larger is better), and LeNet-5's RBF distances (smaller is better). Every
//! function here takes the kind, so that a prediction, a rank or a top-k list never
//! mistakes a distance for a score. Ties go to the lower class index, everywhere.
//!
//! A binary output's single value per sample (its logit z, or σ(z)) is read as two class
//! scores: logits [0, z] (whose softmax is [1 − σ(z), σ(z)], so the cross-entropy is the
//! binary cross-entropy) or probabilities [1 − p, p]. Class 1 is predicted when σ(z) > 0.5
//! (z > 0); exactly 0.5 goes to class 0, the lower index.

/// Sums over a batch: cross-entropy and correct predictions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub loss_sum: f64,
    pub correct: usize,
    pub count: usize,
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
        self.count += other.count;
    }
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.count.max(1) as f64
    }
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.count.max(1) as f64
    }
}

use crate::autodiff::ScoreKind;
use std::borrow::Cow;

/// The scores of one sample as one score per class: a binary output's value becomes two
/// (see the module's documentation); other kinds are returned as they are.
pub fn per_class(scores: &[f32], kind: ScoreKind) -> (Cow<'_, [f32]>, ScoreKind) {
    match (kind, scores) {
        (ScoreKind::BinaryLogit, &[z]) => (Cow::Owned(vec![0.0, z]), ScoreKind::Logits),
        (ScoreKind::BinaryProbability, &[p]) => (Cow::Owned(vec![1.0 - p, p]), ScoreKind::Probabilities),
        _ => (Cow::Borrowed(scores), kind),
    }
}

/// The order of classes `i` and `j` by score, best first, ties to the lower index. A total
/// order (−0 equals +0; NaN, which callers refuse, sorts consistently), so sorting by it
/// never panics.
fn order(scores: &[f32], i: usize, j: usize, kind: ScoreKind) -> std::cmp::Ordering {
    // Adding +0 turns −0 into +0, which `total_cmp` would otherwise put below it.
    let (a, b) = (scores[i] + 0.0, scores[j] + 0.0);
    let by_score = if kind == ScoreKind::Distances { a.total_cmp(&b) } else { b.total_cmp(&a) };
    by_score.then(i.cmp(&j))
}

/// The predicted class of one sample: the highest score, or the smallest distance.
pub fn predict(scores: &[f32], kind: ScoreKind) -> usize {
    let (scores, kind) = per_class(scores, kind);
    let scores = &scores[..];
    (0..scores.len()).min_by(|&i, &j| order(scores, i, j, kind)).unwrap_or(0)
}

/// The rank of class `label` among the scores, from 0 (the prediction): how many classes
/// rank before it. It is in the top k exactly when its rank is below k, and rank 0 agrees
/// with [`predict`].
pub fn rank(scores: &[f32], label: usize, kind: ScoreKind) -> usize {
    let (scores, kind) = per_class(scores, kind);
    let scores = &scores[..];
    (0..scores.len()).filter(|&i| order(scores, i, label, kind).is_lt()).count()
}

/// The `k` best classes of one sample, best first (all of them if there are fewer).
pub fn top_k(scores: &[f32], k: usize, kind: ScoreKind) -> Vec<usize> {
    let (scores, kind) = per_class(scores, kind);
    let scores = &scores[..];
    let mut classes: Vec<usize> = (0..scores.len()).collect();
    let cmp = |i: &usize, j: &usize| order(scores, *i, *j, kind);
    let k = k.min(classes.len());
    if k > 0 && k < classes.len() {
        classes.select_nth_unstable_by(k - 1, cmp);
    }
    classes.truncate(k);
    classes.sort_by(cmp);
    classes
}

/// The scores as logits of a softmax: logits as they are, negated distances (the loss of
/// training does the same), and ln p for probabilities (the softmax of ln p is p again).
fn as_logits(scores: &[f32], kind: ScoreKind) -> Vec<f64> {
    scores
        .iter()
        .map(|&s| match kind {
            ScoreKind::Logits | ScoreKind::BinaryLogit => f64::from(s),
            ScoreKind::Distances => -f64::from(s),
            ScoreKind::Probabilities | ScoreKind::BinaryProbability => f64::from(s).max(f64::MIN_POSITIVE).ln(),
        })
        .collect()
}

/// ln Σ exp z, computed without overflow.
fn log_sum_exp(z: &[f64]) -> f64 {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// The class probabilities of one sample: the softmax of logits, the softmax of negated
/// distances (as the training loss reads them), or a final softmax's outputs as they are.
pub fn probabilities(scores: &[f32], kind: ScoreKind) -> Vec<f64> {
    if kind == ScoreKind::BinaryProbability {
        return scores.iter().flat_map(|&p| [1.0 - f64::from(p), f64::from(p)]).collect();
    }
    let (scores, kind) = per_class(scores, kind);
    let scores = &scores[..];
    if kind == ScoreKind::Probabilities {
        return scores.iter().map(|&p| f64::from(p)).collect();
    }
    let z = as_logits(scores, kind);
    let lse = log_sum_exp(&z);
    z.iter().map(|v| (v - lse).exp()).collect()
}

/// Cross-entropy (softmax over logits or negated distances; −ln p for probabilities),
/// with label smoothing `eps` (see [`smoothed_cross_entropy`]; 0 for none), and accuracy
/// of a batch: `scores` holds [`ScoreKind::width`] values per label.
pub fn tally(scores: &[f32], labels: &[u16], classes: usize, kind: ScoreKind, eps: f64) -> Tally {
    let mut t = Tally { count: labels.len(), ..Tally::default() };
    for (row, &label) in scores.chunks_exact(kind.width(classes)).zip(labels) {
        t.loss_sum += if eps == 0.0 {
            cross_entropy(row, label as usize, kind)
        } else {
            smoothed_cross_entropy(row, label as usize, kind, eps)
        };
        t.correct += usize::from(predict(row, kind) == label as usize);
    }
    t
}

/// −ln p(label) of one sample.
pub fn cross_entropy(scores: &[f32], label: usize, kind: ScoreKind) -> f64 {
    let (scores, kind) = per_class(scores, kind);
    let scores = &scores[..];
    let z = as_logits(scores, kind);
    log_sum_exp(&z) - z[label]
}

/// −Σ_k q_k·ln p_k of one sample over its K classes, with q = (1 − ε)·onehot(label) + ε/K:
/// the training loss with label smoothing ε, computed as lse − (1 − ε)·`z[label]` − (ε/K)·Σ z
/// on the scores read as logits.
pub fn smoothed_cross_entropy(scores: &[f32], label: usize, kind: ScoreKind, eps: f64) -> f64 {
    let (scores, kind) = per_class(scores, kind);
    let z = as_logits(&scores, kind);
    let k = z.len() as f64;
    log_sum_exp(&z) - (1.0 - eps) * z[label] - eps / k * z.iter().sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_scores_cost_ln_classes() {
        let t = tally(&[0.0; 6], &[1, 2], 3, ScoreKind::Logits, 0.0);
        assert!((t.loss() - 3f64.ln()).abs() < 1e-12);
        let p = tally(&[0.25, 0.5, 0.25], &[1], 3, ScoreKind::Probabilities, 0.0);
        assert!((p.loss() - 2f64.ln()).abs() < 1e-12);
        assert_eq!(predict(&[1.0, 3.0, 2.0], ScoreKind::Logits), 1);
        assert_eq!(predict(&[1.0, 3.0, 0.5], ScoreKind::Distances), 2);
    }
}
