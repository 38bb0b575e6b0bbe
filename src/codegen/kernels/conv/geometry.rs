//! The shape of one convolution step, validated against the kernel contract.
//!
//! Consumes: a [`Conv`] and the dims of its batched input and output maps.
//! Produces: a [`ConvGeom`] with every size as `usize`, the group structure (a
//! connection table counts as one group whose missing links have zero weights), and
//! the weight layout of each (output, input) channel pair.
//! Guarantees: the output size is the one [`crate::ir::window_out`] gives for the
//! input; channels, groups and tables are consistent; every later offset computation
//! can assume these invariants.

use std::ops::Range;
use std::sync::Arc;

use crate::codegen::error::{invalid, Result};
use crate::ir::{window_out, ConnTable, Conv};

/// Sizes of one convolution invocation.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ConvGeom {
    pub n: usize,
    pub cin: usize,
    pub cout: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    /// Padding: top, left (bottom and right only shape `oh`, `ow`).
    pub pt: usize,
    pub pl: usize,
    /// Groups as computed: 1 when a table is used.
    pub groups: usize,
    pub table: Option<Arc<ConnTable>>,
    pub bias: bool,
}

impl ConvGeom {
    /// Validates `x` (N×Cin×H×W) and `y` (N×Cout×OH×OW) against the layer.
    pub fn new(c: &Conv, x: &[usize], y: &[usize]) -> Result<ConvGeom> {
        let [n, cin, h, w] = nchw("input", x)?;
        let [yn, cout, oh, ow] = nchw("output", y)?;
        let win = &c.window;
        let (eh, ew) = window_out(win, h as u64, w as u64, false).map_err(|e| invalid(e.message))?;
        if yn != n || (oh, ow) != (eh as usize, ew as usize) || cin as u64 != c.in_c || cout as u64 != c.out_c {
            return Err(invalid(format!("conv maps {x:?} -> {y:?} do not match the layer {c:?}")));
        }
        let groups = match &c.table {
            Some(t) => check_table(t, cin, cout)?,
            None => check_groups(c.groups as usize, cin, cout)?,
        };
        let u = |v: u64| v as usize;
        Ok(ConvGeom {
            n,
            cin,
            cout,
            h,
            w,
            oh,
            ow,
            kh: u(win.kh),
            kw: u(win.kw),
            sh: u(win.sh),
            sw: u(win.sw),
            pt: u(win.pad.top),
            pl: u(win.pad.left),
            groups,
            table: c.table.clone(),
            bias: c.bias,
        })
    }

    /// A pointwise convolution (1×1, stride 1, no padding) seen as one row of
    /// `h·w` pixels: the same memory, but rows of vectors no longer end at every
    /// image row, so small maps (7×7, 14×14) fill their vectors. Others unchanged.
    pub fn flattened(mut self) -> ConvGeom {
        let pointwise = self.kh == 1 && self.kw == 1 && self.sh == 1 && self.sw == 1;
        if pointwise && self.pt == 0 && self.pl == 0 && (self.oh, self.ow) == (self.h, self.w) {
            (self.w, self.ow) = (self.h * self.w, self.oh * self.ow);
            (self.h, self.oh) = (1, 1);
        }
        self
    }

    /// A strided 1×1 convolution that reads no padding is a pointwise convolution
    /// of the subsampled map (rows 0, sh, 2·sh, …; columns 0, sw, …): that
    /// pointwise geometry, flattened, or None for any other convolution. Reading
    /// the subsample as one flat row fills the vectors that rows of 7, 14 or 28
    /// outputs leave part empty.
    pub fn subsampled(&self) -> Option<ConvGeom> {
        let strided = (self.sh, self.sw) != (1, 1);
        let one = self.kh == 1 && self.kw == 1 && self.pt == 0 && self.pl == 0;
        let inside = (self.oh - 1) * self.sh < self.h && (self.ow - 1) * self.sw < self.w;
        (strided && one && inside)
            .then(|| ConvGeom { h: self.oh, w: self.ow, sh: 1, sw: 1, ..self.clone() }.flattened())
    }

