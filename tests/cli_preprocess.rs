//! `netc run`'s preprocessing end to end on the synthetic dataset: the line that reports
//! it, the pipeline stored in checkpoints and used by `--eval` and `--resume` (its
//! constants, not recomputed), explicit options over a stored pipeline, old checkpoints,
//! damaged entries, data workers that change nothing, and option errors.

mod cli_support;

use cli_support::output::*;
use cli_support::TempDir;
use netc::data::{load, LoadOptions, Pipeline, PrepOptions, SearchRoots, SyntheticConfig};
use netc::train::checkpoint;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Trains lenet-keras for one epoch on `limit` synthetic images; `extra` is appended.
fn train(limit: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", "nets/lenet-keras.net", "--train", "synthetic", "--limit", limit, "--batch", "32"];
    args.extend_from_slice(&["--quiet", "--epochs", "1"]);
    args.extend_from_slice(extra);
    netc(&args)
}

fn eval(weights: &Path, limit: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", "nets/lenet-keras.net", "--weights", weights.to_str().unwrap(), "--eval", "synthetic"];
    args.extend_from_slice(&["--limit", limit]);
    args.extend_from_slice(extra);
    netc(&args)
}

/// The line of `text` that starts with `prefix`.
fn line<'t>(text: &'t str, prefix: &str) -> &'t str {
    text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no line `{prefix}` in:\n{text}"))
}

/// What comes after "mean" in a preprocessing line: the constants.
fn constants(line: &str) -> &str {
    let at = line.find(" mean ").unwrap_or_else(|| panic!("no constants in {line}"));
    line[at..].split(" → ").next().unwrap()
}

fn synthetic(limit: usize) -> netc::data::Splits {
    let roots = SearchRoots { cwd: PathBuf::from("."), netc_data: None };
    let opts = LoadOptions { limit: Some(limit), synthetic: SyntheticConfig::default(), ..LoadOptions::default() };
    load("synthetic", None, &roots, &opts).unwrap()
}

/// Rewrites a checkpoint with other metadata.
fn with_metadata(from: &Path, to: &Path, edit: impl FnOnce(&mut HashMap<String, String>)) {
    let bytes = std::fs::read(from).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = meta.metadata().clone().unwrap_or_default();
    edit(&mut meta);
    let data = safetensors::serialize(st.tensors(), Some(meta)).unwrap();
    std::fs::write(to, data).unwrap();
}

#[test]
fn eval_uses_the_stored_pipeline_and_says_so() {
    let d = TempDir::new("stored");
    let w = d.join("w.safetensors");
    let out = ok(&train("400", &["--save", &s(&w)]));
    let trained = line(&out, "preprocessing: ");
    assert!(trained.contains("training-set mean") && trained.ends_with("training augmentation: shift=1"), "{trained}");

    // Saved: the pipeline built from the 400 training images, and the class names.
    let meta = checkpoint::read_metadata(&w).unwrap();
    let (stored, augment) = checkpoint::stored_preprocess(&meta).unwrap().expect("netc.preprocess");
    let built = Pipeline::build(&PrepOptions::default(), &synthetic(400).train, (1, 28, 28)).unwrap();
    assert_eq!(stored, built);
    assert_eq!(augment, Some(netc::data::Augment::shift(1)));
    let classes = checkpoint::stored_classes(&meta).unwrap().expect("netc.classes");
    assert_eq!(classes, synthetic(10).train.classes);

    // Evaluated on 100 images, whose own statistics differ: the stored constants are used.
    let fresh = Pipeline::build(&PrepOptions::default(), &synthetic(100).train, (1, 28, 28)).unwrap();
    assert_ne!(fresh.normalize(), built.normalize(), "the test needs other statistics");
    let o = eval(&w, "100", &[]);
    ok(&o);
    let err = stderr(&o);
    let note = line(&err, "preprocessing (stored in ");
    assert_eq!(constants(note), constants(trained));
    assert!(note.contains(&built.describe()), "{note}");

    // An explicit option wins, with a note.
    let o = eval(&w, "100", &["--normalize", "none"]);
    ok(&o);
    let err = stderr(&o);
    assert!(err.contains("note: the normalisation asked for overrides") && err.contains("x/255 →"), "{err}");
    let o = eval(&w, "100", &["--resize", "40"]);
    ok(&o);
    assert!(stderr(&o).contains("note: --resize 40 overrides"), "{}", stderr(&o));
    assert!(stderr(&o).contains("shorter side resized to 40"), "{}", stderr(&o));
}

