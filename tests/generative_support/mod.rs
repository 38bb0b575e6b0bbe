//! Support for the generative engine test: a model of the language that renders and
//! shape-checks random nets (`model`), the random choices (`generate`), running one
//! net through the checker and both engines (`twin`), and shrinking a failing net
//! (`reduce`).
#![allow(dead_code)]

pub mod compare;
pub mod generate;
pub mod model;
pub mod oracle;
pub mod reduce;
pub mod twin;
