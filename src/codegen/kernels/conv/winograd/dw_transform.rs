//! The last step of a Winograd weight gradient as JIT code: `dw[o][c] = Gᵀ M[o][c] G`,
//! the t×t products M the GEMMs summed over tiles folded back to the 3×3 filter
//! gradient (added to dw when the kernel accumulates), four input channels at a time
//! in the vector lanes.
//!
//! M's rows are contiguous along c at every transform point, so the t² values of
//! four filters are t² vector loads. `Gᵀ` goes down the columns into a stack buffer
//! of 3·t vectors, then along its rows (the factored products of `linear`); the
//! nine results of the four filters are transposed back to the filters' layout (tap
//! after tap, filter after filter: 36 contiguous floats) with two lane transposes
//! and four scalar stores of the last tap.
//!
//! As scalar Rust this step was a third of the weight gradient of ResNet-18's
//! 512-channel layers (262,144 filters over 7×7 maps at batch 8): every filter
//! gathers t² floats that lie a whole M plane apart.

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::linear::apply;
use super::Transform;
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn, Opt};
use crate::codegen::kernels::conv::emit::{addr, load_lanes};
use crate::codegen::loops::counted_loop;
use crate::codegen::simd::{mem, stack_vectors, V4};

/// The compiled fold of one layer's M into its weight gradient.
pub(super) struct DwTransform {
    f: JitFn<3>,
}

impl DwTransform {
    /// For `cin` input channels, M's transform points `xi_bytes` apart; `accumulate`
    /// adds to dw instead of overwriting it.
    pub fn compile(jit: &Jit, tf: &'static Transform, cin: usize, xi_bytes: i64, accumulate: bool) -> Result<Self> {
        Ok(DwTransform { f: compile_fn(jit, tf, cin, xi_bytes, accumulate)? })
    }

    /// Folds M rows `0 .. n_out` (row ol: `cin` floats at `m + ol·cin` of each
    /// transform point) into the filters of `n_out` output channels at `dw`.
    ///
    /// # Safety
    /// `m` holds those rows at every transform point; `dw` is valid for
    /// `n_out · cin · 9` floats.
    pub unsafe fn run(&self, m: *const f32, dw: *mut f32, n_out: usize) {
        // SAFETY: the caller's obligations, which the function's addressing follows.
        unsafe { self.f.call([m as i64, dw as i64, n_out as i64]) };
    }
}

/// `fn(m, dw, n_out)`.
fn compile_fn(jit: &Jit, tf: &'static Transform, cin: usize, xi_bytes: i64, accumulate: bool) -> Result<JitFn<3>> {
    let (groups, rest) = (cin / 4, cin % 4);
    let gt: Vec<Vec<f32>> = (0..3).map(|a| (0..tf.t).map(|i| tf.g[i][a]).collect()).collect();
    jit.compile_opt("wino_dw", Opt::Speed, |b, [m, dw, n_out], features| {
        let fma = features.has_fma;
        let tmp = stack_vectors(b, 3 * tf.t);
        counted_loop(b, n_out, 1, &[m, dw], |b, _, st| {
            let mut end = vec![st[0], st[1]];
            if groups > 0 {
                let n = b.ins().iconst(types::I64, groups as i64);
                end = counted_loop(b, n, 1, &end, |b, _, g| {
                    let mut v = V4::new(b, fma);
                    group(&mut v, (tf.t, &gt), (g[0], g[1], tmp), (4, xi_bytes), accumulate);
                    Ok(vec![v.offset(g[0], 16), v.offset(g[1], 4 * 36)])
                })?;
            }
            let mut v = V4::new(b, fma);
            if rest > 0 {
                group(&mut v, (tf.t, &gt), (end[0], end[1], tmp), (rest, xi_bytes), accumulate);
            }
            Ok(vec![v.offset(st[0], (4 * cin) as i64), v.offset(st[1], (36 * cin) as i64)])
        })?;
        b.ins().return_(&[]);
        Ok(())
    })
}

/// dw for `lanes` input channels: M's values at `m` (channel l at float l of each
/// transform point), the filters at `dw` (channel l at float 9·l); `tmp` is a stack
/// buffer of 3·t vectors.
fn group(
    v: &mut V4,
    (t, gt): (usize, &[Vec<f32>]),
    (m, dw, tmp): (Value, Value, Value),
    (lanes, xi_bytes): (usize, i64),
    accumulate: bool,
) {
    // tmp[a][b] = Σ_i G[i][a]·M[i][b], column b at a time.
    for bb in 0..t {
        let col: Vec<Value> = (0..t).map(|i| load_lanes(v, m, (i * t + bb) as i64 * xi_bytes, lanes)).collect();
        for (a, x) in apply(v, gt, &col).into_iter().enumerate() {
            v.store(x, tmp, (16 * (a * t + bb)) as i32);
        }
    }
    // r[3a + e] = Σ_b tmp[a][b]·G[b][e].
    let mut r = Vec::with_capacity(9);
    for a in 0..3 {
        let row: Vec<Value> = (0..t).map(|bb| v.load(tmp, (16 * (a * t + bb)) as i32)).collect();
        r.extend(apply(v, gt, &row));
    }
    if lanes == 4 {
        // Lane l of r[k] is tap k of filter l, stored at 9·l + k.
        let lo = v.transpose4([r[0], r[1], r[2], r[3]]);
        let hi = v.transpose4([r[4], r[5], r[6], r[7]]);
        for l in 0..4 {
            for (x, first) in [(lo[l], 0), (hi[l], 4)] {
                let off = (4 * (9 * l + first)) as i32;
                let x = if accumulate {
                    let old = v.load(dw, off);
                    v.add(old, x)
                } else {
                    x
                };
                v.store(x, dw, off);
            }
            scalar_store(v, r[8], l, (dw, 4 * (9 * l + 8) as i64), accumulate);
        }
    } else {
        for l in 0..lanes {
            for (k, &x) in r.iter().enumerate() {
                scalar_store(v, x, l, (dw, 4 * (9 * l + k) as i64), accumulate);
            }
        }
    }
}

/// Stores lane `l` of `x` at `dw + off` (added to what is there when accumulating).
fn scalar_store(v: &mut V4, x: Value, l: usize, (dw, off): (Value, i64), accumulate: bool) {
    let mut e = v.b.ins().extractlane(x, l as u8);
    let (p, imm) = addr(v, dw, off);
    if accumulate {
        let old = v.b.ins().load(types::F32, mem(), p, imm);
        e = v.b.ins().fadd(old, e);
    }
    v.b.ins().store(mem(), e, p, imm);
}
