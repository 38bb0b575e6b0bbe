//! Prints the f32x4 FMA ceiling and GEMM throughput on this machine.
//!
//! `cargo run --release --example measure [runs]`
//!
//! Timings are medians of `runs` (default 7) after one warm-up run, with
//! packing buffers reused between runs. Nothing here is asserted: the
//! numbers are for comparing designs on the target machine.

use std::time::Instant;

use netc::codegen::ceiling::{compile_fma_loop, measure, CeilingConfig};
use netc::codegen::epilogue::Epilogue;
use netc::codegen::gemm::{compile_gemm_with, CompiledGemm, Driver, GemmOptions, GemmScratch};
use netc::codegen::gemm_spec::GemmSpec;
use netc::codegen::jit::{Jit, JitOptions};
use netc::codegen::microkernel::{compile_microkernel, Contraction, Tile, TileStore, A_LANES};
use netc::codegen::Result;

fn main() -> Result<()> {
    let runs: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(7);
    let jit = Jit::native()?;
    println!("CPU features as Cranelift sees them: {:?}", jit.features());
    let (c1, c2) = ceilings(&jit)?;
    micro_kernels(&jit, c1)?;
    gemms(&jit, c1, runs)?;
    println!("\nceiling: {c1:.1} GFLOP/s (1 thread), {c2:.1} GFLOP/s (2 threads)");
    Ok(())
}

/// The f32x4 ceiling with FMA and with split mul+add, 1 and 2 threads.
fn ceilings(jit: &Jit) -> Result<(f64, f64)> {
    let cfg = CeilingConfig::default();
    let lp = compile_fma_loop(jit, &cfg)?;
    let (one, two) = (measure(&lp, 1, &cfg)?, measure(&lp, 2, &cfg)?);
    println!("f32x4 FMA ceiling ({} accumulators): 1T {one:.1} GFLOP/s, 2T {two:.1} GFLOP/s", cfg.accumulators);
    let split = Jit::new(JitOptions { allow_fma: false, ..Default::default() })?;
    let lp = compile_fma_loop(&split, &cfg)?;
    println!("f32x4 fmul+fadd ceiling:              1T {:.1} GFLOP/s", measure(&lp, 1, &cfg)?);
    Ok((one, two))
}

/// The micro-kernel alone on L1-resident panels (no packing, no misses).
fn micro_kernels(jit: &Jit, ceiling: f64) -> Result<()> {
    println!("\nmicro-kernel alone (kc = 256, panels in L1):");
    for contraction in [Contraction::Split, Contraction::Fused] {
        for (mr, nv) in [(5, 2), (6, 2), (4, 3)] {
            let tile = Tile { mr, nv, ku: 4, contraction };
            let st = TileStore {
                rows: mr,
                cols: 4 * nv,
                beta: true,
                last: false,
                epilogue: Epilogue::NONE,
                ldc: 64,
                transposed: false,
            };
            let k = compile_microkernel(jit, tile, st)?;
            let kc = 256;
            let a = vec![1e-3f32; kc * mr * A_LANES];
            let b = vec![1e-3f32; kc * 4 * nv];
            let mut c = vec![0f32; 64 * mr];
            let reps = 100_000;
            let secs = median(5, || {
                for _ in 0..reps {
                    // SAFETY: panels hold kc steps of MR·A_LANES / NR floats,
                    // the C buffer holds MR rows of stride 64 ≥ NR.
                    unsafe {
                        k.call([a.as_ptr() as i64, b.as_ptr() as i64, c.as_mut_ptr() as i64, (kc * 16 * nv) as i64, 0])
                    };
                }
            });
            let gf = (2 * kc * mr * 4 * nv * reps) as f64 / secs / 1e9;
            println!(
                "  {mr}x{:<2} {contraction:?}: {gf:5.1} GFLOP/s ({:.0}% of ceiling)",
                4 * nv,
                100.0 * gf / ceiling
            );
        }
    }
    Ok(())
}

/// GEMM shapes: square, conv-like forward, and the two backward forms.
fn gemms(jit: &Jit, ceiling: f64, runs: usize) -> Result<()> {
    let shapes = [
        ("256^3", GemmSpec::new(256, 256, 256)),
        ("1024^3", GemmSpec::new(1024, 1024, 1024)),
        ("conv 64x3136x576", GemmSpec::new(64, 3136, 576)),
        ("conv 512x49x4608", GemmSpec::new(512, 49, 4608)),
        ("dW 64x576x3136 (A.B^T)", GemmSpec::new(64, 576, 3136).transpose(false, true)),
        ("dX 576x3136x64 (A^T.B)", GemmSpec::new(576, 3136, 64).transpose(true, false)),
        ("dW 512x4608x49 (A.B^T)", GemmSpec::new(512, 4608, 49).transpose(false, true)),
    ];
    println!("\nGEMM, 1 thread (GFLOP/s, % of 1-thread ceiling):");
    println!(
        "  {:<24} {:>16} {:>16} {:>16} {:>9}",
        "shape", "CLIF sweep", "Rust tile calls", "fused, sweep", "compile"
    );
    for (name, spec) in shapes {
        let mut cells = Vec::new();
        let mut compile_ms = 0.0;
        for (driver, contraction) in [
            (Driver::ClifSweep, Contraction::Split),
            (Driver::TileCalls, Contraction::Split),
            (Driver::ClifSweep, Contraction::Fused),
        ] {
            let opts = GemmOptions { driver, tile: Tile { contraction, ..Tile::DEFAULT }, ..Default::default() };
            let t = Instant::now();
            let g = compile_gemm_with(jit, spec, opts)?;
            compile_ms = t.elapsed().as_secs_f64() * 1e3;
            let gf = time_gemm(&g, runs)?;
            cells.push(format!("{gf:5.1} ({:3.0}%)", 100.0 * gf / ceiling));
        }
        println!("  {name:<24} {:>16} {:>16} {:>16} {compile_ms:>6.1} ms", cells[0], cells[1], cells[2]);
    }
    Ok(())
}

fn time_gemm(g: &CompiledGemm, runs: usize) -> Result<f64> {
    let [la, lb, lc] = g.spec().operand_lens()?;
    let a: Vec<f32> = (0..la).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..lb).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0f32; lc];
    let mut scratch = GemmScratch::default();
    g.run_with(&mut scratch, &a, &b, &mut c, None)?;
    let mut err = Ok(());
    let secs = median(runs, || {
        if let Err(e) = g.run_with(&mut scratch, &a, &b, &mut c, None) {
            err = Err(e);
        }
    });
    err?;
    Ok(g.spec().flops() / secs / 1e9)
}

/// Median wall time of `runs` calls of `f`, in seconds.
fn median(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}
