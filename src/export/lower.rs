//! Each op of the graph IR as ONNX operators (opset 17), in inference form.
//!
//! Consumes: a [`Graph`] and the initializer names of each node's tensors. Produces: nodes
//! in a [`GraphBuilder`], each IR node's value named by its layer path (the graph's output
//! is named `output`). Guarantees: every value has the layout netc gives it, N×C×H×W for
//! a map and N×F for a vector, so that each op sees the rank it expects; the arithmetic is
//! that of the reference kernels (`runtime::reference`), up to the order of f32 sums.
//!
//! Decisions, where ONNX and netc differ:
//! - Pooling never uses `ceil_mode`: the extra bottom/right rows a ceil-mode window
//!   hangs over are explicit padding, which `MaxPool` ignores and `AveragePool` with
//!   `count_include_pad = 0` leaves out of the divisor. Runtimes disagree on ceil mode at
//!   the edge (a last window starting in the padding), explicit padding they all read
//!   the same. An average that counts padding (`count_pad`) and hangs past it pads with
//!   a `Pad` node first, so that padding counts and the overhang does not (PyTorch's
//!   divisor, which netc uses).
//! - `LRN` of an even size is built from elementary operators: ONNX allows it, but ONNX
//!   Runtime implements the operator for odd sizes only.
//! - Dropout is the identity; batch norm keeps its four tensors (running statistics, not
//!   folded), so the initializers have the checkpoint's names.
//! - LeNet-5's layers and connection tables are in `lenet.rs`.

use super::builder::{attr_float, attr_int, attr_ints, attr_string, GraphBuilder};
use super::lenet;
use crate::ir::{Act, Graph, NodeId, Op, Pool, PoolKind, Shape, Window};
use std::collections::HashMap;

/// The graph's input and output tensor names.
pub const INPUT: &str = "input";
pub const OUTPUT: &str = "output";

/// Writes every node the output needs (never an auxiliary head's) into `b`; `params` holds
/// the initializer names of each node's tensors, in `Op::params` order.
pub fn lower_graph(g: &Graph, params: &HashMap<NodeId, Vec<String>>, b: &mut GraphBuilder) {
    let mut values: HashMap<NodeId, String> = HashMap::new();
    values.insert(g.input(), INPUT.to_string());
    let live = g.live();
    for id in g.ids().skip(1).filter(|id| live[id.index()]) {
        let node = g.node(id);
        let ins: Vec<Input> =
            node.inputs.iter().map(|i| Input { name: values[i].clone(), shape: g.node(*i).shape }).collect();
        let path = g.path(id);
        let out = if id == g.output() { OUTPUT.to_string() } else { b.fresh(&path) };
        let empty = Vec::new();
        let ctx = Ctx { path: &path, params: params.get(&id).unwrap_or(&empty), out: &out, shape: node.shape };
        match lower(b, &node.op, &ins, &ctx) {
            Lowered::Written => {}
            Lowered::Alias(name) if id == g.output() => b.node("Identity", &path, &[&name], OUTPUT, vec![]),
            Lowered::Alias(name) => {
                values.insert(id, name);
                continue;
            }
        }
        values.insert(id, out);
    }
    if g.output() == g.input() {
        b.node("Identity", OUTPUT, &[INPUT], OUTPUT, vec![]);
    }
}

/// An input of a node: its tensor's name and netc's shape of it.
pub struct Input {
    pub name: String,
    pub shape: Shape,
}

/// What a node is lowered with: its path (for node names), its initializers, the name its
/// value must get, and its shape.
pub struct Ctx<'a> {
    pub path: &'a str,
    pub params: &'a [String],
    pub out: &'a str,
    pub shape: Shape,
}

impl Ctx<'_> {
    /// A name for a helper node or tensor of this layer: `path/what`.
    pub fn part(&self, what: &str) -> String {
        format!("{}/{what}", self.path)
    }
}

/// Whether a node wrote its value under the wanted name or is another tensor's alias.
pub enum Lowered {
    Written,
    Alias(String),
}

