//! Batch normalisation: `BatchNormTrain`, `BatchNormEval` and
//! `BatchNormBackward`, split over channels so that each part owns the
//! per-channel statistics, gradients and running averages it writes.
//!
//! Consumes: x (dy, dx) as N×C×S (S = H·W for maps, 1 for N×F vectors), any
//! batch strides; γ, β and the statistics as C-element tensors. Produces:
//! the first output through the [`Sink`], the others stored directly (the
//! running statistics read and updated in place).
//! Guarantees: element formulas follow the reference operation by
//! operation, so `BatchNormEval` is bit-identical. Maps (S > 1) are
//! vectorised along S, one channel per unit, two samples' planes read side by
//! side ([`STREAMS`]), each sum kept in interleaved vector accumulators
//! ([`Reduce`]) reduced at the end; in training and backward kernels, maps whose
//! planes are short take a block of channels per unit instead, read in memory
//! order (`blocks`); vectors (S = 1) are
//! vectorised across four adjacent channels per unit and summed over the
//! batch in the reference's order. Training statistics take one pass over x
//! (sums shifted by the first sample's mean, see [`train`]) where the reference
//! takes two; they differ from it by rounding of the same order (a few ulp of
//! Σ|terms| of the shifted sums). `BatchNormEval` on maps needs no reduction
//! and goes plane by plane in memory order instead.

mod blocks;

use std::sync::Arc;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value};

use super::emit::{divmod, fixed_fold, fork, iconst, load, range_loop, run, store, Combine, Lanes, Reduce};
use super::frame::{build, Frame, OpOptions, Split, Tensor};
use super::shape::{alike, bad, ncs, same, size};
use super::sink::Sink;
use crate::autodiff::Kernel;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::simd::V4;
use crate::ir::BatchNorm;
use crate::sched::StepSpec;

/// N×C×S.
#[derive(Debug, Clone, Copy)]
struct Layout {
    n: usize,
    c: usize,
    s: usize,
}

impl Layout {
    /// Maps are vectorised along positions, vectors across channels.
    fn planar(&self) -> bool {
        self.s > 1
    }
    /// Values reduced per channel.
    fn count(&self) -> usize {
        self.n * self.s
    }
}

/// The channels of one unit: `lanes` adjacent channels from `c` (planar
/// units have one channel, broadcast).
#[derive(Clone, Copy)]
struct Group {
    c: Value,
    lanes: Lanes,
}

/// Compiles one of the batch-norm kernels.
pub(super) fn compile(jit: &Jit, spec: &StepSpec, opts: &OpOptions) -> Result<Arc<dyn CompiledKernel>> {
    let (b, which) = match spec.kernel {
        Kernel::BatchNormTrain(b) => (b, 0),
        Kernel::BatchNormEval(b) => (b, 1),
        Kernel::BatchNormBackward(b) => (b, 2),
        _ => return Err(bad(spec, "not a batch-norm kernel")),
    };
    let l = validate(spec, &b, which)?;
    // Evaluation reduces nothing: maps go plane by plane, in memory order.
    let planes = which == 1 && l.planar();
    // Training and backward kernels on short planes take blocks of channels.
    let block = if which == 1 { 1 } else { blocks::channels_per_unit(l) };
    let units = if planes {
        l.n * l.c
    } else if l.planar() {
        l.c.div_ceil(block)
    } else {
        l.c / 4 + l.c % 4
    };
    let per_unit = if planes {
        l.s
    } else if l.planar() {
        block * l.count()
    } else {
        4 * l.n
    };
    let split = Split::new(units, 3 * per_unit, opts);
    let desc = match block {
        1 => format!("{} {:?}", spec.kernel.name(), spec.inputs[0].dims),
        k => format!("{} {:?} by {k} channels", spec.kernel.name(), spec.inputs[0].dims),
    };
    build(jit, spec, desc, split, 0, |v, f| {
        let sink = Sink::new(spec, f);
        if planes {
            return range_loop(v, f.lo, f.hi, |v, u| {
                let (smp, c) = divmod(v, u, l.c);
                eval(v, spec, f, &sink, l, &b, Group { c, lanes: Lanes::One }, Some(smp))
            });
        }
        if block > 1 {
            return range_loop(v, f.lo, f.hi, |v, u| {
                let chans = blocks::block(v, l, block, u);
                match which {
                    0 => blocks::train(v, spec, f, &sink, l, &b, chans, block),
                    _ => blocks::backward(v, spec, f, &sink, l, chans, block),
                }
            });
        }
        for_groups(v, f, l, &mut |v, g| match which {
            0 => train(v, spec, f, &sink, l, &b, g),
            1 => eval(v, spec, f, &sink, l, &b, g, None),
            _ => backward(v, spec, f, &sink, l, g),
        })
    })
}

