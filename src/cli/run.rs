//! `netc run NET --train DATASET` and `netc run NET --weights FILE --eval DATASET`.

use super::{diag_style, err, read_source, shown, Format, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::data::{self, Augment, LoadOptions, NormalizeOption, Pipeline, SearchRoots, SplitBudget, Splits};
use crate::diag::{render_all, SourceMap};
use crate::driver::{self, EngineChoice, Session};
use crate::ir::Graph;
use crate::runtime::{JitOptions, ParamStore};
use crate::train::{checkpoint, ScheduleSpec, Span};
use clap::ValueEnum;
use std::path::{Path, PathBuf};

mod checks;
mod eval;
mod memory;
mod preprocess;
mod report;
mod training;
mod weights;

use training::{rate, train_net};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The .net file of the network.
    net: PathBuf,
    /// Train on a dataset: mnist, fashion-mnist, cifar10, cifar100, synthetic, or a
    /// folder (class folders of images, IDX files or CIFAR binaries).
    #[arg(long, value_name = "DATASET", conflicts_with = "eval")]
    train: Option<String>,
    /// Evaluate saved weights (`--weights`) on a dataset's test split (a name or a folder).
    #[arg(long, value_name = "DATASET", requires = "weights")]
    eval: Option<String>,
    /// Folder holding the dataset's files (default: ./data/<name>, then $NETC_DATA/<name>).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Base learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, value_enum, default_value_t = Optim::Adam)]
    optimizer: Optim,
    /// Momentum μ of momentum and nesterov (default 0.9) and rmsprop (default 0), from 0 to below 1.
    #[arg(long, value_name = "MU", value_parser = parse_unit)]
    momentum: Option<f64>,
    /// RMSprop's decay ρ of the mean square, from 0 to below 1 (default 0.9).
    #[arg(long, value_name = "RHO", value_parser = parse_unit)]
    rms_decay: Option<f64>,
    /// RMSprop's ε, added to the mean square inside the square root (TensorFlow's form;
    /// default 1e-10; Inception-v3 uses 1).
    #[arg(long, value_name = "EPS", value_parser = parse_eps)]
    rms_eps: Option<f64>,
    /// Weight decay (L2 for sgd/momentum/nesterov/rmsprop, decoupled for adam).
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Learning-rate schedule: cosine (decay to 0), constant, step (×0.1 every third of the
    /// epochs), exp:GAMMA/PERIOD (×GAMMA every PERIOD, e.g. exp:0.94/2), or
    /// step:[GAMMA@]M1,M2,… (×GAMMA, default 0.1, at each milestone, e.g. step:32000it,48000it).
    /// Periods and milestones are epochs (2, 2ep, 0.5ep) or iterations (500it).
    #[arg(long, value_name = "SCHEDULE", default_value = "cosine", value_parser = parse_schedule)]
    schedule: ScheduleSpec,
    /// Warm up for this long before the schedule: epochs (1, 1ep, 0.5ep) or iterations (400it).
    #[arg(long, value_name = "LENGTH", value_parser = parse_span)]
    warmup: Option<Span>,
    /// How the warm-up goes: linear (from --warmup-lr up to --lr) or constant (--warmup-lr throughout).
    #[arg(long, value_enum, default_value_t = WarmupArg::Linear, requires = "warmup")]
    warmup_mode: WarmupArg,
    /// The warm-up's start rate (default: 0 for linear, --lr/10 for constant).
    #[arg(long, value_name = "LR", value_parser = parse_warmup_lr, requires = "warmup")]
    warmup_lr: Option<f64>,
    /// Clip the gradients by their global norm to at most X before each update (before
    /// weight decay is added); the norms go into --log.
    #[arg(long, value_name = "X", value_parser = parse_clip)]
    clip_norm: Option<f64>,
    /// Label smoothing ε from 0 to below 1: the training target of softmax cross-entropy is
    /// (1 − ε)·onehot(label) + ε/K over the K classes (PyTorch's `label_smoothing`; K = 2 for
    /// a binary sigmoid output). Evaluation is unaffected; the training loss shown is smoothed.
    #[arg(long, value_name = "EPS", value_parser = parse_smoothing)]
    label_smoothing: Option<f64>,
    /// Seed of initialisation, shuffling and dropout: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Execution engine.
    #[arg(long, value_enum, default_value_t = EngineKind::Jit)]
    engine: EngineKind,
    /// Threads of the JIT engine; the same seed and thread count give bit-identical runs.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Winograd convolutions for 3×3 stride-1 layers: auto (the cost model's choice per
    /// layer), off, f2, f4 or f6 (forced wherever they apply).
    #[arg(long, value_enum, default_value_t = super::WinogradArg::Auto, value_name = "WHEN")]
    winograd: super::WinogradArg,
    #[command(flatten)]
    tune: super::tune::TuneArgs,
    /// Input scaling, kept for compatibility: `standard` is `--normalize train`, `lecun`
    /// is `--normalize lecun`.
    #[arg(long, value_enum, conflicts_with = "normalize")]
    scaling: Option<ScalingArg>,
    /// Normalisation: train (per-channel mean/std of the training set, the default),
    /// imagenet, none (x/255), lecun, or MEAN/STD values such as 0.5,0.5,0.5/0.25,0.25,0.25.
    #[arg(long, value_name = "SPEC", value_parser = parse_normalize)]
    normalize: Option<NormalizeOption>,
    /// Feed colour images to a 1-channel net as gray (ITU-R BT.601 luma).
    #[arg(long)]
    gray: bool,
    /// Resize the shorter side to R before the centre crop (default: round(max(H, W)·256/224)
    /// for data that is not already at most the input's size).
    #[arg(long, value_name = "R", value_parser = parse_resize)]
    resize: Option<usize>,
    /// Training augmentation: none, N (shift=N), or items such as crop=4,flip,
    /// rrc=0.08-1:0.75-1.333, shift=1 (default: shift=1 for 1-channel digit-like data,
    /// else none).
    #[arg(long, value_name = "SPEC", value_parser = parse_augment)]
    augment: Option<Augment>,
    /// Threads preparing batches ahead of the engine (0: between steps, on the training thread).
    #[arg(long, default_value_t = 1, value_name = "N")]
    data_workers: usize,
    /// Use only the first N images of each split (quick runs; an image folder keeps a
    /// round-robin over its classes).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Image folder with one tree of class folders: hold out this fraction of each
    /// class for testing (stratified, chosen by --seed).
    #[arg(long, value_name = "F")]
    val_split: Option<f64>,
    /// CIFAR-100: train on the 100 fine classes or the 20 coarse superclasses.
    #[arg(long, value_enum, default_value_t = LabelsArg::Fine)]
    labels: LabelsArg,
    /// Image folders: leave out files that cannot be read or decoded (counted in a
    /// warning) instead of stopping.
    #[arg(long)]
    skip_bad_images: bool,
    /// Image folders: refuse images with more pixels than this (decompression bombs).
    #[arg(long, value_name = "N", default_value_t = crate::data::decode::MAX_PIXELS)]
    max_pixels: u64,
    /// Save the weights (and optimizer state) after every epoch, atomically.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Continue training from a checkpoint written by `--save`.
    #[arg(long, value_name = "FILE", conflicts_with = "weights")]
    resume: Option<PathBuf>,
    /// Start from (or, with --eval, evaluate) these weights.
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    /// With --weights and --train: take the tensors whose name and shape match, initialise
    /// the rest (e.g. a classifier for another class count), and say which is which.
    #[arg(long, requires = "weights", requires = "train")]
    finetune: bool,
    /// Leave the tensors under these layer paths unchanged in training (e.g. `--freeze
    /// features layer1`): a prefix matches a path and everything below it.
    #[arg(long, value_name = "PREFIX", num_args = 1.., requires = "train")]
    freeze: Vec<String>,
    /// Append one JSON object per epoch to this file.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
    /// Memory netc may use, e.g. 512M or 8G (default: what the system has available).
    #[arg(long, value_name = "SIZE", value_parser = super::resources::parse_size)]
    memory_limit: Option<u64>,
    /// Image folders: keep the decoded images in memory when they fit beside the rest of
    /// the run (auto), always (refusing a folder that does not fit), or never (decode
    /// each image from disk again whenever its batch is prepared).
    #[arg(long, value_enum, default_value_t = CacheArg::Auto, value_name = "WHEN")]
    cache_images: CacheArg,
    /// The --eval report as text or as JSON (schema netc.eval/1).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Optim {
    Sgd,
    Momentum,
    /// Nesterov momentum (PyTorch's form).
    Nesterov,
    Adam,
    /// RMSprop (TensorFlow's form: ε inside the square root).
    Rmsprop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum WarmupArg {
    Linear,
    Constant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum EngineKind {
    /// Cranelift-compiled kernels.
    Jit,
    /// The plain ndarray-style executor: slow, obviously correct.
    Reference,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LabelsArg {
    Fine,
    Coarse,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CacheArg {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ScalingArg {
    Lecun,
    Standard,
}

fn parse_normalize(s: &str) -> Result<NormalizeOption, String> {
    s.parse()
}

fn parse_augment(s: &str) -> Result<Augment, String> {
    s.parse()
}

fn parse_schedule(s: &str) -> Result<ScheduleSpec, String> {
    s.parse()
}

fn parse_span(s: &str) -> Result<Span, String> {
    s.parse()
}

/// A number in [0, 1): a momentum or a decay.
fn parse_unit(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        _ => Err("expected a number from 0 to below 1".into()),
    }
}

/// A positive number that stays positive in f32.
fn parse_eps(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x as f32 >= f32::MIN_POSITIVE && (x as f32).is_finite() => Ok(x),
        _ => Err(format!("expected a number > 0 (from {:e} to {:e}, the range of f32)", f32::MIN_POSITIVE, f32::MAX)),
    }
}

fn parse_warmup_lr(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 && (x as f32).is_finite() => Ok(x),
        _ => Err("expected a learning rate ≥ 0".into()),
    }
}

fn parse_smoothing(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        _ => Err("expected a label smoothing ε from 0 to below 1 (e.g. 0.1)".into()),
    }
}

fn parse_clip(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err("expected a norm > 0".into()),
    }
}

fn parse_resize(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(r) if (1..=data::prep::MAX_RESIZE).contains(&r) => Ok(r),
        _ => Err(format!("expected a size in pixels from 1 to {}", data::prep::MAX_RESIZE)),
    }
}

