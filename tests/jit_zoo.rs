//! Every net of the zoo, forward at batch 1: the JIT (batch norm folded, element-wise
//! work fused, concatenations in place, generated kernels) against the reference
//! executor running the plain inference program.

mod common;

use netc::data::Rng;
use netc::runtime::reference::KernelCtx;
use netc::runtime::{Engine, Executor, JitEngine, JitOptions, ParamStore};

/// Nets above this many MACs are skipped in the fast tier.
const FAST_TIER_MACS: u128 = 2_000_000_000;

fn forward_matches(name: &str) {
    if common::report(name).total.macs > FAST_TIER_MACS && common::fast_tier(&format!("{name}'s forward pass")) {
        return;
    }
    // The graph and every plan compiled below are verified (ir::verify, sched::verify).
    netc::ir::enable_checks();
    let src = common::zoo_source(name);
    let mut sources = netc::diag::SourceMap::new();
    let g = netc::driver::compile(&mut sources, name, &src).unwrap();
    netc::ir::verify(&g).unwrap_or_else(|e| panic!("{name}: {e}"));
    let program = netc::autodiff::inference(&g);
    let mut store = ParamStore::new(&program.params);
    netc::train::initialise(&mut store, &g, 4);
    // Give batch norms non-trivial statistics so that folding them is really tested.
    let mut rng = Rng::new(8);
    for (i, info) in program.params.iter().enumerate() {
        match info.role {
            "running_mean" | "bias" if matches!(g.node(info.node).op, netc::ir::Op::BatchNorm(_)) => {
                store.values[i].iter_mut().for_each(|v| *v = rng.uniform(-0.2, 0.2))
            }
            "running_var" | "weight" if matches!(g.node(info.node).op, netc::ir::Op::BatchNorm(_)) => {
                store.values[i].iter_mut().for_each(|v| *v = rng.uniform(0.5, 1.5))
            }
            _ => {}
        }
    }
    let images: Vec<f32> = (0..program.buffer(program.input).len(1)).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let mut reference: Executor<f32> = Executor::new(program.clone(), 1);
    reference.buffer_mut(program.input, 1).copy_from_slice(&images);
    reference.run(0..program.steps.len(), 1, &mut store.values, &mut store.grads, &KernelCtx::default());
    let expected = reference.buffer(program.output, 1).to_vec();
    let mut jit = JitEngine::inference(&g, JitOptions::default());
    let got = jit.infer(&mut store, &images, 1).to_vec();
    let plan = jit.eval_plan(1).expect("planned");
    netc::sched::verify(jit.inference_program(), plan).unwrap_or_else(|e| panic!("{name}: {e}"));
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs() / scale).fold(0f32, f32::max);
    eprintln!("{name}: worst difference {worst:e} of the largest output {scale}");
    // f32 sums in another order through tens of layers: a few 1e-5 of the output scale.
    assert!(worst < 1e-3, "{name}: JIT and reference differ by {worst:e} of the output scale");
    assert!(got.iter().all(|v| v.is_finite()));
}

macro_rules! zoo_tests {
    ($($test:ident => $net:expr),* $(,)?) => {
        $(#[test] fn $test() { forward_matches($net); })*

        #[test]
        fn every_zoo_net_is_covered() {
            let covered = [$($net),*];
            for path in common::zoo() {
                let stem = path.file_stem().unwrap().to_string_lossy().to_string();
                assert!(covered.contains(&stem.as_str()), "{stem}.net has no JIT forward test");
            }
        }
    };
}

zoo_tests! {
    lenet => "lenet", lenet_keras => "lenet-keras", lenet_classic => "lenet-classic",
    alexnet => "alexnet", alexnet_torchvision => "alexnet-torchvision", vgg16 => "vgg16", vgg19 => "vgg19",
    resnet18 => "resnet18", resnet34 => "resnet34", resnet50 => "resnet50", resnet101 => "resnet101", resnet152 => "resnet152",
    resnet20_cifar => "resnet20-cifar", resnet56_cifar => "resnet56-cifar",
    googlenet => "googlenet", inception_v2 => "inception-v2", inception_v3 => "inception-v3", inception_v4 => "inception-v4",
    inception_resnet_v1 => "inception-resnet-v1", inception_resnet_v2 => "inception-resnet-v2",
}
