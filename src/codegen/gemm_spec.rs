//! The description of one GEMM: sizes, strides, transposes, accumulate
//! flag and fused epilogue, as netc knows them when it compiles a network.
//!
//! Consumes: sizes and layout choices. Produces: a validated [`GemmSpec`]
//! that also answers how long each operand slice must be.
//! Guarantees: `op(A)[i,p]` is `a[i·lda+p]`, or `a[p·lda+i]` with
//! `trans_a`; `op(B)[p,j]` is `b[p·ldb+j]`, or `b[j·ldb+p]` with `trans_b`;
//! `C[i,j]` is `c[i·ldc+j]`. [`GemmSpec::validate`] rejects strides shorter
//! than a row and sizes whose byte extents overflow, so later address
//! arithmetic cannot wrap.

use crate::codegen::epilogue::{Bias, Epilogue};
use crate::codegen::error::{invalid, Result};

/// Everything that determines a compiled GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GemmSpec {
    /// Rows of C and op(A).
    pub m: usize,
    /// Columns of C and op(B).
    pub n: usize,
    /// Inner dimension.
    pub k: usize,
    /// Row stride of A as stored (K, or M when `trans_a`, if contiguous).
    pub lda: usize,
    /// Row stride of B as stored (N, or K when `trans_b`, if contiguous).
    pub ldb: usize,
    /// Row stride of C (N if contiguous).
    pub ldc: usize,
    /// A is stored K×M and used transposed.
    pub trans_a: bool,
    /// B is stored N×K and used transposed.
    pub trans_b: bool,
    /// Add to C instead of overwriting it.
    pub accumulate: bool,
    /// Fused bias / activation on the final store.
    pub epilogue: Epilogue,
}

impl GemmSpec {
    /// `C = A·B`, all contiguous, no transposes, no epilogue.
    pub fn new(m: usize, n: usize, k: usize) -> GemmSpec {
        GemmSpec {
            m,
            n,
            k,
            lda: k,
            ldb: n,
            ldc: n,
            trans_a: false,
            trans_b: false,
            accumulate: false,
            epilogue: Epilogue::NONE,
        }
    }

    /// Sets the transposes and resets strides to the contiguous ones for
    /// that layout (call [`GemmSpec::strides`] afterwards to override).
    pub fn transpose(mut self, trans_a: bool, trans_b: bool) -> GemmSpec {
        self.trans_a = trans_a;
        self.trans_b = trans_b;
        self.lda = if trans_a { self.m } else { self.k };
        self.ldb = if trans_b { self.k } else { self.n };
        self
    }

    /// Explicit row strides (in elements) of the stored A, B and C.
    pub fn strides(mut self, lda: usize, ldb: usize, ldc: usize) -> GemmSpec {
        (self.lda, self.ldb, self.ldc) = (lda, ldb, ldc);
        self
    }

    /// Accumulate into C (`true`) or overwrite it.
    pub fn accumulate(mut self, on: bool) -> GemmSpec {
        self.accumulate = on;
        self
    }

    /// Sets the fused epilogue.
    pub fn epilogue(mut self, epilogue: Epilogue) -> GemmSpec {
        self.epilogue = epilogue;
        self
    }

    /// Floating-point operations of one run (`2·M·N·K`).
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }

    /// Stored shape (rows, cols, stride) of A, B and C.
    fn stored(&self) -> [(usize, usize, usize); 3] {
        let a = if self.trans_a { (self.k, self.m) } else { (self.m, self.k) };
        let b = if self.trans_b { (self.n, self.k) } else { (self.k, self.n) };
        [(a.0, a.1, self.lda), (b.0, b.1, self.ldb), (self.m, self.n, self.ldc)]
    }

    /// Minimum lengths of the `a`, `b`, `c` slices.
    pub fn operand_lens(&self) -> Result<[usize; 3]> {
        let mut out = [0; 3];
        for (o, (rows, cols, ld)) in out.iter_mut().zip(self.stored()) {
            *o = span(rows, cols, ld)?;
        }
        Ok(out)
    }

    /// Length of the bias vector the epilogue needs (0 if none).
    pub fn bias_len(&self) -> usize {
        match self.epilogue.bias {
            Bias::None => 0,
            Bias::PerRow => self.m,
            Bias::PerCol => self.n,
        }
    }

    /// Checks strides and that all sizes fit in memory arithmetic.
    pub fn validate(&self) -> Result<()> {
        for (name, (rows, cols, ld)) in ["lda", "ldb", "ldc"].iter().zip(self.stored()) {
            if rows > 0 && cols > 0 && ld < cols {
                return Err(invalid(format!("{name} = {ld} < row length {cols}")));
            }
        }
        let total = self.operand_lens()?.iter().try_fold(0usize, |acc, &l| acc.checked_add(l));
        match total {
            Some(t) if t <= (isize::MAX as usize) / 4 => Ok(()),
            _ => Err(invalid("GEMM operands too large to address")),
        }
    }
}

/// Elements spanned by a `rows × cols` matrix with row stride `ld`.
fn span(rows: usize, cols: usize, ld: usize) -> Result<usize> {
    if rows == 0 || cols == 0 {
        return Ok(0);
    }
    (rows - 1).checked_mul(ld).and_then(|x| x.checked_add(cols)).ok_or_else(|| invalid("matrix extent overflows usize"))
}
