//! Shape decisions made once per kernel: register tile sizes from a small cost
//! model, and the split of the work into parts.
//!
//! Consumes: counts (rows to tile, positions per row, k steps, units, blocks, grid
//! rows) and the FLOPs of one run. Produces: tile sizes and [`Part`] ranges.
//! Guarantees: tiles fit the 16 xmm registers (`mr·nv` accumulators, the smaller
//! operand set held, one product temporary, one streamed operand); parts cover
//! every (unit, block, row) exactly once, and their sizes differ by at most ~10%.
//!
//! The cost model, per k step of one tile on the Zen 5 target: multiplies and adds
//! issue on 2 + 2 FP pipes (`mr·nv/2` cycles), about 1.7 loads per cycle, and each
//! accumulator's add chain needs ~3 cycles per step, so tiles with fewer than ~6
//! accumulators are latency-bound.

use std::ops::Range;

use super::options::ConvOptions;
use crate::codegen::machine::{L2_BYTES, PREFETCH_STREAMS};

/// Cycles of one k step of an `mr × nv` tile; `loads` vectors loaded per step
/// (fitted to measurements: about 1.7 per cycle sustained next to the arithmetic).
fn step_cycles(mr: usize, nv: usize, loads: usize) -> f64 {
    let fp = (mr * nv) as f64 / 2.0;
    fp.max(loads as f64 / 1.7).max(3.0) + 0.3
}

/// Whether an `mr × nv` tile fits the registers.
fn fits(mr: usize, nv: usize) -> bool {
    mr * nv <= 12 && mr * nv + mr.min(nv) + 2 <= 16
}

/// Sizes of the pieces `len` splits into with full pieces of `w`: (full count, rest).
fn pieces(len: usize, w: usize) -> (usize, usize) {
    (len / w, len % w)
}

/// How the outer engine's operands behave, for [`outer_tile`].
#[derive(Debug, Clone, Copy)]
pub(super) struct OuterCosts {
    /// A re-loaded per use (broadcast in place) instead of pre-broadcast.
    pub direct: bool,
    /// Cycles per stored vector (scattered lanes cost more).
    pub store: f64,
    /// B does not stay in L1 across a tile's k loop (many channels far apart): each
    /// new B cache line of a k step costs L2 traffic.
    pub b_streams: bool,
    /// Bytes between the tile rows of A where A is read in place (0: packed, or
    /// rows that share no L1 set): see [`rows_per_set`].
    pub a_row_bytes: i64,
}

/// Addresses this many bytes apart share an L1 set: the L1 data caches of current
/// x86-64 cores have 64 sets of 64-byte lines (Zen 4: 32 KiB, 8 ways; Golden
/// Cove: 48 KiB, 12 ways).
const L1_SET_PERIOD: i64 = 4096;

/// Most in-place A rows of a tile that may share one L1 set: an 8-way set holds
/// them next to the B and output lines of the same step. Measured (2-core AMD
/// EPYC, Zen 4, batch 1, 2 threads): a 1×1 convolution of 1024 channels on 7×7
/// (A rows 4 KiB apart, all in one set) ran at 20–23 GFLOP/s with a 12×1 tile,
/// 26–32 with 8×1 and 34–39 with 6×2, where 1000 channels (rows spread over
/// the sets) ran the 12×1 tile at 36–44; the Winograd GEMMs of 512 channels
/// (2 KiB apart, six rows per set) ran a 12×1 tile no slower than 8×1.
const A_ROWS_PER_SET: usize = 6;

/// How many of `mr` A rows `row_bytes` apart fall into the same L1 set.
pub(super) fn rows_per_set(mr: usize, row_bytes: i64) -> usize {
    if row_bytes <= 0 {
        return 1;
    }
    // Rows r·row_bytes apart cycle through L1_SET_PERIOD / gcd(row_bytes, L1_SET_PERIOD)
    // sets (at most all 64); the period is a power of two, so the gcd is the largest
    // power of two dividing both.
    let gcd = 1i64 << row_bytes.trailing_zeros().min(L1_SET_PERIOD.trailing_zeros());
    let sets = (L1_SET_PERIOD / gcd).min(64) as usize;
    mr.div_ceil(sets)
}

