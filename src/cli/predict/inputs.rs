//! The inputs of `netc predict`: what each path is, how many samples it holds, and reading
//! them, one net input (C×H×W floats) after another.
//!
//! A `.npy` file (by extension or by its magic bytes) holds preprocessed tensors: N×C×H×W
//! (N samples) or C×H×W (one), checked against the net's input when opened. Any other file
//! is an image, which goes through [`ImageInputs::sample`]: decode it and preprocess it as the
//! checkpoint says. Every failure is a message naming the path (without `error:`), so that
//! the caller reports it and goes on with the other inputs.

use crate::data::npy::{self, NpyFile};
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
    /// Opens `path` and checks it against the net's input; reads no samples.
    pub fn open(path: &Path, input: InputShape) -> Result<Input, String> {
        let name = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {name}: {e}"))?;
        if meta.is_dir() {
            return Err(format!(
                "{name} is a directory: netc predict does not read folders of images yet (it reads .npy \
                 tensors); pass the files themselves"
            ));
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
    pub fn read(&mut self, first: usize, count: usize, images: &ImageInputs, out: &mut Vec<f32>) -> Result<(), String> {
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
        images: &ImageInputs,
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
/// `netc.preprocess` metadata says, so that a prediction sees exactly what evaluation saw.
/// Built once per run. This is where image inputs plug in; this build has no image decoder
/// yet, so every image input is refused with what is missing.
pub struct ImageInputs {
    input: InputShape,
}

impl ImageInputs {
    pub fn from_checkpoint(_metadata: &HashMap<String, String>, input: InputShape) -> ImageInputs {
        ImageInputs { input }
    }

    /// Floats per net input.
    pub fn sample_len(&self) -> usize {
        self.input.0 * self.input.1 * self.input.2
    }

    /// One net input (c×h×w floats) from the image file at `path`.
    pub fn sample(&self, path: &Path) -> Result<Vec<f32>, String> {
        // Open it first, so that a missing or unreadable file says so rather than the below.
        crate::files::open_regular(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let (c, h, w) = self.input;
        Err(format!(
            "{}: not a .npy file, and this netc cannot predict on image files yet: it lacks the image decoder \
             and the preprocessing pipeline stored with the weights (`netc.preprocess`); save the preprocessed \
             tensor with numpy.save ({c}×{h}×{w} or N×{c}×{h}×{w}, float32) and pass the .npy",
            path.display()
        ))
    }
}
