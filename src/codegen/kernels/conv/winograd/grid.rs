//! How Winograd tiles map onto the vector lanes: the tile grid of an output map
//! as slots of four tiles ([`Grid`], with tile rows packed on small maps) and the
//! runs of slots within one sample that a chunk's transforms walk.

use std::ops::Range;

use crate::codegen::kernels::conv::geometry::ConvGeom;

/// The tile-row slots `slots` (numbered across samples, `th` per sample) as runs
/// within one sample: (first slot's offset from `slots.start`, sample, tile rows).
pub(super) fn sample_runs(slots: Range<usize>, th: usize) -> impl Iterator<Item = (usize, usize, Range<usize>)> {
    let start = slots.start;
    std::iter::successors(Some(start), move |&u| Some((u / th + 1) * th)).take_while(move |&u| u < slots.end).map(
        move |u| {
            let (n, tr) = (u / th, u % th);
            (u - start, n, tr..th.min(tr + slots.end - u))
        },
    )
}

/// The tile grid of one sample's output map for m×m tiles as the vector lanes see
/// it: `slots` slots of `tw4` tiles each (a multiple of four). A slot is one tile
/// row of `tw` tiles (padded to whole vectors); or `pack` consecutive tile rows
/// side by side, tile k of the slot at tile row k / tw, column k % tw, so that
/// the lanes of the vectors hold tiles rather than padding.
///
/// Two kinds of packed grids:
/// - rows of at most two tiles (F(4×4) on maps up to 8 wide, F(2×2) up to 4):
///   one group of four tiles per slot, a rectangle of the map, which the output
///   side stages where it reaches past the map's edges;
/// - F(4×4) on maps of whole tiles whose tile rows are not whole vectors (56
///   pixels: 14 tiles a row, 16 lanes; 28: 7 in 8): as many rows per slot as make
///   the fewest lanes for the kernel's parts ([`grid`]; 56 at batch 8: two rows,
///   28 tiles in 7 groups; 28: the whole map, 49 tiles in 13 groups). Groups then straddle tile rows
///   ([`Grid::straddles`]), every tile of every slot lies inside the map, and the
///   lanes past a slot's `pack·tw` tiles are padding.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
    pub th: usize,
    pub tw: usize,
    pub pack: usize,
    pub slots: usize,
    pub tw4: usize,
}

impl Grid {
    /// One tile row per slot.
    fn rows(g: &ConvGeom, m: usize) -> Grid {
        let (th, tw) = (g.oh.div_ceil(m), g.ow.div_ceil(m));
        Grid { th, tw, pack: 1, slots: th, tw4: 4 * tw.div_ceil(4) }
    }

    /// `pack` tile rows per slot.
    fn packed(self, pack: usize) -> Grid {
        Grid { pack, slots: self.th.div_ceil(pack), tw4: 4 * (pack * self.tw).div_ceil(4), ..self }
    }

    /// Tiles of one tile row in a slot: all of the slot unpacked, `tw` packed.
    pub(super) fn row_tiles(&self) -> usize {
        if self.pack > 1 {
            self.tw
        } else {
            self.tw4
        }
    }

    /// Whether groups of four tiles may hold tiles of two tile rows (the second
    /// kind of packed grid): the transforms then place each group's tiles on
    /// their own.
    pub(super) fn straddles(&self) -> bool {
        self.pack > 1 && self.tw > 2
    }

    /// A packed slot's groups as the transforms walk them: the tiles of a group
    /// repeat their pattern every lcm(tw, 4) tiles (a period of whole tile rows), so
    /// a loop over periods with one period's groups unrolled, then the rest of the
    /// slot's groups, unrolled. Unrolling a whole slot (98 tiles of 56×56 in 25
    /// groups) had doubled ResNet-152's compile time.
    pub(super) fn slot_walk(&self) -> SlotWalk {
        let tiles = self.pack * self.tw;
        let period = lcm(self.tw, 4);
        let periods = tiles / period;
        // Tile j of a run of n tiles: (tile row, column) from the run's first row.
        let groups = |n: usize| -> Vec<[Option<(usize, usize)>; 4]> {
            (0..n.div_ceil(4))
                .map(|q| [0, 1, 2, 3].map(|l| (4 * q + l < n).then(|| ((4 * q + l) / self.tw, (4 * q + l) % self.tw))))
                .collect()
        };
        SlotWalk {
            period: groups(period),
            period_rows: period / self.tw,
            periods,
            rest: groups(tiles - periods * period),
        }
    }

    /// Tiles of one tile row in a group of four: four unpacked, `tw` packed (not
    /// for grids whose groups straddle rows).
    pub(super) fn group_row_tiles(&self) -> usize {
        debug_assert!(!self.straddles());
        4 / self.pack
    }

    /// Output columns one group of four tiles covers (as `group_row_tiles`).
    pub(super) fn group_width(&self, m: usize) -> usize {
        self.group_row_tiles() * m
    }
}

/// How the transforms walk a packed slot ([`Grid::slot_walk`]): `periods` times the
/// groups of `period` (each of its lanes' tiles as (tile row, column) from the
/// period's first tile row, `period_rows` rows), then the groups of `rest` from the
/// row after the last period; None marks a padding lane.
pub(super) struct SlotWalk {
    pub period: Vec<[Option<(usize, usize)>; 4]>,
    pub period_rows: usize,
    pub periods: usize,
    pub rest: Vec<[Option<(usize, usize)>; 4]>,
}

fn lcm(a: usize, b: usize) -> usize {
    let gcd = |mut a: usize, mut b: usize| {
        while b > 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    a / gcd(a, b) * b
}

/// The kernels' grid (see [`Grid`]): of the candidates for `g` and m, the one with
/// the fewest `lanes` (what the kernel multiplies, e.g. the busiest part's chunks),
/// ties to the fewest rows per slot. F(4×4) on ResNet's 7×7 maps has 2×2 tiles:
/// one slot of four instead of two slots half padding, which halves its
/// multiplications there.
pub(super) fn grid(g: &ConvGeom, m: usize, lanes: impl Fn(&Grid) -> usize) -> Grid {
    let rows = Grid::rows(g, m);
    match (m, rows.tw) {
        (4, 1) => rows.packed(4),
        (4, 2) | (2, 2) => rows.packed(2),
        // F(6×6) is never packed: a 6-pixel tile row does not end on a vector
        // boundary. Only divisors of the tile rows, so that no slot reaches past
        // the map (with all tiles in one part, the whole map in one slot has the
        // fewest lanes, 4·⌈th·tw/4⌉; VGG-16's 56² layers at batch 1 in two parts
        // take seven rows a slot, 100 lanes each, where one or two rows make 112).
        // The transforms unroll a period of lcm(tw, 4) tiles: at most 16 groups (odd
        // rows of up to 15 tiles, even ones of up to 30; wider rows leave at most 3
        // of 20 lanes on padding).
        (4, tw) if g.ow.is_multiple_of(m) && g.oh.is_multiple_of(m) && lcm(tw, 4) <= 64 => (1..=rows.th)
            .filter(|&p| rows.th.is_multiple_of(p))
            .map(|p| rows.packed(p))
            .min_by_key(|grid| (lanes(grid), grid.pack))
            .unwrap_or(rows),
        _ => rows,
    }
}

/// Every tile of the batch once: the lanes of a kernel that can run any number of
/// tiles in its last chunk (and of the cost model).
pub(super) fn all_lanes(g: &ConvGeom) -> impl Fn(&Grid) -> usize + '_ {
    |grid| g.n * grid.slots * grid.tw4
}
