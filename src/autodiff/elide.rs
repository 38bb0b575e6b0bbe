//! Copy elision in the backward pass: a gradient that flows unchanged to a tensor
//! with several readers (a residual block's identity branch) is a `copy` of dy into
//! the tensor's gradient, into which the other branches then add (`+=`). Where dy is
//! read for the last time before the first of those additions, the gradient can
//! share dy's storage instead (a view), and the copy goes.
//!
//! Consumes: a training program as `build` makes it. Produces: the same program
//! without those copies, the copies' outputs turned into views of their sources.
//! Guarantees: every step reads the same values as before, bit for bit: the storage
//! holds dy until its last reader has run, and only then do additions into the
//! gradient change it (additions the copy's output received anyway). Copies whose
//! source is written again later, or read after the gradient is first changed, stay.
//!
//! Why: ResNet-20 training (batch 128) spent 2.3 ms a step in such copies, a write
//! and a read of its largest gradients (2-core Intel Xeon), and each needs its own
//! buffer in the arena.

use super::program::{BufId, Program, Role, StorageUses};
use super::Kernel;

/// Removes the backward pass's elidable gradient copies (see the module docs);
/// returns how many went. Linear in the program's size: each storage's readers and
/// writers are listed once, and an elided copy merges its output's lists into its
/// source's (`tests/jit_engine.rs` times planning nets of 1,000 and 4,000 blocks).
pub fn copies(p: &mut Program) -> usize {
    let mut uses = p.uses_by_storage();
    let mut removed = vec![false; p.steps.len()];
    for (i, gone) in removed.iter_mut().enumerate().skip(p.backward_start) {
        let Some((src, dst)) = elidable(p, &uses, i) else { continue };
        let (s, d) = (p.storage(src).index(), dst.index());
        p.buffers[d].alias = Some(src);
        *gone = true;
        let moved = std::mem::take(&mut uses[d]);
        let into = &mut uses[s];
        for (list, add) in [(&mut into.reads, moved.reads), (&mut into.writes, moved.writes)] {
            list.extend(add);
            list.retain(|&j| j != i);
            list.sort_unstable();
            list.dedup();
        }
    }
    let count = removed.iter().filter(|&&r| r).count();
    let mut j = 0;
    p.steps.retain(|_| {
        j += 1;
        !removed[j - 1]
    });
    count
}