#[test]
fn checkpoints_without_or_with_a_damaged_pipeline() {
    let d = TempDir::new("old");
    let w = d.join("w.safetensors");
    ok(&train("400", &["--save", &s(&w)]));
    let with = ok(&eval(&w, "400", &[]));

    // Saved by an earlier netc: computed from the training split as before, with a note;
    // on the same split, the same accuracy.
    let old = d.join("old.safetensors");
    with_metadata(&w, &old, |m| {
        m.remove("netc.preprocess");
    });
    let o = eval(&old, "400", &[]);
    assert_eq!(ok(&o), with);
    assert!(stderr(&o).contains("holds no preprocessing (saved by an earlier netc)"), "{}", stderr(&o));

    let damaged = d.join("damaged.safetensors");
    with_metadata(&w, &damaged, |m| {
        m.insert("netc.preprocess".into(), "{not json".into());
    });
    let o = eval(&damaged, "400", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`netc.preprocess` entry is damaged"), "{}", stderr(&o));

    let foreign = d.join("foreign.safetensors");
    with_metadata(&w, &foreign, |m| {
        let text = m["netc.preprocess"].replace("\"input\":[1,28,28]", "\"input\":[1,32,32]");
        m.insert("netc.preprocess".into(), text);
    });
    let o = eval(&foreign, "400", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("was preprocessed for a 1×32×32 input"), "{}", stderr(&o));
}

#[test]
fn resume_continues_with_the_stored_augmentation_and_workers_change_nothing() {
    let d = TempDir::new("resume");
    let (whole, half) = (d.join("whole.safetensors"), d.join("half.safetensors"));
    let run = |epochs: &str, save: &Path, extra: &[&str]| {
        let mut args = vec!["--epochs", epochs, "--schedule", "constant", "--save", save.to_str().unwrap()];
        args.extend_from_slice(extra);
        let mut all = vec!["run", "nets/lenet-keras.net", "--train", "synthetic", "--limit", "200", "--batch", "32"];
        all.push("--quiet");
        all.extend_from_slice(&args);
        ok(&netc(&all));
    };
    run("2", &whole, &["--augment", "crop=2,flip", "--data-workers", "0"]);
    run("1", &half, &["--augment", "crop=2,flip", "--data-workers", "3"]);
    // No --augment: the checkpoint's crop=2,flip, not the default shift=1.
    run("2", &half, &["--resume", half.to_str().unwrap()]);
    let tensors = |p: &Path| {
        let bytes = std::fs::read(p).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        st.tensors().into_iter().map(|(n, v)| (n, v.data().to_vec())).collect::<std::collections::BTreeMap<_, _>>()
    };
    assert!(tensors(&whole) == tensors(&half), "resuming changed the run");
}

#[test]
fn gray_data_trains_an_rgb_net() {
    // Synthetic 28×28 gray digits replicated into ResNet-20's 3×32×32 input, centred.
    let o = netc(&[
        "run",
        "nets/resnet20-cifar.net",
        "--train",
        "synthetic",
        "--limit",
        "64",
        "--epochs",
        "1",
        "--quiet",
        "--augment",
        "crop=4,flip",
    ]);
    let out = ok(&o);
    let l = line(&out, "preprocessing: ");
    assert!(l.starts_with("preprocessing: gray → RGB (replicated) → 28×28 centred in 32×32"), "{l}");
    assert!(l.ends_with("training augmentation: crop=4,flip"), "{l}");
    assert!(line(&out, "epoch  1/1").contains("data wait"), "{out}");
}

#[test]
fn bad_preprocessing_options_are_refused_before_training() {
    let cases: &[(&[&str], &str)] = &[
        (&["--normalize", "0.5/0"], "--normalize"),
        (&["--normalize", "imagenet"], "imagenet has 3 channels"),
        (&["--normalize", "0.1,0.2/0.3,0.4"], "2 values"),
        (&["--augment", "bogus"], "unknown augmentation"),
        (&["--augment", "crop=28"], "crop=28"),
        (&["--augment", "28"], "28×28"),
        (&["--scaling", "lecun", "--normalize", "none"], "cannot be used with"),
        (&["--data-workers", "65"], "--data-workers"),
        (&["--resize", "0"], "--resize"),
    ];
    for (extra, needle) in cases {
        let o = train("100", extra);
        assert!(o.status.code() == Some(2) || o.status.code() == Some(1), "{extra:?}: {:?}", o.status);
        assert!(stderr(&o).contains(needle), "{extra:?}: {}", stderr(&o));
        assert!(!stdout(&o).contains("epoch  1/"), "{extra:?} trained anyway");
    }
}