/// Checks the operands; returns the layout of x.
fn validate(spec: &StepSpec, b: &BatchNorm, which: usize) -> Result<Layout> {
    // The batched inputs come first: x, or dy and x in the backward pass.
    let batched_in = if which == 2 { 2 } else { 1 };
    let x = &spec.inputs[batched_in - 1];
    let [n, c, s] = ncs(spec, "x", x)?;
    same(spec, "x's channels", c, b.channels as usize)?;
    for (k, op) in spec.inputs.iter().enumerate() {
        if k < batched_in {
            alike(spec, &format!("input {k}"), op, x)?;
        } else {
            same(spec, &format!("input {k}'s length"), size(op), c)?;
        }
    }
    alike(spec, "the first output", &spec.outputs[0], x)?;
    for (k, op) in spec.outputs.iter().enumerate().skip(1) {
        same(spec, &format!("output {k}'s length"), size(op), c)?;
    }
    Ok(Layout { n, c, s })
}

/// Runs `body` for this part's units: a channel each for maps; four
/// channels, then the 1–3 leftover channels one each, for vectors.
fn for_groups(v: &mut V4, f: &Frame, l: Layout, body: &mut dyn FnMut(&mut V4, Group) -> Result<()>) -> Result<()> {
    range_loop(v, f.lo, f.hi, |v, u| {
        if l.planar() {
            return body(v, Group { c: u, lanes: Lanes::One });
        }
        let full = l.c / 4;
        let quad = |v: &mut V4, body: &mut dyn FnMut(&mut V4, Group) -> Result<()>| {
            let c = v.b.ins().imul_imm_s(u, 4);
            body(v, Group { c, lanes: Lanes::Four })
        };
        let single = |v: &mut V4, body: &mut dyn FnMut(&mut V4, Group) -> Result<()>| {
            let c = v.b.ins().iadd_imm_s(u, 3 * full as i64);
            body(v, Group { c, lanes: Lanes::One })
        };
        match (full, l.c % 4) {
            (_, 0) => quad(v, body),
            (0, _) => single(v, body),
            _ => {
                let is_quad = v.b.ins().icmp_imm_s(IntCC::SignedLessThan, u, full as i64);
                fork(v, is_quad, |v, q| if q { quad(v, &mut *body) } else { single(v, &mut *body) })
            }
        }
    })
}

/// The per-channel values of `t` for the group.
fn chan(v: &mut V4, g: Group, t: Tensor) -> Value {
    let off = v.b.ins().ishl_imm_s(g.c, 2);
    load(v, g.lanes, t.base, off)
}

/// Stores per-channel values of the group into `t`.
fn put_chan(v: &mut V4, g: Group, t: Tensor, x: Value) {
    let off = v.b.ins().ishl_imm_s(g.c, 2);
    store(v, g.lanes, x, t.base, off);
}

/// Offset (in elements) of the group's first value within a sample.
fn start(v: &mut V4, l: Layout, g: Group) -> Value {
    v.b.ins().imul_imm_s(g.c, l.s as i64)
}

