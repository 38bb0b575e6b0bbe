//! Helpers of the kernel-variant test: the variant key of a planned step, and one
//! step's kernel run against the reference kernel behind the same ABI on identical
//! seeded operands.

use netc::autodiff::Kernel;
use netc::codegen::kernels::CompiledKernel;
use netc::data::Rng;
use netc::ir::Act;
use netc::runtime::jit::fallback::ReferenceKernel;
use netc::runtime::reference::{act_value, execute, In, KernelCtx, Out};
use netc::sched::{Fused, Operand, StepSpec};

/// The variant of the code generated for a step: the kernel family and its algorithm
/// or engine choices from the kernel's description with every size stripped, plus what
/// the spec adds to the generated code: the fused epilogue (by kind), accumulation and
/// strided (concatenation-slice) operands.
///
/// Convolution and dense kernels (`conv 64@3x3/1x1 on 64x56x56 n1 g1: outer 4x8 k-blocks
/// 1 spatial-lanes window packed-w`) keep the family, `grouped` (g > 1) and `table`
/// from the head, and the words of the algorithm; `phases` and `k-blocks` become one or
/// many; a Winograd tile size stays. Other kernels (`pool Max [1, 64, 112, 112] -> [1, 64, 56, 56] [14 parts]`) keep
/// their words without dims and numbers, plus `split` when the work is in several parts.
pub fn variant_key(spec: &StepSpec, desc: &str) -> String {
    let mut key = if let Some((head, algo)) = desc.split_once(": ") {
        let head: Vec<&str> = head.split_whitespace().collect();
        let mut words = vec![head[0].to_string()];
        if head.iter().any(|t| t.len() > 1 && t.starts_with('g') && t[1..].parse::<usize>().is_ok_and(|g| g > 1)) {
            words.push("grouped".into());
        }
        if head.contains(&"table") {
            words.push("table".into());
        }
        let algo: Vec<&str> = algo.split_whitespace().collect();
        let mut i = 0;
        while i < algo.len() {
            let t = algo[i];
            if matches!(t, "phases" | "k-blocks") {
                let count = algo.get(i + 1).and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
                words.push(format!("{t}{}", if count == 1 { "=1" } else { ">1" }));
                i += 2;
                continue;
            }
            // Winograd's tile size (`F(2x2,3x3)`, `F(4x4,3x3)`) is a different kernel.
            if !t.contains(|c: char| c.is_ascii_digit()) || t.starts_with("F(") {
                words.push(t.to_string());
            }
            i += 1;
        }
        words.join(" ")
    } else {
        let mut words: Vec<String> = Vec::new();
        for t in desc.split_whitespace() {
            if t.contains('·') {
                words.push("scaled-tanh".into());
            } else if t == "parts]" {
                words.push("split".into());
            } else if !(t.starts_with('[') || t.ends_with(']') || t == "->" || t.contains(|c: char| c.is_ascii_digit()))
            {
                words.push(t.to_string());
            }
        }
        words.join(" ")
    };
    if !spec.epilogue.is_empty() {
        let e: Vec<String> = spec
            .epilogue
            .iter()
            .map(|f| match f {
                Fused::Act(a) => a.name().to_string(),
                Fused::Scale(_) => "×k".into(),
                Fused::AddOperand(_) => "+e".into(),
                Fused::MulActGrad(a, _) => format!("×{}'", a.name()),
            })
            .collect();
        key.push_str(&format!(" then {}", e.join(", ")));
    }
    if spec.accumulate {
        key.push_str(" accumulate");
    }
    for (what, ops) in [("in", &spec.inputs), ("out", &spec.outputs), ("extra", &spec.extra)] {
        if ops.iter().any(|o| !o.is_contiguous()) {
            key.push_str(&format!(" strided-{what}"));
        }
    }
    key
}

/// Floats after each operand that no kernel may touch.
const GUARD: usize = 32;

/// One operand's memory: 64-byte aligned, its elements at `batch_stride` apart, then a guard.
struct Mem {
    floats: Vec<f32>,
    start: usize,
    /// Floats from the first element to the last, plus the guard.
    len: usize,
}

impl Mem {
    fn new(op: &Operand, rng: &mut Rng) -> Mem {
        let mut m = Mem::zeroed(span(op) + GUARD);
        let s = m.start;
        m.floats[s..s + m.len].iter_mut().for_each(|v| *v = rng.uniform(-1.0, 1.0));
        m
    }

