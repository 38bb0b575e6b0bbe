//! `netc run` never saves or reports non-finite numbers as a result: an update that
//! breaks the weights, a test pass whose outputs overflow and corrupt optimizer state
//! in a checkpoint all fail with a message that names the cause, and leave the last
//! good checkpoint alone. Absurd options are refused before anything runs.

mod cli_support;

use cli_support::output::*;
use cli_support::TempDir;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A small net with batch norm, written into `d`.
fn bn_net(d: &Path) -> PathBuf {
    let p = d.join("bn.net");
    std::fs::write(&p, "input 1x28x28\nconv(4, 3) bn relu\nmaxpool(2)\nflatten\ndense(10)\n").unwrap();
    p
}

/// One batch per epoch (32 images, batch 32), so every epoch's last update is also its first.
fn train(net: &Path, extra: &[&str]) -> Output {
    let net = s(net);
    let mut args = vec!["run", &net, "--train", "synthetic", "--limit", "32", "--batch", "32", "--quiet"];
    args.extend_from_slice(extra);
    netc(&args)
}

type Tensors = Vec<(String, Vec<usize>, Vec<f32>)>;

fn read_checkpoint(p: &Path) -> (Tensors, HashMap<String, String>) {
    let bytes = std::fs::read(p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Tensors = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            let vals = v.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            (n, v.shape().to_vec(), vals)
        })
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    (tensors, meta.metadata().clone().unwrap_or_default())
}

fn write_checkpoint(p: &Path, tensors: &Tensors, meta: HashMap<String, String>) {
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, d, _), b)| {
            (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, d.clone(), b).unwrap())
        })
        .collect();
    std::fs::write(p, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
}

/// A copy of checkpoint `from` at `to`, with `edit` applied to its tensors and metadata.
fn edited(from: &Path, to: &Path, edit: impl FnOnce(&mut Tensors, &mut HashMap<String, String>)) {
    let (mut t, mut m) = read_checkpoint(from);
    edit(&mut t, &mut m);
    write_checkpoint(to, &t, m);
}

fn tensor<'a>(t: &'a mut Tensors, name: &str) -> &'a mut Vec<f32> {
    &mut t.iter_mut().find(|x| x.0 == name).unwrap_or_else(|| panic!("no tensor {name}")).2
}

#[test]
fn an_update_that_breaks_the_weights_is_not_saved() {
    let d = TempDir::new("update");
    let net = bn_net(&d);
    let ckpt = d.join("w.safetensors");
    ok(&train(&net, &["--epochs", "1", "--optimizer", "sgd", "--save", &s(&ckpt)]));
    let good = std::fs::read(&ckpt).unwrap();
    // lr and weight decay are finite in f32, their product is not: the only update of
    // epoch 2 makes the weights infinite while every loss of the epoch was finite.
    let o = train(
        &net,
        &[
            "--epochs",
            "2",
            "--optimizer",
            "sgd",
            "--lr",
            "1e30",
            "--weight-decay",
            "1e30",
            "--resume",
            &s(&ckpt),
            "--save",
            &s(&ckpt),
        ],
    );
    let err = fails(&o, 1, &["epoch 2", "weight", "not finite", "--weight-decay", "holds epoch 1"]);
    assert!(!stdout(&o).contains("epoch  2/2"), "a broken epoch is not reported as done: {}", stdout(&o));
    assert!(!err.contains("still holds the last good epoch"), "{err}");
    assert_eq!(std::fs::read(&ckpt).unwrap(), good, "the good checkpoint was overwritten");
    // The same from scratch: nothing is written at all.
    let fresh = d.join("fresh.safetensors");
    let o = train(
        &net,
        &["--epochs", "1", "--optimizer", "sgd", "--lr", "1e30", "--weight-decay", "1e30", "--save", &s(&fresh)],
    );
    fails(&o, 1, &["not finite", "nothing was saved"]);
    assert!(!fresh.exists(), "non-finite weights were saved");
}

#[test]
fn a_test_pass_with_non_finite_outputs_fails_the_epoch() {
    let d = TempDir::new("testpass");
    let net = bn_net(&d);
    let (good, bad) = (d.join("good.safetensors"), d.join("bad.safetensors"));
    ok(&train(&net, &["--epochs", "1", "--save", &s(&good)]));
    // Training normalises with batch statistics, so a huge running mean goes unnoticed there;
    // inference subtracts it and overflows (to +inf, which the relu lets through).
    edited(&good, &bad, |t, _| tensor(t, "bn.running_mean").iter_mut().for_each(|x| *x = -3e38));
    let out = d.join("out.safetensors");
    let o = train(&net, &["--epochs", "1", "--weights", &s(&bad), "--save", &s(&out)]);
    fails(&o, 1, &["test pass", "epoch 1", "bn.running_mean"]);
    assert!(!out.exists(), "an epoch whose test pass overflowed was saved");
    // Evaluating such weights fails the same way instead of printing a NaN loss.
    let o = netc(&["run", &s(&net), "--weights", &s(&bad), "--eval", "synthetic", "--limit", "32"]);
    let err = fails(&o, 1, &["not finite", "test image", "bn.running_mean"]);
    assert!(!stdout(&o).contains("NaN"), "{}{err}", stdout(&o));
}

