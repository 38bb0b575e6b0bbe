//! Comparing the JIT's values with the reference's: tolerances made of f32 rounding
//! and of how much the net amplifies rounding, measured by the f64 oracle. The test's
//! module docs justify the numbers.

use super::oracle::{max_abs, max_diff, Oracle};

/// Relative rounding allowed for losses (scaled by 1 + |loss|), scores and outputs (by
/// the largest value): sums of up to ~10^4 f32 terms in another order.
pub const VALUE_ROUNDING: f64 = 2e-5;
/// Relative rounding allowed for a gradient or batch statistic (scaled by its L2 norm):
/// their sums run over the batch and every position.
pub const GRADIENT_ROUNDING: f64 = 1e-4;
/// Floor of a gradient's tolerance, relative to the L2 norm of the whole gradient: a
/// tensor whose exact gradient is 0 (a bias before batch norm) holds only the rounding
/// noise of the sums it comes from, whatever its own size.
pub const GRADIENT_FLOOR: f64 = 1e-5;
/// Floor of the tolerance of batch-norm statistics, per element.
pub const STATE_FLOOR: f64 = 1e-6;
/// Relative rounding allowed for an optimizer update: the same formula on the same
/// inputs, only FMA contractions may differ.
pub const UPDATE_ROUNDING: f64 = 1e-6;
/// How many times the rounding the reference shows (or the oracle's sensitivity) the
/// JIT may show.
pub const AMPLIFICATION: f64 = 32.0;

/// How far the f32 reference and the nudged runs are from the f64 answer: the rounding
/// error this net makes of an f32 computation. `pick` selects the values compared.
pub fn ill(want: &[f32], oracle: &Oracle, pick: impl Fn(&super::oracle::Exact) -> &[f64]) -> f64 {
    let exact = pick(&oracle.exact);
    oracle.nudged.iter().fold(max_diff(want, exact), |m, e| m.max(max_diff(exact, pick(e))))
}

fn l2(a: impl Iterator<Item = f64>) -> f64 {
    a.map(|d| d * d).sum::<f64>().sqrt()
}

/// The L2 norm of a tensor.
pub fn norm(v: &[f32]) -> f64 {
    l2(v.iter().map(|&x| f64::from(x)))
}

/// Compares `got` (JIT) with `want` (reference), and keeps the worst ratio seen.
pub struct Compare {
    pub worst: f64,
    /// Per parameter tensor: the largest relative rounding it has shown so far. One
    /// step's rounding is a single sample, which can be lucky; a tensor that has shown
    /// itself ill-conditioned stays so.
    conditioning: Vec<f64>,
}

impl Compare {
    pub fn new(params: usize) -> Compare {
        Compare { worst: 0.0, conditioning: vec![0.0; params] }
    }

    fn record(&mut self, diff: f64, tol: f64) {
        if tol > 0.0 && diff.is_finite() {
            self.worst = self.worst.max(diff / tol);
        }
    }

    /// Element by element: `relative · scale` plus `AMPLIFICATION` times the rounding
    /// the oracle shows (see [`ill`]).
    pub fn values(
        &mut self,
        what: &str,
        got: &[f32],
        want: &[f32],
        ill: f64,
        relative: f64,
        scale: f64,
    ) -> Result<(), String> {
        if got.len() != want.len() {
            return Err(format!("{what}: {} values (jit) vs {} (reference)", got.len(), want.len()));
        }
        let tol = relative * scale + AMPLIFICATION * ill;
        let diff = max_diff(got, want);
        // A NaN or infinite rounding means the f64 answer itself left f32's range.
        let within = diff <= tol || !ill.is_finite() || scale.is_infinite();
        if !within {
            let i =
                got.iter().zip(want).position(|(a, b)| f64::from((a - b).abs()) > tol || (a - b).is_nan()).unwrap_or(0);
            return Err(format!(
                "{what}[{i}]: {} (jit) vs {} (reference), tolerance {tol:.3e} (rounding {ill:.3e})",
                got[i], want[i]
            ));
        }
        self.record(diff, tol);
        Ok(())
    }

    /// Parameter tensor `p` (a gradient or a running statistic) in L2 norm:
    /// `GRADIENT_ROUNDING` plus `AMPLIFICATION` times its conditioning, relative to its
    /// norm, plus `floor`. `exact` and `nudged` are the oracle's values of the tensor.
    pub fn tensor(
        &mut self,
        what: &str,
        p: usize,
        (got, want): (&[f32], &[f32]),
        (exact, nudged): (&[f64], [&[f64]; 2]),
        floor: f64,
    ) -> Result<(), String> {
        let size = norm(want);
        let diff = l2(got.iter().zip(want).map(|(a, b)| f64::from(*a) - f64::from(*b)));
        let rounding = l2(want.iter().zip(exact).map(|(a, e)| f64::from(*a) - e));
        let sensitivity = nudged.iter().map(|s| l2(exact.iter().zip(s.iter()).map(|(e, s)| e - s))).fold(0.0, f64::max);
        let ill = rounding.max(sensitivity);
        if size > 0.0 && ill.is_finite() {
            self.conditioning[p] = self.conditioning[p].max(ill / size);
        }
        let tol = (GRADIENT_ROUNDING + AMPLIFICATION * self.conditioning[p]) * size + floor;
        if std::env::var("NETC_GEN_DEBUG").is_ok() {
            let off = l2(got.iter().zip(exact).map(|(a, e)| f64::from(*a) - e));
            eprintln!("{what}: |jit − ref| {diff:.2e}, |ref − f64| {rounding:.2e}, |jit − f64| {off:.2e}, nudged {sensitivity:.2e}, |ref| {size:.2e}, tolerance {tol:.2e}");
        }
        if diff <= tol || !ill.is_finite() {
            self.record(diff, tol);
            return Ok(());
        }
        let i = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .enumerate()
            .fold((0, 0f32), |m, (i, d)| if d > m.1 { (i, d) } else { m })
            .0;
        Err(format!(
            "{what}: differs by {diff:.3e} in L2 norm, tolerance {tol:.3e} (rounding {ill:.3e}); worst at [{i}]: {} (jit) vs {} (reference)",
            got.get(i).copied().unwrap_or(f32::NAN),
            want.get(i).copied().unwrap_or(f32::NAN)
        ))
    }

    /// The loss and class scores of a training step.
    pub fn step_outputs(
        &mut self,
        k: usize,
        (lj, lr): (f32, f32),
        (zj, zr): (&[f32], &[f32]),
        oracle: &Oracle,
    ) -> Result<(), String> {
        let at = |what: &str| format!("step {k}: {what}");
        self.values(
            &at("loss"),
            &[lj],
            &[lr],
            ill(&[lr], oracle, |e| &e.out),
            VALUE_ROUNDING,
            1.0 + f64::from(lr.abs()),
        )?;
        self.values(&at("scores"), zj, zr, ill(zr, oracle, |e| &e.scores), VALUE_ROUNDING, max_abs(zr).max(1.0))
    }
}
