//! Training and evaluation: weight initialisation, optimizers and schedules,
//! checkpoints (safetensors, written atomically), metrics, and the loop itself.
//! Engines (reference or JIT) do the arithmetic; nothing here prints.

pub mod checkpoint;
pub mod evaluation;
mod finite;
mod init;
pub mod metrics;
pub mod optim;
mod resume;
pub mod schedule;
mod trainer;

pub use evaluation::Evaluation;
pub use finite::{check_loaded, first_non_finite, largest_magnitude};
pub use init::initialise;
pub use optim::{
    clip_gradients, gradient_norm, Optimizer, OptimizerKind, Schedule, ScheduleSpec, Span, Warmup, WarmupKind,
    MAX_EPOCHS, MAX_UPDATES,
};
pub use resume::{optimizer_metadata, optimizer_tensors, restore_optimizer};
pub use trainer::{evaluate, evaluate_report, train, BatchProgress, EpochStats, Observer, TrainConfig, TrainError};
