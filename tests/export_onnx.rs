//! `netc export` checked by an independent runtime: tract-onnx (pure Rust, a
//! dev-dependency) loads each exported model and runs it on a seeded random input, and its
//! output is compared with netc's JIT (and, for the small nets, the reference executor)
//! on the same weights.
//!
//! **Tolerance**: the largest difference, divided by the largest |output| of netc, must be
//! below 1e-4. Both sides compute in f32 with sums in different orders (and their own
//! tanh, sigmoid and exp); the measured worst over the zoo is printed by each test
//! (`--nocapture`) and recorded in the README.
//!
//! Weights: the net's initial weights with every tensor that starts constant (biases,
//! batch-norm statistics and scales, subsampling coefficients) drawn at random, so that
//! a tensor wired to the wrong input would show.
//!
//! Round trip: the parameters seen by tract (the sizes of the model's initializers, as
//! tract decodes the file, less the batch-norm running statistics `*.running_mean` and
//! `*.running_var`) equal `netc check`'s parameter count, and the running statistics its
//! state. The initializers are named by the checkpoint names, input `input` and output
//! `output` have the symbolic batch `batch`.
//!
//! Every zoo net runs at batch 1 (the largest once each); the small nets that cover every
//! op and argument form run at batch 3 through the symbolic batch.

mod common;

use netc::autodiff;
use netc::data::Rng;
use netc::export::{self, ModelInfo};
use netc::ir::{Graph, Op};
use netc::runtime::reference::KernelCtx;
use netc::runtime::{Engine, Executor, JitEngine, JitOptions, ParamStore};
use tract_onnx::pb;
use tract_onnx::prelude::*;

/// Largest difference allowed, relative to the largest |output|.
const TOLERANCE: f32 = 1e-4;

fn compile(name: &str, src: &str) -> Graph {
    netc::ir::enable_checks();
    let mut sources = netc::diag::SourceMap::new();
    netc::driver::compile(&mut sources, name, src).unwrap_or_else(|f| {
        panic!("{name}: {}", netc::diag::render_all(&f.diagnostics, &sources, netc::diag::Style::Plain))
    })
}

/// Initial weights, with the tensors that start constant drawn at random.
fn weights(g: &Graph, seed: u64) -> ParamStore {
    let program = autodiff::inference(g);
    let mut store = ParamStore::new(&program.params);
    netc::train::initialise(&mut store, g, seed);
    let mut rng = Rng::new(seed ^ 0x5eed);
    for (i, info) in program.params.iter().enumerate() {
        let (lo, hi) = match (&g.node(info.node).op, info.role) {
            (Op::BatchNorm(_), "weight" | "running_var") => (0.5, 1.5),
            (Op::Subsample(s), "weight") => (0.5 / (s.k * s.k) as f32, 1.5 / (s.k * s.k) as f32),
            (_, "bias" | "running_mean") => (-0.2, 0.2),
            _ => continue,
        };
        store.values[i].iter_mut().for_each(|v| *v = rng.uniform(lo, hi));
    }
    store.touch();
    store
}

fn export_bytes(name: &str, g: &Graph, store: &ParamStore) -> Vec<u8> {
    let info = ModelInfo { name: name.into(), doc: format!("{name} (test)"), metadata: vec![] };
    export::check_size(&store.infos).expect("fits in one file");
    export::encode(&export::to_model(g, store.clone(), &info)).expect("encodes")
}

fn input_dims(g: &Graph) -> [usize; 3] {
    let d = g.node(g.input()).shape.dims();
    [d[0] as usize, d[1] as usize, d[2] as usize]
}

/// tract's output for `n` images; with `symbolic`, the model keeps its `batch` dimension
/// through optimisation and runs at `n`, else the input is fixed to n×C×H×W first.
fn tract_outputs(bytes: &[u8], dims: [usize; 3], n: usize, images: &[f32], symbolic: bool) -> Vec<f32> {
    let [c, h, w] = dims;
    let mut model = tract_onnx::onnx().model_for_read(&mut &*bytes).expect("tract reads the model");
    if !symbolic {
        model = model.with_input_fact(0, f32::fact([n, c, h, w]).into()).expect("input fact");
    }
    let plan = model.into_optimized().expect("tract optimises the model").into_runnable().expect("runnable");
    let input = Tensor::from_shape(&[n, c, h, w], images).expect("input tensor");
    let out = plan.run(tvec!(input.into_tvalue())).expect("tract runs the model");
    out[0].to_plain_array_view::<f32>().expect("f32 output").iter().copied().collect()
}

