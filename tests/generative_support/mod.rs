//! Support for the generative engine test: a model of the language that shape-checks
//! random nets (`model`) and renders them as source (`render`), the random choices
//! (`generate`, with block shapes from `templates`), running one net through the
//! checker and both engines (`twin`) against an f64 oracle (`oracle`, `compare`), and
//! shrinking a failing net (`reduce`).
#![allow(dead_code)]

pub mod compare;
pub mod generate;
pub mod model;
pub mod oracle;
pub mod reduce;
pub mod render;
pub mod templates;
pub mod twin;
