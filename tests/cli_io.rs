//! Hostile files and streams at the edges of the binary: sources, weights and datasets
//! that are devices, pipes, directories, huge or lying; a full stderr; file names that
//! are not UTF-8; names too long for a table. Each must end in a clear message and a
//! meaningful exit code, after a bounded read.

mod cli_support;

use cli_support::*;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::process::Stdio;
use std::time::Duration;

const SECONDS_10: Duration = Duration::from_secs(10);
/// A generous ceiling on the memory of a command that must not read a big payload.
const SMALL_RSS_KIB: u64 = 200 << 10;

const LENET: &str = "input 1x28x28\nconv(6, 5, pad = 2) relu\nmaxpool(2)\nflatten\ndense(10)\n";

#[test]
fn sources_are_read_with_a_bound() {
    let r = run(&mut netc(["check", "/dev/zero"]), MINUTE);
    r.expect(2);
    assert!(r.stderr.contains("not a regular file (a character device)"), "{}", r.stderr);
    assert!(r.max_rss_kib < SMALL_RSS_KIB, "read {} KiB of /dev/zero", r.max_rss_kib);

    // A pipe that never ends: `yes | netc check /dev/stdin`.
    let mut yes = std::process::Command::new("yes").arg("# comment").stdout(Stdio::piped()).spawn().unwrap();
    let endless = Stdio::from(yes.stdout.take().unwrap());
    let child = netc(["check", "/dev/stdin"]).stdin(endless).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let r = finish(child.unwrap(), MINUTE);
    let _ = yes.kill();
    let _ = yes.wait();
    r.expect(2);
    assert!(r.stderr.contains("larger than the 1,048,576 bytes"), "{}", r.stderr);
    assert!(r.max_rss_kib < SMALL_RSS_KIB, "read {} KiB of an endless pipe", r.max_rss_kib);

    let d = TempDir::new("big");
    let big = d.write("big.net", vec![b'#'; 3 << 20]);
    let r = run(&mut netc([OsStr::new("check"), big.as_os_str()]), MINUTE);
    r.expect(2);
    assert!(r.stderr.contains("3,145,728 bytes"), "{}", r.stderr);
}

#[test]
fn sources_that_are_not_regular_files_get_a_clear_message() {
    let d = TempDir::new("fifo");
    let fifo = d.join("nobody-writes.net");
    mkfifo(&fifo);
    let r = run(&mut netc([OsStr::new("check"), fifo.as_os_str()]), SECONDS_10);
    r.expect(2);
    assert!(r.stderr.contains("named pipe") && r.stderr.contains("nothing"), "{}", r.stderr);

    let r = run(&mut netc(["check", "/tmp"]), SECONDS_10);
    r.expect(2);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    let r = run(&mut netc(["dot", "/dev/null"]), SECONDS_10);
    r.expect(2);
    assert!(r.stderr.contains("not a regular file") && r.stderr.contains("device"), "{}", r.stderr);

    // A pipe that someone writes into is a fine source: `gen | netc check /dev/stdin`.
    let mut child = netc(["check", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), LENET.as_bytes()).unwrap();
    let r = finish(child, MINUTE);
    r.expect(0);
    assert!(r.stdout.contains("dense 10"), "{}", r.stdout);
}

#[test]
fn weights_that_are_devices_or_directories_are_refused_at_once() {
    let d = TempDir::new("wdev");
    let net = d.write("n.net", LENET);
    for weights in [OsStr::new("/dev/zero"), d.0.as_os_str()] {
        let args = [OsStr::new("run"), net.as_os_str(), OsStr::new("--weights"), weights];
        let r = run(netc(args).args(["--eval", "synthetic", "--limit", "10"]), MINUTE);
        r.expect(2);
        assert!(r.stderr.contains("not a regular file") || r.stderr.contains("is a directory"), "{}", r.stderr);
        assert!(r.max_rss_kib < SMALL_RSS_KIB, "{}: {} KiB", weights.to_string_lossy(), r.max_rss_kib);
    }
}

/// A safetensors file: the 8-byte header length, the JSON header, then `payload` bytes
/// (the file is extended sparsely to `8 + header + payload`).
fn safetensors_file(d: &TempDir, name: &str, header: &str, payload: u64) -> std::path::PathBuf {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    let p = d.write(name, &bytes);
    std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(bytes.len() as u64 + payload).unwrap();
    p
}

