//! Shape-specialised single-precision GEMM:
//! `C[M×N] = op(A)[M×K] · op(B)[K×N] (+ C)`, then an optional fused
//! bias + ReLU epilogue.
//!
//! Consumes: a [`GemmSpec`] (every size, stride, transpose flag and the
//! epilogue is known when netc compiles a network) and a [`Jit`].
//! Produces: a [`CompiledGemm`] whose `run` takes row-major slices.
//! Guarantees:
//! * `op(A)[i,p]` is `a[i·lda+p]`, or `a[p·lda+i]` with `trans_a`;
//!   `op(B)[p,j]` is `b[p·ldb+j]`, or `b[j·ldb+p]` with `trans_b`;
//!   `C[i,j]` is `c[i·ldc+j]`; elements of C outside the M×N window and
//!   padding between rows are never touched;
//! * with `accumulate` the old C is added before the epilogue, i.e.
//!   `C = relu?(C + A·B + bias?)`; without it C is only written;
//! * bad sizes, strides or short buffers are reported as errors;
//! * the sum over K is carried in f32 in k order within each K block.
//!
//! Structure (Goto/BLIS): Rust loops over N blocks (nc), K blocks (kc) and
//! M blocks (mc), packing B and A blocks ([`pack`](crate::codegen::pack)),
//! then over the MR×NR tiles of the block (`gemm/drive.rs`), calling CLIF
//! micro-kernels ([`microkernel`](crate::codegen::microkernel))
//! specialised for this spec: C stride, tile edge sizes,
//! accumulate/overwrite and epilogue are compile-time constants, and one
//! variant exists per (K-block phase, edge) combination the shape actually
//! needs. For shapes with small N the product is computed as Cᵀ
//! ([`orient`](crate::codegen::orient)).
//!
//! Measured (`examples/measure.rs`): looping over the tiles of a row panel
//! in CLIF ([`Driver::ClifSweep`]) and calling the micro-kernel per tile
//! from Rust ([`Driver::TileCalls`]) are within 1–2% of each other — a call
//! costs a few ns next to a kc-deep tile of ~1 µs — so the JIT spends its
//! effort on the micro-kernel, and the sweep is the default only because
//! it is never slower.

use crate::codegen::blocking::{self, Blocking, CacheSizes};

mod drive;
use crate::codegen::error::{check_len, invalid, Result};
use crate::codegen::gemm_spec::GemmSpec;
use crate::codegen::jit::{Jit, JitFn};
use crate::codegen::microkernel::{compile_microkernel, compile_sweep, Tile, TileStore};
use crate::codegen::orient::{Orientation, Oriented};
pub use drive::GemmScratch;

/// Tuning knobs; the defaults are what `examples/measure.rs` found best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GemmOptions {
    /// Register tile of the micro-kernel.
    pub tile: Tile,
    /// Cache sizes the blocking is derived from.
    pub caches: CacheSizes,
    /// Explicit blocking (overrides `caches`; rounded to tile multiples),
    /// in terms of the computed product (see [`Orientation`]).
    pub blocking: Option<Blocking>,
    /// Compute C or Cᵀ.
    pub orientation: Orientation,
    /// Who loops over the tiles of a block.
    pub driver: Driver,
}

/// Who runs the loop over the tiles of a packed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Driver {
    /// Rust calls the micro-kernel once per tile.
    TileCalls,
    /// Rust calls a CLIF sweep once per A micro-panel; the sweep loops over
    /// the full-width tiles along N (the ragged last tile is a tile call).
    #[default]
    ClifSweep,
}

impl Default for GemmOptions {
    fn default() -> Self {
        GemmOptions {
            tile: Tile::DEFAULT,
            caches: CacheSizes::default(),
            blocking: None,
            orientation: Orientation::Auto,
            driver: Driver::default(),
        }
    }
}

/// Where a K block sits in the K loop; decides beta and the epilogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Only,
    First,
    Middle,
    Last,
}

impl Phase {
    fn of(block: usize, blocks: usize) -> Phase {
        match (block, blocks) {
            (_, 1) => Phase::Only,
            (0, _) => Phase::First,
            (b, n) if b + 1 == n => Phase::Last,
            _ => Phase::Middle,
        }
    }

    /// (add old C, apply epilogue)
    fn store_flags(self, accumulate: bool) -> (bool, bool) {
        match self {
            Phase::Only => (accumulate, true),
            Phase::First => (accumulate, false),
            Phase::Middle => (true, false),
            Phase::Last => (true, true),
        }
    }
}

/// A GEMM compiled for one [`GemmSpec`].
pub struct CompiledGemm {
    spec: GemmSpec,
    prob: Oriented,
    tile: Tile,
    blocking: Blocking,
    /// Indexed by `phase·4 + edge_rows·2 + edge_cols`.
    kernels: Vec<Option<JitFn<5>>>,
    /// Sweeps over full-width tiles, indexed by `phase·2 + edge_rows`
    /// (only with [`Driver::ClifSweep`]).
    sweeps: Vec<Option<JitFn<6>>>,
    driver: Driver,
}

/// Compiles `spec` with the default tile and blocking.
pub fn compile_gemm(jit: &Jit, spec: GemmSpec) -> Result<CompiledGemm> {
    compile_gemm_with(jit, spec, GemmOptions::default())
}