/// A failure with its exit code, already worded for the user.
pub(super) struct Fail(pub(super) i32, pub(super) String);

pub fn run(args: RunArgs) -> i32 {
    // A reader that stops reading (`| head -1`) must not stop training.
    super::keep_going_without_stdout();
    match run_inner(&args) {
        Ok(()) if super::stdout_failed() => EXIT_USAGE,
        Ok(()) => EXIT_OK,
        Err(Fail(code, msg)) => {
            err(&format!("{msg}\n"));
            code
        }
    }
}

fn run_inner(args: &RunArgs) -> Result<(), Fail> {
    let dataset = checks::what_to_do(args)?;
    // Read before the datasets take their share; they are counted in the demand.
    let budget = super::resources::budget(args.memory_limit);
    let (graph, sources) = compile(&args.net)?;
    let input = image_input(&graph)?;
    let stored = preprocess::stored(args)?;
    let engine = engine_choice(args);
    // The programs come before the data, to leave the images what the rest does not
    // take; a net that is not a classifier is reported after the data, as before.
    let mut programs = driver::Programs::build(&graph, &engine);
    if let (Some(eps), Ok(train)) = (args.label_smoothing, programs.train.as_mut()) {
        crate::autodiff::smooth_labels(train, eps as f32);
    }
    let side = preprocess::stored_side(args, input, stored.as_ref());
    let splits = {
        let image_room = memory::image_room(args, budget.as_ref(), input, &programs);
        load_data(dataset, args, budget.is_some().then_some(SplitBudget(&image_room)), side)?
    };
    let (prep, prep_line) = preprocess::pipeline(args, input, &splits, stored.as_ref())?;
    let augment = match args.eval {
        None => preprocess::augment(args, &splits, &prep, stored.as_ref())?,
        Some(_) => Augment::none(),
    };
    if let Some(d) =
        crate::autodiff::class_count_check(&graph, &sources, &splits.train.name, splits.train.class_count())
    {
        return Err(Fail(EXIT_INVALID, render_all(&[d], &sources, diag_style())));
    }
    let invalid = |e: &dyn std::fmt::Display| Fail(EXIT_INVALID, format!("error: {}: {e}", args.net.display()));
    programs.classifier().map_err(|e| invalid(&e))?;
    memory::check(args, input, &programs, &splits, budget.as_ref())?;
    let batches = memory::batches(args, &splits);
    let Session { mut engine, mut store } =
        Session::start(&graph, programs, &engine, batches.sizes(), Some(args.seed)).map_err(|e| invalid(&e))?;
    let images_line = memory::streamed_line(&splits, budget.as_ref());
    super::tune::report(engine.as_ref(), !args.quiet);
    if args.eval.is_some() {
        err(&format!("{prep_line}\n"));
        if let Some(line) = &images_line {
            err(&format!("{line}\n"));
        }
        return eval::run(args, engine.as_mut(), &mut store, &splits, &prep);
    }
    let fed = Fed { pipeline: &prep, line: &prep_line, augment, images: images_line.as_deref() };
    train_net(args, engine.as_mut(), &mut store, &splits, &fed)
}

