//! The arena: every buffer that is not a parameter gets an offset, and buffers whose
//! lifetimes (first to last step touching them) do not overlap may share memory.
//!
//! Views share their target's place; a branch laid out inside its concatenation sits
//! at its channel offset within the parent, with the parent's batch stride. The input,
//! labels, scores and loss are live for the whole plan, since the host touches them.
//! Offsets are aligned to 16 floats (64 bytes, a cache line).

use super::concat::Slices;
use super::{Base, Location, PlannedStep};
use crate::autodiff::{BufId, Kernel, Program, Role};
use std::collections::BTreeMap;

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
pub fn assign(program: &Program, steps: &[PlannedStep], slices: &Slices, batch: usize, share: bool) -> Assignment {
    let n = program.buffers.len();
    // The buffer whose memory each buffer occupies, and where in it.
    let root = |mut b: BufId| -> BufId {
        loop {
            b = program.storage(b);
            match slices.of(b) {
                Some(s) => b = s.parent,
                None => return b,
            }
        }
    };
    let mut first = vec![usize::MAX; n];
    let mut last = vec![0usize; n];
    let live_steps = steps.iter().filter(|s| !slices.is_elided(s));
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
    let arena = if !share {
        let mut order = roots.clone();
        order.sort_by_key(|&i| (std::cmp::Reverse(size(i)), i));
        let mut arena = 0;
        for i in order {
            offset[i] = arena;
            arena += size(i);
        }
        arena
    } else {
        first_fit_by_size(&roots, &first, &last, &size, &mut offset, end + 1)
    };
    let locations = (0..n).map(|i| locate(program, slices, &offset, BufId(i as u32))).collect();
    let mut derived_roots: Vec<usize> = derived.iter().map(|&b| root(b).index()).collect();
    derived_roots.sort_unstable();
    derived_roots.dedup();
    let mut is_root = vec![false; n];
    roots.iter().for_each(|&i| is_root[i] = true);
    let derived_len = derived_roots.into_iter().filter(|&i| is_root[i]).map(size).sum();
    Assignment { locations, arena_len: arena, unshared_len: unshared, derived_len }
}

fn locate(program: &Program, slices: &Slices, offset: &[usize], b: BufId) -> Location {
    let s = program.storage(b);
    let buf = program.buffer(s);
    match buf.role {
        Role::Param(p) => return Location { base: Base::Param(p), offset: 0, batch_stride: buf.len(1) },
        Role::ParamGrad(p) => return Location { base: Base::Grad(p), offset: 0, batch_stride: buf.len(1) },
        _ => {}
    }
    match slices.of(s) {
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

/// Greedy by size: the largest buffers first, each at the lowest offset where it
/// overlaps no buffer placed before it that is alive at the same time.
fn first_fit_by_size(
    roots: &[usize],
    first: &[usize],
    last: &[usize],
    size: &dyn Fn(usize) -> usize,
    offset: &mut [usize],
    steps: usize,
) -> usize {
    let mut order = roots.to_vec();
    order.sort_by_key(|&i| (std::cmp::Reverse(size(i)), i));
    let mut placed = TimeIndex::new(steps);
    let mut arena = 0;
    for &i in &order {
        let at = placed.lowest_gap(first[i], last[i], size(i));
        offset[i] = at;
        arena = arena.max(at + size(i));
        placed.insert(first[i], last[i], at, at + size(i));
    }
    arena
}

/// Disjoint, non-touching offset ranges `[start, end)`, merged as they are added.
#[derive(Default)]
struct Union(BTreeMap<usize, usize>);

impl Union {
    fn insert(&mut self, mut lo: usize, mut hi: usize) {
        // Absorb every range that overlaps or touches [lo, hi).
        while let Some((&a, &b)) = self.0.range(..=hi).next_back() {
            if b < lo {
                break;
            }
            self.0.remove(&a);
            lo = lo.min(a);
            hi = hi.max(b);
        }
        self.0.insert(lo, hi);
    }

    /// The end of the range that blocks `[at, at + len)`, if one does.
    fn blocker(&self, at: usize, len: usize) -> Option<usize> {
        let (_, &end) = self.0.range(..at + len).next_back()?;
        (end > at).then_some(end)
    }
}

/// The occupied offsets of placed buffers, indexed by their lifetimes so that a query
/// sees only the buffers alive during a given span of steps, as the union of O(log T)
/// merged sets: those starting inside the span (a segment tree over start steps) and
/// those alive at its first step (a segment tree over lifetimes, stabbed at that step).
/// Every query and insertion costs O(log T · log B), so planning stays near-linear even
/// when thousands of saved activations are alive at once.
struct TimeIndex {
    leaves: usize,
    starting: Vec<Union>,
    alive: Vec<Union>,
}

impl TimeIndex {
    fn new(steps: usize) -> TimeIndex {
        let leaves = steps.max(1).next_power_of_two();
        let nodes = || (0..2 * leaves).map(|_| Union::default()).collect();
        TimeIndex { leaves, starting: nodes(), alive: nodes() }
    }

    /// Records a buffer alive at steps `first..=last` holding offsets `lo..hi`.
    fn insert(&mut self, first: usize, last: usize, lo: usize, hi: usize) {
        let mut x = first + self.leaves;
        while x >= 1 {
            self.starting[x].insert(lo, hi);
            x /= 2;
        }
        let (mut a, mut b) = (first + self.leaves, last + self.leaves + 1);
        while a < b {
            if a & 1 == 1 {
                self.alive[a].insert(lo, hi);
                a += 1;
            }
            if b & 1 == 1 {
                b -= 1;
                self.alive[b].insert(lo, hi);
            }
            a /= 2;
            b /= 2;
        }
    }

    /// The merged sets holding every buffer alive at some step of `first..=last`.
    fn sets(&self, first: usize, last: usize) -> Vec<&Union> {
        let mut sets = Vec::new();
        let (mut a, mut b) = (first + self.leaves, last + self.leaves + 1);
        while a < b {
            if a & 1 == 1 {
                sets.push(&self.starting[a]);
                a += 1;
            }
            if b & 1 == 1 {
                b -= 1;
                sets.push(&self.starting[b]);
            }
            a /= 2;
            b /= 2;
        }
        let mut x = first + self.leaves;
        while x >= 1 {
            sets.push(&self.alive[x]);
            x /= 2;
        }
        sets.retain(|u| !u.0.is_empty());
        sets
    }

    /// The lowest offset where `len` floats are free during `first..=last`.
    fn lowest_gap(&self, first: usize, last: usize, len: usize) -> usize {
        let sets = self.sets(first, last);
        let mut at = 0;
        loop {
            let mut moved = false;
            for u in &sets {
                if let Some(end) = u.blocker(at, len) {
                    at = end;
                    moved = true;
                }
            }
            if !moved {
                return at;
            }
        }
    }
}
