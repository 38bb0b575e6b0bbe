//! A short training run on real MNIST with the reference engine: the loss falls and
//! accuracy clears a sane bar; saving and loading gives the same accuracy.

mod common;

use netc::data::{load, Augment, LoadOptions, Pipeline, PrepOptions, SearchRoots};
use netc::runtime::{Engine, ParamStore, ReferenceEngine};
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
    let cfg = TrainConfig {
        epochs: 5,
        batch: 32,
        lr: 1e-3,
        schedule: Schedule::Constant,
        warmup: None,
        clip_norm: None,
        seed: 1,
        augment: Augment::none(),
        data_workers: 1,
    };
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
