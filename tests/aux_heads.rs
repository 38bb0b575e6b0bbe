//! Auxiliary heads (`aux name(weight = w) { ... }`): the training loss is the net's plus
//! `w ×` each head's, checked against separate nets computing each part (f64, reference
//! executor); inference, export and checkpoints for inference leave the heads out.

mod common;

use netc::autodiff::{self, Program};
use netc::data::Rng;
use netc::ir::{Graph, ParamKind};
use netc::runtime::reference::KernelCtx;
use netc::runtime::{Executor, ParamStore};
use std::collections::HashMap;

fn compile(src: &str) -> Graph {
    netc::ir::enable_checks();
    let mut sources = netc::diag::SourceMap::new();
    netc::driver::compile(&mut sources, "t.net", src)
        .unwrap_or_else(|f| panic!("{}", netc::diag::render_all(&f.diagnostics, &sources, netc::diag::Style::Plain)))
}

/// Trunk with batch norm (batch statistics in training), a head on its middle, and the rest.
fn with_head(weight: f64) -> String {
    format!(
        "input 2x6x6
c1: conv(3, 3) b1: bn relu
aux side(weight = {weight}) {{
  c: conv(4, 1) tanh gap flatten d: dense(3)
}}
c2: conv(4, 3) relu gap flatten d2: dense(3)
"
    )
}

const WITHOUT_HEAD: &str = "input 2x6x6
c1: conv(3, 3) b1: bn relu
c2: conv(4, 3) relu gap flatten d2: dense(3)
";

/// The head as a net of its own: the trunk, then the head's layers as the output.
const HEAD_ALONE: &str = "input 2x6x6
c1: conv(3, 3) b1: bn relu
side: (c: conv(4, 1) tanh gap flatten d: dense(3))
";

/// Seeded values for every tensor of `program`, by name, shared between the nets.
fn values(program: &Program) -> HashMap<String, Vec<f64>> {
    program
        .params
        .iter()
        .map(|p| {
            let mut rng = Rng::new(p.name.len() as u64 * 7919 + p.len() as u64);
            let v = (0..p.len())
                .map(|_| match (p.role, p.kind) {
                    ("running_var", _) => 1.0,
                    (_, ParamKind::State) => 0.0,
                    _ => f64::from(rng.uniform(-0.8, 0.8)),
                })
                .collect();
            (p.name.clone(), v)
        })
        .collect()
}

/// The training loss of `src` on a fixed batch, with the tensors of `shared` by name.
fn loss(src: &str, shared: &HashMap<String, Vec<f64>>) -> f64 {
    let g = compile(src);
    let program = autodiff::training(&g).expect("a classifier");
    let batch = 4;
    let mut params: Vec<Vec<f64>> = program.params.iter().map(|p| shared[&p.name].clone()).collect();
    let mut grads: Vec<Vec<f64>> = program.params.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut exec: Executor<f64> = Executor::new(program.clone(), batch);
    let mut rng = Rng::new(11);
    let images: Vec<f64> =
        (0..program.buffer(program.input).len(batch)).map(|_| f64::from(rng.uniform(-1.0, 1.0))).collect();
    let labels: Vec<f64> = (0..batch).map(|i| (i % 3) as f64).collect();
    exec.buffer_mut(program.input, batch).copy_from_slice(&images);
    exec.buffer_mut(program.labels.unwrap(), batch).copy_from_slice(&labels);
    exec.run(0..program.steps.len(), batch, &mut params, &mut grads, &KernelCtx { seed: 5, step: 0 });
    exec.buffer(program.loss.unwrap(), batch)[0]
}

#[test]
fn the_training_loss_is_the_nets_plus_the_weighted_heads() {
    let shared = values(&autodiff::training(&compile(&with_head(0.3))).unwrap());
    let main = loss(WITHOUT_HEAD, &shared);
    let head = loss(HEAD_ALONE, &shared);
    for w in [0.3, 1.0, 2.5] {
        let combined = loss(&with_head(w), &shared);
        let want = main + w * head;
        assert!((combined - want).abs() < 1e-12 * want.abs().max(1.0), "weight {w}: {combined} vs {main} + {w}·{head}");
    }
    assert!(head > 0.1 && main > 0.1, "both parts contribute: {main}, {head}");
}

#[test]
fn heads_come_last_in_training_and_not_at_all_in_inference() {
    let g = compile(&with_head(0.3));
    let plain = compile(WITHOUT_HEAD);
    let train = autodiff::training(&g).unwrap();
    let names = |p: &Program| p.params.iter().map(|i| (i.name.clone(), i.head)).collect::<Vec<_>>();
    let mut want = names(&autodiff::training(&plain).unwrap());
    want.extend(["side.c.weight", "side.c.bias", "side.d.weight", "side.d.bias"].map(|n| (n.to_string(), true)));
    assert_eq!(names(&train), want);
    // The inference program is the head-free net's, kernel for kernel and buffer for buffer.
    let (a, b) = (autodiff::inference(&g), autodiff::inference(&plain));
    let kernels = |p: &Program| {
        p.steps.iter().map(|s| (s.kernel.clone(), s.inputs.clone(), s.outputs.clone())).collect::<Vec<_>>()
    };
    assert_eq!(kernels(&a), kernels(&b));
    assert_eq!(a.buffers, b.buffers);
    assert_eq!(names(&a), names(&b));
}

