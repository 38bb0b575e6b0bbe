//! A test pass in detail: loss, top-1 and top-5 accuracy, and per true class how many
//! samples there were, how many were right, and which classes the wrong ones were taken for.
//!
//! Consumes: batches of class scores (any [`ScoreKind`]) with their labels (any unsigned
//! integer type: `u8` today, `u16` for datasets of more than 256 classes). Produces: an
//! [`Evaluation`] of counts; names and layout are the caller's (the CLI renders it).
//! Guarantees: the confusions are held sparsely (only pairs that occur, at most one per
//! wrong sample), so a 1,000-class dataset costs no million-cell matrix; every count is
//! exact; rank 0 is exactly [`super::metrics::predict`]'s class.

use super::metrics::{cross_entropy, rank, Tally};
use crate::autodiff::ScoreKind;
use std::collections::HashMap;

/// Top-5 accuracy is reported from this many classes on (with fewer it is nearly 100%
/// whatever the net does, and says nothing).
pub const TOP5_MIN_CLASSES: usize = 10;

/// Counts of one true class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCounts {
    /// Samples of this class.
    pub count: usize,
    /// Of them, predicted as this class.
    pub correct: usize,
    /// Of them, with this class among the five best scores.
    pub top5: usize,
}

impl ClassCounts {
    /// Top-1 accuracy of the class; `None` when the split has no sample of it.
    pub fn accuracy(&self) -> Option<f64> {
        (self.count > 0).then(|| self.correct as f64 / self.count as f64)
    }
}

/// Samples of class `truth` predicted as `predicted` (another class).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confusion {
    pub truth: usize,
    pub predicted: usize,
    pub count: usize,
}

/// The counts of a test pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Loss, top-1 correct and sample count.
    pub tally: Tally,
    /// Samples whose class is among the five best scores.
    pub top5_correct: usize,
    /// Counts by true class.
    pub per_class: Vec<ClassCounts>,
    /// Wrong predictions by (true class, predicted class).
    confusions: HashMap<(usize, usize), usize>,
}

impl Evaluation {
    pub fn new(classes: usize) -> Evaluation {
        Evaluation {
            tally: Tally::default(),
            top5_correct: 0,
            per_class: vec![ClassCounts::default(); classes],
            confusions: HashMap::new(),
        }
    }

    pub fn classes(&self) -> usize {
        self.per_class.len()
    }

    /// Adds a batch: `scores` holds one row of [`Evaluation::classes`] scores per label (one
    /// value for a binary output, see [`ScoreKind::width`]).
    /// Panics if a label is not below the class count (datasets are checked on loading).
    pub fn add<L: Copy + Into<usize>>(&mut self, scores: &[f32], labels: &[L], kind: ScoreKind) {
        let classes = self.classes();
        for (row, &label) in scores.chunks_exact(kind.width(classes)).zip(labels) {
            let label: usize = label.into();
            let r = rank(row, label, kind);
            self.tally.loss_sum += cross_entropy(row, label, kind);
            self.tally.count += 1;
            let c = &mut self.per_class[label];
            c.count += 1;
            if r == 0 {
                self.tally.correct += 1;
                c.correct += 1;
            } else {
                let predicted = super::metrics::predict(row, kind);
                *self.confusions.entry((label, predicted)).or_insert(0) += 1;
            }
            if r < 5 {
                self.top5_correct += 1;
                c.top5 += 1;
            }
        }
    }

    /// Top-1 accuracy over every sample.
    pub fn top1(&self) -> f64 {
        self.tally.accuracy()
    }

    /// Top-5 accuracy, when the net scores at least [`TOP5_MIN_CLASSES`] classes.
    pub fn top5(&self) -> Option<f64> {
        (self.classes() >= TOP5_MIN_CLASSES).then(|| self.top5_correct as f64 / self.tally.count.max(1) as f64)
    }

    /// Samples of class `truth` predicted as `predicted` (the diagonal is the correct ones).
    pub fn cell(&self, truth: usize, predicted: usize) -> usize {
        if truth == predicted {
            self.per_class[truth].correct
        } else {
            self.confusions.get(&(truth, predicted)).copied().unwrap_or(0)
        }
    }

    /// Every wrong (true, predicted) pair that occurred, the most frequent first (ties by
    /// true class, then predicted class).
    pub fn confusions(&self) -> Vec<Confusion> {
        let mut all: Vec<Confusion> =
            self.confusions.iter().map(|(&(truth, predicted), &count)| Confusion { truth, predicted, count }).collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then(a.truth.cmp(&b.truth)).then(a.predicted.cmp(&b.predicted)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_hand() {
        // Three classes, logits; rows: predicted 0 (label 0), 2 (label 1), 1 (label 1), 0 (label 2).
        let scores = [3.0, 1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 5.0, 1.0, 4.0, 0.0, 1.0];
        let mut e = Evaluation::new(3);
        e.add(&scores, &[0u8, 1, 1, 2], ScoreKind::Logits);
        assert_eq!(e.tally.count, 4);
        assert_eq!(e.tally.correct, 2);
        assert_eq!(e.per_class[1], ClassCounts { count: 2, correct: 1, top5: 2 });
        assert_eq!(e.per_class[2], ClassCounts { count: 1, correct: 0, top5: 1 });
        assert_eq!(e.cell(1, 2), 1);
        assert_eq!(e.cell(2, 0), 1);
        assert_eq!(e.cell(1, 1), 1);
        assert_eq!(e.top5(), None);
        assert_eq!(e.confusions().len(), 2);
    }
}
