//! Optimizer updates as JIT kernels: SGD, momentum, Nesterov, Adam and RMSprop over one
//! parameter tensor, the exact rules of [`update::apply`].
//!
//! Consumes: the tensor's length at compile time; at run time the weights,
//! gradient and state buffers, the learning rate, weight decay and update
//! count. Produces: updated weights and state, in place.
//! Guarantees: bit-identical to `update::apply` (same f32 operations in
//! the same order, no fused multiply-add, IEEE `sqrt` and division; Adam's
//! bias corrections are computed on the host by the very same expression).
//! Parts are contiguous element ranges whose boundaries are multiples of 4,
//! so only the tensor's last 1–3 elements are processed one lane at a time.
//!
//! [`update::apply`]: crate::runtime::update::apply

use std::sync::Arc;

use cranelift_codegen::ir::{InstBuilder, Value};

use super::emit::{load, store, Lanes};
use super::frame::OpOptions;
use crate::autodiff::update::Rule;
use crate::codegen::error::Result;
use crate::codegen::jit::{Jit, JitFn, Opt};
use crate::codegen::loops::counted_loop;
use crate::codegen::simd::V4;

/// A compiled update of one parameter tensor.
pub trait OptimizerKernel: Send + Sync {
    /// Number of independent parts (disjoint element ranges).
    fn parts(&self) -> usize;

    /// Applies update number `t` (1 for the first, Adam's bias correction)
    /// to the elements of part `part`.
    ///
    /// # Safety
    /// `w`, `g` and, as the kind needs them, `m` (momentum, Nesterov, Adam,
    /// RMSprop) and `v` (Adam, RMSprop) point to the tensor's `len` floats; they do not overlap, and
    /// no one else accesses this part's elements during the call.
    #[allow(clippy::too_many_arguments)]
    unsafe fn run(
        &self,
        w: *mut f32,
        g: *const f32,
        m: *mut f32,
        v: *mut f32,
        lr: f32,
        weight_decay: f32,
        t: u64,
        part: usize,
    );
}

/// Compiles the update of `kind` for a tensor of `len` floats.
pub fn compile_optimizer(jit: &Jit, kind: Rule, len: usize) -> Result<Arc<dyn OptimizerKernel>> {
    compile_optimizer_with(jit, kind, len, &UPDATE_PARTS)
}

/// Parts of about 4 Ki floats: every tensor's parts of an update go to the pool as one
/// job, so parts this size let two threads even out a net of small and big tensors
/// (LeNet's 48,000-float dense weights were two of its eleven parts, a third of the
/// update spent waiting for them: 2-core Intel Xeon, training step 2.092 → 2.079 ms).
const UPDATE_PARTS: OpOptions = OpOptions { grain: 4096, max_parts: 64 };

/// [`compile_optimizer`] with an explicit split into parts.
pub fn compile_optimizer_with(jit: &Jit, kind: Rule, len: usize, opts: &OpOptions) -> Result<Arc<dyn OptimizerKernel>> {
    let vectors = len.div_ceil(4);
    let parts = (len / opts.grain.max(1)).clamp(1, opts.max_parts.max(1)).min(vectors.max(1));
    let name = format!("optim_{}", kind.name());
    // `Opt::None` keeps the scalars' broadcasts where they are emitted, before the loops.
    let code = jit.compile_opt::<7, _>(&name, Opt::None, |b, [w, g, m, v, lo, hi, sc], feats| {
        let mut e = V4::new(b, feats.has_fma);
        let ptrs = [w, g, m, v];
        let scalars = [0, 4, 8, 12].map(|o| e.load_splat(sc, o));
        let n = e.b.ins().isub(hi, lo);
        let whole = e.b.ins().band_imm_s(n, !3);
        let tail_lo = e.b.ins().iadd(lo, whole);
        let tail_n = e.b.ins().isub(hi, tail_lo);
        let fma = e.fused();
        // Whole vectors from `lo`, then the 0–3 elements left one at a time.
        for (first, count, lanes) in [(lo, whole, Lanes::Four), (tail_lo, tail_n, Lanes::One)] {
            let (first4, bytes) = (e.b.ins().ishl_imm_s(first, 2), e.b.ins().ishl_imm_s(count, 2));
            counted_loop(e.b, bytes, 4 * lanes.count() as i64, &[], |b, i, _| {
                let mut e = V4::new(b, fma);
                let off = e.b.ins().iadd(i, first4);
                update(&mut e, kind, ptrs, scalars, off, lanes);
                Ok(Vec::new())
            })?;
        }
        e.b.ins().return_(&[]);
        Ok(())
    })?;
    Ok(Arc::new(Update { rule: kind, code, len, vectors, parts }))
}