/// The net's input as channels, height and width, or an error for an input that is not an image.
fn image_input(graph: &Graph) -> Result<(usize, usize, usize), Fail> {
    match graph.node(graph.input()).shape {
        crate::ir::Shape::Map { c, h, w } => Ok((c as usize, h as usize, w as usize)),
        s => Err(Fail(EXIT_INVALID, format!("error: the net's input {s} is not an image"))),
    }
}

/// The engine `--engine` and `--threads` ask for, seeded by `--seed`.
fn engine_choice(args: &RunArgs) -> EngineChoice {
    match args.engine {
        EngineKind::Reference => EngineChoice::Reference { seed: args.seed },
        EngineKind::Jit => EngineChoice::Jit(args.tune.apply(JitOptions {
            threads: args.threads,
            seed: args.seed,
            winograd: args.winograd.into(),
            ..JitOptions::default()
        })),
    }
}

/// What the run feeds the net: the pipeline, its report line, the augmentation, and
/// the line saying why the images are streamed from disk, if they are.
struct Fed<'a> {
    pipeline: &'a Pipeline,
    line: &'a str,
    augment: Augment,
    images: Option<&'a str>,
}

pub(super) fn compile(path: &Path) -> Result<(Graph, SourceMap), Fail> {
    let text = read_source(path).map_err(|e| Fail(EXIT_USAGE, format!("error: {e}")))?;
    let mut sources = SourceMap::new();
    match driver::compile(&mut sources, &shown(path), &text) {
        Ok(g) => Ok((g, sources)),
        Err(f) => Err(Fail(EXIT_INVALID, render_all(&f.diagnostics, &sources, diag_style()))),
    }
}

