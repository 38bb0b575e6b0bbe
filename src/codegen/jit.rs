//! The JIT: Cranelift `JITModule`s for the host ISA (one per [`Opt`] level,
//! since the optimisation level is a property of the ISA flags), and typed
//! handles to the functions compiled into them.
//!
//! Consumes: [`JitOptions`] (whether FMA may be used, whether to keep
//! disassembly) and, per kernel, a closure that fills a `FunctionBuilder`.
//! Produces: [`JitFn<N>`], a callable handle to a kernel taking `N` `i64`
//! arguments (raw pointers and sizes) and returning nothing.
//! Guarantees:
//! * the ISA is the native one with the CPU features Cranelift detects,
//!   optionally with `has_fma` forced off; each kernel is compiled with the
//!   [`Opt`] level it asks for (`speed` by default);
//! * [`CpuFeatures::has_fma`] is true exactly when Cranelift will lower `fma`
//!   to a native instruction, so emitters can pick `fma` or `fmul`+`fadd`;
//! * executable memory lives as long as the longest-living of the `Jit` and
//!   every `JitFn` it produced (they share one reference-counted owner), and
//!   is freed when the last of them is dropped.
//!
//! The signature of a kernel is fixed by the handle type (`N` x `i64`, no
//! return value), so the only unsafe act is the call itself: the caller
//! vouches for the pointers it passes.

use std::sync::{Arc, Mutex, MutexGuard};

use cranelift_codegen::ir::{types, AbiParam, UserFuncName, Value};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};

use crate::codegen::error::{invalid, CodegenError, Result};

/// Largest number of arguments a kernel may take.
pub const MAX_KERNEL_ARGS: usize = 10;

/// CPU features as Cranelift sees them for this JIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuFeatures {
    /// SSE4.1 (`roundps`, `pmulld`, `blendvps` ...).
    pub has_sse41: bool,
    /// AVX: VEX (three-operand) encodings of the 128-bit instructions.
    pub has_avx: bool,
    /// Native fused multiply-add will be emitted (`has_fma` and `has_avx`,
    /// and not forced off through [`JitOptions::allow_fma`]).
    pub has_fma: bool,
}

/// How to configure a [`Jit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitOptions {
    /// Use FMA if the CPU has it. `false` forces the `fmul`+`fadd` path,
    /// which is how the fallback is tested on FMA machines.
    pub allow_fma: bool,
    /// Keep the CLIF and Cranelift's disassembly of every kernel (see
    /// [`JitFn::disasm`]); for inspecting generated code.
    pub keep_disassembly: bool,
}

impl Default for JitOptions {
    fn default() -> Self {
        JitOptions { allow_fma: true, keep_disassembly: false }
    }
}

/// Cranelift optimisation level of one kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Opt {
    /// `opt_level=speed`: e-graph rewrites, GVN, LICM, redundant-load
    /// elimination, instruction re-scheduling. Right for most kernels.
    #[default]
    Speed,
    /// `opt_level=none`: instructions stay in the order and number the
    /// emitter wrote them. For hand-scheduled inner loops (the GEMM
    /// micro-kernel) where the e-graph's re-scheduling and load merging raise
    /// register pressure past the 16 xmm registers and cause spills.
    None,
}

/// Owner of the executable memory; shared by the `Jit` and all handles.
struct Owner {
    state: Mutex<State>,
}

struct State {
    /// One module per [`Opt`] level (index `Opt as usize`); emptied only
    /// while being dropped.
    modules: Vec<JITModule>,
    ctx: Context,
    fctx: FunctionBuilderContext,
    counter: u64,
    /// Name each kernel in perf's map file (`NETC_PERF_MAP`).
    perf_map: bool,
}

impl Drop for Owner {
    fn drop(&mut self) {
        let state = match self.state.get_mut() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        for module in state.modules.drain(..) {
            // SAFETY: `Owner` is only dropped when no `Jit` and no `JitFn`
            // refers to it any more, so no code pointer into this memory
            // can still be called.
            unsafe { module.free_memory() };
        }
    }
}

/// A JIT compiler for the host CPU. Cheap to share by reference; compiling
/// takes an internal lock, so it can be used from several threads.
pub struct Jit {
    owner: Arc<Owner>,
    features: CpuFeatures,
    keep_disassembly: bool,
}

/// Handle to a compiled kernel `extern "C" fn(i64 x N)`.
///
/// Keeps the JIT memory alive. `Send + Sync`: kernels are plain code and may
/// be called from several threads at once (on disjoint outputs).
#[derive(Clone)]
pub struct JitFn<const N: usize> {
    code: usize,
    disasm: Option<Arc<str>>,
    _owner: Arc<Owner>,
}

