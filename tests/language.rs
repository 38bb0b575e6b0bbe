//! Language constructs, each checked against an independent oracle: the output-size
//! formulas of PyTorch, Caffe and TensorFlow, torchvision's layer names, and arithmetic
//! done by hand in the comments.

mod common;

use netc::infer::Report;

#[track_caller]
fn check(src: &str) -> Report {
    let mut sources = netc::diag::SourceMap::new();
    let c = netc::driver::check(&mut sources, "t.net", src, None);
    assert!(c.diagnostics.is_empty(), "{}", netc::diag::render_all(&c.diagnostics, &sources, netc::diag::Style::Plain));
    c.report.unwrap()
}

fn shapes(r: &Report) -> Vec<(String, String)> {
    r.rows.iter().map(|row| (row.name.clone(), row.output.to_string())).collect()
}

fn shape_of(r: &Report, name: &str) -> String {
    r.rows
        .iter()
        .find(|row| row.name == name)
        .unwrap_or_else(|| panic!("no layer {name} in {:?}", shapes(r)))
        .output
        .to_string()
}

#[test]
fn same_padding_follows_tensorflow() {
    // TF "SAME": out = ceil(in / stride); total padding = (out − 1)·stride + k − in, extra at the end.
    // 224, k7, s2 → out 112, total 5 → pads 2 (top) and 3 (bottom).
    let r = check("input 3x224x224\nc: conv(8, 7, 2, pad = same)\nd: conv(8, 2, pad = same)\n");
    assert_eq!(shape_of(&r, "c"), "8×112×112");
    assert_eq!(r.rows[0].detail, "8 7x7/2 pad [2, 3, 2, 3]");
    assert_eq!(shape_of(&r, "d"), "8×112×112");
    assert_eq!(r.rows[1].detail, "8 2x2 pad [0, 1, 0, 1]");
}

#[test]
fn ceil_mode_pooling_follows_caffe_and_pytorch() {
    // PyTorch MaxPool2d(3, 2, ceil_mode=True): 112 → ceil(109/2) + 1 = 56 (floor mode gives 55).
    let r = check("input 1x112x112\na: maxpool(3, 2, ceil = true)\n");
    assert_eq!(shape_of(&r, "a"), "1×56×56");
    let r = check("input 1x112x112\na: maxpool(3, 2)\n");
    assert_eq!(shape_of(&r, "a"), "1×55×55");
    // The last window may not start in the padding: 5 with k2 s2 p1 ceil → ceil(5/2)+1 = 4, but
    // window 3 would start at 6 ≥ 5 + 1, so 3 (PyTorch gives 3).
    let r = check("input 1x5x5\na: maxpool(2, 2, pad = 1, ceil = true)\n");
    assert_eq!(shape_of(&r, "a"), "1×3×3");
}

#[test]
fn asymmetric_kernels_and_padding() {
    let r = check("input 8x17x17\na: conv(4, 1x7, pad = 0x3)\nb: conv(4, 7x1, pad = [3, 3, 0, 0])\nc: conv(4, [3, 1], stride = [2, 1])\n");
    assert_eq!(shapes(&r).iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(), ["4×17×17", "4×17×17", "4×8×17"]);
    // 1×7 conv: 17·17·4 outputs × 7 taps × 8 inputs.
    assert_eq!(r.rows[0].cost.macs, 17 * 17 * 4 * 7 * 8);
}

#[test]
fn grouped_convolution_counts() {
    // AlexNet conv2: 256 outputs, 5×5, 96 inputs in 2 groups → 256·48·25 + 256 = 307,456.
    let r = check("input 96x27x27\nconv(256, 5, pad = 2, groups = 2)\n");
    assert_eq!(r.params, 307_456);
    assert_eq!(r.total.macs, 27 * 27 * 256 * 48 * 25);
}

#[test]
fn connection_table_counts_only_real_links() {
    // LeNet-5 C3 (paper Table I): 60 links × 25 + 16 biases = 1,516; MACs 10·10·60·25 = 150,000.
    let src = common::zoo_source("lenet");
    let r = check(&src);
    let c3 = r.rows.iter().find(|row| row.name == "C3").unwrap();
    assert_eq!((c3.cost.params(), c3.cost.macs), (Some(1_516), 150_000));
    assert_eq!(c3.output.to_string(), "16×10×10");
    let s2 = r.rows.iter().find(|row| row.name == "S2").unwrap();
    assert_eq!((s2.cost.params(), s2.output.to_string()), (Some(12), "6×14×14".into()));
    let rbf = r.rows.iter().find(|row| row.name == "output").unwrap();
    assert_eq!((rbf.cost.trainable, rbf.cost.fixed), (0, 840));
}

