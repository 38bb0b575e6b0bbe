//! How the engines see a source tensor (the B operand): which four values share a
//! vector, where a tap of a position lives, and how a unit of work's source is
//! produced at run time (read in place, or prepared into a window in scratch).
//!
//! Consumes: the source's per-sample dims, the batch size, the grid (output columns
//! per row, source steps per output row and column) and the taps' reach.
//! Produces: a [`SourcePlan`]: byte offsets for the engines and [`SourcePlan::source`]
//! to materialise one unit (in place, a padded window, four interleaved samples, or
//! the subsample a strided 1×1 convolution reads).
//! Guarantees: for every position of the grid and every tap, the offsets stay inside
//! the source (direct) or the prepared window, except the lanes past the last real
//! output column of a direct source, which the engines read partially.

use super::pack::{prepare_batch, prepare_spatial, prepare_subsampled, Need, Planes, Window};

/// What the four lanes of a vector hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lanes {
    /// Four adjacent output columns of one sample.
    Spatial,
    /// One output pixel of four consecutive samples.
    Batch,
}

impl Lanes {
    /// The vectorisation wasting the least time: lane utilisation (columns per row
    /// rounded to vectors, or samples rounded to groups of four) times the cost of the
    /// stores (a batch vector scatters to four samples: ~2 cycles against `k/2` cycles
    /// of arithmetic per vector for `k` k steps).
    pub fn choose(n: usize, ow: usize, k: usize) -> Lanes {
        let compute = k as f64 / 2.0;
        let spatial = ow as f64 / (4 * ow.div_ceil(4)) as f64 * compute / (compute + 0.5);
        let batch = n as f64 / (4 * n.div_ceil(4)) as f64 * compute / (compute + 2.0);
        if batch > spatial * 1.03 {
            Lanes::Batch
        } else {
            Lanes::Spatial
        }
    }

    /// Lanes for the dot engine (weight gradients): batch lanes where the batch
    /// fills whole vectors and a grid row holds at most four spatial vectors, since
    /// the engine's walk over a row's positions then costs more than its arithmetic;
    /// [`Lanes::choose`] elsewhere. Measured (2-core Intel Xeon, batch 128, `fma`):
    /// the weight gradient of ResNet-20's 64@3×3/2 on 32×16×16 (8×8 outputs) ran at
    /// 48 GFLOP/s with spatial lanes and 77 with batch lanes; 16@3×3 on 16×32×32
    /// (rows of eight vectors) 70 against 73; LeNet's first layer (rows of seven)
    /// was 3% slower with batch lanes.
    pub fn choose_dot(n: usize, ow: usize) -> Lanes {
        if n.is_multiple_of(4) && ow.div_ceil(4) <= 4 {
            Lanes::Batch
        } else {
            Lanes::choose(n, ow, 64)
        }
    }
}

/// Where the source of a unit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceForm {
    /// The tensor itself (spatial lanes, no padding read, column step 1 or 2).
    Direct,
    /// A prepared window in scratch.
    Window,
}

/// Per-sample source dims: `chans` planes of `h × w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SourceDims {
    pub chans: usize,
    pub h: usize,
    pub w: usize,
}

/// The B side of one kernel.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SourcePlan {
    pub lanes: Lanes,
    pub form: SourceForm,
    pub win: Window,
    pub dims: SourceDims,
    /// Samples in the batch, and units (samples or groups of four).
    pub n: usize,
    pub units: usize,
    /// Bytes between positions and between grid rows in B.
    pub b_pos: i64,
    pub b_row: i64,
    /// Elements between the lanes of a B vector: 1, or 2 for a stride-2 source
    /// read in place.
    pub b_stride: usize,
    /// The prepared source is a subsample of the tensor (see [`SourcePlan::subsampled`]).
    pub gather: Option<Gather>,
}

/// A source read as its subsample: `dims` is the tensor's real shape, rows and
/// columns `steps` apart are kept, `out` = (rows, columns) of the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Gather {
    pub dims: SourceDims,
    pub steps: (usize, usize),
    pub out: (usize, usize),
}

/// The grid a source plan serves: each grid row moves `row_step` source rows, each
/// grid column `col_step` source columns.
#[derive(Debug, Clone, Copy)]
pub(super) struct GridSteps {
    pub row_step: usize,
    pub col_step: usize,
}

impl SourcePlan {
    /// A plan reading taps whose source coordinates, for grid position (0, 0), span
    /// rows `reach.r_lo ..` and columns `reach.c_lo ..` (`rows`/`cols` give the extent
    /// for the whole grid); read in place when `direct_ok`, lanes are spatial and the
    /// column step is at most `max_step` (2 reads every other float with a shuffle:
    /// measured slower than a prepared window for the forward pass, where the
    /// window is read many times, but it saves the weight gradient's copies).
    pub fn new(
        lanes: Lanes,
        dims: SourceDims,
        n: usize,
        grid: GridSteps,
        reach: Window,
        direct_ok: bool,
        max_step: usize,
    ) -> SourcePlan {
        let spatial = lanes == Lanes::Spatial;
        let in_place = spatial && direct_ok && grid.col_step <= max_step;
        let form = if in_place { SourceForm::Direct } else { SourceForm::Window };
        let b_stride = if in_place { grid.col_step } else { 1 };
        let win = Window { phases: if spatial { grid.col_step } else { 1 }, ..reach };
        let b_row = match (form, lanes) {
            (SourceForm::Direct, _) => grid.row_step * dims.w * 4,
            (_, Lanes::Spatial) => grid.row_step * win.pcols() * 4,
            (_, Lanes::Batch) => grid.row_step * win.cols * 16,
        } as i64;
        let b_pos = 16 * if spatial { b_stride } else { grid.col_step } as i64;
        let units = if spatial { n } else { n.div_ceil(4) };
        SourcePlan { lanes, form, win, dims, n, units, b_pos, b_row, b_stride, gather: None }
    }

