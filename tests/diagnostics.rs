//! One test per diagnostic kind: the code, the message, and exactly which source
//! text is underlined (and where). A snapshot keeps the rendered form reviewed.

mod common;

use netc::diag::{codes, render_all, Style};

/// Checks that `src` fails with `code`, a message containing `message`, and a
/// primary span covering exactly `span_text` at `line:col`.
#[track_caller]
fn expect(src: &str, code: &str, message: &str, span_text: &str, line: usize, col: usize) -> String {
    let (diags, sources) = common::diagnose(src);
    let d = diags.first().unwrap_or_else(|| panic!("expected {code}, but the net is valid:\n{src}"));
    let rendered = render_all(&diags, &sources, Style::Plain);
    assert_eq!(d.code, code, "wrong code:\n{rendered}");
    assert!(d.message.contains(message), "message {:?} lacks {message:?}\n{rendered}", d.message);
    let span = d.primary_span().expect("a primary span");
    assert_eq!(&src[span.start as usize..span.end as usize], span_text, "wrong span:\n{rendered}");
    let loc = sources.location(span);
    assert_eq!((loc.line, loc.col), (line, col), "wrong location:\n{rendered}");
    assert!(rendered.contains(&format!("test.net:{line}:{col}")), "render lacks file:line:col\n{rendered}");
    rendered
}

#[test]
fn syntax_error_says_what_was_expected() {
    let r = expect("input 3x32x32\nconv(16, 3 pad = 1)\n", codes::SYNTAX, "expected `)`, `,`", "pad", 2, 12);
    assert!(r.contains("found `pad`"));
}

#[test]
fn syntax_error_at_end_of_file() {
    expect("input 3x32x32\nconv(16, 3,\n", codes::SYNTAX, "found end of file", "", 3, 1);
}

#[test]
fn nesting_too_deep_is_refused_before_parsing() {
    let src = format!("input 3x8x8\n{}relu{}\n", "(".repeat(70), ")".repeat(70));
    expect(&src, codes::TOO_DEEP, "nest more than 64", "(", 2, 65);
}

#[test]
fn integer_literal_too_large() {
    expect(
        "input 3x8x8\nconv(99999999999999999999, 3)\n",
        codes::BAD_LITERAL,
        "out of range",
        "99999999999999999999",
        2,
        6,
    );
}

#[test]
fn missing_input_declaration() {
    expect("conv(8, 3) relu\n", codes::INPUT_DECL, "no `input` declaration", "conv(8, 3) relu", 1, 1);
}

#[test]
fn input_must_have_three_sizes() {
    expect("input 3x8\nrelu\n", codes::INPUT_DECL, "3 sizes", "input 3x8", 1, 1);
}

#[test]
fn unknown_layer_suggests_the_closest_name() {
    let r =
        expect("input 3x8x8\ncnov(8, 3)\n", codes::UNKNOWN_NAME, "unknown layer, block or tensor `cnov`", "cnov", 2, 1);
    assert!(r.contains("did you mean `conv`?"), "{r}");
}

#[test]
fn unknown_value_in_an_argument() {
    let r = expect(
        "input 3x8x8\nblock b(width) { conv(widht, 3) }\nb(8)\n",
        codes::UNKNOWN_NAME,
        "unknown value `widht`",
        "widht",
        2,
        23,
    );
    assert!(r.contains("did you mean `width`?"), "{r}");
}

#[test]
fn duplicate_label_in_one_scope() {
    expect("input 3x8x8\na: conv(8, 3) a: relu\n", codes::DUPLICATE_NAME, "`a` is used twice", "relu", 2, 18);
}

#[test]
fn block_defined_twice() {
    expect(
        "input 3x8x8\nblock b() { relu }\nblock b() { tanh }\nb\n",
        codes::DUPLICATE_NAME,
        "defined twice",
        "b",
        3,
        7,
    );
}

#[test]
fn unknown_keyword_argument() {
    let r = expect(
        "input 3x8x8\nconv(8, 3, strid = 2)\n",
        codes::ARGUMENTS,
        "`conv` has no parameter `strid`",
        "strid",
        2,
        12,
    );
    assert!(r.contains("did you mean `stride`?"), "{r}");
}