impl Jit {
    /// Creates a JIT for the host ISA.
    pub fn new(opts: JitOptions) -> Result<Jit> {
        let speed = build_module(opts.allow_fma, "speed")?;
        let none = build_module(opts.allow_fma, "none")?;
        let features = features_of(speed.isa());
        let state = State {
            ctx: speed.make_context(),
            modules: vec![speed, none],
            fctx: FunctionBuilderContext::new(),
            counter: 0,
            perf_map: std::env::var_os("NETC_PERF_MAP").is_some_and(|v| v == "1"),
        };
        Ok(Jit {
            owner: Arc::new(Owner { state: Mutex::new(state) }),
            features,
            keep_disassembly: opts.keep_disassembly,
        })
    }

    /// Creates a JIT with default options (FMA if available).
    pub fn native() -> Result<Jit> {
        Jit::new(JitOptions::default())
    }

    /// The CPU features code is generated for.
    pub fn features(&self) -> CpuFeatures {
        self.features
    }

    /// Compiles one kernel taking `N` `i64` arguments at [`Opt::Speed`].
    pub fn compile<const N: usize, F>(&self, name: &str, body: F) -> Result<JitFn<N>>
    where
        F: FnOnce(&mut FunctionBuilder, [Value; N], &CpuFeatures) -> Result<()>,
    {
        self.compile_opt(name, Opt::Speed, body)
    }

    /// Compiles one kernel taking `N` `i64` arguments at level `opt`.
    ///
    /// `body` receives a builder positioned in the (sealed) entry block, the
    /// `N` parameter values and the CPU features; it must emit the whole body
    /// including a `return_(&[])`. Blocks it creates need not be sealed.
    pub fn compile_opt<const N: usize, F>(&self, name: &str, opt: Opt, body: F) -> Result<JitFn<N>>
    where
        F: FnOnce(&mut FunctionBuilder, [Value; N], &CpuFeatures) -> Result<()>,
    {
        if N > MAX_KERNEL_ARGS {
            return Err(invalid(format!("kernel `{name}` takes {N} arguments, at most {MAX_KERNEL_ARGS} supported")));
        }
        let mut guard = self.lock()?;
        let st = &mut *guard;
        let module =
            st.modules.get_mut(opt as usize).ok_or_else(|| CodegenError::Compile("module already released".into()))?;
        st.counter += 1;
        let result = define(
            module,
            &mut st.ctx,
            &mut st.fctx,
            &format!("{name}_{}", st.counter),
            self.keep_disassembly,
            |b, params| body(b, params, &self.features),
        );
        // Leave the reusable contexts clean whether or not compilation worked.
        module.clear_context(&mut st.ctx);
        if result.is_err() {
            st.fctx = FunctionBuilderContext::new();
        }
        let (id, disasm, size) = result?;
        module.finalize_definitions().map_err(|e| CodegenError::Compile(e.to_string()))?;
        let code = module.get_finalized_function(id) as usize;
        if st.perf_map {
            perf_map_entry(code, size, &format!("netc:{name}_{}", st.counter));
        }
        Ok(JitFn { code, disasm: disasm.map(Arc::from), _owner: Arc::clone(&self.owner) })
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.owner.state.lock().map_err(|_| CodegenError::Compile("JIT lock poisoned by an earlier panic".into()))
    }
}

/// A JIT module for the host ISA at the given `opt_level`.
fn build_module(allow_fma: bool, opt_level: &str) -> Result<JITModule> {
    let mut flags = settings::builder();
    for (k, v) in [("opt_level", opt_level), ("use_colocated_libcalls", "false"), ("is_pic", "false")] {
        flags.set(k, v).map_err(|e| CodegenError::Isa(format!("{k}={v}: {e}")))?;
    }
    let mut isa_builder = cranelift_native::builder().map_err(|e| CodegenError::Isa(e.into()))?;
    if !allow_fma {
        isa_builder.set("has_fma", "false").map_err(|e| CodegenError::Isa(format!("has_fma=false: {e}")))?;
    }
    let isa = isa_builder.finish(settings::Flags::new(flags)).map_err(|e| CodegenError::Isa(e.to_string()))?;
    Ok(JITModule::new(JITBuilder::with_isa(isa, default_libcall_names())))
}