#[test]
fn a_checkpoint_header_is_checked_before_its_payload_is_read() {
    let d = TempDir::new("wsparse");
    let net = d.write("n.net", LENET);
    let eval = |weights: &std::path::Path| {
        let args = [OsStr::new("run"), net.as_os_str(), OsStr::new("--weights"), weights.as_os_str()];
        run(netc(args).args(["--eval", "synthetic", "--limit", "10"]), MINUTE)
    };
    // 1 GiB of a tensor the net does not have, in a sparse file.
    let gib = 1u64 << 30;
    let header = format!(r#"{{"huge":{{"dtype":"F32","shape":[{}],"data_offsets":[0,{gib}]}}}}"#, gib / 4);
    let huge = safetensors_file(&d, "huge.safetensors", &header, gib);
    let r = eval(&huge);
    r.expect(2);
    assert!(r.stderr.contains("huge"), "{}", r.stderr);
    assert!(r.max_rss_kib < SMALL_RSS_KIB, "read the payload: {} KiB", r.max_rss_kib);

    // Header lengths and offsets that the file cannot hold.
    let mut lying = (1u64 << 40).to_le_bytes().to_vec();
    lying.extend_from_slice(b"{}");
    let lying = d.write("lying.safetensors", lying);
    let r = eval(&lying);
    r.expect(2);
    assert!(r.stderr.contains("header") && r.stderr.contains("not a valid safetensors file"), "{}", r.stderr);
    let short = safetensors_file(&d, "short.safetensors", &header, 1000);
    let r = eval(&short);
    r.expect(2);
    assert!(r.stderr.contains("1,073,741,824") && r.stderr.contains("1,000"), "{}", r.stderr);
}

/// Writes the four MNIST file names into `dir`; the train images are `images`.
fn dataset(d: &TempDir, images: &[u8], images_len: u64) {
    let idx = |magic: u32, dims: &[u32], payload: &[u8]| {
        let mut b = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|x| b.extend_from_slice(&x.to_be_bytes()));
        b.extend_from_slice(payload);
        b
    };
    let p = d.write("train-images-idx3-ubyte", images);
    std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(images_len).unwrap();
    d.write("train-labels-idx1-ubyte", idx(0x801, &[10], &[1; 10]));
    d.write("t10k-images-idx3-ubyte", idx(0x803, &[10, 28, 28], &[0; 7840]));
    d.write("t10k-labels-idx1-ubyte", idx(0x801, &[10], &[1; 10]));
}

#[test]
fn an_idx_header_is_checked_before_its_payload_is_read() {
    let d = TempDir::new("idxsparse");
    // 1,000,000 images of 32×32: 1.02 GB, under the 1 GiB cap, in a sparse file.
    let mut header = 0x803u32.to_be_bytes().to_vec();
    [1_000_000u32, 32, 32].iter().for_each(|x| header.extend_from_slice(&x.to_be_bytes()));
    dataset(&d, &header, 16 + 1_024_000_000);
    let args = ["run", "nets/lenet-keras.net", "--train", "mnist", "--data"];
    let r = run(netc(args).arg(&d.0), MINUTE);
    r.expect(2);
    assert!(r.stderr.contains("32×32, expected 28×28"), "{}", r.stderr);
    assert!(r.max_rss_kib < SMALL_RSS_KIB, "read the payload: {} KiB", r.max_rss_kib);
}

#[test]
fn limit_does_not_skip_the_integrity_checks_of_gzip_files() {
    use flate2::{write::GzEncoder, Compression};
    let d = TempDir::new("gzlimit");
    let mut raw = 0x803u32.to_be_bytes().to_vec();
    [100u32, 28, 28].iter().for_each(|x| raw.extend_from_slice(&x.to_be_bytes()));
    raw.extend((0..100 * 784).map(|i| (i * 7 % 251) as u8));
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    std::io::Write::write_all(&mut enc, &raw).unwrap();
    let mut gz = enc.finish().unwrap();
    let n = gz.len();
    gz[n - 6] ^= 0xFF; // the CRC-32 in the trailer
    dataset(&d, &[], 0);
    std::fs::remove_file(d.join("train-images-idx3-ubyte")).unwrap();
    d.write("train-images-idx3-ubyte.gz", &gz);
    let args = ["run", "nets/lenet-keras.net", "--train", "mnist", "--limit", "5", "--epochs", "1", "--data"];
    let r = run(netc(args).arg(&d.0), MINUTE);
    r.expect(2);
    assert!(r.stderr.contains("train-images-idx3-ubyte.gz") && r.stderr.contains("gzip"), "{}", r.stderr);
}

