//! `netc predict NET --weights FILE INPUT...`: the top classes of each input, with their
//! probabilities, using the class names stored in the checkpoint; `--output FILE.npy` writes
//! the net's raw outputs so that they can be compared with another framework's.
//!
//! Inputs are read one batch at a time in the order given. An input that cannot be read
//! (or whose output is not finite) is reported with its path as soon as it fails, the others
//! are still predicted, and the exit code says that something failed: 2 if an input could
//! not be read, else 1. Nothing is printed or written for a failed input, so every printed
//! entry and every row of `--output` is a complete, good prediction.

mod batches;
mod inputs;
mod output;

use super::classes;
use super::run::{compile, load_weights, EngineKind, Fail};
use super::{err, out, shown, Format, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::autodiff::Program;
use crate::cli::resources::{self, Demand};
use crate::data::npy;
use crate::driver::{Batches, EngineChoice, Programs, Session, SessionError};
use crate::ir::Shape;
use crate::runtime::memory::footprint::{self, Bytes};
use crate::runtime::JitOptions;
use inputs::{ImageInputs, Input, InputShape};
use output::Prediction;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct PredictArgs {
    /// The .net file of the network.
    net: PathBuf,
    /// The trained weights: a checkpoint written by `netc run --save`.
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    /// The inputs: image files (decoded and preprocessed as the checkpoint says), folders of
    /// them (searched recursively, in name order), or .npy tensors already preprocessed
    /// (N×C×H×W or C×H×W; float32, float64 or float16).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Classes printed per input [default: 5, or the class count if smaller].
    #[arg(long, value_name = "K")]
    top: Option<usize>,
    /// Text, or JSON: [{"file", "sample", "top": [{"class", "index", "prob"}]}].
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the net's raw outputs (its final layer), N×K float32 in input order, to this .npy file.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Samples per inference batch.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Execution engine.
    #[arg(long, value_enum, default_value_t = EngineKind::Jit)]
    engine: EngineKind,
    /// Threads of the JIT engine.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Winograd convolutions for 3×3 stride-1 layers: auto (the cost model's choice per
    /// layer), off, f2, f4 or f6 (forced wherever they apply).
    #[arg(long, value_enum, default_value_t = super::WinogradArg::Auto, value_name = "WHEN")]
    winograd: super::WinogradArg,
    #[command(flatten)]
    tune: super::tune::TuneArgs,
    /// Memory netc may use, e.g. 512M or 8G (default: what the system has available).
    #[arg(long, value_name = "SIZE", value_parser = super::resources::parse_size)]
    memory_limit: Option<u64>,
    /// Largest image (width × height) decoded; larger files are refused before decoding.
    #[arg(long, value_name = "N", default_value_t = crate::data::decode::MAX_PIXELS)]
    max_pixels: u64,
}

pub fn run(args: PredictArgs) -> i32 {
    match predict(&args) {
        Ok(code) => code,
        Err(Fail(code, msg)) => {
            err(&format!("{msg}\n"));
            code
        }
    }
}

fn usage(msg: String) -> Fail {
    Fail(EXIT_USAGE, format!("error: {msg}"))
}

fn predict(args: &PredictArgs) -> Result<i32, Fail> {
    if args.batch == 0 {
        return Err(usage("--batch must be at least 1".into()));
    }
    if args.top == Some(0) {
        return Err(usage("--top must be at least 1".into()));
    }
    if args.max_pixels == 0 {
        return Err(usage("--max-pixels must be at least 1".into()));
    }
    if let Some(warning) = resources::check_threads(args.threads).map_err(|e| Fail(EXIT_USAGE, e))? {
        err(&format!("{warning}\n"));
    }
    let budget = resources::budget(args.memory_limit);
    let (graph, _) = compile(&args.net)?;
    let net = shown(&args.net);
    let input: InputShape = match graph.node(graph.input()).shape {
        Shape::Map { c, h, w } => (c as usize, h as usize, w as usize),
        s => return Err(Fail(EXIT_INVALID, format!("error: {net}: the net's input {s} is not an image"))),
    };
    let out_shape = graph.node(graph.output()).shape;
    let not_classifier =
        |why: String| Fail(EXIT_INVALID, format!("error: {net}: {why}; netc predict needs one score per class"));
    if !out_shape.is_vector_like() {
        return Err(not_classifier(format!("its output is {out_shape}, not a vector (or C×1×1)")));
    }
    let engine = match args.engine {
        EngineKind::Reference => EngineChoice::Reference { seed: 1 },
        EngineKind::Jit => EngineChoice::Jit(args.tune.apply(JitOptions {
            threads: args.threads,
            winograd: args.winograd.into(),
            ..JitOptions::default()
        })),
    };
    let programs = Programs::build(&graph, &engine);
    programs.classifier().map_err(|e| not_classifier(e.to_string()))?;
    if let Some(target) = &args.output {
        let mut inputs: Vec<(&str, &Path)> =
            vec![("the net's source", args.net.as_path()), ("the --weights file", args.weights.as_path())];
        inputs.extend(args.inputs.iter().map(|p| ("one of the inputs", p.as_path())));
        output::check_target(target, &inputs).map_err(|e| Fail(EXIT_USAGE, format!("error: {e}")))?;
    }
    let Opened { mut opened, unreadable, given, total } = open_inputs(args, input)?;
    // Classes scored, and values per sample (1 for a binary output: the probability of class 1).
    let classes = programs.eval.classes;
    let width = programs.eval.scores.width(classes);
    check_memory(args, &programs, input, &opened, total, budget.as_ref())?;
    let sizes = batch_sizes(total, args.batch);
    let met = Batches { train: &[], eval: &sizes };
    let Session { mut engine, mut store } =
        Session::start(&graph, programs, &engine, met, None).map_err(|e| match e {
            SessionError::NotAClassifier(e) => not_classifier(e.to_string()),
            SessionError::Memory(e) => Fail(EXIT_INVALID, format!("error: {net}: {e}")),
        })?;
    super::tune::report(engine.as_ref(), false);
    let loaded = load_weights(&args.weights, &mut store)?;
    let (names, notes) = classes::resolve(&loaded.metadata, &args.weights, classes, None);
    for note in notes {
        err(&format!("{note}\n"));
    }
    let mut images = ImageInputs::from_checkpoint(&loaded.metadata, &args.weights, input, args.max_pixels);
    // Said once; without a stored pipeline each image input says why it fails.
    if let (true, Ok(p)) = (opened.iter().any(Input::is_image), images.pipeline()) {
        err(&format!("preprocessing (stored in {}): {}\n", args.weights.display(), p.describe()));
    }
    let kind = engine.scores().2;
    let outcome = batches::predict_all(engine.as_mut(), &mut store, &sizes, &mut opened, &mut images, width);
    let failed = unreadable + outcome.unreadable + outcome.not_finite;
    report(args, &opened, &outcome, &names, kind, classes, failed > 0)?;
    if failed > 0 {
        err(&format!(
            "error: {failed} of {given} inputs could not be predicted (each is named above); the others were predicted\n"
        ));
        return Ok(if unreadable + outcome.unreadable > 0 { EXIT_USAGE } else { EXIT_INVALID });
    }
    Ok(EXIT_OK)
}

/// The inputs that could be opened, with counts.
struct Opened {
    opened: Vec<Input>,
    /// Inputs that could not be opened (each reported).
    unreadable: usize,
    /// Inputs given, with each folder counted as its image files.
    given: usize,
    /// Samples in the opened inputs.
    total: usize,
}

/// Opens every input (a folder's image files each), reporting those that cannot be read;
/// an error if none can.
fn open_inputs(args: &PredictArgs, input: InputShape) -> Result<Opened, Fail> {
    let mut unreadable = 0;
    let mut opened = Vec::new();
    let (paths, given) = expand(&args.inputs, &mut unreadable);
    for path in &paths {
        match Input::open(path, input) {
            Ok(i) => opened.push(i),
            Err(e) => {
                err(&format!("error: {e}\n"));
                unreadable += 1;
            }
        }
    }
    let total: usize = opened.iter().map(|i| i.samples).fold(0, usize::saturating_add);
    if opened.is_empty() {
        let none = match given {
            1 => "the input could not be read".to_string(),
            n => format!("none of the {n} inputs could be read"),
        };
        return Err(Fail(EXIT_USAGE, format!("error: {none}")));
    }
    Ok(Opened { opened, unreadable, given, total })
}

/// Refuses a prediction that does not fit in the budget: the parameters, the checkpoint
/// being read, the outputs, the inputs read or decoded ahead, and the engine's buffers.
fn check_memory(
    args: &PredictArgs,
    programs: &Programs,
    input: InputShape,
    opened: &[Input],
    total: usize,
    budget: Option<&resources::Budget>,
) -> Result<(), Fail> {
    let eval = &programs.eval;
    let classes = eval.buffer(eval.output).dims.iter().product::<usize>();
    let sample_len = input.0 * input.1 * input.2;
    let per_batch = |n: usize| batch_bytes(args.engine, eval, total, n, sample_len);
    let whole = opened.iter().map(Input::whole_read_bytes).max().unwrap_or(0);
    // Image inputs are decoded a window ahead (see `batches::predict_all`), as net inputs.
    let images_ahead = if opened.iter().any(Input::is_image) {
        batches::prefetch_window(args.batch) as u128 * sample_len as u128 * 4
    } else {
        0
    };
    let params = footprint::parameters(programs.params()).0;
    let demand = Demand {
        what: "inference",
        fixed: vec![
            ("parameters", params),
            ("reading the checkpoint", 2 * params),
            ("the outputs", total as u128 * (classes as u128 * 4 + 8)),
            ("a Fortran-order input read whole", whole),
            ("images decoded ahead", images_ahead),
        ],
        per_batch_what: match args.engine {
            EngineKind::Jit => "the JIT's arenas and the batch buffers",
            EngineKind::Reference => "the reference executor's buffers and the batch buffers",
        },
        per_batch: &per_batch,
    };
    resources::check(&shown(&args.net), &demand, args.batch, budget).map_err(|e| Fail(EXIT_INVALID, e))
}

/// The inputs with every folder replaced by the image files in it (searched as a class
/// folder is: recursively, in name order), and how many inputs that makes. A folder that
/// cannot be searched or holds no image counts as one unreadable input.
fn expand(inputs: &[PathBuf], unreadable: &mut usize) -> (Vec<PathBuf>, usize) {
    let mut paths = Vec::new();
    let mut given = 0;
    for path in inputs {
        if !path.is_dir() {
            paths.push(path.clone());
            given += 1;
            continue;
        }
        match crate::data::folder::image_files(path) {
            Ok((files, skipped)) if !files.is_empty() => {
                if !skipped.is_empty() {
                    err(&format!(
                        "note: {}: skipped {} files that are not images by their extension (e.g. {})\n",
                        path.display(),
                        skipped.len(),
                        skipped[0].display()
                    ));
                }
                given += files.len();
                paths.extend(files);
            }
            Ok(_) => {
                err(&format!("error: {}: a folder without image files\n", path.display()));
                *unreadable += 1;
                given += 1;
            }
            Err(e) => {
                err(&format!("error: {e}\n"));
                *unreadable += 1;
                given += 1;
            }
        }
    }
    (paths, given)
}

/// The batch sizes inference meets on `total` samples: the full one and the remainder.
fn batch_sizes(total: usize, batch: usize) -> Vec<usize> {
    let full = batch.min(total).max(1);
    std::iter::once(full).chain(Some(total % full).filter(|&r| r > 0)).collect()
}

/// Bytes that depend on the batch size `n`: the engine's buffers for the batch sizes met,
/// the batch of inputs, and the raw bytes of a chunk read from a file.
fn batch_bytes(engine: EngineKind, eval: &Program, total: usize, n: usize, sample_len: usize) -> Bytes {
    let sizes = batch_sizes(total, n);
    let buffers = match engine {
        EngineKind::Jit => sizes.iter().map(|&k| footprint::arena(eval, k)).sum(),
        EngineKind::Reference => footprint::executor(eval, sizes[0]),
    };
    buffers + Bytes::exact(sizes[0] as u128 * sample_len as u128 * (4 + 8))
}

/// Writes `--output` (before printing: a reader that closes stdout must not cost the file),
/// then prints the predictions.
fn report(
    args: &PredictArgs,
    inputs: &[Input],
    outcome: &batches::Outcome,
    names: &classes::ClassNames,
    kind: crate::autodiff::ScoreKind,
    classes: usize,
    some_failed: bool,
) -> Result<(), Fail> {
    let good: Vec<usize> = (0..inputs.len()).filter(|&i| !outcome.failed[i]).collect();
    if let Some(path) = &args.output {
        let rows: Vec<f32> = good.iter().flat_map(|&i| outcome.rows[i].iter().copied()).collect();
        let width = kind.width(classes);
        let n = rows.len() / width.max(1);
        if n == 0 {
            err(&format!("note: nothing was predicted, so {} was not written\n", path.display()));
        } else {
            npy::write_f32(path, &[n, width], &rows)
                .map_err(|e| Fail(EXIT_USAGE, format!("error: cannot write {e}")))?;
            if some_failed {
                err(&format!(
                    "note: {} holds the outputs of the {n} samples that were predicted; the failed inputs are not in it\n",
                    path.display()
                ));
            }
        }
    }
    let k = args.top.unwrap_or(5).min(classes);
    let predictions: Vec<Prediction> = good
        .iter()
        .flat_map(|&i| {
            let input = &inputs[i];
            outcome.rows[i].chunks_exact(kind.width(classes)).enumerate().map(move |(s, row)| Prediction {
                file: &input.path,
                sample: input.numbered.then_some(s),
                outputs: row,
            })
        })
        .collect();
    match args.format {
        Format::Text => out(&output::text(&predictions, names, kind, k)),
        Format::Json => out(&format!("{:#}\n", output::json(&predictions, names, kind, k))),
    }
    Ok(())
}
