//! How much memory this process can still have: the smallest of the kernel's
//! `MemAvailable` (`/proc/meminfo`), the room left under every cgroup memory limit
//! that applies (v2 `memory.max`, v1 `memory.limit_in_bytes`, ancestors included) and
//! the room left under the address-space limit (`ulimit -v`).
//! A cgroup's usage counts its page cache, so its inactive file pages, which the kernel
//! reclaims first, are counted as available. Anything unreadable (another OS, no
//! cgroup) is simply left out; with nothing readable the answer is `None`.

use std::path::{Path, PathBuf};

/// Bytes available, and where the figure comes from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Available {
    pub bytes: u64,
    pub source: String,
}

/// The memory available now, if the system says.
pub fn available() -> Option<Available> {
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let mut best = read(Path::new("/proc/meminfo"))
        .and_then(|t| meminfo_available(&t))
        .map(|bytes| Available { bytes, source: "MemAvailable in /proc/meminfo".into() });
    let address_space = read(Path::new("/proc/self/limits"))
        .and_then(|l| address_space_limit(&l))
        .zip(read(Path::new("/proc/self/status")).and_then(|t| vm_size(&t)))
        .map(|(limit, used)| Available { bytes: limit.saturating_sub(used), source: "ulimit -v".into() });
    if let Some(a) = address_space {
        if best.as_ref().is_none_or(|b| a.bytes < b.bytes) {
            best = Some(a);
        }
    }
    let (Some(cgroups), Some(mounts)) = (read(Path::new("/proc/self/cgroup")), read(Path::new("/proc/self/mountinfo")))
    else {
        return best;
    };
    for dir in cgroup_dirs(&cgroups, &mounts) {
        if let Some(c) = cgroup_room(&dir) {
            if best.as_ref().is_none_or(|b| c.bytes < b.bytes) {
                best = Some(c);
            }
        }
    }
    best
}

/// `MemAvailable` of `/proc/meminfo`, in bytes.
pub fn meminfo_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The soft "Max address space" of `/proc/self/limits`, if limited.
pub fn address_space_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max address space"))?;
    line["Max address space".len()..].split_whitespace().next()?.parse().ok()
}

/// `VmSize` of `/proc/self/status`, in bytes.
fn vm_size(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmSize:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok()?.checked_mul(1024)
}

/// The memory cgroup directories of this process, each with its version: the leaf
/// and every ancestor up to the mount point (a parent's limit binds its children).
pub fn cgroup_dirs(proc_cgroup: &str, mountinfo: &str) -> Vec<(PathBuf, u8)> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let version = if controllers.is_empty() {
            2
        } else if controllers.split(',').any(|c| c == "memory") {
            1
        } else {
            continue;
        };
        for (root, mount) in mounts(mountinfo, version) {
            let rel = path.strip_prefix(root.as_str()).unwrap_or(path).trim_start_matches('/');
            let mut dir = mount.join(rel);
            loop {
                if dir.is_dir() {
                    out.push((dir.clone(), version));
                }
                if dir == mount || !dir.pop() {
                    break;
                }
            }
        }
    }
    out
}

/// (root within the hierarchy, mount point) of the cgroup mounts of `version`.
fn mounts(mountinfo: &str, version: u8) -> Vec<(String, PathBuf)> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let sup: Vec<&str> = right.split(' ').collect();
            let (root, mount) = (fields.get(3)?, fields.get(4)?);
            let fstype = *sup.first()?;
            let wanted = match version {
                2 => fstype == "cgroup2",
                _ => fstype == "cgroup" && sup.get(2).is_some_and(|o| o.split(',').any(|o| o == "memory")),
            };
            wanted.then(|| (root.to_string(), PathBuf::from(mount)))
        })
        .collect()
}

/// Room left under the limit of one cgroup directory, if it has a limit.
fn cgroup_room((dir, version): &(PathBuf, u8)) -> Option<Available> {
    let num = |f: &str| std::fs::read_to_string(dir.join(f)).ok()?.trim().parse::<u64>().ok();
    let (limit_file, usage_file, inactive_key) = match version {
        2 => ("memory.max", "memory.current", "inactive_file"),
        _ => ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
    };
    // "max" (v2) does not parse; v1 says "no limit" with a number near 2^63.
    let limit = num(limit_file).filter(|&l| l < 1 << 62)?;
    let usage = num(usage_file)?;
    let inactive = std::fs::read_to_string(dir.join("memory.stat")).ok().and_then(|t| stat_value(&t, inactive_key));
    let used = usage.saturating_sub(inactive.unwrap_or(0));
    Some(Available {
        bytes: limit.saturating_sub(used),
        source: format!("the cgroup limit {}", dir.join(limit_file).display()),
    })
}

fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_is_read_in_kib() {
        let t = "MemTotal:       24684084 kB\nMemFree:        12724916 kB\nMemAvailable:   23541032 kB\n";
        assert_eq!(meminfo_available(t), Some(23541032 * 1024));
        assert_eq!(meminfo_available("MemTotal: 1 kB\n"), None);
        let limits = "Max stack size            8388608              unlimited            bytes\n\
                      Max address space         1024000000           1024000000           bytes\n";
        assert_eq!(address_space_limit(limits), Some(1024000000));
        assert_eq!(address_space_limit("Max address space         unlimited            unlimited  bytes"), None);
        assert_eq!(vm_size("Name:\tnetc\nVmSize:\t    3892 kB\n"), Some(3892 * 1024));
    }

    #[test]
    fn mounts_of_each_version() {
        let mi = "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                  36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n\
                  41 31 0:38 /sub /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(mounts(mi, 1), vec![("/".to_string(), PathBuf::from("/sys/fs/cgroup/memory"))]);
        assert_eq!(mounts(mi, 2), vec![("/sub".to_string(), PathBuf::from("/sys/fs/cgroup/unified"))]);
        assert_eq!(stat_value("inactive_file 0\ntotal_inactive_file 32\n", "total_inactive_file"), Some(32));
    }
}