/// `k` sums over the group's values of the terms `f` computes from the
/// loaded `ts`: per lane (vectors) or broadcast channel totals (maps).
fn sums(
    v: &mut V4,
    l: Layout,
    g: Group,
    ts: &[Tensor],
    k: usize,
    f: &dyn Fn(&mut V4, &[Value]) -> Vec<Value>,
) -> Result<Vec<Value>> {
    let zero = v.splat(0.0);
    let off0 = start(v, l, g);
    if !l.planar() {
        return fixed_fold(v, l.n, &vec![zero; k], |v, n, st| {
            let z = iconst(v, 0);
            let vals: Vec<Value> = ts
                .iter()
                .map(|t| {
                    let p = t.at(v, n, off0);
                    load(v, g.lanes, p, z)
                })
                .collect();
            let terms = f(v, &vals);
            Ok(st.iter().zip(terms).map(|(&a, t)| v.add(a, t)).collect())
        });
    }
    let r = Reduce { k, op: Combine::Add };
    let init = r.init(v);
    let acc = sample_groups(v, l.n, &init, |v, ns, st| {
        let ptrs: Vec<Vec<Value>> = ns.iter().map(|&n| ts.iter().map(|t| t.at(v, n, off0)).collect()).collect();
        r.run(v, l.s, st, |v, off, lanes| {
            // The samples' terms are added together, then into the accumulators.
            let mut total: Option<Vec<Value>> = None;
            for p in &ptrs {
                let vals: Vec<Value> = p.iter().map(|&p| load(v, lanes, p, off)).collect();
                let terms = f(v, &vals);
                total = Some(match total {
                    None => terms,
                    Some(t) => t.iter().zip(terms).map(|(&a, b)| v.add(a, b)).collect(),
                });
            }
            total.unwrap_or_default()
        })
    })?;
    Ok(r.totals(v, &acc))
}

/// Samples read together in one pass over a channel's planes: each plane is its
/// own page stream (a channel's planes lie a sample apart), and two streams keep
/// more lines in flight than one plane after another. Measured (2-core AMD EPYC,
/// Zen 4) on 8 BN + ReLU layers of 16×32×32 at batch 128, training step medians:
/// one stream 47.8 ms, two 39.0, four 38.9, eight 64 (register spills); no change
/// on 8×8 maps, whose planes fit in L2. On the 2-core Intel Xeon, ResNet-20 training
/// with two, three and four streams: 172.6, 172.4, 172.4 ms; there short planes were
/// slow whatever the streams (one 256×8×8 layer: 1.41 / 1.11 ms backward / forward
/// with two, 1.15 / 1.00 with four), which the blocks of channels (`blocks`) fixed.
const STREAMS: usize = 2;

/// `for each group of up to STREAMS samples { state = body(samples, state) }`: the
/// full groups in a loop, the leftover samples as one last group.
fn sample_groups<F>(v: &mut V4, n: usize, init: &[Value], mut body: F) -> Result<Vec<Value>>
where
    F: FnMut(&mut V4, &[Value], &[Value]) -> Result<Vec<Value>>,
{
    let (groups, left) = (n / STREAMS, n % STREAMS);
    let mut st = init.to_vec();
    if groups > 0 {
        st = fixed_fold(v, groups, &st, |v, i, st| {
            let first = v.b.ins().imul_imm_s(i, STREAMS as i64);
            let ns: Vec<Value> = (0..STREAMS).map(|k| v.offset(first, k as i64)).collect();
            body(v, &ns, st)
        })?;
    }
    if left > 0 {
        let ns: Vec<Value> = (groups * STREAMS..n).map(|k| iconst(v, k as i64)).collect();
        st = body(v, &ns, &st)?;
    }
    Ok(st)
}

/// Stores `f(loaded ts)` to every value of the group through the sink: in sample
/// `n`, or in every sample when `n` is None.
fn each(
    v: &mut V4,
    l: Layout,
    g: Group,
    ts: &[Tensor],
    sink: &Sink,
    n: Option<Value>,
    f: &dyn Fn(&mut V4, &[Value]) -> Value,
) -> Result<()> {
    let Some(n) = n else {
        sample_groups(v, l.n, &[], |v, ns, _| each_of(v, l, g, ts, sink, ns, f).map(|_| Vec::new()))?;
        return Ok(());
    };
    each_of(v, l, g, ts, sink, &[n], f)
}

