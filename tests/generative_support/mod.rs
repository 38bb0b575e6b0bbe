//! Support for the generative engine test: a model of the language that renders and
//! shape-checks random nets (`model`), the random choices (`generate`), and running one
//! net through the checker and both engines (`twin`).
#![allow(dead_code)]

pub mod generate;
pub mod model;
pub mod twin;
