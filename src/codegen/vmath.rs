//! Vectorised transcendental functions for f32x4, emitted as CLIF.
//!
//! Cranelift has no `exp`/`log`; these emitters build them from range
//! reduction plus polynomials, all in f32x4 lanes, no tables, no branches.
//!
//! Consumes: a [`V4`] emitter and an `f32x4` value. Produces: an `f32x4`.
//! Guarantees (checked by `tests/codegen_vmath.rs` on dense grids against
//! f64 `std`; 1 ulp at 1.0 is 1.19e-7):
//!
//! | fn        | domain of the bound   | measured max error      | asserted bound |
//! |-----------|-----------------------|-------------------------|----------------|
//! | `exp`     | `[-87.33, 88.72]`     | rel 1.0e-7              | rel 2e-7       |
//! | `tanh`    | all finite x          | abs 1.5e-7, rel 1.9e-7  | abs 2e-7, rel 3e-7 |
//! | `sigmoid` | `[-87, +inf)`         | rel 1.5e-7              | rel 3e-7       |
//! | `log`     | `[1.18e-38, 3.4e38]`  | rel 1.7e-7              | rel 3e-7       |
//!
//! (Same bounds with FMA and with the `fmul`+`fadd` fallback.)
//!
//! Defined edge behaviour (no Inf or NaN is ever manufactured from finite
//! input):
//! * `exp(x)` for `x > 88.7228` saturates at about `f32::MAX` (finite); for
//!   `x < -87.3365` (results below the smallest normal) it is exactly 0;
//! * `tanh(±large) = ±1`, `sigmoid(+large) = 1`, `sigmoid(-large) ≈ 0`;
//! * `log(x)` for `x <= 0` (and subnormal `x`) returns `ln(f32::MIN_POSITIVE)`
//!   `≈ -87.3365`, so cross-entropy of a zero probability stays finite;
//!   `log(+inf) ≈ 88.72`;
//! * NaN in, NaN out, for all four.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

use crate::codegen::simd::V4;

/// Lower clamp of `exp`'s argument: `ln(2^-126)`, the smallest normal.
pub const EXP_LO: f32 = -87.336_54;
/// Upper clamp of `exp`'s argument: just below `ln(f32::MAX)`.
pub const EXP_HI: f32 = 88.722_83;

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split so `n * LN2_HI` is exact for |n| <= 256 (9 significant bits).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `e^x`. Cody–Waite reduction `x = n·ln2 + r`, |r| <= ln2/2, then the
/// degree-7 Taylor polynomial of `e^r` (truncation error 7e-9 relative),
/// scaled by `2^n` built in two halves so `n = 128` and `n = -126` stay
/// representable.
pub fn exp(v: &mut V4, x: Value) -> Value {
    let xc = v.clamp(x, EXP_LO, EXP_HI);
    let (log2e, magic) = (v.splat(LOG2E), v.splat(ROUND_MAGIC));
    let t = v.mul_add(xc, log2e, magic);
    let nf = v.sub(t, magic);
    let (hi, lo) = (v.splat(-LN2_HI), v.splat(-LN2_LO));
    let r = v.mul_add(nf, hi, xc);
    let r = v.mul_add(nf, lo, r);
    let p = horner(v, r, &TAYLOR_EXP);
    let (ti, mi) = (v.to_i32(t), v.to_i32(magic));
    let n = v.b.ins().isub(ti, mi);
    let y = scale_pow2(v, p, n);
    // Below the normal range: flush to exactly zero (no denormals).
    let lo_x = v.splat(EXP_LO);
    let under = v.lt_mask(x, lo_x);
    let zero = v.splat(0.0);
    v.select(under, zero, y)
}

/// 1/k! for k = 7 down to 0 (Horner order).
const TAYLOR_EXP: [f32; 8] = [1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0];

/// `p · 2^n` for integer lanes `n` in `[-252, 254]`, as `p · 2^h · 2^(n-h)`
/// with `h = n >> 1`, so each factor is a normal float.
fn scale_pow2(v: &mut V4, p: Value, n: Value) -> Value {
    let h = v.b.ins().sshr_imm_s(n, 1);
    let l = v.b.ins().isub(n, h);
    let s1 = pow2(v, h);
    let s2 = pow2(v, l);
    let y = v.mul(p, s1);
    v.mul(y, s2)
}

