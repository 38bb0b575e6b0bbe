//! Whole-graph analyses: parameters, MACs and FLOPs forward and backward, memory,
//! and the report rendered as a table, JSON or a Graphviz diagram.

pub mod cost;
pub mod dot;
pub mod heads;
pub mod json;
pub mod memory;
pub mod report;
pub mod text;

pub use cost::{node_cost, Cost};
pub use heads::HeadReport;
pub use report::{analyze, Report, Row};
