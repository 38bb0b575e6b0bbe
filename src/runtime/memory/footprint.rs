//! What running a program will allocate, computed before anything is: parameter
//! tensors, the JIT's arena for a batch size (planned exactly, as the engine will),
//! and the reference executor's buffers. All arithmetic is 128-bit, so an absurd
//! batch size or net gives a huge number to refuse, never an overflow.

use crate::autodiff::{ParamInfo, Program, Role};
use crate::ir::ParamKind;
use crate::sched;

/// Bytes of one f32.
const F32: u128 = 4;

/// Planning at a batch whose buffers, unshared, exceed this many bytes is not
/// attempted (the planner's offsets are `usize`); such a batch cannot fit anywhere.
const PLANNABLE: u128 = 1 << 48;

/// A byte count, exact or a lower bound (for programs too large to plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes {
    pub bytes: u128,
    pub at_least: bool,
}

impl Bytes {
    pub fn exact(bytes: u128) -> Bytes {
        Bytes { bytes, at_least: false }
    }
}

impl std::ops::Add for Bytes {
    type Output = Bytes;
    fn add(self, o: Bytes) -> Bytes {
        Bytes { bytes: self.bytes.saturating_add(o.bytes), at_least: self.at_least || o.at_least }
    }
}

impl std::iter::Sum for Bytes {
    fn sum<I: Iterator<Item = Bytes>>(it: I) -> Bytes {
        it.fold(Bytes::exact(0), |a, b| a + b)
    }
}

fn elements(dims: &[usize]) -> u128 {
    dims.iter().fold(1u128, |a, &d| a.saturating_mul(d as u128))
}

/// Bytes of all parameter and state tensors, and of the trainable ones alone (the size
/// of the gradients and of each optimizer moment).
pub fn parameters(params: &[ParamInfo]) -> (u128, u128) {
    let all = params.iter().map(|p| elements(&p.dims) * F32).sum();
    let trainable = params.iter().filter(|p| p.kind == ParamKind::Trainable).map(|p| elements(&p.dims) * F32).sum();
    (all, trainable)
}

/// The buffers a program keeps outside the parameter store (views share their target's).
fn own_buffers(program: &Program) -> impl Iterator<Item = &crate::autodiff::Buffer> {
    program.buffers.iter().filter(|b| b.alias.is_none() && !matches!(b.role, Role::Param(_) | Role::ParamGrad(_)))
}

fn floats(b: &crate::autodiff::Buffer, n: usize) -> u128 {
    elements(&b.dims).saturating_mul(if b.batched { n as u128 } else { 1 })
}

/// Bytes of the reference executor's buffers for batches of `n` (it shares nothing).
pub fn executor(program: &Program, n: usize) -> Bytes {
    Bytes::exact(own_buffers(program).map(|b| floats(b, n) * F32).sum())
}

/// Bytes of the JIT's arena for batches of exactly `n`: the planner's figure, plus the
/// alignment slack of the allocation.
pub fn arena(program: &Program, n: usize) -> Bytes {
    // Each buffer is rounded up to 16 floats in the arena.
    let unshared: u128 = own_buffers(program).map(|b| floats(b, n).div_ceil(16) * 16 * F32).sum();
    if unshared > PLANNABLE {
        // The biggest buffer is always there whole: a lower bound.
        let biggest = own_buffers(program).map(|b| floats(b, n) * F32).max().unwrap_or(0);
        return Bytes { bytes: biggest, at_least: true };
    }
    let plan = sched::plan(program, n, sched::Options::default());
    Bytes::exact((plan.arena_len.next_multiple_of(16) as u128 + 15) * F32)
}

/// The largest batch below `below` whose batch-dependent bytes `need(n)` fit in
/// `room`, if even batch 1 does. `need` is close to linear in the batch, so a linear
/// estimate from batches 1 and 2 comes first; then the exact figures bracket the
/// answer (stepping by an eighth) and a bisection finds it.
pub fn largest_batch(room: u128, below: usize, need: &dyn Fn(usize) -> Bytes) -> Option<usize> {
    let fits = |n: usize| {
        let b = need(n);
        !b.at_least && b.bytes <= room
    };
    if below <= 1 || !fits(1) {
        return None;
    }
    let (one, two) = (need(1).bytes, need(2).bytes);
    let per = two.saturating_sub(one).max(1);
    let guess = (1 + (room - one) / per).min(below as u128 - 1) as usize;
    // `lo` fits, `hi` does not (or is `below`).
    let (mut lo, mut hi) = (1, below);
    let mut n = guess.max(1);
    if fits(n) {
        lo = n;
        while lo < below - 1 {
            n = (lo + (lo / 8).max(1)).min(below - 1);
            if !fits(n) {
                hi = n;
                break;
            }
            lo = n;
        }
    } else {
        hi = n;
        while n > 1 {
            n -= (n / 8).max(1);
            if fits(n) {
                lo = n;
                break;
            }
            hi = n;
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_batch_is_checked() {
        // 100 bytes fixed, 10 per sample, with a bump at 50 that the linear guess misses.
        let need = |n: usize| Bytes::exact(100 + 10 * n as u128 + if n >= 50 { 1000 } else { 0 });
        assert_eq!(largest_batch(700, 1000, &need), Some(49));
        assert_eq!(largest_batch(2000, 1000, &need), Some(90));
        // Sub-linear growth: the guess is low, the search goes up.
        let sub = |n: usize| Bytes::exact(100 + if n <= 2 { 20 * n as u128 } else { 8 * n as u128 });
        assert_eq!(largest_batch(1000, 1000, &sub), Some(112));
        assert_eq!(largest_batch(2000, 20, &need), Some(19));
        assert_eq!(largest_batch(105, 1000, &need), None);
        let sum: Bytes = [Bytes::exact(3), Bytes { bytes: 4, at_least: true }].into_iter().sum();
        assert_eq!(sum, Bytes { bytes: 7, at_least: true });
    }
}