/// `2^k` for integer lanes `k` in `[-126, 127]`, by writing the exponent.
fn pow2(v: &mut V4, k: Value) -> Value {
    let bias = v.isplat(127);
    let e = v.b.ins().iadd(k, bias);
    let bits = v.b.ins().ishl_imm_s(e, 23);
    v.to_f32(bits)
}

/// Evaluates `c[0]·r^(n-1) + ... + c[n-1]` by Horner's rule.
fn horner(v: &mut V4, r: Value, c: &[f32]) -> Value {
    let mut p = v.splat(c[0]);
    for &ci in &c[1..] {
        let k = v.splat(ci);
        p = v.mul_add(p, r, k);
    }
    p
}

/// Above this |x|, tanh(x) rounds to ±1 in f32 (1 − tanh(9) ≈ 3e-8 < half an ulp).
const TANH_SAT: f32 = 9.0;
/// Taylor coefficients of `(e^r − 1)/r`, `1/7!` down to `1/1!` (Horner order);
/// the truncation error for |r| ≤ ln2/2 is below 2e-8 relative.
const EXPM1_SERIES: [f32; 7] = [1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0];

/// `tanh(x) = −m/(2 + m)` with `m = e^(−2|x|) − 1`, sign restored last.
///
/// `m` is an `expm1`: with `−2|x| = n·ln2 + r`, `m = 2^n·(e^r − 1) + (2^n − 1)`
/// where `e^r − 1 = r·Q(r)` keeps full relative accuracy near zero, so one formula
/// covers small and large |x| (no series branch, no select); |x| is clamped to
/// [`TANH_SAT`] so `n` stays in `[−26, 0]` and one exponent write builds `2^n`.
/// About 20 vector operations and one division: tanh is the epilogue of every
/// layer of LeNet-5, so its cost shows.
pub fn tanh(v: &mut V4, x: Value) -> Value {
    tanh_n(v, &[x])[0]
}

/// [`tanh`] of several vectors, emitted operation by operation across all of them.
/// One tanh is a chain of ~20 dependent operations; emitted one after the other (a
/// register tile's epilogue, compiled without re-scheduling) the chains leave the
/// FP pipes idle on their latencies, while interleaved chains fill them.
pub fn tanh_n(v: &mut V4, xs: &[Value]) -> Vec<Value> {
    let each = |v: &mut V4, a: &[Value], f: &dyn Fn(&mut V4, Value) -> Value| -> Vec<Value> {
        a.iter().map(|&x| f(v, x)).collect()
    };
    let ax = each(v, xs, &|v, x| v.abs(x));
    // A NaN `ax` passes the clamp (second operand of `minps`) and stays NaN.
    let sat = v.splat(TANH_SAT);
    let ax = each(v, &ax, &|v, x| v.min(sat, x));
    let m2 = v.splat(-2.0);
    let arg = each(v, &ax, &|v, x| v.mul(x, m2));
    let (log2e, magic) = (v.splat(LOG2E), v.splat(ROUND_MAGIC));
    let t = each(v, &arg, &|v, x| v.mul_add(x, log2e, magic));
    let nf = each(v, &t, &|v, x| v.sub(x, magic));
    let (hi, lo) = (v.splat(-LN2_HI), v.splat(-LN2_LO));
    let r: Vec<Value> = nf.iter().zip(&arg).map(|(&n, &a)| v.mul_add(n, hi, a)).collect();
    let r: Vec<Value> = nf.iter().zip(&r).map(|(&n, &r)| v.mul_add(n, lo, r)).collect();
    let mut q = vec![v.splat(EXPM1_SERIES[0]); xs.len()];
    for &c in &EXPM1_SERIES[1..] {
        let c = v.splat(c);
        q = q.iter().zip(&r).map(|(&q, &r)| v.mul_add(q, r, c)).collect();
    }
    let em1_r: Vec<Value> = r.iter().zip(&q).map(|(&r, &q)| v.mul(r, q)).collect();
    let mi = v.to_i32(magic);
    let n = each(v, &t, &|v, t| {
        let ti = v.to_i32(t);
        v.b.ins().isub(ti, mi)
    });
    let s = each(v, &n, &|v, n| pow2(v, n));
    let one = v.splat(1.0);
    let sm1 = each(v, &s, &|v, s| v.sub(s, one));
    let m: Vec<Value> = (0..xs.len()).map(|i| v.mul_add(s[i], em1_r[i], sm1[i])).collect();
    let two = v.splat(2.0);
    let den = each(v, &m, &|v, m| v.add(m, two));
    // m ≤ 0, so m/den = −tanh|x|.
    let neg: Vec<Value> = m.iter().zip(&den).map(|(&m, &d)| v.div(m, d)).collect();
    neg.iter().zip(xs).map(|(&t, &x)| copy_sign(v, t, x)).collect()
}

