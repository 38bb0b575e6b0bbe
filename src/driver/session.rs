//! The autodiff stage and the stages that execute its programs, for the commands that
//! run a net (`run`, `predict`, `bench`):
//!
//! ```text
//!  graph ─autodiff─▶ Programs (training, inference) ─sched · codegen · runtime─▶ Session (engine, store)
//! ```
//!
//! Each program is built once, here, and handed to the engine that runs it. Commands look
//! at the programs in between (the memory they will need, whether the net is a
//! classifier) before anything large is allocated. The engine plans (`sched`) and
//! compiles (`codegen`) a program per batch size; [`Session::start`] reserves those
//! batch sizes, so that memory that is not there is an error now, not an abort later.

use crate::autodiff::{self, NotAClassifier, ParamInfo, Program};
use crate::ir::Graph;
use crate::runtime::memory::AllocError;
use crate::runtime::{Engine, JitEngine, JitOptions, ParamStore, ReferenceEngine};
use std::fmt;

/// Which engine runs the programs.
#[derive(Debug, Clone)]
pub enum EngineChoice {
    /// Cranelift-compiled kernels; inference runs with batch norm folded into convolutions.
    Jit(JitOptions),
    /// The reference executor (the oracle); `seed` seeds dropout.
    Reference { seed: u64 },
}

/// The programs of a net: what `autodiff` makes of its graph.
pub struct Programs {
    /// Forward, loss and backward; an error for a net that is not a classifier.
    pub train: Result<Program, NotAClassifier>,
    /// The forward pass as the chosen engine runs it.
    pub eval: Program,
}

impl Programs {
    /// Builds the training and the inference program of `graph` for `engine`.
    pub fn build(graph: &Graph, engine: &EngineChoice) -> Programs {
        let train = autodiff::training(graph);
        let eval = match engine {
            EngineChoice::Jit(_) => autodiff::fold_batch_norm(&autodiff::inference(graph)),
            EngineChoice::Reference { .. } => autodiff::inference(graph),
        };
        Programs { train, eval }
    }

    /// The training program, or why the net is not a classifier.
    pub fn classifier(&self) -> Result<&Program, NotAClassifier> {
        self.train.as_ref().map_err(Clone::clone)
    }

    /// The net's tensors (those of the inference program for a net that is not a classifier).
    pub fn params(&self) -> &[ParamInfo] {
        self.train.as_ref().map_or(&self.eval.params, |t| &t.params)
    }
}

/// Why a session could not start.
#[derive(Debug)]
pub enum SessionError {
    NotAClassifier(NotAClassifier),
    Memory(AllocError),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::NotAClassifier(e) => write!(f, "{e}"),
            SessionError::Memory(e) => write!(f, "{e}"),
        }
    }
}

/// The batch sizes a session meets: training batches (none for inference alone) and
/// inference batches.
pub struct Batches<'a> {
    pub train: &'a [usize],
    pub eval: &'a [usize],
}

/// A net ready to run: an engine holding its programs, and its parameters.
pub struct Session {
    pub engine: Box<dyn Engine>,
    pub store: ParamStore,
}

impl Session {
    /// Hands `programs` (the training program must exist) to `engine`, reserves its
    /// buffers for `batches`, and allocates the parameter store (with gradients when
    /// there are training batches), initialised from `seed` if one is given (else zero,
    /// for weights loaded next).
    pub fn start(
        graph: &Graph,
        programs: Programs,
        engine: &EngineChoice,
        batches: Batches,
        seed: Option<u64>,
    ) -> Result<Session, SessionError> {
        let train = programs.train.map_err(SessionError::NotAClassifier)?;
        let params = train.params.clone();
        let mut engine: Box<dyn Engine> = match *engine {
            EngineChoice::Jit(ref opts) => Box::new(JitEngine::from_programs(train, programs.eval, opts.clone())),
            EngineChoice::Reference { seed } => Box::new(ReferenceEngine::from_programs(train, programs.eval, 1, seed)),
        };
        engine.reserve(batches.train, batches.eval).map_err(SessionError::Memory)?;
        let mut store = ParamStore::try_new(&params, !batches.train.is_empty()).map_err(SessionError::Memory)?;
        if let Some(seed) = seed {
            crate::train::initialise(&mut store, graph, seed);
        }
        Ok(Session { engine, store })
    }
}
