//! The harness of the vmath accuracy tests: a map kernel `y[i] = f(x[i])` over
//! f32 slices, with `f` one of the [`vmath`] functions.
//!
//! The JIT loop does whole f32x4 vectors; a tail of 1–3 elements goes through a
//! padded 4-lane buffer with the same kernel, so every element sees identical code.

use cranelift_codegen::ir::InstBuilder;

use netc::codegen::jit::{Jit, JitFn};
use netc::codegen::loops::for_each;
use netc::codegen::simd::V4;
use netc::codegen::vmath;

/// Which function a map kernel applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `e^x`
    Exp,
    /// `tanh x`
    Tanh,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `ln x`
    Log,
}

/// A compiled map kernel `fn(x_ptr, y_ptr, n_vectors)`.
pub struct UnaryKernel {
    kernel: JitFn<3>,
}

/// Compiles the map kernel for `op`.
pub fn compile_unary(jit: &Jit, op: UnaryOp) -> UnaryKernel {
    let kernel = jit
        .compile("map", |b, [x, y, nvec], feats| {
            let nbytes = b.ins().imul_imm_s(nvec, 16);
            for_each(b, nbytes, 16, |b, off| {
                let xp = b.ins().iadd(x, off);
                let yp = b.ins().iadd(y, off);
                let mut v = V4::new(b, feats.has_fma);
                let xv = v.load(xp, 0);
                let r = match op {
                    UnaryOp::Exp => vmath::exp(&mut v, xv),
                    UnaryOp::Tanh => vmath::tanh(&mut v, xv),
                    UnaryOp::Sigmoid => vmath::sigmoid(&mut v, xv),
                    UnaryOp::Log => vmath::log(&mut v, xv),
                };
                v.store(r, yp, 0);
                Ok(())
            })?;
            b.ins().return_(&[]);
            Ok(())
        })
        .expect("compile");
    UnaryKernel { kernel }
}

impl UnaryKernel {
    /// `y[i] = f(x[i])`; panics unless `x` and `y` are as long.
    pub fn apply(&self, x: &[f32], y: &mut [f32]) {
        assert_eq!(x.len(), y.len(), "x and y lengths");
        let body = x.len() / 4 * 4;
        self.run(&x[..body], &mut y[..body]);
        let tail = x.len() - body;
        if tail > 0 {
            let mut xt = [0f32; 4];
            let mut yt = [0f32; 4];
            xt[..tail].copy_from_slice(&x[body..]);
            self.run(&xt, &mut yt);
            y[body..].copy_from_slice(&yt[..tail]);
        }
    }

    /// Runs the kernel on whole vectors; `x.len() == y.len()`, multiple of 4.
    fn run(&self, x: &[f32], y: &mut [f32]) {
        assert!(x.len() == y.len() && x.len().is_multiple_of(4));
        let nvec = (x.len() / 4) as i64;
        // SAFETY: the kernel reads 16·nvec bytes from x and writes as many to
        // y; both slices hold exactly 4·nvec f32 (4-byte aligned, which is
        // all the unaligned vector accesses need), y is uniquely borrowed.
        unsafe { self.kernel.call([x.as_ptr() as i64, y.as_mut_ptr() as i64, nvec]) };
    }
}
