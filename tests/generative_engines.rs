//! Random nets from the whole language, each checked and, when valid, trained a few
//! steps on `synthetic` by the JIT with the reference engine in lock-step, then run for
//! inference by both: no panic anywhere, every graph and plan verified (`ir::verify`,
//! `sched::verify`), and the same losses, class scores, gradients, batch-norm
//! statistics, optimizer updates and inference outputs within the tolerances below.
//! Nets the checker rejects must come with a diagnostic.
//!
//! Bounded: 200 nets by default (about ten seconds on two cores in release).
//! `NETC_GEN_NETS=N` and `NETC_GEN_SEED=S` run nets S..S+N instead; a failure names its
//! seed (`NETC_GEN_SEED=S NETC_GEN_NETS=1` reproduces it) and prints the net's source,
//! shrunk (`NETC_GEN_SHRINK`, default 300 tries) and whole. `NETC_GEN_FILE=net.net` runs
//! one file instead, and `NETC_GEN_DEBUG=1` prints every comparison.
//!
//! Why lock-step: the two engines compute the same program in f32 but add in different
//! orders (GEMM tiles, vector lanes, fused epilogues), and the JIT's exp, log and tanh
//! are polynomials within a few ulps. Trained side by side, their weights part after
//! the first update, and on ill-conditioned random nets (batch norm over near-constant
//! features, distances of distances) relative weight differences of 1e-6 moved the loss
//! by 5e-4 within two steps in development runs, while each engine's loss matched the
//! f64 oracle at its own weights: free-running losses measure the net's chaos, not the
//! engines. So before every step the reference takes the JIT's current weights and both
//! run the same batch, and the JIT's optimizer update is compared with the reference
//! arithmetic on the same inputs; nothing can drift.
//!
//! Tolerances (`generative_support::compare`): f32 rounding of each value, namely
//! 2e-5 relative for the loss (to 1 + |loss|), the scores and the outputs (to the
//! largest), 1e-4 of the L2 norm for a gradient or batch statistic (sums over the batch
//! and every position) with a floor of 1e-5 of the whole gradient's norm for tensors
//! whose exact gradient is 0 (a bias before batch norm holds only rounding noise), and
//! 1e-6 for updates; plus 32 times how much this net amplifies rounding, measured by an
//! f64 oracle (the reference executor in f64 on the same weights and batch) as the
//! largest of the f32 reference's distance from it and the oracle's own change when it
//! is nudged the way a correct f32 engine may differ (every input, weight and
//! intermediate value moved by an ulp or two, one way and then the other, with the
//! JIT's own polynomial tanh and sigmoid); a gradient keeps the worst conditioning it
//! has shown. That is what makes batch norms over nearly constant features followed by
//! a ReLU, or distances of distances, comparable at all. A wrong kernel (a misplaced
//! element, a wrong stride, a dropped epilogue) is off by a sizeable part of the value,
//! far above this unless the reference itself is off by more than 3%. A net whose
//! values leave f32's range (the oracle's loss beyond 1e30, or a NaN inside the
//! reference that its ReLU turns into 0) is checked only for the absence of panics
//! from that step on.

mod generative_support;

use generative_support::generate::{self, Generated};
use generative_support::reduce;
use generative_support::twin::{self, Outcome, Training};
use netc::train::OptimizerKind;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const DEFAULT_NETS: u64 = 200;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The training of net `seed`: batch, thread count, optimizer and weight decay vary with
/// the seed.
fn training(seed: u64) -> Training {
    let optimizer = [OptimizerKind::Adam, OptimizerKind::Sgd, OptimizerKind::Momentum][(seed % 3) as usize];
    Training {
        batch: 3 + (seed % 4) as usize,
        steps: 3,
        // Every other net ends with a smaller batch (a second plan).
        short_last: (seed / 2).is_multiple_of(2),
        seed,
        threads: 1 + (seed % 2) as usize,
        optimizer,
        lr: if optimizer == OptimizerKind::Adam { 1e-3 } else { 1e-2 },
        weight_decay: if seed.is_multiple_of(5) { 1e-3 } else { 0.0 },
    }
}