fn jit_outputs(g: &Graph, store: &mut ParamStore, images: &[f32], n: usize) -> Vec<f32> {
    JitEngine::inference(g, JitOptions::default()).infer(store, images, n).to_vec()
}

fn reference_outputs(g: &Graph, store: &mut ParamStore, images: &[f32], n: usize) -> Vec<f32> {
    let program = autodiff::inference(g);
    let mut exec: Executor<f32> = Executor::new(program.clone(), n);
    exec.buffer_mut(program.input, n).copy_from_slice(images);
    exec.run(0..program.steps.len(), n, &mut store.values, &mut store.grads, &KernelCtx::default());
    exec.buffer(program.output, n).to_vec()
}

/// The largest difference relative to the largest |expected|.
fn worst(got: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(got.len(), expected.len(), "output sizes differ");
    assert!(got.iter().chain(expected).all(|v| v.is_finite()), "a non-finite output");
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    got.iter().zip(expected).map(|(a, b)| (a - b).abs() / scale).fold(0f32, f32::max)
}

/// The model as tract decodes it: initializer sizes split into parameters and running
/// statistics, and the names of the initializers.
fn tract_view(bytes: &[u8]) -> (u128, u128, Vec<String>, pb::ModelProto) {
    let proto = tract_onnx::onnx().proto_model_for_read(&mut &*bytes).expect("tract decodes the model");
    let graph = proto.graph.as_ref().expect("a graph");
    let (mut params, mut state, mut names) = (0u128, 0u128, Vec::new());
    for t in &graph.initializer {
        let n: u128 = t.dims.iter().map(|&d| d as u128).product();
        assert_eq!(t.data_type, pb::tensor_proto::DataType::Float as i32, "{} is not f32", t.name);
        assert_eq!(t.raw_data.len() as u128, 4 * n, "{} holds {} bytes", t.name, t.raw_data.len());
        if export::is_state(&t.name) {
            state += n;
        } else {
            params += n;
        }
        names.push(t.name.clone());
    }
    (params, state, names, proto)
}

/// The graph's input and output carry the symbolic batch and netc's per-sample dims.
fn check_interface(proto: &pb::ModelProto, g: &Graph) {
    use pb::tensor_shape_proto::dimension::Value;
    assert_eq!(proto.ir_version, export::IR_VERSION);
    assert_eq!(proto.opset_import[0].version, export::OPSET);
    assert_eq!(proto.producer_name, "netc");
    let graph = proto.graph.as_ref().unwrap();
    for (info, name, shape) in [
        (&graph.input[0], export::INPUT, g.node(g.input()).shape),
        (&graph.output[0], export::OUTPUT, g.node(g.output()).shape),
    ] {
        assert_eq!(info.name, name);
        let Some(pb::type_proto::Value::TensorType(t)) = info.r#type.as_ref().and_then(|t| t.value.clone()) else {
            panic!("{name} is not a tensor")
        };
        let dims: Vec<Value> = t.shape.unwrap().dim.into_iter().map(|d| d.value.unwrap()).collect();
        let mut want = vec![Value::DimParam(export::BATCH.into())];
        want.extend(shape.dims().iter().map(|&d| Value::DimValue(d as i64)));
        assert_eq!(dims, want, "{name}");
    }
}

/// What ONNX allows but a major runtime refuses is not used: ONNX Runtime's `LRN` takes odd
/// sizes only (an even one is exported as elementary ops), and its pooling wants padding
/// smaller than the window.
fn portable(proto: &pb::ModelProto, name: &str) {
    for node in &proto.graph.as_ref().unwrap().node {
        let ints = |attr: &str| node.attribute.iter().find(|a| a.name == attr).map(|a| a.ints.clone());
        match node.op_type.as_str() {
            "LRN" => {
                let size = node.attribute.iter().find(|a| a.name == "size").map(|a| a.i);
                assert!(size.is_some_and(|s| s % 2 == 1), "{name}: {} is an LRN of size {size:?}", node.name);
            }
            "MaxPool" | "AveragePool" => {
                let (k, p) = (ints("kernel_shape").unwrap(), ints("pads").unwrap_or_default());
                assert!(p.iter().enumerate().all(|(i, &p)| p < k[i % 2]), "{name}: {} pads {p:?}", node.name);
            }
            _ => {}
        }
    }
}

