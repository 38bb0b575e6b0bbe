//! Loss and accuracy from class scores, computed on the host in f64 so that every
//! engine is measured the same way.

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

/// The predicted class of one sample: the highest score, or the smallest distance.
pub fn predict(scores: &[f32], kind: ScoreKind) -> usize {
    let better = |a: f32, b: f32| if kind == ScoreKind::Distances { a < b } else { a > b };
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if better(s, scores[best]) {
            best = i;
        }
    }
    best
}

/// Cross-entropy (softmax over logits or negated distances; −ln p for probabilities)
/// and accuracy of a batch.
pub fn tally(scores: &[f32], labels: &[u16], classes: usize, kind: ScoreKind) -> Tally {
    let mut t = Tally { count: labels.len(), ..Tally::default() };
    for (row, &label) in scores.chunks_exact(classes).zip(labels) {
        let z: Vec<f64> = row
            .iter()
            .map(|&s| match kind {
                ScoreKind::Logits => f64::from(s),
                ScoreKind::Distances => -f64::from(s),
                // ln p as logits: the softmax of ln p is p again.
                ScoreKind::Probabilities => f64::from(s).max(f64::MIN_POSITIVE).ln(),
            })
            .collect();
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        t.loss_sum += lse - z[label as usize];
        t.correct += usize::from(predict(row, kind) == label as usize);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_scores_cost_ln_classes() {
        let t = tally(&[0.0; 6], &[1, 2], 3, ScoreKind::Logits);
        assert!((t.loss() - 3f64.ln()).abs() < 1e-12);
        let p = tally(&[0.25, 0.5, 0.25], &[1], 3, ScoreKind::Probabilities);
        assert!((p.loss() - 2f64.ln()).abs() < 1e-12);
        assert_eq!(predict(&[1.0, 3.0, 2.0], ScoreKind::Logits), 1);
        assert_eq!(predict(&[1.0, 3.0, 0.5], ScoreKind::Distances), 2);
    }
}