/// The copy's source and output if step `i` is a copy that can become a view.
fn elidable(p: &Program, uses: &[StorageUses], i: usize) -> Option<(BufId, BufId)> {
    let step = &p.steps[i];
    let ([src], [dst]) = (step.inputs.as_slice(), step.outputs.as_slice()) else { return None };
    let (src, dst) = (*src, *dst);
    if step.kernel != Kernel::Copy || step.accumulate || p.buffer(dst).alias.is_some() {
        return None;
    }
    let (s, d) = (p.storage(src), p.storage(dst));
    // Arena gradients only (parameter gradients live in the store), and none the host reads.
    let special = [Some(p.input), Some(p.output), p.labels, p.loss];
    if s == d
        || [s, d].iter().any(|b| p.buffer(*b).role != Role::Gradient || special.contains(&Some(*b)))
        || p.buffer(src).len(1) != p.buffer(dst).len(1)
        || p.buffer(src).batched != p.buffer(dst).batched
    {
        return None;
    }
    let (us, ud) = (&uses[s.index()], &uses[d.index()]);
    // The copy is the gradient's first use.
    if ud.reads.iter().chain(&ud.writes).any(|&j| j < i) {
        return None;
    }
    // dy never changes after the copy, and its last reader runs before the gradient
    // first changes (an addition into it, or any write: what happens to the shared
    // storage after that is the gradient's business alone).
    if us.writes.iter().any(|&j| j > i) {
        return None;
    }
    let first_change = ud.writes.iter().copied().find(|&j| j > i).unwrap_or(p.steps.len());
    if us.reads.iter().any(|&j| j >= first_change) {
        return None;
    }
    Some((src, dst))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::program::{Buffer, Mode, ScoreKind, Step};
    use crate::ir::NodeId;
    use crate::runtime::reference::KernelCtx;
    use crate::runtime::{Executor, ParamStore};

    /// b0 the input, b1 dy, b2 the copy's output, b3 another gradient, b4 the output;
    /// `steps` as (kernel is a copy, input, output, accumulate).
    fn program(steps: &[(bool, u32, u32, bool)]) -> Program {
        let buf = |name: &str, role| Buffer { name: name.into(), dims: vec![4], batched: true, role, alias: None };
        Program {
            mode: Mode::Training,
            buffers: vec![
                buf("x", Role::Input),
                buf("dy", Role::Gradient),
                buf("dx", Role::Gradient),
                buf("other", Role::Gradient),
                buf("y", Role::Activation),
            ],
            steps: steps
                .iter()
                .map(|&(copy, i, o, accumulate)| Step {
                    kernel: if copy { Kernel::Copy } else { Kernel::Scale { factor: 2.0 } },
                    inputs: vec![BufId(i)],
                    outputs: vec![BufId(o)],
                    accumulate,
                    node: NodeId(0),
                })
                .collect(),
            backward_start: 0,
            input: BufId(0),
            output: BufId(4),
            labels: None,
            loss: None,
            params: Vec::new(),
            classes: 2,
            scores: ScoreKind::Logits,
        }
    }

    #[test]
    fn a_copy_whose_source_is_read_only_before_the_additions_becomes_a_view() {
        // dy = 2x; dx = dy; other = 2dy (dy's last read); dx += 2·other.
        let mut p = program(&[(false, 0, 1, false), (true, 1, 2, false), (false, 1, 3, false), (false, 3, 2, true)]);
        assert_eq!(copies(&mut p), 1);
        assert_eq!(p.steps.len(), 3);
        assert_eq!(p.buffer(BufId(2)).alias, Some(BufId(1)));
        assert!(p.steps.iter().all(|s| s.kernel != Kernel::Copy));
    }

    #[test]
    fn copies_stay_where_a_view_would_change_what_a_step_reads() {
        let cases: [&[(bool, u32, u32, bool)]; 4] = [
            // dy read after the first addition into dx.
            &[(false, 0, 1, false), (true, 1, 2, false), (false, 0, 2, true), (false, 1, 3, false)],
            // dy written again after the copy.
            &[(false, 0, 1, false), (true, 1, 2, false), (false, 0, 1, false), (false, 0, 2, true)],
            // dx overwritten while dy is still read afterwards.
            &[(false, 0, 1, false), (true, 1, 2, false), (false, 0, 2, false), (false, 1, 3, false)],
            // dx used before the copy.
            &[(false, 0, 2, false), (false, 0, 1, false), (true, 1, 2, false)],
        ];
        for (k, steps) in cases.iter().enumerate() {
            let mut p = program(steps);
            assert_eq!(copies(&mut p), 0, "case {k}");
            assert_eq!(p.steps.len(), steps.len(), "case {k}");
        }
    }

    /// The oracle: the same training step with and without the copies, on the
    /// reference executor, gives the same loss and gradients bit for bit.
    #[test]
    fn elided_programs_compute_exactly_what_the_copies_did() {
        let src = "input 3x8x8\nconv(8, 3, pad = 1) bn relu\n\
                   repeat 2 { (id + conv(8, 3, pad = 1) bn relu conv(8, 3, pad = 1) bn) relu }\n\
                   gap flatten dense(4)\n";
        let mut sources = crate::diag::SourceMap::new();
        let g = crate::driver::compile(&mut sources, "t.net", src).unwrap_or_else(|f| panic!("{:?}", f.diagnostics));
        let with = super::super::build::training_with_copies(&g).expect("a classifier");
        let mut without = with.clone();
        assert_eq!(copies(&mut without), 2, "one copy per residual block");
        let batch = 3;
        let run = |p: &Program| {
            let mut store = ParamStore::new(&p.params);
            crate::train::initialise(&mut store, &g, 7);
            let mut exec: Executor<f32> = Executor::new(p.clone(), batch);
            let len = p.buffer(p.input).len(batch);
            let images: Vec<f32> = (0..len).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
            exec.buffer_mut(p.input, batch).copy_from_slice(&images);
            let labels: Vec<f32> = (0..batch).map(|i| (i % p.classes) as f32).collect();
            exec.buffer_mut(p.labels.expect("labels"), batch).copy_from_slice(&labels);
            exec.run(0..p.steps.len(), batch, &mut store.values, &mut store.grads, &KernelCtx { seed: 1, step: 0 });
            (exec.buffer(p.loss.expect("a loss"), batch)[0], store.grads)
        };
        let (a, b) = (run(&with), run(&without));
        assert_eq!(a.0.to_bits(), b.0.to_bits(), "loss");
        assert_eq!(a.1, b.1, "gradients");
        assert!(a.1.iter().flatten().any(|&g| g != 0.0));
    }
}
