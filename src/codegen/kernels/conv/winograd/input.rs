//! The Winograd input transform as JIT code: `V = Bᵀ d B` for groups of four
//! horizontally adjacent tiles of one channel, the four tiles in the vector lanes
//! (the layout the GEMMs read: V[ξ][channel][tile]).
//!
//! Per patch row, the tiles' columns come from a few contiguous loads and a lane
//! transpose (tile l's column k is float l·m + k of the row): for F(4×4) one 4×4
//! transpose of the loads at floats 0, 4, 8, 12 and half of one at 2, 6, 10, 14;
//! for F(2×2) two even/odd splits of the loads at 0, 4 and 2, 6; for F(6×6) two
//! 4×4 transposes, of the loads at 0, 6, 12, 18 and at 4, 10, 16, 22. Then Bᵀ along the
//! row and Bᵀ down the columns (`lin`: ±1 as adds), and one store per transform
//! point. A group reads floats 0 ..= 3m + t − 1 of t rows; groups that reach past
//! the map (padding, the right edge, the last tile rows) are copied with zeros into
//! a staging patch and run by a second function compiled for its row width.
//!
//! On narrow maps most groups reach past an edge (on CIFAR's 32- to 8-pixel maps,
//! every one), and staging group by group cost a zero fill and t short copies per
//! group. There the tile rows of one channel are run together from a band: the
//! rows they read copied once into a zero-bordered buffer as wide as the groups
//! read, then one function (compiled for the band's width) over every group. The
//! band's borders are zeroed once per part ([`Staging`]) and the rows copied by
//! one JIT call per channel: copying and zeroing each short row through libc's
//! `memcpy`/`memset` took 5–7% of a ResNet-20 training step.
//!
//! Replaces a scalar Rust transform that took about 16% of a VGG-16 batch-1 step
//! (see the module's closing note for the measured effect).

use std::ops::Range;

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::linear::apply;
use super::{Grid, Transform};
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn, Opt};
use crate::codegen::kernels::conv::emit::addr;
use crate::codegen::kernels::conv::geometry::ConvGeom;
use crate::codegen::loops::counted_loop;
use crate::codegen::simd::{mem, V4};

/// The compiled input transform of one layer geometry.
pub(super) struct InputTransform {
    /// Tile rows per group of four tiles (see [`super::Grid`]): 1, or 2 or 4 on
    /// maps of at most two tiles a row, whose groups then run from the band.
    pack: usize,
    /// Groups of four tiles per slot (`grid.tw4 / 4`); V's slots are 4·groups
    /// floats apart.
    groups: usize,
    tf: &'static Transform,
    /// On the map in place (rows `w` floats apart) and on the staging patch.
    full: JitFn<3>,
    stage: JitFn<3>,
    h: usize,
    w: usize,
    pt: usize,
    pl: usize,
    /// Tile rows are run from a band where most groups would be staged.
    band: Option<Band>,
}

/// The band of a narrow map: `rows` rows of `w` floats at most, the function
/// compiled for rows `w` floats apart, and the copy of map rows into it.
struct Band {
    f: JitFn<3>,
    copy: JitFn<3>,
    w: usize,
    rows: usize,
}

/// The staging scratch of one part, its band's border columns zeroed, and the band
/// rows an earlier [`InputTransform::rows`] may have left map data in (a hull).
pub(super) struct Staging<'a> {
    buf: &'a mut [f32],
    dirty: Range<usize>,
}

