//! The Winograd weight transform as JIT code: `U[ξ][o][c] = (G g Gᵀ)[ξ]` for the
//! filter g from input channel c to output channel o, four input channels at a time
//! in the vector lanes (U's rows are contiguous along c, so each transform point is
//! one vector store).
//!
//! Every run transforms the weights again (they change with every training step,
//! and in inference the kernel keeps no state), so this is on the hot path: as
//! scalar Rust it took about a tenth of a VGG-16 inference step at batch 1, a
//! third of that in `memcpy` calls for the runs of U.
//!
//! The nine taps of the four filters come from three vector loads per filter and
//! lane transposes (a filter's taps are contiguous, filters of adjacent input
//! channels 9 floats apart; the data-gradient role regroups the forward layer's
//! filters that way first), then `G g` down the columns and `(G g) Gᵀ` along the
//! rows with the factored products of `linear` as the other transforms. A last group of fewer than four channels
//! loads and stores only its real lanes.

use std::ops::Range;

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::linear::apply;
use super::{data_gradient, Role, Transform};
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn, Opt};
use crate::codegen::kernels::conv::emit::addr;
use crate::codegen::kernels::conv::geometry::ConvGeom;
use crate::codegen::loops::counted_loop;
use crate::codegen::simd::{mem, stack_vectors, V4};

/// The compiled weight transform of one layer geometry and role.
pub(super) struct WeightTransform {
    f: JitFn<3>,
    /// Input channels: `f` reads output channel o's filters, 9 floats each, at `o·cin·9`.
    cin: usize,
    /// The data gradient's forward layer, whose filters are regrouped by its input
    /// channel (this kernel's output channel) into scratch, [`REGROUP_ROWS`] rows at a
    /// time, before `f` reads them in the forward role's order. Read in place, the four
    /// lanes' filters are `cin·9` floats of the forward layer apart and every group a
    /// new page: the transform took 3.7× the forward role's time on a 512×512 layer.
    regroup: Option<ConvGeom>,
}

/// Output channels regrouped per call of the data gradient's transform: their filters
/// (16 × 512 × 9 floats, 288 KiB, for a 512-channel layer) stay in L2 until read.
const REGROUP_ROWS: usize = 16;

impl WeightTransform {
    /// For the kernel geometry `g` (for the data gradient, the transposed one) and
    /// U's transform points `xi_bytes` apart.
    pub fn compile(jit: &Jit, tf: &'static Transform, g: &ConvGeom, role: Role, xi_bytes: i64) -> Result<Self> {
        // The data gradient reads the forward layer's filter [c][o] (its output
        // channel c is this kernel's input), regrouped by o, rotated by 180°.
        let (rotated, regroup) = match role {
            Role::Forward => (false, None),
            Role::DataGradient => (true, data_gradient(g)),
        };
        let f = compile_fn(jit, tf, rotated, g.cin, xi_bytes)?;
        Ok(WeightTransform { f, cin: g.cin, regroup })
    }

    /// Scratch floats [`WeightTransform::run`] needs.
    pub fn scratch_len(&self) -> usize {
        self.regroup.as_ref().map_or(0, |_| REGROUP_ROWS * self.cin * 9)
    }

    /// Writes U rows `0 .. co.len()` (row ol for output channel co.start + ol) at `u`.
    ///
    /// # Safety
    /// `w` holds the layer's weights (for the data gradient, the forward layer's);
    /// `u` is valid for `cin` floats of each of `co.len()` rows (`cin` floats apart)
    /// at each transform point; `scratch` holds [`WeightTransform::scratch_len`] floats.
    pub unsafe fn run(&self, w: &[f32], co: &Range<usize>, u: *mut f32, scratch: &mut [f32]) {
        let Some(fwd) = &self.regroup else {
            let w0 = w[co.start * self.cin * 9..].as_ptr();
            // SAFETY: the caller's obligations, which the function's addressing follows.
            unsafe { self.f.call([w0 as i64, u as i64, co.len() as i64]) };
            return;
        };
        for r0 in co.clone().step_by(REGROUP_ROWS) {
            let rows = r0..(r0 + REGROUP_ROWS).min(co.end);
            fwd.filters_by_input(w, 0, rows.clone(), scratch);
            let u0 = u.wrapping_add((r0 - co.start) * self.cin);
            // SAFETY: scratch holds the rows' filters in the forward order; U rows as
            // the caller promises.
            unsafe { self.f.call([scratch.as_ptr() as i64, u0 as i64, rows.len() as i64]) };
        }
    }
}