/// [`each`] for the samples `ns`, their planes interleaved element by element.
fn each_of(
    v: &mut V4,
    l: Layout,
    g: Group,
    ts: &[Tensor],
    sink: &Sink,
    ns: &[Value],
    f: &dyn Fn(&mut V4, &[Value]) -> Value,
) -> Result<()> {
    let off0 = start(v, l, g);
    let ptrs: Vec<Vec<Value>> = ns.iter().map(|&n| ts.iter().map(|t| t.at(v, n, off0)).collect()).collect();
    let ats: Vec<_> = ns.iter().map(|&n| sink.at(v, n, off0)).collect();
    let put = |v: &mut V4, off: Value, lanes: Lanes| -> Result<()> {
        for (p, at) in ptrs.iter().zip(&ats) {
            let vals: Vec<Value> = p.iter().map(|&p| load(v, lanes, p, off)).collect();
            let y = f(v, &vals);
            sink.put(v, at, off, lanes, y);
        }
        Ok(())
    };
    if l.planar() {
        run(v, l.s, put)
    } else {
        let z = iconst(v, 0);
        put(v, z, g.lanes)
    }
}

/// `((γ·(x − μ))·inv) + β`, the reference's order.
fn normalize(v: &mut V4, x: Value, mu: Value, inv: Value, gamma: Value, beta: Value) -> Value {
    let d = v.sub(x, mu);
    let t = v.mul(gamma, d);
    let t = v.mul(t, inv);
    v.add(t, beta)
}

/// `1 / √(var + eps)`.
fn inv_std(v: &mut V4, var: Value, eps: f64) -> Value {
    let e = v.splat(eps as f32);
    let t = v.add(var, e);
    let r = v.b.ins().sqrt(t);
    let one = v.splat(1.0);
    v.div(one, r)
}

/// `BatchNormTrain` for one group.
///
/// The statistics take one pass: Σ(x − K) and Σ(x − K)² with K the mean of the
/// group's first sample (its value, for vectors), then μ = K + Σ(x − K)/M and
/// Σ(x − μ)² = Σ(x − K)² − (Σ(x − K))²/M. Shifting by K keeps the cancellation
/// small (the error grows with (K − μ)²/σ², about 1 when K is a sample's mean),
/// where the unshifted Σx² − (Σx)²/M loses everything once |μ| ≫ σ.
fn train(v: &mut V4, spec: &StepSpec, f: &Frame, sink: &Sink, l: Layout, b: &BatchNorm, g: Group) -> Result<()> {
    let x = f.input(spec, 0);
    let k = shift(v, l, g, x)?;
    let s = sums(v, l, g, &[x], 2, &|v, x| {
        let d = v.sub(x[0], k);
        vec![d, v.mul(d, d)]
    })?;
    let (mu, inv) = statistics(v, spec, f, l, b, g, k, [s[0], s[1]]);
    let (gamma, beta) = (chan(v, g, f.input(spec, 1)), chan(v, g, f.input(spec, 2)));
    each(v, l, g, &[x], sink, None, &|v, x| normalize(v, x[0], mu, inv, gamma, beta))
}

/// The shift K of [`train`]'s sums: the mean of the group's first sample (its
/// value, for vectors).
fn shift(v: &mut V4, l: Layout, g: Group, x: Tensor) -> Result<Value> {
    let first = sums(v, Layout { n: 1, ..l }, g, &[x], 1, &|_, x| vec![x[0]])?[0];
    let per_sample = v.splat(l.s as f32);
    Ok(v.div(first, per_sample))
}

/// The group's batch statistics from the shifted sums `s` = [Σ(x − K), Σ(x − K)²]
/// (see [`train`]): stores μ and 1/σ (outputs 1 and 2), updates the running
/// averages (outputs 3 and 4), and returns (μ, 1/σ).
#[allow(clippy::too_many_arguments)]
fn statistics(
    v: &mut V4,
    spec: &StepSpec,
    f: &Frame,
    l: Layout,
    b: &BatchNorm,
    g: Group,
    k: Value,
    s: [Value; 2],
) -> (Value, Value) {
    let m = v.splat(l.count() as f32);
    let shift = v.div(s[0], m);
    let mu = v.add(k, shift);
    let cancel = v.mul(s[0], shift);
    let sq = v.sub(s[1], cancel);
    // Rounding can take the difference below zero; a NaN (from NaN inputs) stays NaN.
    let zero = v.splat(0.0);
    let sq = v.max(zero, sq);
    let var = v.div(sq, m);
    let inv = inv_std(v, var, b.eps);
    put_chan(v, g, f.output(spec, 1), mu);
    put_chan(v, g, f.output(spec, 2), inv);
    // A single value per channel has no spread: its unbiased variance is 0.
    let unbiased_div = v.splat(l.count().saturating_sub(1).max(1) as f32);
    let unbiased = v.div(sq, unbiased_div);
    let (keep, mom) = (v.splat(1.0 - b.momentum as f32), v.splat(b.momentum as f32));
    for (k, stat) in [(3, mu), (4, unbiased)] {
        let t = f.output(spec, k);
        let old = chan(v, g, t);
        let a = v.mul(keep, old);
        let n = v.mul(mom, stat);
        let r = v.add(a, n);
        put_chan(v, g, t, r);
    }
    (mu, inv)
}