/// Declares, builds and defines one function; returns its id and, when
/// requested, its disassembly.
fn define<const N: usize>(
    module: &mut JITModule,
    ctx: &mut Context,
    fctx: &mut FunctionBuilderContext,
    name: &str,
    keep_disassembly: bool,
    body: impl FnOnce(&mut FunctionBuilder, [Value; N]) -> Result<()>,
) -> Result<(cranelift_module::FuncId, Option<String>, usize)> {
    let mut sig = module.make_signature();
    sig.params.extend(std::iter::repeat_n(AbiParam::new(types::I64), N));
    let id = module.declare_function(name, Linkage::Local, &sig).map_err(|e| CodegenError::Compile(e.to_string()))?;
    ctx.func.signature = sig;
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let params: [Value; N] = std::array::from_fn(|i| b.block_params(entry)[i]);
        body(&mut b, params)?;
        b.seal_all_blocks();
        b.finalize(module.target_config());
    }
    ctx.set_disasm(keep_disassembly);
    let clif = keep_disassembly.then(|| ctx.func.display().to_string());
    module.define_function(id, ctx).map_err(|e| CodegenError::Compile(format!("{name}: {e:?}")))?;
    let disasm =
        ctx.compiled_code().and_then(|c| c.vcode.clone()).map(|asm| format!("{}\n{asm}", clif.unwrap_or_default()));
    let size = ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
    Ok((id, disasm, size))
}

/// Appends one line to `/tmp/perf-<pid>.map`, the file `perf report` reads to name
/// code it finds no symbols for. Enabled by `NETC_PERF_MAP=1`, for profiling the
/// generated kernels; a failed write only loses the name.
fn perf_map_entry(code: usize, size: usize, name: &str) {
    use std::io::Write;
    let path = format!("/tmp/perf-{}.map", std::process::id());
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{code:x} {size:x} {name}");
    }
}

/// Reads the feature flags of a finished ISA by name.
fn features_of(isa: &dyn cranelift_codegen::isa::TargetIsa) -> CpuFeatures {
    let flags = isa.isa_flags();
    let on = |name: &str| flags.iter().any(|v| v.name == name && v.as_bool() == Some(true));
    CpuFeatures { has_sse41: on("has_sse41"), has_avx: on("has_avx"), has_fma: isa.has_native_fma() }
}

impl<const N: usize> JitFn<N> {
    /// Calls the kernel.
    ///
    /// # Safety
    /// The kernel dereferences whatever its generator decided: every argument
    /// it uses as a pointer must point to memory valid for all reads and
    /// writes the kernel performs for the sizes passed alongside (the kernel
    /// does no bounds checks), with the alignment its loads assume (all
    /// kernels in `codegen` only assume the element type's natural
    /// alignment), and buffers written must not be read or written by
    /// anyone else during the call. Callers in `codegen` establish this by
    /// checking slice lengths against the sizes before calling.
    pub unsafe fn call(&self, args: [i64; N]) {
        // SAFETY: `code` was produced by `Jit::compile::<N>`, whose signature
        // is exactly N i64 params, no returns, in the platform C convention;
        // pointer validity is the caller's obligation stated above.
        unsafe { invoke(self.code, &args) }
    }

    /// The kernel's CLIF followed by Cranelift's disassembly, if the JIT was
    /// created with [`JitOptions::keep_disassembly`].
    pub fn disasm(&self) -> Option<&str> {
        self.disasm.as_deref()
    }
}

/// Calls `code` as an `extern "C" fn(i64, ...)` with `args.len()` arguments.
///
/// # Safety
/// `code` must be a function with exactly that signature.
unsafe fn invoke(code: usize, a: &[i64]) {
    macro_rules! call {
        ($($i:literal),*) => {{
            let f: extern "C" fn($(call!(@ty $i)),*) =
                unsafe { std::mem::transmute::<usize, _>(code) };
            f($(a[$i]),*)
        }};
        (@ty $i:literal) => { i64 };
    }
    match a.len() {
        0 => call!(),
        1 => call!(0),
        2 => call!(0, 1),
        3 => call!(0, 1, 2),
        4 => call!(0, 1, 2, 3),
        5 => call!(0, 1, 2, 3, 4),
        6 => call!(0, 1, 2, 3, 4, 5),
        7 => call!(0, 1, 2, 3, 4, 5, 6),
        8 => call!(0, 1, 2, 3, 4, 5, 6, 7),
        9 => call!(0, 1, 2, 3, 4, 5, 6, 7, 8),
        10 => call!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
        // `Jit::compile` refuses arities above MAX_KERNEL_ARGS, so no handle
        // with more arguments exists.
        _ => {}
    }
}
