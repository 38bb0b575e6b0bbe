//! Training and evaluation: weight initialisation, optimizers and schedules,
//! checkpoints (safetensors, written atomically), metrics, and the loop itself.
//! Engines (reference or JIT) do the arithmetic; nothing here prints.

pub mod checkpoint;
mod init;
pub mod metrics;
pub mod optim;
mod resume;
mod trainer;

pub use init::initialise;
pub use optim::{Optimizer, OptimizerKind, Schedule};
pub use resume::{optimizer_metadata, optimizer_tensors, restore_optimizer};
pub use trainer::{evaluate, train, BatchProgress, EpochStats, Observer, TrainConfig, TrainError};
