//! `netc export` end to end: the file it writes (decoded by tract-onnx's own protobuf
//! types) holds the checkpoint's tensors bit for bit, or the initial weights of `--seed`,
//! with the net's name and doc string; bad inputs are refused with a clear message and a
//! non-zero exit, and nothing is written.

mod cli_support;

use cli_support::output::*;
use cli_support::TempDir;
use netc::diag::SourceMap;
use netc::runtime::ParamStore;
use std::path::{Path, PathBuf};
use tract_onnx::pb;
use tract_onnx::prelude::Framework;

const NET: &str = "nets/lenet-keras.net";

/// The net's tensors initialised with `seed`, then shifted so that no value is the initial one.
fn store(seed: u64, shift: f32) -> (netc::ir::Graph, ParamStore) {
    let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(NET)).unwrap();
    let g = netc::driver::compile(&mut SourceMap::new(), NET, &src).unwrap_or_else(|_| panic!("{NET}"));
    let mut store = ParamStore::new(&netc::autodiff::inference(&g).params);
    netc::train::initialise(&mut store, &g, seed);
    store.values.iter_mut().flatten().for_each(|v| *v += shift);
    (g, store)
}

fn decode(path: &Path) -> pb::ModelProto {
    tract_onnx::onnx().proto_model_for_path(path).expect("tract decodes the file")
}

/// Each initializer holds exactly the store's tensor of its name.
fn assert_holds(model: &pb::ModelProto, store: &ParamStore) {
    let graph = model.graph.as_ref().unwrap();
    assert_eq!(graph.initializer.len(), store.infos.len());
    for t in &graph.initializer {
        let i = store.find(&t.name).unwrap_or_else(|| panic!("{} is not a tensor of the net", t.name));
        let want: Vec<u8> = store.values[i].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(t.raw_data, want, "{}", t.name);
        assert_eq!(t.dims, store.infos[i].dims.iter().map(|&d| d as i64).collect::<Vec<_>>(), "{}", t.name);
    }
}

#[test]
fn trained_weights_are_exported_bit_for_bit() {
    let dir = TempDir::new("trained");
    let (_, trained) = store(3, 0.25);
    let weights = dir.path("w.safetensors");
    netc::train::checkpoint::save(&weights, &trained, &Vec::new(), Default::default()).unwrap();
    let target = dir.path("net.onnx");
    let o = netc(&["export", NET, "--weights", s(&weights), "-o", s(&target)]);
    let err = exits(&o, 0);
    assert!(!err.contains("initial weights"), "{err}");
    assert!(text(&o.stdout).contains("44,426 parameters"), "{}", text(&o.stdout));
    let model = decode(&target);
    assert_holds(&model, &trained);
    let graph = model.graph.as_ref().unwrap();
    assert_eq!(graph.name, "lenet-keras");
    assert!(model.doc_string.starts_with("LeNet as in the common Keras tutorial"), "{}", model.doc_string);
    assert!(model.doc_string.contains("\nReference: 44,426"), "{}", model.doc_string);
    let meta: Vec<(&str, &str)> = model.metadata_props.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect();
    assert!(meta.contains(&("netc.weights", &*format!("trained weights from {}", s(&weights)))), "{meta:?}");
    // An ONNX file is replaced in place, through a symlink, which stays one.
    let link = dir.path("link.onnx");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (_, other) = store(4, -0.5);
    netc::train::checkpoint::save(&weights, &other, &Vec::new(), Default::default()).unwrap();
    exits(&netc(&["export", NET, "--weights", s(&weights), "-o", s(&link)]), 0);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_holds(&decode(&target), &other);
}

