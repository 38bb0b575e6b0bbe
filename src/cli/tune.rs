//! `--tune` and `--tune-cache`, shared by `bench`, `run` and `predict`: whether the
//! JIT measures its convolution kernels' tiles and algorithms on this machine
//! ([`crate::codegen::tune`]) and where it keeps the results.

use std::path::PathBuf;

use super::err;
use crate::runtime::jit::TuneMode;
use crate::runtime::{Engine, JitOptions};

/// `--tune`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TuneArg {
    /// Measure each convolution shape not in the table yet (≤ 20 ms each), reuse the rest.
    On,
    /// The cost model's choices only: nothing measured or read (reproducible plans).
    Off,
    /// Choices from the table where present, the cost model elsewhere; nothing measured.
    Cached,
    /// Measure every shape again and replace the table's entries.
    Fresh,
}

#[derive(clap::Args, Debug, Clone)]
pub struct TuneArgs {
    /// Autotuning of convolution tiles and algorithms, measured on this machine and
    /// kept in a table per CPU model.
    #[arg(long, value_enum, default_value_t = TuneArg::On, value_name = "WHEN", env = "NETC_TUNE")]
    pub tune: TuneArg,
    /// Directory of the autotune table (default: $XDG_CACHE_HOME/netc or ~/.cache/netc).
    #[arg(long, value_name = "DIR")]
    pub tune_cache: Option<PathBuf>,
}

impl TuneArgs {
    /// `opts` with these settings.
    pub fn apply(&self, opts: JitOptions) -> JitOptions {
        let tune = match self.tune {
            TuneArg::On => TuneMode::On,
            TuneArg::Off => TuneMode::Off,
            TuneArg::Cached => TuneMode::Cached,
            TuneArg::Fresh => TuneMode::Fresh,
        };
        JitOptions { tune, tune_dir: self.tune_cache.clone(), ..opts }
    }
}

/// Prints the engine's tuning warnings (on stderr), and with `summary` what it did.
pub fn report(engine: &dyn Engine, summary: bool) {
    let Some(r) = engine.tune_report() else { return };
    if summary && r.stats.measured > 0 {
        err(&format!("autotune: {}\n", r.summary()));
    }
    for w in &r.warnings {
        err(&format!("warning: {w}\n"));
    }
}
