//! Sliding-window geometry shared by convolution and pooling: validates an NCHW input
//! and output against a [`Window`] (output size from [`crate::ir::window_out`]) and
//! enumerates, for each output position, the window taps that fall inside the input.

use super::contract::Check;
use crate::ir::Window;

/// The sizes of one windowed kernel invocation, all validated.
pub(super) struct Geometry {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    sh: usize,
    sw: usize,
    top: usize,
    left: usize,
    bottom: usize,
    right: usize,
}

/// A window position that lies inside the input: it reads input row `ih`, column `iw`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tap {
    pub ih: usize,
    pub iw: usize,
}

impl Geometry {
    /// Checks that `x` is N×C×H×W and `y` is N×C'×oh×ow with (oh, ow) the window's output size.
    pub(super) fn new(ck: &Check, win: &Window, ceil: bool, x: &[usize], y: &[usize]) -> Geometry {
        let [n, c_in, h, w] = ck.nchw("the input map", x);
        let (oh, ow) = ck.window_out(win, h, w, ceil);
        let c_out = ck.nchw("the output map", y)[1];
        ck.dims4("the output map", y, [n, c_out, oh, ow]);
        let u = |v: u64| v as usize;
        Geometry {
            n,
            c_in,
            h,
            w,
            c_out,
            oh,
            ow,
            kh: u(win.kh),
            kw: u(win.kw),
            sh: u(win.sh),
            sw: u(win.sw),
            top: u(win.pad.top),
            left: u(win.pad.left),
            bottom: u(win.pad.bottom),
            right: u(win.pad.right),
        }
    }

    /// Flat index of input element (n, c, ih, iw).
    pub(super) fn x_at(&self, n: usize, c: usize, ih: usize, iw: usize) -> usize {
        ((n * self.c_in + c) * self.h + ih) * self.w + iw
    }

    /// Flat index of output element (n, c, i, j).
    pub(super) fn y_at(&self, n: usize, c: usize, i: usize, j: usize) -> usize {
        ((n * self.c_out + c) * self.oh + i) * self.ow + j
    }

    /// The taps of output position (i, j) that read inside the input, in row-major window order.
    pub(super) fn taps(&self, i: usize, j: usize) -> impl Iterator<Item = Tap> + '_ {
        let (r0, c0) = self.origin(i, j);
        (0..self.kh).flat_map(move |p| {
            (0..self.kw).filter_map(move |q| {
                let ih = inside(r0 + p as isize, self.h)?;
                let iw = inside(c0 + q as isize, self.w)?;
                Some(Tap { ih, iw })
            })
        })
    }

    /// For output row `i` and tap (p, q): the input row it reads and the output columns
    /// `j0..j1` whose tap lands inside the input (column `j` reads input column
    /// `first + (j − j0)·sw`). `None` if the row lies in the padding.
    pub(super) fn run(&self, i: usize, p: usize, q: usize) -> Option<Run> {
        let ih = inside((i * self.sh + p) as isize - self.top as isize, self.h)?;
        let (w, left, sw) = (self.w as isize, self.left as isize, self.sw as isize);
        let q = q as isize;
        // Columns j with 0 ≤ j·sw + q − left < w.
        let j0 = if q >= left { 0 } else { (left - q + sw - 1) / sw };
        let j1 = if w - 1 + left - q < 0 { 0 } else { ((w - 1 + left - q) / sw + 1).min(self.ow as isize) };
        (j0 < j1).then(|| Run {
            ih,
            j0: j0 as usize,
            j1: j1 as usize,
            first: (j0 * sw + q - left) as usize,
            sw: self.sw,
        })
    }

    /// How many window positions of (i, j) lie inside the padded input (input plus
    /// padding on every side): a ceil-mode window can hang past the trailing padding.
    pub(super) fn padded_extent(&self, i: usize, j: usize) -> usize {
        let (r0, c0) = self.origin(i, j);
        let rows = (r0 + self.kh as isize).min((self.h + self.bottom) as isize) - r0;
        let cols = (c0 + self.kw as isize).min((self.w + self.right) as isize) - c0;
        (rows.max(0) * cols.max(0)) as usize
    }

    /// Input coordinates of the window's top-left tap (negative inside the leading padding).
    fn origin(&self, i: usize, j: usize) -> (isize, isize) {
        ((i * self.sh) as isize - self.top as isize, (j * self.sw) as isize - self.left as isize)
    }
}

/// Output columns `j0..j1` of one row whose tap reads input row `ih`, starting at input
/// column `first` and advancing by `sw`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    pub ih: usize,
    pub j0: usize,
    pub j1: usize,
    pub first: usize,
    pub sw: usize,
}

/// `v` as an index if it lies in `0..len`.
fn inside(v: isize, len: usize) -> Option<usize> {
    (v >= 0 && (v as usize) < len).then_some(v as usize)
}
