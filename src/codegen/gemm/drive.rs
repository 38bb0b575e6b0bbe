//! The blocked loop nest of a [`CompiledGemm`]: packing and tile calls.
//!
//! Consumes: validated operands of the computed product (see
//! [`Oriented`](crate::codegen::orient::Oriented)) and the compiled kernel
//! variants. Produces: C, written through the micro-kernels.
//! Guarantees: every kernel call gets panel pointers inside the packing
//! buffers and a C tile inside the M×N window (the `SAFETY` notes below say
//! why); packing buffers are grown, never shrunk, so a reused
//! [`GemmScratch`] stops allocating after the first run.

use super::{kernel_index, sweep_index, CompiledGemm, Driver, Phase};
use crate::codegen::blocking;
use crate::codegen::epilogue::Bias;
use crate::codegen::microkernel::A_LANES;
use crate::codegen::pack::{pack_a, pack_b, packed_len, Operand, Region};

/// Reusable packing buffers (avoid page faults from fresh allocations).
#[derive(Debug, Default)]
pub struct GemmScratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl CompiledGemm {
    /// The blocked loop nest over the computed product `a·b` (sizes
    /// already validated).
    pub(super) fn drive(&self, scratch: &mut GemmScratch, a: Operand, b: Operand, c: &mut [f32], bias: &[f32]) {
        let (s, t, bl) = (&self.prob, self.tile, self.blocking);
        let nk = self.k_blocks();
        for jc in (0..s.n).step_by(bl.nc) {
            let ncb = bl.nc.min(s.n - jc);
            for kb in 0..nk {
                let pc = kb * bl.kc;
                let kcb = bl.kc.min(s.k - pc.min(s.k));
                let kp = blocking::round_up(kcb, t.ku);
                let reg_b = Region { row0: pc, rows: kcb, col0: jc, cols: ncb };
                resize(&mut scratch.b, packed_len(ncb, t.nr(), kp, 1));
                pack_b(b, reg_b, t.nr(), kp, &mut scratch.b);
                for ic in (0..s.m).step_by(bl.mc) {
                    let mcb = bl.mc.min(s.m - ic);
                    let reg_a = Region { row0: ic, rows: mcb, col0: pc, cols: kcb };
                    resize(&mut scratch.a, packed_len(mcb, t.mr, kp, A_LANES));
                    pack_a(a, reg_a, t.mr, kp, &mut scratch.a);
                    let blk = Block { ic, jc, mcb, ncb, kp, phase: Phase::of(kb, nk) };
                    self.macro_kernel(&blk, &scratch.a, &scratch.b, c, bias);
                }
            }
        }
    }

    /// All tiles of one packed (mc × kc) · (kc × nc) block. A micro-panel
    /// outer: it stays in L1 while the B micro-panels stream from L2 (A is
    /// pre-broadcast, so its panel is the bigger one per k step).
    fn macro_kernel(&self, blk: &Block, ap: &[f32], bp: &[f32], c: &mut [f32], bias: &[f32]) {
        let (mr, nr) = (self.tile.mr, self.tile.nr());
        let c0 = c.as_mut_ptr() as i64;
        for ir in (0..blk.mcb).step_by(mr) {
            let mut jr = 0;
            if self.driver == Driver::ClifSweep {
                jr = self.sweep(blk, ir, ap, bp, c0, bias);
            }
            while jr < blk.ncb {
                self.call_tile(blk, ir, jr, ap, bp, c0, bias);
                jr += nr;
            }
        }
    }

    /// Runs the sweep over all full-width tiles of row panel `ir`; returns
    /// the first column it did not cover.
    fn sweep(&self, blk: &Block, ir: usize, ap: &[f32], bp: &[f32], c0: i64, bias: &[f32]) -> usize {
        let (p, t) = (&self.prob, self.tile);
        let full = blk.ncb / t.nr();
        let rows = t.mr.min(blk.mcb - ir);
        let Some(sweep) = &self.sweeps[sweep_index(blk.phase, rows < t.mr)] else {
            return 0;
        };
        if full == 0 {
            return 0;
        }
        let (i, j) = (blk.ic + ir, blk.jc);
        let bias_at = match p.epilogue.bias {
            Bias::None => 0,
            Bias::PerRow => bias[i..].as_ptr() as i64,
            Bias::PerCol => bias[j..].as_ptr() as i64,
        };
        let a_panel = ap[ir * blk.kp * A_LANES..].as_ptr() as i64;
        let c_tile = c0 + 4 * p.c_offset(i, j, self.spec.ldc) as i64;
        let kbytes = (blk.kp * t.nr() * 4) as i64;
        // SAFETY: as in `call_tile`, for each of the `full` tiles
        // (i, j + q·NR), q < full: consecutive B panels are kbytes apart
        // inside `bp`, and every tile lies within the computed product, so
        // its C elements and bias entries are inside the checked slices.
        unsafe { sweep.call([a_panel, bp.as_ptr() as i64, c_tile, kbytes, bias_at, full as i64]) };
        full * t.nr()
    }

    /// Runs the micro-kernel for the tile at (ir, jr) inside the block.
    #[allow(clippy::too_many_arguments)]
    fn call_tile(&self, blk: &Block, ir: usize, jr: usize, ap: &[f32], bp: &[f32], c0: i64, bias: &[f32]) {
        let (p, t) = (&self.prob, self.tile);
        let (mr, nr) = (t.mr, t.nr());
        let rows = mr.min(blk.mcb - ir);
        let cols = nr.min(blk.ncb - jr);
        let (i, j) = (blk.ic + ir, blk.jc + jr);
        let Some(kernel) = &self.kernels[kernel_index(blk.phase, rows < mr, cols < nr)] else {
            return; // unreachable: compile_variants covers every edge/phase
        };
        let bias_at = match p.epilogue.bias {
            Bias::None => 0,
            Bias::PerRow => bias[i..].as_ptr() as i64,
            Bias::PerCol => bias[j..].as_ptr() as i64,
        };
        let a_panel = ap[ir * blk.kp * A_LANES..].as_ptr() as i64;
        let b_panel = bp[jr * blk.kp..].as_ptr() as i64;
        let c_tile = c0 + 4 * p.c_offset(i, j, self.spec.ldc) as i64;
        let kbytes = (blk.kp * nr * 4) as i64;
        // SAFETY: `a_panel`/`b_panel` start panels of kp·MR·A_LANES
        // / kp·NR packed floats inside `ap`/`bp` (sized by
        // packed_len). The kernel touches the rows×cols tile at
        // (i, j) of the computed product, i.e. C[i.., j..] or, when
        // swapped, C[j.., i..], with stride ldc; i+rows and j+cols
        // are within that product's bounds, so every element is
        // inside `c` (length >= (M-1)·ldc+N, checked). Bias reads
        // stay below i+rows or j+cols, within the checked length
        // (the bias side follows the orientation).
        unsafe { kernel.call([a_panel, b_panel, c_tile, kbytes, bias_at]) };
    }
}

/// One packed block's position and phase.
struct Block {
    ic: usize,
    jc: usize,
    mcb: usize,
    ncb: usize,
    kp: usize,
    phase: Phase,
}

fn resize(buf: &mut Vec<f32>, len: usize) {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
}