#[test]
fn a_loss_that_is_already_nan_before_any_update_does_not_blame_the_rate() {
    let d = TempDir::new("first");
    let net = d.join("overflow.net");
    std::fs::write(&net, "input 1x28x28\nflatten\ndense(10)\nscale(1e38)\nscale(1e38)\n").unwrap();
    let o = train(&net, &["--epochs", "1"]);
    let err = fails(&o, 1, &["the loss became", "before any update"]);
    assert!(!err.contains("lower the learning rate"), "{err}");
}

#[test]
fn the_hint_fits_the_run() {
    let d = TempDir::new("hint");
    let net = bn_net(&d);
    // Adam is in use already: the hint must not suggest it.
    let net = s(&net);
    let o = netc(&[
        "run",
        &net,
        "--train",
        "synthetic",
        "--limit",
        "96",
        "--batch",
        "32",
        "--quiet",
        "--epochs",
        "1",
        "--lr",
        "1e38",
        "--schedule",
        "constant",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("lower the learning rate"), "{err}");
    assert!(!err.contains("try --optimizer adam"), "{err}");
}

#[test]
fn corrupt_optimizer_state_is_refused_on_resume() {
    let d = TempDir::new("state");
    let net = bn_net(&d);
    let good = d.join("good.safetensors");
    ok(&train(&net, &["--epochs", "1", "--save", &s(&good)]));
    let resume = |file: &Path| train(&net, &["--epochs", "2", "--resume", &s(file)]);
    let case = |tag: &str, edit: &dyn Fn(&mut Tensors, &mut HashMap<String, String>), needles: &[&str]| {
        let p = d.join(format!("{tag}.safetensors"));
        edited(&good, &p, edit);
        fails(&resume(&p), 2, needles);
    };
    // Adam's step counter would wrap to 0 at the next update (a division by 1 − β⁰ = 0).
    case(
        "wrap",
        &|_, m| {
            m.insert("netc.optimizer.t".into(), u64::MAX.to_string());
        },
        &["netc.optimizer.t", "18446744073709551615"],
    );
    case(
        "huge-t",
        &|_, m| {
            m.insert("netc.optimizer.t".into(), (1u64 << 60).to_string());
        },
        &["netc.optimizer.t"],
    );
    case(
        "fewer-updates-than-epochs",
        &|_, m| {
            m.insert("netc.optimizer.t".into(), "0".into());
        },
        &["netc.optimizer.t", "epoch"],
    );
    case(
        "unparsable-t",
        &|_, m| {
            m.insert("netc.optimizer.t".into(), "-3".into());
        },
        &["netc.optimizer.t", "-3"],
    );
    case(
        "unparsable-epoch",
        &|_, m| {
            m.insert("netc.epoch".into(), "one".into());
        },
        &["netc.epoch", "one"],
    );
    case(
        "negative-v",
        &|t, _| tensor(t, "optimizer.v.dense.weight")[3] = -1.0,
        &["optimizer.v.dense.weight", "negative"],
    );
    case("negative-var", &|t, _| tensor(t, "bn.running_var")[0] = -2.0, &["bn.running_var", "negative"]);
    case(
        "stray",
        &|t, _| t.push(("optimizer.m.nowhere.weight".into(), vec![2], vec![0.0, 0.0])),
        &["optimizer.m.nowhere.weight"],
    );
}

#[test]
fn out_of_range_options_are_refused_before_training() {
    let d = TempDir::new("options");
    let net = bn_net(&d);
    let cases: &[(&[&str], &[&str])] = &[
        (&["--lr", "1e39"], &["--lr", "f32"]),
        (&["--lr", "1e-50"], &["--lr"]),
        (&["--lr", "nan"], &["--lr"]),
        (&["--lr=-0.1"], &["--lr"]),
        (&["--weight-decay", "nan"], &["--weight-decay"]),
        (&["--weight-decay", "inf"], &["--weight-decay"]),
        (&["--weight-decay=-0.01"], &["--weight-decay"]),
        (&["--weight-decay", "1e39"], &["--weight-decay", "f32"]),
        (&["--epochs", "0"], &["--epochs"]),
        (&["--epochs", "18446744073709551615"], &["--epochs", "1000000"]),
        (&["--batch", "0"], &["--batch"]),
        (&["--augment", "28"], &["--augment", "28×28", "27"]),
        (&["--augment", "18446744073709551615"], &["--augment"]),
        (&["--limit", "0"], &["limit"]),
    ];
    for (extra, needles) in cases {
        let epochs: &[&str] = if extra.contains(&"--epochs") { &[] } else { &["--epochs", "1"] };
        let o = train(&net, &[epochs, *extra].concat());
        let err = fails(&o, 2, needles);
        assert!(!stdout(&o).contains("epoch  1/"), "{extra:?} trained anyway: {err}");
    }
    // The largest shift below the image size is fine.
    ok(&train(&net, &["--epochs", "1", "--augment", "27"]));
}

#[test]
fn a_single_epoch_reports_its_own_best() {
    let d = TempDir::new("best");
    let net = bn_net(&d);
    let out = ok(&netc(&["run", &s(&net), "--train", "synthetic", "--limit", "1", "--epochs", "1", "--quiet"]));
    assert!(out.contains("at epoch 1)"), "{out}");
    assert!(!out.contains("at epoch 0"), "{out}");
}
