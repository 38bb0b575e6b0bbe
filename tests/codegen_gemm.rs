//! GEMM against a naive f64 triple loop: odd shapes, every transpose
//! combination, accumulate on/off, every epilogue, padded strides, both
//! orientations (C and Cᵀ), split and fused contraction, with native FMA
//! and with FMA forced off.
//!
//! Tolerance: each element of C is a K-term f32 dot product, so its error
//! is bounded by about `K · eps · Σ|a||b|`; we assert
//! `|c - ref| <= 2 · K · eps · (Σ_p |a_ip||b_pj| + |c_old| + |bias|) + tiny`
//! with eps = 2^-24 (unit roundoff), i.e. the standard worst-case bound for
//! recursive summation with a factor 2 margin.

use netc::codegen::blocking::Blocking;
use netc::codegen::epilogue::{Bias, Epilogue};
use netc::codegen::gemm::{compile_gemm, compile_gemm_with, Driver, GemmOptions};
use netc::codegen::gemm_spec::GemmSpec;
use netc::codegen::jit::{Jit, JitOptions};
use netc::codegen::microkernel::{Contraction, Tile};
use netc::codegen::orient::Orientation;
use netc::codegen::CodegenError;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn jits() -> Vec<Jit> {
    [true, false].iter().map(|&allow_fma| Jit::new(JitOptions { allow_fma, ..Default::default() }).unwrap()).collect()
}

/// Reference result and per-element error bound.
fn reference(s: &GemmSpec, a: &[f32], b: &[f32], c0: &[f32], bias: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let eps = f32::EPSILON as f64 / 2.0;
    let mut out = vec![0f64; c0.len()];
    let mut bound = vec![0f64; c0.len()];
    for i in 0..s.m {
        for j in 0..s.n {
            let (mut sum, mut mag) = (0f64, 0f64);
            for p in 0..s.k {
                let av = if s.trans_a { a[p * s.lda + i] } else { a[i * s.lda + p] } as f64;
                let bv = if s.trans_b { b[j * s.ldb + p] } else { b[p * s.ldb + j] } as f64;
                sum += av * bv;
                mag += (av * bv).abs();
            }
            let idx = i * s.ldc + j;
            if s.accumulate {
                sum += c0[idx] as f64;
                mag += (c0[idx] as f64).abs();
            }
            let bv = match s.epilogue.bias {
                Bias::None => 0.0,
                Bias::PerRow => bias[i] as f64,
                Bias::PerCol => bias[j] as f64,
            };
            sum += bv;
            mag += bv.abs();
            if s.epilogue.relu {
                sum = sum.max(0.0);
            }
            out[idx] = sum;
            bound[idx] = 2.0 * (s.k as f64 + 2.0) * eps * mag + 1e-30;
        }
    }
    (out, bound)
}

fn check(jit: &Jit, s: GemmSpec, opts: GemmOptions, seed: u64) {
    let mut rng = Rng(seed | 1);
    let [la, lb, lc] = s.operand_lens().unwrap();
    let a = rng.vec(la.max(1));
    let b = rng.vec(lb.max(1));
    let c0 = rng.vec(lc.max(1));
    let bias = rng.vec(s.bias_len().max(1));
    let g = compile_gemm_with(jit, s, opts).unwrap();
    let mut c = c0.clone();
    let bias_arg = (s.bias_len() > 0).then_some(&bias[..]);
    g.run(&a, &b, &mut c, bias_arg).unwrap();
    let (want, bound) = reference(&s, &a, &b, &c0, &bias);
    for i in 0..s.m.max(1) {
        for j in 0..s.ldc.max(1) {
            let idx = i * s.ldc + j;
            if idx >= c.len() {
                continue;
            }
            if i >= s.m || j >= s.n {
                assert_eq!(c[idx], c0[idx], "touched C outside the window at ({i},{j}) {s:?}");
                continue;
            }
            let err = (c[idx] as f64 - want[idx]).abs();
            assert!(
                err <= bound[idx],
                "{s:?} fma={} C[{i},{j}] = {} want {} (err {err:e} > {:e})",
                jit.features().has_fma,
                c[idx],
                want[idx],
                bound[idx]
            );
        }
    }
}

const ORIENTATIONS: [Orientation; 2] = [Orientation::Direct, Orientation::Swapped];

const SHAPES: &[(usize, usize, usize)] =
    &[(1, 1, 1), (3, 5, 7), (6, 8, 4), (7, 9, 3), (17, 33, 65), (64, 64, 64), (129, 255, 77)];

