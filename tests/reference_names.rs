//! The zoo nets whose reference implementation is public name their tensors as it does,
//! so that a PyTorch `state_dict` saved with `safetensors.torch.save_file` loads as it is.
//!
//! The oracle: `tests/data/reference-names/<net>.txt`, the `state_dict` of torchvision's
//! and timm's models, one `name shape` line per entry, written by
//! `tests/data/reference-names/generate.py` (torch 2.15, torchvision 0.29.2, timm 1.0.31;
//! the command is in the script). Every entry must be a tensor of the net with the same
//! shape, and every tensor of the net an entry, except the `num_batches_tracked` counters
//! of PyTorch's batch norms, which netc does not use (loading ignores them, with a note).

use netc::diag::SourceMap;
use std::collections::BTreeMap;
use std::path::Path;

/// (zoo net, reference list): torchvision for the ResNets, VGGs, AlexNet and Inception-v3
/// (with its auxiliary head, `aux_logits=True`, as the training program holds it), timm for
/// Inception-v4 and Inception-ResNet-v2.
const NETS: &[(&str, &str)] = &[
    ("resnet18", "resnet18"),
    ("resnet34", "resnet34"),
    ("resnet50", "resnet50"),
    ("resnet101", "resnet101"),
    ("resnet152", "resnet152"),
    ("vgg16", "vgg16"),
    ("vgg19", "vgg19"),
    ("alexnet-torchvision", "alexnet-torchvision"),
    ("inception-v3", "inception-v3-aux"),
    ("inception-v4", "inception-v4"),
    ("inception-resnet-v2", "inception-resnet-v2"),
];

fn dims_text(dims: &[usize]) -> String {
    dims.iter().map(ToString::to_string).collect::<Vec<_>>().join("×")
}

fn graph(net: &str) -> netc::ir::Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("nets").join(format!("{net}.net"))).unwrap();
    netc::driver::compile(&mut SourceMap::new(), net, &text)
        .unwrap_or_else(|f| panic!("{net} compiles: {:?}", f.diagnostics))
}

/// The net's tensors, name → shape (its training program's, auxiliary heads included).
fn netc_tensors(net: &str) -> BTreeMap<String, String> {
    let program = netc::autodiff::training(&graph(net)).unwrap();
    program.params.iter().map(|p| (p.name.clone(), dims_text(&p.dims))).collect()
}

#[test]
fn inception_v3_inference_tensors_are_torchvisions_without_aux_logits() {
    let program = netc::autodiff::inference(&graph("inception-v3"));
    let ours: BTreeMap<String, String> = program.params.iter().map(|p| (p.name.clone(), dims_text(&p.dims))).collect();
    assert_eq!(ours, reference_tensors("inception-v3").0);
}

/// The reference list, name → shape, with the counters netc does not use left out; also
/// how many counters there were.
fn reference_tensors(list: &str) -> (BTreeMap<String, String>, usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference-names").join(format!("{list}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut tensors = BTreeMap::new();
    let mut counters = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (name, shape) = line.split_once(' ').unwrap_or_else(|| panic!("{list}: bad line {line:?}"));
        if name.ends_with(".num_batches_tracked") {
            counters += 1;
            continue;
        }
        assert!(tensors.insert(name.to_string(), shape.to_string()).is_none(), "{list}: {name} twice");
    }
    (tensors, counters)
}

#[test]
fn zoo_tensor_names_and_shapes_are_the_reference_implementations() {
    let mut failures = Vec::new();
    for &(net, list) in NETS {
        let ours = netc_tensors(net);
        let (theirs, counters) = reference_tensors(list);
        let missing: Vec<_> = theirs.keys().filter(|k| !ours.contains_key(*k)).take(5).collect();
        let extra: Vec<_> = ours.keys().filter(|k| !theirs.contains_key(*k)).take(5).collect();
        let shapes: Vec<_> = theirs
            .iter()
            .filter_map(|(k, s)| ours.get(k).filter(|o| *o != s).map(|o| format!("{k}: {o} vs {s}")))
            .take(5)
            .collect();
        if !(missing.is_empty() && extra.is_empty() && shapes.is_empty()) {
            failures.push(format!(
                "{net}: reference names netc lacks {missing:?}; netc names the reference lacks {extra:?}; \
                 shapes that differ {shapes:?}"
            ));
        }
        // The batch norms are the nets' only buffers: one counter per running mean.
        let norms = ours.keys().filter(|k| k.ends_with(".running_mean")).count();
        assert_eq!(counters, norms, "{net}: num_batches_tracked entries");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
