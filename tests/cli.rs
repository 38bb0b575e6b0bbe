//! The `netc` binary: exit codes, where output goes, and the formats.

use std::process::{Command, Output};

fn netc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NETC_VERIFY", "1")
        .env("NETC_TUNE", "off")
        .output()
        .expect("netc runs")
}

fn write_temp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("netc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_valid_net_exits_0_with_the_report_on_stdout() {
    let out = netc(&["check", "nets/lenet.net"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("60,840") && stdout.contains("C3") && stdout.contains("16×10×10"), "{stdout}");
    assert!(out.stderr.is_empty());
}

#[test]
fn an_invalid_net_exits_1_with_the_location_on_stderr() {
    let path = write_temp("bad.net", "input 1x8x8\nconv(6, 5) maxpool(2) conv(16, 5)\n");
    let out = netc(&["check", &path]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("{path}:2:32")) && stderr.contains("E0203"), "{stderr}");
    // The layers inferred before the error are still shown.
    assert!(String::from_utf8(out.stdout).unwrap().contains("6×2×2"));
}

#[test]
fn missing_files_and_bad_usage_exit_2() {
    let out = netc(&["check", "nets/no-such-net.net"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read `nets/no-such-net.net`"));
    assert_eq!(netc(&["check"]).status.code(), Some(2));
    assert_eq!(netc(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(netc(&["check", "nets/lenet.net", "--depth", "0"]).status.code(), Some(2));
    let binary = write_temp("binary.net", "");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let out = netc(&["check", &binary]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));
}

#[test]
fn several_files_report_each_and_exit_with_the_worst_code() {
    let bad = write_temp("bad2.net", "input 3x8x8\ncnov(8, 3)\n");
    let out = netc(&["check", "nets/lenet-keras.net", &bad, "nets/vgg16.net"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("44,426") && stdout.contains("138,357,544"));
}

#[test]
fn json_output_parses_and_follows_the_schema() {
    let out = netc(&["check", "nets/resnet18.net", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["schema"], "netc.check/1");
    assert_eq!(v["name"], "resnet18");
    assert_eq!(v["input"], serde_json::json!([3, 224, 224]));
    assert_eq!(v["output"], serde_json::json!([1000]));
    assert_eq!(v["params"]["total"], 11_689_512);
    assert_eq!(v["params"]["trainable"], 11_689_512);
    assert_eq!(v["params"]["non_trainable"], 0);
    assert_eq!(v["state"], 9_600);
    assert_eq!(v["macs"], 1_814_073_344u64);
    assert_eq!(v["flops"], 2 * 1_814_073_344u64);
    let layers = v["layers"].as_array().unwrap();
    let fc = layers.iter().find(|l| l["name"] == "fc").unwrap();
    assert_eq!(
        (fc["op"].as_str(), fc["params"].as_u64(), fc["macs"].as_u64()),
        (Some("dense"), Some(513_000), Some(512_000))
    );
    let sum: u64 = layers.iter().map(|l| l["params"].as_u64().unwrap()).sum();
    assert_eq!(sum, 11_689_512);

    let many = netc(&["check", "nets/lenet.net", "nets/lenet-keras.net", "--format", "json"]);
    let arr: serde_json::Value = serde_json::from_slice(&many.stdout).expect("valid JSON array");
    assert_eq!(arr.as_array().map(Vec::len), Some(2));

    let bad = write_temp("bad3.net", "input 3x8x8\nconv(0, 3)\n");
    let out = netc(&["check", &bad, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(
        (v["errors"][0]["code"].as_str(), v["errors"][0]["line"].as_u64(), v["errors"][0]["col"].as_u64()),
        (Some("E0204"), Some(2), Some(6))
    );
}

#[test]
fn depth_folds_modules_into_rows() {
    let out = netc(&["check", "nets/resnet50.net", "--depth", "1"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let row = stdout.lines().find(|l| l.starts_with("layer3 ")).expect("a layer3 row");
    assert!(row.contains("7,098,368") && row.contains("1024×14×14"), "{row}");
    assert!(!stdout.contains("layer3.0"));
}

#[test]
fn dot_draws_modules_as_clusters() {
    let out = netc(&["dot", "nets/resnet18.net"]);
    assert_eq!(out.status.code(), Some(0));
    let dot = String::from_utf8(out.stdout).unwrap();
    assert!(dot.starts_with("digraph \"resnet18\" {") && dot.trim_end().ends_with('}'));
    assert!(dot.contains("subgraph cluster_") && dot.contains("label=\"layer2.0 (basic)\""));
    // One box per node and one edge per input, as in the IR dump.
    let ir = String::from_utf8(netc(&["check", "nets/resnet18.net", "--dump", "ir"]).stdout).unwrap();
    let nodes = ir.lines().filter(|l| l.starts_with('%')).count();
    let inputs: usize = ir
        .lines()
        .filter_map(|l| l.split_once(" (").map(|(_, rest)| rest.split(')').next().unwrap_or("").matches('%').count()))
        .sum();
    let boxes = dot
        .lines()
        .filter(|l| l.trim_start().starts_with('n') && l.contains(" [label=") && !l.contains(" -> "))
        .count();
    assert_eq!((boxes, dot.matches(" -> ").count()), (nodes, inputs));
}

#[test]
fn dump_ir_prints_the_graph() {
    let out = netc(&["check", "nets/lenet-keras.net", "--dump", "ir"]);
    let ir = String::from_utf8(out.stdout).unwrap();
    assert!(ir.contains("%1 = conv 6 5x5 (%0) : 6×24×24  # conv1"), "{ir}");
    assert!(ir.trim_end().ends_with("return %13"), "{ir}");
}