#[test]
fn a_full_stderr_does_not_turn_errors_into_crashes() {
    let d = TempDir::new("full");
    let bad = d.write("bad.net", "input 1x8x8\nconv(4, 9)\n");
    let cases: Vec<(Vec<OsString>, i32)> = vec![
        (vec!["check".into(), "/no/such.net".into()], 2),
        (vec!["check".into(), bad.clone().into()], 1),
        (vec!["check".into(), "--format".into(), "json".into(), bad.clone().into()], 1),
        (vec!["check".into(), "--dump".into(), "ir".into(), bad.clone().into()], 1),
        (vec!["dot".into(), "/no/such.net".into()], 2),
        (vec!["bench".into(), "/no/such.net".into()], 2),
        (vec!["run".into(), "nets/lenet.net".into()], 2),
        (vec!["run".into(), bad.into(), "--train".into(), "synthetic".into()], 1),
        (vec!["check".into(), "--no-such-option".into()], 2),
    ];
    for (args, code) in cases {
        let full = std::fs::File::options().write(true).open("/dev/full").unwrap();
        let child = netc(&args).stdout(Stdio::piped()).stderr(full).spawn().unwrap();
        let r = finish(child, MINUTE);
        assert_eq!(r.code, Some(code), "netc {args:?} with stderr on /dev/full");
    }
}

#[test]
fn json_output_is_an_array_whenever_several_files_are_given() {
    let d = TempDir::new("json");
    let good = d.write("good.net", LENET);
    let missing = d.join("missing.net");
    let r = run(netc(["check", "--format", "json"]).arg(&good).arg(&missing), MINUTE);
    r.expect(2);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    let docs = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["params"]["total"], 11_926);
    assert_eq!(docs[1]["file"], missing.to_string_lossy().as_ref());
    let err = &docs[1]["errors"][0];
    assert!(err["message"].as_str().unwrap().contains("cannot read"), "{err}");
    assert!(err["code"].is_string(), "{err}");

    let r = run(netc(["check", "--format", "json"]).arg(&missing), MINUTE);
    r.expect(2);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert!(v.is_object() && v["errors"].is_array(), "{v}");

    // A dump is the output: no JSON document after it.
    let r = run(netc(["check", "--format", "json", "--dump", "ir"]).arg(&good), MINUTE);
    r.expect(0);
    assert!(r.stdout.trim_end().ends_with("return %5"), "{}", r.stdout);
}

#[test]
fn file_names_that_are_not_utf8_are_accepted() {
    let d = TempDir::new("utf8");
    let name = OsStr::from_bytes(b"caf\xe9.net");
    let net = d.write(name, LENET);
    let r = run(&mut netc([OsStr::new("check"), net.as_os_str()]), MINUTE);
    r.expect(0);
    assert!(r.stdout.contains("caf\u{FFFD}"), "{}", r.stdout);
    run(&mut netc([OsStr::new("dot"), net.as_os_str()]), MINUTE).expect(0);
    let bench = [OsStr::new("bench"), net.as_os_str(), OsStr::new("--seconds"), OsStr::new("0.01")];
    run(&mut netc(bench), MINUTE).expect(0);
    let ckpt = d.join(OsStr::from_bytes(b"w\xff.safetensors"));
    let mut args = train_args(&[OsStr::new("--save"), ckpt.as_os_str()]);
    args[1] = net.clone().into();
    run(&mut netc(&args), MINUTE).expect(0);
    assert!(ckpt.is_file());
    let r = run(&mut netc([OsStr::new("check"), d.join(OsStr::from_bytes(b"no\xff.net")).as_os_str()]), MINUTE);
    r.expect(2);
    assert!(r.stderr.contains("no\u{FFFD}.net"), "{}", r.stderr);
}