#[test]
fn initial_weights_are_seeded_and_said_to_be() {
    let dir = TempDir::new("initial");
    let target = dir.path("net.onnx");
    let err = exits(&netc(&["export", NET, "-o", s(&target), "--seed", "7"]), 0);
    assert!(err.contains("initial weights (seed 7)"), "{err}");
    assert_holds(&decode(&target), &store(7, 0.0).1);
    let err = exits(&netc(&["export", NET, "-o", s(&target)]), 0);
    assert!(err.contains("initial weights (seed 1)"), "{err}");
    assert_holds(&decode(&target), &store(1, 0.0).1);
    let err = exits(&netc(&["export", NET, "-o", s(&target), "--seed", "2", "--weights", "x"]), 2);
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn bad_targets_are_refused_before_anything_is_written() {
    let dir = TempDir::new("targets");
    let (_, trained) = store(3, 0.0);
    let weights = dir.path("w.safetensors");
    netc::train::checkpoint::save(&weights, &trained, &Vec::new(), Default::default()).unwrap();
    let before = std::fs::read(&weights).unwrap();
    let source = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(NET)).unwrap();
    let notes = dir.path("notes.txt");
    std::fs::write(&notes, "keep me").unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (PathBuf::from(NET), "it is the net's source"),
        (weights.clone(), "it is the --weights file"),
        (notes.clone(), "not an ONNX model"),
        (dir.0.clone(), "is a directory"),
        (dir.path("missing/net.onnx"), "does not exist"),
        (PathBuf::from("/proc/netc-export-test.onnx"), "cannot create files in /proc"),
        (PathBuf::from("/dev/null"), "not a regular file"),
    ];
    for (target, says) in cases {
        let o = netc(&["export", NET, "--weights", s(&weights), "-o", s(&target)]);
        let err = exits(&o, 2);
        assert!(err.contains(says) && err.contains(s(&target)), "{}: {err}", target.display());
    }
    assert_eq!(std::fs::read(&weights).unwrap(), before);
    assert_eq!(std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(NET)).unwrap(), source);
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "keep me");
    let left: Vec<_> = std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "temporary files left behind: {left:?}");
}

#[test]
fn bad_weights_and_nets_are_refused() {
    let dir = TempDir::new("weights");
    let target = dir.path("net.onnx");
    let garbage = dir.path("garbage.safetensors");
    std::fs::write(&garbage, b"\xff\xff\xff\xff\xff\xff\xff\x7fnot a checkpoint").unwrap();
    let (_, truncated_store) = store(3, 0.0);
    let truncated = dir.path("truncated.safetensors");
    netc::train::checkpoint::save(&truncated, &truncated_store, &Vec::new(), Default::default()).unwrap();
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let other = dir.path("other.safetensors");
    let lenet = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("nets/lenet.net")).unwrap();
    let g = netc::driver::compile(&mut SourceMap::new(), "lenet", &lenet).unwrap();
    let lenet_store = ParamStore::new(&netc::autodiff::inference(&g).params);
    netc::train::checkpoint::save(&other, &lenet_store, &Vec::new(), Default::default()).unwrap();
    let missing = dir.path("missing.safetensors");
    for (weights, says) in [
        (&missing, "No such file"),
        (&garbage, s(&garbage)),
        (&truncated, s(&truncated)),
        (&other, "the net has tensors the file lacks: conv1.weight"),
    ] {
        let err = exits(&netc(&["export", NET, "--weights", s(weights), "-o", s(&target)]), 2);
        assert!(err.contains(says), "{}: {err}", weights.display());
        assert!(!target.exists(), "{} was written", target.display());
    }
    // An invalid net: its diagnostic, exit 1; a missing one: exit 2.
    let bad = dir.path("bad.net");
    std::fs::write(&bad, "input 1x8x8\nconv(4, 9)\n").unwrap();
    let err = exits(&netc(&["export", s(&bad), "-o", s(&target)]), 1);
    assert!(err.contains("E0203") && err.contains("bad.net:2:9"), "{err}");
    exits(&netc(&["export", s(&dir.path("none.net")), "-o", s(&target)]), 2);
    assert!(!target.exists());
}

#[test]
fn models_beyond_onnx_or_memory_limits_are_refused_before_allocating() {
    let dir = TempDir::new("limits");
    let target = dir.path("net.onnx");
    // 600 million weights: 2.4 GB, more than one protobuf message holds.
    let huge = dir.path("huge.net");
    std::fs::write(&huge, "input 1x1x1\nflatten dense(600000000, bias = false)\n").unwrap();
    let err = exits(&netc(&["export", s(&huge), "-o", s(&target)]), 1);
    assert!(err.contains("2 GiB") && err.contains("2400000000 bytes"), "{err}");
    let err = exits(&netc(&["export", "nets/alexnet.net", "-o", s(&target), "--memory-limit", "64M"]), 1);
    assert!(err.contains("does not fit in memory") && err.contains("64.0 MiB available (--memory-limit)"), "{err}");
    assert!(!target.exists());
}