#[test]
fn too_many_arguments() {
    expect(
        "input 3x8x8\nmaxpool(2, 2, 0, false, 7)\n",
        codes::ARGUMENTS,
        "`maxpool` takes at most 4 arguments, got 5",
        "7",
        2,
        25,
    );
}

#[test]
fn missing_block_argument() {
    let r = expect(
        "input 3x8x8\nblock b(width) { conv(width, 3) }\nb()\n",
        codes::ARGUMENTS,
        "needs its `width` argument",
        "b()",
        3,
        1,
    );
    assert!(r.contains("`b` takes (width)"), "{r}");
}

#[test]
fn wrong_argument_type() {
    expect("input 3x8x8\ndropout(1.5)\n", codes::BAD_VALUE, "`p` of `dropout` must be a number in [0, 1)", "1.5", 2, 9);
}

#[test]
fn leaky_relu_slope_must_keep_the_sign() {
    // The gradient is taken from the output, which needs y > 0 exactly when x > 0.
    let msg = "`slope` of `leaky_relu` must be a number in [0, 1)";
    expect("input 3x8x8\nconv(4, 3) leaky_relu(-0.1)\n", codes::BAD_VALUE, msg, "-0.1", 2, 23);
}

#[test]
fn zeropad_needs_something_to_pad() {
    let r = expect(
        "input 3x8x8\nrelu zeropad\n",
        codes::ARGUMENTS,
        "`zeropad` needs `pad`, `channels` or both",
        "zeropad",
        2,
        6,
    );
    assert!(r.contains("zeropad(channels = 8)"), "{r}");
}

#[test]
fn zeropad_channels_must_be_non_negative() {
    expect(
        "input 3x8x8\nzeropad(channels = -1)\n",
        codes::BAD_VALUE,
        "`channels` of `zeropad` must be a non-negative integer (zero channels before and after) or `[before, after]`",
        "-1",
        2,
        20,
    );
    expect("input 3x8x8\nzeropad(channels = [1, 2, 3])\n", codes::BAD_VALUE, "`[before, after]`", "[1, 2, 3]", 2, 20);
    expect("input 3x8x8\nzeropad(channels = [1, -2])\n", codes::BAD_VALUE, "`[before, after]`", "[1, -2]", 2, 20);
    expect("input 3x8x8\nzeropad(1, channels = 2.5)\n", codes::BAD_VALUE, "`[before, after]`", "2.5", 2, 23);
    expect(
        "input 3x8x8\nzeropad(1, 2, 3)\n",
        codes::ARGUMENTS,
        "`zeropad` takes at most 2 arguments, got 3",
        "3",
        2,
        15,
    );
    expect(
        "input 3x8x8\nzeropad(chanels = 2)\n",
        codes::ARGUMENTS,
        "`zeropad` has no parameter `chanels`",
        "chanels",
        2,
        9,
    );
}

#[test]
fn zeropad_channels_on_a_vector() {
    expect(
        "input 3x8x8\nflatten zeropad(channels = 2)\n",
        codes::RANK,
        "zeropad needs a C×H×W feature map",
        "zeropad(channels = 2)",
        2,
        9,
    );
}

#[test]
fn channel_padding_overflow_points_at_channels() {
    expect(
        "input 3x8x8\nzeropad(channels = [9223372036854775807, 9223372036854775807])\n",
        codes::ARITHMETIC,
        "padded channel count overflows",
        "[9223372036854775807, 9223372036854775807]",
        2,
        20,
    );
}

#[test]
fn condition_must_be_boolean() {
    expect("input 3x8x8\nif 3 { relu }\n", codes::BAD_VALUE, "condition must be true or false", "3", 2, 4);
}

#[test]
fn block_that_instantiates_itself() {
    let r = expect(
        "input 3x8x8\nblock a(n) { b(n) }\nblock b(n) { a(n) }\na(3)\n",
        codes::RECURSION,
        "block `a` instantiates itself through `b`",
        "a(n)",
        3,
        14,
    );
    assert!(r.contains("cycle: a → b → a"), "{r}");
}

