//! Row sweeps: the iteration shared by the element-wise kernels and by
//! concatenation and slicing. A sweep is a list of segments; a segment maps
//! `cols` consecutive elements of each sample of some inputs (starting at
//! their own column) to consecutive elements of each sample of the first
//! output (starting at `out_col`), through a lane-wise function.
//!
//! Consumes: the segments, the batch (`rows`) and a block length. Produces:
//! code that covers units `lo..hi`, a unit being one block of one row of
//! one segment, so long rows split across parts.
//! Guarantees: each output element is written once, by the unit owning its
//! block, after reading only the same element of each input: units are
//! independent and in-place operation is safe. Sizes are compile-time
//! constants; only a row's last block can have a 1–3 element tail.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value};

use super::emit::{divmod, fork, iconst, load, range_loop, run};
use super::frame::Frame;
use super::sink::Sink;
use crate::codegen::error::Result;
use crate::codegen::simd::V4;
use crate::sched::StepSpec;

/// An input read by a segment, from column `col` of each of its samples.
#[derive(Debug, Clone, Copy)]
pub(super) struct Src {
    pub input: usize,
    pub col: usize,
}

/// One rectangular piece of work: `cols` elements of every row.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    pub srcs: Vec<Src>,
    pub out_col: usize,
    pub cols: usize,
}

/// The lane-wise function of a sweep: loaded inputs to the output value.
pub(super) type LaneFn<'a> = &'a dyn Fn(&mut V4, &[Value]) -> Value;

/// Segments over `rows` samples, cut into blocks of `block` elements.
#[derive(Debug, Clone)]
pub(super) struct Sweep {
    pub rows: usize,
    pub block: usize,
    pub segs: Vec<Segment>,
}

impl Sweep {
    /// Blocks per row of a segment.
    fn blocks(&self, seg: &Segment) -> usize {
        seg.cols.div_ceil(self.block)
    }

    /// Total work units.
    pub(super) fn units(&self) -> usize {
        self.segs.iter().map(|s| self.rows * self.blocks(s)).sum()
    }

    /// Emits the units `frame.lo..frame.hi` of every segment.
    pub(super) fn emit(&self, v: &mut V4, spec: &StepSpec, frame: &Frame, sink: &Sink, f: LaneFn) -> Result<()> {
        let mut first = 0;
        for seg in &self.segs {
            let units = self.rows * self.blocks(seg);
            if units > 0 {
                self.segment(v, spec, frame, sink, seg, first, f)?;
            }
            first += units;
        }
        Ok(())
    }

    /// The units of `seg` (numbered from `first`) that fall in `lo..hi`.
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &self,
        v: &mut V4,
        spec: &StepSpec,
        frame: &Frame,
        sink: &Sink,
        seg: &Segment,
        first: usize,
        f: LaneFn,
    ) -> Result<()> {
        let nb = self.blocks(seg);
        let (u0, u1) = (iconst(v, first as i64), iconst(v, (first + self.rows * nb) as i64));
        let s = v.b.ins().smax(frame.lo, u0);
        let e = v.b.ins().smin(frame.hi, u1);
        let last = seg.cols - (nb - 1) * self.block;
        range_loop(v, s, e, |v, u| {
            let r = v.b.ins().iadd_imm_s(u, -(first as i64));
            let (row, blk) = divmod(v, r, nb);
            let start = v.b.ins().imul_imm_s(blk, self.block as i64);
            let piece = |v: &mut V4, len: usize| block(v, spec, frame, sink, seg, row, start, len, f);
            if last == self.block || nb == 1 {
                piece(v, last)
            } else {
                let is_last = v.b.ins().icmp_imm_s(IntCC::Equal, blk, (nb - 1) as i64);
                fork(v, is_last, |v, is_last| piece(v, if is_last { last } else { self.block }))
            }
        })
    }
}

/// One block: `len` elements of row `row` from column `start` of `seg`.
#[allow(clippy::too_many_arguments)]
fn block(
    v: &mut V4,
    spec: &StepSpec,
    frame: &Frame,
    sink: &Sink,
    seg: &Segment,
    row: Value,
    start: Value,
    len: usize,
    f: LaneFn,
) -> Result<()> {
    let ptrs: Vec<Value> = seg
        .srcs
        .iter()
        .map(|s| {
            let col = v.b.ins().iadd_imm_s(start, s.col as i64);
            frame.input(spec, s.input).at(v, row, col)
        })
        .collect();
    let out = v.b.ins().iadd_imm_s(start, seg.out_col as i64);
    let at = sink.at(v, row, out);
    run(v, len, |v, off, lanes| {
        let vals: Vec<Value> = ptrs.iter().map(|&p| load(v, lanes, p, off)).collect();
        let x = f(v, &vals);
        sink.put(v, &at, off, lanes, x);
        Ok(())
    })
}
