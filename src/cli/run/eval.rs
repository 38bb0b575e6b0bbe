//! `netc run --weights FILE --eval DATASET`: loads the weights, runs the test pass with the
//! full report (top-1, top-5, per class, confusions) and prints it as text or JSON.

use super::report::{self, Context};
use super::{dataset_class_names, load_weights, Fail, RunArgs};
use crate::cli::classes::{self, some_names, ClassNames};
use crate::cli::{err, out, shown, Format, EXIT_INVALID, EXIT_USAGE};
use crate::data::{Pipeline, Splits};
use crate::runtime::{Engine, ParamStore};
use crate::train::{self, TrainError};

pub(super) fn run(
    args: &RunArgs,
    engine: &mut dyn Engine,
    store: &mut ParamStore,
    splits: &Splits,
    prep: &Pipeline,
) -> Result<(), Fail> {
    let dataset = args.eval.as_deref().expect("called for --eval");
    let path = args.weights.as_ref().expect("clap requires --weights");
    let loaded = load_weights(path, store)?;
    let evaluation = train::evaluate_report(engine, store, &splits.test, prep, args.batch, args.data_workers).map_err(
        |e| match e {
            TrainError::OutputNotFinite { .. } => Fail(
                EXIT_INVALID,
                format!("error: {}: {e}\nhint: the weights are finite but make the net overflow f32", path.display()),
            ),
            e => Fail(EXIT_USAGE, format!("error: {e}")),
        },
    )?;
    let data_names = dataset_class_names(&splits.test);
    let (names, notes) =
        classes::resolve(&loaded.metadata, path, evaluation.classes(), Some((dataset, data_names.as_slice())));
    for note in notes.iter().chain(&names_differ(&names, &data_names, path, dataset)) {
        err(&format!("{note}\n"));
    }
    let (net, weights) = (shown(&args.net), shown(path));
    let ctx = Context { net: &net, weights: &weights, dataset, engine: engine.name() };
    match args.format {
        Format::Text => out(&report::text(&ctx, &evaluation, &names)),
        Format::Json => out(&format!("{:#}\n", report::json(&ctx, &evaluation, &names))),
    }
    Ok(())
}

/// A warning when the checkpoint names its classes otherwise than the dataset does: labels
/// are compared by index, so the net may have learnt another order.
fn names_differ(names: &ClassNames, data_names: &[String], path: &std::path::Path, dataset: &str) -> Option<String> {
    (names.source == classes::Source::Checkpoint && names.names != data_names).then(|| {
        format!(
            "warning: the class names in {} ({}) differ from those of {dataset} ({}); labels are compared by \
             index, and the report uses the checkpoint's names",
            path.display(),
            some_names(&names.names),
            some_names(data_names)
        )
    })
}
