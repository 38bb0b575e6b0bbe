//! Memoised GEMM compilation: one [`CompiledGemm`] per distinct
//! (spec, options) pair, shared by every layer and pass that needs it.
//!
//! Consumes: a [`Jit`] (owned, so every cached kernel has the same FMA
//! setting) and specs. Produces: `Arc<CompiledGemm>` handles.
//! Guarantees: a spec is compiled at most once per cache (concurrent
//! requests for the same new spec may both compile, one result wins);
//! errors are returned, not cached. A network's forward and backward passes
//! repeat few shapes, so this keeps JIT time proportional to distinct
//! shapes rather than to layers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::codegen::error::{CodegenError, Result};
use crate::codegen::gemm::{compile_gemm_with, CompiledGemm, GemmOptions};
use crate::codegen::gemm_spec::GemmSpec;
use crate::codegen::jit::Jit;

type Map = HashMap<(GemmSpec, GemmOptions), Arc<CompiledGemm>>;

/// A cache of compiled GEMMs keyed by spec and options.
pub struct GemmCache {
    jit: Jit,
    map: Mutex<Map>,
}

impl GemmCache {
    /// An empty cache compiling with `jit`.
    pub fn new(jit: Jit) -> GemmCache {
        GemmCache { jit, map: Mutex::new(HashMap::new()) }
    }

    /// The JIT kernels are compiled with.
    pub fn jit(&self) -> &Jit {
        &self.jit
    }

    /// The GEMM for `spec` with default options, compiling it on first use.
    pub fn get(&self, spec: GemmSpec) -> Result<Arc<CompiledGemm>> {
        self.get_with(spec, GemmOptions::default())
    }

    /// The GEMM for `spec` with `opts`, compiling it on first use.
    pub fn get_with(&self, spec: GemmSpec, opts: GemmOptions) -> Result<Arc<CompiledGemm>> {
        let key = (spec, opts);
        if let Some(g) = self.lock()?.get(&key) {
            return Ok(Arc::clone(g));
        }
        // Compile without holding the lock: compilation takes milliseconds
        // and other shapes should not wait for it.
        let fresh = Arc::new(compile_gemm_with(&self.jit, spec, opts)?);
        let mut map = self.lock()?;
        Ok(Arc::clone(map.entry(key).or_insert(fresh)))
    }

    /// Number of distinct compiled GEMMs.
    pub fn len(&self) -> usize {
        self.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when nothing has been compiled yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Result<MutexGuard<'_, Map>> {
        self.map.lock().map_err(|_| CodegenError::Compile("GEMM cache lock poisoned".into()))
    }
}
