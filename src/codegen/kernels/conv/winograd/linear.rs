//! The transforms' small matrix products (Bᵀ·d, Aᵀ·m, A·y, G·g) in few vector
//! operations.
//!
//! Row by row, a matrix times t vectors costs one operation per non-zero
//! coefficient past the first (F(4×4)'s Bᵀ: 22 per column of six). The matrices
//! of the points 0, ±1, ±2, ∞ have two kinds of structure that [`apply`] finds and
//! uses:
//! - column pairs whose coefficients agree or differ only in sign in every row
//!   (Aᵀ's columns 1, 2 and 3, 4): x_k + x_l and x_k − x_l are formed once, and
//!   each row reads one of them instead of both inputs;
//! - row pairs that share a part and differ in the sign of the rest (Bᵀ's rows
//!   1, 2 and 3, 4, and A's): the shared part S and the rest F are summed once,
//!   the rows are S + F and S − F (or S ± k·F′ when F = k·F′ has a simpler F′).
//!
//! Each sum starts from a term of coefficient 1 where there is one, so it costs
//! no multiply. Operation counts (the tests below): F(4×4)'s Bᵀ 12 per column
//! instead of 22, Aᵀ 10 instead of 14, A 8 instead of 12, G 9 instead of 13;
//! F(2×2)'s Bᵀ 4 instead of 5; F(6×6)'s Bᵀ 24 per column of eight, Aᵀ 20, A 18,
//! G 12. The sums are regrouped, so results differ from the
//! row-by-row order by rounding (the Winograd accuracy tests bound both).
//!
//! Generic over [`Arith`] so that the same factoring emits JIT code ([`V4`]) and
//! is checked in f64 with operation counts.

use cranelift_codegen::ir::Value;

use crate::codegen::simd::V4;

