//! Running every sample of `netc predict`'s inputs through the engine, a batch at a time,
//! in input order, with the batch sizes reserved beforehand.
//!
//! A batch gathers samples across inputs. An input that fails (a read error, a NaN in it, a
//! non-finite output) is reported at once, its samples are dropped from the batch being
//! filled and its earlier rows forgotten, and the other inputs go on. A last batch of a size
//! the engine did not reserve (failures change the count) is padded with zeros to the full
//! size: inference treats samples independently, so the padding changes no other row.

use super::inputs::{ImageInputs, Input};
use crate::cli::err;
use crate::runtime::{Engine, ParamStore};

/// Per input its output rows (`samples × classes`), or that it failed.
pub struct Outcome {
    pub rows: Vec<Vec<f32>>,
    pub failed: Vec<bool>,
    /// Inputs that could not be read, and inputs whose output was not finite.
    pub unreadable: usize,
    pub not_finite: usize,
}

impl Outcome {
    /// Reports the failure of `input` (once) and forgets its rows.
    fn fail(&mut self, input: usize, msg: &str, unreadable: bool) {
        if self.failed[input] {
            return;
        }
        err(&format!("error: {msg}\n"));
        self.failed[input] = true;
        self.rows[input] = Vec::new();
        if unreadable {
            self.unreadable += 1;
        } else {
            self.not_finite += 1;
        }
    }
}

struct Batch<'e> {
    engine: &'e mut dyn Engine,
    store: &'e mut ParamStore,
    /// The batch sizes the engine reserved, the full one first.
    sizes: &'e [usize],
    sample_len: usize,
    classes: usize,
    images: Vec<f32>,
    /// (input, sample in it) of each sample in `images`.
    tags: Vec<(usize, usize)>,
}

impl Batch<'_> {
    fn full(&self) -> usize {
        self.sizes[0]
    }

    /// Drops the samples of `input`, which are the last ones, and any partial read.
    fn drop_input(&mut self, input: usize) {
        let keep = self.tags.iter().position(|&(i, _)| i == input).unwrap_or(self.tags.len());
        self.tags.truncate(keep);
        self.images.truncate(keep * self.sample_len);
    }

    fn flush(&mut self, inputs: &[Input], outcome: &mut Outcome) {
        let n = self.tags.len();
        if n == 0 {
            return;
        }
        let size = if self.sizes.contains(&n) { n } else { self.full() };
        self.images.resize(size * self.sample_len, 0.0);
        let scores = self.engine.infer(self.store, &self.images, size);
        for (k, &(input, sample)) in self.tags.iter().enumerate() {
            if outcome.failed[input] {
                continue;
            }
            let row = &scores[k * self.classes..(k + 1) * self.classes];
            if row.iter().all(|x| x.is_finite()) {
                outcome.rows[input].extend_from_slice(row);
                continue;
            }
            let which =
                if inputs[input].numbered { format!(" for sample {sample} (counting from 0)") } else { String::new() };
            let msg = format!(
                "{}: the net's output is not finite (NaN or infinity){which}; the input and the weights are \
                 finite, so the values overflow f32 on the way",
                inputs[input].path.display()
            );
            outcome.fail(input, &msg, false);
        }
        self.images.clear();
        self.tags.clear();
    }
}

/// Image inputs decoded ahead at a time for batches of `batch`: a batch's worth, at
/// least a few per thread.
pub fn prefetch_window(batch: usize) -> usize {
    batch.max(16)
}

/// Predicts every sample of `inputs`. `sizes` are the batch sizes the engine has reserved,
/// the full batch first; `classes` the outputs per sample.
pub fn predict_all(
    engine: &mut dyn Engine,
    store: &mut ParamStore,
    sizes: &[usize],
    inputs: &mut [Input],
    images: &mut ImageInputs,
    classes: usize,
) -> Outcome {
    let mut outcome = Outcome {
        rows: vec![Vec::new(); inputs.len()],
        failed: vec![false; inputs.len()],
        unreadable: 0,
        not_finite: 0,
    };
    let sample_len = images.sample_len();
    let mut batch = Batch { engine, store, sizes, sample_len, classes, images: Vec::new(), tags: Vec::new() };
    let prefetch = prefetch_window(batch.full());
    for idx in 0..inputs.len() {
        if inputs[idx].is_image() && !images.is_ready(&inputs[idx].path) {
            // Decode the image files of the next inputs together, on all threads.
            let paths: Vec<&std::path::Path> = inputs[idx..(idx + prefetch).min(inputs.len())]
                .iter()
                .filter(|i| i.is_image())
                .map(|i| i.path.as_path())
                .collect();
            images.prefetch(&paths);
        }
        let mut next = 0;
        while next < inputs[idx].samples && !outcome.failed[idx] {
            let take = (batch.full() - batch.tags.len()).min(inputs[idx].samples - next);
            match inputs[idx].read(next, take, images, &mut batch.images) {
                Ok(()) => {
                    batch.tags.extend((next..next + take).map(|s| (idx, s)));
                    next += take;
                }
                Err(e) => {
                    batch.drop_input(idx);
                    outcome.fail(idx, &e, true);
                }
            }
            if batch.tags.len() == batch.full() {
                batch.flush(inputs, &mut outcome);
            }
        }
    }
    batch.flush(inputs, &mut outcome);
    outcome
}