/// Emits one update of the `lanes` elements at byte offset `off`, with
/// `[lr, wd, c1, c2]` broadcast.
fn update(e: &mut V4, kind: Rule, [w, g, m, v]: [Value; 4], [lr, wd, c1, c2]: [Value; 4], off: Value, lanes: Lanes) {
    let (wv, gv) = (load(e, lanes, w, off), load(e, lanes, g, off));
    let decay = e.mul(wd, wv);
    // What is subtracted from w.
    let delta = match kind {
        // w ← w − lr·(g + wd·w)
        Rule::Sgd => {
            let d = e.add(gv, decay);
            e.mul(lr, d)
        }
        // m ← μ·m + g + wd·w; w ← w − lr·m
        Rule::Momentum { mu } => {
            let mv = load(e, lanes, m, off);
            let mu = e.splat(mu);
            let t = e.mul(mu, mv);
            let t = e.add(t, gv);
            let t = e.add(t, decay);
            store(e, lanes, t, m, off);
            e.mul(lr, t)
        }
        // d ← g + wd·w; m ← μ·m + d; w ← w − lr·(d + μ·m)
        Rule::Nesterov { mu } => {
            let mv = load(e, lanes, m, off);
            let mu = e.splat(mu);
            let d = e.add(gv, decay);
            let t = e.mul(mu, mv);
            let mn = e.add(t, d);
            store(e, lanes, mn, m, off);
            let t = e.mul(mu, mn);
            let t = e.add(d, t);
            e.mul(lr, t)
        }
        // d ← g + wd·w; v ← ρ·v + (1−ρ)·d·d; m ← μ·m + lr·d/√(v + ε); w ← w − m
        Rule::RmsProp { decay: rho, momentum, eps } => {
            let (mv, vv) = (load(e, lanes, m, off), load(e, lanes, v, off));
            let (r, k, mu, eps) = (e.splat(rho), e.splat(1.0 - rho), e.splat(momentum), e.splat(eps));
            let d = e.add(gv, decay);
            let a = e.mul(r, vv);
            let b = e.mul(k, d);
            let b = e.mul(b, d);
            let vn = e.add(a, b);
            store(e, lanes, vn, v, off);
            let s = e.add(vn, eps);
            let s = e.b.ins().sqrt(s);
            let q = e.mul(lr, d);
            let q = e.div(q, s);
            let a = e.mul(mu, mv);
            let mn = e.add(a, q);
            store(e, lanes, mn, m, off);
            mn
        }
        // m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g·g; w ← w − lr·((m/c1)/(√(v/c2) + ε) + wd·w)
        Rule::Adam { beta1, beta2, eps } => {
            let (mv, vv) = (load(e, lanes, m, off), load(e, lanes, v, off));
            let (b1, k1, b2, k2) = (e.splat(beta1), e.splat(1.0 - beta1), e.splat(beta2), e.splat(1.0 - beta2));
            let (a, b) = (e.mul(b1, mv), e.mul(k1, gv));
            let mn = e.add(a, b);
            let a = e.mul(b2, vv);
            let b = e.mul(k2, gv);
            let b = e.mul(b, gv);
            let vn = e.add(a, b);
            store(e, lanes, mn, m, off);
            store(e, lanes, vn, v, off);
            let mh = e.div(mn, c1);
            let vh = e.div(vn, c2);
            let r = e.b.ins().sqrt(vh);
            let eps = e.splat(eps);
            let r = e.add(r, eps);
            let q = e.div(mh, r);
            let t = e.add(q, decay);
            e.mul(lr, t)
        }
    };
    let wn = e.sub(wv, delta);
    store(e, lanes, wn, w, off);
}

/// A compiled update.
struct Update {
    rule: Rule,
    code: JitFn<7>,
    len: usize,
    vectors: usize,
    parts: usize,
}

impl OptimizerKernel for Update {
    fn parts(&self) -> usize {
        self.parts
    }

    unsafe fn run(&self, w: *mut f32, g: *const f32, m: *mut f32, v: *mut f32, lr: f32, wd: f32, t: u64, part: usize) {
        assert!(part < self.parts, "optimizer part {part} of {}", self.parts);
        let lo = (part * self.vectors / self.parts * 4).min(self.len);
        let hi = ((part + 1) * self.vectors / self.parts * 4).min(self.len);
        // Exactly the reference's bias corrections.
        let (c1, c2) = self.rule.bias_corrections(t);
        let scalars = [lr, wd, c1, c2];
        // SAFETY: the caller vouches for the buffers (see the trait); the code
        // touches elements lo..hi of w, g and the state its kind uses, and
        // reads the four scalars.
        unsafe {
            self.code.call([w as i64, g as i64, m as i64, v as i64, lo as i64, hi as i64, scalars.as_ptr() as i64])
        }
    }
}
