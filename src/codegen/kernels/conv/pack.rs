//! Data movement done in Rust before the engines run: the pre-broadcast A panel
//! and the prepared source windows that fuse zero padding (and, for strided
//! convolutions, the split into column phases, or the interleaving of four samples)
//! into one copy of the input, so the engines never test bounds.
//!
//! Consumes: plain slices (one sample's channels, each `h × w`, `plane` apart).
//! Produces:
//! * [`pack_broadcast`]: k steps of `rows` vectors of four equal floats;
//! * [`prepare_spatial`]: per channel, `phases` column phases of a [`Window`], each
//!   `rows × pcols`, value (R, C) at phase `(C − c_lo) mod phases`, column
//!   `(C − c_lo) div phases` — only the rows and phases a part reads ([`Need`]);
//! * [`prepare_batch`]: per channel, the window's `rows × cols` pixels, each four
//!   floats holding that pixel of four consecutive samples;
//! * [`prepare_subsampled`]: per channel, every sh-th row and sw-th column as one
//!   flat row (a strided 1×1 convolution read as a pointwise one).
//!
//! Guarantees: positions outside the source (padding) and lanes of missing samples
//! are +0.0; every read is a bounds-checked slice access.

/// A rectangle of source coordinates (which may reach outside the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub r_lo: isize,
    pub rows: usize,
    pub c_lo: isize,
    pub cols: usize,
    /// Column phases (the stride along a row) for the spatial layout.
    pub phases: usize,
}

impl Window {
    /// Columns per phase.
    pub fn pcols(&self) -> usize {
        self.cols.div_ceil(self.phases)
    }

    /// Floats per channel in the spatial layout.
    pub fn plane(&self) -> usize {
        self.phases * self.rows * self.pcols()
    }

    /// Floats per channel in the four-sample layout.
    pub fn plane4(&self) -> usize {
        4 * self.rows * self.cols
    }

    /// Element offset of source coordinate (r, c) inside a prepared spatial channel.
    pub fn at(&self, r: isize, c: isize) -> isize {
        let (dr, dc) = (r - self.r_lo, c - self.c_lo);
        let ph = dc.rem_euclid(self.phases as isize);
        let col = dc.div_euclid(self.phases as isize);
        (ph * self.rows as isize + dr) * self.pcols() as isize + col
    }

    /// Element offset of source pixel (r, c) inside a prepared four-sample channel.
    pub fn at4(&self, r: isize, c: isize) -> isize {
        4 * ((r - self.r_lo) * self.cols as isize + (c - self.c_lo))
    }

    /// The grown window that also covers `other`.
    pub fn union(&self, other: &Window) -> Window {
        let r_lo = self.r_lo.min(other.r_lo);
        let c_lo = self.c_lo.min(other.c_lo);
        let r_hi = (self.r_lo + self.rows as isize).max(other.r_lo + other.rows as isize);
        let c_hi = (self.c_lo + self.cols as isize).max(other.c_lo + other.cols as isize);
        Window { r_lo, rows: (r_hi - r_lo) as usize, c_lo, cols: (c_hi - c_lo) as usize, phases: self.phases }
    }
}

/// Source channels of one sample: `chans` planes of `h × w`, `plane` floats apart.
#[derive(Debug, Clone, Copy)]
pub(super) struct Planes<'a> {
    pub data: &'a [f32],
    pub chans: usize,
    pub h: usize,
    pub w: usize,
    pub plane: usize,
}

impl Planes<'_> {
    /// Row `r` of channel `c`, if `r` is inside the source.
    fn row(&self, c: usize, r: isize) -> Option<&[f32]> {
        let r = usize::try_from(r).ok().filter(|&r| r < self.h)?;
        let at = c * self.plane + r * self.w;
        Some(&self.data[at..at + self.w])
    }
}

/// Writes `at(r, k)` for k steps `0..ksteps`, rows `0..rows`, each repeated in 4 lanes.
pub(super) fn pack_broadcast(dst: &mut [f32], rows: usize, ksteps: usize, at: impl Fn(usize, usize) -> f32) {
    for (k, step) in dst.chunks_exact_mut(4 * rows).take(ksteps).enumerate() {
        for (r, lanes) in step.chunks_exact_mut(4).enumerate() {
            lanes.copy_from_slice(&[at(r, k); 4]);
        }
    }
}

/// The in-range part of window row columns: (first window column, source column, count)
/// for columns `c_lo + phase + i·step`, `i < n`.
fn span(c_lo: isize, phase: usize, step: usize, n: usize, w: usize) -> (usize, usize, usize) {
    let first = c_lo + phase as isize;
    let s = step as isize;
    // Smallest i with first + i·s >= 0, and the count of i with first + i·s < w.
    let i0 = if first >= 0 { 0 } else { (-first + s - 1) / s };
    let i1 = if first >= w as isize { 0 } else { ((w as isize - first + s - 1) / s).min(n as isize) };
    let i0 = i0.min(n as isize);
    if i1 <= i0 {
        return (0, 0, 0);
    }
    (i0 as usize, (first + i0 * s) as usize, (i1 - i0) as usize)
}

/// Which window rows and column phases the engines will read: rows in `rows` with
/// `(r − rows.start) mod period < keep` — a stride larger than the kernel skips rows
/// — and phases with `phases[ph]`. The rest of the window is left unwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Need {
    pub rows: std::ops::Range<usize>,
    pub period: usize,
    pub keep: usize,
    pub phases: Vec<bool>,
}

impl Need {
    /// Every row and phase of `win`.
    pub fn all(win: &Window) -> Need {
        Need { rows: 0..win.rows, period: 1, keep: 1, phases: vec![true; win.phases] }
    }