impl InputTransform {
    /// For the input maps of `g`, V's transform points `xi_bytes` apart, groups of
    /// four tiles per slot, at most `slots` slots per call of [`Self::rows`]; a
    /// slot is one tile row, or with `grid.pack` > 1 that many tile rows of
    /// `grid.tw` tiles side by side (one group).
    pub fn compile(
        jit: &Jit,
        tf: &'static Transform,
        g: &ConvGeom,
        xi_bytes: i64,
        (grid, slots): (Grid, usize),
    ) -> Result<InputTransform> {
        let (m, sw) = (tf.m, stage_width(tf));
        let groups = grid.tw4 / 4;
        // Groups an interior tile row reads in place (as `row` counts them).
        let q0 = g.pl.div_ceil(4 * m);
        let q1 = if g.w + g.pl >= sw { ((g.w + g.pl - sw) / (4 * m) + 1).min(groups) } else { 0 };
        // Group q reads band columns 4qm .. 4qm + sw; the map starts at column pl.
        let w = 4 * m * (groups - 1) + sw;
        let band = if grid.pack > 1 {
            // A packed slot's tile (r, c) reads columns c·m .. c·m + t of its tile
            // row's band rows; padding lanes read the first tile of their run's
            // (finite values whose products the output drops, and the weight
            // gradient multiplies by a zero Ū).
            let w = (g.pl + g.w).max(grid.tw * m + tf.t - m);
            let rows = slots.min(grid.slots) * grid.pack * m + tf.t - m;
            let walk = grid.slot_walk();
            let starts = |groups: &[[Option<(usize, usize)>; 4]]| -> Vec<[i64; 4]> {
                let at = |tile: Option<(usize, usize)>| tile.map_or(0, |(r, c)| (r * m * w + c * m) as i64);
                groups.iter().map(|lanes| lanes.map(at)).collect()
            };
            let slot = Slot {
                period: starts(&walk.period),
                period_bytes: (4 * walk.period_rows * m * w) as i64,
                periods: walk.periods,
                rest: starts(&walk.rest),
            };
            let f = compile_fn(jit, tf, (4 * w) as i64, xi_bytes, Lanes::Packed(slot))?;
            Some(Band { f, copy: compile_copy(jit, g.w, w)?, w, rows })
        } else if 4 * q1.saturating_sub(q0) < 3 * groups && g.pl + g.w <= w {
            let rows = slots.min(grid.slots) * m + tf.t - m;
            let f = compile_fn(jit, tf, (4 * w) as i64, xi_bytes, Lanes::Row)?;
            Some(Band { f, copy: compile_copy(jit, g.w, w)?, w, rows })
        } else {
            None
        };
        Ok(InputTransform {
            pack: grid.pack,
            groups,
            tf,
            full: compile_fn(jit, tf, (4 * g.w) as i64, xi_bytes, Lanes::Row)?,
            stage: compile_fn(jit, tf, (4 * sw) as i64, xi_bytes, Lanes::Row)?,
            h: g.h,
            w: g.w,
            pt: g.pt,
            pl: g.pl,
            band,
        })
    }

    /// Floats of the staging patch (or band).
    pub fn stage_len(&self) -> usize {
        let patch = self.tf.t * stage_width(self.tf);
        self.band.as_ref().map_or(patch, |b| patch.max(b.rows * b.w))
    }