/// `|t|` with the sign bit of `s`.
fn copy_sign(v: &mut V4, t: Value, s: Value) -> Value {
    let sign = v.splat(-0.0);
    let sbit = v.b.ins().band(s, sign);
    let mag = v.abs(t);
    v.b.ins().bor(mag, sbit)
}

/// `sigmoid(x) = 1 / (1 + exp(-x))`; `exp` saturating keeps it finite.
pub fn sigmoid(v: &mut V4, x: Value) -> Value {
    let nx = v.b.ins().fneg(x);
    let e = exp(v, nx);
    let one = v.splat(1.0);
    let den = v.add(one, e);
    v.div(one, den)
}

/// Coefficients of `(log(m) - 2s)/(s·z)`, `z = s²`: 2/3, 2/5, ... in
/// Horner order (highest first). |s| <= 0.1716 so the z^6 tail is < 1e-10.
const LOG_SERIES: [f32; 5] = [2.0 / 11.0, 2.0 / 9.0, 2.0 / 7.0, 2.0 / 5.0, 2.0 / 3.0];

/// `ln(x)`: `x = m·2^e` with `m` in `[√½, √2)`, `s = (m-1)/(m+1)`,
/// `ln m = 2·atanh(s) = 2s + s·z·Q(z)`, result `e·ln2 + ln m`.
pub fn log(v: &mut V4, x: Value) -> Value {
    let tiny = v.splat(f32::MIN_POSITIVE);
    let xc = v.max(tiny, x);
    let bits = v.to_i32(xc);
    let exp_field = v.b.ins().ushr_imm_s(bits, 23);
    let bias = v.isplat(127);
    let e = v.b.ins().isub(exp_field, bias);
    let mant_mask = v.isplat(0x007f_ffff);
    let one_bits = v.isplat(0x3f80_0000);
    let mb = v.b.ins().band(bits, mant_mask);
    let mb = v.b.ins().bor(mb, one_bits);
    let m = v.to_f32(mb);
    // Fold m from [1, 2) into [√½, √2): halve m and bump e where m >= √2.
    let sqrt2 = v.splat(std::f32::consts::SQRT_2);
    let big = v.lt_mask(sqrt2, m);
    let half = v.splat(0.5);
    let mh = v.mul(m, half);
    let m = v.select(big, mh, m);
    let big_i = v.to_i32(big);
    let e = v.b.ins().isub(e, big_i);
    let lnm = log_mantissa(v, m);
    let ef = v.b.ins().fcvt_from_sint(types::F32X4, e);
    let (hi, lo) = (v.splat(LN2_HI), v.splat(LN2_LO));
    let y = v.mul_add(ef, lo, lnm);
    let y = v.mul_add(ef, hi, y);
    // NaN (unordered with itself) passes through unchanged.
    let nan = v.b.ins().fcmp(FloatCC::Unordered, x, x);
    let nan = v.to_f32(nan);
    v.select(nan, x, y)
}

/// `ln m` for `m` in `[√½, √2)`.
fn log_mantissa(v: &mut V4, m: Value) -> Value {
    let one = v.splat(1.0);
    let f = v.sub(m, one);
    let den = v.add(m, one);
    let s = v.div(f, den);
    let z = v.mul(s, s);
    let q = horner(v, z, &LOG_SERIES);
    let sz = v.mul(s, z);
    let two_s = v.add(s, s);
    v.mul_add(sz, q, two_s)
}