/// The operations a factored product is built from.
pub(super) trait Arith {
    type V: Copy;
    fn add(&mut self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(&mut self, a: Self::V, b: Self::V) -> Self::V;
    /// `k·x`.
    fn scale(&mut self, k: f32, x: Self::V) -> Self::V;
    /// `a + k·x` (one fused multiply-add where the machine has it).
    fn add_scaled(&mut self, a: Self::V, k: f32, x: Self::V) -> Self::V;
    fn zero(&mut self) -> Self::V;
}

impl Arith for V4<'_, '_> {
    type V = Value;
    fn add(&mut self, a: Value, b: Value) -> Value {
        V4::add(self, a, b)
    }
    fn sub(&mut self, a: Value, b: Value) -> Value {
        V4::sub(self, a, b)
    }
    fn scale(&mut self, k: f32, x: Value) -> Value {
        let k = self.splat(k);
        self.mul(k, x)
    }
    fn add_scaled(&mut self, a: Value, k: f32, x: Value) -> Value {
        let k = self.splat(k);
        self.mul_add(k, x, a)
    }
    fn zero(&mut self) -> Value {
        self.splat(0.0)
    }
}

/// `rows · xs`: one value per row.
pub(super) fn apply<A: Arith, R: AsRef<[f32]>>(a: &mut A, rows: &[R], xs: &[A::V]) -> Vec<A::V> {
    let mut rows: Vec<Vec<f32>> = rows.iter().map(|r| r.as_ref()[..xs.len()].to_vec()).collect();
    let mut xs = xs.to_vec();
    pair_columns(a, &mut rows, &mut xs);
    let mut out: Vec<Option<A::V>> = vec![None; rows.len()];
    for p in pair_rows(&rows) {
        let (s, f) = (sum(a, &p.shared, &xs), sum(a, &p.rest, &xs));
        out[p.i] = Some(combine(a, s, p.k, f));
        out[p.j] = Some(combine(a, s, -p.k, f));
    }
    rows.iter().zip(out).map(|(r, o)| o.unwrap_or_else(|| sum(a, &terms(r), &xs))).collect()
}

/// A row's non-zero coefficients: (input, coefficient).
type Terms = Vec<(usize, f32)>;

fn terms(row: &[f32]) -> Terms {
    row.iter().enumerate().filter(|(_, &c)| c != 0.0).map(|(k, &c)| (k, c)).collect()
}

/// Operations [`sum`] spends on `t`.
fn cost(t: &Terms) -> usize {
    match t.len() {
        0 => 0,
        n => n - 1 + usize::from(!t.iter().any(|&(_, c)| c == 1.0)),
    }
}

/// Σ c·x over the terms, from a term of coefficient 1 where there is one.
fn sum<A: Arith>(a: &mut A, t: &Terms, xs: &[A::V]) -> A::V {
    let first = t.iter().position(|&(_, c)| c == 1.0).unwrap_or(0);
    let Some(&(x0, c0)) = t.get(first) else { return a.zero() };
    let mut acc = if c0 == 1.0 { xs[x0] } else { a.scale(c0, xs[x0]) };
    for (_, &(x, c)) in t.iter().enumerate().filter(|&(i, _)| i != first) {
        acc = combine(a, acc, c, xs[x]);
    }
    acc
}

/// `s + k·f`.
fn combine<A: Arith>(a: &mut A, s: A::V, k: f32, f: A::V) -> A::V {
    match k {
        1.0 => a.add(s, f),
        -1.0 => a.sub(s, f),
        _ => a.add_scaled(s, k, f),
    }
}

/// Replaces columns k, l whose coefficients have equal magnitudes in every row by
/// new inputs x_k + x_l (for the rows where they agree) and x_k − x_l (where they
/// differ in sign), where that saves operations.
fn pair_columns<A: Arith>(a: &mut A, rows: &mut [Vec<f32>], xs: &mut Vec<A::V>) {
    let n = xs.len();
    for k in 0..n {
        for l in k + 1..n {
            if !rows.iter().all(|r| r[k].abs() == r[l].abs()) {
                continue;
            }
            let agree = |r: &Vec<f32>, sign: f32| r[k] != 0.0 && r[k] == sign * r[l];
            let counts = [1.0, -1.0].map(|s| rows.iter().filter(|r| agree(r, s)).count());
            // Each such row saves an operation; each new input costs one.
            let new_inputs = counts.iter().filter(|&&c| c > 0).count();
            if counts[0] + counts[1] <= new_inputs {
                continue;
            }
            for (sign, count) in [1.0, -1.0].into_iter().zip(counts) {
                if count == 0 {
                    continue;
                }
                xs.push(combine(a, xs[k], sign, xs[l]));
                for r in rows.iter_mut() {
                    let c = if agree(r, sign) { r[k] } else { 0.0 };
                    r.push(c);
                }
            }
            for r in rows.iter_mut() {
                r[k] = 0.0;
                r[l] = 0.0;
            }
        }
    }
}

/// Rows i and j = S + k·F and S − k·F.
struct RowPair {
    i: usize,
    j: usize,
    shared: Terms,
    rest: Terms,
    k: f32,
}

/// The row pairs worth computing from a shared part, each row in one pair at most.
fn pair_rows(rows: &[Vec<f32>]) -> Vec<RowPair> {
    let mut used = vec![false; rows.len()];
    let mut pairs = Vec::new();
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            let (ri, rj) = (&rows[i], &rows[j]);
            if used[i] || used[j] || !ri.iter().zip(rj).all(|(x, y)| x.abs() == y.abs()) {
                continue;
            }
            let shared: Terms = terms(ri).into_iter().filter(|&(x, c)| rj[x] == c).collect();
            let rest: Terms = terms(ri).into_iter().filter(|&(x, c)| rj[x] == -c).collect();
            if shared.is_empty() || rest.is_empty() {
                continue;
            }
            let (k, rest) = factor(rest);
            if cost(&shared) + cost(&rest) + 2 < cost(&terms(ri)) + cost(&terms(rj)) {
                used[i] = true;
                used[j] = true;
                pairs.push(RowPair { i, j, shared, rest, k });
            }
        }
    }
    pairs
}