/// `fn(w, u, n_out)`: U rows for `n_out` output channels from the filters at `w`.
/// Output channel o's filter from input channel c is at `(o·cin + c)·9` floats; its tap k
/// at k, or at 8 − k when `rotated`.
fn compile_fn(jit: &Jit, tf: &'static Transform, rotated: bool, cin: usize, xi_bytes: i64) -> Result<JitFn<3>> {
    let (groups, rest) = (cin / 4, cin % 4);
    let (o_bytes, c_bytes) = ((4 * cin * 9) as i64, 4 * 9);
    jit.compile_opt("wino_w", Opt::Speed, |b, [w, u, n_out], features| {
        let fma = features.has_fma;
        let tmp = stack_vectors(b, 3 * tf.t);
        counted_loop(b, n_out, 1, &[w, u], |b, _, st| {
            let mut end = vec![st[0], st[1]];
            if groups > 0 {
                let n = b.ins().iconst(types::I64, groups as i64);
                end = counted_loop(b, n, 1, &end, |b, _, g| {
                    let mut v = V4::new(b, fma);
                    group(&mut v, tf, rotated, (g[0], g[1], tmp), 4, xi_bytes);
                    Ok(vec![v.offset(g[0], 4 * c_bytes), v.offset(g[1], 16)])
                })?;
            }
            let mut v = V4::new(b, fma);
            if rest > 0 {
                group(&mut v, tf, rotated, (end[0], end[1], tmp), rest, xi_bytes);
            }
            Ok(vec![v.offset(st[0], o_bytes), v.offset(st[1], (4 * cin) as i64)])
        })?;
        b.ins().return_(&[]);
        Ok(())
    })
}

/// U for `lanes` input channels from the filters at `w` (channel l at `9·l` floats),
/// stored at `u` (channel l at float l of each transform point); `tmp` is a stack
/// buffer of 3·t vectors.
fn group(v: &mut V4, tf: &Transform, rotated: bool, (w, u, tmp): (Value, Value, Value), lanes: usize, xi_bytes: i64) {
    let t = tf.t;
    let raw = taps(v, w, lanes);
    // f[k]: tap k of the lanes' filters.
    let f: Vec<Value> = (0..9).map(|k| raw[if rotated { 8 - k } else { k }]).collect();
    // gg = G g: gg[i][j] = Σ_k G[i][k]·g[k][j] (g[k][j] is tap 3k + j), column by
    // column into the stack buffer: kept in registers with f, 3·t values spilled
    // (85 stack accesses per group for F(4×4)).
    for j in 0..3 {
        for (i, x) in apply(v, tf.g, &[f[j], f[3 + j], f[6 + j]]).into_iter().enumerate() {
            v.store(x, tmp, (16 * (3 * i + j)) as i32);
        }
    }
    for i in 0..t {
        let row: Vec<Value> = (0..3).map(|j| v.load(tmp, (16 * (3 * i + j)) as i32)).collect();
        for (j, x) in apply(v, tf.g, &row).into_iter().enumerate() {
            let off = (i * t + j) as i64 * xi_bytes;
            if lanes == 4 {
                let (p, imm) = addr(v, u, off);
                v.store(x, p, imm);
            } else {
                for l in 0..lanes {
                    let e = v.b.ins().extractlane(x, l as u8);
                    let (p, imm) = addr(v, u, off + 4 * l as i64);
                    v.b.ins().store(mem(), e, p, imm);
                }
            }
        }
    }
}

/// The nine taps in memory order of the lanes' filters, tap k of lane l in lane l
/// of vector k. Four lanes: each filter's floats 0–3, 4–7 and 5–8 by vector loads,
/// three lane transposes (12 loads instead of 36 scalar loads and lane inserts);
/// fewer lanes: scalar loads, the other lanes zero.
fn taps(v: &mut V4, w: Value, lanes: usize) -> Vec<Value> {
    if lanes == 4 {
        let quad = |v: &mut V4, first: usize| {
            let rows = [0, 1, 2, 3].map(|l| {
                let (p, imm) = addr(v, w, 4 * (l * 9 + first) as i64);
                v.load(p, imm)
            });
            v.transpose4(rows)
        };
        let (lo, hi, last) = (quad(v, 0), quad(v, 4), quad(v, 5));
        return lo.into_iter().chain(hi).chain([last[3]]).collect();
    }
    (0..9)
        .map(|tap| {
            let mut x = v.splat(0.0);
            for l in 0..lanes {
                let (p, imm) = addr(v, w, 4 * (l * 9 + tap) as i64);
                let e = v.b.ins().load(types::F32, mem(), p, imm);
                x = v.b.ins().insertlane(x, e, l as u8);
            }
            x
        })
        .collect()
}
