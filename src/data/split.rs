//! Choosing which files of an image folder go to which split: `--val-split` and
//! `--limit`.
//!
//! Consumes: a scanned [`Tree`], a fraction and a seed, or a list of labelled files
//! and a count. Produces: labelled file lists in dataset order (class by class, each
//! class in its scan order).
//!
//! Guarantees: both are stratified and deterministic. `--val-split F` takes from
//! every class `round(F · n)` of its `n` files for the test split, at least 1 and at
//! most `n − 1` when `n ≥ 2` (a class of one file stays in training), chosen by a
//! shuffle seeded by `(seed, class)`: the same seed and files give the same split on
//! every machine, and adding a class does not move the others' files. `--limit N`
//! keeps the first `N` files of a round-robin over the classes (the first file of
//! every class, then the second, …), so a small limit still sees every class.

use std::path::PathBuf;

use crate::data::error::DataError;
use crate::data::folder::Tree;
use crate::data::rng::{mix_seed, Rng};

/// A file and its label.
pub type Item = (PathBuf, u16);

/// Every file of `tree`, class by class.
pub fn items(tree: &Tree) -> Vec<Item> {
    let mut out = Vec::new();
    for (label, class) in tree.classes.iter().enumerate() {
        out.extend(class.files.iter().map(|f| (f.clone(), label as u16)));
    }
    out
}

/// Checks a `--val-split` fraction.
pub fn check_fraction(fraction: f64) -> Result<(), DataError> {
    if fraction.is_finite() && fraction > 0.0 && fraction < 1.0 {
        Ok(())
    } else {
        Err(DataError::InvalidOption {
            what: format!("--val-split must be between 0 and 1 (e.g. 0.2 for 20% test images), not {fraction}"),
        })
    }
}

/// Splits `tree` into (train, test), stratified per class.
pub fn val_split(tree: &Tree, fraction: f64, seed: u64) -> Result<(Vec<Item>, Vec<Item>), DataError> {
    check_fraction(fraction)?;
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (label, class) in tree.classes.iter().enumerate() {
        let n = class.files.len();
        let take = if n >= 2 { ((fraction * n as f64).round() as usize).clamp(1, n - 1) } else { 0 };
        let mut order: Vec<usize> = (0..n).collect();
        Rng::new(mix_seed(seed ^ 0x7a11_5911_7000_0000, label as u64)).shuffle(&mut order);
        let mut to_test = vec![false; n];
        for &i in &order[..take] {
            to_test[i] = true;
        }
        for (file, &t) in class.files.iter().zip(&to_test) {
            let item = (file.clone(), label as u16);
            if t {
                test.push(item);
            } else {
                train.push(item);
            }
        }
    }
    Ok((train, test))
}

/// The first `n` items of a round-robin over the classes, in dataset order.
pub fn limit_stratified(items: Vec<Item>, n: usize) -> Vec<Item> {
    if items.len() <= n {
        return items;
    }
    // Rank of each item within its class (items are class by class).
    let mut rank = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashMap::<u16, usize>::new();
    for (_, label) in &items {
        let r = seen.entry(*label).or_insert(0);
        rank.push(*r);
        *r += 1;
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (rank[i], items[i].1));
    let mut keep: Vec<usize> = order[..n].to_vec();
    keep.sort_unstable();
    let mut wanted = vec![false; items.len()];
    for i in keep {
        wanted[i] = true;
    }
    items.into_iter().zip(wanted).filter_map(|(item, w)| w.then_some(item)).collect()
}