#[test]
fn direct_self_instantiation() {
    expect("input 3x8x8\nblock a() { relu a }\na\n", codes::RECURSION, "block `a` instantiates itself", "a", 2, 18);
}

#[test]
fn integer_overflow_in_arguments() {
    expect(
        "input 3x8x8\nlet n = 9223372036854775807\nconv(n + 1, 3)\n",
        codes::ARITHMETIC,
        "arithmetic overflow",
        "n + 1",
        3,
        6,
    );
}

#[test]
fn division_by_zero() {
    expect("input 3x8x8\nconv(8 / 0, 3)\n", codes::ARITHMETIC, "division by zero", "0", 2, 10);
}

#[test]
fn too_many_repetitions() {
    expect("input 3x8x8\nrepeat 20000 { relu }\n", codes::TOO_LARGE, "at most 10000 copies", "20000", 2, 8);
}

#[test]
fn unused_tensor() {
    expect("input 3x8x8\nside = conv(8, 3)\nrelu\n", codes::MISUSE, "tensor `side` is never used", "side", 2, 1);
}

#[test]
fn tensor_called_like_a_layer() {
    let r = expect(
        "input 3x8x8\nx = conv(8, 3, pad = 1)\nrelu(x + x)\n",
        codes::ARGUMENTS,
        "`relu` takes no arguments",
        "x + x",
        3,
        6,
    );
    assert!(r.contains("`(a + b) relu`"), "{r}");
}

#[test]
fn tensor_in_the_middle_of_a_chain() {
    expect(
        "input 3x8x8\nx = conv(8, 3, pad = 1)\nrelu x\n",
        codes::MISUSE,
        "tensor `x` in the middle of a chain",
        "x",
        3,
        6,
    );
}

#[test]
fn channel_mismatch_at_an_addition_points_at_both_operands() {
    let src = "input 3x8x8\nblock res() {\n  main = conv(16, 3, pad = 1)\n  (main + in) relu\n}\nres\n";
    let r = expect(
        src,
        codes::ADD_MISMATCH,
        "channel mismatch at an addition: operand 1 is 16×8×8, operand 2 is 3×8×8",
        "(main + in)",
        4,
        3,
    );
    assert!(r.contains("operand 1 is 16×8×8") && r.contains("in `res`, an instance of block `res`"), "{r}");
}

#[test]
fn spatial_mismatch_at_a_concatenation() {
    expect(
        "input 3x32x32\ncat(conv(8, 3), conv(8, 3, pad = 1))\n",
        codes::CONCAT_MISMATCH,
        "branch 1 is 8×30×30, branch 2 is 8×32×32",
        "cat(conv(8, 3), conv(8, 3, pad = 1))",
        2,
        1,
    );
}

#[test]
fn kernel_larger_than_padded_input() {
    expect(
        "input 1x8x8\nconv(6, 5) maxpool(2) conv(16, 5)\n",
        codes::WINDOW_TOO_LARGE,
        "kernel height 5 is larger than the padded input height 2",
        "5",
        2,
        32,
    );
}

#[test]
fn non_positive_size() {
    expect("input 3x8x8\nconv(0, 3)\n", codes::NON_POSITIVE, "`out` of `conv` must be a positive integer", "0", 2, 6);
}

#[test]
fn dense_on_a_feature_map() {
    let r = expect(
        "input 1x28x28\nconv(6, 5) dense(10)\n",
        codes::RANK,
        "dense needs a flat vector (or C×1×1), but its input is 6×24×24",
        "dense(10)",
        2,
        12,
    );
    assert!(r.contains("insert `flatten`"), "{r}");
}

#[test]
fn groups_must_divide_channels() {
    expect(
        "input 8x8x8\nconv(12, 3, groups = 3)\n",
        codes::CHANNELS,
        "8 input channels do not split into 3 groups",
        "3",
        2,
        22,
    );
}

#[test]
fn connection_table_that_does_not_fit() {
    expect(
        "input 3x8x8\nconv(2, 3, table = [[0, 1], [2, 3]])\n",
        codes::CHANNELS,
        "output channel 1 reads input channel 3, but the input has 3 channels",
        "[[0, 1], [2, 3]]",
        2,
        20,
    );
}