#[test]
fn all_transposes_and_accumulate() {
    for jit in jits() {
        for (si, &(m, n, k)) in SHAPES.iter().enumerate() {
            for ta in [false, true] {
                for tb in [false, true] {
                    for acc in [false, true] {
                        let s = GemmSpec::new(m, n, k).transpose(ta, tb).accumulate(acc);
                        for orientation in ORIENTATIONS {
                            for driver in [Driver::TileCalls, Driver::ClifSweep] {
                                let opts = GemmOptions { orientation, driver, ..Default::default() };
                                check(&jit, s, opts, si as u64 * 31 + 7);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn epilogues() {
    let eps = [
        Epilogue { bias: Bias::PerRow, relu: false },
        Epilogue { bias: Bias::PerCol, relu: false },
        Epilogue { bias: Bias::None, relu: true },
        Epilogue { bias: Bias::PerRow, relu: true },
        Epilogue { bias: Bias::PerCol, relu: true },
    ];
    for jit in jits() {
        for &(m, n, k) in SHAPES {
            for (ei, &e) in eps.iter().enumerate() {
                for acc in [false, true] {
                    let s = GemmSpec::new(m, n, k).accumulate(acc).epilogue(e).transpose(ei % 2 == 1, ei == 2);
                    for orientation in ORIENTATIONS {
                        let opts = GemmOptions { orientation, ..Default::default() };
                        check(&jit, s, opts, (m * n + ei) as u64);
                    }
                }
            }
        }
    }
}

/// Small explicit blocks force many K blocks (first/middle/last phases),
/// several M and N blocks and edge tiles in each.
#[test]
fn multi_block_paths() {
    let small = GemmOptions { blocking: Some(Blocking { mc: 12, kc: 8, nc: 16 }), ..Default::default() };
    let e = Epilogue { bias: Bias::PerRow, relu: true };
    for jit in jits() {
        for &(m, n, k) in &[(17, 33, 65), (129, 255, 77), (5, 3, 30)] {
            for acc in [false, true] {
                for (ta, tb) in [(false, false), (true, true)] {
                    let s = GemmSpec::new(m, n, k).transpose(ta, tb).accumulate(acc).epilogue(e);
                    check(&jit, s, small, 99);
                    check(&jit, s, GemmOptions { orientation: Orientation::Swapped, ..small }, 98);
                    check(&jit, s, GemmOptions { driver: Driver::TileCalls, ..small }, 97);
                }
            }
        }
    }
}

#[test]
fn other_tiles() {
    let jit = Jit::native().unwrap();
    let t = |mr, nv, ku, contraction| Tile { mr, nv, ku, contraction };
    let tiles = [
        t(4, 2, 1, Contraction::Split),
        t(4, 3, 2, Contraction::Fused),
        t(1, 1, 3, Contraction::Split),
        t(7, 2, 4, Contraction::Fused),
        t(6, 2, 4, Contraction::Fused),
    ];
    for tile in tiles {
        let opts = GemmOptions { tile, ..Default::default() };
        for &(m, n, k) in SHAPES {
            check(&jit, GemmSpec::new(m, n, k).accumulate(true), opts, 5);
        }
    }
}

#[test]
fn padded_strides_leave_gaps_untouched() {
    for jit in jits() {
        for orientation in ORIENTATIONS {
            let opts = GemmOptions { orientation, ..Default::default() };
            let s = GemmSpec::new(13, 10, 9).transpose(false, true).strides(11, 12, 15);
            check(&jit, s, opts, 3);
            let s = GemmSpec::new(13, 10, 9).transpose(true, false).strides(20, 14, 10).accumulate(true);
            check(&jit, s, opts, 4);
        }
    }
}

#[test]
fn k_zero_and_empty() {
    let jit = Jit::native().unwrap();
    let e = Epilogue { bias: Bias::PerCol, relu: true };
    check(&jit, GemmSpec::new(5, 9, 0).epilogue(e), GemmOptions::default(), 1);
    check(&jit, GemmSpec::new(5, 9, 0).accumulate(true), GemmOptions::default(), 2);
    let g = compile_gemm(&jit, GemmSpec::new(0, 4, 3)).unwrap();
    g.run(&[], &[0.0; 12], &mut [], None).unwrap();
}

#[test]
fn bad_input_is_an_error() {
    let jit = Jit::native().unwrap();
    let s = GemmSpec::new(4, 4, 4);
    let g = compile_gemm(&jit, s).unwrap();
    let mut c = vec![0f32; 16];
    assert!(matches!(
        g.run(&[0.0; 15], &[0.0; 16], &mut c, None),
        Err(CodegenError::BufferTooSmall { operand: "a", .. })
    ));
    assert!(g.run(&[0.0; 16], &[0.0; 16], &mut c[..15], None).is_err());
    assert!(g.run(&[0.0; 16], &[0.0; 16], &mut c, Some(&[0.0; 4])).is_err());
    let gb = compile_gemm(&jit, s.epilogue(Epilogue { bias: Bias::PerRow, relu: false })).unwrap();
    assert!(gb.run(&[0.0; 16], &[0.0; 16], &mut c, None).is_err());
    assert!(gb.run(&[0.0; 16], &[0.0; 16], &mut c, Some(&[0.0; 3])).is_err());
    assert!(compile_gemm(&jit, s.strides(3, 4, 4)).is_err());
    assert!(compile_gemm(&jit, GemmSpec::new(usize::MAX / 2, 4, 4)).is_err());
    let bad_tile =
        GemmOptions { tile: Tile { mr: 8, nv: 2, ku: 1, contraction: Contraction::Split }, ..Default::default() };
    assert!(compile_gemm_with(&jit, s, bad_tile).is_err());
}

/// Auto orientation computes Cᵀ for a late-ResNet-like shape with small N,
/// and C for a wide one; both stay correct.
#[test]
fn auto_orientation() {
    let jit = Jit::native().unwrap();
    let tall = compile_gemm(&jit, GemmSpec::new(512, 49, 300)).unwrap();
    assert!(tall.is_swapped());
    let wide = compile_gemm(&jit, GemmSpec::new(64, 3136, 64)).unwrap();
    assert!(!wide.is_swapped());
    let e = Epilogue { bias: Bias::PerRow, relu: true };
    check(&jit, GemmSpec::new(130, 9, 40).epilogue(e), GemmOptions::default(), 12);
}
