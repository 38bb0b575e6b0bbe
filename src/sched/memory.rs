//! The arena: every buffer that is not a parameter gets an offset, and buffers whose
//! lifetimes (first to last step touching them) do not overlap may share memory.
//!
//! Views share their target's place; a branch laid out inside its concatenation sits
//! at its channel offset within the parent, with the parent's batch stride. The input,
//! labels, scores and loss are live for the whole plan, since the host touches them.
//! Offsets are aligned to 16 floats (64 bytes, a cache line).

use super::concat::{is_elided, SliceOf};
use super::{Base, Location, PlannedStep};
use crate::autodiff::{BufId, Kernel, Program, Role};

const ALIGN: usize = 16;

/// Where [`assign`] put the buffers.
pub struct Assignment {
    pub locations: Vec<Location>,
    /// Floats of the arena.
    pub arena_len: usize,
    /// Floats the arena would need without reuse.
    pub unshared_len: usize,
    /// Floats of weights derived from the parameters (folded batch norm), which stay
    /// in the arena between runs.
    pub derived_len: usize,
}

/// Locations of every buffer, the arena length, and the length without sharing.
pub fn assign(program: &Program, steps: &[PlannedStep], slices: &[SliceOf], batch: usize, share: bool) -> Assignment {
    let n = program.buffers.len();
    // The buffer whose memory each buffer occupies, and where in it.
    let root = |mut b: BufId| -> BufId {
        loop {
            b = program.storage(b);
            match slices.iter().find(|s| s.child == b) {
                Some(s) => b = s.parent,
                None => return b,
            }
        }
    };
    let mut first = vec![usize::MAX; n];
    let mut last = vec![0usize; n];
    let live_steps = steps.iter().filter(|s| !is_elided(s, slices));
    for (i, s) in live_steps.enumerate() {
        for &b in &s.operands {
            let r = root(b).index();
            first[r] = first[r].min(i);
            last[r] = last[r].max(i);
        }
    }
    let end = steps.len();
    // Weights derived from the parameters persist between runs (they are recomputed only
    // when the parameters change), so nothing may reuse their memory.
    let derived: Vec<BufId> = steps
        .iter()
        .filter(|s| matches!(s.spec.kernel, Kernel::FoldBatchNorm { .. }))
        .flat_map(|s| s.operands[s.spec.inputs.len()..].iter().copied())
        .collect();
    for b in [Some(program.input), program.labels, Some(program.output), program.loss]
        .into_iter()
        .flatten()
        .chain(derived.iter().copied())
    {
        let r = root(b).index();
        first[r] = 0;
        last[r] = end;
    }
    let roots: Vec<usize> = (0..n)
        .filter(|&i| {
            root(BufId(i as u32)).index() == i
                && super::Plan::is_arena(program.buffers[i].role)
                && first[i] != usize::MAX
        })
        .collect();
    let size = |i: usize| program.buffers[i].len(batch).div_ceil(ALIGN) * ALIGN;
    let unshared: usize = roots.iter().map(|&i| size(i)).sum();
    let mut offset = vec![0usize; n];
    let mut placed: Vec<usize> = Vec::new();
    let mut order = roots.clone();
    order.sort_by_key(|&i| (std::cmp::Reverse(size(i)), i));
    let mut arena = 0;
    for &i in &order {
        let mut at = 0;
        if share {
            // First fit among the buffers alive at the same time.
            let mut busy: Vec<(usize, usize)> = placed
                .iter()
                .filter(|&&j| first[j] <= last[i] && first[i] <= last[j])
                .map(|&j| (offset[j], offset[j] + size(j)))
                .collect();
            busy.sort_unstable();
            for (lo, hi) in busy {
                if at + size(i) <= lo {
                    break;
                }
                at = at.max(hi);
            }
        } else {
            at = arena;
        }
        offset[i] = at;
        arena = arena.max(at + size(i));
        placed.push(i);
    }
    let locations = (0..n).map(|i| locate(program, slices, &offset, BufId(i as u32))).collect();
    let mut derived_roots: Vec<usize> = derived.iter().map(|&b| root(b).index()).collect();
    derived_roots.sort_unstable();
    derived_roots.dedup();
    let derived_len = derived_roots.into_iter().filter(|i| roots.contains(i)).map(size).sum();
    Assignment { locations, arena_len: arena, unshared_len: unshared, derived_len }
}

fn locate(program: &Program, slices: &[SliceOf], offset: &[usize], b: BufId) -> Location {
    let s = program.storage(b);
    let buf = program.buffer(s);
    match buf.role {
        Role::Param(p) => return Location { base: Base::Param(p), offset: 0, batch_stride: buf.len(1) },
        Role::ParamGrad(p) => return Location { base: Base::Grad(p), offset: 0, batch_stride: buf.len(1) },
        _ => {}
    }
    match slices.iter().find(|sl| sl.child == s) {
        Some(sl) => {
            let parent = locate(program, slices, offset, sl.parent);
            let plane: usize = buf.dims.iter().skip(1).product();
            Location {
                base: Base::Arena,
                offset: parent.offset + sl.channel * plane,
                batch_stride: parent.batch_stride,
            }
        }
        None => Location { base: Base::Arena, offset: offset[s.index()], batch_stride: buf.len(1) },
    }
}
