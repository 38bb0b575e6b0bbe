//! The output side of the Winograd kernel: `Aᵀ M A` on vectors of four tiles, a
//! lane transpose back to pixels, bias and the shared store stage (one compiled
//! function per row stride), and the staging of tile groups that reach past the
//! map's right or bottom edge.

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::super::abi::{view, view_mut, MAX_EXTRAS};
use super::super::emit::{addr, load_ptr};
use super::super::store::{store_vecs, Item, OperandMap, StoreSpec, TilePtrs};
use super::linear::apply;
use super::{Grid, Transform, Winograd};
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn, Opt};
use crate::codegen::loops::counted_loop;
use crate::codegen::simd::{stack_vectors, V4};
use crate::sched::StepSpec;

/// `fn(m, out, bias, extras, ngroups, nchan)`: for `nchan` output channels (M, the
/// output and the extras `chan_bytes` = (M's, the output's) further per channel,
/// the bias one float), `ngroups` groups of four horizontally adjacent tiles each
/// (M at `m`, transform point ξ at `ξ·xi_bytes`, the next group 16 bytes on):
/// `Aᵀ M A`, bias, and the store stage into output rows `row_bytes` apart (the
/// extras alike), 16·m bytes per group. One call per tile row rather than per
/// (channel, tile row): on 8×8 maps a call had one group to do. With a packed
/// `grid` a group is one slot: its tiles go to `pack` tile rows of `tw` tiles.
///
/// On a grid whose groups straddle tile rows, one call does one slot as
/// [`Grid::slot_walk`] walks it, each tile stored where it lies (`out` at the
/// slot's first output row); `ngroups` is unused and padding lanes are dropped.
pub(super) fn compile_output(
    jit: &Jit,
    tf: &'static Transform,
    spec: &StepSpec,
    (row_bytes, xi_bytes): (i64, i64),
    chan_bytes: (i64, i64),
    (bias, grid): (bool, Grid),
) -> Result<JitFn<6>> {
    let map = OperandMap { r_stride: row_bytes, pos_stride: 16, lane_stride: 4 };
    let store = StoreSpec {
        out: map,
        extras: vec![map; spec.extra.len()],
        bias: false,
        epilogue: spec.epilogue.clone(),
        accumulate: spec.accumulate,
        partial: false,
    };
    let m = tf.m;
    jit.compile_opt("wino_out", Opt::Speed, |b, [mp, out, bias_p, extras, ngroups, nchan], features| {
        let fma = features.has_fma;
        // Aᵀ M, m×t vectors, between the two passes (see `group`).
        let tmp_at = stack_vectors(b, m * tf.t);
        let mut v = V4::new(b, false);
        let ex: Vec<Value> = (0..store.extras.len()).map(|k| load_ptr(&mut v, extras, k)).collect();
        let chans: Vec<Value> = [mp, out, bias_p].into_iter().chain(ex).collect();
        counted_loop(b, nchan, 1, &chans, |b, _, ch| {
            let bias_p = ch[2];
            let mut v = V4::new(b, false);
            let bv = bias.then(|| v.load_splat(bias_p, 0));
            let init: Vec<Value> = [ch[0], ch[1]].into_iter().chain(ch[3..].iter().copied()).collect();
            let out = Out { tf, xi_bytes, tmp_at, bv, store: &store };
            match grid.straddles() {
                false => {
                    // The output row (below the group's first) and vector position of
                    // the group's vector q of one tile-pixel row: a row of the group
                    // holds `per_row` tiles, and its pixels are whole vectors (F(6×6)
                    // is never packed, see `grid`).
                    let per_row = grid.group_row_tiles();
                    let place = |q: usize| Some(((4 * q / (per_row * m)) * m, (4 * q % (per_row * m)) / 4));
                    counted_loop(b, ngroups, 1, &init, |b, _, st| {
                        let mut v = V4::new(b, fma);
                        let tp = TilePtrs { out: st[1], extras: st[2..].to_vec(), bias: bias_p };
                        out.group(&mut v, (st[0], 0), &tp, place);
                        let steps = std::iter::once(16).chain(std::iter::repeat(16 * m as i64));
                        Ok(st.iter().zip(steps).map(|(&p, d)| v.offset(p, d)).collect())
                    })?;
                }
                true => {
                    // One period's groups in a loop, then the rest (see `Grid::slot_walk`),
                    // each tile stored where it lies; padding lanes dropped.
                    let walk = grid.slot_walk();
                    let run = |v: &mut V4, st: &[Value], groups: &[[Option<(usize, usize)>; 4]]| {
                        let tp = TilePtrs { out: st[1], extras: st[2..].to_vec(), bias: bias_p };
                        for (q, lanes) in groups.iter().enumerate() {
                            let place = |l: usize| lanes[l].map(|(r, c)| (r * m, c * m / 4));
                            out.group(v, (st[0], 16 * q as i64), &tp, place);
                        }
                    };
                    let n = b.ins().iconst(types::I64, walk.periods as i64);
                    let end = counted_loop(b, n, 1, &init, |b, _, st| {
                        let mut v = V4::new(b, fma);
                        run(&mut v, st, &walk.period);
                        let rows = row_bytes * (walk.period_rows * m) as i64;
                        let steps = std::iter::once(16 * walk.period.len() as i64).chain(std::iter::repeat(rows));
                        Ok(st.iter().zip(steps).map(|(&p, d)| v.offset(p, d)).collect())
                    })?;
                    run(&mut V4::new(b, fma), &end, &walk.rest);
                }
            }
            let mut v = V4::new(b, false);
            let steps = [chan_bytes.0, chan_bytes.1, 4].into_iter().chain(std::iter::repeat(chan_bytes.1));
            Ok(ch.iter().zip(steps).map(|(&p, d)| v.offset(p, d)).collect())
        })?;
        b.ins().return_(&[]);
        Ok(())
    })
}

