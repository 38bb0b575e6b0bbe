//! Autotuning: the tiles, algorithm and multiply-add form of each distinct
//! convolution or dense step, chosen by measuring candidates on this machine.
//!
//! Consumes: a step spec, the [`KernelOptions`] it is compiled with, and a
//! [`TuneTable`] of earlier results (the runtime keeps one file per CPU model).
//! Produces: the compiled kernel of the fastest candidate, and the table's new
//! entry. Guarantees: every candidate is a correct kernel (the knobs only choose
//! between equivalent algorithms; results differ by rounding at most), the cost
//! model's own choice is always measured first and kept unless another is at least
//! [`MARGIN`] faster, every candidate that measures less than [`NEAR`] slower (and
//! every `fma` candidate) is measured again back to back with the best before it
//! wins or is dropped, and the search of one step stops once [`BUDGET`] has passed.
//!
//! Why: the cost model (`kernels::conv::plan`) was fitted on one CPU and ranks
//! tiles from throughput figures of that core. On another core the best tile, the
//! Winograd break-even and whether `fma` beats `fmul` + `fadd` all move (an Intel
//! Xeon ran the model's choices at 53–66% of the f32x4 ceiling where the AMD
//! machine they were fitted on reached 72–82%). Measuring is cheap next to a
//! training run, and the table makes it a one-time cost per CPU model.
//!
//! The search is greedy, in stages, each starting from the best choice so far:
//! 1. `fma` instead of `fmul` + `fadd`, where the CPU has it;
//! 2. the algorithm (direct, Winograd F(2×2,3×3) or F(4×4,3×3)) where it applies
//!    and the caller left it to the model;
//! 3. the register tile;
//! 4. weights packed or read in place.
//!
//! Candidates that compile to the same kernel as one already measured (the same
//! `describe()`) are skipped. Timing is in `measure`.

mod choice;
mod measure;

pub use choice::Choice;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codegen::error::CodegenError;
use crate::codegen::jit::Jit;
use crate::codegen::kernels::conv::{compile_conv_with, ConvOptions};
use crate::codegen::kernels::{self, CompiledKernel, KernelOptions};
use crate::sched::StepSpec;
use measure::{time_kernel, Timing, Workspace};

/// Wall time after which the search of one step starts no new candidate
/// (compilation and measurement included), for small steps; a step whose waves of
/// parts are slow gets [`BUDGET_WAVES`] of them, up to [`MAX_BUDGET`]. The caps
/// let the largest steps (VGG-16's, 10–20 ms a run) reach all four stages, about
/// 14 candidates: at 24 waves and 250 ms they stopped after two, and a 512@3×3
/// layer on 28×28 kept a tile 27% slower than the one the tile stage finds (2-core
/// Intel Xeon). The cost is paid once per CPU model (the table).
pub const BUDGET: Duration = Duration::from_millis(20);
pub const BUDGET_WAVES: u32 = 100;
pub const MAX_BUDGET: Duration = Duration::from_millis(1500);

/// Time spent sampling one candidate (at least two waves of its parts).
const PER_CANDIDATE: Duration = Duration::from_millis(2);

/// How much faster a candidate must measure to replace the best so far: below
/// that, the difference is within the noise of a shared machine.
pub const MARGIN: f64 = 0.05;

/// How much slower than the best so far a candidate may measure and still be
/// measured again before it is dropped (`fma`, the first stage, always is). Only
/// apparent winners used to be: a candidate whose one sample was disturbed was lost
/// for good, and a table kept `fmul` + `fadd` for eight of ResNet-18's 39 steps
/// where `fma` runs 10–35% faster (its training step 582 ms against 524–528 with
/// tables tuned again; 2-core Intel Xeon). Disturbances seen while tuning a
/// 256@3×3/2 layer inflated whole candidates by up to 60% (`fma` 18.8 ms against
/// 11.1–12.2 in quiet runs), so the band is wide; candidates slower by more are
/// rarely close (tiles there measured 1.3–2.3× the best).
pub const NEAR: f64 = 0.25;

