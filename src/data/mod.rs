//! Datasets for netc: reading MNIST-style IDX files, locating them on disk,
//! generating the synthetic dataset, preprocessing images into `f32` network
//! input, and producing deterministic shuffled mini-batches.
//!
//! Consumes: dataset names, optional directories, network input shapes and
//! seeds. Produces: [`Splits`] of [`Dataset`]s ([`ImageSet`]s of `u8` images,
//! `u16` labels, class names), [`Prep`]ared `f32` tensors and
//! [`Batch`]es. Guarantees: no printing, no panics on bad input; every
//! failure is a [`DataError`] naming the file or dataset involved.
//!
//! Typical use:
//! ```no_run
//! use netc::data::{load, Batcher, LoadOptions, Prep, Scaling, SearchRoots};
//! let splits = load("mnist", None, &SearchRoots::from_process(), &LoadOptions::default())?;
//! let prep = Prep::new(&splits.train, (1, 32, 32), Scaling::Lecun1998)?;
//! let mut batcher = Batcher::new(&splits.train, prep, 64)?;
//! let mut epoch = batcher.epoch(42, 0);
//! while let Some(batch) = epoch.next_batch() {
//!     assert_eq!(batch.images.len(), batch.len() * 32 * 32);
//! }
//! # Ok::<(), netc::data::DataError>(())
//! ```

pub mod batches;
pub mod cifar;
pub mod dataset;
pub mod decode;
pub mod error;
pub mod folder;
pub mod idx;
pub mod images;
pub mod load_folder;
pub mod locate;
pub mod parallel;
pub mod prep;
pub mod resize;
pub mod rng;
pub mod source;
pub mod split;
pub mod synthetic;

pub use batches::{Batch, Batcher, Epoch};
pub use cifar::{CifarKind, CifarLabels};
pub use dataset::{Dataset, LoadOptions, Splits};
pub use decode::{DecodeOptions, Decoded};
pub use error::DataError;
pub use idx::{read_images, read_labels, IdxImages, IdxLabels};
pub use images::{Image, ImageSet};
pub use locate::{locate, locate_cifar, DataFiles, DatasetName, SearchRoots};
pub use prep::{mean_std, Prep, Scaling};
pub use rng::Rng;
pub use source::{load, load_files, load_split, load_with_progress};
pub use synthetic::SyntheticConfig;
