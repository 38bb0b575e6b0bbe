//! Which layer decides how many classes a net scores, and the error that points at it
//! when a dataset has another number of classes (`netc run` prints it; see
//! tests/cli_run.rs). Oracles: the source text itself (the last `dense(`/`rbf(` of each
//! zoo file, line and column counted here) and shapes worked out by hand.

mod common;

use netc::autodiff::{class_count_check, class_layer, scores};
use netc::diag::{codes, render, SourceMap, Style};
use netc::ir::{Graph, Op};

fn compile(file: &str, src: &str) -> (Graph, SourceMap) {
    let mut sources = SourceMap::new();
    let g = netc::driver::compile(&mut sources, file, src).unwrap_or_else(|f| panic!("{:?}", f.diagnostics));
    (g, sources)
}

/// 1-based line and column of byte `at` of `text`, counted independently of `diag`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

#[test]
fn the_class_layer_of_every_zoo_net_is_its_last_classifier_in_the_source() {
    for path in common::zoo() {
        let text = std::fs::read_to_string(&path).unwrap();
        let (g, _) = compile(&path.to_string_lossy(), &text);
        let id = class_layer(&g);
        let last = text.rfind("dense(").max(text.rfind("rbf(")).expect("a classifier");
        assert_eq!(g.node(id).span.start as usize, last, "{}: class layer {}", path.display(), g.path(id));
        assert_eq!(g.node(id).shape.channels(), g.node(scores(&g)).shape.channels(), "{}", path.display());
    }
}

#[test]
fn resnet18_on_ten_classes_names_fc_and_its_line() {
    let text = common::zoo_source("resnet18");
    let (g, sources) = compile("nets/resnet18.net", &text);
    assert!(class_count_check(&g, &sources, "imagenet", 1000).is_none(), "1000 classes fit");
    let d = class_count_check(&g, &sources, "mnist", 10).expect("1000 scores, 10 classes");
    assert_eq!(d.code, codes::CLASS_COUNT);
    assert_eq!(d.message, "the output layer `fc: dense(1000)` scores 1000 classes, but mnist has 10");
    let (line, col) = line_col(&text, text.find("fc: dense(1000)").unwrap() + "fc: ".len());
    let shown = render(&d, &sources, Style::Plain);
    assert!(shown.contains(&format!("nets/resnet18.net:{line}:{col}")), "{shown}");
    assert!(shown.contains("^^^^^^^^^^^ scores 1000 classes"), "{shown}");
    assert!(shown.contains("scores 10 to 999 would belong to no class of mnist"), "{shown}");
    assert!(shown.contains("hint: change it to `dense(10)`"), "{shown}");
}

#[test]
fn a_classifier_inside_a_block_also_labels_the_instance() {
    let src =
        "input 1x8x8\nblock head(n) {\n  gap flatten classifier: dense(n) softmax\n}\nconv(4, 3) relu\nhead(12)\n";
    let (g, sources) = compile("t.net", src);
    assert_eq!(g.path(class_layer(&g)), "head.classifier");
    let more = class_count_check(&g, &sources, "synthetic", 10).expect("12 ≠ 10");
    assert_eq!(more.message, "the output layer `head.classifier: dense(n)` scores 12 classes, but synthetic has 10");
    let shown = render(&more, &sources, Style::Plain);
    assert!(shown.contains("t.net:3:27"), "{shown}");
    assert!(shown.contains("-------- in `head`, an instance of block `head`"), "{shown}");
    let fewer = class_count_check(&g, &sources, "cifar100", 100).expect("12 ≠ 100");
    assert_eq!(fewer.notes, ["labels 12 to 99 could never be predicted"]);
    assert!(class_count_check(&g, &sources, "twelve", 12).is_none());
}

#[test]
fn the_walk_back_stops_at_the_layer_that_sets_the_feature_count() {
    for (body, kind, classes) in [
        // 10×1×1 scores straight from a convolution: no flatten needed.
        ("conv(10, 1) gap relu", "conv", 10),
        // Each branch gives 1×1 maps: 4 + 6 channels.
        ("gap cat(conv(4, 1), conv(6, 1)) flatten", "cat", 10),
        // 2 channels of 3×3 (5 − 3 + 1): 18 features; the flatten decides with the conv.
        ("conv(2, 3) flatten bn", "flatten", 18),
        // Zero channels add classes that can only score 0.
        ("gap zeropad(channels = [0, 2]) flatten", "zeropad", 5),
        // Scaling, dropout and a final softmax keep the dense layer's 7 features.
        ("gap flatten dense(7) scale(0.5) dropout(0.1) softmax", "dense", 7),
    ] {
        let src = format!("input 3x5x5\n{body}\n");
        let (g, sources) = compile("t.net", &src);
        let id = class_layer(&g);
        assert_eq!((g.node(id).op.kind(), g.node(scores(&g)).shape.channels()), (kind, classes), "{body}");
        let d = class_count_check(&g, &sources, "data", 2).expect("not 2 classes");
        assert_eq!(d.primary_span(), Some(g.node(id).span), "{body}");
    }
    // Only the input: its declaration is the layer to change.
    let (g, sources) = compile("t.net", "input 4x1x1\nsoftmax\n");
    assert_eq!(g.node(class_layer(&g)).op, Op::Input);
    let d = class_count_check(&g, &sources, "data", 3).unwrap();
    assert!(d.hint.unwrap().contains("`dense(3)`"));
}
