//! Which product the GEMM kernels actually compute: `C = op(A)·op(B)`
//! directly, or `Cᵀ = op(B)ᵀ·op(A)ᵀ` with transposed tile stores.
//!
//! Consumes: a [`GemmSpec`], the register `Tile` and the blocking of
//! each candidate. Produces: an [`Oriented`] problem in kernel terms (M side
//! = pre-broadcast packed operand, N side = plain packed operand).
//! Guarantees: both orientations compute the same C; `Auto` picks the one
//! with the smaller packing traffic.
//!
//! Why: the M-side operand is packed pre-broadcast (4 floats per element,
//! see `microkernel`), so its packing costs 4× per element, and it is
//! re-packed for every N block. When N is small (e.g. 512×49×4608, a late
//! ResNet layer) each A element is used only N times and packing A
//! dominates; swapping puts the small side under the pre-broadcast instead.

use crate::codegen::blocking::Blocking;
use crate::codegen::epilogue::{Bias, Epilogue};
use crate::codegen::gemm_spec::GemmSpec;
use crate::codegen::microkernel::A_LANES;
use crate::codegen::pack::Operand;

/// Orientation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Orientation {
    /// Pick by estimated packing traffic.
    #[default]
    Auto,
    /// Always compute C directly.
    Direct,
    /// Always compute Cᵀ (transposed stores into C).
    Swapped,
}

/// The problem as the kernels see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oriented {
    /// Rows of the computed product (M, or N when swapped).
    pub m: usize,
    /// Columns of the computed product (N, or M when swapped).
    pub n: usize,
    /// Inner dimension.
    pub k: usize,
    /// Computing Cᵀ.
    pub swapped: bool,
    /// Epilogue with the bias expressed along the computed product.
    pub epilogue: Epilogue,
}

impl Oriented {
    /// The problem for `spec` in the given orientation.
    pub fn new(spec: &GemmSpec, swapped: bool) -> Oriented {
        let mut epilogue = spec.epilogue;
        if swapped {
            epilogue.bias = match epilogue.bias {
                Bias::PerRow => Bias::PerCol,
                Bias::PerCol => Bias::PerRow,
                Bias::None => Bias::None,
            };
        }
        let (m, n) = if swapped { (spec.n, spec.m) } else { (spec.m, spec.n) };
        Oriented { m, n, k: spec.k, swapped, epilogue }
    }

    /// The (M-side, N-side) operands: (op(A), op(B)) or, swapped,
    /// (op(B)ᵀ, op(A)ᵀ) — a transpose of an operand is the same storage
    /// with the transpose flag flipped.
    pub fn operands<'a>(&self, spec: &GemmSpec, a: &'a [f32], b: &'a [f32]) -> (Operand<'a>, Operand<'a>) {
        let opa = Operand { data: a, ld: spec.lda, trans: spec.trans_a };
        let opb = Operand { data: b, ld: spec.ldb, trans: spec.trans_b };
        if self.swapped {
            (Operand { trans: !opb.trans, ..opb }, Operand { trans: !opa.trans, ..opa })
        } else {
            (opa, opb)
        }
    }

    /// Element offset in C of computed-product element `(i, j)`.
    pub fn c_offset(&self, i: usize, j: usize, ldc: usize) -> usize {
        if self.swapped {
            j * ldc + i
        } else {
            i * ldc + j
        }
    }

    /// Floats moved by packing one run with blocking `bl`: the M-side
    /// operand is packed (pre-broadcast) once per N block, the N-side one
    /// once per M block; transposed stores cost about one float move per C
    /// element and K block.
    pub fn packing_traffic(&self, bl: &Blocking) -> f64 {
        let (m, n, k) = (self.m as f64, self.n as f64, self.k as f64);
        let n_blocks = self.n.div_ceil(bl.nc.max(1)) as f64;
        let m_blocks = self.m.div_ceil(bl.mc.max(1)) as f64;
        let k_blocks = self.k.div_ceil(bl.kc.max(1)).max(1) as f64;
        let stores = if self.swapped { 2.0 * m * n * k_blocks } else { 0.0 };
        A_LANES as f64 * m * k * n_blocks + k * n * m_blocks + stores
    }
}