/// Version of the search and of what a [`Choice`] means: entries of other versions
/// are ignored. A `-` in a choice stands for the cost model's pick, so a change to
/// the model's choices must bump this too (2: the refitted Winograd weight-transform
/// cost), or old entries would apply picks that were never measured. A change to
/// the search bumps it as well, so that tables re-measure (3: `fma` tried second,
/// where it was last and often cut off by the budget; 4: `fma` first; 5: batch
/// lanes for the weight gradients of short rows; 6: budgets that let large steps
/// reach the tile stage; 7: Winograd slots of several tile rows on small maps,
/// which moves F(4×4) ahead of F(2×2) there, in the model's picks too; 8: the
/// same for weight gradients; 9: cheaper Winograd transforms, the input's at about
/// two thirds of its cost, which moves F(4×4) ahead of F(2×2) on ResNet-20's 32×32
/// weight gradients; 10: candidates timed in buffers from the runtime's allocator,
/// huge pages included, and Winograd weight gradients folded by JIT code, which
/// moves F(4×4) ahead of F(2×2) on 512-channel 7×7 maps; 11: the model's Winograd
/// weight gradients on maps under 8×8 and their cheaper fold, and narrow layers'
/// weight gradients in batch slices, faster than the channel split they were timed in;
/// 12: the model's estimate of those slices, which moves ResNet-20's 16-channel weight
/// gradients to F(4×4); 13: F(6×6,3×3) among the candidates and the model's picks,
/// and Winograd chunks of equal size, which changes what every Winograd entry timed;
/// 14: F(4×4) tile rows packed across vector boundaries on 28², 56², ... maps, fewer
/// lanes for every such entry and a different balance between the tile sizes;
/// 15: the Winograd data gradients' weights regrouped before their transform, and
/// the Winograd GEMMs unrolled 8× instead of 4×, which make those entries faster
/// against the direct kernels they were timed with; 16: near-losers and every `fma`
/// candidate measured again, waves sampled across all phases, and workspace pages
/// faulted in before timing, so that tables measured with one-sided confirmation
/// are re-measured; 17: run-time tap-row bounds only where they skip more than four
/// taps per row and channel (before: wherever 4% of the tap rows read padding),
/// weight-gradient GEMM results stored as transposed vectors, and the dot engine's
/// rows run eight positions a step, which make the direct kernels of strided and
/// small maps faster against the Winograd ones they were timed with); 18: a cheaper
/// tanh in the epilogues (which changes how `fma` and tiles compare in LeNet's
/// convolutions) and small filters' weight gradients by batch slices).
pub const FORMAT: u32 = 18;

/// When to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TuneMode {
    /// The cost model only, nothing read or measured (reproducible plans).
    #[default]
    Off,
    /// Choices from the table where present, the cost model elsewhere; no measuring.
    Cached,
    /// Choices from the table where present; steps missing from it are measured
    /// and added.
    On,
    /// Every step measured again, replacing the table's entries.
    Fresh,
}

/// One measured step.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneEntry {
    pub choice: Choice,
    /// Estimated seconds of one run with that choice.
    pub seconds: f64,
    /// The kernel's description (for people reading the file).
    pub label: String,
}

/// Measured choices by step key ([`step_key`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TuneTable {
    entries: BTreeMap<u64, TuneEntry>,
    /// Entries added or replaced since the table was read.
    pub changed: usize,
}