/// Tile for the outer engine over `m` rows and `pos` positions per grid row (the
/// last position may be partial, which does not change the cost), `k` steps per tile.
pub(super) fn outer_tile(m: usize, pos: usize, k: usize, c: OuterCosts) -> (usize, usize) {
    let cost = |mr: usize, nv: usize| {
        // In-place A rows that evict each other from L1 on every k step (see
        // A_ROWS_PER_SET): such tiles are not considered (6 rows always are).
        if c.direct && rows_per_set(mr, c.a_row_bytes) > A_ROWS_PER_SET {
            return f64::INFINITY;
        }
        let tile = |r: usize, v: usize| {
            // B vectors are unaligned (some split cache lines): weigh them more.
            // Direct A is re-broadcast per use when held B vectors outnumber rows,
            // else held after one load + shuffle (counted as two loads).
            let loads = match (c.direct, v > r) {
                (false, _) => r + v + v / 2,
                (true, false) => r * v + v,
                (true, true) => 2 * r + v + v / 2,
            };
            let lines = if c.b_streams { 2.0 * (16 * v) as f64 / 64.0 } else { 0.0 };
            (step_cycles(r, v, loads) + lines) * k as f64 + c.store * (r * v) as f64 + 20.0
        };
        let (fr, er) = pieces(m, mr);
        let (fv, ev) = pieces(pos, nv);
        let row = |r: usize| fv as f64 * tile(r, nv) + if ev > 0 { tile(r, ev) } else { 0.0 };
        fr as f64 * row(mr) + if er > 0 { row(er) } else { 0.0 }
    };
    best(m, pos, cost)
}

/// Most of `chans` source channels, `chan_bytes` apart, that one k block of the
/// outer engine should read side by side. Each channel a page or more from the next
/// is a stream of its own; where all of them do not stay in L2 they come from L3 or
/// memory on every pass, and only [`PREFETCH_STREAMS`] of them are prefetched.
/// Measured (2-core Intel Xeon, Golden Cove class, batch 1, 2 threads, 1×1
/// convolutions, 6×2 tile, single runs of a noisy machine): 256 channels of 56×56
/// ran at 23–30 GFLOP/s in blocks of 64 or more and 36–58 in blocks of 8–32; 128 of
/// 56×56 at 32 in blocks of 64 or 128 and 37–65 in blocks of 8–32; 64 channels of
/// 56×56 (800 KiB, in L2) and 1024 of 14×14 (784 bytes apart) did not care.
/// ResNet-50 at batch 1 (5 interleaved rounds) ran 115.0, 114.7, 115.7 and 122.2 ms
/// with limits of 8, 16, 32 and no limit: 32 splits least.
pub(super) fn streamed_chans(chans: usize, chan_bytes: i64) -> usize {
    let in_l2 = chans as i64 * chan_bytes <= L2_BYTES;
    if in_l2 || chan_bytes < 4096 {
        chans
    } else {
        PREFETCH_STREAMS
    }
}

/// Tile for the dot engine: `m` rows (at most `mr_max` per tile) against `entries`
/// reduction targets per channel iteration, over `k` positions. Row blocks become
/// parts, so the cost is the makespan of the blocks on `threads` threads.
pub(super) fn dot_tile(m: usize, mr_max: usize, entries: usize, k: usize, threads: usize) -> (usize, usize) {
    let cost = |mr: usize, ns: usize| {
        let tile = |r: usize, s: usize| step_cycles(r, s, r + s) * k as f64 + (r * s) as f64 * 8.0 + 30.0;
        let (fs, es) = pieces(entries, ns);
        let row = |r: usize| fs as f64 * tile(r, ns) + if es > 0 { tile(r, es) } else { 0.0 };
        let blocks = m.div_ceil(mr);
        blocks.div_ceil(threads.max(1)) as f64 * row(mr)
    };
    best(m.min(mr_max.max(1)), entries, cost)
}

/// The cheapest fitting (rows, columns) tile, no bigger than the problem.
fn best(m: usize, n: usize, cost: impl Fn(usize, usize) -> f64) -> (usize, usize) {
    // `m` bounds the tile height; the cost closure knows the real row count.
    let mut pick = (1, 1, f64::INFINITY);
    // Taller first: on a tie, fewer (unaligned) B loads per step.
    for a in (1..=m.min(12)).rev() {
        for b in 1..=n.min(12) {
            if fits(a, b) {
                let c = cost(a, b);
                if c < pick.2 - 1e-9 {
                    pick = (a, b, c);
                }
            }
        }
    }
    (pick.0, pick.1)
}

/// One part of a tiled kernel's work (every family's: see `drive`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Part {
    /// Units: samples or sample groups, or, for GEMMs, columns of C.
    pub units: Range<usize>,
    /// Row blocks (tile-row blocks, across groups).
    pub blocks: Range<usize>,
    /// Grid rows.
    pub rows: Range<usize>,
}

