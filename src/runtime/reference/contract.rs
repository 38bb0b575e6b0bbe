//! Contract checks shared by the kernels. A violation (wrong arity, a length or shape
//! that disagrees with the op's parameters) panics with a message that names the
//! kernel; data values are never checked, so NaNs and infinities flow through.

use crate::autodiff::Kernel;
use crate::ir::{window_out, Window};

/// The checker of one kernel invocation: knows the kernel's name for its messages.
pub(super) struct Check {
    name: &'static str,
}

impl Check {
    pub(super) fn new(kernel: &Kernel) -> Check {
        Check { name: kernel.name() }
    }

    /// Panics with `msg`, prefixed by the kernel's name.
    pub(super) fn fail(&self, msg: &str) -> ! {
        panic!("reference kernel `{}`: {msg}", self.name)
    }

    /// Panics with the message built by `msg` unless `ok`.
    pub(super) fn ensure(&self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.fail(&msg());
        }
    }

    /// Requires `what` to hold exactly `want` elements.
    pub(super) fn len(&self, what: &str, got: usize, want: usize) {
        self.ensure(got == want, || format!("{what} has {got} elements, expected {want}"));
    }

    /// Requires `what` to have the same number of elements as `other`.
    pub(super) fn same_len(&self, what: &str, got: usize, other: &str, want: usize) {
        self.ensure(got == want, || format!("{what} has {got} elements but {other} has {want}"));
    }

    /// The batch size of a batched tensor (its first dimension).
    pub(super) fn batch(&self, what: &str, dims: &[usize]) -> usize {
        match dims.first() {
            Some(&n) => n,
            None => self.fail(&format!("{what} has no batch dimension")),
        }
    }

    /// Elements per sample of a batched tensor whose batch must be `n`.
    pub(super) fn per_sample(&self, what: &str, dims: &[usize], n: usize) -> usize {
        let got = self.batch(what, dims);
        self.ensure(got == n, || format!("{what} has batch {got}, expected {n}"));
        dims[1..].iter().product()
    }

    /// Channels and spatial size (product of the remaining dimensions) of a batched
    /// tensor of batch `n`: N×C×H×W gives (C, H·W), a flat N×F gives (F, 1).
    pub(super) fn channels(&self, what: &str, dims: &[usize], n: usize) -> (usize, usize) {
        self.per_sample(what, dims, n);
        self.ensure(dims.len() >= 2, || format!("{what} has dims {dims:?}, expected at least N×C"));
        (dims[1], dims[2..].iter().product())
    }

    /// The four dimensions of an NCHW tensor.
    pub(super) fn nchw(&self, what: &str, dims: &[usize]) -> [usize; 4] {
        match dims {
            &[n, c, h, w] => [n, c, h, w],
            _ => self.fail(&format!("{what} has dims {dims:?}, expected N×C×H×W")),
        }
    }

    /// Requires an NCHW tensor to have exactly the dimensions `want`.
    pub(super) fn dims4(&self, what: &str, dims: &[usize], want: [usize; 4]) {
        let got = self.nchw(what, dims);
        self.ensure(got == want, || format!("{what} has dims {got:?}, expected {want:?}"));
    }

    /// The output size of a sliding window, as the shape rules compute it.
    pub(super) fn window_out(&self, win: &Window, h: usize, w: usize, ceil: bool) -> (usize, usize) {
        match window_out(win, h as u64, w as u64, ceil) {
            Ok((oh, ow)) => (oh as usize, ow as usize),
            Err(e) => self.fail(&format!("the window does not fit the {h}×{w} input: {}", e.message)),
        }
    }
}
