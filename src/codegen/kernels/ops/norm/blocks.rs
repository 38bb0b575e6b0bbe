//! Training batch norm on maps with short planes (8×8, 7×7, 14×14): each unit takes
//! a block of adjacent channels and reads them sample by sample, in memory order.
//!
//! With one channel per unit, every sample contributes one plane of a few hundred
//! bytes, a page apart from the next: the hardware prefetchers follow runs within a
//! page, so they never get going, and nearly every line is a demand miss. Measured
//! (2-core Intel Xeon, batch 128, one BN + ReLU layer of 8 MiB, forward / backward):
//! 16×32×32 0.64 / 0.83 ms, 64×16×16 0.75 / 0.91, 256×8×8 1.27 / 1.36. A block of
//! channels is one run of about [`RUN`] floats per sample.
//!
//! The passes are those of the one-channel order (the shift K from the first sample,
//! the shifted sums, the statistics, the element pass), each a loop over samples
//! and, inside, over the block's channels. A channel's sums are kept in the
//! interleaved accumulators over one plane, then added into a stack area that
//! carries them from sample to sample: the same terms as the one-channel order,
//! summed in another order (plane by plane).

use cranelift_codegen::ir::{InstBuilder, Value};

use super::super::emit::{fixed_loop, iconst, load, range_loop, Combine, Lanes, Reduce};
use super::super::frame::{Frame, Tensor};
use super::super::sink::Sink;
use super::{chan, each, gradient_terms, input_gradient, normalize, shift, statistics, xhat, Group, Layout};
use crate::codegen::error::Result;
use crate::codegen::simd::{stack_vectors, V4};
use crate::ir::BatchNorm;
use crate::sched::StepSpec;

/// Floats of one sample that a unit reads as one run.
const RUN: usize = 1024;

/// Channels per unit for training and backward kernels on `l`: as many as make a
/// run of [`RUN`] floats, but never so many that fewer than 8 units are left; 1
/// (the one-channel order) for planes of more than half a run and for vectors.
pub(super) fn channels_per_unit(l: Layout) -> usize {
    if !l.planar() {
        return 1;
    }
    (RUN / l.s).min(l.c.div_ceil(8)).max(1)
}

/// The channels of unit `u`: the first, and how many (the last unit may have fewer).
pub(super) fn block(v: &mut V4, l: Layout, per_unit: usize, u: Value) -> (Value, Value) {
    let c0 = v.b.ins().imul_imm_s(u, per_unit as i64);
    let c = iconst(v, l.c as i64);
    let left = v.b.ins().isub(c, c0);
    let k = iconst(v, per_unit as i64);
    (c0, v.b.ins().smin(left, k))
}

/// Two sums per channel, carried between samples in a stack area: per channel, the
/// vector part of each sum, then the broadcast tail part of each.
struct Carried {
    area: Value,
}

const SUMS: usize = 2;

impl Carried {
    /// Zeroed for `count` channels (at most `cap`), with `extra` more vectors per
    /// channel for the caller.
    fn new(v: &mut V4, cap: usize, count: Value, extra: usize) -> Result<(Carried, usize)> {
        let stride = 2 * SUMS + extra;
        let area = stack_vectors(v.b, stride * cap);
        let c = Carried { area };
        let zero = iconst(v, 0);
        range_loop(v, zero, count, |v, j| {
            let z = v.splat(0.0);
            let p = c.slot(v, j, stride);
            for i in 0..2 * SUMS {
                v.store(z, p, (16 * i) as i32);
            }
            Ok(())
        })?;
        Ok((c, stride))
    }

    /// Address of channel `j`'s vectors.
    fn slot(&self, v: &mut V4, j: Value, stride: usize) -> Value {
        let o = v.b.ins().imul_imm_s(j, (16 * stride) as i64);
        v.b.ins().iadd(self.area, o)
    }

