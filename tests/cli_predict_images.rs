//! Images in, predictions out, end to end through the command line: CIFAR-10 files written
//! at test time (Fashion-MNIST resized to 32×32 and tinted into 3 channels; synthetic bars
//! without `$NETC_DATA`) are trained on and evaluated, and `netc predict` on the test images
//! written as PNG files agrees with `--eval` image by image: the same predicted class for
//! every file, so the same accuracy and per-class counts. The PNG copies are lossless and
//! already 32×32, so the oracle is exact: any difference is a preprocessing difference
//! between prediction and evaluation (channel order, normalisation, geometry).
//!
//! Also: a checkpoint of another input size, and images through a resize-and-crop pipeline
//! (larger JPEG-free PNGs of varied sizes) predicted equal to `--eval` of the same folder.

mod cli_support;

use cli_support::output::*;
use cli_support::TempDir;
mod data_support;

use data_support::cifar::{tinted, write_cifar10, Record};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A small RGB net: enough to learn the tinted classes in one epoch.
const NET: &str = "# a small RGB classifier for the prediction tests
input 3x32x32
conv(8, 3, pad = 1) relu maxpool(2)
conv(16, 3, pad = 1) relu maxpool(2)
flatten
dense(10) softmax
";

/// Writes planar `channels`×h×w pixels as an 8-bit PNG (gray or RGB).
fn write_png(path: &Path, channels: usize, h: usize, w: usize, planar: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(if channels == 3 { png::ColorType::Rgb } else { png::ColorType::Grayscale });
    enc.set_depth(png::BitDepth::Eight);
    let plane = h * w;
    let interleaved: Vec<u8> = (0..plane).flat_map(|p| (0..channels).map(move |c| planar[c * plane + p])).collect();
    enc.write_header().unwrap().write_image_data(&interleaved).unwrap();
}

/// The test records as PNG files `dir/<label>/<index>.png`, in index order within a class.
fn write_pngs(dir: &Path, records: &[Record]) -> Vec<(PathBuf, usize)> {
    records
        .iter()
        .enumerate()
        .map(|(i, (label, px))| {
            let class = dir.join(format!("{label}"));
            std::fs::create_dir_all(&class).unwrap();
            let p = class.join(format!("{i:05}.png"));
            write_png(&p, 3, 32, 32, px);
            (p, usize::from(*label))
        })
        .collect()
}

/// `predict --format json --top 1` over `inputs`: the predicted class index of each file.
fn predicted(net: &Path, w: &Path, inputs: &[&str], extra: &[&str]) -> HashMap<String, usize> {
    let mut args = vec!["predict", s(net), "--weights", s(w), "--format", "json", "--top", "1"];
    args.extend_from_slice(extra);
    args.extend_from_slice(inputs);
    let o = netc(&args);
    let j: Value = serde_json::from_str(&ok(&o)).unwrap();
    let err = text(&o.stderr);
    assert!(err.starts_with("preprocessing (stored in "), "{err}");
    j.as_array()
        .unwrap()
        .iter()
        .map(|e| (e["file"].as_str().unwrap().to_string(), e["top"][0]["index"].as_u64().unwrap() as usize))
        .collect()
}

