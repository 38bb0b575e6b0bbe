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
//! | `tanh`    | all finite x          | abs/rel 3.5e-7 (FMA), 3.7e-7 (mul+add) | abs 4e-7, rel 4e-7 |
//! | `sigmoid` | `[-87, +inf)`         | rel 1.5e-7              | rel 3e-7       |
//! | `log`     | `[1.18e-38, 3.4e38]`  | rel 1.7e-7              | rel 3e-7       |
//!
//! (Same bounds with FMA and with the `fmul`+`fadd` fallback. tanh trades an ulp
//! or two for speed: it is every LeNet layer's epilogue.)
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
    let p = horner(v, &[r], &TAYLOR_EXP)[0];
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

/// Evaluates `c[0]·r^(n-1) + ... + c[n-1]` by Horner's rule for each `r` in `rs`,
/// step by step across all of them.
fn horner(v: &mut V4, rs: &[Value], c: &[f32]) -> Vec<Value> {
    let mut p = vec![v.splat(c[0]); rs.len()];
    for &ci in &c[1..] {
        let k = v.splat(ci);
        p = p.iter().zip(rs).map(|(&p, &r)| v.mul_add(p, r, k)).collect();
    }
    p
}

/// |x| is clamped to this: the rational form below gives exactly 1 there and never
/// more than 1 below it, with and without FMA (found by an exhaustive search over the
/// floats of [4, 9.5]; past 8.008 the rational overshoots 1), and tanh is within
/// 2.7e-7 of 1 from here on.
const TANH_CLAMP: f32 = 7.918_052;
/// Numerator of tanh(x)/x in powers of z = x² (the constant first): a rational
/// fitted for the least maximal relative error on [0, 9] by iteratively reweighted
/// least squares (our fit, 6.0e-8 before rounding the coefficients to f32).
const TANH_NUM: [f32; 6] = [0.999_999_94, 0.129_192_32, 2.920_766_1e-3, 9.267_455e-6, -1.278_053e-8, 1.825_545_1e-11];
/// Denominator in powers of z (the constant first).
const TANH_DEN: [f32; 4] = [1.0, 0.462_525_16, 2.376_318_7e-2, 2.281_007_6e-4];

/// `tanh(x)` as `sign(x) · a·P(a²)/Q(a²)` with `a = min(|x|, TANH_CLAMP)`, P of
/// degree 5 and Q of degree 3 in a²: 11 floating-point operations and one division
/// (four fewer than the clamps on both sides of the input and the result and the
/// degree-6 numerator it replaces, Eigen's `generic_fast_tanh_float`), plus two bit
/// operations for |x| and the sign, which the CPU can run on other ports. No result
/// exceeds 1 (see the clamp), so none is clamped; ±0, ±inf and NaN come out as
/// ±0, ±1 and NaN.
pub fn tanh(v: &mut V4, x: Value) -> Value {
    tanh_n(v, &[x])[0]
}

/// [`tanh`] of several vectors, emitted operation by operation across all of them.
/// One tanh is a chain of dependent operations; emitted one after the other (a
/// register tile's epilogue, compiled without re-scheduling) the chains leave the
/// FP pipes idle on their latencies, while interleaved chains fill them.
pub fn tanh_n(v: &mut V4, xs: &[Value]) -> Vec<Value> {
    let each = |v: &mut V4, a: &[Value], f: &dyn Fn(&mut V4, Value) -> Value| -> Vec<Value> {
        a.iter().map(|&x| f(v, x)).collect()
    };
    let hi = v.splat(TANH_CLAMP);
    // |x| by a constant mask: `fabs` builds its mask with two integer instructions
    // (`pcmpeqd`, `psrld`) on the ports of the multiplies.
    let magnitude = v.splat(f32::from_bits(0x7fff_ffff));
    let a = each(v, xs, &|v, x| v.b.ins().band(x, magnitude));
    // NaN stays NaN (it is `minps`'s second operand).
    let a = each(v, &a, &|v, a| v.min(hi, a));
    let z = each(v, &a, &|v, a| v.mul(a, a));
    let p = horner(v, &z, &reversed(&TANH_NUM));
    let p: Vec<Value> = p.iter().zip(&a).map(|(&p, &a)| v.mul(p, a)).collect();
    let q = horner(v, &z, &reversed(&TANH_DEN));
    let t: Vec<Value> = p.iter().zip(&q).map(|(&p, &q)| v.div(p, q)).collect();
    // t >= 0 (or NaN): the sign bit of x goes in as is.
    let sign = v.splat(-0.0);
    t.iter()
        .zip(xs)
        .map(|(&t, &x)| {
            let s = v.b.ins().band(x, sign);
            v.b.ins().bor(t, s)
        })
        .collect()
}

/// Coefficients from the highest power down (Horner order).
fn reversed<const N: usize>(c: &[f32; N]) -> [f32; N] {
    let mut r = *c;
    r.reverse();
    r
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
    let q = horner(v, &[z], &LOG_SERIES)[0];
    let sz = v.mul(s, z);
    let two_s = v.add(s, s);
    v.mul_add(sz, q, two_s)
}