    /// The staging scratch of a part (at least [`Self::stage_len`] floats), with the
    /// band's borders zeroed for every later [`Self::rows`] of the part.
    pub fn staging<'a>(&self, stage: &'a mut [f32]) -> Staging<'a> {
        let stage = &mut stage[..self.stage_len()];
        if self.band.is_some() {
            stage.fill(0.0);
        }
        Staging { buf: stage, dirty: 0..0 }
    }

    /// Transforms slots `sls` of the channel map `src` (h × w), `groups`
    /// groups of four tiles each, into V: slot `sls.start + i` at `v + 4·i·groups`
    /// floats. A slot is one tile row, or `pack` of them (see [`Self::compile`]).
    ///
    /// # Safety
    /// As [`Self::row`], for every tile row; `sls` holds at most the `slots` slots
    /// given to [`Self::compile`].
    pub unsafe fn rows(&self, src: &[f32], sls: Range<usize>, v: *mut f32, stage: &mut Staging) {
        let (groups, slot) = (self.groups, 4 * self.groups);
        let Some(band) = &self.band else {
            for (i, tr) in sls.enumerate() {
                // SAFETY: the caller's obligations.
                unsafe { self.row(src, tr, v.wrapping_add(i * slot), stage.buf) };
            }
            return;
        };
        let (m, t) = (self.tf.m, self.tf.t);
        // The tile rows of the slots (past the map's last one, all padding).
        let trs = sls.start * self.pack..sls.end * self.pack;
        let r_lo = (trs.start * m) as isize - self.pt as isize;
        let rows = trs.len() * m + t - m;
        debug_assert!(rows <= band.rows && (self.pack > 1 || 4 * m * groups + t - m <= band.w));
        let buf = &mut stage.buf[..rows * band.w];
        // Band rows i of map rows a .. b are copied; the others (padding) must be
        // zeros. Only the columns pl .. pl + w of a band row are ever written, so a
        // padding row needs zeroing only if an earlier call copied map data into it:
        // with every channel's call alike, none does (the fills were ~3% of a
        // ResNet-20 training step as memset calls of a few hundred bytes).
        let a = (-r_lo).clamp(0, rows as isize) as usize;
        let b = (self.h as isize - r_lo).clamp(a as isize, rows as isize) as usize;
        for pad in [0..a, b..rows] {
            let (lo, hi) = (pad.start.max(stage.dirty.start), pad.end.min(stage.dirty.end));
            if lo < hi {
                buf[lo * band.w..hi * band.w].fill(0.0);
            }
        }
        // Rows past this call's band keep what they held.
        let left = stage.dirty.start.max(rows)..stage.dirty.end;
        stage.dirty = if left.is_empty() { a..b } else { a.min(left.start)..b.max(left.end) };
        if a < b {
            let from = &src[(r_lo + a as isize) as usize * self.w..][..(b - a) * self.w];
            let to = &mut buf[a * band.w + self.pl..][..(b - a - 1) * band.w + self.w];
            // SAFETY: b − a rows of w floats, map rows `w` and band rows `band.w` apart.
            unsafe { band.copy.call([from.as_ptr() as i64, to.as_mut_ptr() as i64, (b - a) as i64]) };
        }
        let buf = &stage.buf[..rows * band.w];
        for i in 0..sls.len() {
            let at = &buf[i * self.pack * m * band.w..];
            // SAFETY: slot i reads pack·m + t − m band rows from row i·pack·m, `band.w`
            // floats each; V as the caller promises.
            unsafe { band.f.call([at.as_ptr() as i64, v.wrapping_add(i * slot) as i64, groups as i64]) };
        }
    }

    /// Transforms the `groups` groups of four tiles of tile row `tr` of the channel
    /// map `src` (h × w) into V at `v` (group q at `v + 4q` floats).
    ///
    /// # Safety
    /// `v` is valid for the transform's stores: 4·groups floats at each of the t²
    /// transform points, `xi_bytes` apart.
    unsafe fn row(&self, src: &[f32], tr: usize, v: *mut f32, stage: &mut [f32]) {
        let groups = self.groups;
        let (m, t) = (self.tf.m, self.tf.t);
        let sw = stage_width(self.tf);
        let r_lo = (tr * m) as isize - self.pt as isize;
        let rows_in = r_lo >= 0 && r_lo as usize + t <= self.h;
        // Groups read in place: c_lo = 4qm − pl ≥ 0 and c_lo + sw ≤ w.
        let q0 = self.pl.div_ceil(4 * m);
        let q1 =
            if rows_in && self.w + self.pl >= sw { ((self.w + self.pl - sw) / (4 * m) + 1).min(groups) } else { 0 };
        let v_at = |q: usize| v.wrapping_add(4 * q) as i64;
        if q0 < q1 {
            let at = r_lo as usize * self.w + 4 * q0 * m - self.pl;
            debug_assert!(at + (t - 1) * self.w + sw <= src.len());
            // SAFETY: rows r_lo .. r_lo + t and columns c_lo(q) .. c_lo(q) + sw of
            // every group q0 .. q1 lie inside the map; V as the caller promises.
            unsafe { self.full.call([src[at..].as_ptr() as i64, v_at(q0), (q1 - q0) as i64]) };
        }
        for q in (0..groups).filter(|q| !(q0..q1).contains(q)) {
            let patch = &mut stage[..t * sw];
            patch.fill(0.0);
            let c_lo = (4 * q * m) as isize - self.pl as isize;
            for r in 0..t {
                let sr = r_lo + r as isize;
                if sr < 0 || sr >= self.h as isize {
                    continue;
                }
                let (lo, hi) = (c_lo.max(0), (c_lo + sw as isize).min(self.w as isize));
                if lo < hi {
                    let from = &src[sr as usize * self.w..][lo as usize..hi as usize];
                    patch[r * sw + (lo - c_lo) as usize..][..from.len()].copy_from_slice(from);
                }
            }
            // SAFETY: the patch holds t rows of sw floats; V as the caller promises.
            unsafe { self.stage.call([patch.as_ptr() as i64, v_at(q), 1]) };
        }
    }
}