/// F as k·F′ with a coefficient of F′ equal to 1: k = 1 or −1 where F has such a
/// coefficient, else F's first coefficient if every quotient is exact.
fn factor(f: Terms) -> (f32, Terms) {
    let k = [1.0, -1.0].into_iter().find(|&k| f.iter().any(|&(_, c)| c == k)).unwrap_or(f[0].1);
    let exact = f.iter().all(|&(_, c)| (c / k) * k == c && f64::from(c / k) == f64::from(c) / f64::from(k));
    if !exact {
        return (1.0, f);
    }
    (k, f.into_iter().map(|(x, c)| (x, c / k)).collect())
}

#[cfg(test)]
mod tests {
    use super::super::{F2, F4, F6};
    use super::*;

    /// Evaluates in f64 and counts operations.
    struct Count(usize);

    impl Arith for Count {
        type V = f64;
        fn add(&mut self, a: f64, b: f64) -> f64 {
            self.0 += 1;
            a + b
        }
        fn sub(&mut self, a: f64, b: f64) -> f64 {
            self.0 += 1;
            a - b
        }
        fn scale(&mut self, k: f32, x: f64) -> f64 {
            self.0 += 1;
            f64::from(k) * x
        }
        fn add_scaled(&mut self, a: f64, k: f32, x: f64) -> f64 {
            self.0 += 1;
            a + f64::from(k) * x
        }
        fn zero(&mut self) -> f64 {
            0.0
        }
    }

    /// The product's values (against the plain sums, in f64) and its operation count.
    fn check(rows: &[Vec<f32>]) -> usize {
        let n = rows[0].len();
        let mut count = Count(0);
        for seed in 0..5u32 {
            let xs: Vec<f64> = (0..n).map(|k| f64::from((k as u32 * 7 + seed * 13) % 11) - 5.3).collect();
            let got = apply(&mut count, rows, &xs);
            for (r, g) in rows.iter().zip(&got) {
                let want: f64 = r.iter().zip(&xs).map(|(&c, x)| f64::from(c) * x).sum();
                let norm: f64 = r.iter().zip(&xs).map(|(&c, x)| (f64::from(c) * x).abs()).sum();
                assert!((g - want).abs() <= 1e-12 * norm.max(1.0), "{r:?}: {g} against {want}");
            }
        }
        count.0 / 5
    }

    fn owned(m: &[&[f32]]) -> Vec<Vec<f32>> {
        m.iter().map(|r| r.to_vec()).collect()
    }

    fn transposed(m: &[&[f32]]) -> Vec<Vec<f32>> {
        (0..m[0].len()).map(|k| m.iter().map(|r| r[k]).collect()).collect()
    }

    #[test]
    fn the_transforms_take_the_counted_operations_and_keep_their_values() {
        assert_eq!(check(&owned(F4.bt)), 12);
        assert_eq!(check(&owned(F4.at)), 10);
        assert_eq!(check(&transposed(F4.at)), 8);
        assert_eq!(check(&owned(F4.g)), 9);
        assert_eq!(check(&owned(F2.bt)), 4);
        assert_eq!(check(&owned(F2.at)), 4);
        assert_eq!(check(&transposed(F2.at)), 3);
        assert_eq!(check(&owned(F2.g)), 4);
        assert_eq!(check(&owned(F6.bt)), 24);
        assert_eq!(check(&owned(F6.at)), 20);
        assert_eq!(check(&transposed(F6.at)), 18);
        assert_eq!(check(&owned(F6.g)), 12);
    }

    #[test]
    fn matrices_without_structure_cost_what_rows_cost() {
        // Row by row: 2 (no coefficient 1), 1, 0, and a zero row.
        let m = vec![vec![2.0, 3.0, 0.0], vec![1.0, 0.0, 5.0], vec![0.0, 1.0, 0.0], vec![0.0; 3]];
        assert_eq!(check(&m), 3);
        // Equal-magnitude rows that would not gain keep the plain sums.
        assert_eq!(check(&[vec![1.0, 1.0], vec![1.0, -1.0]]), 2);
    }
}
