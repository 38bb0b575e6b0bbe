//! `netc export NET [--weights FILE] -o FILE.onnx`: the net and its weights as an ONNX
//! model (see `crate::export`). Without `--weights`, the net's initial weights (seeded
//! by `--seed`) are exported, and a note says so.
//!
//! Everything that can be refused is refused before the weights are allocated: the net,
//! the target (never the net's source or the weights file; only an absent, empty or ONNX
//! file is replaced), a model beyond ONNX's 2 GiB, and a model that does not fit in
//! memory. The file is written atomically.

use super::run::{compile, load_weights, Fail};
use super::{err, out, shown, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::autodiff;
use crate::driver::export::Encoded;
use crate::driver::{self, net_name};
use crate::export::{self, ModelInfo};
use crate::runtime::memory::human_bytes;
use crate::runtime::ParamStore;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The .net file of the network.
    net: PathBuf,
    /// Trained weights: a checkpoint written by `netc run --save` [default: the net's
    /// initial weights, seeded by --seed].
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    /// The ONNX file to write (replaced atomically if it is already an ONNX model).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Seed of the initial weights, when no --weights is given.
    #[arg(long, default_value_t = 1, conflicts_with = "weights")]
    seed: u64,
    /// Memory netc may use, e.g. 512M or 8G (default: what the system has available).
    #[arg(long, value_name = "SIZE", value_parser = super::resources::parse_size)]
    memory_limit: Option<u64>,
}

pub fn run(args: ExportArgs) -> i32 {
    match export_net(&args) {
        Ok(()) => EXIT_OK,
        Err(Fail(code, msg)) => {
            err(&format!("{msg}\n"));
            code
        }
    }
}

fn export_net(args: &ExportArgs) -> Result<(), Fail> {
    let (graph, sources) = compile(&args.net)?;
    let net = shown(&args.net);
    let mut inputs = vec![("the net's source", args.net.as_path())];
    if let Some(w) = &args.weights {
        inputs.push(("the --weights file", w.as_path()));
    }
    export::check_target(&args.output, &inputs).map_err(|e| Fail(EXIT_USAGE, format!("error: {e}")))?;
    let infos = driver::export::tensors(&graph);
    export::check_size(&infos).map_err(|e| Fail(EXIT_INVALID, format!("error: {net}: {e}")))?;
    check_memory(&net, args, &infos)?;
    // Heads' tensors are read with the rest (a checkpoint saved by training holds them),
    // then dropped: the model is the net as inference runs it.
    let all = driver::export::checkpoint_tensors(&graph);
    let mut store = ParamStore::try_new(&all, false).map_err(|e| Fail(EXIT_INVALID, format!("error: {net}: {e}")))?;
    let origin = match &args.weights {
        Some(path) => {
            load_weights(path, &mut store)?;
            format!("trained weights from {}", shown(path))
        }
        None => {
            crate::train::initialise(&mut store, &graph, args.seed);
            err(&format!(
                "note: no --weights given: exporting the net's initial weights (seed {}), not trained ones\n",
                args.seed
            ));
            format!("initial weights, seed {}", args.seed)
        }
    };
    let name = net_name(&net);
    let source = &sources.files()[0].text;
    let info = ModelInfo {
        doc: export::leading_comment(source).unwrap_or_else(|| name.clone()),
        name,
        metadata: vec![("netc.source".into(), net.clone()), ("netc.weights".into(), origin)],
    };
    let store = store.without_heads();
    let (params, state) = counts(&infos);
    let Encoded { bytes, nodes } =
        driver::export::onnx(&graph, store, &info).map_err(|e| Fail(EXIT_INVALID, format!("error: {net}: {e}")))?;
    export::write(&args.output, &bytes).map_err(|e| Fail(EXIT_USAGE, format!("error: {e}")))?;
    out(&format!(
        "wrote {}: ONNX opset {}, {nodes} node{}, {} parameters + {} batch-norm statistics in {} initializer{}, {}\n",
        shown(&args.output),
        export::OPSET,
        if nodes == 1 { "" } else { "s" },
        grouped(params),
        grouped(state),
        infos.len(),
        if infos.len() == 1 { "" } else { "s" },
        human_bytes(bytes.len() as u128),
    ));
    Ok(())
}

/// Parameters (what `netc check` counts) and batch-norm running statistics, in elements.
fn counts(infos: &[autodiff::ParamInfo]) -> (u128, u128) {
    let (mut params, mut state) = (0u128, 0u128);
    for p in infos {
        let n = p.len() as u128;
        if export::is_state(&p.name) {
            state += n;
        } else {
            params += n;
        }
    }
    (params, state)
}

fn grouped(n: u128) -> String {
    crate::infer::text::grouped(n)
}

/// Refuses an export whose copies of the weights do not fit in memory: the store, the
/// checkpoint being read (twice its size while it is checked), the model and its bytes.
fn check_memory(net: &str, args: &ExportArgs, infos: &[autodiff::ParamInfo]) -> Result<(), Fail> {
    let Some(budget) = super::resources::budget(args.memory_limit) else { return Ok(()) };
    let weights: u128 = infos.iter().map(|p| p.len() as u128 * 4).sum();
    // A checkpoint is read whole and parsed into a store that exists already: three copies.
    let copies = if args.weights.is_some() { 3 } else { 2 };
    let need = weights * copies;
    if need <= budget.bytes {
        return Ok(());
    }
    let mut msg = format!(
        "error: {net} does not fit in memory: exporting needs {} ({} of weights, held {copies} times over while \
         they are read and encoded); {} available ({})",
        human_bytes(need),
        human_bytes(weights),
        human_bytes(budget.bytes),
        budget.source
    );
    if budget.source != "--memory-limit" {
        msg.push_str("\nhint: --memory-limit SIZE overrides the detected figure");
    }
    Err(Fail(EXIT_INVALID, msg))
}
