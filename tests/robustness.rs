//! Bad input is normal input: truncated and mutated zoo files, random bytes and
//! pathological sources must never panic, hang or overflow the stack, and every
//! rejection must point into the source.

mod common;

use netc::data::Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Checks `text`; fails the test on a panic, a slow check, or a diagnostic without a location.
#[track_caller]
fn survive(text: &str, what: &str) {
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| common::diagnose(text)));
    let (diags, _) = outcome.unwrap_or_else(|_| panic!("panicked on {what}:\n{text}"));
    // A generous bound: a runaway elaboration takes minutes, a normal one milliseconds.
    assert!(start.elapsed() < Duration::from_secs(10), "{what} took {:?}", start.elapsed());
    for d in &diags {
        let span = d.primary_span().unwrap_or_else(|| panic!("{what}: {} has no location", d.code));
        assert!(
            span.start <= span.end && span.end as usize <= text.len(),
            "{what}: span {span:?} outside the source of {} bytes",
            text.len()
        );
    }
}

fn char_boundaries(text: &str) -> Vec<usize> {
    (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect()
}

#[test]
fn truncated_zoo_files() {
    for path in common::zoo() {
        let text = std::fs::read_to_string(&path).unwrap();
        let cuts = char_boundaries(&text);
        // Every cut in small files; every few bytes in the large ones.
        let step = (cuts.len() / 400).max(1);
        for &cut in cuts.iter().step_by(step) {
            survive(&text[..cut], &format!("{} cut at {cut}", path.display()));
        }
    }
}

const INTERESTING: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    "=",
    ":",
    "+",
    "*",
    "-",
    "/",
    "%",
    "#",
    "\n",
    ";",
    ".",
    "x",
    "0",
    "99999999999999999999",
    "->",
    "in",
    "repeat 9999 ",
    "if",
    "cat(",
    "block",
    "é",
    "\u{0}",
    "\t",
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let cuts = char_boundaries(text);
    let at = cuts[rng.below(cuts.len() as u64) as usize];
    let to = cuts[(cuts.partition_point(|&c| c < at) + rng.below(8) as usize).min(cuts.len() - 1)];
    let mut out = text.to_string();
    match rng.below(4) {
        0 => out.replace_range(at..to, ""),
        1 => out.insert_str(at, INTERESTING[rng.below(INTERESTING.len() as u64) as usize]),
        2 => out.replace_range(at..to, INTERESTING[rng.below(INTERESTING.len() as u64) as usize]),
        _ => {
            let piece = text[at..to].to_string();
            out.insert_str(to, &piece);
        }
    }
    out
}

#[test]
fn mutated_zoo_files() {
    let mut rng = Rng::new(20261125);
    for path in common::zoo() {
        let text = std::fs::read_to_string(&path).unwrap();
        for round in 0..150 {
            let mut m = text.clone();
            for _ in 0..=rng.below(3) {
                m = mutate(&m, &mut rng);
            }
            survive(&m, &format!("{} mutation {round}", path.display()));
        }
    }
}

#[test]
fn random_bytes() {
    let mut rng = Rng::new(7);
    for round in 0..2000 {
        let len = rng.below(300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(3) {
                0 => {
                    let punct = b"(){}[],=:+-*/#\n;.x0123456789 ";
                    punct[rng.below(punct.len() as u64) as usize]
                }
                1 => b"abcdefghijklmnopqrstuvwxyz_"[rng.below(27) as usize],
                _ => rng.below(256) as u8,
            })
            .collect();
        survive(&String::from_utf8_lossy(&bytes), &format!("random input {round}"));
    }
}

#[test]
fn pathological_sources() {
    let cases = [
        format!("input 3x8x8\n{}relu{}", "(".repeat(5000), ")".repeat(5000)),
        format!("input 3x8x8\nconv({}1, 3)", "-".repeat(10_000)),
        format!("input 3x8x8\nconv(1{}, 3)", " + 1".repeat(20_000)),
        format!("input 3x8x8\nlet a = {}0{}", "[".repeat(60), "]".repeat(60)),
        "input 3x8x8\nrepeat 10000 { repeat 10000 { } }".to_string(),
        "input 3x8x8\nrepeat 10000 { repeat 10000 { relu } }".to_string(),
        // Each block instantiates the previous one twice: 2^40 layers if nothing stops it.
        format!(
            "input 3x8x8\nblock b0() {{ relu }}\n{}b40",
            (1..=40).map(|i| format!("block b{i}() {{ b{} b{} }}\n", i - 1, i - 1)).collect::<String>()
        ),
        // A chain of 3000 blocks, each calling the next.
        format!(
            "input 3x8x8\n{}b0",
            (0..3000).map(|i| format!("block b{i}() {{ b{} }}\n", i + 1)).collect::<String>()
                + "block b3000() { relu }\n"
        ),
        "input 100000000x100000000x100000000\nrelu".to_string(),
        "input 1x1x1\nflatten dense(4000000000) dense(4000000000) dense(4000000000)".to_string(),
        "input 3x4294967296x4294967296\nconv(4294967296, 4294967296)".to_string(),
        "\u{FEFF}input 3x8x8\nrelu".to_string(),
        "input 3x8x8\n\0".to_string(),
        // Blank lines between an `if` and its `else`: the nesting guard must stay linear.
        format!("input 3x8x8\nif true {{ relu }}{}else {{ relu }}", "\n".repeat(500_000)),
        format!("input 3x8x8\nconv(if true then 1 else 2, 3){}", "\n# c".repeat(300_000)),
        String::new(),
    ];
    for (i, src) in cases.iter().enumerate() {
        survive(src, &format!("pathological case {i}"));
    }
}