#[test]
fn automatic_names_follow_torchvision() {
    let r = check(&common::zoo_source("resnet50"));
    for name in
        ["layer3.2.conv2", "layer3.2.bn3", "layer1.0.downsample.0", "layer1.0.downsample.1", "layer4.2.relu3", "fc"]
    {
        assert!(r.rows.iter().any(|row| row.name == name), "no {name}");
    }
    assert!(
        !r.rows.iter().any(|row| row.name.starts_with("layer1.1.downsample")),
        "identity shortcuts have no projection"
    );
}

#[test]
fn labels_and_automatic_names_do_not_collide() {
    let r = check("input 3x8x8\nconv2: conv(4, 1) conv(4, 1) conv(4, 1)\n");
    assert_eq!(r.rows.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(), ["conv2", "conv1", "conv3"]);
    let r = check("input 3x8x8\nblock b3() { relu }\nb3 b3\n");
    assert_eq!(r.rows.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(), ["b3_1.relu", "b3_2.relu"]);
}

#[test]
fn repeat_copies_differ_by_index() {
    let r = check("input 4x16x16\nstage: repeat 3 as i { conv(4 * (i + 1), 3, if i == 0 then 2 else 1, pad = 1) }\n");
    assert_eq!(
        shapes(&r),
        [
            ("stage.0.conv".into(), "4×8×8".into()),
            ("stage.1.conv".into(), "8×8×8".into()),
            ("stage.2.conv".into(), "12×8×8".into())
        ]
    );
    let r = check("input 4x16x16\nrepeat 0 { relu }\nrelu\n");
    assert_eq!(r.rows.len(), 1);
}

#[test]
fn conditions_choose_bodies() {
    let src = "input 4x8x8\nblock b(n) {\n  if n > 2 { conv(n, 1) } else if n == 2 { relu } else { tanh }\n}\nb(3) b(2) b(1)\n";
    let r = check(src);
    assert_eq!(r.rows.iter().map(|x| x.op.as_str()).collect::<Vec<_>>(), ["conv", "relu", "tanh"]);
}

#[test]
fn residual_scaling_adds_a_scale_node() {
    let r = check("input 8x4x4\nblock res(s) {\n  up = conv(8, 1)\n  (in + s * up) relu\n}\nres(0.17)\n");
    let ops: Vec<&str> = r.rows.iter().map(|x| x.op.as_str()).collect();
    assert_eq!(ops, ["conv", "scale", "add", "relu"]);
    assert_eq!(r.rows[1].detail, "0.17");
}

#[test]
fn concatenation_sums_channels() {
    let r = check(
        "input 192x28x28\ncat(conv(64, 1), conv(96, 1) conv(128, 3, pad = 1), maxpool(3, 1, pad = 1) conv(32, 1))\n",
    );
    assert_eq!(r.output.to_string(), "224×28×28");
}

#[test]
fn defaults_apply_unless_overridden() {
    let r = check("input 3x8x8\ndefault conv(bias = false)\nconv(4, 3) conv(4, 3, bias = true)\n");
    // 4·3·9 = 108 without bias; 4·4·9 + 4 = 148 with.
    assert_eq!(r.rows.iter().map(|x| x.cost.params().unwrap()).collect::<Vec<_>>(), [108, 148]);
}

#[test]
fn let_and_shape_fields() {
    let r = check("input 6x10x12\nlet w = in.c * 2\nx = conv(w, 3)\nx conv(x.c + x.h + x.w, 1)\n");
    // conv(12, 3) on 10×12 → 12×8×10, then 12 + 8 + 10 = 30 channels.
    assert_eq!(r.output.to_string(), "30×8×10");
}

