//! The inputs of `netc predict`: what each path is, how many samples it holds, and reading
//! them, one net input (C×H×W floats) after another.
//!
//! A `.npy` file (by extension or by its magic bytes) holds preprocessed tensors: N×C×H×W
//! (N samples) or C×H×W (one), checked against the net's input when opened. Any other file
//! is an image, which goes through [`ImageInputs::sample`]: decode it and preprocess it as the
//! checkpoint says. Every failure is a message naming the path (without `error:`), so that
//! the caller reports it and goes on with the other inputs.

use crate::data::npy::{self, NpyFile};
use crate::data::Pipeline;
use crate::train::checkpoint;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The net's input, `(c, h, w)`.
pub type InputShape = (usize, usize, usize);

/// One input path, opened and checked.
pub struct Input {
    pub path: PathBuf,
    /// Samples it holds.
    pub samples: usize,
    /// Whether it is a batch of samples (N×C×H×W), whose entries are numbered.
    pub numbered: bool,
    source: Source,
}

enum Source {
    /// A `.npy` file of `shape`. It is opened when its first sample is read and closed after
    /// its last, so that thousands of inputs do not hold thousands of descriptors. A C-order
    /// file is read a batch at a time; a Fortran-order one whole, then served from `whole`.
    Npy {
        shape: Vec<usize>,
        fortran: bool,
        open: Option<Box<NpyFile>>,
        whole: Vec<f32>,
    },
    Image,
}

impl Input {
    /// Whether it is an image file (decoded by [`ImageInputs`]).
    pub fn is_image(&self) -> bool {
        matches!(self.source, Source::Image)
    }
}

impl Input {
    /// Opens `path` and checks it against the net's input; reads no samples.
    pub fn open(path: &Path, input: InputShape) -> Result<Input, String> {
        let name = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {name}: {e}"))?;
        if meta.is_dir() {
            return Err(format!("{name} is a directory (folders are expanded into their image files first)"));
        }
        let is_npy = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy")) || npy::is_npy(path);
        if !is_npy {
            return Ok(Input { path: path.to_path_buf(), samples: 1, numbered: false, source: Source::Image });
        }
        let file = NpyFile::open(path).map_err(|e| e.to_string())?;
        let (c, h, w) = input;
        let (samples, numbered) = match *file.shape() {
            [n, fc, fh, fw] if (fc, fh, fw) == input => (n, true),
            [fc, fh, fw] if (fc, fh, fw) == input => (1, false),
            _ => {
                return Err(format!(
                    "{name}: its shape is {}, but the net takes {c}×{h}×{w} inputs: the file must be \
                     N×{c}×{h}×{w} (a batch) or {c}×{h}×{w} (one sample), preprocessed as in training",
                    npy::shape_text(file.shape())
                ))
            }
        };
        if samples == 0 {
            return Err(format!("{name}: it holds no samples (shape {})", npy::shape_text(file.shape())));
        }
        let source =
            Source::Npy { shape: file.shape().to_vec(), fortran: file.is_fortran(), open: None, whole: Vec::new() };
        Ok(Input { path: path.to_path_buf(), samples, numbered, source })
    }

    /// Bytes held while reading it beyond one batch: a Fortran-order array read whole.
    pub fn whole_read_bytes(&self) -> u128 {
        match &self.source {
            Source::Npy { shape, fortran: true, .. } => shape.iter().map(|&d| d as u128).product::<u128>() * 4,
            _ => 0,
        }
    }

    /// Appends the next `count` samples (C×H×W floats each) to `out`; `first` is the index
    /// of the first of them. Values must be finite: a NaN or an infinity is refused with
    /// the sample it is in.
    pub fn read(
        &mut self,
        first: usize,
        count: usize,
        images: &mut ImageInputs,
        out: &mut Vec<f32>,
    ) -> Result<(), String> {
        let read = self.read_checked(first, count, images, out);
        if read.is_err() {
            // A failed input is not read again: let its file go now.
            if let Source::Npy { open, whole, .. } = &mut self.source {
                *open = None;
                *whole = Vec::new();
            }
        }
        read
    }

    fn read_checked(
        &mut self,
        first: usize,
        count: usize,
        images: &mut ImageInputs,
        out: &mut Vec<f32>,
    ) -> Result<(), String> {
        let len = images.sample_len();
        let start = out.len();
        let last = first + count == self.samples;
        match &mut self.source {
            Source::Npy { shape, fortran, open, whole } => {
                if first == 0 {
                    let file = NpyFile::open(&self.path).map_err(|e| e.to_string())?;
                    if file.shape() != shape.as_slice() {
                        return Err(format!("{}: the file changed while netc was reading it", self.path.display()));
                    }
                    if *fortran {
                        *whole = file.read_all().map_err(|e| e.to_string())?;
                    } else {
                        *open = Some(Box::new(file));
                    }
                }
                match open.as_mut() {
                    Some(file) => file.read_elements(count * len, out).map_err(|e| e.to_string())?,
                    None => out.extend_from_slice(&whole[first * len..(first + count) * len]),
                }
                if last {
                    *open = None;
                    *whole = Vec::new();
                }
            }
            Source::Image => out.extend_from_slice(&images.sample(&self.path)?),
        }
        if let Some(at) = out[start..].iter().position(|x| !x.is_finite()) {
            let sample = first + at / len;
            let which = if self.numbered { format!("sample {sample} (counting from 0)") } else { "it".into() };
            return Err(format!(
                "{}: {which} holds NaN or infinity (a float64 value beyond float32's range becomes infinity)",
                self.path.display()
            ));
        }
        Ok(())
    }
}