impl TuneTable {
    /// Reads the text form [`TuneTable::render`] writes; returns the table and the
    /// number of lines that were not valid entries (skipped).
    pub fn parse(text: &str) -> (TuneTable, usize) {
        let mut t = TuneTable::default();
        let mut bad = 0;
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            match parse_line(line) {
                Some((key, e)) => {
                    t.entries.insert(key, e);
                }
                None => bad += 1,
            }
        }
        (t, bad)
    }

    /// One line per entry: `key<TAB>choice<TAB>microseconds<TAB>label`.
    pub fn render(&self) -> String {
        let mut s = format!("# netc autotune table, format {FORMAT}: key, choice, estimated µs, kernel\n");
        for (k, e) in &self.entries {
            s += &format!("{k:016x}\t{}\t{:.1}\t{}\n", e.choice.to_text(), e.seconds * 1e6, e.label.replace('\t', " "));
        }
        s
    }

    pub fn get(&self, key: u64) -> Option<&TuneEntry> {
        self.entries.get(&key)
    }

    pub fn insert(&mut self, key: u64, e: TuneEntry) {
        self.entries.insert(key, e);
        self.changed += 1;
    }

    /// Adds the entries of `older` (another process's, read back just before saving)
    /// for the keys this table does not have.
    pub fn merge_under(&mut self, older: TuneTable) {
        for (k, e) in older.entries {
            self.entries.entry(k).or_insert(e);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn parse_line(line: &str) -> Option<(u64, TuneEntry)> {
    let mut f = line.split('\t');
    let key = u64::from_str_radix(f.next()?, 16).ok()?;
    let choice = Choice::parse(f.next()?)?;
    let micros: f64 = f.next()?.parse().ok()?;
    let label = f.next().unwrap_or("").to_string();
    (micros.is_finite() && micros >= 0.0).then_some((key, TuneEntry { choice, seconds: micros * 1e-6, label }))
}

/// The table key of a step compiled with `opts`: a hash of everything the kernel is
/// specialised on (shapes, strides, epilogue, threads, the Winograd setting) and
/// of [`FORMAT`]. FNV-1a, stable across builds and platforms.
pub fn step_key(spec: &StepSpec, opts: &KernelOptions) -> u64 {
    let text = format!("{FORMAT}|{spec:?}|{}|{:?}", opts.threads, opts.winograd);
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// What tuning did so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TuneStats {
    /// Steps searched, and how many of them kept another choice than the model's.
    pub measured: usize,
    pub changed: usize,
    /// Candidates compiled and timed over all searches.
    pub candidates: usize,
    /// Steps whose choice came from the table.
    pub from_table: usize,
    /// Time spent searching.
    pub time: Duration,
}

/// Compiles steps with measured choices (see the module docs).
pub struct Tuner {
    pub mode: TuneMode,
    pub table: TuneTable,
    pub stats: TuneStats,
    workspace: Workspace,
}

impl Tuner {
    pub fn new(mode: TuneMode, table: TuneTable) -> Tuner {
        Tuner { mode, table, stats: TuneStats::default(), workspace: Workspace::default() }
    }

    /// The kernel for `spec` as [`kernels::compile`] makes it, with the tiles and
    /// algorithm chosen as the mode says.
    pub fn compile(
        &mut self,
        jit: &Jit,
        spec: &StepSpec,
        opts: &KernelOptions,
    ) -> Result<Arc<dyn CompiledKernel>, CodegenError> {
        if self.mode == TuneMode::Off || !choice::tunable(&spec.kernel) {
            return kernels::compile(jit, spec, opts);
        }
        let base = opts.conv_options();
        let key = step_key(spec, opts);
        if self.mode != TuneMode::Fresh {
            if let Some(e) = self.table.get(key) {
                self.stats.from_table += 1;
                // A choice that no longer compiles falls back to the model's.
                return compile_conv_with(jit, spec, &e.choice.apply(&base))
                    .or_else(|_| compile_conv_with(jit, spec, &base));
            }
        }
        let started = Instant::now();
        let model = compile_conv_with(jit, spec, &base)?;
        if self.mode == TuneMode::Cached {
            return Ok(model);
        }
        let found = self.search(jit, spec, (&base, opts.threads), (model, started.elapsed()));
        self.stats.time += started.elapsed();
        Ok(match found {
            Search::Measured(choice, kernel, seconds) => {
                self.stats.measured += 1;
                self.stats.changed += usize::from(choice != Choice::default());
                self.table.insert(key, TuneEntry { choice, seconds, label: kernel.describe() });
                kernel
            }
            Search::Unmeasured(kernel) => kernel,
        })
    }

    /// Frees the stand-in operands (call when a batch of compilations is done).
    pub fn release(&mut self) {
        self.workspace.release();
    }

    /// The search of the module docs over options derived from `base` for `threads`
    /// threads, from the `model`'s kernel (which took `compiled` to compile).
    fn search(
        &mut self,
        jit: &Jit,
        spec: &StepSpec,
        (base, threads): (&ConvOptions, usize),
        (model, compiled): (Arc<dyn CompiledKernel>, Duration),
    ) -> Search {
        let started = Instant::now();
        let Some(ptrs) = self.workspace.operands(spec) else { return Search::Unmeasured(model) };
        // SAFETY: `ptrs` are operands of `spec`, which every candidate is compiled for.
        let time = |k: &dyn CompiledKernel| unsafe { time_kernel(k, &ptrs, threads, PER_CANDIDATE) };
        let Some(Timing { run: t_model, wave }) = time(model.as_ref()) else { return Search::Unmeasured(model) };
        self.stats.candidates += 1;
        let budget = BUDGET.max(Duration::from_secs_f64(wave) * BUDGET_WAVES).min(MAX_BUDGET);
        // What one more candidate costs: its compilation (as the model's took) and
        // three waves of its parts.
        let next = compiled + Duration::from_secs_f64(3.0 * wave);
        let mut seen = HashSet::from([model.describe()]);
        let mut best = Best { choice: Choice::default(), kernel: model, seconds: t_model };
        let free_winograd = base.winograd.is_none();
        let has_fma = jit.features().has_fma;
        'stages: for stage in 0..Choice::STAGES {
            for cand in Choice::stage(stage, &best.choice, &spec.kernel, free_winograd, has_fma) {
                // Stop before the budget is spent (a step too large for even one
                // candidate keeps the model's choice, measured).
                if started.elapsed() + next > budget {
                    break 'stages;
                }
                let Ok(k) = compile_conv_with(jit, spec, &cand.apply(base)) else { continue };
                if !seen.insert(k.describe()) {
                    continue;
                }
                let Some(Timing { run: t, .. }) = time(k.as_ref()) else { continue };
                self.stats.candidates += 1;
                // `fma` (stage 0) moves a kernel by the most, so it is always confirmed.
                best.weigh((cand, k, t), stage == 0, |k| time(k.as_ref()).map(|m| m.run));
            }
        }
        Search::Measured(best.choice, best.kernel, best.seconds)
    }
}

/// The best candidate of a search so far: its choice, kernel and fastest run.
struct Best<K> {
    choice: Choice,
    kernel: K,
    seconds: f64,
}

impl<K> Best<K> {
    /// Weighs a candidate measured once at `t` seconds a run. Unless it is clearly
    /// slower (more than [`NEAR`]; `always` overrides), the best and the candidate
    /// are measured again back to back (`again`: seconds, None if it fails), so
    /// that a burst of other work during one measurement cannot decide either
    /// way; each keeps its faster sample, and the candidate replaces the best if
    /// it is [`MARGIN`] faster.
    fn weigh(&mut self, (choice, kernel, t): (Choice, K, f64), always: bool, mut again: impl FnMut(&K) -> Option<f64>) {
        if !always && t >= self.seconds * (1.0 + NEAR) {
            return;
        }
        self.seconds = again(&self.kernel).map_or(self.seconds, |s| s.min(self.seconds));
        let t = again(&kernel).map_or(t, |s| s.min(t));
        if t < self.seconds * (1.0 - MARGIN) {
            *self = Best { choice, kernel, seconds: t };
        }
    }
}

enum Search {
    Measured(Choice, Arc<dyn CompiledKernel>, f64),
    Unmeasured(Arc<dyn CompiledKernel>),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kernels named by a letter, their measurements scripted in order.
    fn script(samples: &[(char, f64)]) -> impl FnMut(&char) -> Option<f64> + '_ {
        let mut next = 0;
        move |k: &char| {
            let (name, t) = samples.get(next).copied().unwrap_or_else(|| panic!("an unscripted measurement of {k}"));
            assert_eq!(name, *k, "measurement {next} is of the wrong kernel");
            next += 1;
            Some(t)
        }
    }

    fn fused() -> Choice {
        Choice { fused: true, ..Choice::default() }
    }

    #[test]
    fn a_disturbed_near_loser_is_measured_again_and_wins() {
        // The candidate runs 10 ms, the best 12; a burst made its first sample 14.
        let mut best = Best { choice: Choice::default(), kernel: 'm', seconds: 0.012 };
        best.weigh((fused(), 'c', 0.014), false, script(&[('m', 0.0121), ('c', 0.010)]));
        assert_eq!((best.kernel, best.choice, best.seconds), ('c', fused(), 0.010));
    }

    #[test]
    fn fma_is_confirmed_however_slow_its_first_sample() {
        // 60% slower in the first sample (a disturbed run seen while tuning), 20%
        // faster in the second.
        let mut best = Best { choice: Choice::default(), kernel: 'm', seconds: 0.012 };
        best.weigh((fused(), 'c', 0.0192), true, script(&[('m', 0.0125), ('c', 0.0096)]));
        assert_eq!(best.kernel, 'c');
    }

    #[test]
    fn a_clearly_slower_candidate_costs_no_second_measurement() {
        let mut best = Best { choice: Choice::default(), kernel: 'm', seconds: 0.010 };
        best.weigh((fused(), 'c', 0.010 * (1.0 + NEAR) + 1e-6), false, script(&[]));
        assert_eq!((best.kernel, best.seconds), ('m', 0.010));
    }

    #[test]
    fn an_apparent_winner_that_does_not_hold_keeps_the_best_with_its_faster_sample() {
        // A first sample 20% faster, then both within the margin: the best stays and
        // keeps the faster of its two samples.
        let mut best = Best { choice: Choice::default(), kernel: 'm', seconds: 0.012 };
        best.weigh((fused(), 'c', 0.0096), false, script(&[('m', 0.0100), ('c', 0.0098)]));
        assert_eq!((best.kernel, best.seconds), ('m', 0.0100));
        // A failed measurement keeps the earlier samples.
        best.weigh((fused(), 'c', 0.0099), false, |_| None);
        assert_eq!((best.kernel, best.seconds), ('m', 0.0100));
    }
}