    /// A 64-byte aligned allocation of `len` zeroed floats.
    fn zeroed(len: usize) -> Mem {
        let floats = vec![0f32; len + 16];
        let start = ((floats.as_ptr() as usize).next_multiple_of(64) - floats.as_ptr() as usize) / 4;
        Mem { floats, start, len }
    }

    fn slice(&self) -> &[f32] {
        &self.floats[self.start..self.start + self.len]
    }

    fn ptr(&mut self) -> *mut f32 {
        self.floats[self.start..].as_mut_ptr()
    }

    /// Positions of the operand's elements in [`Mem::slice`].
    fn positions(op: &Operand) -> impl Iterator<Item = usize> + '_ {
        let (samples, sample) = if op.batched { (op.dims[0], op.sample_len()) } else { (1, op.len()) };
        (0..samples).flat_map(move |i| (0..sample).map(move |j| i * op.batch_stride + j))
    }

    /// Sets the operand's elements, in order.
    fn fill(&mut self, op: &Operand, mut f: impl FnMut(usize) -> f32) {
        let s = self.start;
        for (k, p) in Mem::positions(op).enumerate() {
            self.floats[s + p] = f(k);
        }
    }

    /// The operand's elements, dense.
    fn dense(&self, op: &Operand) -> Vec<f32> {
        Mem::positions(op).map(|p| self.slice()[p]).collect()
    }
}

impl Clone for Mem {
    /// A copy at an aligned place of its own (a plain copy of the vector need not be).
    fn clone(&self) -> Mem {
        let mut m = Mem::zeroed(self.len);
        let s = m.start;
        m.floats[s..s + self.len].copy_from_slice(self.slice());
        m
    }
}

/// Floats from an operand's first element to its last.
fn span(op: &Operand) -> usize {
    if op.batched && op.dims[0] > 0 {
        (op.dims[0] - 1) * op.batch_stride + op.sample_len()
    } else {
        op.len()
    }
}

/// The kernels whose operand conventions [`operands`] knows (their value ranges and
/// the consistency between operands that the kernel may rely on).
pub const KNOWN_KERNELS: &[&str] = &[
    "conv",
    "conv_bwd_data",
    "conv_bwd_weight",
    "dense",
    "dense_bwd_data",
    "dense_bwd_weight",
    "pool",
    "pool_bwd",
    "gap",
    "gap_bwd",
    "bn_train",
    "bn_eval",
    "fold_bn",
    "bn_bwd",
    "lrn",
    "lrn_bwd",
    "mask",
    "act",
    "act_bwd",
    "softmax",
    "softmax_bwd",
    "subsample",
    "subsample_bwd",
    "rbf",
    "rbf_bwd",
    "zeropad",
    "crop",
    "scale",
    "add",
    "concat",
    "slice",
    "copy",
    "softmax_xent",
];

/// Seeded operands for `spec` (inputs, outputs with their prior contents, extras):
/// uniform in [−1, 1] except where the kernel needs otherwise.
fn operands(spec: &StepSpec, seed: u64) -> Vec<Mem> {
    let mut rng = Rng::new(seed);
    let all: Vec<&Operand> = spec.inputs.iter().chain(&spec.outputs).chain(&spec.extra).collect();
    let mut mems: Vec<Mem> = all.iter().map(|op| Mem::new(op, &mut rng)).collect();
    let ni = spec.inputs.len();
    let positive = |mems: &mut Vec<Mem>, k: usize, rng: &mut Rng| mems[k].fill(all[k], |_| rng.uniform(0.5, 1.5));
    // An activation's output, as the backward kernels and fused derivatives read it.
    let act_out = |mems: &mut Vec<Mem>, k: usize, a: &Act, rng: &mut Rng| {
        mems[k].fill(all[k], |_| act_value(a, rng.uniform(-2.0, 2.0)))
    };
    match &spec.kernel {
        // Variances and inverse deviations are positive; running statistics are in/out.
        Kernel::BatchNormTrain(_) => positive(&mut mems, ni + 4, &mut rng),
        Kernel::BatchNormEval(_) => positive(&mut mems, 4, &mut rng),
        Kernel::FoldBatchNorm { .. } => positive(&mut mems, ni - 1, &mut rng),
        Kernel::BatchNormBackward(_) => positive(&mut mems, 4, &mut rng),
        Kernel::ActBackward(a) => act_out(&mut mems, 0, a, &mut rng),
        Kernel::SoftmaxCrossEntropy { .. } => {
            let classes = spec.inputs[0].sample_len() as u64;
            mems[1].fill(all[1], |_| rng.below(classes) as f32);
        }
        // The forward output the backward reads is the forward of its input (max
        // pooling finds the winner by comparing the two).
        Kernel::PoolBackward(p) => forward_into(&mut mems, &all, &Kernel::Pool(*p)),
        Kernel::LrnBackward(l) => forward_into(&mut mems, &all, &Kernel::Lrn(*l)),
        _ => {}
    }
    for f in &spec.epilogue {
        if let Fused::MulActGrad(a, k) = f {
            act_out(&mut mems, ni + spec.outputs.len() + k, a, &mut rng);
        }
    }
    mems
}

