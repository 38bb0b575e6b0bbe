//! The GEMM cache compiles each distinct spec once and hands out shared,
//! working kernels.

use std::sync::Arc;

use netc::codegen::gemm::GemmOptions;
use netc::codegen::gemm_cache::GemmCache;
use netc::codegen::gemm_spec::GemmSpec;
use netc::codegen::jit::Jit;
use netc::codegen::orient::Orientation;

#[test]
fn same_spec_same_kernel() {
    let cache = GemmCache::new(Jit::native().unwrap());
    assert!(cache.is_empty());
    let s = GemmSpec::new(7, 9, 5);
    let g1 = cache.get(s).unwrap();
    let g2 = cache.get(s).unwrap();
    assert!(Arc::ptr_eq(&g1, &g2));
    let g3 = cache.get(s.accumulate(true)).unwrap();
    assert!(!Arc::ptr_eq(&g1, &g3));
    let swapped = GemmOptions { orientation: Orientation::Swapped, ..Default::default() };
    let g4 = cache.get_with(s, swapped).unwrap();
    assert!(g4.is_swapped());
    assert_eq!(cache.len(), 3);

    let a: Vec<f32> = (0..35).map(|i| i as f32).collect();
    let b: Vec<f32> = (0..45).map(|i| 1.0 - i as f32 * 0.5).collect();
    let (mut c1, mut c4) = (vec![0f32; 63], vec![0f32; 63]);
    g1.run(&a, &b, &mut c1, None).unwrap();
    g4.run(&a, &b, &mut c4, None).unwrap();
    let want: f32 = (0..5).map(|p| a[p] * b[p * 9]).sum();
    assert_eq!(c1[0], want);
    assert_eq!(c1, c4);
}

#[test]
fn errors_are_not_cached() {
    let cache = GemmCache::new(Jit::native().unwrap());
    assert!(cache.get(GemmSpec::new(4, 4, 4).strides(2, 4, 4)).is_err());
    assert!(cache.is_empty());
}