#[test]
fn errors_inside_nested_blocks_show_the_instantiation_chain() {
    let src = "input 3x8x8\nblock inner() { conv(4, 9) }\nblock outer() { inner }\nstage: repeat 2 { outer }\n";
    let r = expect(src, codes::WINDOW_TOO_LARGE, "kernel height 9", "9", 2, 25);
    assert!(r.contains("in `stage.0.inner`, an instance of block `inner`"), "{r}");
    assert!(r.contains("in `stage.0`, an instance of block `outer`"), "{r}");
    assert!(r.contains("instantiated through `stage.0.inner` (inner) ← `stage.0` (outer)"), "{r}");
}

#[test]
fn a_shape_error_keeps_the_layers_inferred_before_it() {
    let mut sources = netc::diag::SourceMap::new();
    let checked = netc::driver::check(&mut sources, "t.net", "input 1x8x8\nconv(6, 5) maxpool(2) conv(16, 5)\n", None);
    let report = checked.report.expect("a partial report");
    assert!(!report.complete);
    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["conv", "maxpool"]);
    assert_eq!(report.rows[1].output.to_string(), "6×2×2");
}

#[test]
fn an_auxiliary_head_scores_as_many_classes_as_the_net() {
    let src = "input 1x8x8\nconv(4, 3) relu\naux side(weight = 0.3) { gap flatten dense(5) }\ngap flatten dense(10)\n";
    let r =
        expect(src, codes::CLASS_COUNT, "`side` scores 5 classes, but the net's output scores 10", "dense(5)", 3, 38);
    assert!(r.contains("the net's output is 10"), "{r}");
    let src = "input 1x8x8\naux side { conv(10, 1) }\ngap flatten dense(10)\n";
    expect(src, codes::CLASS_COUNT, "ends in 10×8×8, not one score per class", "conv(10, 1)", 2, 12);
}

#[test]
fn auxiliary_heads_are_declared_at_the_top_level_with_layers_and_a_positive_weight() {
    let src = "input 1x8x8\nblock b() {\n  conv(4, 3) relu\n  aux side { gap flatten dense(10) }\n}\nb gap flatten dense(10)\n";
    expect(src, codes::MISUSE, "auxiliary head inside a block", "aux side { gap flatten dense(10) }", 4, 3);
    let src = "input 1x8x8\naux side(0.3) { }\ngap flatten dense(10)\n";
    expect(src, codes::MISUSE, "`side` has no layers of its own", "{ }", 2, 15);
    let src = "input 1x8x8\naux side(weight = -1) { gap flatten dense(10) }\ngap flatten dense(10)\n";
    expect(src, codes::NON_POSITIVE, "must be a positive number", "-1", 2, 19);
    let src = "input 1x8x8\naux side(wieght = 1) { gap flatten dense(10) }\ngap flatten dense(10)\n";
    expect(src, codes::ARGUMENTS, "wieght", "wieght", 2, 10);
    let src =
        "input 1x8x8\naux side { gap flatten dense(10) }\naux side { gap flatten dense(10) }\ngap flatten dense(10)\n";
    expect(src, codes::DUPLICATE_NAME, "`side` is used twice", "aux side { gap flatten dense(10) }", 3, 1);
}

#[test]
fn rendered_diagnostics_match_their_snapshot() {
    let cases = [
        "input 3x32x32\nconv(16, 3 pad = 1)\n",
        "input 3x8x8\nblock res(width) {\n  main = conv(width, 3, pad = 1) bn relu\n  (main + in) relu\n}\nlayer1: repeat 2 { res(16) }\n",
        "input 3x8x8\nblock a(n) { b(n) }\nblock b(n) { a(n) }\na(3)\n",
        "input 1x28x28\nconv(6, 5) dense(10)\n",
        "input 1x8x8\nconv(4, 3) relu\naux side(weight = 0.3) { gap flatten dense(5) }\ngap flatten dense(10)\n",
    ];
    let rendered: Vec<String> = cases
        .iter()
        .map(|src| {
            let (diags, sources) = common::diagnose(src);
            format!("{src}---\n{}", render_all(&diags, &sources, Style::Plain))
        })
        .collect();
    insta::assert_snapshot!(rendered.join("\n=====\n"));
}