/// What the output transform of one group needs besides its pointers.
struct Out<'a> {
    tf: &'static Transform,
    xi_bytes: i64,
    /// The stack buffer between the two passes.
    tmp_at: Value,
    /// The channel's bias, splatted.
    bv: Option<Value>,
    store: &'a StoreSpec,
}

impl Out<'_> {
    /// `Aᵀ M A` of one group of four tiles (M at `mp + mp_off` bytes), bias and the
    /// store stage; `place(q)` gives the output row (of the group's first pixel row)
    /// and vector position of the group's vector q of each tile-pixel row, or None
    /// for a vector to drop.
    fn group(
        &self,
        v: &mut V4,
        (mp, mp_off): (Value, i64),
        tp: &TilePtrs,
        place: impl Fn(usize) -> Option<(usize, usize)>,
    ) {
        let (m, t, xi_bytes) = (self.tf.m, self.tf.t, self.xi_bytes);
        // tmp[i][j] = Σ_k Aᵀ[i][k]·M[k][j] column by column into a stack buffer,
        // then Y[i][j] = Σ_k tmp[i][k]·Aᵀ[j][k] row by row: with M's t² values all
        // loaded first, the register allocator spilled them (125 stack loads and
        // stores per group for F(4×4)).
        for j in 0..t {
            let col: Vec<Value> = (0..t)
                .map(|k| {
                    let (p, imm) = addr(v, mp, mp_off + (k * t + j) as i64 * xi_bytes);
                    v.load(p, imm)
                })
                .collect();
            for (i, x) in apply(v, self.tf.at, &col).into_iter().enumerate() {
                v.store(x, self.tmp_at, (16 * (i * t + j)) as i32);
            }
        }
        let mut items = Vec::new();
        for i in 0..m {
            let tmp: Vec<Value> = (0..t).map(|j| v.load(self.tmp_at, (16 * (i * t + j)) as i32)).collect();
            let y = apply(v, self.tf.at, &tmp);
            // Lanes are tiles: transpose so each vector is 4 adjacent pixels (row i
            // of one tile for F(4×4), of two tiles for F(2×2), the group's row of 24
            // pixels in six vectors for F(6×6)).
            let z = match m {
                4 => v.transpose4([y[0], y[1], y[2], y[3]]).to_vec(),
                2 => vec![v.shuffle(y[0], y[1], [0, 4, 1, 5]), v.shuffle(y[0], y[1], [2, 6, 3, 7])],
                _ => six_pixel_rows(v, &y),
            };
            for (q, x) in z.into_iter().enumerate() {
                let Some((r, pos)) = place(q) else { continue };
                let x = match self.bv {
                    Some(bv) => v.add(x, bv),
                    None => x,
                };
                items.push(Item { r: r + i, pos, lanes: 4, x });
            }
            // Stored as soon as a whole output row of the group is ready (two rows
            // of F(2×2)): fewer live values.
            if items.len() >= 4 || i + 1 == m {
                store_vecs(v, self.store, tp, &items);
                items.clear();
            }
        }
    }
}