struct Failure {
    seed: u64,
    what: String,
    source: String,
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs one source; `Err` is a failure (a panic, a mismatch, a missing diagnostic).
fn attempt(source: &str, seed: u64) -> Result<Outcome, String> {
    match catch_unwind(AssertUnwindSafe(|| twin::run(source, &training(seed)))) {
        Ok(r) => r,
        Err(p) => Err(format!("panic: {}", panic_message(p))),
    }
}

fn one(seed: u64) -> (Generated, Result<Outcome, String>) {
    let g = generate::net(seed);
    let result = attempt(&g.source, seed);
    (g, result)
}

/// What kind of failure a message describes: its words before the first number, and
/// whether a NaN is involved.
fn failure_kind(what: &str) -> String {
    let words: String = what.chars().take_while(|c| !c.is_ascii_digit()).collect();
    format!("{words}{}", if what.contains("NaN") { " NaN" } else { "" })
}

#[derive(Default)]
struct Tally {
    rejected: usize,
    rejected_but_predicted_valid: Vec<(u64, String)>,
    not_trainable: usize,
    diverged: usize,
    matched: usize,
    worst: f64,
}

#[test]
fn generated_nets_train_alike_on_both_engines() {
    // Besides the explicit calls in `twin`, elaboration and the JIT verify what they build.
    netc::ir::enable_checks();
    if let Ok(path) = std::env::var("NETC_GEN_FILE") {
        // One hand-written (or reduced) net, trained like net `NETC_GEN_SEED` (default 1).
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let t = training(env_u64("NETC_GEN_SEED", 1));
        eprintln!("{path}: {:?}", twin::run(&source, &t));
        return;
    }
    let first = env_u64("NETC_GEN_SEED", 1);
    let count = env_u64("NETC_GEN_NETS", DEFAULT_NETS);
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let tally: Mutex<Tally> = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as u64;
                if i >= count {
                    break;
                }
                let seed = first + i;
                let (g, r) = one(seed);
                let mut t = tally.lock().unwrap();
                match r {
                    Ok(Outcome::Rejected(d)) => {
                        t.rejected += 1;
                        if g.predicted.is_ok() && !g.broken {
                            t.rejected_but_predicted_valid.push((seed, d));
                        }
                    }
                    Ok(Outcome::NotTrainable(_)) => t.not_trainable += 1,
                    Ok(Outcome::Diverged { .. }) => t.diverged += 1,
                    Ok(Outcome::Matched { worst, .. }) => {
                        t.matched += 1;
                        t.worst = t.worst.max(worst);
                    }
                    Err(what) => failures.lock().unwrap().push(Failure { seed, what, source: g.source }),
                }
            });
        }
    });
    let t = tally.into_inner().unwrap();
    let mut failures = failures.into_inner().unwrap();
    failures.sort_by_key(|f| f.seed);
    eprintln!(
        "{count} nets from seed {first}: {} trained alike (worst difference {:.3} of its tolerance), \
         {} left f32's range, {} rejected ({} of them predicted valid by the generator), {} not 10-class classifiers, {} failed",
        t.matched,
        t.worst,
        t.diverged,
        t.rejected,
        t.rejected_but_predicted_valid.len(),
        t.not_trainable,
        failures.len()
    );
    for (seed, d) in t.rejected_but_predicted_valid.iter().take(5) {
        eprintln!("  seed {seed}: {d}");
    }
    if let Some(f) = failures.first_mut() {
        // Shrink the first failure so that the report shows a small net.
        let kind = failure_kind(&f.what);
        let still = |n: &generative_support::model::Net| matches!(attempt(&generate::render(n, f.seed), f.seed), Err(e) if failure_kind(&e) == kind);
        let small = reduce::shrink(generate::net(f.seed).net, still, env_u64("NETC_GEN_SHRINK", 300) as usize);
        f.source = format!(
            "{}
# shrunk from:
{}",
            generate::render(&small, f.seed),
            f.source
        );
    }
    if !failures.is_empty() {
        let mut kinds: Vec<String> = failures.iter().map(|f| f.what.lines().next().unwrap_or("").to_string()).collect();
        kinds.sort();
        kinds.dedup();
        let shown: Vec<String> = failures
            .iter()
            .take(3)
            .map(|f| format!("seed {} (NETC_GEN_SEED={} NETC_GEN_NETS=1): {}\n{}", f.seed, f.seed, f.what, f.source))
            .collect();
        panic!(
            "{} of {count} nets failed; seeds {:?}\ndistinct failures:\n  {}\nfirst ones:\n{}",
            failures.len(),
            failures.iter().map(|f| f.seed).collect::<Vec<_>>(),
            kinds.join("\n  "),
            shown.join("\n")
        );
    }
    let accepted = t.matched + t.diverged;
    assert!(
        accepted as f64 >= 0.6 * count as f64 || count < 20,
        "only {accepted} of {count} generated nets were trained; the generator has drifted from the language"
    );
}

/// The generator covers the language: across the default nets, every construct and
/// every layer appears (so the test above does exercise them).
#[test]
fn the_generator_covers_the_language() {
    let sources: Vec<String> = (1..=DEFAULT_NETS).map(|s| generate::net(s).source).collect();
    let all = sources.join("\n");
    for needle in [
        "block ",
        "repeat ",
        " as i",
        "cat(",
        " + ",
        " * ",
        "if ",
        " else ",
        "let ",
        "default ",
        "in.c",
        ": ",
        "conv(",
        "groups = ",
        "table = ",
        "pad = same",
        "pad = valid",
        "1x",
        "maxpool(",
        "avgpool(",
        "ceil = ",
        "count_pad = ",
        "gap",
        "dense(",
        "flatten",
        "bn",
        "lrn",
        "dropout",
        "relu",
        "tanh",
        "sigmoid",
        "softmax",
        "scaled_tanh",
        "subsample",
        "rbf(",
        "zeropad(",
        "scale(",
        "id",
        "->",
        ";",
    ] {
        assert!(all.contains(needle), "no generated net contains `{needle}`");
    }
    assert_eq!(generate::net(7).source, generate::net(7).source, "the same seed gives the same net");
}
