//! Weights as PyTorch saves them load as they are: torchvision-named files written here
//! (the names and shapes of `tests/data/reference-names`, seeded random values, the int64
//! `num_batches_tracked` counters included) are predicted on by `netc predict --output`
//! (JIT) and compared with the reference executor run in process on the same values;
//! F16, BF16 and F64 files load as F32; names that differ are refused with suggestions;
//! `--finetune` takes what matches and `--freeze` keeps layers unchanged.
//!
//! Tolerance for JIT vs reference: 1e-4 of the largest output (the engines add in
//! different orders; measured differences are ~1e-6). `benches/pytorch_weights.py`
//! compares with PyTorch itself (optional, outside the suite).

mod cli_support;

use cli_support::output::*;
use cli_support::TempDir;
use netc::data::{npy, Rng};
use netc::diag::SourceMap;
use netc::runtime::{Engine, ParamStore, ReferenceEngine};
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::collections::HashMap;
use std::path::Path;

/// One tensor of a file: name, dtype, shape, little-endian bytes.
type Entry = (String, Dtype, Vec<usize>, Vec<u8>);

fn write(path: &Path, entries: &[Entry]) {
    let views: Vec<(String, TensorView)> = entries
        .iter()
        .map(|(n, d, shape, bytes)| (n.clone(), TensorView::new(*d, shape.clone(), bytes).unwrap()))
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The reference list of `list`: (name, shape) in state_dict order.
fn reference_list(list: &str) -> Vec<(String, Vec<usize>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference-names").join(format!("{list}.txt"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, shape) = l.split_once(' ').unwrap();
            let dims =
                if shape == "scalar" { Vec::new() } else { shape.split('×').map(|d| d.parse().unwrap()).collect() };
            (name.to_string(), dims)
        })
        .collect()
}

/// Seeded values for a tensor: variances in [0.5, 1.5], weights scaled by fan-in so that
/// activations stay of order 1 through deep nets.
fn values(name: &str, dims: &[usize], rng: &mut Rng) -> Vec<f32> {
    let n: usize = dims.iter().product();
    let fan_in: usize = dims.iter().skip(1).product::<usize>().max(1);
    let scale = (3.0 / fan_in as f32).sqrt();
    (0..n)
        .map(|_| {
            let u = rng.uniform(-1.0, 1.0);
            if name.ends_with("running_var") {
                1.0 + 0.5 * u
            } else if name.ends_with("running_mean") || name.ends_with("bias") {
                0.1 * u
            } else if dims.len() == 1 {
                1.0 + 0.2 * u
            } else {
                scale * u
            }
        })
        .collect()
}

/// A torchvision-style file for `list`: every tensor F32 but the int64 counters; returns
/// the float values by name.
fn torchvision_file(list: &str, path: &Path, seed: u64) -> HashMap<String, Vec<f32>> {
    let mut rng = Rng::new(seed);
    let mut entries = Vec::new();
    let mut by_name = HashMap::new();
    for (name, dims) in reference_list(list) {
        if name.ends_with("num_batches_tracked") {
            entries.push((name, Dtype::I64, dims, 0i64.to_le_bytes().to_vec()));
            continue;
        }
        let v = values(&name, &dims, &mut rng);
        entries.push((name.clone(), Dtype::F32, dims, f32_bytes(&v)));
        by_name.insert(name, v);
    }
    write(path, &entries);
    by_name
}

/// The reference executor's outputs for `input` (n samples), the weights set by name.
fn reference_outputs(net: &str, weights: &HashMap<String, Vec<f32>>, input: &[f32], n: usize) -> Vec<f32> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(net)).unwrap();
    let graph = netc::driver::compile(&mut SourceMap::new(), net, &text).unwrap();
    let mut engine = ReferenceEngine::new(&graph, n, 1).unwrap();
    let mut store = ParamStore::try_new(&engine.training_program().params, false).unwrap();
    for (info, v) in store.infos.iter().zip(store.values.iter_mut()) {
        *v = weights[&info.name].clone();
    }
    store.touch();
    engine.infer(&mut store, input, n).to_vec()
}

fn close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let largest = want.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-30);
    let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst <= tol * largest, "{what}: differs by {worst} (largest output {largest})");
}