/// How image files become net inputs: decoded, then preprocessed as the checkpoint's
/// `netc.preprocess` metadata says, so that a prediction sees exactly what `--eval` saw.
/// Built once per run. Images are decoded ahead of the batches, on all threads
/// ([`ImageInputs::prefetch`]); [`ImageInputs::sample`] hands out a decoded one.
pub struct ImageInputs {
    input: InputShape,
    /// The stored pipeline, or why image files cannot be predicted with these weights.
    pipeline: Result<Pipeline, String>,
    max_pixels: u64,
    threads: usize,
    /// Inputs decoded ahead, by path; each is taken once.
    ready: HashMap<PathBuf, Result<Vec<f32>, String>>,
}

impl ImageInputs {
    /// Reads the preprocessing of the checkpoint at `weights` from its `metadata`; a missing
    /// or damaged entry, or one for another input shape, only fails image inputs.
    pub fn from_checkpoint(
        metadata: &HashMap<String, String>,
        weights: &Path,
        input: InputShape,
        max_pixels: u64,
    ) -> ImageInputs {
        let w = weights.display();
        let pipeline = match checkpoint::stored_preprocess(metadata) {
            Ok(Some((p, _))) if p.input_shape() == input => Ok(p),
            Ok(Some((p, _))) => {
                let (c, h, w2) = p.input_shape();
                Err(format!(
                    "{w} was trained on {c}×{h}×{w2} inputs, but the net takes {}×{}×{}",
                    input.0, input.1, input.2
                ))
            }
            Ok(None) => Err(format!(
                "{w} does not say how images were preprocessed in training (no `{}` entry: it was saved by an \
                 earlier netc or by another tool), so image files cannot be predicted with it; pass tensors \
                 preprocessed as in training as .npy files, or save the weights again with `netc run --save`",
                checkpoint::PREPROCESS_KEY
            )),
            Err(e) => Err(format!("{w}: {e}")),
        };
        let threads = crate::data::parallel::default_threads();
        ImageInputs { input, pipeline, max_pixels, threads, ready: HashMap::new() }
    }

    /// The preprocessing, or why there is none (for the report at the start).
    pub fn pipeline(&self) -> Result<&Pipeline, &str> {
        self.pipeline.as_ref().map_err(String::as_str)
    }

    /// Floats per net input.
    pub fn sample_len(&self) -> usize {
        self.input.0 * self.input.1 * self.input.2
    }

    /// Decodes and preprocesses the image files at `paths` on all threads, for
    /// [`ImageInputs::sample`] to hand out.
    pub fn prefetch(&mut self, paths: &[&Path]) {
        let paths: Vec<&Path> = paths.iter().copied().filter(|p| !self.ready.contains_key(*p)).collect();
        let this = &*self;
        let job = |i: usize| Ok::<_, ()>(this.decode(paths[i]));
        // Jobs never fail (the outcome of each is its result); a panicking decoder becomes
        // that file's error.
        let results = crate::data::parallel::map_indexed(paths.len(), self.threads, &job, &|_| (), &|_| {})
            .unwrap_or_else(|()| {
                paths.iter().map(|p| Err(format!("{}: the image decoder failed", p.display()))).collect()
            });
        self.ready.extend(paths.iter().map(|p| p.to_path_buf()).zip(results));
    }

    /// Whether the image at `path` has been decoded ahead.
    pub fn is_ready(&self, path: &Path) -> bool {
        self.ready.contains_key(path)
    }

    /// One net input (c×h×w floats) from the image file at `path`.
    pub fn sample(&mut self, path: &Path) -> Result<Vec<f32>, String> {
        match self.ready.remove(path) {
            Some(r) => r,
            None => self.decode(path),
        }
    }

    fn decode(&self, path: &Path) -> Result<Vec<f32>, String> {
        // Open it first, so that a missing or unreadable file says so rather than the below.
        crate::files::open_regular(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let pipeline =
            self.pipeline.as_ref().map_err(|why| format!("{}: not a .npy file, and {why}", path.display()))?;
        let mut out = vec![0.0; self.sample_len()];
        pipeline.prepare_file(path, self.max_pixels, &mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }
}
