//! A short training run on real MNIST with the reference engine: the loss falls and
//! accuracy clears a sane bar; saving and loading gives the same accuracy.

mod common;

use netc::data::{load, Augment, LoadOptions, Pipeline, PrepOptions, SearchRoots};
use netc::runtime::{Engine, JitEngine, JitOptions, ParamStore, ReferenceEngine};
use netc::train::{self, checkpoint, Observer, Optimizer, OptimizerKind, Schedule, TrainConfig};

fn mnist(limit: usize) -> Option<netc::data::Splits> {
    let Some(root) = std::env::var_os("NETC_DATA") else {
        eprintln!("skipping: NETC_DATA not set (CI sets it to ../shared/data)");
        return None;
    };
    let roots = SearchRoots { cwd: std::env::current_dir().unwrap(), netc_data: Some(root.into()) };
    Some(
        load("mnist", None, &roots, &LoadOptions { limit: Some(limit), ..LoadOptions::default() })
            .expect("MNIST loads"),
    )
}

struct Losses(Vec<f64>);

impl Observer for Losses {
    fn batch(&mut self, p: &train::BatchProgress) {
        self.0.push(p.loss);
    }
}

/// Adam at 1e-3, constant, batches of 32, seed 1, no augmentation: the runs below.
fn adam_batches_of_32(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch: 32,
        lr: 1e-3,
        schedule: Schedule::Constant,
        warmup: None,
        clip_norm: None,
        seed: 1,
        augment: Augment::none(),
        data_workers: 1,
    }
}

#[test]
fn lenet5_learns_mnist_and_round_trips_through_a_checkpoint() {
    if common::fast_tier("a full MNIST training run") {
        return;
    }
    let Some(splits) = mnist(3000) else { return };
    let mut sources = netc::diag::SourceMap::new();
    let g = netc::driver::compile(&mut sources, "lenet.net", &common::zoo_source("lenet")).unwrap();
    let mut engine = ReferenceEngine::new(&g, 32, 1).unwrap();
    let mut store = ParamStore::new(&engine.training_program().params);
    train::initialise(&mut store, &g, 1);
    // The default scaling of `netc run`: standardised with the training split's statistics.
    let prep = Pipeline::build(&PrepOptions::default(), &splits.train, (1, 32, 32)).unwrap();
    let before = train::evaluate(&mut engine, &mut store, &splits.test, &prep, 100, 1).unwrap();
    let mut opt = Optimizer::new(OptimizerKind::Adam, 0.0, &store);
    let cfg = adam_batches_of_32(5);
    let mut losses = Losses(Vec::new());
    let history =
        train::train(&mut engine, &mut store, &mut opt, &splits.train, &splits.test, &prep, &cfg, 0, &mut losses)
            .unwrap();
    eprintln!("test accuracy per epoch: {:?}", history.iter().map(|h| h.test_acc).collect::<Vec<_>>());
    let first: f64 = losses.0[..10].iter().sum::<f64>() / 10.0;
    let last = history.last().unwrap();
    assert!(last.train_loss < first * 0.5, "loss did not fall: first batches {first}, last epoch {}", last.train_loss);
    assert!(
        last.test_acc > 0.85 && last.test_acc > before.accuracy() + 0.5,
        "test accuracy {} (before training {})",
        last.test_acc,
        before.accuracy()
    );

    let path = std::env::temp_dir().join(format!("netc-lenet-{}.safetensors", std::process::id()));
    checkpoint::save(&path, &store, &vec![], Default::default()).unwrap();
    let mut fresh = ParamStore::new(&store.infos);
    checkpoint::load(&path, &mut fresh).unwrap();
    assert_eq!(fresh.values, store.values);
    let again = train::evaluate(&mut engine, &mut fresh, &splits.test, &prep, 100, 2).unwrap();
    assert_eq!(again.accuracy(), last.test_acc);
    let _ = std::fs::remove_file(&path);
    let _ = engine.name();
}

/// LeNet-5 with an auxiliary head on C3's output (16×10×10): 2×2 max pool, a 400 → 10 dense.
fn lenet_with_head() -> String {
    let src = common::zoo_source("lenet");
    let head = "aux C3_aux(weight = 0.3) { maxpool(2) flatten fc: dense(10) }\nS4:";
    assert!(src.contains("\nS4:"), "nets/lenet.net has an S4 line");
    src.replacen("\nS4:", &format!("\n{head}"), 1)
}

#[test]
fn an_auxiliary_head_trains_on_mnist_and_inference_ignores_it() {
    if common::fast_tier("an MNIST training run with an auxiliary head") {
        return;
    }
    let Some(splits) = mnist(2000) else { return };
    let mut sources = netc::diag::SourceMap::new();
    let g = netc::driver::compile(&mut sources, "lenet-aux.net", &lenet_with_head()).unwrap();
    let plain = netc::driver::compile(&mut sources, "lenet.net", &common::zoo_source("lenet")).unwrap();
    let mut engine = JitEngine::new(&g, JitOptions::default()).unwrap();
    let mut store = ParamStore::new(&engine.training_program().params);
    assert_eq!(store.infos.iter().filter(|i| i.head).count(), 2, "the head's weight and bias");
    train::initialise(&mut store, &g, 1);
    let prep = Pipeline::build(&PrepOptions::default(), &splits.train, (1, 32, 32)).unwrap();
    let mut opt = Optimizer::new(OptimizerKind::Adam, 0.0, &store);
    let cfg = adam_batches_of_32(2);
    let head_before = store.values[store.infos.iter().position(|i| i.head).unwrap()].clone();
    let mut losses = Losses(Vec::new());
    let history =
        train::train(&mut engine, &mut store, &mut opt, &splits.train, &splits.test, &prep, &cfg, 0, &mut losses)
            .unwrap();
    // The logged loss is the combined one, net + 0.3 × head (tests/aux_heads.rs checks the sum).
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (first, last) = (mean(&losses.0[..10]), mean(&losses.0[losses.0.len() - 10..]));
    eprintln!("combined loss: first 10 batches {first}, last 10 {last}; test accuracy {}", history[1].test_acc);
    assert!(last < 0.5 * first, "the combined loss did not fall: {first} → {last}");
    let head_index = store.infos.iter().position(|i| i.head).unwrap();
    assert_ne!(store.values[head_index], head_before, "the head learned");
    // Inference ignores the head: the head-free LeNet with the same tensors scores the same.
    let kept = store.clone().without_heads();
    let mut plain_engine = JitEngine::new(&plain, JitOptions::default()).unwrap();
    let names = |s: &ParamStore| s.infos.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    let mut plain_store = ParamStore::new(&plain_engine.training_program().params);
    assert_eq!(names(&kept), names(&plain_store));
    plain_store.values = kept.values.clone();
    plain_store.touch();
    let with = train::evaluate(&mut engine, &mut store, &splits.test, &prep, 100, 1).unwrap();
    let without = train::evaluate(&mut plain_engine, &mut plain_store, &splits.test, &prep, 100, 1).unwrap();
    assert_eq!(with, without, "evaluation with and without the head");
    assert!(with.accuracy() > 0.7, "accuracy {}", with.accuracy());
}
