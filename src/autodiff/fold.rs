//! Inference rewrite: a batch norm reading a convolution's output, and nothing else
//! reading that output, is folded into the convolution. A `FoldBatchNorm` step turns
//! the current weights and statistics into folded weights and bias (cheap: one pass
//! over the weights per run, so it always reflects the latest parameters), and the
//! convolution writes the batch norm's output directly.

use super::kernel::Kernel;
use super::program::{BufId, Buffer, Mode, Program, Role, Step};

/// The program with every foldable batch norm folded (inference programs only).
pub fn fold_batch_norm(p: &Program) -> Program {
    if p.mode != Mode::Inference {
        return p.clone();
    }
    let mut out = p.clone();
    let mut steps: Vec<Option<Step>> = p.steps.iter().cloned().map(Some).collect();
    let mut prologue = Vec::new();
    let uses = p.uses_by_storage();
    for i in 0..p.steps.len() {
        let Some(Kernel::Conv(conv)) = steps[i].as_ref().map(|s| s.kernel.clone()) else { continue };
        let y = p.steps[i].outputs[0];
        let [j] = uses[p.storage(y).index()].reads.as_slice() else { continue };
        let Kernel::BatchNormEval(bn) = p.steps[*j].kernel else { continue };
        if p.steps[*j].inputs[0] != y || y == p.output || p.buffer(y).alias.is_some() {
            continue;
        }
        let conv_in = &p.steps[i].inputs;
        let bn_step = &p.steps[*j];
        let w = conv_in[1];
        let mut fold_inputs = vec![w];
        fold_inputs.extend(conv_in.get(2).copied());
        fold_inputs.extend_from_slice(&bn_step.inputs[1..]);
        let w2 = push(&mut out, &p.buffer(w).name, p.buffer(w).dims.clone(), "folded");
        let b2 = push(&mut out, &p.buffer(bn_step.inputs[1]).name, vec![conv.out_c as usize], "folded bias");
        prologue.push(Step {
            kernel: Kernel::FoldBatchNorm { conv: conv.clone(), bn },
            inputs: fold_inputs,
            outputs: vec![w2, b2],
            accumulate: false,
            node: p.steps[i].node,
        });
        let mut folded = conv.clone();
        folded.bias = true;
        steps[i] = Some(Step {
            kernel: Kernel::Conv(folded),
            inputs: vec![conv_in[0], w2, b2],
            outputs: bn_step.outputs.clone(),
            accumulate: false,
            node: p.steps[i].node,
        });
        steps[*j] = None;
    }
    out.steps = prologue.into_iter().chain(steps.into_iter().flatten()).collect();
    out.backward_start = out.steps.len();
    out
}

fn push(p: &mut Program, base: &str, dims: Vec<usize>, what: &str) -> BufId {
    p.buffers.push(Buffer { name: format!("{base} ({what})"), dims, batched: false, role: Role::Saved, alias: None });
    BufId(p.buffers.len() as u32 - 1)
}
