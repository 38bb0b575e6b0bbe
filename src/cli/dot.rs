//! `netc dot FILE`

use super::{diag_style, err, out, read_source, shown, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::diag::{render_all, SourceMap};
use crate::driver;
use crate::infer::dot;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct DotArgs {
    /// The .net file to draw.
    file: PathBuf,
}

pub fn run(args: DotArgs) -> i32 {
    let text = match read_source(&args.file) {
        Ok(t) => t,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return EXIT_USAGE;
        }
    };
    let path = shown(&args.file);
    let mut sources = SourceMap::new();
    match driver::compile(&mut sources, &path, &text) {
        Ok(g) => {
            out(&dot::render(&g, &driver::net_name(&path)));
            EXIT_OK
        }
        Err(f) => {
            err(&render_all(&f.diagnostics, &sources, diag_style()));
            EXIT_INVALID
        }
    }
}