/// Operand 1 := `forward`(operand 0), by the reference executor.
fn forward_into(mems: &mut [Mem], all: &[&Operand], forward: &Kernel) {
    let x = mems[0].dense(all[0]);
    let mut y = vec![0f32; all[1].len()];
    let ins = [In { data: &x, dims: &all[0].dims }];
    let mut outs = [Out { data: &mut y, dims: &all[1].dims }];
    execute(forward, &ins, &mut outs, false, &KernelCtx::default());
    mems[1].fill(all[1], |k| y[k]);
}

/// How the compiled kernel's outputs compare with the reference kernel's.
pub struct Outcome {
    /// Worst |jit − reference| / max|reference| over the outputs.
    pub worst: f32,
    /// Problems found (outputs out of tolerance, memory outside the outputs changed).
    pub errors: Vec<String>,
}

/// Runs `kernel` (every part, in order, with its own scratch pre-filled with NaN: the
/// engine's scratch holds whatever the previous step left) and the reference kernel on
/// the same seeded operands, and compares every output element and every float of
/// memory around them.
pub fn check(spec: &StepSpec, kernel: &dyn CompiledKernel, seed: u64, tolerance: f32) -> Outcome {
    let initial = operands(spec, seed);
    let mut jit = initial.clone();
    let mut reference = initial.clone();
    let mut ptrs: Vec<*mut f32> = jit.iter_mut().map(Mem::ptr).collect();
    let mut scratch = vec![f32::NAN; kernel.scratch_len()];
    let mut workspace = vec![f32::NAN; kernel.workspace_len()];
    for part in 0..kernel.parts() {
        // Safety: every operand has its own allocation of its full span (plus a guard);
        // parts in order run the phases in order.
        unsafe { kernel.run(&ptrs, part, &mut scratch, workspace.as_mut_ptr()) };
    }
    ptrs = reference.iter_mut().map(Mem::ptr).collect();
    unsafe { ReferenceKernel::new(spec.clone()).run(&ptrs, 0, &mut [], std::ptr::null_mut()) };

    let ni = spec.inputs.len();
    let all: Vec<&Operand> = spec.inputs.iter().chain(&spec.outputs).chain(&spec.extra).collect();
    let mut outcome = Outcome { worst: 0.0, errors: Vec::new() };
    for (k, op) in all.iter().enumerate() {
        let is_output = (ni..ni + spec.outputs.len()).contains(&k);
        let (got, want, before) = (jit[k].slice(), reference[k].slice(), initial[k].slice());
        let mut element = vec![false; got.len()];
        if is_output {
            Mem::positions(op).for_each(|p| element[p] = true);
        }
        // Everything but the outputs' elements is left exactly as it was.
        if let Some(p) = (0..got.len()).find(|&p| !element[p] && got[p].to_bits() != before[p].to_bits()) {
            let what = if p >= span(op) {
                "after its end"
            } else if is_output {
                "between samples"
            } else {
                ""
            };
            outcome.errors.push(format!("operand {k} ({:?}) changed at float {p} {what}", op.dims));
        }
        if !is_output {
            continue;
        }
        let scale = Mem::positions(op).fold(0f32, |m, p| m.max(want[p].abs()));
        let bound = tolerance * scale + 1e-5;
        let mut worst = (0f32, 0usize);
        for p in Mem::positions(op) {
            // A NaN on either side counts as the worst difference.
            let d = if got[p].is_nan() != want[p].is_nan() { f32::INFINITY } else { (got[p] - want[p]).abs() };
            if d > worst.0 {
                worst = (d, p);
            }
        }
        outcome.worst = outcome.worst.max(worst.0 / scale.max(1e-6));
        if worst.0 > bound {
            let p = worst.1;
            outcome.errors.push(format!(
                "output {} ({:?}): |jit − reference| = {:e} at float {p} (jit {}, reference {}), bound {bound:e} (max|reference| {scale})",
                k - ni,
                op.dims,
                worst.0,
                got[p],
                want[p]
            ));
        }
    }
    outcome
}
