//! Where the autotuner's table lives on disk: one file per CPU model, read when an
//! engine starts and written back (atomically) when it has measured something new.
//!
//! Location: the directory given (`--tune-cache`), else `$XDG_CACHE_HOME/netc`,
//! else `~/.cache/netc`; the file is `tune-<cpu>.tsv`, `<cpu>` naming the vendor,
//! model name, family, model and stepping from `/proc/cpuinfo` (a tuned choice
//! is only as good as the core it was measured on). A missing, unreadable or
//! corrupt file is an empty table (bad lines are skipped, never fatal); a
//! directory that cannot be written costs the results of this run, not the run.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::codegen::tune::TuneTable;

/// Largest table file read (a few hundred bytes per step; anything bigger is not ours).
const MAX_BYTES: u64 = 16 << 20;

/// The table file for this CPU under `dir` (or the default directory); None when no
/// directory is known.
pub fn path(dir: Option<&Path>) -> Option<PathBuf> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => default_dir()?,
    };
    Some(dir.join(format!("tune-{}.tsv", cpu_slug())))
}

fn default_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache"))).map(|d| d.join("netc"))
}

/// The CPU model as a file-name-safe string, e.g. `amd-epyc-f25-m17-s1`.
pub fn cpu_slug() -> String {
    let info = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let raw = format!("{} f{} m{} s{}", field("model name"), field("cpu family"), field("model"), field("stepping"));
    let raw = if field("model name").is_empty() { format!("{}-unknown", std::env::consts::ARCH) } else { raw };
    let mut slug = String::new();
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(80).collect()
}

/// The table in `path`; an absent file is an empty table. Returns a warning for a
/// file that exists but could not be read or had bad lines.
pub fn load(path: &Path) -> (TuneTable, Option<String>) {
    let text = match crate::files::open_regular(path) {
        Ok((file, len)) if len <= MAX_BYTES => match crate::files::read_capped(file, MAX_BYTES) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => return (TuneTable::default(), Some(format!("cannot read {}: {e}", path.display()))),
        },
        Ok(_) => return (TuneTable::default(), Some(format!("ignoring {}: too large", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (TuneTable::default(), None),
        Err(e) => return (TuneTable::default(), Some(format!("cannot read {}: {e}", path.display()))),
    };
    let (table, bad) = TuneTable::parse(&text);
    let warn = (bad > 0).then(|| format!("{}: skipped {bad} malformed line(s)", path.display()));
    (table, warn)
}

/// Writes `table` to `path` atomically (temporary file in the same directory,
/// synced, renamed over), merged with what the file holds now (another netc may
/// have added entries since this one read it). Creates the directory if needed.
pub fn save(path: &Path, table: &TuneTable) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write the autotune table {}: {e}", path.display());
    let dir = crate::files::dir_of(path);
    fs::create_dir_all(dir).map_err(fail)?;
    let mut merged = table.clone();
    merged.merge_under(load(path).0);
    let mut tmp = tempfile::Builder::new().prefix(".netc-tune-").tempfile_in(dir).map_err(fail)?;
    tmp.write_all(merged.render().as_bytes()).and_then(|()| tmp.as_file().sync_all()).map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