#[test]
fn average_pool_padding_and_other_ops() {
    // Pooling costs kh·kw per output element in other_ops, never MACs.
    let r = check("input 2x6x6\navgpool(3, 1, pad = 1, count_pad = false)\n");
    assert_eq!((r.total.macs, r.total.other_ops), (0, 2 * 6 * 6 * 9));
}

#[test]
fn leaky_relu_keeps_the_shape_and_costs_one_op_per_element() {
    // Like every activation: no parameters, one op per output element (4·6·6 = 144),
    // besides the convolution's 144 bias additions.
    let r = check("input 1x8x8\nconv(4, 3) leaky_relu leaky_relu(slope = 0.2)\n");
    assert_eq!(shape_of(&r, "leaky_relu2"), "4×6×6");
    assert_eq!(r.total.params(), Some(4 * 9 + 4));
    assert_eq!(r.total.other_ops, 3 * 144);
}

#[test]
fn dense_accepts_one_by_one_maps() {
    // LeNet-5's F6 reads C5's 120×1×1 output directly.
    let r = check("input 16x5x5\nconv(120, 5) dense(84)\n");
    assert_eq!(r.output.to_string(), "84");
}

#[test]
fn memory_counts_views_once() {
    // conv out 8×6×6 = 288 floats, flatten is a view, dense out 10 → 298 floats = 1,192 bytes.
    let r = check("input 1x8x8\nconv(8, 3) flatten dense(10)\n");
    assert_eq!(r.memory.activations, 4 * (288 + 10));
    // Peak: input (64) + conv output (288) alive together, then conv output + dense output.
    assert_eq!(r.memory.peak, 4 * (64 + 288));
}

#[test]
fn statements_may_be_separated_by_semicolons_and_continued_with_arrows() {
    let a = check("input 3x8x8; conv(4, 3); relu\n");
    let b = check("input 3x8x8\nconv(4, 3)\n  -> relu   # a comment\n");
    assert_eq!(shapes(&a), shapes(&b));
}

#[test]
fn zeropad_pads_channels_and_space() {
    // PyTorch's F.pad(x, (l, r, t, b, front, back)) grows W by l + r, H by t + b, C by front + back.
    let r = check(
        "input 3x8x8
block option_a(w) { maxpool(1, 2) zeropad(channels = (w - in.c) / 2) }
a: zeropad(channels = 2)
b: zeropad(channels = [1, 4])
c: zeropad(1, channels = [0, 3])
d: zeropad([1, 0, 2, 0])
e: option_a(21)
",
    );
    assert_eq!(shape_of(&r, "a"), "7×8×8");
    assert_eq!(shape_of(&r, "b"), "12×8×8");
    assert_eq!(shape_of(&r, "c"), "15×10×10");
    assert_eq!(shape_of(&r, "d"), "15×11×12");
    let details: Vec<&str> = r.rows.iter().map(|row| row.detail.as_str()).collect();
    assert_eq!(details[..4], ["channels 2", "channels [1, 4]", "channels [0, 3] pad 1", "pad [1, 0, 2, 0]"]);
    // x[:, :, ::2, ::2] of 15×11×12 is 15×6×6, then (21 − 15) / 2 = 3 zero channels each side.
    assert_eq!(shape_of(&r, "e.maxpool"), "15×6×6");
    assert_eq!(shape_of(&r, "e.zeropad"), "21×6×6");
    assert_eq!(r.params, 0);
}

#[test]
fn labels_may_be_numbers_or_keywords() {
    // PyTorch's nn.Sequential numbers its children; timm calls a module `repeat`.
    let src = "input 3x8x8\nfeatures: (0: conv(4, 3) relu 2: conv(4, 3))\nrepeat: repeat 2 { conv(4, 1) }\nflatten\nclassifier: (1: dense(10))\n";
    let r = check(src);
    for name in ["features.0", "features.relu", "features.2", "repeat.0.conv", "repeat.1.conv", "classifier.1"] {
        assert!(
            r.rows.iter().any(|row| row.name == name),
            "no {name}: {:?}",
            r.rows.iter().map(|r| &r.name).collect::<Vec<_>>()
        );
    }
    // A number used twice in one scope is the usual duplicate-label error.
    let (diags, _) = common::diagnose("input 3x8x8\nf: (0: conv(4, 3) 0: conv(4, 3))\n");
    assert!(diags.iter().any(|d| d.message.contains('0')), "{diags:?}");
}
