//! Memory: what a run will allocate (computed before allocating), what the machine
//! can give, and zeroed allocations that fail with an error instead of aborting.

mod alloc;
mod available;
pub mod footprint;

pub use alloc::{try_zeroed, AllocError, ZeroBits};
pub use available::{available, cgroup_dirs, meminfo_available, Available};
pub use footprint::{largest_batch, Bytes};

/// A byte count for people: `512 B`, `3.2 MiB`, `1.50 GiB`.
pub fn human_bytes(b: u128) -> String {
    const UNITS: [&str; 7] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut x = b as f64 / 1024.0;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < UNITS.len() {
        x /= 1024.0;
        unit += 1;
    }
    if x >= 100.0 {
        format!("{x:.0} {}", UNITS[unit])
    } else if x >= 10.0 {
        format!("{x:.1} {}", UNITS[unit])
    } else {
        format!("{x:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_bytes() {
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(3 << 20), "3.00 MiB");
        assert_eq!(super::human_bytes(1536 << 20), "1.50 GiB");
        assert_eq!(super::human_bytes(u128::MAX), format!("{:.0} ZiB", u128::MAX as f64 / 2f64.powi(70)));
    }
}
