//! Which taps can touch real source data: a tap that reads only the zero margin of
//! a prepared window for a whole tile contributes nothing and is skipped.
//!
//! Consumes: for each axis, how grid and tap indices map to source coordinates
//! ([`Axis`]), and the tiling of a grid row. Produces: [`RowBounds`] (tap rows
//! bounded at run time per grid row) and [`ColClass`]es (runs of tiles with the tap
//! columns valid for at least one real lane of the tile).
//! Guarantees: every skipped (tap, lane) pair reads a source coordinate outside the
//! source, i.e. a zero; the classes cover the row's positions exactly, in order.
//!
//! This matters for data gradients: a stride-1 data gradient is a correlation over
//! dy padded by the kernel size minus one, so on LeNet's 14×14 maps about half the
//! taps of a dense sweep would multiply zeros.

use std::ops::Range;

use super::outer::{ColClass, RowBounds};

/// Source coordinate `base + grid·g_step + tap·t_step` along one axis, valid in
/// `0..src`; `taps` taps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Axis {
    pub base: isize,
    pub g_step: isize,
    pub t_step: isize,
    pub taps: usize,
    pub src: usize,
}

impl Axis {
    /// Taps valid at grid index `g` (a contiguous range, maybe empty).
    pub fn valid(&self, g: isize) -> Range<usize> {
        let s = self.base + g * self.g_step;
        let ok = |t: usize| {
            let c = s + t as isize * self.t_step;
            c >= 0 && c < self.src as isize
        };
        let lo = (0..self.taps).find(|&t| ok(t)).unwrap_or(self.taps);
        let hi = (lo..self.taps).find(|&t| !ok(t)).unwrap_or(self.taps);
        lo..hi
    }

    /// The fraction of (grid index, tap) pairs over `0..n` that are invalid.
    pub fn waste(&self, n: usize) -> f64 {
        let valid: usize = (0..n as isize).map(|g| self.valid(g).len()).sum();
        1.0 - valid as f64 / (n * self.taps).max(1) as f64
    }

    /// Run-time tap-row bounds when the invalid tap rows over `0..n`, of `cols` taps
    /// each, hold more than `min_taps` taps per grid index on average, else None
    /// (every tap row summed).
    pub fn bounds(&self, n: usize, cols: usize, min_taps: f64) -> Option<RowBounds> {
        (self.waste(n) * (self.taps * cols) as f64 > min_taps).then_some(RowBounds {
            grid_step: self.g_step as i64,
            tap_step: self.t_step as i64,
            src_rows: self.src as i64,
        })
    }
}

/// How a grid row is tiled: `positions` positions of `width` grid columns each
/// (4 for spatial lanes, 1 for batch lanes), the last position with `last_lanes`
/// real columns; tiles of `nv` positions; a partial last position always ends a tile.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowTiling {
    pub positions: usize,
    pub width: usize,
    pub last_lanes: usize,
    pub nv: usize,
    /// Real lanes of the other vectors (batch groups).
    pub lanes: usize,
    /// A partial last vector may only be read on its real lanes.
    pub partial_b: bool,
}

/// The tile classes of a grid row; with `skip` false every class sums all columns.
pub(super) fn col_classes(axis: &Axis, t: &RowTiling, skip: bool) -> Vec<ColClass> {
    let partial = t.width > 1 && t.last_lanes < t.width;
    let full = if partial { (t.positions - 1) / t.nv } else { t.positions / t.nv };
    let mut tiles: Vec<(usize, usize)> = (0..full).map(|k| (k * t.nv, t.nv)).collect();
    if full * t.nv < t.positions {
        tiles.push((full * t.nv, t.positions - full * t.nv));
    }
    let mut classes: Vec<ColClass> = Vec::new();
    for (first, nv) in tiles {
        let last = first + nv == t.positions;
        let cols = if skip { tile_cols(axis, t, first, nv) } else { (0..axis.taps).collect() };
        let class = ColClass {
            tiles: 1,
            nv,
            last_lanes: if last && t.width > 1 { t.last_lanes } else { t.lanes },
            partial_b: last && partial && t.partial_b,
            cols,
        };
        match classes.last_mut() {
            Some(c) if ColClass { tiles: c.tiles, ..class.clone() } == *c => c.tiles += 1,
            _ => classes.push(class),
        }
    }
    classes
}

/// Tap columns valid for some real column of the tile starting at `first`.
fn tile_cols(axis: &Axis, t: &RowTiling, first: usize, nv: usize) -> Vec<usize> {
    let cols = (first * t.width)..((first + nv) * t.width).min((t.positions - 1) * t.width + t.last_lanes.max(1));
    let mut keep = vec![false; axis.taps];
    for c in cols {
        for k in axis.valid(c as isize) {
            keep[k] = true;
        }
    }
    (0..axis.taps).filter(|&k| keep[k]).collect()
}