#[test]
fn huge_counts_are_exact_or_refused() {
    // 1 → 4e9 → 4e9 → 4e9 features: three layers whose totals pass 2^64 (1.8e19) are still exact.
    let src = "input 1x1x1\nflatten dense(4000000000) dense(4000000000) dense(4000000000)\n";
    let r = netc::driver::check(&mut netc::diag::SourceMap::new(), "t.net", src, None).report.expect("exact counts");
    let n: u128 = 4_000_000_000;
    assert_eq!(r.params, n + n + 2 * (n * n + n));
    assert_eq!(r.flops, 2 * (n + 2 * n * n));
    // A single layer with more than 2^64 weights cannot be indexed: an error, never a wrapped number.
    let (diags, _) = common::diagnose("input 1x1x1\nflatten dense(5000000000) dense(5000000000)\n");
    assert_eq!(
        diags.first().map(|d| (d.code, d.message.as_str())),
        Some((netc::diag::codes::ARITHMETIC, "this layer has more than 2^64 parameters")),
        "{diags:?}"
    );
}

/// Every construct that nests, nested 40,000 deep (which fits in the 1 MiB cap) or just
/// past the limit, is refused by the nesting guard (E0002) before pest or the evaluator
/// recurses; the same constructs nested moderately are accepted.
#[test]
fn every_nesting_construct_meets_the_nesting_limit() {
    let nested = |n: usize| -> Vec<(&str, String)> {
        vec![
            ("if in then", format!("conv({}1{}, 3)", "if true then ".repeat(n), " else 1".repeat(n))),
            (
                "if in cond",
                format!("conv(if {}true{} then 1 else 2, 3)", "if ".repeat(n), " then true else true".repeat(n)),
            ),
            ("if in else", format!("conv({}1, 3)", "if false then 1 else ".repeat(n))),
            ("else-if statements", format!("if false {{ relu }}{}", " else if false { relu }".repeat(n))),
            ("else-if lines", format!("if false {{ relu }}{}", "\n  else if false { relu }".repeat(n))),
            ("not", format!("conv(if {}true then 1 else 2, 3)", "not ".repeat(n))),
            ("minus", format!("conv({}1, 3)", "- ".repeat(n))),
            ("parens", format!("conv({}1{}, 3)", "(".repeat(n), ")".repeat(n))),
            ("lists", format!("let a = {}1{}", "[".repeat(n), "]".repeat(n))),
            ("blocks", format!("{}relu{}", "repeat 1 { ".repeat(n), " }".repeat(n))),
            ("cats", format!("{}relu{}", "cat(".repeat(n), ")".repeat(n))),
            ("groups", format!("{}relu{}", "(".repeat(n), ")".repeat(n))),
            (
                "if and brackets",
                format!("conv({}1{}, 3)", "(if true then ".repeat(n.div_ceil(2)), " else 1)".repeat(n.div_ceil(2))),
            ),
        ]
    };
    for n in [40_000, 65] {
        for (what, body) in nested(n) {
            let src = format!("input 1x8x8\n{body}\n");
            assert!(src.len() <= 1 << 20, "{what}: {} bytes", src.len());
            let (diags, _) = common::diagnose(&src);
            assert_eq!(
                diags.first().map(|d| d.code),
                Some(netc::diag::codes::TOO_DEEP),
                "{what} × {n}: {:?}",
                diags.first().map(|d| &d.message)
            );
        }
    }
    for (what, body) in nested(12) {
        let (diags, _) = common::diagnose(&format!("input 1x8x8\n{body}\n"));
        assert!(diags.iter().all(|d| d.code != netc::diag::codes::TOO_DEEP), "{what} × 12: {diags:?}");
    }
    // Ifs one after the other do not nest.
    let lets: String = (0..200).map(|i| format!("let x{i} = if true then 1 else 2\n")).collect();
    let siblings = "if true { relu } if true { relu }\n".repeat(200) + &lets;
    let (diags, _) = common::diagnose(&format!("input 1x8x8\n{siblings}"));
    assert!(diags.is_empty(), "{diags:?}");
}
