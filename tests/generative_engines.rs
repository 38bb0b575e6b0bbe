//! Random nets from the whole language, each checked and, when valid, trained a few
//! steps on `synthetic` by the reference engine and the JIT from the same weights:
//! no panic anywhere, the same losses step by step, the same inference outputs, and
//! every graph and plan verified.
//!
//! Bounded: 120 nets by default. `NETC_GEN_NETS=N` and `NETC_GEN_SEED=S` run nets
//! S..S+N instead (a failure names its seed, so `NETC_GEN_SEED=S NETC_GEN_NETS=1`
//! reproduces it, and prints the net's source). `NETC_GEN_FILE=net.net` runs one file
//! instead, for reducing a failure by hand.
//!
//! Tolerances (`twin::loss_tolerance`, `twin::OUTPUT_TOLERANCE`): both engines compute
//! the same program in f32 from the same weights and the same batches; they differ only
//! in the order of summation (GEMM tiling, fused epilogues, the JIT's polynomial exp,
//! log and tanh, within a few ulps). Over the ≤ ~30 layers of these nets that gives
//! relative differences of ~1e-6 in the loss at the first step (ε·√(terms) per layer).
//! Each update turns the gradient difference into a weight difference (Adam's steps are
//! ±lr whatever the gradient's size, so a gradient that is only rounding noise can move
//! by 2·lr differently in the two engines), and the loss difference can grow with every
//! step; the bound 2e-4·(1 + k)·(1 + |loss|) at step k leaves two orders of magnitude
//! above the rounding for that growth, and a wrong kernel (a misplaced element, a wrong
//! stride, a missed epilogue) changes the loss at the first step by far more.

mod generative_support;

use generative_support::generate::{self, Generated};
use generative_support::reduce;
use generative_support::twin::{self, Outcome, Training};
use netc::train::OptimizerKind;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const DEFAULT_NETS: u64 = 120;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The training of net `seed`: batch, thread count and optimizer vary with the seed.
fn training(seed: u64) -> Training {
    let optimizer = [OptimizerKind::Adam, OptimizerKind::Sgd, OptimizerKind::Momentum][(seed % 3) as usize];
    Training {
        batch: 3 + (seed % 4) as usize,
        steps: 3,
        seed,
        threads: 1 + (seed % 2) as usize,
        optimizer,
        lr: if optimizer == OptimizerKind::Adam { 1e-4 } else { 1e-3 },
        weight_decay: if seed % 5 == 0 { 1e-3 } else { 0.0 },
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
        "{count} nets from seed {first}: {} trained alike (worst loss difference {:.3} of the tolerance), \
         {} diverged, {} rejected ({} of them predicted valid by the generator), {} not 10-class classifiers, {} failed",
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
        let still = |n: &generative_support::model::Net| {
            matches!(attempt(&generate::render(n, f.seed), f.seed), Err(e) if failure_kind(&e) == kind)
        };
        let small = reduce::shrink(generate::net(f.seed).net, still, env_u64("NETC_GEN_SHRINK", 300) as usize);
        f.source = format!("{}
# shrunk from:
{}", generate::render(&small, f.seed), f.source);
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
        "block ", "repeat ", " as i", "cat(", " + ", " * ", "if ", " else ", "let ", "default ", "in.c", ": ",
        "conv(", "groups = ", "table = ", "pad = same", "pad = valid", "1x", "maxpool(", "avgpool(",
        "ceil = ", "count_pad = ", "gap", "dense(", "flatten", "bn", "lrn", "dropout", "relu", "tanh", "sigmoid",
        "softmax", "scaled_tanh", "subsample", "rbf(", "zeropad(", "scale(", "id", "->", ";",
    ] {
        assert!(all.contains(needle), "no generated net contains `{needle}`");
    }
    assert_eq!(generate::net(7).source, generate::net(7).source, "the same seed gives the same net");
}
