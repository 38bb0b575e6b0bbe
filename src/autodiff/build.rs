//! Builds programs from a graph: [`inference`] lowers each op to kernels; [`training`]
//! also attaches the loss and walks the graph backwards, applying one rule per op
//! (see `vjp`).

use super::kernel::Kernel;
use super::program::*;
use crate::ir::{Graph, NodeId, Op, ParamKind, Shape};
use std::collections::HashMap;

/// Why a net cannot be trained as a classifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAClassifier(pub String);

impl std::fmt::Display for NotAClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The forward pass alone, with batch norm using its running statistics and dropout off.
pub fn inference(g: &Graph) -> Program {
    let mut b = Builder::new(g, Mode::Inference);
    b.forward(None);
    b.finish(None)
}

/// One training step: forward with batch statistics and dropout, softmax cross-entropy on
/// the class scores (plus each auxiliary head's, weighted: see `heads`), and the backward
/// pass producing every trainable parameter's gradient.
///
/// The scores are the net's output, except that a final `softmax` is left out (the loss
/// includes it) and a final RBF layer's distances are negated (the nearest centre wins).
/// A binary output (one unit, then `sigmoid`) trains with binary cross-entropy on the
/// sigmoid's input instead. Label smoothing is set afterwards ([`smooth_labels`]).
pub fn training(g: &Graph) -> Result<Program, NotAClassifier> {
    let mut p = training_with_copies(g)?;
    super::elide::copies(&mut p);
    Ok(p)
}

/// [`training`] before its gradient copies are elided (the oracle of that rewrite's tests).
pub(super) fn training_with_copies(g: &Graph) -> Result<Program, NotAClassifier> {
    let out = g.node(g.output());
    if !out.shape.is_vector_like() {
        return Err(NotAClassifier(format!(
            "the net's output is {}, but training needs one score per class (a vector or C×1×1)",
            out.shape
        )));
    }
    let scores = super::classes::scores(g);
    let binary = super::classes::is_binary(g);
    let classes = g.node(scores).shape.channels() as usize;
    if classes < 2 && !binary {
        return Err(NotAClassifier(format!("the net scores {classes} class; a classifier needs at least 2")));
    }
    let mut b = Builder::new(g, Mode::Training);
    b.forward(Some(scores));
    let negate = matches!(g.node(scores).op, Op::Rbf(_));
    let labels = b.buffer("labels", vec![], true, Role::Labels);
    let loss = b.buffer("loss", vec![1], false, Role::Loss);
    let dscores = b.grad(scores);
    let logits = b.act[&scores];
    let kernel = if binary {
        Kernel::SigmoidCrossEntropy { smoothing: 0.0 }
    } else {
        Kernel::SoftmaxCrossEntropy { negate, smoothing: 0.0 }
    };
    b.step(kernel, vec![logits, labels], vec![loss, dscores], false, scores);
    b.written.insert(scores);
    let last = b.head_losses(labels, loss);
    b.program.backward_start = b.program.steps.len();
    b.backward(scores.max(last));
    let mut p = b.finish(Some(scores));
    p.labels = Some(labels);
    p.loss = Some(loss);
    Ok(p)
}

/// Sets label smoothing ε on the loss of a training program (every loss step): the target
/// becomes (1 − ε)·onehot(label) + ε/K over the K classes (K = 2 for a binary output).
/// ε = 0 leaves the program as it was.
pub fn smooth_labels(p: &mut Program, eps: f32) {
    for step in &mut p.steps {
        match &mut step.kernel {
            Kernel::SoftmaxCrossEntropy { smoothing, .. } | Kernel::SigmoidCrossEntropy { smoothing } => {
                *smoothing = eps
            }
            _ => {}
        }
    }
}

pub(super) struct Builder<'g> {
    pub g: &'g Graph,
    pub program: Program,
    /// Output buffer of each lowered node.
    pub act: HashMap<NodeId, BufId>,
    /// Gradient buffer of each node's output, once created.
    pub grads: HashMap<NodeId, BufId>,
    /// Nodes whose gradient buffer already holds a contribution.
    pub written: std::collections::HashSet<NodeId>,
    /// Parameter indices of each node, in `Op::params` order.
    pub node_params: HashMap<NodeId, Vec<usize>>,
    /// Saved buffers of a node (batch-norm statistics, dropout mask).
    pub saved: HashMap<NodeId, Vec<BufId>>,
    pub consumers: Vec<Vec<NodeId>>,
    pub requires_grad: Vec<bool>,
    /// Whether each node belongs to an auxiliary head.
    in_head: Vec<bool>,
}