#[test]
fn torchvision_named_files_predict_as_the_reference_executor() {
    let d = TempDir::new("tv");
    for (net, list, side) in
        [("nets/resnet18.net", "resnet18", 224), ("nets/alexnet-torchvision.net", "alexnet-torchvision", 224)]
    {
        let w = d.path(&format!("{list}.safetensors"));
        let weights = torchvision_file(list, &w, 11);
        let mut rng = Rng::new(5);
        let input: Vec<f32> = (0..3 * side * side).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let (x, y) = (d.path("x.npy"), d.path("y.npy"));
        npy::write_f32(&x, &[1, 3, side, side], &input).unwrap();
        let _ = std::fs::remove_file(&y);
        let o = netc(&["predict", net, "--weights", s(&w), s(&x), "--output", s(&y)]);
        ok(&o);
        let err = text(&o.stderr);
        if list == "resnet18" {
            assert!(err.contains("ignored 20 `num_batches_tracked` tensors"), "{err}");
        }
        let got = npy::NpyFile::open(&y).unwrap().read_all().unwrap();
        close(net, &got, &reference_outputs(net, &weights, &input, 1), 1e-4);
    }
}

#[test]
fn inception_v3_predicts_the_same_with_or_without_aux_logits_in_the_file() {
    // torchvision's state_dict with `aux_logits=True` names the head `AuxLogits.*`, as the
    // net does: it loads; without those entries (`aux_logits=False`) it loads too, with a
    // note, and inference, which never runs the head, gives the same scores.
    let d = TempDir::new("tv-aux");
    let with = d.path("with.safetensors");
    let weights = torchvision_file("inception-v3-aux", &with, 13);
    let without = d.path("without.safetensors");
    let entries: Vec<Entry> = reference_list("inception-v3")
        .into_iter()
        .filter(|(name, _)| !name.ends_with("num_batches_tracked"))
        .map(|(name, dims)| (name.clone(), Dtype::F32, dims, f32_bytes(&weights[&name])))
        .collect();
    write(&without, &entries);
    let mut rng = Rng::new(5);
    let input: Vec<f32> = (0..3 * 299 * 299).map(|_| rng.uniform(-2.0, 2.0)).collect();
    let x = d.path("x.npy");
    npy::write_f32(&x, &[1, 3, 299, 299], &input).unwrap();
    let mut outputs = Vec::new();
    for (w, note) in [(&with, false), (&without, true)] {
        let y = d.path("y.npy");
        let _ = std::fs::remove_file(&y);
        let o = netc(&["predict", "nets/inception-v3.net", "--weights", s(w), s(&x), "--output", s(&y)]);
        ok(&o);
        let err = text(&o.stderr);
        assert_eq!(err.contains("auxiliary heads are not in the file"), note, "{err}");
        outputs.push(npy::NpyFile::open(&y).unwrap().read_all().unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0].len(), 1000);
    assert!(outputs[0].iter().all(|v| v.is_finite()));
}

#[test]
fn half_bfloat_and_double_files_load_as_f32() {
    let d = TempDir::new("dtypes");
    let net = "nets/lenet-keras.net";
    let list: Vec<(String, Vec<usize>)> = {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(net)).unwrap();
        let g = netc::driver::compile(&mut SourceMap::new(), net, &text).unwrap();
        netc::autodiff::training(&g).unwrap().params.iter().map(|p| (p.name.clone(), p.dims.clone())).collect()
    };
    // Multiples of 1/256 below 1 in magnitude: exact in F16, BF16, F32 and F64.
    let mut rng = Rng::new(3);
    let weights: HashMap<String, Vec<f32>> = list
        .iter()
        .map(|(n, dims)| {
            let count: usize = dims.iter().product();
            (n.clone(), (0..count).map(|_| (rng.uniform(-1.0, 1.0) * 64.0).round() / 256.0).collect())
        })
        .collect();
    let mut rng = Rng::new(8);
    let input: Vec<f32> = (0..2 * 28 * 28).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let x = d.path("x.npy");
    npy::write_f32(&x, &[2, 1, 28, 28], &input).unwrap();
    let want = reference_outputs(net, &weights, &input, 2);
    type Encode = fn(f32) -> Vec<u8>;
    let encodings: [(Dtype, Encode); 3] = [
        (Dtype::F16, |v| half::f16::from_f32(v).to_le_bytes().to_vec()),
        (Dtype::BF16, |v| ((v.to_bits() >> 16) as u16).to_le_bytes().to_vec()),
        (Dtype::F64, |v| f64::from(v).to_le_bytes().to_vec()),
    ];
    for (dtype, encode) in encodings {
        let w = d.path(&format!("{dtype:?}.safetensors"));
        let entries: Vec<Entry> = list
            .iter()
            .map(|(n, dims)| (n.clone(), dtype, dims.clone(), weights[n].iter().flat_map(|&v| encode(v)).collect()))
            .collect();
        write(&w, &entries);
        let y = d.path(&format!("{dtype:?}.npy"));
        let o = netc(&["predict", net, "--weights", s(&w), s(&x), "--output", s(&y)]);
        ok(&o);
        assert!(
            text(&o.stderr).contains(&format!("converted {} {dtype:?} tensors to F32", list.len())),
            "{}",
            text(&o.stderr)
        );
        close(&format!("{dtype:?}"), &npy::NpyFile::open(&y).unwrap().read_all().unwrap(), &want, 1e-5);
    }
    // Integers are not weights.
    let w = d.path("ints.safetensors");
    let entries: Vec<Entry> = list
        .iter()
        .map(|(n, dims)| (n.clone(), Dtype::I32, dims.clone(), vec![0u8; 4 * dims.iter().product::<usize>()]))
        .collect();
    write(&w, &entries);
    let o = netc(&["predict", net, "--weights", s(&w), s(&x)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("is I32"), "{}", text(&o.stderr));
}

