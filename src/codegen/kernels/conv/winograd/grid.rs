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
/// row of `tw` tiles; or, where a tile row has at most two tiles (F(4×4) on maps
/// up to 8 wide, F(2×2) up to 4), `pack` consecutive tile rows side by side, so
/// that the four lanes of a vector hold tiles rather than padding.
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

    /// Tiles of one tile row in a slot: all of the slot unpacked, `tw` packed.
    pub(super) fn row_tiles(&self) -> usize {
        self.tw4 / self.pack
    }

    /// Tiles of one tile row in a group of four: four unpacked, `tw` packed.
    pub(super) fn group_row_tiles(&self) -> usize {
        4 / self.pack
    }

    /// Output columns one group of four tiles covers.
    pub(super) fn group_width(&self, m: usize) -> usize {
        self.group_row_tiles() * m
    }
}

/// The kernels' grid: tile rows packed where a row holds at most two tiles.
/// F(4×4) on ResNet's 7×7 maps has 2×2 tiles: one slot of four instead of two
/// slots half padding, which halves its multiplications there.
pub(super) fn grid(g: &ConvGeom, m: usize) -> Grid {
    let rows = Grid::rows(g, m);
    // F(6×6) is never packed: a 6-pixel tile row does not end on a vector boundary.
    let pack = match (m, rows.tw) {
        (4, 1) => 4,
        (4, 2) | (2, 2) => 2,
        _ => 1,
    };
    if pack == 1 {
        return rows;
    }
    Grid { pack, slots: rows.th.div_ceil(pack), tw4: 4, ..rows }
}
