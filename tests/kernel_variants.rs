//! Every kernel variant the JIT generates for the zoo is checked against the reference.
//!
//! For every zoo net, the plans the JIT would run (training at batch 1 and 8, inference
//! at batch 1 and 8) are built and each step's compiled kernel is described. Each
//! description, with the spec's epilogue, accumulation and strided operands, is
//! abstracted into a *variant key* (`kernel_variants_support::variant_key`): the
//! generated code path without the sizes. For each key the cheapest step (fewest MACs
//! plus operand elements) is run, every part with its scratch, against
//! `runtime::jit::fallback::ReferenceKernel` on identical seeded operands. The test
//! fails if any variant disagrees or cannot be exercised, naming it; steps the code
//! generator leaves to the reference kernel are counted, not compared.

mod common;
mod kernel_variants_support;

use kernel_variants_support::{check, variant_key, KNOWN_KERNELS};
use netc::codegen::kernels::CompiledKernel;
use netc::runtime::{JitEngine, JitOptions};
use netc::sched::{cost::step_macs, PlannedStep, StepSpec};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Output error allowed, relative to the largest reference output: f32 sums in another
/// order (and FMA) over at most a few thousand terms.
const TOLERANCE: f32 = 1e-4;

/// Work (see [`cost`]) of the largest step checked: a few seconds for the reference
/// kernel. The largest cheapest steps of the zoo are AlexNet's grouped convolutions at
/// batch 8 (1.8 GMACs), the only grouped ones with batch lanes.
const MAX_COST: u128 = 4_000_000_000;

/// The plans the JIT runs: (training, batch).
const PLANS: [(bool, usize); 4] = [(true, 1), (true, 8), (false, 1), (false, 8)];

/// The cheapest step found with a variant key, and how often the key occurs.
struct Variant {
    spec: StepSpec,
    kernel: Arc<dyn CompiledKernel>,
    desc: String,
    cost: u128,
    /// Where the cheapest step is: net, training or inference, batch.
    origin: String,
    steps: usize,
}

/// Work of a step: its multiply-accumulates plus the elements of its operands.
fn cost(s: &PlannedStep) -> u128 {
    let elements: usize = s.spec.inputs.iter().chain(&s.spec.outputs).chain(&s.spec.extra).map(|o| o.len()).sum();
    step_macs(s) + elements as u128
}

/// A seed that depends on the variant only (FNV-1a of its key), not on which others exist.
fn seed(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[test]
fn every_kernel_variant_of_the_zoo_matches_the_reference() {
    let started = Instant::now();
    let mut variants: BTreeMap<String, Variant> = BTreeMap::new();
    let (mut host, mut reference_steps, mut total) = (0usize, 0usize, 0usize);
    for path in common::zoo() {
        let name = path.file_stem().expect("a name").to_string_lossy().into_owned();
        let src = std::fs::read_to_string(&path).expect("readable net");
        let mut sources = netc::diag::SourceMap::new();
        let g = netc::driver::compile(&mut sources, &name, &src).unwrap_or_else(|_| panic!("{name} compiles"));
        let (mut engine, trains) = match JitEngine::new(&g, JitOptions::default()) {
            Ok(e) => (e, true),
            Err(_) => (JitEngine::inference(&g, JitOptions::default()), false),
        };
        for (training, n) in PLANS.into_iter().filter(|&(t, _)| trains || !t) {
            let (plan, descs) = engine.describe_plan(training, n);
            for (s, desc) in plan.steps.iter().zip(&descs) {
                total += 1;
                if desc == "host" {
                    host += 1;
                    continue;
                }
                if desc.ends_with("(reference)") {
                    reference_steps += 1;
                }
                let key = variant_key(&s.spec, desc);
                let c = cost(s);
                let steps = variants.get(&key).map_or(0, |v| v.steps) + 1;
                if variants.get(&key).is_none_or(|v| c < v.cost) {
                    let origin = format!("{name} {} batch {n}", if training { "training" } else { "inference" });
                    let kernel = engine.kernel(&s.spec);
                    variants.insert(
                        key.clone(),
                        Variant { spec: s.spec.clone(), kernel, desc: desc.clone(), cost: c, origin, steps },
                    );
                }
                variants.get_mut(&key).expect("recorded").steps = steps;
            }
        }
    }
    let collected = started.elapsed();

    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for (key, v) in &variants {
        let kind = v.spec.kernel.name();
        let verdict = if v.desc.ends_with("(reference)") {
            "reference".to_string()
        } else if !KNOWN_KERNELS.contains(&kind) {
            failures.push(format!("{key}: kernel `{kind}` has no operand conventions in this test ({})", v.origin));
            "NOT CHECKED".to_string()
        } else if v.cost > MAX_COST {
            failures.push(format!("{key}: its cheapest step is too big to check here ({}: {})", v.origin, v.desc));
            "TOO BIG".to_string()
        } else {
            assert_eq!(v.kernel.describe(), v.desc, "{key}: the kernel run is the one planned");
            let out = check(&v.spec, v.kernel.as_ref(), seed(key), TOLERANCE);
            if !out.errors.is_empty() {
                failures.push(format!(
                    "{key}: {}\n    step of {}: {}\n    spec {:?}",
                    out.errors.join("; "),
                    v.origin,
                    v.desc,
                    v.spec
                ));
            }
            format!("{:.1e}", out.worst)
        };
        summary.push(format!(
            "{:6} steps  {verdict:>11}  {key}\n{:28}cheapest: {} ({}, {:.1} M)",
            v.steps,
            "",
            v.desc,
            v.origin,
            v.cost as f64 / 1e6
        ));
    }
    eprintln!(
        "{} variant keys over {total} planned steps ({host} host steps, {reference_steps} steps on the reference kernel); \
         plans and kernels in {collected:.1?}, checks in {:.1?}:\n{}",
        variants.len(),
        started.elapsed() - collected,
        summary.join("\n")
    );
    assert!(failures.is_empty(), "{} kernel variants fail:\n{}", failures.len(), failures.join("\n"));
    // The key keeps the choices the code generator makes: the zoo has them all.
    for family in ["conv", "conv_bwd_data", "conv_bwd_weight", "dense", "dense_bwd_data", "dense_bwd_weight"] {
        let count = variants.keys().filter(|k| k.split_whitespace().next() == Some(family)).count();
        assert!(count >= 2, "only {count} variants of {family}: is the variant key too coarse?");
    }
}