/// The class names of a dataset, in label order.
pub(super) fn dataset_class_names(d: &data::Dataset) -> Vec<String> {
    d.classes.clone()
}

/// Loads the dataset, drawing a progress bar while image files are decoded (hidden by
/// `--quiet`) and printing the loader's warnings. Images are stored shrunk to
/// `shorter_side` (the preprocessing's resize size; never enlarged).
/// `image_budget` is what the decoded images of an image folder may take in memory.
fn load_data(
    name: &str,
    args: &RunArgs,
    image_budget: Option<SplitBudget<'_>>,
    shorter_side: usize,
) -> Result<Splits, Fail> {
    let opts = LoadOptions {
        limit: args.limit,
        val_split: args.val_split,
        seed: args.seed,
        cifar_labels: match args.labels {
            LabelsArg::Fine => data::CifarLabels::Fine,
            LabelsArg::Coarse => data::CifarLabels::Coarse,
        },
        decode: data::DecodeOptions { max_pixels: args.max_pixels, max_shorter_side: Some(shorter_side) },
        skip_bad_images: args.skip_bad_images,
        // The run's own check below then counts the images with everything else.
        split_budget: image_budget,
        cache: match args.cache_images {
            CacheArg::Auto => data::CacheImages::Auto,
            CacheArg::Always => data::CacheImages::Always,
            CacheArg::Never => data::CacheImages::Never,
        },
        for_eval: args.eval.is_some(),
        ..LoadOptions::default()
    };
    let bar = std::sync::OnceLock::<indicatif::ProgressBar>::new();
    let progress = |done: usize, total: usize| {
        if args.quiet {
            return;
        }
        let b = bar.get_or_init(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("decoding images [{bar:30}] {pos}/{len} {per_sec} {eta}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            b
        });
        b.set_position(done as u64);
    };
    let loaded = data::load_with_progress(name, args.data.as_deref(), &SearchRoots::from_process(), &opts, &progress);
    if let Some(b) = bar.get() {
        b.finish_and_clear();
    }
    let splits = loaded.map_err(|e| Fail(EXIT_USAGE, format!("error: {e}")))?;
    for w in &splits.warnings {
        err(&format!("warning: {w}\n"));
    }
    let streamed = splits.train.images.stream().is_some() || splits.test.images.stream().is_some();
    if args.cache_images == CacheArg::Never && !streamed {
        err(&format!("note: --cache-images never applies to image folders; {name} is held in memory\n"));
    }
    Ok(splits)
}

/// Loads `--weights` or `--resume` into the store and prints the notes of the load.
pub(super) fn load_weights(path: &Path, store: &mut ParamStore) -> Result<checkpoint::Loaded, Fail> {
    loaded(driver::weights::load(path, store))
}

/// A load's notes printed, or its error worded for the user.
pub(super) fn loaded(
    result: Result<checkpoint::Loaded, driver::weights::WeightsError>,
) -> Result<checkpoint::Loaded, Fail> {
    let loaded = result.map_err(|e| Fail(EXIT_USAGE, format!("error: {e}")))?;
    for note in &loaded.notes {
        err(&format!("{note}\n"));
    }
    Ok(loaded)
}
