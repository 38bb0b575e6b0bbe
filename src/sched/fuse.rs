//! Fusion: an element-wise step whose input is read by nothing else is folded into
//! the epilogue of the step that writes that input, so the intermediate tensor is
//! never stored.
//!
//! Forward: a convolution, dense layer or addition followed by an activation, a
//! scaling, or an addition of a tensor computed earlier (conv → scale → add → relu is
//! Inception-ResNet's residual, one launch). Backward: an activation's gradient
//! (dy·act'(y)) folded into the step producing dy. A buffer the host reads (the scores)
//! is never fused away.

use super::PlannedStep;
use crate::autodiff::{Kernel, Program};
use crate::sched::Fused;

struct Uses {
    readers: Vec<Vec<usize>>,
    writers: Vec<Vec<usize>>,
}

fn uses(program: &Program, steps: &[Option<PlannedStep>]) -> Uses {
    let n = program.buffers.len();
    let mut u = Uses { readers: vec![Vec::new(); n], writers: vec![Vec::new(); n] };
    for (i, s) in steps.iter().enumerate() {
        let Some(s) = s else { continue };
        let ins = s.spec.inputs.len();
        let outs = s.spec.outputs.len();
        for (k, &b) in s.operands.iter().enumerate() {
            let st = program.storage(b).index();
            if k >= ins && k < ins + outs {
                u.writers[st].push(i);
            } else {
                u.readers[st].push(i);
            }
        }
    }
    for b in [Some(program.output), program.loss, Some(program.input), program.labels].into_iter().flatten() {
        u.readers[program.storage(b).index()].push(usize::MAX);
    }
    u
}

/// Fuses what can be fused; returns the remaining steps and the new end of the forward part.
///
/// One pass in program order: each producer absorbs its consumers until none is left
/// (conv → add → relu), and the use lists are updated in place. A fusion only moves
/// reads and writes from the consumer to an earlier step, so it never makes an earlier
/// producer fusable: the pass finds what a fixpoint would, in time linear in the steps.
pub fn fuse(program: &Program, steps: Vec<PlannedStep>, forward_end: usize) -> (Vec<PlannedStep>, usize) {
    let mut steps: Vec<Option<PlannedStep>> = steps.into_iter().map(Some).collect();
    let mut u = uses(program, &steps);
    for p in 0..steps.len() {
        while let Some(c) = candidate(program, &steps, &u, p) {
            let producer = steps[p].as_ref().expect("a producer with a candidate");
            let old = program.storage(producer.operands[producer.spec.inputs.len()]);
            let consumed = absorb(program, &mut steps, p, c);
            u.moved(program, old.index(), &consumed, c, p);
        }
    }
    let forward_end = steps.iter().flatten().filter(|s| s.sources[0] < forward_end).count();
    (steps.into_iter().flatten().collect(), forward_end)
}

impl Uses {
    /// Step `c` was absorbed into `p`: `p` no longer stores buffer `old` (which `c` alone
    /// read), and `c`'s other reads and its writes are now `p`'s.
    fn moved(&mut self, program: &Program, old: usize, consumed: &PlannedStep, c: usize, p: usize) {
        self.readers[old].retain(|&r| r != c);
        self.writers[old].retain(|&w| w != p);
        let (ins, outs) = (consumed.spec.inputs.len(), consumed.spec.outputs.len());
        for (k, &b) in consumed.operands.iter().enumerate() {
            let st = program.storage(b).index();
            if st == old {
                continue;
            }
            let list = if k >= ins && k < ins + outs { &mut self.writers[st] } else { &mut self.readers[st] };
            list.iter_mut().filter(|x| **x == c).for_each(|x| *x = p);
        }
    }
}

/// A step `c` that producer `p` can absorb.
fn candidate(program: &Program, steps: &[Option<PlannedStep>], u: &Uses, p: usize) -> Option<usize> {
    let ps = steps[p].as_ref()?;
    let ins = ps.spec.inputs.len();
    let out = *ps.operands.get(ins)?;
    if ps.spec.accumulate || program.buffer(out).alias.is_some() {
        return None;
    }
    let st = program.storage(out).index();
    let [c] = u.readers[st].as_slice() else { return None };
    if *c == usize::MAX || u.writers[st].len() != 1 {
        return None;
    }
    let cs = steps[*c].as_ref()?;
    if cs.spec.accumulate || !cs.spec.epilogue.is_empty() {
        return None;
    }
    // The consumer may read `out` through a view (a flatten, a gradient passed
    // through): same elements in the same order, other dims.
    let reads_out = |k: usize| program.storage(cs.operands[k]).index() == st;
    let site = cs.spec.kernel.fuses_into();
    if site.is_none() || site != ps.spec.kernel.epilogue_site() {
        return None;
    }
    let ok = match &cs.spec.kernel {
        Kernel::Act(_) | Kernel::Scale { .. } => true,
        Kernel::Add if cs.spec.inputs.len() == 2 => {
            let other = cs.operands[if reads_out(0) { 1 } else { 0 }];
            // The other operand must already exist when the producer runs.
            program.storage(other).index() != st && u.writers[program.storage(other).index()].iter().all(|&w| w < p)
        }
        Kernel::ActBackward(_) => reads_out(1) && !reads_out(0),
        _ => false,
    };
    ok.then_some(*c)
}

/// Moves consumer `c` into producer `p`'s epilogue.
///
/// Element-wise work keeps the layout, so the producer keeps its own operand dims
/// (a convolution still writes N×C×H×W) while storing into the consumer's output
/// buffer, which may have other dims (N×F after a flatten); the epilogue's extra
/// operand is read with the producer's dims likewise. Batch strides are set from the
/// buffers' places once memory is assigned.
fn absorb(program: &Program, steps: &mut [Option<PlannedStep>], p: usize, c: usize) -> PlannedStep {
    let cs = steps[c].take().expect("candidate exists");
    let ps = steps[p].as_mut().expect("producer exists");
    let ins = ps.spec.inputs.len();
    let st = program.storage(ps.operands[ins]);
    let extra_index = ps.spec.extra.len();
    let (fused, extra): (Fused, Option<usize>) = match &cs.spec.kernel {
        Kernel::Act(a) => (Fused::Act(*a), None),
        Kernel::Scale { factor } => (Fused::Scale(*factor), None),
        Kernel::Add => {
            let other = if program.storage(cs.operands[0]) == st { 1 } else { 0 };
            (Fused::AddOperand(extra_index), Some(other))
        }
        Kernel::ActBackward(a) => (Fused::MulActGrad(*a, extra_index), Some(0)),
        k => unreachable!("{} is not fusable", k.name()),
    };
    ps.spec.epilogue.push(fused);
    let out_dims = ps.spec.outputs[0].dims.clone();
    if let Some(k) = extra {
        let mut operand = cs.spec.inputs[k].clone();
        debug_assert_eq!(operand.len(), out_dims.iter().product::<usize>(), "element-wise operands match");
        operand.dims.clone_from(&out_dims);
        operand.batch_stride = operand.sample_len();
        ps.spec.extra.push(operand);
        ps.operands.push(cs.operands[k]);
    }
    // The producer now writes the consumer's output, with its own dims.
    ps.operands[ins] = cs.operands[cs.spec.inputs.len()];
    ps.sources.extend(cs.sources.iter().copied());
    cs
}
