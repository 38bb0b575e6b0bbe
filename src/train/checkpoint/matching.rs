//! Matching a file's tensor names with the net's: PyTorch buffers netc does not use,
//! and "did you mean" suggestions for names that differ.

/// PyTorch's batch norms count their updates in `NAME.num_batches_tracked` (an int64
/// scalar). netc's batch norm has no use for it (its momentum is fixed), so such a
/// tensor is ignored when the net has the batch norm `NAME`.
pub(super) fn is_unused_buffer(name: &str, has: impl Fn(&str) -> bool) -> bool {
    name.strip_suffix(".num_batches_tracked").is_some_and(|layer| has(&format!("{layer}.running_mean")))
}

/// The candidate closest to `name` by edit distance, if close enough to be a likely
/// intended name (at most a third of the name's length, and at least 1 edit apart).
pub(super) fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates.map(|c| (distance(name, c), c)).filter(|&(d, _)| d <= limit).min_by_key(|&(d, _)| d).map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb)).min(row[j] + 1).min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_suggestions() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        let names = ["layer1.0.downsample.0.weight", "layer1.0.conv1.weight"];
        assert_eq!(closest("layer1.0.downsample.conv.weight", names.iter().copied()), Some(names[0]));
        assert_eq!(closest("fc.weight", names.iter().copied()), None);
        assert!(is_unused_buffer("bn1.num_batches_tracked", |n| n == "bn1.running_mean"));
        assert!(!is_unused_buffer("bn2.num_batches_tracked", |n| n == "bn1.running_mean"));
    }
}
