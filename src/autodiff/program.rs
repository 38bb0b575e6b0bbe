//! A [`Program`]: buffers and an explicit list of kernel invocations, for inference or
//! for one training step (forward, loss, backward). It is data, so both the reference
//! executor and the JIT run the same thing.

use super::kernel::Kernel;
use crate::ir::{NodeId, ParamKind};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BufId(pub u32);

impl BufId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The network input (images).
    Input,
    /// Class indices as f32, one per sample.
    Labels,
    /// A layer's output.
    Activation,
    /// The gradient of the loss with respect to an activation.
    Gradient,
    /// Parameter or state tensor number `i` of [`Program::params`], held in the parameter store.
    Param(usize),
    /// The gradient of parameter `i`, held in the parameter store.
    ParamGrad(usize),
    /// Values the forward pass keeps for the backward pass (batch-norm statistics, dropout masks).
    Saved,
    /// The mean loss of the batch (1 element).
    Loss,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Buffer {
    pub name: String,
    /// Dimensions, per sample when `batched` (the batch size is prepended at run time).
    pub dims: Vec<usize>,
    pub batched: bool,
    pub role: Role,
    /// Shares the storage of another buffer with the same number of elements (a view).
    pub alias: Option<BufId>,
}

impl Buffer {
    /// Elements for a batch of `n`.
    pub fn len(&self, n: usize) -> usize {
        self.dims.iter().product::<usize>() * if self.batched { n } else { 1 }
    }

    /// Full dimensions for a batch of `n`.
    pub fn shape(&self, n: usize) -> Vec<usize> {
        if self.batched {
            std::iter::once(n).chain(self.dims.iter().copied()).collect()
        } else {
            self.dims.clone()
        }
    }
}

/// One kernel invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kernel: Kernel,
    pub inputs: Vec<BufId>,
    pub outputs: Vec<BufId>,
    /// Add the first output into the buffer instead of overwriting it.
    pub accumulate: bool,
    /// The graph node this step comes from (for profiles and error messages).
    pub node: NodeId,
}

/// A parameter or state tensor of the net.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    /// Layer path and tensor name, e.g. `layer1.0.conv1.weight`: the checkpoint key.
    pub name: String,
    pub dims: Vec<usize>,
    pub kind: ParamKind,
    pub node: NodeId,
    /// `weight`, `bias`, `running_mean`, ...: what the tensor is to its layer.
    pub role: &'static str,
    /// Its gradient buffer, for trainable tensors of a training program.
    pub grad: Option<BufId>,
    pub buf: BufId,
    /// Whether the tensor belongs to an auxiliary head: only training programs have it,
    /// after all of the net's own tensors, and a checkpoint may lack it.
    pub head: bool,
}

impl ParamInfo {
    /// Elements of the tensor.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }
}

/// How a program's output scores the classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreKind {
    /// Unnormalised log-probabilities: the largest wins.
    Logits,
    /// Probabilities from a final softmax.
    Probabilities,
    /// Distances (LeNet-5's RBF): the smallest wins.
    Distances,
    /// A binary output's logit z, one per sample for two classes: P(class 1) = σ(z).
    BinaryLogit,
    /// A binary output's σ(z), one per sample: the probability of class 1 of two.
    BinaryProbability,
}

impl ScoreKind {
    /// Whether the scores are one value per sample for two classes.
    pub fn is_binary(self) -> bool {
        matches!(self, ScoreKind::BinaryLogit | ScoreKind::BinaryProbability)
    }

    /// Values per sample for a net scoring `classes` classes: 1 for a binary output.
    pub fn width(self, classes: usize) -> usize {
        if self.is_binary() {
            1
        } else {
            classes
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Inference,
    Training,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub mode: Mode,
    pub buffers: Vec<Buffer>,
    /// Forward steps, then (training) the loss and the backward steps.
    pub steps: Vec<Step>,
    /// Index of the first backward step (= `steps.len()` for inference).
    pub backward_start: usize,
    pub input: BufId,
    /// The net's output; in training, the class scores the loss reads.
    pub output: BufId,
    pub labels: Option<BufId>,
    pub loss: Option<BufId>,
    pub params: Vec<ParamInfo>,
    /// Number of classes the output scores (2 for a binary output's one value).
    pub classes: usize,
    /// What the output holds: logits, probabilities (a final softmax) or distances.
    pub scores: ScoreKind,
}

/// Which steps read and write one storage buffer ([`Program::uses_by_storage`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StorageUses {
    pub reads: Vec<usize>,
    pub writes: Vec<usize>,
}

impl Program {
    pub fn buffer(&self, id: BufId) -> &Buffer {
        &self.buffers[id.index()]
    }

    /// The buffer whose storage `id` uses (itself unless it is a view).
    pub fn storage(&self, mut id: BufId) -> BufId {
        while let Some(a) = self.buffer(id).alias {
            id = a;
        }
        id
    }

    /// The steps that read and that write each storage buffer (indexed by
    /// [`Program::storage`]), in program order, each step once per buffer.
    pub(crate) fn uses_by_storage(&self) -> Vec<StorageUses> {
        let mut uses = vec![StorageUses::default(); self.buffers.len()];
        let note = |list: &mut Vec<usize>, j: usize| {
            if list.last() != Some(&j) {
                list.push(j);
            }
        };
        for (j, step) in self.steps.iter().enumerate() {
            for &b in &step.inputs {
                note(&mut uses[self.storage(b).index()].reads, j);
            }
            for &b in &step.outputs {
                note(&mut uses[self.storage(b).index()].writes, j);
            }
        }
        uses
    }

    /// The label smoothing ε of the training loss (0 without, and for inference).
    pub fn label_smoothing(&self) -> f32 {
        self.steps
            .iter()
            .find_map(|s| match s.kernel {
                Kernel::SoftmaxCrossEntropy { smoothing, .. } | Kernel::SigmoidCrossEntropy { smoothing } => {
                    Some(smoothing)
                }
                _ => None,
            })
            .unwrap_or(0.0)
    }

    pub fn forward_steps(&self) -> &[Step] {
        &self.steps[..self.backward_start]
    }

    pub fn backward_steps(&self) -> &[Step] {
        &self.steps[self.backward_start..]
    }
}

impl fmt::Display for Program {
    /// The text form (`netc run --dump program`): buffers, then one step per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.buffers.iter().enumerate() {
            let dims: Vec<String> = b.dims.iter().map(|d| d.to_string()).collect();
            let n = if b.batched { "N×" } else { "" };
            let alias = b.alias.map_or(String::new(), |a| format!(" = view of b{}", a.0));
            writeln!(f, "b{i} {:?} {n}{} {}{alias}", b.role, dims.join("×"), b.name)?;
        }
        for (i, s) in self.steps.iter().enumerate() {
            if i == self.backward_start && self.mode == Mode::Training {
                writeln!(f, "backward:")?;
            }
            let list = |v: &[BufId]| v.iter().map(|b| format!("b{}", b.0)).collect::<Vec<_>>().join(", ");
            let acc = if s.accumulate { " +=" } else { "" };
            writeln!(f, "  {}{acc} {} ({})", list(&s.outputs), s.kernel.name(), list(&s.inputs))?;
        }
        Ok(())
    }
}