/// Exports a zoo net, checks the round trip against `netc check`, runs it in tract at
/// batch 1 and compares with the JIT.
fn zoo_net(name: &str) {
    let started = std::time::Instant::now();
    let g = compile(name, &common::zoo_source(name));
    let mut store = weights(&g, 11);
    let bytes = export_bytes(name, &g, &store);
    let (params, state, names, proto) = tract_view(&bytes);
    let report = common::report(name);
    assert_eq!(params, report.params, "{name}: parameters in the model vs netc check");
    assert_eq!(state, report.total.state, "{name}: running statistics in the model vs netc check");
    let expected: Vec<&str> = store.infos.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, expected, "{name}: initializer names");
    check_interface(&proto, &g);
    portable(&proto, name);
    drop(proto);
    let dims = input_dims(&g);
    let mut rng = Rng::new(3);
    let images: Vec<f32> = (0..dims.iter().product::<usize>()).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let got = tract_outputs(&bytes, dims, 1, &images, false);
    drop(bytes);
    let want = jit_outputs(&g, &mut store, &images, 1);
    let diff = worst(&got, &want);
    eprintln!("{name}: tract vs JIT {diff:.2e} of the largest output ({:.1?})", started.elapsed());
    assert!(diff < TOLERANCE, "{name}: tract and netc differ by {diff:e} of the largest output");
}