/// `fn(src, dst, nrows)`: copies `nrows` rows of `w` floats, `w` apart in src and
/// `band_w` in dst.
fn compile_copy(jit: &Jit, w: usize, band_w: usize) -> Result<JitFn<3>> {
    jit.compile_opt("wino_band", Opt::Speed, |b, [src, dst, nrows], features| {
        counted_loop(b, nrows, 1, &[src, dst], |b, _, st| {
            let mut v = V4::new(b, features.has_fma);
            for k in (0..w / 4 * 4).step_by(4) {
                let (p, imm) = addr(&mut v, st[0], 4 * k as i64);
                let x = v.load(p, imm);
                let (p, imm) = addr(&mut v, st[1], 4 * k as i64);
                v.store(x, p, imm);
            }
            for k in w / 4 * 4..w {
                let (p, imm) = addr(&mut v, st[0], 4 * k as i64);
                let x = v.b.ins().load(types::F32, mem(), p, imm);
                let (p, imm) = addr(&mut v, st[1], 4 * k as i64);
                v.b.ins().store(mem(), x, p, imm);
            }
            Ok(vec![v.offset(st[0], 4 * w as i64), v.offset(st[1], 4 * band_w as i64)])
        })?;
        b.ins().return_(&[]);
        Ok(())
    })
}

/// Floats of a patch row that a group of four tiles reads: 3m + t.
fn stage_width(tf: &Transform) -> usize {
    3 * tf.m + tf.t
}

/// Where the four tiles of a group start in the patch: m floats apart along a
/// row (the groups of a row in a loop), or, for a packed slot, at the given float
/// offsets of each of the slot's groups (unrolled: the groups' offsets differ
/// where they straddle tile rows).
enum Lanes {
    Row,
    Packed(Slot),
}

/// A packed slot's groups as lane offsets in floats (see [`super::grid::SlotWalk`]):
/// `periods` times those of `period` (the source advancing `period_bytes`), then
/// those of `rest`.
struct Slot {
    period: Vec<[i64; 4]>,
    period_bytes: i64,
    periods: usize,
    rest: Vec<[i64; 4]>,
}