    /// For every sample and channel `j` of the block, the two sums of `terms` over
    /// the plane, added into channel `j`'s sums; `consts(j, group)` gives the
    /// per-channel values `terms` reads besides the loaded `ts`.
    #[allow(clippy::type_complexity)]
    fn add_planes(
        &self,
        v: &mut V4,
        (l, block, stride): (Layout, (Value, Value), usize),
        ts: &[Tensor],
        consts: &dyn Fn(&mut V4, Value, Group) -> Vec<Value>,
        terms: &dyn Fn(&mut V4, &[Value], &[Value]) -> Vec<Value>,
    ) -> Result<()> {
        samples_by_channel(v, l, block, &mut |v, n, j, g| {
            let cs = consts(v, j, g);
            let st = plane_sums(v, l, ts, (n, g), &|v, vals| terms(v, &cs, vals))?;
            self.fold(v, j, stride, &st);
            Ok(())
        })
    }

    /// Adds the reduction state `st` of one plane (see [`Reduce`]) into channel `j`'s sums.
    fn fold(&self, v: &mut V4, j: Value, stride: usize, st: &[Value]) {
        let p = self.slot(v, j, stride);
        for i in 0..SUMS {
            // The accumulators paired as `Reduce::totals` pairs them.
            let a = v.add(st[i], st[SUMS + i]);
            let b = v.add(st[2 * SUMS + i], st[3 * SUMS + i]);
            let four = v.add(a, b);
            let old = v.load(p, (16 * i) as i32);
            let new = v.add(old, four);
            v.store(new, p, (16 * i) as i32);
            let old = v.load(p, (16 * (SUMS + i)) as i32);
            let new = v.add(old, st[4 * SUMS + i]);
            v.store(new, p, (16 * (SUMS + i)) as i32);
        }
    }

    /// Channel `j`'s two totals, broadcast.
    fn totals(&self, v: &mut V4, j: Value, stride: usize) -> [Value; 2] {
        let p = self.slot(v, j, stride);
        let r = Reduce { k: SUMS, op: Combine::Add };
        let mut state = r.init(v);
        for i in 0..SUMS {
            state[i] = v.load(p, (16 * i) as i32);
            state[4 * SUMS + i] = v.load(p, (16 * (SUMS + i)) as i32);
        }
        let t = r.totals(v, &state);
        [t[0], t[1]]
    }
}

/// For every sample, then every channel `c0 + j` of the block (j < `count`), runs
/// `body(sample, j, group)`.
fn samples_by_channel(
    v: &mut V4,
    l: Layout,
    (c0, count): (Value, Value),
    body: &mut dyn FnMut(&mut V4, Value, Value, Group) -> Result<()>,
) -> Result<()> {
    fixed_loop(v, l.n, |v, n| {
        let zero = iconst(v, 0);
        range_loop(v, zero, count, |v, j| {
            let c = v.b.ins().iadd(c0, j);
            body(v, n, j, Group { c, lanes: Lanes::One })
        })
    })
}

/// Every channel `c0 + j` of the block: `body(j, group)`.
fn channels(
    v: &mut V4,
    (c0, count): (Value, Value),
    body: &mut dyn FnMut(&mut V4, Value, Group) -> Result<()>,
) -> Result<()> {
    let zero = iconst(v, 0);
    range_loop(v, zero, count, |v, j| {
        let c = v.b.ins().iadd(c0, j);
        body(v, j, Group { c, lanes: Lanes::One })
    })
}

/// The two sums of `terms` over one plane of sample `n`, as a reduction state.
fn plane_sums(
    v: &mut V4,
    l: Layout,
    ts: &[Tensor],
    (n, g): (Value, Group),
    terms: &dyn Fn(&mut V4, &[Value]) -> Vec<Value>,
) -> Result<Vec<Value>> {
    let r = Reduce { k: SUMS, op: Combine::Add };
    let init = r.init(v);
    let off0 = v.b.ins().imul_imm_s(g.c, l.s as i64);
    let ptrs: Vec<Value> = ts.iter().map(|t| t.at(v, n, off0)).collect();
    r.run(v, l.s, &init, |v, off, lanes| {
        let vals: Vec<Value> = ptrs.iter().map(|&p| load(v, lanes, p, off)).collect();
        terms(v, &vals)
    })
}

