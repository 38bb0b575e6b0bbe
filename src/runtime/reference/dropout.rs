//! Dropout masks, generated on the host so that every engine draws the same ones.
//!
//! Consumes a drop probability p and the triple (seed, step, stream); produces a mask
//! of 0 (with probability p) and 1/(1 − p) (otherwise), so that x·mask keeps the
//! expectation of x. Guarantees: the mask is a pure function of its arguments and the
//! mask's length, identical on every platform and for f32 and f64 (up to rounding of
//! 1/(1 − p)); element i depends only on the first i + 1 draws.

use super::Real;
use crate::data::rng::{mix_seed, Rng};

/// Fills `mask` with 0 (probability `p`) or 1/(1 − p), deterministically from
/// (`seed`, `step`, `stream`): element i is dropped when the i-th uniform draw of the
/// generator seeded by `mix_seed(mix_seed(seed, step), stream)` is below p.
pub fn dropout_mask<T: Real>(p: f64, seed: u64, step: u64, stream: u64, mask: &mut [T]) {
    let mut rng = Rng::new(mix_seed(mix_seed(seed, step), stream));
    let keep = T::from_f64(1.0 / (1.0 - p));
    for m in mask {
        *m = if rng.next_f64() < p { T::zero() } else { keep };
    }
}
