//! Memory: what a run will allocate (computed before allocating) and what the machine
//! can give; the zeroed allocations that fail with an error instead of aborting are
//! [`crate::alloc`]'s (re-exported here), which the autotuner shares.

mod available;
pub mod footprint;

pub use crate::alloc::{human_bytes, try_zeroed, AllocError, ZeroBits};
pub use available::{available, cgroup_dirs, meminfo_available, Available};
pub use footprint::{largest_batch, Bytes};