    /// `kind cout@kh×kw/sh×sw on cin×h×w nN gG [table]`, the start of `describe()`.
    pub fn label(&self, kind: &str) -> String {
        format!(
            "{kind} {}@{}x{}/{}x{} on {}x{}x{} n{} g{}{}",
            self.cout,
            self.kh,
            self.kw,
            self.sh,
            self.sw,
            self.cin,
            self.h,
            self.w,
            self.n,
            self.groups,
            if self.table.is_some() { " table" } else { "" }
        )
    }

    /// Input channels per group (all of them with a table).
    pub fn cin_g(&self) -> usize {
        self.cin / self.groups
    }

    /// Output channels per group.
    pub fn cout_g(&self) -> usize {
        self.cout / self.groups
    }

    /// Taps per kernel window.
    pub fn taps(&self) -> usize {
        self.kh * self.kw
    }

    /// Weight floats in the step's weight tensor.
    pub fn weight_len(&self) -> usize {
        self.links() * self.taps()
    }

    /// Connected (output, input) pairs.
    pub fn links(&self) -> usize {
        match &self.table {
            Some(t) => t.inputs.iter().map(Vec::len).sum(),
            None => self.cout * self.cin_g(),
        }
    }

    /// Scratch floats of the dense weight matrix a connection table is expanded into
    /// (`cout × cin_g × taps`); 0 without a table, whose weights are read in place.
    pub fn dense_weight_len(&self) -> usize {
        if self.table.is_some() {
            self.cout * self.cin_g() * self.taps()
        } else {
            0
        }
    }

    /// Multiply-adds × 2 of one run counting only connected channel pairs.
    pub fn flops(&self) -> f64 {
        2.0 * (self.n * self.oh * self.ow * self.links() * self.taps()) as f64
    }

    /// Per-sample sizes of the input and output maps.
    pub fn x_len(&self) -> usize {
        self.cin * self.h * self.w
    }

    pub fn y_len(&self) -> usize {
        self.cout * self.oh * self.ow
    }

