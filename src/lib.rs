pub mod cli;
pub mod data;
pub mod diag;
pub mod driver;
pub mod elab;
pub mod infer;
pub mod ir;
pub mod syntax;