    /// The source of a strided 1×1 convolution seen as a pointwise one
    /// (`ConvGeom::subsampled`): each unit's every `steps`-th row and column of
    /// `dims`, `out` in all, prepared as one flat row per channel (spatial lanes,
    /// padded with zeros to whole vectors).
    pub fn subsampled(dims: SourceDims, n: usize, steps: (usize, usize), out: (usize, usize)) -> SourcePlan {
        let len = out.0 * out.1;
        let flat = SourceDims { chans: dims.chans, h: 1, w: len };
        let win = Window { r_lo: 0, rows: 1, c_lo: 0, cols: 4 * len.div_ceil(4), phases: 1 };
        let grid = GridSteps { row_step: 1, col_step: 1 };
        let plan = SourcePlan::new(Lanes::Spatial, flat, n, grid, win, false, 1);
        SourcePlan { gather: Some(Gather { dims, steps, out }), ..plan }
    }

    /// Byte offset of source coordinate (r, c) from the start of a channel.
    pub fn tap(&self, r: isize, c: isize) -> i64 {
        let e = match (self.form, self.lanes) {
            (SourceForm::Direct, _) => r * self.dims.w as isize + c,
            (_, Lanes::Spatial) => self.win.at(r, c),
            (_, Lanes::Batch) => self.win.at4(r, c),
        };
        4 * e as i64
    }

    /// Floats per channel of the source as the engines read it.
    fn chan_floats(&self) -> usize {
        match (self.form, self.lanes) {
            (SourceForm::Direct, _) => self.dims.h * self.dims.w,
            (_, Lanes::Spatial) => self.win.plane(),
            (_, Lanes::Batch) => self.win.plane4(),
        }
    }

    /// Bytes between channels.
    pub fn chan_bytes(&self) -> i64 {
        4 * self.chan_floats() as i64
    }

    /// Byte offset of channel `c0`.
    pub fn chan_offset(&self, c0: usize) -> i64 {
        c0 as i64 * self.chan_bytes()
    }

    /// Output lane stride in bytes for an operand with batch stride `bs` whose grid
    /// columns are `col_stride` elements apart.
    pub fn lane_stride(&self, bs: usize, col_stride: usize) -> i64 {
        4 * match self.lanes {
            Lanes::Spatial => col_stride,
            Lanes::Batch => bs,
        } as i64
    }

    /// Bytes between positions in an output whose grid columns are `col_stride`
    /// elements apart.
    pub fn out_pos(&self, col_stride: usize) -> i64 {
        let cols = if self.lanes == Lanes::Spatial { 4 } else { 1 };
        (4 * cols * col_stride) as i64
    }

    /// Positions (vectors) in a grid row of `ow` output columns.
    pub fn positions(&self, ow: usize) -> usize {
        match self.lanes {
            Lanes::Spatial => ow.div_ceil(4),
            Lanes::Batch => ow,
        }
    }

    /// Scratch floats to prepare `chans` channels of one unit.
    pub fn scratch(&self, chans: usize) -> usize {
        match self.form {
            SourceForm::Direct => 0,
            SourceForm::Window => chans * self.chan_floats(),
        }
    }

    /// The source of unit `u` from the tensor `x` (samples `bs` apart): its address,
    /// first sample and real lanes (samples in a batch group). A spatial window
    /// is filled only where `need` says the engines read.
    pub fn source(&self, x: &[f32], bs: usize, u: usize, need: &Need, buf: &mut [f32]) -> (i64, usize, usize) {
        // Sample s of x, as the tensor's shape `d` says.
        let sample = |s: usize, d: SourceDims| {
            let len = d.chans * d.h * d.w;
            Planes { data: &x[s * bs..s * bs + len], chans: d.chans, h: d.h, w: d.w, plane: d.h * d.w }
        };
        if let Some(g) = self.gather {
            prepare_subsampled(&sample(u, g.dims), g.steps, g.out, self.win.plane(), buf);
            return (buf.as_ptr() as i64, u, 4);
        }
        let planes = |s: usize| sample(s, self.dims);
        match (self.form, self.lanes) {
            (SourceForm::Direct, _) => (x[u * bs..].as_ptr() as i64, u, 4),
            (_, Lanes::Spatial) => {
                prepare_spatial(&planes(u), &self.win, need, buf);
                (buf.as_ptr() as i64, u, 4)
            }
            (_, Lanes::Batch) => {
                let first = 4 * u;
                let lanes = (self.n - first).min(4);
                let src: [Option<Planes>; 4] = std::array::from_fn(|l| (l < lanes).then(|| planes(first + l)));
                prepare_batch(&src, &self.win, buf);
                (buf.as_ptr() as i64, first, lanes)
            }
        }
    }

    /// Everything in the window is needed.
    pub fn need_all(&self) -> Need {
        Need::all(&self.win)
    }

    /// Short name for `describe()`.
    pub fn describe(&self) -> &'static str {
        if self.gather.is_some() {
            return "spatial-lanes subsampled";
        }
        match (self.form, self.lanes) {
            (SourceForm::Direct, _) => "spatial-lanes direct",
            (_, Lanes::Spatial) => "spatial-lanes window",
            (_, Lanes::Batch) => "batch-lanes",
        }
    }
}
