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

/// The predicted class of one sample: the highest score, or the smallest distance.
pub fn predict(scores: &[f32], distances: bool) -> usize {
    let better = |a: f32, b: f32| if distances { a < b } else { a > b };
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if better(s, scores[best]) {
            best = i;
        }
    }
    best
}

/// Cross-entropy (softmax over the scores, or over negated distances) and accuracy of a batch.
pub fn tally(scores: &[f32], labels: &[u8], classes: usize, distances: bool) -> Tally {
    let mut t = Tally { count: labels.len(), ..Tally::default() };
    for (row, &label) in scores.chunks_exact(classes).zip(labels) {
        let z: Vec<f64> = row.iter().map(|&s| if distances { -f64::from(s) } else { f64::from(s) }).collect();
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        t.loss_sum += lse - z[label as usize];
        t.correct += usize::from(predict(row, distances) == label as usize);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_scores_cost_ln_classes() {
        let t = tally(&[0.0; 6], &[1, 2], 3, false);
        assert!((t.loss() - 3f64.ln()).abs() < 1e-12);
        assert_eq!(predict(&[1.0, 3.0, 2.0], false), 1);
        assert_eq!(predict(&[1.0, 3.0, 0.5], true), 2);
    }
}
