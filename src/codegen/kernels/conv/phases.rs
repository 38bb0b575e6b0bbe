//! The stride phases of a data gradient: dx split by `(ih + pt) mod sh` and
//! `(iw + pl) mod sw`, each a stride-1 correlation over dy with a sub-grid of taps.
//!
//! Consumes: a [`ConvGeom`]. Produces: the non-empty [`Phase`]s (taps, dy origin,
//! grid size, dx offset) and the one dy [`Window`] that serves them all.
//! Guarantees: the phases' grids partition dx exactly; tap (p, q) of phase (a, b)
//! with p = a + sh·m, q = b + sw·n reads dy[u − m][v − n] for grid position (u, v).

use super::geometry::ConvGeom;
use super::layout::Lanes;
use super::pack::Window;

/// One phase: its taps and the grid of dx positions it writes.
#[derive(Debug, Clone)]
pub(super) struct Phase {
    /// (p, q, m, n): tap and its step back in dy rows and columns.
    pub taps: Vec<(usize, usize, usize, usize)>,
    /// First grid position in dy coordinates (u0, v0), and the grid size.
    pub u0: isize,
    pub v0: isize,
    pub rows: usize,
    pub cols: usize,
    /// Element offset of grid (0, 0) inside a dx channel.
    pub off: usize,
}

impl Phase {
    /// The tap grid: (tap rows, tap columns).
    pub fn grid(&self) -> (usize, usize) {
        let rows = self.taps.iter().map(|t| t.2 + 1).max().unwrap_or(0);
        let cols = self.taps.iter().map(|t| t.3 + 1).max().unwrap_or(0);
        (rows, cols)
    }
}

/// Smallest u with `s·u + a − pad >= 0` and one past the largest with `<= len − 1`.
fn range(a: usize, s: usize, pad: usize, len: usize) -> (isize, isize) {
    let (a, s, pad, len) = (a as isize, s as isize, pad as isize, len as isize);
    ((pad - a).div_euclid(s) + isize::from((pad - a).rem_euclid(s) != 0), (len - 1 + pad - a).div_euclid(s) + 1)
}

/// The non-empty phases of `g`.
pub(super) fn phases(g: &ConvGeom) -> Vec<Phase> {
    let mut out = Vec::new();
    for a in 0..g.sh {
        for b in 0..g.sw {
            let (u0, u1) = range(a, g.sh, g.pt, g.h);
            let (v0, v1) = range(b, g.sw, g.pl, g.w);
            if u1 <= u0 || v1 <= v0 {
                continue;
            }
            let taps = (a..g.kh)
                .step_by(g.sh)
                .flat_map(|p| (b..g.kw).step_by(g.sw).map(move |q| (p, q, (p - a) / g.sh, (q - b) / g.sw)))
                .collect();
            let row0 = (g.sh as isize * u0 + a as isize - g.pt as isize) as usize;
            let col0 = (g.sw as isize * v0 + b as isize - g.pl as isize) as usize;
            let (rows, cols) = ((u1 - u0) as usize, (v1 - v0) as usize);
            out.push(Phase { taps, u0, v0, rows, cols, off: row0 * g.w + col0 });
        }
    }
    out
}

/// The dy window every phase reads (spatial vectors reach `4·⌈cols/4⌉` columns).
pub(super) fn window(g: &ConvGeom, phases: &[Phase], lanes: Lanes) -> Window {
    let one = |ph: &Phase| {
        let (mmax, nmax) = ph.taps.iter().fold((0, 0), |(m, n), t| (m.max(t.2), n.max(t.3)));
        let cols = if lanes == Lanes::Spatial { 4 * ph.cols.div_ceil(4) } else { ph.cols };
        Window {
            r_lo: ph.u0 - mmax as isize,
            rows: ph.rows + mmax,
            c_lo: ph.v0 - nmax as isize,
            cols: cols + nmax,
            phases: 1,
        }
    };
    let first = Window { r_lo: 0, rows: g.oh, c_lo: 0, cols: g.ow, phases: 1 };
    phases.iter().map(one).fold(first, |w, p| w.union(&p))
}
