//! Datasets for netc: reading MNIST-style IDX files, locating them on disk,
//! generating the synthetic dataset, preprocessing images into `f32` network
//! input, augmenting them, and producing deterministic shuffled mini-batches,
//! on the caller's thread ([`Batcher`]) or on worker threads ([`feeder`]).
//!
//! Consumes: dataset names, optional directories, network input shapes and
//! seeds. Produces: [`Splits`] of [`Dataset`]s ([`ImageSet`]s of `u8` images,
//! `u16` labels, class names), a preprocessing [`Pipeline`] and
//! [`Batch`]es. An image folder whose decoded images do not fit the memory budget
//! is *streamed*: its [`ImageSet`]s hold [`StreamedImages`] (file names, stored
//! sizes, pixel counts) and the [`feeder`] decodes each image again as its batch is
//! filled, giving the batches of the same folder in memory bit for bit.
//! Guarantees: no printing, no panics on bad input; every
//! failure is a [`DataError`] naming the file or dataset involved.
//!
//! Typical use:
//! ```no_run
//! use netc::data::{load, Augment, Batcher, LoadOptions, Pipeline, PrepOptions, SearchRoots};
//! let splits = load("mnist", None, &SearchRoots::from_process(), &LoadOptions::default())?;
//! let pipeline = Pipeline::build(&PrepOptions::default(), &splits.train, (1, 32, 32))?;
//! let mut batcher = Batcher::new(&splits.train, &pipeline, 64)?.with_augment(Augment::shift(1));
//! let mut epoch = batcher.epoch(42, 0);
//! while let Some(batch) = epoch.next_batch() {
//!     assert_eq!(batch.images.len(), batch.len() * 32 * 32);
//! }
//! # Ok::<(), netc::data::DataError>(())
//! ```

pub mod augment;
pub mod batches;
pub mod cifar;
pub mod dataset;
pub mod decode;
pub mod error;
pub mod feeder;
pub mod folder;
pub mod idx;
pub mod images;
pub mod load_folder;
pub(crate) mod load_pass;
pub mod locate;
pub mod npy;
pub mod parallel;
pub mod pixel_counts;
pub mod prep;
pub mod resize;
pub mod rng;
pub mod source;
pub mod split;
pub mod streamed;
pub mod synthetic;

pub use augment::{Augment, ResizedCrop};
pub use batches::{Batch, Batcher, Epoch};
pub use cifar::{CifarKind, CifarLabels};
pub use dataset::{CacheImages, Dataset, LoadOptions, SplitBudget, Splits};
pub use decode::{DecodeOptions, Decoded};
pub use error::DataError;
pub use feeder::{feed, FeedSpec};
pub use idx::{read_images, read_labels, IdxImages, IdxLabels};
pub use images::{Image, ImageSet};
pub use locate::{locate, locate_cifar, DataFiles, DatasetName, SearchRoots};
pub use prep::{mean_std, Normalize, NormalizeOption, Pipeline, PrepOptions};
pub use rng::Rng;
pub use source::{load, load_files, load_split, load_with_progress};
pub use streamed::{StreamReason, StreamedImages};
pub use synthetic::SyntheticConfig;
