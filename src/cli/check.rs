//! `netc check FILE...`

use super::{diag_style, err, out, read_source, shown, Format, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::diag::{render_all, SourceMap};
use crate::driver;
use crate::infer::{json, text};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The .net files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Show paths of at most N components: deeper layers fold into one row per module.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    depth: Option<u32>,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Print an intermediate stage instead of the report.
    #[arg(long, value_enum, value_name = "STAGE")]
    dump: Option<Stage>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Stage {
    /// The syntax tree.
    Ast,
    /// The graph IR in its text form.
    Ir,
    /// The training program (the inference one for nets that are not classifiers): buffers and kernel steps.
    Program,
    /// The JIT's plan of that program at batch 1: fused steps and memory places.
    Plan,
}

pub fn run(args: CheckArgs) -> i32 {
    let mut code = EXIT_OK;
    let mut jsons = Vec::new();
    for (i, file) in args.files.iter().enumerate() {
        let path = shown(file);
        let text = match read_source(file) {
            Ok(t) => t,
            Err(e) => {
                err(&format!("error: {e}\n"));
                if args.format == Format::Json {
                    jsons.push(json::render_unreadable(&path, &e));
                }
                code = code.max(EXIT_USAGE);
                continue;
            }
        };
        if i > 0 && args.format == Format::Text {
            out("\n");
        }
        let mut sources = SourceMap::new();
        if let Some(stage) = args.dump {
            code = code.max(dump(&mut sources, &path, &text, stage));
            continue;
        }
        let checked = driver::check(&mut sources, &path, &text, args.depth.map(|d| d as usize));
        match (args.format, &checked.report) {
            (Format::Text, Some(r)) => out(&text::render(r)),
            (Format::Json, Some(r)) if checked.diagnostics.is_empty() => jsons.push(json::render(r)),
            (Format::Json, _) => jsons.push(json::render_errors(&path, &checked.diagnostics, &sources)),
            (Format::Text, None) => {}
        }
        if !checked.diagnostics.is_empty() {
            err(&render_all(&checked.diagnostics, &sources, diag_style()));
            code = code.max(EXIT_INVALID);
        }
    }
    if args.format == Format::Json && args.dump.is_none() {
        // One document for one file; an array of documents for several, one per file
        // given, whether or not it could be read.
        if args.files.len() == 1 {
            out(&format!("{}\n", jsons[0]));
        } else {
            out(&format!("[\n{}\n]\n", jsons.join(",\n")));
        }
    }
    code
}

fn dump(sources: &mut SourceMap, path: &str, text: &str, stage: Stage) -> i32 {
    let id = sources.add(path, text);
    let ast = match crate::syntax::parse(text, id) {
        Ok(a) => a,
        Err(d) => {
            err(&render_all(&[d], sources, diag_style()));
            return EXIT_INVALID;
        }
    };
    if stage == Stage::Ast {
        out(&format!("{ast:#?}\n"));
        return EXIT_OK;
    }
    match crate::elab::elaborate(&ast, id) {
        Ok(g) if stage == Stage::Ir => {
            out(&g.to_string());
            EXIT_OK
        }
        Ok(g) => {
            if stage == Stage::Program {
                let program = crate::autodiff::training(&g).unwrap_or_else(|_| crate::autodiff::inference(&g));
                out(&program.to_string());
                return EXIT_OK;
            }
            // The plan the JIT would run for one training (or, for a net that is not a
            // classifier, inference) sample, with the kernel compiled for each step.
            use crate::runtime::{JitEngine, JitOptions};
            let (mut engine, training) = match JitEngine::new(&g, JitOptions::default()) {
                Ok(e) => (e, true),
                Err(_) => (JitEngine::inference(&g, JitOptions::default()), false),
            };
            let (plan, kernels) = engine.describe_plan(training, 1);
            let program = if training { engine.training_program() } else { engine.inference_program() };
            if crate::ir::checks_enabled() {
                if let Err(e) = crate::sched::verify(program, &plan) {
                    panic!("internal error: the plan fails verification: {e}");
                }
            }
            out(&crate::sched::render(&plan, program, &kernels));
            EXIT_OK
        }
        Err(f) => {
            if let Some(g) = f.partial {
                out(&g.to_string());
            }
            err(&render_all(&f.diagnostics, sources, diag_style()));
            EXIT_INVALID
        }
    }
}