/// `BatchNormEval` for one group, over the batch or for sample `smp` only.
#[allow(clippy::too_many_arguments)]
fn eval(
    v: &mut V4,
    spec: &StepSpec,
    f: &Frame,
    sink: &Sink,
    l: Layout,
    b: &BatchNorm,
    g: Group,
    smp: Option<Value>,
) -> Result<()> {
    let [gamma, beta, mu, var] = [1, 2, 3, 4].map(|k| chan(v, g, f.input(spec, k)));
    let inv = inv_std(v, var, b.eps);
    let y = |v: &mut V4, x: &[Value]| normalize(v, x[0], mu, inv, gamma, beta);
    each(v, l, g, &[f.input(spec, 0)], sink, smp, &y)
}

/// `BatchNormBackward` for one group: dβ = Σ dy, dγ = Σ dy·x̂,
/// dx = (γ·inv)·((dy − dβ/M) − x̂·(dγ/M)).
fn backward(v: &mut V4, spec: &StepSpec, f: &Frame, sink: &Sink, l: Layout, g: Group) -> Result<()> {
    let (dy, x) = (f.input(spec, 0), f.input(spec, 1));
    let [gamma, mu, inv] = [2, 3, 4].map(|k| chan(v, g, f.input(spec, k)));
    let s = sums(v, l, g, &[dy, x], 2, &|v, t| {
        let xh = xhat(v, t[1], [mu, inv]);
        vec![t[0], v.mul(t[0], xh)]
    })?;
    let [mean_db, mean_dg, gi] = gradient_terms(v, spec, f, l, g, [s[0], s[1]], [gamma, inv]);
    each(v, l, g, &[dy, x], sink, None, &|v, t| input_gradient(v, [t[0], t[1]], [mu, inv], [mean_db, mean_dg, gi]))
}

/// Stores the group's dγ and dβ from the sums `s` = [Σ dy, Σ dy·x̂] (outputs 1
/// and 2); returns [dβ/M, dγ/M, γ·inv], the per-channel values of dx.
fn gradient_terms(
    v: &mut V4,
    spec: &StepSpec,
    f: &Frame,
    l: Layout,
    g: Group,
    s: [Value; 2],
    [gamma, inv]: [Value; 2],
) -> [Value; 3] {
    let (db, dg) = (s[0], s[1]);
    put_chan(v, g, f.output(spec, 1), dg);
    put_chan(v, g, f.output(spec, 2), db);
    let m = v.splat(l.count() as f32);
    let mean_db = v.div(db, m);
    // dγ/M once per channel instead of (x̂·dγ)/M per element: one ulp
    // apart, and a division per element is the pass's bottleneck.
    let mean_dg = v.div(dg, m);
    [mean_db, mean_dg, v.mul(gamma, inv)]
}

/// `x̂ = (x − μ)·inv`.
fn xhat(v: &mut V4, x: Value, [mu, inv]: [Value; 2]) -> Value {
    let d = v.sub(x, mu);
    v.mul(d, inv)
}

/// dx = (γ·inv)·((dy − dβ/M) − x̂·(dγ/M)) of one element.
fn input_gradient(v: &mut V4, [dy, x]: [Value; 2], stats: [Value; 2], [mean_db, mean_dg, gi]: [Value; 3]) -> Value {
    let xh = xhat(v, x, stats);
    let a = v.sub(dy, mean_db);
    let p = v.mul(xh, mean_dg);
    let d = v.sub(a, p);
    v.mul(gi, d)
}