/// `BatchNormTrain` for the block of `count` channels from `c0` (at most `cap`).
#[allow(clippy::too_many_arguments)]
pub(super) fn train(
    v: &mut V4,
    spec: &StepSpec,
    f: &Frame,
    sink: &Sink,
    l: Layout,
    b: &BatchNorm,
    block: (Value, Value),
    cap: usize,
) -> Result<()> {
    let x = f.input(spec, 0);
    // One more vector per channel: the shift K.
    let (acc, stride) = Carried::new(v, cap, block.1, 1)?;
    let k_at = 16 * 2 * SUMS as i32;
    channels(v, block, &mut |v, j, g| {
        let k = shift(v, l, g, x)?;
        let p = acc.slot(v, j, stride);
        v.store(k, p, k_at);
        Ok(())
    })?;
    let k_of = |v: &mut V4, j: Value, _: Group| {
        let p = acc.slot(v, j, stride);
        vec![v.load(p, k_at)]
    };
    acc.add_planes(v, (l, block, stride), &[x], &k_of, &|v, k, x| {
        let d = v.sub(x[0], k[0]);
        vec![d, v.mul(d, d)]
    })?;
    channels(v, block, &mut |v, j, g| {
        let s = acc.totals(v, j, stride);
        let p = acc.slot(v, j, stride);
        let k = v.load(p, k_at);
        statistics(v, spec, f, l, b, g, k, s);
        Ok(())
    })?;
    samples_by_channel(v, l, block, &mut |v, n, _, g| {
        let [mu, inv] = [1, 2].map(|k| chan(v, g, f.output(spec, k)));
        let [gamma, beta] = [1, 2].map(|k| chan(v, g, f.input(spec, k)));
        each(v, l, g, &[x], sink, Some(n), &|v, x| normalize(v, x[0], mu, inv, gamma, beta))
    })
}

/// `BatchNormBackward` for the block of `count` channels from `c0` (at most `cap`).
pub(super) fn backward(
    v: &mut V4,
    spec: &StepSpec,
    f: &Frame,
    sink: &Sink,
    l: Layout,
    block: (Value, Value),
    cap: usize,
) -> Result<()> {
    let (dy, x) = (f.input(spec, 0), f.input(spec, 1));
    // Three more vectors per channel: dx's per-channel terms.
    let (acc, stride) = Carried::new(v, cap, block.1, 3)?;
    let terms_at = |i: usize| (16 * (2 * SUMS + i)) as i32;
    let stats_of = |v: &mut V4, _: Value, g: Group| [3, 4].map(|k| chan(v, g, f.input(spec, k))).to_vec();
    acc.add_planes(v, (l, block, stride), &[dy, x], &stats_of, &|v, stats, t| {
        let xh = xhat(v, t[1], [stats[0], stats[1]]);
        vec![t[0], v.mul(t[0], xh)]
    })?;
    channels(v, block, &mut |v, j, g| {
        let s = acc.totals(v, j, stride);
        let [gamma, inv] = [2, 4].map(|k| chan(v, g, f.input(spec, k)));
        let terms = gradient_terms(v, spec, f, l, g, s, [gamma, inv]);
        let p = acc.slot(v, j, stride);
        for (i, t) in terms.into_iter().enumerate() {
            v.store(t, p, terms_at(i));
        }
        Ok(())
    })?;
    samples_by_channel(v, l, block, &mut |v, n, j, g| {
        let stats = [3, 4].map(|k| chan(v, g, f.input(spec, k)));
        let p = acc.slot(v, j, stride);
        let terms = [0, 1, 2].map(|i| v.load(p, terms_at(i)));
        each(v, l, g, &[dy, x], sink, Some(n), &|v, t| input_gradient(v, [t[0], t[1]], stats, terms))
    })
}
