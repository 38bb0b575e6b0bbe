//! Ranks, top-k lists, probabilities and the evaluation counts, against cases computed by
//! hand: for every kind of score (logits, a final softmax's probabilities, LeNet-5's RBF
//! distances, where the smallest wins), with ties, negative zero and NaN.

use netc::autodiff::ScoreKind::{self, Distances, Logits, Probabilities};
use netc::train::evaluation::{ClassCounts, Confusion, Evaluation};
use netc::train::metrics::{cross_entropy, predict, probabilities, rank, top_k};

/// Equal within what f32 inputs allow (ln 2 as an f32 is off by about 2e-8).
fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-7)
}

#[test]
fn top_k_follows_the_kind_of_score() {
    // Ties go to the lower index, as in `predict`.
    assert_eq!(top_k(&[1.0, 3.0, 2.0, 3.0], 3, Logits), vec![1, 3, 2]);
    assert_eq!(top_k(&[0.2, 0.5, 0.3], 5, Probabilities), vec![1, 2, 0]);
    // Distances: the nearest centre first.
    assert_eq!(top_k(&[0.5, 0.1, 0.9, 0.1], 2, Distances), vec![1, 3]);
    assert_eq!(top_k(&[0.5, 0.1, 0.9, 0.1], 4, Distances), vec![1, 3, 0, 2]);
    assert_eq!(top_k(&[0.5, 0.1], 0, Distances), Vec::<usize>::new());
    // −0 and +0 are equal scores: the lower index wins, everywhere.
    assert_eq!(top_k(&[0.0, -0.0], 2, Logits), vec![0, 1]);
    assert_eq!(top_k(&[-0.0, 0.0], 2, Logits), vec![0, 1]);
    assert_eq!(predict(&[0.0, -0.0, -1.0], Logits), 0);
    // NaN (which callers refuse) must not make sorting panic.
    assert_eq!(top_k(&[f32::NAN, 1.0, f32::NAN, 0.0], 4, Logits).len(), 4);
}

#[test]
fn ranks_agree_with_predict_and_top_k() {
    let cases: [(&[f32], ScoreKind); 4] = [
        (&[0.5, 0.1, 0.9, 0.1, 0.3], Distances),
        (&[1.0, 3.0, 2.0, 3.0, -1.0], Logits),
        (&[0.1, 0.2, 0.2, 0.4, 0.1], Probabilities),
        (&[2.0, 2.0, 2.0, 2.0, 2.0], Logits),
    ];
    for (scores, kind) in cases {
        let order = top_k(scores, scores.len(), kind);
        assert_eq!(order[0], predict(scores, kind), "{scores:?} {kind:?}");
        for (r, &class) in order.iter().enumerate() {
            assert_eq!(rank(scores, class, kind), r, "{scores:?} {kind:?} class {class}");
        }
    }
    assert_eq!(rank(&[0.5, 0.1, 0.9, 0.1, 0.3], 2, Distances), 4);
    assert_eq!(rank(&[0.5, 0.1, 0.9, 0.1, 0.3], 3, Distances), 1);
}

#[test]
fn probabilities_by_hand() {
    // softmax(0, ln 2, ln 3) = (1, 2, 3) / 6.
    let l = [0.0, 2f32.ln(), 3f32.ln()];
    assert!(close(&probabilities(&l, Logits), &[1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0]));
    // Distances are negated: softmax(−0, −ln 2) = (2, 1) / 3.
    assert!(close(&probabilities(&[0.0, 2f32.ln()], Distances), &[2.0 / 3.0, 1.0 / 3.0]));
    // A final softmax's outputs are the probabilities already.
    assert_eq!(probabilities(&[0.25, 0.75], Probabilities), vec![0.25, 0.75]);
    // Large logits do not overflow.
    let p = probabilities(&[1000.0, 1001.0], Logits);
    let e = std::f64::consts::E;
    assert!(close(&p, &[1.0 / (1.0 + e), e / (1.0 + e)]), "{p:?}");
    // The loss is −ln p of the label, for each kind.
    assert!((cross_entropy(&l, 2, Logits) - 2f64.ln()).abs() < 1e-6);
    assert!((cross_entropy(&[0.0, 2f32.ln()], 1, Distances) - 3f64.ln()).abs() < 1e-6);
    assert!((cross_entropy(&[0.25, 0.75], 0, Probabilities) - 4f64.ln()).abs() < 1e-12);
}