#[test]
fn export_leaves_the_heads_out() {
    let g = compile(&with_head(0.3));
    let infos = netc::driver::export::tensors(&g);
    assert!(infos.iter().all(|i| !i.name.starts_with("side.")));
    let all = netc::driver::export::checkpoint_tensors(&g);
    assert_eq!(all.len(), infos.len() + 4);
    let mut store = ParamStore::new(&all);
    netc::train::initialise(&mut store, &g, 1);
    let store = store.without_heads();
    assert_eq!(
        store.infos.iter().map(|i| &i.name).collect::<Vec<_>>(),
        infos.iter().map(|i| &i.name).collect::<Vec<_>>()
    );
    let info = netc::export::ModelInfo { name: "t".into(), doc: String::new(), metadata: vec![] };
    let model = netc::export::to_model(&g, store, &info);
    let graph = model.graph.unwrap();
    let named = |n: &Option<String>| n.as_deref().unwrap_or("").starts_with("side");
    assert!(graph.node.iter().all(|n| !named(&n.name)), "a head's layer in the model");
    assert!(graph.initializer.iter().all(|t| !named(&t.name)), "a head's tensor in the model");
}

#[test]
fn weights_without_the_heads_load_for_inference_and_with_them_for_export() {
    let dir = common::temp_dir("aux-heads", "weights");
    let g = compile(&with_head(0.3));
    let train = autodiff::training(&g).unwrap();
    let mut trained = ParamStore::new(&train.params);
    netc::train::initialise(&mut trained, &g, 7);
    let save = |name: &str, store: &ParamStore| {
        let path = dir.join(name);
        netc::train::checkpoint::save(&path, store, &Vec::new(), HashMap::new()).unwrap();
        path
    };
    let full = save("full.safetensors", &trained);
    let inference_only = save("inference.safetensors", &trained.clone().without_heads());
    // Without the heads' tensors: loaded, heads left as they were, with a note.
    let mut store = ParamStore::new(&train.params);
    let loaded = netc::driver::weights::load(&inference_only, &mut store).unwrap();
    assert!(loaded.notes.iter().any(|n| n.contains("auxiliary heads")), "{:?}", loaded.notes);
    for (i, info) in store.infos.iter().enumerate() {
        let want = if info.head { vec![0.0; info.len()] } else { trained.values[i].clone() };
        assert_eq!(store.values[i], want, "{}", info.name);
    }
    // With them: every tensor taken.
    let mut store = ParamStore::new(&train.params);
    netc::driver::weights::load(&full, &mut store).unwrap();
    assert_eq!(store.values, trained.values);
    // Export's store reads the full file and keeps what the model holds.
    let mut store = ParamStore::new(&netc::driver::export::checkpoint_tensors(&g));
    netc::driver::weights::load(&full, &mut store).unwrap();
    assert_eq!(store.without_heads().values, trained.clone().without_heads().values);
    // A tensor of the net proper still may not be missing.
    let mut plain = ParamStore::new(&autodiff::training(&compile(WITHOUT_HEAD)).unwrap().params);
    netc::train::initialise(&mut plain, &compile(WITHOUT_HEAD), 1);
    plain.infos.retain(|i| i.name != "d2.bias");
    plain.values.pop();
    plain.grads.pop();
    let partial = save("partial.safetensors", &plain);
    let mut store = ParamStore::new(&train.params);
    let Err(e) = netc::driver::weights::load(&partial, &mut store) else { panic!("d2.bias is missing") };
    assert!(e.to_string().contains("d2.bias"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn aux_is_still_a_name_elsewhere() {
    // `aux` is a keyword only at the start of a head: a label, block or tensor may use it.
    let g = compile(
        "input 1x8x8\nblock aux(n) { conv(n, 3) }\naux: aux(4) relu\naux2 = conv(4, 1)\naux2 gap flatten dense(3)\n",
    );
    assert!(g.heads().is_empty());
}

#[test]
fn a_head_may_read_a_named_tensor_and_end_in_softmax() {
    let g = compile(
        "input 1x8x8
skip = conv(4, 3, pad = 1)
x = conv(4, 3, pad = 1) relu
aux probs(0.5) { (skip + x) gap flatten dense(3) softmax }
(skip + x) relu gap flatten dense(3)
",
    );
    let [h] = g.heads() else { panic!("one head") };
    assert_eq!((h.name.as_str(), h.weight), ("probs", 0.5));
    let train = autodiff::training(&g).unwrap();
    // The loss reads the scores before the head's softmax, which training leaves out.
    let scores = autodiff::head_scores(&g, h);
    assert!(train.steps.iter().any(|s| s.node == scores && s.kernel.name() == "softmax_xent"));
    assert!(train.steps.iter().all(|s| s.node != h.output));
}
