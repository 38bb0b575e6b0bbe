//! The `--log FILE` of `netc run`: a JSON object opening each run (`{"run": {...}}`,
//! with the preprocessing line, the pipeline and the augmentation), then one JSON object
//! per epoch, appended.
//!
//! The log may be any file, device or pipe that can be appended to, except the run's
//! own inputs (the net's source, `--weights`, `--resume`). A named pipe that no process
//! reads is refused rather than waited for.
//!
//! A log that cannot be written (a full disk, `--log /dev/full`) must not throw
//! training away: the first failure is reported once on stderr, the log is dropped,
//! training and checkpoints go on, and the run ends with exit code 2 and a message
//! saying from which epoch the log is missing (like `tee`, which keeps copying when one
//! output fails and reports it in its exit status).

use super::err;
use crate::files::{open_append, same_file};
use crate::train::EpochStats;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct EpochLog {
    path: PathBuf,
    file: Option<File>,
    /// The first epoch that could not be written, and why.
    failed: Option<(usize, std::io::Error)>,
}

impl EpochLog {
    /// Opens (creating if needed) `path` for appending, unless it is one of the run's
    /// `inputs` (a description and a path), which a log line would damage.
    pub fn open(path: &Path, inputs: &[(&str, &Path)]) -> Result<EpochLog, String> {
        if let Some((role, _)) = inputs.iter().find(|(_, input)| same_file(path, input)) {
            return Err(format!("cannot log to {}: it is {role}", path.display()));
        }
        let file = open_append(path).map_err(|e| format!("cannot open the log {}: {e}", path.display()))?;
        Ok(EpochLog { path: path.to_path_buf(), file: Some(file), failed: None })
    }

    /// Appends the line that opens a run (`{"run": {...}}`: the preprocessing and
    /// augmentation); epoch lines are those with an `"epoch"` key.
    /// `first_epoch` is the run's first epoch (counting from 1).
    pub fn header(&mut self, run: &serde_json::Value, first_epoch: usize) {
        self.write(&run.to_string(), first_epoch);
    }

    /// Appends one epoch; on the first failure, warns and stops logging.
    pub fn append(&mut self, s: &EpochStats) {
        self.write(&serde_json::to_string(s).expect("epoch stats serialise"), s.epoch);
    }

    /// Writes one line; `epoch` is the first epoch the log lacks if it fails.
    fn write(&mut self, line: &str, epoch: usize) {
        let Some(f) = self.file.as_mut() else { return };
        if let Err(e) = writeln!(f, "{line}").and_then(|()| f.flush()) {
            err(&format!(
                "warning: cannot write the log {}: {e}; training goes on and checkpoints are still saved\n",
                self.path.display()
            ));
            self.file = None;
            self.failed = Some((epoch, e));
        }
    }

    /// The error to end the run with if the log lost epochs.
    pub fn failure(&self) -> Option<String> {
        self.failed
            .as_ref()
            .map(|(epoch, e)| format!("the log {} lacks the epochs from {epoch} on: {e}", self.path.display()))
    }
}