/// `fn(src, v, ngroups)`: for `ngroups` groups (src 4m floats, v 16 bytes apart),
/// V[ξ] = (Bᵀ d B)[ξ] at `v + ξ·xi_bytes`, the patch rows `row_bytes` apart. With
/// packed lanes, one slot's groups at their own offsets, `ngroups` unused.
fn compile_fn(jit: &Jit, tf: &'static Transform, row_bytes: i64, xi_bytes: i64, lanes: Lanes) -> Result<JitFn<3>> {
    let m = tf.m;
    jit.compile_opt("wino_in", Opt::Speed, |b, [src, v, ngroups], features| {
        let fma = features.has_fma;
        match &lanes {
            Lanes::Row => {
                let row = [0, 1, 2, 3].map(|l| l * m as i64);
                counted_loop(b, ngroups, 1, &[src, v], |b, _, st| {
                    let mut v4 = V4::new(b, fma);
                    group(&mut v4, tf, (st[0], st[1], 0), (row_bytes, xi_bytes), (row, false));
                    Ok(vec![v4.offset(st[0], 16 * m as i64), v4.offset(st[1], 16)])
                })?;
            }
            Lanes::Packed(slot) => {
                let run = |v4: &mut V4, (src, v): (Value, Value), groups: &[[i64; 4]]| {
                    for (q, &starts) in groups.iter().enumerate() {
                        group(v4, tf, (src, v, 16 * q as i64), (row_bytes, xi_bytes), (starts, true));
                    }
                };
                let n = b.ins().iconst(types::I64, slot.periods as i64);
                let end = counted_loop(b, n, 1, &[src, v], |b, _, st| {
                    let mut v4 = V4::new(b, fma);
                    run(&mut v4, (st[0], st[1]), &slot.period);
                    let v_bytes = 16 * slot.period.len() as i64;
                    Ok(vec![v4.offset(st[0], slot.period_bytes), v4.offset(st[1], v_bytes)])
                })?;
                run(&mut V4::new(b, fma), (end[0], end[1]), &slot.rest);
            }
        }
        b.ins().return_(&[]);
        Ok(())
    })
}

/// One group of four tiles: the patch at `src` (tile l's columns from float
/// `starts[l]` of each row), V at `v + v_off` bytes.
fn group(
    v4: &mut V4,
    tf: &Transform,
    (src, v, v_off): (Value, Value, i64),
    (row_bytes, xi_bytes): (i64, i64),
    (starts, packed): ([i64; 4], bool),
) {
    let t = tf.t;
    let at = |v4: &mut V4, i: usize, j: usize| addr(v4, v, v_off + (i * t + j) as i64 * xi_bytes);
    // Two passes through V itself: row r's (d Bᵀ)[r][j] = Σ_k Bᵀ[j][k]·d[r][k]
    // is stored at point (r, j), then column j is read back and transformed
    // in place. Kept in registers, the t² values of the first pass spilled:
    // 267 stack loads and stores per group for F(4×4), where this reads and
    // writes V 72 times (20 stack accesses are left).
    for r in 0..t {
        let cols = columns(v4, src, r as i64 * row_bytes, tf.m, (starts, packed));
        for (j, x) in apply(v4, tf.bt, &cols).into_iter().enumerate() {
            let (p, imm) = at(v4, r, j);
            v4.store(x, p, imm);
        }
    }
    for j in 0..t {
        let col: Vec<Value> = (0..t)
            .map(|r| {
                let (p, imm) = at(v4, r, j);
                v4.load(p, imm)
            })
            .collect();
        for (i, x) in apply(v4, tf.bt, &col).into_iter().enumerate() {
            let (p, imm) = at(v4, i, j);
            v4.store(x, p, imm);
        }
    }
}