impl<'g> Builder<'g> {
    fn new(g: &'g Graph, mode: Mode) -> Builder<'g> {
        let program = Program {
            mode,
            buffers: Vec::new(),
            steps: Vec::new(),
            backward_start: 0,
            input: BufId(0),
            output: BufId(0),
            labels: None,
            loss: None,
            params: Vec::new(),
            classes: 0,
            scores: ScoreKind::Logits,
        };
        let requires_grad = requires_grad(g);
        let mut b = Builder {
            g,
            program,
            act: HashMap::new(),
            grads: HashMap::new(),
            written: Default::default(),
            node_params: HashMap::new(),
            saved: HashMap::new(),
            consumers: g.consumers(),
            requires_grad,
            in_head: g.head_members().iter().map(Option::is_some).collect(),
        };
        let input = b.buffer("input", dims(&g.node(g.input()).shape), true, Role::Input);
        b.program.input = input;
        b.act.insert(g.input(), input);
        b
    }

    pub fn buffer(&mut self, name: impl Into<String>, dims: Vec<usize>, batched: bool, role: Role) -> BufId {
        self.program.buffers.push(Buffer { name: name.into(), dims, batched, role, alias: None });
        BufId(self.program.buffers.len() as u32 - 1)
    }

    pub fn view(&mut self, name: impl Into<String>, dims: Vec<usize>, of: BufId) -> BufId {
        let role = self.program.buffer(of).role;
        let id = self.buffer(name, dims, true, role);
        self.program.buffers[id.index()].alias = Some(of);
        id
    }

    pub fn step(&mut self, kernel: Kernel, inputs: Vec<BufId>, outputs: Vec<BufId>, accumulate: bool, node: NodeId) {
        self.program.steps.push(Step { kernel, inputs, outputs, accumulate, node });
    }

    /// The gradient buffer of `node`'s output, created on first use.
    pub fn grad(&mut self, node: NodeId) -> BufId {
        if let Some(&b) = self.grads.get(&node) {
            return b;
        }
        let name = format!("d({})", self.g.path(node));
        let b = self.buffer(name, dims(&self.g.node(node).shape), true, Role::Gradient);
        self.grads.insert(node, b);
        b
    }

    /// Registers the parameter and state tensors of `node`.
    fn params_of(&mut self, node: NodeId) -> Vec<BufId> {
        let path = self.g.path(node);
        let training = self.program.mode == Mode::Training;
        let mut bufs = Vec::new();
        let mut indices = Vec::new();
        for spec in self.g.node(node).op.params() {
            let index = self.program.params.len();
            let dims: Vec<usize> = spec.shape.iter().map(|&d| d as usize).collect();
            let name = format!("{path}.{}", spec.name);
            let buf = self.buffer(name.clone(), dims.clone(), false, Role::Param(index));
            let grad = (training && spec.kind == ParamKind::Trainable)
                .then(|| self.buffer(format!("d({name})"), dims.clone(), false, Role::ParamGrad(index)));
            let head = self.in_head[node.index()];
            self.program.params.push(ParamInfo { name, dims, kind: spec.kind, node, role: spec.name, grad, buf, head });
            bufs.push(buf);
            indices.push(index);
        }
        self.node_params.insert(node, indices);
        bufs
    }

    /// Lowers to forward kernels what the output needs, or in training what the class
    /// scores `stop` and the auxiliary heads need (see `heads`).
    fn forward(&mut self, stop: Option<NodeId>) {
        let training = self.program.mode == Mode::Training;
        for id in super::heads::forward_order(self.g, stop) {
            let node = self.g.node(id);
            let ins: Vec<BufId> = node.inputs.iter().map(|i| self.act[i]).collect();
            let params = self.params_of(id);
            let name = self.g.path(id);
            let out_dims = dims(&node.shape);
            let out = match &node.op {
                Op::Flatten => self.view(name, out_dims, ins[0]),
                Op::Dropout { .. } if !training => self.view(name, out_dims, ins[0]),
                op => {
                    let out = self.buffer(name, out_dims, true, Role::Activation);
                    self.lower(id, op, ins, params, out);
                    out
                }
            };
            self.act.insert(id, out);
        }
    }

    fn lower(&mut self, id: NodeId, op: &Op, ins: Vec<BufId>, params: Vec<BufId>, out: BufId) {
        let training = self.program.mode == Mode::Training;
        let x = ins.first().copied();
        let with = |mut v: Vec<BufId>, p: &[BufId]| {
            v.extend_from_slice(p);
            v
        };
        let (kernel, inputs, outputs) = match op {
            Op::Conv(c) => match c.as_dense(self.g.node(self.g.node(id).inputs[0]).shape.spatial()) {
                Some(d) => (Kernel::Dense(d), with(ins, &params), vec![out]),
                None => (Kernel::Conv(c.clone()), with(ins, &params), vec![out]),
            },
            Op::Dense(d) => (Kernel::Dense(*d), with(ins, &params), vec![out]),
            Op::Subsample(s) => (Kernel::Subsample(*s), with(ins, &params), vec![out]),
            Op::Rbf(r) => (Kernel::Rbf(*r), with(ins, &params), vec![out]),
            Op::Pool(p) => (Kernel::Pool(*p), ins, vec![out]),
            Op::GlobalAvgPool => (Kernel::GlobalAvgPool, ins, vec![out]),
            Op::BatchNorm(bn) if training => {
                let c = bn.channels as usize;
                let path = self.g.path(id);
                let mean = self.buffer(format!("{path}.batch_mean"), vec![c], false, Role::Saved);
                let invstd = self.buffer(format!("{path}.batch_invstd"), vec![c], false, Role::Saved);
                self.saved.insert(id, vec![mean, invstd]);
                (
                    Kernel::BatchNormTrain(*bn),
                    vec![x.unwrap(), params[0], params[1]],
                    vec![out, mean, invstd, params[2], params[3]],
                )
            }
            Op::BatchNorm(bn) => (Kernel::BatchNormEval(*bn), with(ins, &params), vec![out]),
            Op::Lrn(l) => (Kernel::Lrn(*l), ins, vec![out]),
            Op::Dropout { p } => {
                let mask =
                    self.buffer(format!("{}.mask", self.g.path(id)), dims(&self.g.node(id).shape), true, Role::Saved);
                self.saved.insert(id, vec![mask]);
                self.step(Kernel::DropoutMask { p: *p, stream: u64::from(id.0) }, vec![], vec![mask], false, id);
                (Kernel::Mask, vec![x.unwrap(), mask], vec![out])
            }
            Op::Act(a) => (Kernel::Act(*a), ins, vec![out]),
            Op::Softmax => (Kernel::Softmax, ins, vec![out]),
            Op::ZeroPad(p) => (Kernel::ZeroPad(*p), ins, vec![out]),
            Op::Scale { factor } => (Kernel::Scale { factor: *factor }, ins, vec![out]),
            Op::Add => (Kernel::Add, ins, vec![out]),
            Op::Concat => (Kernel::Concat, ins, vec![out]),
            Op::Input | Op::Flatten => unreachable!("lowered without a kernel"),
        };
        self.step(kernel, inputs, outputs, false, id);
    }

    fn finish(mut self, scores: Option<NodeId>) -> Program {
        if self.program.mode == Mode::Inference {
            self.program.backward_start = self.program.steps.len();
        }
        let out = scores.unwrap_or(self.g.output());
        self.program.output = self.act[&out];
        self.program.classes = super::classes::class_count(self.g) as usize;
        self.program.scores = match self.g.node(out).op {
            _ if super::classes::is_binary(self.g) && out == self.g.output() => ScoreKind::BinaryProbability,
            _ if super::classes::is_binary(self.g) => ScoreKind::BinaryLogit,
            Op::Rbf(_) => ScoreKind::Distances,
            Op::Softmax => ScoreKind::Probabilities,
            _ => ScoreKind::Logits,
        };
        self.program
    }
}

/// Per-sample dimensions of a shape.
pub(super) fn dims(s: &Shape) -> Vec<usize> {
    s.dims().iter().map(|&d| d as usize).collect()
}

/// Whether each node's output depends on a trainable parameter (the input does not).
fn requires_grad(g: &Graph) -> Vec<bool> {
    let mut rg = vec![false; g.nodes().len()];
    for id in g.ids().skip(1) {
        let n = g.node(id);
        rg[id.index()] =
            n.op.params().iter().any(|p| p.kind == ParamKind::Trainable) || n.inputs.iter().any(|i| rg[i.index()]);
    }
    rg
}