fn lower(b: &mut GraphBuilder, op: &Op, ins: &[Input], c: &Ctx) -> Lowered {
    let x = ins.first().map(|i| i.name.as_str()).unwrap_or(INPUT);
    let one = |b: &mut GraphBuilder, op_type: &str, attrs| {
        b.node(op_type, c.path, &[x], c.out, attrs);
        Lowered::Written
    };
    match op {
        Op::Input => unreachable!("the input node is the graph's input"),
        Op::Conv(conv) => match &conv.table {
            Some(table) => lenet::table_conv(b, conv, table, x, c),
            None => {
                let mut inputs = vec![x];
                inputs.extend(c.params.iter().map(String::as_str));
                let mut attrs = window_attrs(&conv.window);
                attrs.push(attr_int("group", conv.groups as i64));
                b.node("Conv", c.path, &inputs, c.out, attrs);
                Lowered::Written
            }
        },
        Op::Pool(p) => pool(b, p, &ins[0], c),
        Op::GlobalAvgPool => one(b, "GlobalAveragePool", vec![]),
        Op::Dense(_) => {
            let flat = flat(b, &ins[0], c);
            let mut inputs = vec![flat.as_str()];
            inputs.extend(c.params.iter().map(String::as_str));
            b.node("Gemm", c.path, &inputs, c.out, vec![attr_int("transB", 1)]);
            Lowered::Written
        }
        Op::Flatten if matches!(ins[0].shape, Shape::Flat(_)) => Lowered::Alias(x.to_string()),
        Op::Flatten => one(b, "Flatten", vec![attr_int("axis", 1)]),
        Op::BatchNorm(bn) => {
            let mut inputs = vec![x];
            inputs.extend(c.params.iter().map(String::as_str));
            // ONNX's momentum weighs the running value, PyTorch's (netc's) the batch's.
            let attrs = vec![attr_float("epsilon", bn.eps as f32), attr_float("momentum", (1.0 - bn.momentum) as f32)];
            b.node("BatchNormalization", c.path, &inputs, c.out, attrs);
            Lowered::Written
        }
        // Same window (c − ⌊(size−1)/2⌋ ..= c + ⌈(size−1)/2⌉) and α/size convention as netc.
        Op::Lrn(l) if l.size % 2 == 1 => one(
            b,
            "LRN",
            vec![
                attr_int("size", l.size as i64),
                attr_float("alpha", l.alpha as f32),
                attr_float("beta", l.beta as f32),
                attr_float("bias", l.k as f32),
            ],
        ),
        Op::Lrn(l) => lrn_even(b, l, x, c),
        Op::Dropout { .. } => Lowered::Alias(x.to_string()),
        Op::Act(Act::Relu) => one(b, "Relu", vec![]),
        Op::Act(Act::LeakyRelu { slope }) => one(b, "LeakyRelu", vec![attr_float("alpha", *slope as f32)]),
        Op::Act(Act::Tanh) => one(b, "Tanh", vec![]),
        Op::Act(Act::Sigmoid) => one(b, "Sigmoid", vec![]),
        Op::Act(Act::ScaledTanh { a, s }) => lenet::scaled_tanh(b, x, *a, *s, c),
        Op::Softmax => one(b, "Softmax", vec![attr_int("axis", 1)]),
        Op::Subsample(s) => lenet::subsample(b, s, x, c),
        Op::Rbf(r) => {
            let flat = flat(b, &ins[0], c);
            lenet::rbf(b, r, &flat, c)
        }
        Op::ZeroPad(p) => {
            let s = &p.spatial;
            let pads = [0, p.channels_before, s.top, s.left, 0, p.channels_after, s.bottom, s.right];
            let pads = b.const_i64(&c.part("pads"), &[8], &pads.map(|v| v as i64));
            b.node("Pad", c.path, &[x, &pads], c.out, vec![attr_string("mode", "constant")]);
            Lowered::Written
        }
        Op::Scale { factor } => {
            let k = b.const_f32(&c.part("factor"), *factor as f32);
            b.node("Mul", c.path, &[x, &k], c.out, vec![]);
            Lowered::Written
        }
        Op::Add => add(b, ins, c),
        Op::Concat if ins.len() == 1 => Lowered::Alias(x.to_string()),
        Op::Concat => {
            let names: Vec<&str> = ins.iter().map(|i| i.name.as_str()).collect();
            b.node("Concat", c.path, &names, c.out, vec![attr_int("axis", 1)]);
            Lowered::Written
        }
    }
}

/// The input as N×F: a C×1×1 map is flattened first (dense and RBF layers take either).
fn flat(b: &mut GraphBuilder, x: &Input, c: &Ctx) -> String {
    match x.shape {
        Shape::Flat(_) => x.name.clone(),
        Shape::Map { .. } => {
            b.op("Flatten", &c.part("flatten"), &[&x.name], &c.part("flat"), vec![attr_int("axis", 1)])
        }
    }
}

/// x₁ + x₂ + … + xₖ as a chain of `Add`s, in netc's order of summation.
fn add(b: &mut GraphBuilder, ins: &[Input], c: &Ctx) -> Lowered {
    let Some((first, rest)) = ins.split_first() else { unreachable!("an addition has operands") };
    if rest.is_empty() {
        return Lowered::Alias(first.name.clone());
    }
    let mut acc = first.name.clone();
    for (k, term) in rest.iter().enumerate() {
        if k + 1 == rest.len() {
            b.node("Add", c.path, &[&acc, &term.name], c.out, vec![]);
        } else {
            acc = b.op("Add", &c.part(&format!("add{}", k + 1)), &[&acc, &term.name], &c.part("sum"), vec![]);
        }
    }
    Lowered::Written
}