macro_rules! zoo_tests {
    ($($test:ident => $net:expr),* $(,)?) => {
        $(#[test] fn $test() { zoo_net($net); })*

        #[test]
        fn every_zoo_net_is_exported() {
            let covered = [$($net),*];
            for path in common::zoo() {
                let stem = path.file_stem().unwrap().to_string_lossy().to_string();
                assert!(covered.contains(&stem.as_str()), "{stem}.net has no export test");
            }
        }
    };
}

zoo_tests! {
    zoo_lenet => "lenet", zoo_lenet_keras => "lenet-keras", zoo_lenet_classic => "lenet-classic",
    zoo_alexnet => "alexnet", zoo_alexnet_torchvision => "alexnet-torchvision", zoo_vgg16 => "vgg16",
    zoo_vgg19 => "vgg19", zoo_resnet18 => "resnet18", zoo_resnet34 => "resnet34", zoo_resnet50 => "resnet50",
    zoo_resnet101 => "resnet101", zoo_resnet152 => "resnet152", zoo_resnet20_cifar => "resnet20-cifar",
    zoo_resnet56_cifar => "resnet56-cifar", zoo_googlenet => "googlenet", zoo_inception_v2 => "inception-v2",
    zoo_inception_v3 => "inception-v3", zoo_inception_v4 => "inception-v4",
    zoo_inception_resnet_v1 => "inception-resnet-v1", zoo_inception_resnet_v2 => "inception-resnet-v2",
}

/// A small net through the symbolic batch at 3 samples, against the JIT and the reference
/// executor.
fn small_net(name: &str, src: &str) {
    let g = compile(name, src);
    let mut store = weights(&g, 5);
    let bytes = export_bytes(name, &g, &store);
    let (params, state, _, proto) = tract_view(&bytes);
    let mut sources = netc::diag::SourceMap::new();
    let report = netc::driver::check(&mut sources, name, src, None).report.expect("a report");
    assert_eq!((params, state), (report.params, report.total.state), "{name}: counts");
    check_interface(&proto, &g);
    portable(&proto, name);
    let dims = input_dims(&g);
    let n = 3;
    let mut rng = Rng::new(4);
    let images: Vec<f32> = (0..n * dims.iter().product::<usize>()).map(|_| rng.uniform(-2.0, 2.0)).collect();
    let got = tract_outputs(&bytes, dims, n, &images, true);
    let jit = jit_outputs(&g, &mut store, &images, n);
    let reference = reference_outputs(&g, &mut store, &images, n);
    let (vs_jit, vs_reference) = (worst(&got, &jit), worst(&got, &reference));
    eprintln!("{name}: tract vs JIT {vs_jit:.2e}, vs reference {vs_reference:.2e}");
    assert!(vs_jit < TOLERANCE, "{name}: tract and the JIT differ by {vs_jit:e}");
    assert!(vs_reference < TOLERANCE, "{name}: tract and the reference differ by {vs_reference:e}");
}

/// Asymmetric padding and strides, groups, batch norm on maps, `same`, ceil-mode pooling
/// with the overhang in max and in both kinds of average (padding counted or not).
#[test]
fn windows_and_pooling() {
    small_net(
        "windows",
        "input 3x13x11
         conv(6, 3, 2x1, pad = [1, 0, 2, 1]) relu
         conv(8, 1x3, pad = 0x1, groups = 2) bn tanh leaky_relu(0.1)
         maxpool(3, 2, ceil = true)
         avgpool(2, 1, pad = 1, count_pad = false) sigmoid
         avgpool(3, 2, pad = 1, ceil = true)
         conv(4, 3, pad = same, bias = false)
         maxpool(2, 2, pad = [1, 0, 0, 1], ceil = true)
         flatten dense(10) softmax",
    );
    small_net(
        "averages",
        "input 2x10x9
         avgpool(3, 2, ceil = true, count_pad = false)
         avgpool(3, 2, pad = 1, ceil = true, count_pad = false)
         zeropad(pad = [0, 2, 1, 0])
         avgpool(3, 2, pad = [1, 0, 1, 2], ceil = true)
         avgpool(2, 1, pad = 1)
         gap flatten dense(4)",
    );
}

/// Nets that are not classifiers: a feature map as the output, and no layer at all (the
/// output is the input, through an `Identity`).
#[test]
fn map_and_identity_outputs() {
    small_net("map-output", "input 3x8x8\nconv(4, 3) relu");
    small_net("identity", "input 2x3x3\nid");
}

/// LeNet-5's layers off their usual sizes: a connection table with rows of 1 and 2 inputs,
/// other scaled-tanh constants, subsampling that leaves rows over, a trainable RBF on a
/// C×1×1 map.
#[test]
fn lenet_layers() {
    small_net(
        "lenet-ops",
        "input 2x11x11
         conv(4, 3, table = [[0], [1], [1, 0], [0, 1]]) scaled_tanh(a = 1.5, s = 0.5)
         subsample(3) scaled_tanh
         conv(6, 3, table = [[0, 3], [1], [2], [3, 2, 1, 0], [0], [1, 2]])
         rbf(5, trainable = true)",
    );
}

/// LRN, a three-way addition with a scaled term, concatenation, zero channels and zero
/// frames, dropout, `scale`, global pooling, a dense layer on a C×1×1 map, softmax on a map.
#[test]
fn branches_and_padding() {
    small_net(
        "branches",
        "input 4x9x9
         conv(8, 3, pad = 1) lrn(size = 4, alpha = 0.01, beta = 0.6, k = 2) relu
         (id + 0.3 * (conv(8, 3, pad = 1) relu) + conv(8, 1)) relu
         cat(conv(4, 1), maxpool(3, 1, pad = 1), zeropad(channels = [1, 2]) lrn(size = 3))
         zeropad(pad = [0, 1, 2, 0]) dropout(0.3) scale(2)
         gap dense(6)",
    );
    small_net(
        "map-softmax",
        "input 3x5x5
         zeropad(channels = 2, pad = 1)
         conv(4, 3, 2) bn sigmoid
         gap softmax",
    );
}

/// Vectors: batch norm, concatenation and additions of vectors, a dense layer without bias,
/// a middle layer labelled `output` (the graph's output name), a final dropout (an alias).
#[test]
fn vectors() {
    small_net(
        "vectors",
        "input 3x4x4
         flatten dense(12, bias = false) bn
         output: dense(12) tanh
         cat(dense(5) tanh, dense(7) sigmoid)
         (dense(12) + dense(12) + id) softmax
         dropout",
    );
}