#[test]
fn cifar_files_train_evaluate_and_predict_on_pngs_agrees_with_eval() {
    let d = TempDir::new("cifar");
    let (train, test) = tinted(1000, 200);
    let data = d.path("cifar10");
    write_cifar10(&data, &train, &test);
    let net = d.path("small.net");
    std::fs::write(&net, NET).unwrap();
    let w = d.path("w.safetensors");
    let trained = ok(&netc(&[
        "run",
        s(&net),
        "--train",
        s(&data),
        "--epochs",
        "2",
        "--batch",
        "32",
        "--lr",
        "0.003",
        "--augment",
        "flip",
        "--quiet",
        "--save",
        s(&w),
    ]));
    assert!(trained.contains("preprocessing"), "{trained}");

    let report: Value =
        serde_json::from_str(&ok(&netc(&["run", s(&net), "--weights", s(&w), "--eval", s(&data), "--format", "json"])))
            .unwrap();
    let top1 = report["top1"].as_f64().unwrap();
    assert_eq!(report["images"], 200);
    // Far above chance (10%): the data path delivers the classes.
    assert!(top1 > 0.4, "accuracy after training on the CIFAR files: {top1}");
    let names: Vec<&str> = report["classes"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    // No batches.meta.txt beside the files: CIFAR-10's published names.
    assert_eq!(names[0], "airplane");

    // predict on a folder of the same images as PNG files, and on single files.
    let pngs = write_pngs(&d.path("pngs"), &test);
    let by_file = predicted(&net, &w, &[s(&d.path("pngs"))], &["--batch", "48"]);
    assert_eq!(by_file.len(), test.len());
    let mut correct = [0u64; 10];
    for (p, label) in &pngs {
        if by_file[s(p)] == *label {
            correct[*label] += 1;
        }
    }
    let total: u64 = correct.iter().sum();
    assert_eq!(total as f64 / test.len() as f64, top1, "predict on PNGs vs --eval on the CIFAR files");
    for (k, c) in report["classes"].as_array().unwrap().iter().enumerate() {
        assert_eq!(c["correct"].as_u64(), Some(correct[k]), "class {k}");
    }
    // Named one by one, with another batch size and the reference engine: the same classes.
    let some: Vec<&str> = pngs[..7].iter().map(|(p, _)| s(p)).collect();
    let one_by_one = predicted(&net, &w, &some, &["--batch", "1", "--engine", "reference"]);
    for f in &some {
        assert_eq!(one_by_one[*f], by_file[*f], "{f}");
    }

    // predict's text output names the class from the checkpoint.
    let o = netc(&["predict", s(&net), "--weights", s(&w), "--top", "2", s(&pngs[0].0)]);
    let out = ok(&o);
    assert!(out.contains(s(&pngs[0].0)) && names.iter().any(|n| out.contains(n)), "{out}");
}

#[test]
fn resized_images_predict_as_eval_sees_them() {
    // A folder of gray images of several sizes, larger than the net's input: the pipeline
    // resizes the shorter side and centre-crops, at evaluation and in predict alike.
    let d = TempDir::new("resize");
    let root = d.path("shapes");
    let sizes = [(40, 40), (48, 64), (64, 45), (33, 90)];
    let mut files = Vec::new();
    for class in 0..2 {
        for split in ["train", "test"] {
            let dir = root.join(split).join(format!("class{class}"));
            std::fs::create_dir_all(&dir).unwrap();
            for (i, &(h, w)) in sizes.iter().enumerate() {
                // Class 0: bright left half; class 1: bright top half; with texture by index.
                let px: Vec<u8> = (0..h * w)
                    .map(|p| {
                        let (y, x) = (p / w, p % w);
                        let on = if class == 0 { x < w / 2 } else { y < h / 2 };
                        (if on { 200 } else { 40 }) + ((x * 7 + y * 3 + i * 11) % 23) as u8
                    })
                    .collect();
                let f = dir.join(format!("{i}.png"));
                write_png(&f, 1, h, w, &px);
                if split == "test" {
                    files.push((f, class));
                }
            }
        }
    }
    let net = d.path("two.net");
    std::fs::write(&net, NET.replace("dense(10)", "dense(2)")).unwrap();
    let w = d.path("w.safetensors");
    ok(&netc(&["run", s(&net), "--train", s(&root), "--epochs", "3", "--batch", "4", "--quiet", "--save", s(&w)]));
    let report: Value =
        serde_json::from_str(&ok(&netc(&["run", s(&net), "--weights", s(&w), "--eval", s(&root), "--format", "json"])))
            .unwrap();
    let test_dir = root.join("test");
    let got = predicted(&net, &w, &[s(&test_dir)], &[]);
    let correct = files.iter().filter(|(f, c)| got[s(f)] == *c).count();
    assert_eq!(correct as f64 / files.len() as f64, report["top1"].as_f64().unwrap());
    // Raw outputs: the same rows whether the folder or its files in order are named.
    let (a, b) = (d.path("a.npy"), d.path("b.npy"));
    ok(&netc(&["predict", s(&net), "--weights", s(&w), "--output", s(&a), s(&test_dir)]));
    let mut args = vec!["predict", s(&net), "--weights", s(&w), "--output", s(&b)];
    let mut names: Vec<&PathBuf> = files.iter().map(|(f, _)| f).collect();
    names.sort();
    args.extend(names.iter().map(|f| s(f)));
    ok(&netc(&args));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn image_inputs_that_cannot_be_predicted_are_named() {
    let d = TempDir::new("bad");
    let net = d.path("small.net");
    std::fs::write(&net, NET).unwrap();
    let (train, test) = tinted(64, 20);
    let data = d.path("cifar10");
    write_cifar10(&data, &train, &test);
    let w = d.path("w.safetensors");
    ok(&netc(&["run", s(&net), "--train", s(&data), "--epochs", "1", "--quiet", "--save", s(&w)]));
    let good = d.path("good.png");
    write_png(&good, 3, 32, 32, &test[0].1);
    let corrupt = d.path("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\n not really").unwrap();
    let truncated = d.path("truncated.png");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let empty = d.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "no images here").unwrap();
    let huge = d.path("huge.png");
    write_png(&huge, 1, 300, 300, &vec![7; 90_000]);
    for (bad, says, extra) in [
        (&corrupt, "corrupt.png", &[][..]),
        (&truncated, "truncated.png", &[][..]),
        (&empty, "a folder without image files", &[][..]),
        (&huge, "pixels", &["--max-pixels", "10000"][..]),
    ] {
        let mut args = vec!["predict", s(&net), "--weights", s(&w), "--format", "json"];
        args.extend_from_slice(extra);
        args.extend([s(&good), s(bad), s(&good)]);
        let o = netc(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", bad.display());
        assert!(err.contains(s(bad)) && err.contains(says), "{}: {err}", bad.display());
        assert!(err.contains("1 of 3 inputs could not be predicted"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        let j: Value = serde_json::from_str(&text(&o.stdout)).unwrap();
        assert_eq!(j.as_array().unwrap().len(), 2, "the good inputs are still predicted");
    }

    // A checkpoint without the preprocessing: images are refused with the reason; .npy
    // inputs would still work.
    let bare = d.path("bare.safetensors");
    let raw = std::fs::read(&w).unwrap();
    let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&raw).unwrap();
    let mut m = meta.metadata().clone().unwrap_or_default();
    m.remove("netc.preprocess");
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> =
        st.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec())).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, shape, data)| {
            (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data).unwrap())
        })
        .collect();
    std::fs::write(&bare, safetensors::serialize(views, Some(m)).unwrap()).unwrap();
    let o = netc(&["predict", s(&net), "--weights", s(&bare), s(&good)]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("does not say how images were preprocessed") && err.contains(".npy"), "{err}");

    // A 1-channel checkpoint for a 3-channel net is caught before any image is read.
    let gray_net = d.path("gray.net");
    std::fs::write(&gray_net, NET.replace("input 3x32x32", "input 1x32x32")).unwrap();
    let o = netc(&["predict", s(&gray_net), "--weights", s(&w), s(&good)]);
    assert_ne!(o.status.code(), Some(0));
    assert!(!text(&o.stderr).contains("panicked"), "{}", text(&o.stderr));
}
