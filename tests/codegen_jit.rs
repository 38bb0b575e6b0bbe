//! The JIT wrapper: feature reporting, forcing FMA off, typed handles that
//! outlive the `Jit`, error propagation, and calls from several threads.

use cranelift_codegen::ir::InstBuilder;
use netc::codegen::jit::{Jit, JitFn, JitOptions, Opt};
use netc::codegen::simd::V4;
use netc::codegen::{CodegenError, Result};

/// `y[0..4] = x[0..4] * x[0..4] + y[0..4]` through `V4::mul_add`.
fn square_add(jit: &Jit, opt: Opt) -> Result<JitFn<2>> {
    jit.compile_opt("square_add", opt, |b, [x, y], feats| {
        let mut v = V4::new(b, feats.has_fma);
        let xv = v.load(x, 0);
        let yv = v.load(y, 0);
        let r = v.mul_add(xv, xv, yv);
        v.store(r, y, 0);
        b.ins().return_(&[]);
        Ok(())
    })
}

fn run(k: &JitFn<2>) -> [f32; 4] {
    let x = [1.0f32, 2.0, 3.0, -4.0];
    let mut y = [0.5f32; 4];
    // SAFETY: the kernel reads 4 floats from x and reads/writes 4 in y.
    unsafe { k.call([x.as_ptr() as i64, y.as_mut_ptr() as i64]) };
    y
}

#[test]
fn features_follow_the_cpu_and_the_fma_switch() {
    let native = Jit::native().unwrap();
    let cpu_fma = std::is_x86_feature_detected!("fma") && std::is_x86_feature_detected!("avx");
    assert_eq!(native.features().has_fma, cpu_fma);
    assert_eq!(native.features().has_sse41, std::is_x86_feature_detected!("sse4.1"));
    let off = Jit::new(JitOptions { allow_fma: false, ..Default::default() }).unwrap();
    assert!(!off.features().has_fma);
    assert_eq!(off.features().has_avx, native.features().has_avx);
}

#[test]
fn both_fma_paths_and_opt_levels_compute_the_same() {
    for allow_fma in [true, false] {
        let jit = Jit::new(JitOptions { allow_fma, keep_disassembly: true }).unwrap();
        for opt in [Opt::Speed, Opt::None] {
            let k = square_add(&jit, opt).unwrap();
            assert_eq!(run(&k), [1.5, 4.5, 9.5, 16.5]);
            let asm = k.disasm().unwrap();
            let fused = asm.contains("vfmadd");
            assert_eq!(fused, jit.features().has_fma, "{asm}");
        }
    }
}

#[test]
fn handles_outlive_the_jit() {
    let k = {
        let jit = Jit::native().unwrap();
        square_add(&jit, Opt::Speed).unwrap()
    };
    assert_eq!(run(&k), [1.5, 4.5, 9.5, 16.5]);
    let k2 = k.clone();
    drop(k);
    assert_eq!(run(&k2), [1.5, 4.5, 9.5, 16.5]);
}

#[test]
fn body_errors_propagate_and_the_jit_stays_usable() {
    let jit = Jit::native().unwrap();
    let err = jit
        .compile::<1, _>("fails", |b, [_x], _| {
            let _ = b.ins().iconst(cranelift_codegen::ir::types::I64, 1);
            Err(CodegenError::InvalidArgument("from the body".into()))
        })
        .err()
        .unwrap();
    assert!(matches!(err, CodegenError::InvalidArgument(_)));
    assert_eq!(run(&square_add(&jit, Opt::Speed).unwrap()), [1.5, 4.5, 9.5, 16.5]);
}

#[test]
fn too_many_arguments_is_an_error() {
    let jit = Jit::native().unwrap();
    let r = jit.compile::<11, _>("wide", |b, _, _| {
        b.ins().return_(&[]);
        Ok(())
    });
    assert!(matches!(r, Err(CodegenError::InvalidArgument(_))));
}

#[test]
fn handles_are_callable_from_several_threads() {
    let jit = Jit::native().unwrap();
    let k = square_add(&jit, Opt::Speed).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1000 {
                    assert_eq!(run(&k), [1.5, 4.5, 9.5, 16.5]);
                }
            });
        }
    });
}
