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

/// Two sums per channel of one block, carried between samples in a stack area: per
/// channel, the vector part of each sum, the broadcast tail part of each, then
/// `extra` vectors of the caller's.
struct Carried {
    area: Value,
    /// Vectors per channel.
    stride: usize,
    l: Layout,
    /// The block's first channel and channel count.
    block: (Value, Value),
}

const SUMS: usize = 2;
const SUM: Reduce = Reduce { k: SUMS, op: Combine::Add };

impl Carried {
    /// Zeroed sums for the block's channels (at most `cap`), with `extra` more
    /// vectors per channel.
    fn new(v: &mut V4, l: Layout, block: (Value, Value), cap: usize, extra: usize) -> Result<Carried> {
        let stride = 2 * SUMS + extra;
        let area = stack_vectors(v.b, stride * cap);
        let c = Carried { area, stride, l, block };
        c.channels(v, &mut |v, j, _| {
            let z = v.splat(0.0);
            let p = c.slot(v, j);
            for i in 0..2 * SUMS {
                v.store(z, p, (16 * i) as i32);
            }
            Ok(())
        })?;
        Ok(c)
    }

    /// Address of channel `j`'s vectors.
    fn slot(&self, v: &mut V4, j: Value) -> Value {
        let o = v.b.ins().imul_imm_s(j, (16 * self.stride) as i64);
        v.b.ins().iadd(self.area, o)
    }

    /// Byte offset of the caller's vector `i` in a channel's slot.
    fn extra_at(i: usize) -> i32 {
        (16 * (2 * SUMS + i)) as i32
    }

    /// Every channel `c0 + j` of the block: `body(j, group)`.
    fn channels(&self, v: &mut V4, body: &mut dyn FnMut(&mut V4, Value, Group) -> Result<()>) -> Result<()> {
        let (c0, count) = self.block;
        let zero = iconst(v, 0);
        range_loop(v, zero, count, |v, j| {
            let c = v.b.ins().iadd(c0, j);
            body(v, j, Group { c, lanes: Lanes::One })
        })
    }

    /// For every sample, then every channel of the block: `body(sample, j, group)`.
    fn samples_by_channel(
        &self,
        v: &mut V4,
        body: &mut dyn FnMut(&mut V4, Value, Value, Group) -> Result<()>,
    ) -> Result<()> {
        fixed_loop(v, self.l.n, |v, n| self.channels(v, &mut |v, j, g| body(v, n, j, g)))
    }

    /// For every sample and channel `j` of the block, the two sums of `terms` over
    /// the plane, added into channel `j`'s sums; `consts(j, group)` gives the
    /// per-channel values `terms` reads besides the loaded `ts`.
    #[allow(clippy::type_complexity)]
    fn add_planes(
        &self,
        v: &mut V4,
        ts: &[Tensor],
        consts: &dyn Fn(&mut V4, Value, Group) -> Vec<Value>,
        terms: &dyn Fn(&mut V4, &[Value], &[Value]) -> Vec<Value>,
    ) -> Result<()> {
        self.samples_by_channel(v, &mut |v, n, j, g| {
            let cs = consts(v, j, g);
            let st = plane_sums(v, self.l, ts, (n, g), &|v, vals| terms(v, &cs, vals))?;
            self.fold(v, j, &st);
            Ok(())
        })
    }

    /// Adds the reduction state `st` of one plane into channel `j`'s sums.
    fn fold(&self, v: &mut V4, j: Value, st: &[Value]) {
        let p = self.slot(v, j);
        for (i, four) in SUM.vectors(v, st).into_iter().enumerate() {
            for (at, x) in [(i, four), (SUMS + i, SUM.tail(st, i))] {
                let old = v.load(p, (16 * at) as i32);
                let new = v.add(old, x);
                v.store(new, p, (16 * at) as i32);
            }
        }
    }

    /// Channel `j`'s two totals, broadcast.
    fn totals(&self, v: &mut V4, j: Value) -> [Value; 2] {
        let p = self.slot(v, j);
        let mut state = SUM.init(v);
        for i in 0..SUMS {
            state[i] = v.load(p, (16 * i) as i32);
            state[4 * SUMS + i] = v.load(p, (16 * (SUMS + i)) as i32);
        }
        let t = SUM.totals(v, &state);
        [t[0], t[1]]
    }
}

/// The two sums of `terms` over one plane of sample `n`, as a reduction state.
fn plane_sums(
    v: &mut V4,
    l: Layout,
    ts: &[Tensor],
    (n, g): (Value, Group),
    terms: &dyn Fn(&mut V4, &[Value]) -> Vec<Value>,
) -> Result<Vec<Value>> {
    let init = SUM.init(v);
    let off0 = v.b.ins().imul_imm_s(g.c, l.s as i64);
    let ptrs: Vec<Value> = ts.iter().map(|t| t.at(v, n, off0)).collect();
    SUM.run(v, l.s, &init, |v, off, lanes| {
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
    let acc = Carried::new(v, l, block, cap, 1)?;
    let k_at = Carried::extra_at(0);
    acc.channels(v, &mut |v, j, g| {
        let k = shift(v, l, g, x)?;
        let p = acc.slot(v, j);
        v.store(k, p, k_at);
        Ok(())
    })?;
    let k_of = |v: &mut V4, j: Value, _: Group| {
        let p = acc.slot(v, j);
        vec![v.load(p, k_at)]
    };
    acc.add_planes(v, &[x], &k_of, &|v, k, x| {
        let d = v.sub(x[0], k[0]);
        vec![d, v.mul(d, d)]
    })?;
    acc.channels(v, &mut |v, j, g| {
        let s = acc.totals(v, j);
        let p = acc.slot(v, j);
        let k = v.load(p, k_at);
        statistics(v, spec, f, l, b, g, k, s);
        Ok(())
    })?;
    acc.samples_by_channel(v, &mut |v, n, _, g| {
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
    let acc = Carried::new(v, l, block, cap, 3)?;
    let stats_of = |v: &mut V4, _: Value, g: Group| [3, 4].map(|k| chan(v, g, f.input(spec, k))).to_vec();
    acc.add_planes(v, &[dy, x], &stats_of, &|v, stats, t| {
        let xh = xhat(v, t[1], [stats[0], stats[1]]);
        vec![t[0], v.mul(t[0], xh)]
    })?;
    acc.channels(v, &mut |v, j, g| {
        let s = acc.totals(v, j);
        let [gamma, inv] = [2, 4].map(|k| chan(v, g, f.input(spec, k)));
        let terms = gradient_terms(v, spec, f, l, g, s, [gamma, inv]);
        let p = acc.slot(v, j);
        for (i, t) in terms.into_iter().enumerate() {
            v.store(t, p, Carried::extra_at(i));
        }
        Ok(())
    })?;
    acc.samples_by_channel(v, &mut |v, n, j, g| {
        let stats = [3, 4].map(|k| chan(v, g, f.input(spec, k)));
        let p = acc.slot(v, j);
        let terms = [0, 1, 2].map(|i| v.load(p, Carried::extra_at(i)));
        each(v, l, g, &[dy, x], sink, Some(n), &|v, t| input_gradient(v, [t[0], t[1]], stats, terms))
    })
}
