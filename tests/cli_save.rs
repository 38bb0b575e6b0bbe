//! `--save`, `--log` and stdout under hostile conditions: symlinks, special files,
//! files that are not checkpoints, the run's own inputs, planted and stale temporary
//! files, a full log disk and a closed stdout. Nothing may be lost or clobbered, and
//! an unusable target is refused before any training.

mod cli_support;

use cli_support::*;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;

/// The metadata of a checkpoint (`netc.epoch`, …).
fn metadata(p: &Path) -> std::collections::HashMap<String, String> {
    let bytes = std::fs::read(p).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().clone().unwrap_or_default()
}

fn save_to(target: &Path, epochs: &str) -> Ran {
    let mut args = train_args(&[OsStr::new("--save"), target.as_os_str()]);
    args[7] = epochs.into();
    run(&mut netc(&args), MINUTE)
}

#[test]
fn saving_through_a_symlink_writes_the_file_it_points_to() {
    let d = TempDir::new("symlink");
    let real = d.join("real.safetensors");
    save_to(&real, "1").expect(0);
    let link = d.join("link.safetensors");
    std::os::unix::fs::symlink("real.safetensors", &link).unwrap();
    save_to(&link, "2").expect(0);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
    assert_eq!(metadata(&real)["netc.epoch"], "2", "the real file was not updated");

    // A dangling link: the checkpoint is created where it points, in the other directory.
    std::fs::create_dir(d.join("sub")).unwrap();
    let dangling = d.join("dangling.safetensors");
    std::os::unix::fs::symlink("sub/new.safetensors", &dangling).unwrap();
    save_to(&dangling, "1").expect(0);
    assert!(std::fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
    assert_eq!(metadata(&d.join("sub/new.safetensors"))["netc.epoch"], "1");
    let leftovers: Vec<_> = std::fs::read_dir(d.join("sub")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, [OsStr::new("new.safetensors")], "temporary files left behind");
}

/// Runs a short training with `--save target` and checks that it is refused before
/// the first epoch, with exit 2 and a message containing `why`.
#[track_caller]
fn refused(target: &Path, extra: &[&OsStr], why: &str) {
    let mut args = train_args(&[OsStr::new("--save"), target.as_os_str()]);
    args.extend(extra.iter().map(|s| s.to_os_string()));
    let r = run(&mut netc(&args), MINUTE);
    r.expect(2);
    assert!(r.stderr.contains(why), "--save {}: expected `{why}` in:\n{}", target.display(), r.stderr);
    assert!(!r.stdout.contains("epoch"), "--save {} was refused only after training:\n{}", target.display(), r.stdout);
}

#[test]
fn unusable_save_targets_are_refused_before_training() {
    let d = TempDir::new("targets");
    let fifo = d.join("fifo.safetensors");
    mkfifo(&fifo);
    refused(&fifo, &[], "not a regular file");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");

    let text = d.write("notes.txt", "precious notes\n");
    refused(&text, &[], "not a safetensors checkpoint");
    assert_eq!(std::fs::read_to_string(&text).unwrap(), "precious notes\n");

    refused(&d.join("no/such/dir/w.safetensors"), &[], "no/such/dir");
    refused(&d.0, &[], "is a directory");
    refused(Path::new("/proc/w.safetensors"), &[], "/proc");

    // The run's own inputs: the net's source, the weights, the log, the dataset.
    let net = d.write("n.net", "input 1x28x28\nflatten\ndense(10)\n");
    let mut args = train_args(&[OsStr::new("--save"), net.as_os_str()]);
    args[1] = net.clone().into();
    let r = run(&mut netc(&args), MINUTE);
    r.expect(2);
    assert!(r.stderr.contains("the net's source"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&net).unwrap(), "input 1x28x28\nflatten\ndense(10)\n");

    let weights = d.join("w.safetensors");
    save_to(&weights, "1").expect(0);
    let before = std::fs::read(&weights).unwrap();
    let link = d.join("w-link.safetensors");
    std::os::unix::fs::symlink(&weights, &link).unwrap();
    refused(&link, &[OsStr::new("--weights"), weights.as_os_str()], "--weights");
    assert_eq!(std::fs::read(&weights).unwrap(), before);

    let log = d.join("log.jsonl");
    refused(&log, &[OsStr::new("--log"), log.as_os_str()], "--log");
    refused(&d.join("new.safetensors"), &[OsStr::new("--log"), d.join("new.safetensors").as_os_str()], "--log");

    refused(Path::new("."), &[], "names no file");
    let (loop1, loop2) = (d.join("loop1.safetensors"), d.join("loop2.safetensors"));
    std::os::unix::fs::symlink(&loop2, &loop1).unwrap();
    std::os::unix::fs::symlink(&loop1, &loop2).unwrap();
    refused(&loop1, &[], "too many levels of symbolic links");
    assert!(std::fs::symlink_metadata(&loop1).unwrap().file_type().is_symlink(), "the link was replaced");

    // An empty file holds nothing to lose: it may become a checkpoint.
    let empty = d.write("empty.safetensors", "");
    save_to(&empty, "1").expect(0);
    assert_eq!(metadata(&empty)["netc.epoch"], "1");
}

use std::os::unix::fs::FileTypeExt;

#[test]
fn a_symlink_planted_at_the_temporary_name_is_not_followed() {
    let d = TempDir::new("planted");
    let victim = d.write("victim.txt", "do not touch\n");
    let target = d.join("w.safetensors");
    let mut args = train_args(&[OsStr::new("--save"), target.as_os_str()]);
    args[7] = "2".into();
    let child = netc(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // The old scheme wrote `.w.safetensors.tmp-PID`; plant a link there before the first save.
    std::os::unix::fs::symlink(&victim, d.join(format!(".w.safetensors.tmp-{}", child.id()))).unwrap();
    finish(child, MINUTE).expect(0);
    assert_eq!(std::fs::read(&victim).unwrap(), b"do not touch\n", "the planted link was followed");
    assert_eq!(metadata(&target)["netc.epoch"], "2");
}

#[test]
fn stale_temporary_files_of_dead_runs_are_removed_at_the_next_save() {
    let d = TempDir::new("stale");
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let live = std::process::id();
    let junk = vec![0u8; 4096];
    let stale = [format!(".w.safetensors.tmp-{dead}"), format!(".w.safetensors.tmp-{dead}-a1B2c3")];
    let kept = [
        format!(".w.safetensors.tmp-{live}-x9Y8z7"),     // a run still writing
        format!(".other.safetensors.tmp-{dead}-a1B2c3"), // another checkpoint's
        format!(".w.safetensors.tmp-{dead}-x.keep"),     // not a name netc makes
    ];
    for name in stale.iter().chain(&kept) {
        d.write(name, &junk);
    }
    save_to(&d.join("w.safetensors"), "1").expect(0);
    for name in &stale {
        assert!(!d.join(name).exists(), "{name} was left behind");
    }
    for name in &kept {
        assert!(d.join(name).exists(), "{name} was removed");
    }
}

#[test]
fn a_failing_log_does_not_lose_checkpoints() {
    let d = TempDir::new("fulllog");
    let ckpt = d.join("w.safetensors");
    let mut args = train_args(&[OsStr::new("--save"), ckpt.as_os_str(), OsStr::new("--log"), OsStr::new("/dev/full")]);
    args[7] = "2".into();
    let r = run(&mut netc(&args), MINUTE);
    r.expect(2);
    assert_eq!(metadata(&ckpt)["netc.epoch"], "2", "training went on and saved every epoch");
    assert!(r.stdout.contains("epoch  2/2"), "{}", r.stdout);
    assert_eq!(r.stderr.matches("/dev/full").count(), 2, "one warning, one final error:\n{}", r.stderr);
}

#[test]
fn a_closed_stdout_does_not_stop_training() {
    let d = TempDir::new("epipe");
    let ckpt = d.join("w.safetensors");
    let mut args = train_args(&[OsStr::new("--save"), ckpt.as_os_str()]);
    args[7] = "2".into();
    let mut child = netc(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take()); // like `netc run ... | head -0`
    let r = finish(child, MINUTE);
    r.expect(0);
    assert_eq!(metadata(&ckpt)["netc.epoch"], "2", "training stopped early");
    assert_eq!(r.stderr.matches("standard output").count(), 1, "{}", r.stderr);
}

#[test]
fn a_log_that_is_an_input_or_an_unread_pipe_is_refused() {
    let d = TempDir::new("logtarget");
    let source = "input 1x28x28\nflatten\ndense(10)\n";
    let net = d.write("n.net", source);
    let mut args = train_args(&[OsStr::new("--log"), net.as_os_str()]);
    args[1] = net.clone().into();
    let r = run(&mut netc(&args), MINUTE);
    r.expect(2);
    assert!(r.stderr.contains("the net's source"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&net).unwrap(), source, "the log was appended to the source");

    let ckpt = d.join("w.safetensors");
    save_to(&ckpt, "1").expect(0);
    let before = std::fs::read(&ckpt).unwrap();
    let args = train_args(&[OsStr::new("--weights"), ckpt.as_os_str(), OsStr::new("--log"), ckpt.as_os_str()]);
    run(&mut netc(&args), MINUTE).expect(2);
    assert_eq!(std::fs::read(&ckpt).unwrap(), before, "the log was appended to the weights");

    let fifo = d.join("log.fifo");
    mkfifo(&fifo);
    let r = run(&mut netc(train_args(&[OsStr::new("--log"), fifo.as_os_str()])), std::time::Duration::from_secs(20));
    r.expect(2);
    assert!(r.stderr.contains("nothing reads this named pipe"), "{}", r.stderr);
}
