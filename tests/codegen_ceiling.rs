//! Smoke test of the FMA-ceiling measurement: it compiles, runs and returns
//! a positive rate. No timing is asserted (machines and load vary).

use netc::codegen::ceiling::{compile_fma_loop, fma_ceiling, measure, CeilingConfig};
use netc::codegen::jit::{Jit, JitOptions};

#[test]
fn ceiling_is_positive_with_and_without_fma() {
    for allow_fma in [true, false] {
        let jit = Jit::new(JitOptions { allow_fma, ..Default::default() }).unwrap();
        let cfg = CeilingConfig { runs: 3, min_run_secs: 0.005, ..Default::default() };
        let lp = compile_fma_loop(&jit, &cfg).unwrap();
        assert!(lp.run(10).is_finite());
        for threads in [1, 2] {
            let g = measure(&lp, threads, &cfg).unwrap();
            assert!(g > 0.0 && g.is_finite(), "{g}");
        }
    }
}

#[test]
fn default_ceiling_is_positive() {
    let jit = Jit::native().unwrap();
    let (one, two) = fma_ceiling(&jit, 2).unwrap();
    assert!(one > 0.0 && two > 0.0);
}

#[test]
fn bad_configs_are_errors() {
    let jit = Jit::native().unwrap();
    let bad = CeilingConfig { accumulators: 0, ..Default::default() };
    assert!(compile_fma_loop(&jit, &bad).is_err());
    let bad = CeilingConfig { accumulators: 15, ..Default::default() };
    assert!(compile_fma_loop(&jit, &bad).is_err());
    let cfg = CeilingConfig::default();
    let lp = compile_fma_loop(&jit, &cfg).unwrap();
    assert!(measure(&lp, 0, &cfg).is_err());
}
