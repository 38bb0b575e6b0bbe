//! Global average pooling: `GlobalAvgPool` (x → y, the mean of each
//! feature plane) and `GlobalAvgPoolBackward` (dy → dx, each plane filled
//! with dy / (H·W)), one (sample, channel) plane per work unit.
//!
//! Consumes: x (or dx) as N×C×S with S the product of the trailing dims; y
//! (or dy) with C elements per sample (N×C or N×C×1×1).
//! Produces: the first output through the [`Sink`].
//! Guarantees: the backward pass is bit-identical to the reference. The
//! forward sum runs in four f32x4 lanes (plus the tail) reduced at the end,
//! in interleaved vector accumulators ([`Reduce`]), a different order of
//! additions than the reference's sequential sum: the
//! mean differs by a few ulp of the plane's absolute sum at most.

use std::sync::Arc;

use cranelift_codegen::ir::{InstBuilder, Value};

use super::emit::{divmod, iconst, load, range_loop, run, Combine, Lanes, Reduce};
use super::frame::{build, OpOptions, Split};
use super::shape::{bad, ncs, same, sample};
use super::sink::Sink;
use crate::autodiff::Kernel;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::simd::V4;
use crate::sched::StepSpec;

/// Compiles `GlobalAvgPool` or `GlobalAvgPoolBackward`.
pub(super) fn compile(jit: &Jit, spec: &StepSpec, opts: &OpOptions) -> Result<Arc<dyn CompiledKernel>> {
    let backward = match spec.kernel {
        Kernel::GlobalAvgPool => false,
        Kernel::GlobalAvgPoolBackward => true,
        _ => return Err(bad(spec, "not a global pooling kernel")),
    };
    let (maps, means) =
        if backward { (&spec.outputs[0], &spec.inputs[0]) } else { (&spec.inputs[0], &spec.outputs[0]) };
    let [n, c, s] = ncs(spec, "the feature maps", maps)?;
    same(spec, "the means' batch", ncs(spec, "the means", means)?[0], n)?;
    same(spec, "the means per sample", sample(means), c)?;
    let split = Split::new(n * c, s + 1, opts);
    let desc = format!("{} {:?}", spec.kernel.name(), maps.dims);
    build(jit, spec, desc, split, 0, |v, f| {
        let sink = Sink::new(spec, f);
        let src = f.input(spec, 0);
        range_loop(v, f.lo, f.hi, |v, u| {
            let (smp, ch) = divmod(v, u, c);
            if backward {
                let p = src.at(v, smp, ch);
                let zero = iconst(v, 0);
                let d = load(v, Lanes::One, p, zero);
                let share = v.div_by(d, s as f32);
                let off = v.b.ins().imul_imm_s(ch, s as i64);
                let at = sink.at(v, smp, off);
                run(v, s, |v, o, lanes| {
                    sink.put(v, &at, o, lanes, share);
                    Ok(())
                })
            } else {
                let off = v.b.ins().imul_imm_s(ch, s as i64);
                let p = src.at(v, smp, off);
                let mean = plane_sum(v, p, s)?;
                let mean = v.div_by(mean, s as f32);
                let at = sink.at(v, smp, ch);
                let zero = iconst(v, 0);
                sink.put(v, &at, zero, Lanes::One, mean);
                Ok(())
            }
        })
    })
}

/// The sum of `len` floats at `p`, broadcast.
fn plane_sum(v: &mut V4, p: Value, len: usize) -> Result<Value> {
    let r = Reduce { k: 1, op: Combine::Add };
    let init = r.init(v);
    let st = r.run(v, len, &init, |v, off, lanes| vec![load(v, lanes, p, off)])?;
    Ok(r.totals(v, &st)[0])
}