/// The t columns of one patch row at `base + off` for four tiles starting at the
/// floats `starts` (m apart along a row unless `packed`): column k as the vector
/// (x[s0 + k], x[s1 + k], x[s2 + k], x[s3 + k]).
fn columns(v: &mut V4, base: Value, off: i64, m: usize, (starts, packed): ([i64; 4], bool)) -> Vec<Value> {
    let load = |v: &mut V4, floats: i64| {
        let (p, imm) = addr(v, base, off + 4 * floats);
        v.load(p, imm)
    };
    if m == 2 && packed {
        // Each tile's four floats, transposed.
        let tiles = starts.map(|s| load(v, s));
        return v.transpose4(tiles).to_vec();
    }
    if m == 2 {
        // x[0..8] split into even and odd floats, then x[2..10] alike.
        let (r0, r1, s0, s1) = (load(v, 0), load(v, 4), load(v, 2), load(v, 6));
        return vec![
            v.shuffle(r0, r1, [0, 2, 4, 6]),
            v.shuffle(r0, r1, [1, 3, 5, 7]),
            v.shuffle(s0, s1, [0, 2, 4, 6]),
            v.shuffle(s0, s1, [1, 3, 5, 7]),
        ];
    }
    if m == 6 {
        // Two 4×4 transposes: of the tiles' floats 0–3 (columns 0–3) and 4–7 (4–7).
        let lo = starts.map(|f| load(v, f));
        let hi = starts.map(|f| load(v, f + 4));
        let (lo, hi) = (v.transpose4(lo), v.transpose4(hi));
        return lo.into_iter().chain(hi).collect();
    }
    // A 4×4 transpose of x[0..16] gives columns 0–3; columns 4 and 5 are rows 2 and 3
    // of the transpose of x[2..18].
    let r = starts.map(|f| load(v, f));
    let s: Vec<Value> = starts.map(|f| load(v, f + 2)).to_vec();
    // Only rows 2 and 3 of the second transpose are needed: its last stage alone.
    let u1 = v.shuffle(s[0], s[1], [2, 6, 3, 7]);
    let u3 = v.shuffle(s[2], s[3], [2, 6, 3, 7]);
    let mut cols = v.transpose4(r).to_vec();
    cols.push(v.shuffle(u1, u3, [0, 1, 4, 5]));
    cols.push(v.shuffle(u1, u3, [2, 3, 6, 7]));
    cols
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Conv, Pad2d, Window};

    /// Calls over different tile rows share one part's staging band: rows that held
    /// map data in one call and are padding in the next must read as zeros.
    #[test]
    fn padding_rows_read_zero_after_a_call_that_filled_them() {
        let jit = Jit::native().unwrap();
        let window = Window { kh: 3, kw: 3, sh: 1, sw: 1, pad: Pad2d::uniform(1) };
        let conv = Conv { in_c: 1, out_c: 1, window, groups: 1, bias: false, table: None };
        let g = ConvGeom::new(&conv, &[1, 1, 10, 10], &[1, 1, 10, 10]).unwrap();
        // Three tile rows of one group of four tiles; V's 36 planes hold all three.
        let (slot, slots) = (4, 3);
        let grid = super::super::grid(&g, 4, super::super::all_lanes(&g));
        assert_eq!((grid.pack, grid.tw4), (1, 4));
        let it =
            InputTransform::compile(&jit, super::super::transform(4), &g, (4 * slot * slots) as i64, (grid, slots))
                .unwrap();
        assert!(it.band.is_some(), "a 10-wide map goes through the band");
        let src: Vec<f32> = (0..100).map(|i| 1.0 + i as f32).collect();
        // Each call transforms tile rows `start .. end`.
        let run = |calls: &[(usize, usize)]| {
            let mut stage = vec![0.0; it.stage_len()];
            let mut stage = it.staging(&mut stage);
            let mut v = vec![0.0f32; 36 * slot * slots];
            for &(start, end) in calls {
                let at = v.as_mut_ptr().wrapping_add(start * slot);
                // SAFETY: at most `slots` tile rows, each storing 4 floats per plane
                // inside `v`; the source is the whole 10×10 map.
                unsafe { it.rows(&src, start..end, at, &mut stage) };
            }
            v
        };
        // Rows 1..3 fill band rows 0..7 with map rows 3..10; rows 0..1 then need
        // band row 0 as the top padding.
        assert_eq!(run(&[(1, 3), (0, 1)]), run(&[(0, 3)]));
        assert_eq!(run(&[(0, 1), (1, 3), (0, 1), (2, 3)]), run(&[(0, 3)]));
    }
}