    fn row(&self, r: usize) -> bool {
        self.rows.contains(&r) && (r - self.rows.start) % self.period < self.keep
    }

    /// Window floats written per channel (for cost estimates).
    pub fn floats(&self, win: &Window) -> usize {
        let rows = (self.rows.clone()).filter(|&r| self.row(r)).count();
        rows * win.pcols() * self.phases.iter().filter(|&&p| p).count()
    }
}

/// Prepares the needed rows and phases of every channel of `src` in the spatial
/// layout of `win` into `dst`.
pub(super) fn prepare_spatial(src: &Planes, win: &Window, need: &Need, dst: &mut [f32]) {
    let (pc, ph) = (win.pcols(), win.phases);
    for c in 0..src.chans {
        let chan = &mut dst[c * win.plane()..(c + 1) * win.plane()];
        for (k, out) in chan.chunks_exact_mut(pc).enumerate() {
            let (phase, r) = (k / win.rows, k % win.rows);
            if !need.phases[phase] || !need.row(r) {
                continue;
            }
            let Some(row) = src.row(c, win.r_lo + r as isize) else {
                out.fill(0.0);
                continue;
            };
            let (i0, s0, n) = span(win.c_lo, phase, ph, pc, src.w);
            out[..i0].fill(0.0);
            out[i0 + n..].fill(0.0);
            copy_strided(&mut out[i0..i0 + n], &row[s0..], ph);
        }
    }
}

/// Writes every channel of `src` subsampled by `steps` (rows 0, sh, …, columns
/// 0, sw, …; `out` = (rows, columns) of the result) as one flat row of
/// `rows · columns` values, channels `plane` floats apart, the rest of each plane
/// zero.
pub(super) fn prepare_subsampled(
    src: &Planes,
    steps: (usize, usize),
    out: (usize, usize),
    plane: usize,
    dst: &mut [f32],
) {
    let ((sh, sw), (oh, ow)) = (steps, out);
    for c in 0..src.chans {
        let chan = &mut dst[c * plane..(c + 1) * plane];
        let (rows, rest) = chan.split_at_mut(oh * ow);
        for (r, out) in rows.chunks_exact_mut(ow).enumerate() {
            // Rows past the source (none, for `ConvGeom::subsampled` geometries) read as padding.
            match src.row(c, (r * sh) as isize) {
                Some(row) => copy_strided(out, row, sw),
                None => out.fill(0.0),
            }
        }
        rest.fill(0.0);
    }
}

/// `dst[i] = src[i·step]`; stride 2 as a deinterleave of fixed-size chunks, which
/// the compiler vectorises (a strided iterator does not).
fn copy_strided(dst: &mut [f32], src: &[f32], step: usize) {
    match step {
        1 => dst.copy_from_slice(&src[..dst.len()]),
        2 => {
            let full = dst.len() / 8 * 8;
            for (d, s) in dst[..full].chunks_exact_mut(8).zip(src.chunks(16)) {
                for (k, v) in d.iter_mut().enumerate() {
                    *v = s[2 * k];
                }
            }
            for (i, v) in dst[full..].iter_mut().enumerate() {
                *v = src[2 * (full + i)];
            }
        }
        _ => {
            for (d, s) in dst.iter_mut().zip(src.iter().step_by(step)) {
                *d = *s;
            }
        }
    }
}

/// Prepares up to four samples (`src[l]` for lane l, missing ones zero) in the
/// four-sample layout of `win` into `dst`.
pub(super) fn prepare_batch(src: &[Option<Planes>; 4], win: &Window, dst: &mut [f32]) {
    let Some(first) = src.iter().flatten().next() else {
        return;
    };
    let (chans, w) = (first.chans, first.w);
    let (i0, s0, n) = span(win.c_lo, 0, 1, win.cols, w);
    let zeros = vec![0f32; n];
    for c in 0..chans {
        let plane = &mut dst[c * win.plane4()..(c + 1) * win.plane4()];
        for (r, out) in plane.chunks_exact_mut(4 * win.cols).enumerate() {
            let rows: [Option<&[f32]>; 4] =
                std::array::from_fn(|l| src[l].as_ref().and_then(|p| p.row(c, win.r_lo + r as isize)));
            if rows.iter().all(Option::is_none) {
                out.fill(0.0);
                continue;
            }
            out[..4 * i0].fill(0.0);
            out[4 * (i0 + n)..].fill(0.0);
            let rows = rows.map(|row| row.map_or(&zeros[..], |row| &row[s0..s0 + n]));
            interleave4(&rows, &mut out[4 * i0..4 * (i0 + n)]);
        }
    }
}

/// `out[4·i + l] = rows[l][i]`: four rows interleaved, four columns at a time
/// (a 4×4 transpose). Fixed-size chunks leave no bounds checks in the loop, so the
/// compiler emits vector loads and shuffles; indexed slices had compiled to a scalar
/// load, store and compare per float (3% of a LeNet training step).
fn interleave4(rows: &[&[f32]; 4], out: &mut [f32]) {
    let n = rows[0].len();
    let full = n / 4 * 4;
    let quads = |l: usize| rows[l][..full].chunks_exact(4);
    let groups = out[..4 * full].chunks_exact_mut(16).zip(quads(0)).zip(quads(1)).zip(quads(2)).zip(quads(3));
    for ((((o, a), b), c), d) in groups {
        for k in 0..4 {
            o[4 * k] = a[k];
            o[4 * k + 1] = b[k];
            o[4 * k + 2] = c[k];
            o[4 * k + 3] = d[k];
        }
    }
    for i in full..n {
        for l in 0..4 {
            out[4 * i + l] = rows[l][i];
        }
    }
}
