//! Layout kernels: `ZeroPad` and its inverse `Crop` (per feature plane, in
//! channels and space),
//! `Concat` and `Slice` (channel ranges, as [`Sweep`] segments).
//!
//! Consumes: NCHW maps for padding and cropping; for concatenation and
//! slicing, batched tensors whose channels (`dims[1]`) are the outermost
//! per-sample dimension, so a channel range is one contiguous run.
//! Produces: the first (only) output through the [`Sink`]; padding zeros go
//! through it too, so an epilogue sees every element.
//! Guarantees: pure data movement, bit-identical to the reference. Padding
//! splits over the planes of the padded map (zero channels included),
//! cropping over those of the cropped one; concatenation and slicing over
//! blocks of each sample's runs.

use std::sync::Arc;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value};

use super::emit::{divmod, fixed_loop, fork, range_loop, run};
use super::frame::{build, Frame, OpOptions, Split, Tensor};
use super::shape::{bad, batch, nchw, ncs, same};
use super::sink::{Sink, SinkAt};
use super::sweep::{Segment, Src, Sweep};
use crate::autodiff::Kernel;
use crate::codegen::error::Result;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::CompiledKernel;
use crate::codegen::simd::V4;
use crate::ir::ZeroPad;
use crate::sched::StepSpec;

/// Compiles `ZeroPad`, `Crop`, `Concat` or `Slice`.
pub(super) fn compile(jit: &Jit, spec: &StepSpec, opts: &OpOptions) -> Result<Arc<dyn CompiledKernel>> {
    match spec.kernel {
        Kernel::ZeroPad(p) => pad_or_crop(jit, spec, opts, p, true),
        Kernel::Crop(p) => pad_or_crop(jit, spec, opts, p, false),
        Kernel::Concat => concat(jit, spec, opts),
        Kernel::Slice { offset } => slice(jit, spec, opts, offset),
        _ => Err(bad(spec, "not a layout kernel")),
    }
}

/// The geometry of a padding: the small c×h×w map inside the big one.
#[derive(Clone, Copy)]
struct Frame2 {
    c: usize,
    h: usize,
    w: usize,
    big_c: usize,
    big_h: usize,
    big_w: usize,
    p: ZeroPad,
}

impl Frame2 {
    fn before(&self) -> usize {
        self.p.channels_before as usize
    }
    fn top(&self) -> usize {
        self.p.spatial.top as usize
    }
    fn left(&self) -> usize {
        self.p.spatial.left as usize
    }
    fn big_plane(&self) -> usize {
        self.big_h * self.big_w
    }
    /// Whether the rows of the small map are contiguous inside the big one.
    fn rows_contiguous(&self) -> bool {
        self.p.spatial.left == 0 && self.p.spatial.right == 0
    }
    /// Whether some planes of the big map are all padding.
    fn pads_channels(&self) -> bool {
        self.big_c != self.c
    }
}

/// `ZeroPad` (x small → y big) or `Crop` (dy big → dx small). Padding works on
/// the planes of y, so planes that are all padding are written by their own
/// units; cropping on the planes of dx.
fn pad_or_crop(jit: &Jit, spec: &StepSpec, opts: &OpOptions, p: ZeroPad, pad: bool) -> Result<Arc<dyn CompiledKernel>> {
    let (small, big) = if pad { (&spec.inputs[0], &spec.outputs[0]) } else { (&spec.outputs[0], &spec.inputs[0]) };
    let [n, c, h, w] = nchw(spec, "the unpadded map", small)?;
    let (big_c, big_h, big_w) = p
        .padded(c as u64, h as u64, w as u64)
        .map(|(c, h, w)| (c as usize, h as usize, w as usize))
        .ok_or_else(|| bad(spec, "the padded map overflows"))?;
    let got = nchw(spec, "the padded map", big)?;
    if got != [n, big_c, big_h, big_w] {
        return Err(bad(spec, format!("padded map {got:?}, expected {:?}", [n, big_c, big_h, big_w])));
    }
    let g = Frame2 { c, h, w, big_c, big_h, big_w, p };
    let split = if pad { Split::new(n * big_c, g.big_plane(), opts) } else { Split::new(n * c, h * w, opts) };
    let desc = format!("{} {:?} -> {:?}", spec.kernel.name(), spec.inputs[0].dims, spec.outputs[0].dims);
    build(jit, spec, desc, split, 0, |v, f| {
        let sink = Sink::new(spec, f);
        let src = f.input(spec, 0);
        range_loop(v, f.lo, f.hi, |v, u| {
            if !pad {
                let (s, ch) = divmod(v, u, g.c);
                return crop_plane(v, &g, &sink, src, s, ch);
            }
            let (s, big_ch) = divmod(v, u, g.big_c);
            let ch = v.b.ins().iadd_imm_s(big_ch, -(g.before() as i64));
            if !g.pads_channels() {
                return pad_plane(v, &g, &sink, src, s, big_ch, ch);
            }
            // ch = big_ch − before is a channel of x when 0 ≤ ch < c (one unsigned compare).
            let inside = v.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, ch, g.c as i64);
            fork(v, inside, |v, inside| {
                if inside {
                    return pad_plane(v, &g, &sink, src, s, big_ch, ch);
                }
                let plane = v.b.ins().imul_imm_s(big_ch, g.big_plane() as i64);
                let at = sink.at(v, s, plane);
                zeros(v, &sink, &at, 0, g.big_plane())
            })
        })
    })
}

/// Writes `len` zeros to the sink, `from` elements past `at`.
fn zeros(v: &mut V4, sink: &Sink, at: &SinkAt, from: usize, len: usize) -> Result<()> {
    run(v, len, |v, off, lanes| {
        let o = v.b.ins().iadd_imm_s(off, 4 * from as i64);
        let z = v.splat(0.0);
        sink.put(v, at, o, lanes, z);
        Ok(())
    })
}

