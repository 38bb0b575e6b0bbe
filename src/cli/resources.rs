//! What `run` and `bench` may ask of the machine: a thread count in range, and memory
//! that fits. The memory check compares what a command will allocate (computed
//! before allocating anything) with what is available, and when it does not fit says
//! how much each part needs and the largest batch that would.

use crate::runtime::memory::{self, human_bytes, largest_batch, Bytes};

/// The most threads netc runs on, unless the machine has more cores: a pool this size
/// is already far past any speed-up, and spawning more only burns memory.
pub const MAX_THREADS: usize = 256;

/// Cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Checks `--threads`; returns a warning to print when it exceeds the cores.
pub fn check_threads(threads: usize) -> Result<Option<String>, String> {
    let cores = cores();
    let max = MAX_THREADS.max(cores);
    if threads == 0 {
        return Err(format!("error: --threads must be at least 1 (this machine has {cores} cores)"));
    }
    if threads > max {
        return Err(format!(
            "error: --threads {threads} is more than netc runs on (at most {max}; this machine has {cores} cores)"
        ));
    }
    Ok((threads > cores).then(|| {
        format!(
            "warning: --threads {threads} is more than the {cores} cores of this machine; the extra threads only \
             wait for each other (results are the same for any count)"
        )
    }))
}

/// Parses a size such as `512M`, `8G`, `1.5GiB` or `1000000` (bytes); units are
/// binary (K = 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("`{text}` is not a size: use a number with K, M, G or T, e.g. 512M or 8G")),
    };
    let x: f64 = num.parse().map_err(|_| format!("`{text}` is not a size: use e.g. 512M or 8G"))?;
    let bytes = x * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= 2f64.powi(62) {
        return Err(format!("`{text}` is not a usable memory size (from 1 byte to 4 EiB)"));
    }
    Ok(bytes as u64)
}

/// The memory a command may use, and where the figure comes from.
pub struct Budget {
    pub bytes: u128,
    pub source: String,
}

/// `--memory-limit` if given (it replaces the detected figure, to lower it or to raise
/// it when the system's figure is too cautious), else what the system says is available.
pub fn budget(limit: Option<u64>) -> Option<Budget> {
    match limit {
        Some(b) => Some(Budget { bytes: b.into(), source: "--memory-limit".into() }),
        None => memory::available().map(|a| Budget { bytes: a.bytes.into(), source: a.source }),
    }
}

/// What a command will allocate: parts that do not depend on the batch size, and the
/// batch-dependent rest as a function of the batch.
pub struct Demand<'a> {
    /// e.g. "training" or "inference".
    pub what: &'a str,
    /// (what, bytes): parameters, gradients, moments, datasets, ...
    pub fixed: Vec<(&'static str, u128)>,
    /// What `per_batch` counts, e.g. "the JIT's arenas and the batch buffers".
    pub per_batch_what: &'a str,
    pub per_batch: &'a dyn Fn(usize) -> Bytes,
}

/// Refuses, with the numbers and the largest batch that fits, a demand at `batch` that
/// exceeds the budget. Without a budget (nothing known) everything passes.
pub fn check(net: &str, demand: &Demand, batch: usize, budget: Option<&Budget>) -> Result<(), String> {
    let Some(budget) = budget else { return Ok(()) };
    let fixed: u128 = demand.fixed.iter().map(|(_, b)| b).sum();
    let need = (demand.per_batch)(batch);
    if !need.at_least && fixed.saturating_add(need.bytes) <= budget.bytes {
        return Ok(());
    }
    let parts: Vec<String> =
        demand.fixed.iter().filter(|(_, b)| *b > 0).map(|(w, b)| format!("{} for {w}", human_bytes(*b))).collect();
    let plus = if parts.is_empty() { String::new() } else { format!(" (plus {})", parts.join(", ")) };
    let at_least = if need.at_least { "at least " } else { "" };
    let mut msg = format!(
        "error: {net} does not fit in memory: {} at batch {batch} needs {at_least}{} for {}{plus}; {} available ({})",
        demand.what,
        human_bytes(need.bytes),
        demand.per_batch_what,
        human_bytes(budget.bytes),
        budget.source
    );
    let room = budget.bytes.checked_sub(fixed);
    match room.and_then(|room| largest_batch(room, batch, demand.per_batch)) {
        Some(n) => msg.push_str(&format!("\nhint: try --batch {n}, the largest that fits")),
        None if room.is_none_or(|r| r == 0) => {
            msg.push_str(&format!("\nhint: the batch-independent part alone needs {}", human_bytes(fixed)))
        }
        None => msg.push_str("\nhint: it does not fit even at batch 1"),
    }
    if budget.source != "--memory-limit" {
        msg.push_str("; --memory-limit SIZE overrides the detected figure");
    }
    Err(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        for bad in ["", "G", "-1G", "1X", "nan", "0", "1e3G", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn thread_counts_in_range() {
        assert!(check_threads(0).is_err());
        assert!(check_threads(MAX_THREADS.max(cores()) + 1).is_err());
        assert_eq!(check_threads(1), Ok(None));
        assert!(check_threads(cores() + 1).unwrap().is_some_and(|w| w.contains("cores")));
    }
}
