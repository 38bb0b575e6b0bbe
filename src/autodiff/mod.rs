//! Graph → [`Program`]: the forward pass lowered to kernel invocations and, for
//! training, the loss and the backward pass derived from one vector-Jacobian rule
//! per op (`vjp`). The result is data (buffers and steps), never closures, so the
//! reference executor and the JIT run the same program. `classes` says which layer
//! decides how many classes a net scores; `facts` answers what the planner and the
//! engines ask of each kernel (operand counts, fusion, channel slices).

mod build;
mod classes;
mod elide;
mod facts;
mod fold;
mod heads;
pub mod kernel;
pub mod program;
pub mod update;
mod vjp;

pub use build::{inference, smooth_labels, training, NotAClassifier};
pub use classes::{class_count, class_count_check, class_layer, is_binary, scores};
pub use facts::EpilogueSite;
pub use fold::fold_batch_norm;
pub use heads::head_scores;
pub use kernel::Kernel;
pub use program::{BufId, Buffer, Mode, ParamInfo, Program, Role, ScoreKind, Step};