/// How many parts `flops` of work should be split into: one per `min_part_flops`, at
/// most `max_parts`, a multiple of the threads when more than them (so that they
/// share the parts evenly).
pub(super) fn want_parts(flops: f64, opts: &ConvOptions) -> usize {
    let threads = opts.threads.max(1);
    let want = ((flops / opts.min_part_flops.max(1.0)) as usize).clamp(1, opts.max_parts.max(1));
    if want > threads {
        want - want % threads
    } else {
        want
    }
}

/// Splits units × blocks × rows into about `want` parts for `threads` threads,
/// preferring units, then blocks, then rows (or rows before blocks with `rows_first`).
pub(super) fn grid_parts(
    (units, blocks, rows): (usize, usize, usize),
    want: usize,
    rows_first: bool,
    threads: usize,
) -> Vec<Part> {
    let pu = balanced(units, want, threads);
    let (pb, pr) = if rows_first {
        let pr = balanced(rows, want.div_ceil(pu), threads);
        (balanced(blocks, want.div_ceil(pu * pr), threads), pr)
    } else {
        let pb = balanced(blocks, want.div_ceil(pu), threads);
        (pb, balanced(rows, want.div_ceil(pu * pb), threads))
    };
    let mut parts = Vec::new();
    for u in split_even(units, pu) {
        for b in split_even(blocks, pb) {
            for r in split_even(rows, pr) {
                parts.push(Part { units: u.clone(), blocks: b.clone(), rows: r });
            }
        }
    }
    parts
}

/// The piece count `<= want` for `n` equal items that keeps `threads` threads
/// busiest when they pull the pieces in order: the largest count within 5% of the
/// best estimated efficiency (more pieces also absorb interruptions).
pub(super) fn balanced(n: usize, want: usize, threads: usize) -> usize {
    let threads = threads.max(1);
    let eff = |c: usize| n as f64 / (threads as f64 * makespan(&split_even(n, c), threads));
    let top = (1..=want.min(n).max(1)).map(eff).fold(0.0, f64::max);
    (1..=want.min(n).max(1)).rev().find(|&c| eff(c) >= 0.95 * top).unwrap_or(1)
}

/// Time for `threads` threads to run `pieces` (lengths = work) taking them in order.
fn makespan(pieces: &[std::ops::Range<usize>], threads: usize) -> f64 {
    let mut free = vec![0usize; threads];
    for p in pieces {
        let t = free.iter_mut().min().map_or(0, |t| {
            *t += p.len();
            *t
        });
        let _ = t;
    }
    free.iter().copied().max().unwrap_or(0).max(1) as f64
}

/// `n` items in `k` contiguous ranges whose sizes differ by at most one.
pub(super) fn split_even(n: usize, k: usize) -> Vec<Range<usize>> {
    let k = k.clamp(1, n.max(1));
    (0..k).map(|i| (i * n / k)..((i + 1) * n / k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_per_l1_set() {
        // 4 KiB apart (1024 floats): all rows in one set; 2 KiB: two sets.
        assert_eq!(rows_per_set(12, 4096), 12);
        assert_eq!(rows_per_set(12, 16384), 12);
        assert_eq!(rows_per_set(12, 2048), 6);
        assert_eq!(rows_per_set(12, 6144), 6);
        // 1000 floats apart, or a few bytes: spread over the sets.
        assert_eq!(rows_per_set(12, 4000), 1);
        assert_eq!(rows_per_set(12, 36), 1);
        assert_eq!(rows_per_set(12, 0), 1);
    }

    #[test]
    fn sources_beyond_l2_are_read_a_prefetchable_number_of_channels_at_a_time() {
        // ResNet-50's 256 channels of 56×56 (12.5 KiB apart, 3.1 MiB): blocks of 32.
        assert_eq!(streamed_chans(256, 4 * 56 * 56), PREFETCH_STREAMS);
        // 64 channels of 56×56 stay in L2; 1024 channels of 14×14 share pages.
        assert_eq!(streamed_chans(64, 4 * 56 * 56), 64);
        assert_eq!(streamed_chans(1024, 4 * 14 * 14), 1024);
    }

    #[test]
    fn aliasing_rows_limit_the_tile_height() {
        let costs = |a_row_bytes| OuterCosts { direct: true, store: 1.0, b_streams: false, a_row_bytes };
        let (mr, _) = outer_tile(2048, 13, 1024, costs(4096));
        assert!(mr <= A_ROWS_PER_SET, "{mr} rows 4 KiB apart");
        let (mr, _) = outer_tile(2048, 13, 1000, costs(4000));
        assert_eq!(mr, 12, "rows that share no set keep the tallest tile");
    }
}