#[test]
fn names_too_long_for_a_table_are_shortened_not_a_panic() {
    let d = TempDir::new("long");
    let label = "a".repeat(70_000);
    let net = d.write("long.net", format!("input 1x8x8\n{label}: conv(2, 3)\nflatten\ndense(10)\n"));
    let r = run(netc(["check"]).arg(&net), MINUTE);
    r.expect(0);
    let row = r.stdout.lines().find(|l| l.contains("aaaa")).expect("a row for the layer");
    assert!(row.contains('…') && row.chars().count() < 200, "{row}");
    let r = run(netc(["check", "--format", "json"]).arg(&net), MINUTE);
    r.expect(0);
    assert!(r.stdout.contains(&label), "JSON keeps the whole name");
    let r = run(netc(["bench", "--profile", "--seconds", "0.01", "--batch", "2"]).arg(&net), MINUTE);
    r.expect(0);
    assert!(r.stdout.contains('…'), "{}", r.stdout);
}

#[test]
fn winograd_option_switches_the_kernels_of_every_direction() {
    let d = TempDir::new("wino");
    let net = d.write("w.net", "input 8x16x16\nconv(8, 3, pad = 1) relu\nconv(8, 3, pad = 1)\ngap flatten dense(10)\n");
    let profile = |choice: &str| {
        let r = run(
            netc(["bench", "--train", "--profile", "--seconds", "0.01", "--batch", "4", "--winograd", choice])
                .arg(&net),
            MINUTE,
        );
        r.expect(0);
        r.stdout
    };
    assert!(!profile("off").contains("winograd"));
    // The second convolution's forward, data and weight gradient (the first has no
    // data gradient).
    for m in [2, 4, 6] {
        let forced = profile(&format!("f{m}"));
        assert_eq!(forced.matches(&format!("winograd F({m}x{m},3x3)")).count(), 5, "{forced}");
    }
    run(netc(["bench", "--winograd", "f8"]).arg(&net), MINUTE).expect(2);
}

/// `--profile` groups the same step times two ways: per kernel kind and per layer. The
/// two tables must account for the same time (shares adding up to 100%), name the
/// kinds the net runs, and come with a memory bandwidth.
#[test]
fn profile_by_kernel_kind_accounts_for_the_layers_time() {
    let d = TempDir::new("kinds");
    let net = d.write(
        "k.net",
        "input 4x12x12\nconv(8, 3, pad = 1) bn relu\nconv(8, 3, stride = 2) relu\ngap flatten dense(10)\n",
    );
    let r = run(
        netc(["bench", "--train", "--profile", "--seconds", "0.01", "--batch", "4", "--format", "json"]).arg(&net),
        MINUTE,
    );
    r.expect(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    let rows = |k: &str| v[k].as_array().unwrap_or_else(|| panic!("{k} rows")).clone();
    let total = |rows: &[serde_json::Value]| rows.iter().map(|r| r["seconds"].as_f64().unwrap()).sum::<f64>();
    let (layers, kinds) = (rows("profile"), rows("profile_kinds"));
    assert!((total(&layers) - total(&kinds)).abs() <= 1e-9 + 1e-9 * total(&layers), "{v}");
    let names: Vec<&str> = kinds.iter().map(|k| k["kind"].as_str().unwrap()).collect();
    for want in ["bn_train", "bn_bwd", "dense gemm"] {
        assert!(names.contains(&want), "{names:?}");
    }
    assert!(names.iter().any(|n| n.starts_with("conv_bwd_weight ")), "{names:?}");
    let percent: f64 = kinds.iter().map(|k| k["percent"].as_f64().unwrap()).sum();
    assert!((percent - 100.0).abs() < 1e-6, "{percent}");
    assert!(v["memory_bandwidth_gbs"].as_f64().is_some_and(|g| g > 0.0), "{v}");
    let text = run(netc(["bench", "--train", "--profile", "--seconds", "0.01", "--batch", "4"]).arg(&net), MINUTE);
    text.expect(0);
    assert!(text.stdout.contains("kernel kind") && text.stdout.contains("GB/s memory copy"), "{}", text.stdout);
}