/// One plane of `ZeroPad` holding channel `ch` of x at channel `big_ch` of y: zero
/// rows, then each row framed by zeros.
fn pad_plane(v: &mut V4, g: &Frame2, sink: &Sink, x: Tensor, s: Value, big_ch: Value, ch: Value) -> Result<()> {
    let plane = v.b.ins().imul_imm_s(big_ch, g.big_plane() as i64);
    let xoff = v.b.ins().imul_imm_s(ch, (g.h * g.w) as i64);
    let xp = x.at(v, s, xoff);
    let at = sink.at(v, s, plane);
    zeros(v, sink, &at, 0, g.top() * g.big_w)?;
    let body = g.top() * g.big_w;
    if g.rows_contiguous() {
        sink.copy(v, &at, xp, body, g.h * g.w)?;
    } else {
        fixed_loop(v, g.h, |v, r| {
            let roff = v.b.ins().imul_imm_s(r, g.big_w as i64);
            let roff = v.b.ins().iadd_imm_s(roff, body as i64);
            let row_off = v.b.ins().iadd(plane, roff);
            let rat = sink.at(v, s, row_off);
            zeros(v, sink, &rat, 0, g.left())?;
            let xr = v.b.ins().imul_imm_s(r, (g.w * 4) as i64);
            let xr = v.b.ins().iadd(xp, xr);
            sink.copy(v, &rat, xr, g.left(), g.w)?;
            zeros(v, sink, &rat, g.left() + g.w, g.big_w - g.left() - g.w)
        })?;
    }
    zeros(v, sink, &at, (g.top() + g.h) * g.big_w, (g.big_h - g.top() - g.h) * g.big_w)
}

/// One plane of `Crop`: the inner rows of plane `before + ch` of dy.
fn crop_plane(v: &mut V4, g: &Frame2, sink: &Sink, dy: Tensor, s: Value, ch: Value) -> Result<()> {
    let plane = v.b.ins().imul_imm_s(ch, (g.h * g.w) as i64);
    let yoff = v.b.ins().imul_imm_s(ch, g.big_plane() as i64);
    let inner = (g.before() * g.big_plane() + g.top() * g.big_w + g.left()) as i64;
    let yoff = v.b.ins().iadd_imm_s(yoff, inner);
    let yp = dy.at(v, s, yoff);
    if g.rows_contiguous() {
        let at = sink.at(v, s, plane);
        return sink.copy(v, &at, yp, 0, g.h * g.w);
    }
    fixed_loop(v, g.h, |v, r| {
        let roff = v.b.ins().imul_imm_s(r, g.w as i64);
        let roff = v.b.ins().iadd(plane, roff);
        let at = sink.at(v, s, roff);
        let yr = v.b.ins().imul_imm_s(r, (g.big_w * 4) as i64);
        let yr = v.b.ins().iadd(yp, yr);
        sink.copy(v, &at, yr, 0, g.w)
    })
}

/// `Concat`: input k fills its channel range of every output sample.
fn concat(jit: &Jit, spec: &StepSpec, opts: &OpOptions) -> Result<Arc<dyn CompiledKernel>> {
    let [n, c, plane] = ncs(spec, "the output", &spec.outputs[0])?;
    let mut segs = Vec::new();
    let mut out_col = 0;
    for (k, x) in spec.inputs.iter().enumerate() {
        let [nx, cx, px] = ncs(spec, &format!("input {k}"), x)?;
        same(spec, &format!("input {k}'s batch"), nx, n)?;
        same(spec, &format!("input {k}'s positions per channel"), px, plane)?;
        segs.push(Segment { srcs: vec![Src { input: k, col: 0 }], out_col, cols: cx * plane });
        out_col += cx * plane;
    }
    same(spec, "the channels of the inputs together", out_col, c * plane)?;
    sweep_kernel(jit, spec, opts, Sweep { rows: n, block: opts.block(), segs })
}

/// `Slice`: channels `offset ..` of the input, as many as the output has.
fn slice(jit: &Jit, spec: &StepSpec, opts: &OpOptions, offset: usize) -> Result<Arc<dyn CompiledKernel>> {
    let [n, cy, plane] = ncs(spec, "the output", &spec.outputs[0])?;
    let [nx, cx, px] = ncs(spec, "the input", &spec.inputs[0])?;
    same(spec, "the input's batch", nx, n)?;
    same(spec, "the input's positions per channel", px, plane)?;
    if offset + cy > cx {
        return Err(bad(spec, format!("channels {offset}..{} do not exist in the input's {cx}", offset + cy)));
    }
    let seg = Segment { srcs: vec![Src { input: 0, col: offset * plane }], out_col: 0, cols: cy * plane };
    sweep_kernel(jit, spec, opts, Sweep { rows: n, block: opts.block(), segs: vec![seg] })
}

/// A copying sweep.
fn sweep_kernel(jit: &Jit, spec: &StepSpec, opts: &OpOptions, sweep: Sweep) -> Result<Arc<dyn CompiledKernel>> {
    batch(spec, "the output", &spec.outputs[0])?;
    let split = Split::new(sweep.units(), sweep.block.min(sweep.segs.iter().map(|s| s.cols).max().unwrap_or(1)), opts);
    let desc = format!("{} {:?}", spec.kernel.name(), spec.outputs[0].dims);
    build(jit, spec, desc, split, 0, |v, f: &Frame| {
        let sink = Sink::new(spec, f);
        sweep.emit(v, spec, f, &sink, &|_: &mut V4, x: &[Value]| x[0])
    })
}