#[test]
fn names_that_differ_are_refused_with_suggestions() {
    let d = TempDir::new("names");
    let w = d.path("w.safetensors");
    torchvision_file("resnet18", &w, 2);
    // The file as netc named the projection before it followed torchvision.
    let raw = std::fs::read(&w).unwrap();
    let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
    let entries: Vec<Entry> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            let n = n.replace("downsample.0.", "downsample.conv.");
            (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())
        })
        .collect();
    let old = d.path("old.safetensors");
    write(&old, &entries);
    let x = d.path("x.npy");
    npy::write_f32(&x, &[3, 224, 224], &vec![0.5; 3 * 224 * 224]).unwrap();
    let o = netc(&["predict", "nets/resnet18.net", "--weights", s(&old), s(&x)]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("layer2.0.downsample.0.weight (the file has layer2.0.downsample.conv.weight)"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A small net with torchvision-style numbered groups; `classes` outputs.
fn small_net(classes: usize) -> String {
    format!(
        "input 1x28x28\nfeatures: (0: conv(6, 5) relu maxpool(2) 3: conv(16, 5) relu maxpool(2))\nflatten\n\
         classifier: (0: dense(32) relu 2: dense({classes}))\n"
    )
}

fn tensors(path: &Path) -> HashMap<String, Vec<u8>> {
    let raw = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
    st.tensors().into_iter().map(|(n, v)| (n, v.data().to_vec())).collect()
}

#[test]
fn finetune_takes_what_matches_and_freeze_keeps_layers() {
    let d = TempDir::new("finetune");
    let (ten, two) = (d.path("ten.net"), d.path("two.net"));
    std::fs::write(&ten, small_net(10)).unwrap();
    std::fs::write(&two, small_net(2)).unwrap();
    let source = d.path("source.safetensors");
    ok(&netc(&[
        "run",
        s(&ten),
        "--train",
        "synthetic",
        "--limit",
        "200",
        "--epochs",
        "1",
        "--quiet",
        "--save",
        s(&source),
    ]));
    // A two-class folder: two of the synthetic classes (bars at 0° and 90°) as PNG files.
    let folder = d.path("pair");
    let splits = netc::data::load(
        "synthetic",
        None,
        &netc::data::SearchRoots::from_process(),
        &netc::data::LoadOptions { limit: Some(1000), ..Default::default() },
    )
    .unwrap();
    for (split, ds) in [("train", &splits.train), ("test", &splits.test)] {
        for i in (0..ds.count()).filter(|&i| ds.labels[i] == 0 || ds.labels[i] == 5) {
            let dir = folder.join(split).join(format!("class{}", ds.labels[i]));
            std::fs::create_dir_all(&dir).unwrap();
            let img = ds.image(i);
            image::save_buffer(dir.join(format!("{i}.png")), img.pixels, 28, 28, image::ExtendedColorType::L8).unwrap();
        }
    }
    // Without --finetune the class count is a mismatch, with a hint.
    let o = netc(&["run", s(&two), "--train", s(&folder), "--weights", s(&source), "--epochs", "1", "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("add --finetune"), "{}", text(&o.stderr));

    let tuned = d.path("tuned.safetensors");
    let o = netc(&[
        "run",
        s(&two),
        "--train",
        s(&folder),
        "--weights",
        s(&source),
        "--finetune",
        "--freeze",
        "features",
        "--epochs",
        "2",
        "--quiet",
        "--save",
        s(&tuned),
    ]);
    let out = ok(&o);
    assert!(out.contains("loaded 6 of 8 tensors"), "{out}");
    assert!(out.contains("classifier.2.weight: 10×32 in the file, 2×32 in the net"), "{out}");
    assert!(out.contains("classifier.2.bias: 10 in the file, 2 in the net"), "{out}");
    assert!(out.contains("frozen: 4 of 8 trainable tensors"), "{out}");
    let (before, after) = (tensors(&source), tensors(&tuned));
    for name in ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias"] {
        assert_eq!(before[name], after[name], "{name} is frozen");
    }
    for name in ["classifier.0.weight", "classifier.0.bias"] {
        assert_ne!(before[name], after[name], "{name} was loaded, then trained");
    }
    // The fine-tuned net learns the two classes.
    let acc = out.lines().find(|l| l.starts_with("final test accuracy")).unwrap().to_string();
    let pct: f64 = acc.split_whitespace().nth(3).unwrap().trim_end_matches('%').parse().unwrap();
    assert!(pct > 75.0, "{acc}");

    // A prefix that names nothing is refused before training.
    let o = netc(&["run", s(&two), "--train", s(&folder), "--freeze", "feature", "--epochs", "1", "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("--freeze feature: no trainable tensor"), "{}", text(&o.stderr));
}

/// The `--finetune` hint follows the kind of error, not its wording: a damaged file
/// whose name reads like a mismatch gets no hint, and each kind of mismatch (a tensor
/// the file lacks, one the net lacks, another shape) gets it.
#[test]
fn finetune_hint_only_for_another_net() {
    let d = TempDir::new("hint");
    let net = d.path("net.net");
    std::fs::write(&net, small_net(10)).unwrap();
    let train = |weights: &Path| {
        netc(&[
            "run",
            s(&net),
            "--train",
            "synthetic",
            "--limit",
            "64",
            "--epochs",
            "1",
            "--quiet",
            "--weights",
            s(weights),
        ])
    };
    let damaged = d.path("the file lacks this.safetensors");
    std::fs::write(&damaged, b"not a checkpoint").unwrap();
    let o = train(&damaged);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("not a valid safetensors file"), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("--finetune"), "{}", text(&o.stderr));

    let graph = netc::driver::compile(&mut SourceMap::new(), "net.net", &small_net(10)).unwrap();
    let params = netc::autodiff::training(&graph).unwrap().params;
    // Every tensor of the net (ones), less the one at `skip`, the one at `flat` flattened,
    // and with `extra` a tensor the net lacks.
    let entries = |skip: usize, flat: usize, extra: bool| -> Vec<Entry> {
        let mut v: Vec<Entry> = params
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != skip)
            .map(|(i, p)| {
                let shape = if i == flat { vec![p.len()] } else { p.dims.clone() };
                (p.name.clone(), Dtype::F32, shape, f32_bytes(&vec![1.0; p.len()]))
            })
            .collect();
        if extra {
            v.push(("extra.weight".into(), Dtype::F32, vec![1], f32_bytes(&[1.0])));
        }
        v
    };
    let last = params.len() - 1;
    let first_matrix = params.iter().position(|p| p.dims.len() > 1).unwrap();
    for (tag, skip, reshape, extra, says) in [
        ("missing", last, usize::MAX, false, "the file lacks"),
        ("unexpected", usize::MAX, usize::MAX, true, "the net lacks"),
        ("shape", usize::MAX, first_matrix, false, "in the file but"),
    ] {
        let path = d.path(&format!("{tag}.safetensors"));
        write(&path, &entries(skip, reshape, extra));
        let o = train(&path);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{tag}: {err}");
        assert!(err.contains(says) && err.contains("add --finetune"), "{tag}: {err}");
    }
}
