//! Running the `netc` binary from tests: temp dirs, a timeout for commands that could
//! hang, and the peak memory of a child (so a test can tell a bounded read from an
//! unbounded one), and in [`output`] the helpers of tests that read a finished run's output.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub mod output;

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("netc-cli-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.0.join(rel)
    }

    /// [`TempDir::join`] for a file name.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, rel: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::write(&p, bytes).expect("write file");
        p
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `netc` with its working directory at the repository root and no `NETC_DATA`.
pub fn netc<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(env!("CARGO_BIN_EXE_netc"));
    c.args(args).current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("NETC_DATA").env("NETC_TUNE", "off");
    c
}

/// What a finished child did.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident memory of the child, in KiB.
    pub max_rss_kib: u64,
}

impl Ran {
    /// Fails the test with the child's output unless it exited with `code`.
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

fn drain(r: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs the command to completion, or kills it after `limit` and fails the test: a
/// command that hangs is a bug. Reports the child's peak memory.
#[track_caller]
pub fn run(cmd: &mut Command, limit: Duration) -> Ran {
    if cmd.get_program() == OsStr::new(env!("CARGO_BIN_EXE_netc")) {
        cmd.stdin(Stdio::null());
    }
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("netc starts");
    finish(child, limit)
}

/// Waits for a spawned child (stdout and stderr piped, or not) like [`run`].
#[track_caller]
pub fn finish(mut child: Child, limit: Duration) -> Ran {
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    let (status, usage) = loop {
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: plain FFI call with valid pointers; the child is ours and not yet reaped.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break (status, usage);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("netc did not finish within {limit:?}; stderr so far:\n{}", err.join().unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ran {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        max_rss_kib: usage.ru_maxrss as u64,
    }
}

/// A short training run on the synthetic set; `extra` arguments are appended.
pub fn train_args(extra: &[&OsStr]) -> Vec<std::ffi::OsString> {
    let base = ["run", "nets/lenet-keras.net", "--train", "synthetic", "--limit", "64", "--epochs", "1", "--quiet"];
    base.iter().map(Into::into).chain(extra.iter().map(|s| s.to_os_string())).collect()
}

/// Creates a named pipe (FIFO) at `path`.
pub fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", path.display());
}

pub const MINUTE: Duration = Duration::from_secs(60);