impl Winograd {
    /// One group of four tiles through the staging buffers: the old output (when
    /// accumulating) and the extras' valid `nr × nc` elements copied in (zeros
    /// elsewhere), the output function run on them, the valid elements copied out.
    ///
    /// # Safety
    /// Sample `n` of the output and extras holds elements `base + i·ow + j` for
    /// `i < nr`, `j < nc`, and nobody else accesses the output ones meanwhile.
    pub(super) unsafe fn staged(
        &self,
        ptrs: &[*mut f32],
        (n, base, nr, nc): (usize, usize, usize, usize),
        (mp, bias): (i64, i64),
        stage: &mut [f32],
        len: usize,
    ) {
        // Grids whose groups straddle tile rows have every tile inside the map.
        let Some(out_stage) = &self.out_stage else { return };
        let (ow, w4) = (self.g.ow, self.grid.group_width(self.tf.m));
        let (sy, sex) = stage.split_at_mut(len);
        let copy_in = |src: *const f32, dst: &mut [f32]| {
            dst.fill(0.0);
            for i in 0..nr {
                // SAFETY: the caller's obligations.
                let row = unsafe { view(src.add(base + i * ow), nc) };
                dst[i * w4..i * w4 + nc].copy_from_slice(row);
            }
        };
        // SAFETY: the output of sample n starts at n·ybs.
        let y = unsafe { ptrs[self.y].add(n * self.ybs) };
        if self.accumulate {
            copy_in(y, sy);
        }
        let mut ex = [0i64; MAX_EXTRAS];
        for (k, chunk) in sex.chunks_exact_mut(len).enumerate().take(self.ebs.len()) {
            // SAFETY: extra k of sample n starts at n·ebs[k].
            copy_in(unsafe { ptrs[self.extras + k].add(n * self.ebs[k]) }, chunk);
            ex[k] = chunk.as_ptr() as i64;
        }
        // SAFETY: M is valid for the group; the staging buffers for m rows of 4m.
        unsafe { out_stage.call([mp, sy.as_mut_ptr() as i64, bias, ex.as_ptr() as i64, 1, 1]) };
        for i in 0..nr {
            // SAFETY: the caller's obligations (the part's own output elements).
            let row = unsafe { view_mut(y.add(base + i * ow), nc) };
            row.copy_from_slice(&sy[i * w4..i * w4 + nc]);
        }
    }
}

/// Pixel row i of four F(6×6) tiles, `y[j]` holding pixel j of the four tiles in
/// its lanes, as six vectors of four adjacent pixels (tile l's pixels at 6l..6l + 6).
fn six_pixel_rows(v: &mut V4, y: &[Value]) -> Vec<Value> {
    // t[l]: pixels 0–3 of tile l; a, b: pixels 4, 5 of tiles 0, 1 and of tiles 2, 3.
    let t = v.transpose4([y[0], y[1], y[2], y[3]]);
    let a = v.shuffle(y[4], y[5], [0, 4, 1, 5]);
    let b = v.shuffle(y[4], y[5], [2, 6, 3, 7]);
    vec![
        t[0],
        v.shuffle(a, t[1], [0, 1, 4, 5]),
        v.shuffle(t[1], a, [2, 3, 6, 7]),
        t[2],
        v.shuffle(b, t[3], [0, 1, 4, 5]),
        v.shuffle(t[3], b, [2, 3, 6, 7]),
    ]
}
