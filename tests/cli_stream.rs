//! `netc run` on an image folder streamed from disk against the same folder in memory,
//! the oracle: the same checkpoint bit for bit after training with augmentation (on
//! another number of data workers), the same `--eval` report; `--memory-limit` below
//! the decoded images (but above the net) streams them and says so with the numbers;
//! a file corrupted during the run is named, with exit code 2. The folders are written
//! at test time (seeded random pictures, 3 classes).

mod cli_support;
mod data_support;

use std::io::BufRead;
use std::path::Path;
use std::process::Stdio;

use cli_support::{finish, netc, run, TempDir, MINUTE};
use data_support::random_folder::{write_folder, Spec};

/// A small RGB classifier of the pictures' 3 classes.
const NET: &str = "input 3x16x16
conv(8, 3, pad = 1) relu maxpool(2)
flatten
dense(3) softmax
";

fn setup(tag: &str, train: usize) -> TempDir {
    let dir = TempDir::new(tag);
    write_folder(&dir.join("pictures"), &Spec { classes: 3, train, test: 24, gray_only: false });
    dir.write("small.net", NET);
    dir
}

/// `netc run small.net --train pictures` with `extra` arguments.
fn train(dir: &TempDir, extra: &[&str]) -> std::process::Command {
    let mut cmd = netc(["run"]);
    cmd.arg(dir.join("small.net")).arg("--train").arg(dir.join("pictures"));
    cmd.args(["--batch", "8", "--quiet", "--seed", "3"]).args(extra);
    cmd
}

/// The epoch lines without their timings.
fn epochs(stdout: &str) -> Vec<String> {
    stdout.lines().filter(|l| l.starts_with("epoch")).map(|l| l.split("  ").take(3).collect()).collect()
}

/// A checkpoint's tensors (name, shape, bytes) in name order and its metadata.
type Checkpoint = (Vec<(String, Vec<usize>, Vec<u8>)>, std::collections::HashMap<String, String>);

fn checkpoint(path: &Path) -> Checkpoint {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<_> =
        st.tensors().into_iter().map(|(n, t)| (n, t.shape().to_vec(), t.data().to_vec())).collect();
    tensors.sort();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    (tensors, meta.metadata().clone().unwrap_or_default())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_streamed_run_trains_and_evaluates_as_an_in_memory_run() {
    let dir = setup("stream-run", 90);
    let (memory, streamed) = (dir.join("memory.safetensors"), dir.join("streamed.safetensors"));
    let common = ["--epochs", "2", "--augment", "rrc=0.5-1,crop=2,flip"];
    let ran = run(
        train(&dir, &common).args(["--cache-images", "always", "--data-workers", "1", "--save", s(&memory)]),
        MINUTE,
    );
    ran.expect(0);
    assert!(!ran.stdout.contains("streamed"), "{}", ran.stdout);
    let streamed_run = ["--cache-images", "never", "--data-workers", "2", "--save", s(&streamed)];
    let ran_streamed = run(train(&dir, &common).args(streamed_run), MINUTE);
    ran_streamed.expect(0);
    assert!(ran_streamed.stdout.contains("images: streamed from disk, as asked (--cache-images never)"));
    assert_eq!(epochs(&ran_streamed.stdout), epochs(&ran.stdout));
    assert_eq!(epochs(&ran.stdout).len(), 2);
    // Same weights, moments, statistics and metadata (the mean/std of the pipeline).
    let (a, b) = (checkpoint(&memory), checkpoint(&streamed));
    assert!(a.0.len() > 4 && a.1.contains_key("netc.preprocess"));
    assert!(a == b, "the checkpoints differ");

    let eval = |cache: &str, workers: &str| {
        let mut cmd = netc(["run"]);
        cmd.arg(dir.join("small.net")).arg("--weights").arg(&memory).arg("--eval").arg(dir.join("pictures"));
        cmd.args(["--cache-images", cache, "--data-workers", workers, "--batch", "5"]);
        let ran = run(&mut cmd, MINUTE);
        ran.expect(0);
        ran
    };
    let (in_memory, from_disk) = (eval("always", "0"), eval("never", "3"));
    assert!(in_memory.stdout.contains("test accuracy"), "{}", in_memory.stdout);
    assert_eq!(from_disk.stdout, in_memory.stdout);
    assert!(from_disk.stderr.contains("images: streamed from disk"), "{}", from_disk.stderr);
}

#[test]
fn a_memory_limit_below_the_images_streams_them_and_says_why() {
    // 924 images of about 3×18×21 bytes: 1.0 MiB decoded. The net, its batches and the
    // streamed set's bookkeeping need about 740 KiB (measured: 477 KiB of arenas and
    // batch buffers at batch 8, 28 KiB of weights, 190 KiB of labels and file names, 45
    // KiB of decoding buffers), so 1 MiB leaves the images about 520 KiB.
    let dir = setup("stream-limit", 900);
    let log = dir.join("log.jsonl");
    let limited = run(&mut train(&dir, &["--epochs", "1", "--memory-limit", "1M", "--log", s(&log)]), MINUTE);
    limited.expect(0);
    let line = limited.stdout.lines().find(|l| l.starts_with("images:")).unwrap_or_default();
    assert!(
        line.starts_with("images: streamed from disk, decoded they would take 1.0")
            && line.contains("left for them beside the rest of the run (1.00 MiB available, --memory-limit)"),
        "{}",
        limited.stdout
    );
    let header = std::fs::read_to_string(&log).unwrap();
    assert!(header.contains("\"images\":\"streamed from disk, decoded they would take"), "{header}");
    let roomy = run(&mut train(&dir, &["--epochs", "1", "--memory-limit", "4M"]), MINUTE);
    roomy.expect(0);
    assert!(!roomy.stdout.contains("streamed"), "{}", roomy.stdout);
    assert_eq!(epochs(&limited.stdout), epochs(&roomy.stdout));
    // Too little for the net itself: refused, the streamed images counted as such.
    let tiny = run(&mut train(&dir, &["--epochs", "1", "--memory-limit", "100K"]), MINUTE);
    tiny.expect(1);
    assert!(
        tiny.stderr.contains("for decoding streamed images") && tiny.stderr.contains("does not fit"),
        "{}",
        tiny.stderr
    );
}

#[test]
fn a_file_corrupted_during_a_run_is_named() {
    let dir = setup("stream-corrupt", 60);
    let saved = dir.join("w.safetensors");
    let mut cmd = train(&dir, &["--epochs", "500", "--cache-images", "never", "--save", s(&saved)]);
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("training"), "{first}");
    // Training has started: every epoch decodes every file again.
    let victim = dir.join("pictures/train/c1/0031.png");
    std::fs::write(&victim, b"no longer a picture").unwrap();
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
        rest
    });
    let ran = finish(child, MINUTE);
    let rest = rest.join().unwrap();
    assert!(!rest.contains("final test accuracy"), "{rest}");
    ran.expect(2);
    assert!(
        ran.stderr.contains(s(&victim)) && ran.stderr.contains("changed since the folder was loaded"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
}