    /// The weight matrix `cout × cin_g·taps` from the weights `w`: `w` itself, or its
    /// dense expansion (tables) at the start of `scratch`; and the rest of `scratch`.
    pub fn weight_matrix<'a>(&self, w: &'a [f32], scratch: &'a mut [f32]) -> (&'a [f32], &'a mut [f32]) {
        if self.table.is_none() {
            return (w, scratch);
        }
        let (dense, rest) = scratch.split_at_mut(self.dense_weight_len());
        self.densify(w, dense);
        (dense, rest)
    }

    /// Input channels `c` of `group` of the weight matrix `wm` regrouped by input
    /// channel: each one's filters from the group's output channels in a row, at
    /// `dst[((c − c.start)·cout_g + o)·taps + tap]`. For kernels whose k steps over
    /// output channels (data gradients): read in place, each step is `cin_g·taps`
    /// floats, a new cache line.
    pub fn filters_by_input(&self, wm: &[f32], group: usize, c: Range<usize>, dst: &mut [f32]) {
        let (t, cig, cog) = (self.taps(), self.cin_g(), self.cout_g());
        let from = |o: usize| &wm[((group * cog + o) * cig + c.start) * t..][..c.len() * t];
        match t {
            // Filters of a known size are copied inline (a `memmove` call per 3×3
            // filter took as long as the Winograd weight transform that reads them).
            9 => (0..cog).for_each(|o| regroup::<9>(from(o), cog, o, dst)),
            _ => (0..cog).for_each(|o| {
                for (r, f) in from(o).chunks_exact(t).enumerate() {
                    dst[(r * cog + o) * t..][..t].copy_from_slice(f);
                }
            }),
        }
    }

    /// Expands table-ordered weights (`links × taps`) into the dense `cout × cin × taps`
    /// matrix, zero where there is no link.
    pub fn densify(&self, w: &[f32], dst: &mut [f32]) {
        let (t, cin) = (self.taps(), self.cin);
        dst[..self.dense_weight_len()].fill(0.0);
        if let Some(tab) = &self.table {
            let mut row = 0;
            for (o, ins) in tab.inputs.iter().enumerate() {
                for &c in ins {
                    // Add, not copy: a table may link the same pair twice.
                    let at = (o * cin + c as usize) * t;
                    for (d, s) in dst[at..at + t].iter_mut().zip(&w[row * t..(row + 1) * t]) {
                        *d += s;
                    }
                    row += 1;
                }
            }
        }
    }

    /// Bit r set when the pair (row `rows.start + r`, channel) is linked, as decided
    /// by `linked(output, input)` over the table's pairs with rows as outputs
    /// (`rows_are_outputs`) or as inputs.
    pub fn link_mask(
        &self,
        rows: std::ops::Range<usize>,
        linked: impl Fn(usize, usize) -> bool,
        rows_are_outputs: bool,
    ) -> u64 {
        let mut mask = 0u64;
        for (o, i) in self.table_links() {
            let row = if rows_are_outputs { o } else { i };
            if rows.contains(&row) && linked(o, i) {
                mask |= 1 << (row - rows.start);
            }
        }
        mask
    }

    /// The link masks of the tile rows `rows` (outputs when `rows_are_outputs`, else
    /// inputs), one per channel on the other side (the k loop's channels).
    pub fn block_links(&self, rows: std::ops::Range<usize>, rows_are_outputs: bool) -> Vec<u64> {
        let chans = if rows_are_outputs { self.cin } else { self.cout };
        let other = |o: usize, i: usize| if rows_are_outputs { i } else { o };
        (0..chans).map(|c| self.link_mask(rows.clone(), |o, i| other(o, i) == c, rows_are_outputs)).collect()
    }

    /// For each link in table order, its (output, input) channel pair.
    pub fn table_links(&self) -> Vec<(usize, usize)> {
        match &self.table {
            Some(t) => {
                t.inputs.iter().enumerate().flat_map(|(o, ins)| ins.iter().map(move |&c| (o, c as usize))).collect()
            }
            None => Vec::new(),
        }
    }
}

fn nchw(what: &str, d: &[usize]) -> Result<[usize; 4]> {
    match d {
        &[n, c, h, w] if n > 0 && c > 0 && h > 0 && w > 0 => Ok([n, c, h, w]),
        _ => Err(invalid(format!("conv {what} dims {d:?}: expected a non-empty N×C×H×W"))),
    }
}

fn check_groups(g: usize, cin: usize, cout: usize) -> Result<usize> {
    if g == 0 || !cin.is_multiple_of(g) || !cout.is_multiple_of(g) {
        return Err(invalid(format!("{g} groups do not divide {cin} input and {cout} output channels")));
    }
    Ok(g)
}

fn check_table(t: &ConnTable, cin: usize, cout: usize) -> Result<usize> {
    let ok = t.inputs.len() == cout && t.inputs.iter().flatten().all(|&c| (c as usize) < cin);
    if !ok {
        return Err(invalid("connection table does not match the layer's channels"));
    }
    Ok(1)
}

/// Output channel `o`'s filters of consecutive input channels (`from`, `T` floats each)
/// into rows of `cog` filters.
fn regroup<const T: usize>(from: &[f32], cog: usize, o: usize, dst: &mut [f32]) {
    let (filters, _) = from.as_chunks::<T>();
    for (r, f) in filters.iter().enumerate() {
        let to: &mut [f32; T] = (&mut dst[(r * cog + o) * T..][..T]).try_into().expect("T floats");
        *to = *f;
    }
}
