//! `netc dot FILE`

use super::{diag_style, out, read_source, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::diag::{render_all, SourceMap};
use crate::driver;
use crate::infer::dot;

#[derive(clap::Args)]
pub struct DotArgs {
    /// The .net file to draw.
    file: String,
}

pub fn run(args: DotArgs) -> i32 {
    let text = match read_source(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_USAGE;
        }
    };
    let mut sources = SourceMap::new();
    match driver::compile(&mut sources, &args.file, &text) {
        Ok(g) => {
            out(&dot::render(&g, &driver::net_name(&args.file)));
            EXIT_OK
        }
        Err(f) => {
            eprint!("{}", render_all(&f.diagnostics, &sources, diag_style()));
            EXIT_INVALID
        }
    }
}