/// A row of `n` logits in which class `label` has rank `r` (classes before it score higher).
fn row_with_rank(n: usize, label: usize, r: usize) -> Vec<f32> {
    let others: Vec<usize> = (0..n).filter(|&c| c != label).collect();
    let mut row = vec![0f32; n];
    // Others in index order get scores n, n−1, …; the label slots in after r of them.
    for (k, &c) in others.iter().enumerate() {
        row[c] = (n - k) as f32 + if k < r { 1.0 } else { 0.0 };
    }
    row[label] = (n - r) as f32 + 0.5;
    row
}

#[test]
fn evaluation_counts_by_hand() {
    // Ten classes: top-5 is reported. Labels and the rank each gets:
    // class 0: ranks 0, 4, 5; class 3: rank 0; class 9: ranks 1, 9.
    let samples = [(0u8, 0), (0, 4), (0, 5), (3, 0), (9, 1), (9, 9)];
    let mut scores = Vec::new();
    for &(label, r) in &samples {
        let row = row_with_rank(10, label as usize, r);
        assert_eq!(rank(&row, label as usize, Logits), r, "{row:?}");
        scores.extend(row);
    }
    let labels: Vec<u8> = samples.iter().map(|s| s.0).collect();
    let mut e = Evaluation::new(10);
    // In two batches, with u8 and u16 labels alike.
    e.add(&scores[..30], &labels[..3], Logits);
    let wide: Vec<u16> = labels[3..].iter().map(|&l| u16::from(l)).collect();
    e.add(&scores[30..], &wide, Logits);
    assert_eq!((e.tally.count, e.tally.correct, e.top5_correct), (6, 2, 4));
    assert!((e.top1() - 2.0 / 6.0).abs() < 1e-12);
    assert!((e.top5().unwrap() - 4.0 / 6.0).abs() < 1e-12);
    assert_eq!(e.per_class[0], ClassCounts { count: 3, correct: 1, top5: 2 });
    assert_eq!(e.per_class[3], ClassCounts { count: 1, correct: 1, top5: 1 });
    assert_eq!(e.per_class[9], ClassCounts { count: 2, correct: 0, top5: 1 });
    assert_eq!(e.per_class[5].accuracy(), None);
    // The wrong ones were taken for each row's best class.
    let wrong: Vec<(usize, usize)> = samples
        .iter()
        .zip(scores.chunks(10))
        .filter(|((_, r), _)| *r > 0)
        .map(|((l, _), row)| (*l as usize, predict(row, Logits)))
        .collect();
    let mut expect: std::collections::BTreeMap<(usize, usize), usize> = Default::default();
    for w in &wrong {
        *expect.entry(*w).or_default() += 1;
    }
    let got: std::collections::BTreeMap<(usize, usize), usize> =
        e.confusions().iter().map(|c| ((c.truth, c.predicted), c.count)).collect();
    assert_eq!(got, expect);
    for ((t, p), n) in expect {
        assert_eq!(e.cell(t, p), n);
    }
    assert_eq!(e.cell(0, 0), 1);
}

#[test]
fn distances_are_evaluated_smallest_first() {
    // Three classes, RBF distances: the nearest centre is the prediction.
    let scores = [0.1, 2.0, 3.0, /* label 1 */ 0.5, 0.4, 0.1, /* label 2 */ 9.0, 8.0, 0.0];
    let mut e = Evaluation::new(3);
    e.add(&scores, &[0u8, 1, 2], Distances);
    assert_eq!((e.tally.correct, e.top5()), (2, None));
    assert_eq!(e.confusions(), vec![Confusion { truth: 1, predicted: 2, count: 1 }]);
    // The loss reads negated distances, as training does.
    // −ln(e^−d_l / Σ e^−d) = ln Σ e^−d + d_l.
    let by_hand = |d: [f64; 3], l: usize| d.iter().map(|x| (-x).exp()).sum::<f64>().ln() + d[l];
    let expect = by_hand([0.1, 2.0, 3.0], 0) + by_hand([0.5, 0.4, 0.1], 1) + by_hand([9.0, 8.0, 0.0], 2);
    assert!((e.tally.loss_sum - expect).abs() < 1e-6, "{} vs {expect}", e.tally.loss_sum);
}

#[test]
fn equal_scores_cost_ln_classes() {
    let mut e = Evaluation::new(10);
    e.add(&[0.0; 20], &[3u8, 0], Logits);
    assert!((e.tally.loss() - 10f64.ln()).abs() < 1e-12);
    // All tied: class 0 is predicted, so label 0 is right and label 3 ranks 3rd… 4th.
    assert_eq!((e.tally.correct, e.top5_correct), (1, 2));
    assert_eq!(e.confusions(), vec![Confusion { truth: 3, predicted: 0, count: 1 }]);
}