/// LRN of an even size from elementary operators, since ONNX Runtime implements the `LRN`
/// operator for odd sizes only: the squares, seen as N×1×C×(H·W), are averaged over the
/// channel window by an `AveragePool` of size×1 whose zero padding (⌊(size−1)/2⌋ before,
/// ⌊size/2⌋ after) counts, which gives Σ/size; then y = x·(k + α·Σ/size)^−β.
fn lrn_even(b: &mut GraphBuilder, l: &crate::ir::Lrn, x: &str, c: &Ctx) -> Lowered {
    let Shape::Map { c: ch, h, w } = c.shape else { unreachable!("LRN works on maps") };
    let sq = b.op("Mul", &c.part("square"), &[x, x], &c.part("squares"), vec![]);
    // A 0 in a Reshape's shape keeps that dimension: the batch.
    let columns = b.const_i64(&c.part("columns_shape"), &[4], &[0, 1, ch as i64, (h * w) as i64]);
    let cols = b.op("Reshape", &c.part("columns"), &[&sq, &columns], &c.part("columns"), vec![]);
    let (lo, hi) = ((l.size as i64 - 1) / 2, l.size as i64 / 2);
    let attrs = vec![
        attr_ints("kernel_shape", &[l.size as i64, 1]),
        attr_ints("pads", &[lo, 0, hi, 0]),
        attr_int("count_include_pad", 1),
    ];
    let mean = b.op("AveragePool", &c.part("window"), &[&cols], &c.part("window_mean"), attrs);
    let maps = b.const_i64(&c.part("maps_shape"), &[4], &[0, ch as i64, h as i64, w as i64]);
    let mean = b.op("Reshape", &c.part("maps"), &[&mean, &maps], &c.part("mean"), vec![]);
    let alpha = b.const_f32(&c.part("alpha"), l.alpha as f32);
    let scaled = b.op("Mul", &c.part("times_alpha"), &[&mean, &alpha], &c.part("scaled"), vec![]);
    let k = b.const_f32(&c.part("k"), l.k as f32);
    let base = b.op("Add", &c.part("plus_k"), &[&scaled, &k], &c.part("base"), vec![]);
    let minus_beta = b.const_f32(&c.part("minus_beta"), -l.beta as f32);
    let factor = b.op("Pow", &c.part("pow"), &[&base, &minus_beta], &c.part("factor"), vec![]);
    b.node("Mul", c.path, &[x, &factor], c.out, vec![]);
    Lowered::Written
}

/// `kernel_shape`, `strides` and `pads` (ONNX order: top, left, bottom, right).
pub fn window_attrs(w: &Window) -> Vec<super::proto::AttributeProto> {
    let p = &w.pad;
    vec![
        attr_ints("kernel_shape", &[w.kh as i64, w.kw as i64]),
        attr_ints("strides", &[w.sh as i64, w.sw as i64]),
        attr_ints("pads", &[p.top as i64, p.left as i64, p.bottom as i64, p.right as i64]),
    ]
}

/// Max and average pooling with explicit padding in place of ceil mode (see the module docs).
fn pool(b: &mut GraphBuilder, p: &Pool, x: &Input, c: &Ctx) -> Lowered {
    let (Shape::Map { h, w, .. }, Shape::Map { h: oh, w: ow, .. }) = (x.shape, c.shape) else {
        unreachable!("pooling works on maps")
    };
    let win = &p.window;
    // Rows and columns that ceil-mode windows read past the padded input.
    let over = |n: u64, lo: u64, hi: u64, k: u64, s: u64, out: u64| ((out - 1) * s + k).saturating_sub(n + lo + hi);
    let (eh, ew) = (
        over(h, win.pad.top, win.pad.bottom, win.kh, win.sh, oh),
        over(w, win.pad.left, win.pad.right, win.kw, win.sw, ow),
    );
    let mut grown = *win;
    grown.pad.bottom += eh;
    grown.pad.right += ew;
    match p.kind {
        PoolKind::Max => {
            b.node("MaxPool", c.path, &[&x.name], c.out, window_attrs(&grown));
        }
        PoolKind::Avg if !p.count_pad || win.pad.is_zero() => {
            let mut attrs = window_attrs(&grown);
            attrs.push(attr_int("count_include_pad", 0));
            b.node("AveragePool", c.path, &[&x.name], c.out, attrs);
        }
        PoolKind::Avg if eh == 0 && ew == 0 => {
            let mut attrs = window_attrs(win);
            attrs.push(attr_int("count_include_pad", 1));
            b.node("AveragePool", c.path, &[&x.name], c.out, attrs);
        }
        PoolKind::Avg => {
            // The padding counts in the divisor, the overhang past it does not.
            let q = &win.pad;
            let pads = [0, 0, q.top, q.left, 0, 0, q.bottom, q.right].map(|v| v as i64);
            let pads = b.const_i64(&c.part("pads"), &[8], &pads);
            let padded = b.op(
                "Pad",
                &c.part("pad"),
                &[&x.name, &pads],
                &c.part("padded"),
                vec![attr_string("mode", "constant")],
            );
            let mut overhang = *win;
            overhang.pad = crate::ir::Pad2d { top: 0, left: 0, bottom: eh, right: ew };
            let mut attrs = window_attrs(&overhang);
            attrs.push(attr_int("count_include_pad", 0));
            b.node("AveragePool", c.path, &[&padded], c.out, attrs);
        }
    }
    Lowered::Written
}