/// Compiles `spec` with explicit tuning options.
pub fn compile_gemm_with(jit: &Jit, spec: GemmSpec, opts: GemmOptions) -> Result<CompiledGemm> {
    spec.validate()?;
    opts.tile.validate()?;
    let plan = |swapped| {
        let prob = Oriented::new(&spec, swapped);
        (prob, block_sizes(&prob, &opts))
    };
    let (prob, blocking) = match opts.orientation {
        Orientation::Direct => plan(false),
        Orientation::Swapped => plan(true),
        Orientation::Auto => {
            let (d, s) = (plan(false), plan(true));
            if s.0.packing_traffic(&s.1) < d.0.packing_traffic(&d.1) {
                s
            } else {
                d
            }
        }
    };
    let mut gemm = CompiledGemm {
        spec,
        prob,
        tile: opts.tile,
        blocking,
        kernels: (0..16).map(|_| None).collect(),
        sweeps: (0..8).map(|_| None).collect(),
        driver: opts.driver,
    };
    gemm.compile_variants(jit)?;
    Ok(gemm)
}

/// Blocking for the computed product: explicit (rounded) or from caches.
fn block_sizes(p: &Oriented, opts: &GemmOptions) -> Blocking {
    let t = opts.tile;
    match opts.blocking {
        Some(b) => Blocking {
            mc: blocking::split(p.m, b.mc, t.mr),
            kc: blocking::split(p.k, b.kc, t.ku),
            nc: blocking::split(p.n, b.nc, t.nr()),
        },
        None => blocking::choose(p.m, p.n, p.k, t, opts.caches),
    }
}

impl CompiledGemm {
    /// The spec this GEMM was compiled for.
    pub fn spec(&self) -> &GemmSpec {
        &self.spec
    }

    /// The block sizes in use.
    pub fn blocking(&self) -> Blocking {
        self.blocking
    }

    /// The register tile in use.
    pub fn tile(&self) -> Tile {
        self.tile
    }

    /// Whether Cᵀ = op(B)ᵀ·op(A)ᵀ is computed instead of C.
    pub fn is_swapped(&self) -> bool {
        self.prob.swapped
    }

    /// Number of K blocks.
    fn k_blocks(&self) -> usize {
        self.prob.k.div_ceil(self.blocking.kc).max(1)
    }

    /// Compiles the micro-kernel variants this shape will call.
    fn compile_variants(&mut self, jit: &Jit) -> Result<()> {
        let (p, t) = (self.prob, self.tile);
        if p.m == 0 || p.n == 0 {
            return Ok(());
        }
        let nk = self.k_blocks();
        let rows = edge_options(p.m, t.mr);
        let cols = edge_options(p.n, t.nr());
        let phases: &[Phase] = match nk {
            1 => &[Phase::Only],
            2 => &[Phase::First, Phase::Last],
            _ => &[Phase::First, Phase::Middle, Phase::Last],
        };
        for &ph in phases {
            for &(re, r) in &rows {
                for &(ce, c) in &cols {
                    let (beta, last) = ph.store_flags(self.spec.accumulate);
                    let st = TileStore {
                        rows: r,
                        cols: c,
                        beta,
                        last,
                        epilogue: p.epilogue,
                        ldc: self.spec.ldc,
                        transposed: p.swapped,
                    };
                    let idx = kernel_index(ph, re, ce);
                    self.kernels[idx] = Some(compile_microkernel(jit, t, st)?);
                    if self.driver == Driver::ClifSweep && !ce {
                        self.sweeps[sweep_index(ph, re)] = Some(compile_sweep(jit, t, st)?);
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs with freshly allocated packing buffers.
    pub fn run(&self, a: &[f32], b: &[f32], c: &mut [f32], bias: Option<&[f32]>) -> Result<()> {
        self.run_with(&mut GemmScratch::default(), a, b, c, bias)
    }

    /// Runs, reusing `scratch` for the packed blocks.
    pub fn run_with(
        &self,
        scratch: &mut GemmScratch,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        bias: Option<&[f32]>,
    ) -> Result<()> {
        let s = &self.spec;
        let [la, lb, lc] = s.operand_lens()?;
        check_len("a", la, a.len())?;
        check_len("b", lb, b.len())?;
        check_len("c", lc, c.len())?;
        let bias = match (s.bias_len(), bias) {
            (0, None) => &[][..],
            (n, Some(v)) if n > 0 => {
                check_len("bias", n, v.len())?;
                v
            }
            (0, Some(_)) => return Err(invalid("bias given but the epilogue has none")),
            _ => return Err(invalid("the epilogue needs a bias vector")),
        };
        if s.m == 0 || s.n == 0 {
            return Ok(());
        }
        let (x, y) = self.prob.operands(s, a, b);
        self.drive(scratch, x, y, c, bias);
        Ok(())
    }
}

fn sweep_index(phase: Phase, edge_rows: bool) -> usize {
    phase as usize * 2 + usize::from(edge_rows)
}

fn kernel_index(phase: Phase, edge_rows: bool, edge_cols: bool) -> usize {
    phase as usize * 4 + usize::from(edge_rows) * 2 + usize::from(edge_cols)
}

/// (is_edge, stored size) for the full tile (if any) and the edge tile.
fn edge_options(len: usize, w: usize) -> Vec<(bool, usize)> {
    let mut v = Vec::new();
    if len >= w {
        v.push((false, w));
    }
    if !len.is_multiple_of(w) {
        v.push((true, len % w));
    }
    v
}
