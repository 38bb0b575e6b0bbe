//! The zoo against published numbers, and snapshots of every report.
//!
//! Parameter counts and MACs come from ../shared/reference-counts.md: torchvision's
//! weights metadata (`num_params`, `_ops` = conv+dense GMACs), Keras' applications
//! table, timm's results CSV and the papers (see each net's header comment).

mod common;

use netc::infer::{json, text};

/// (file, params.total, trainable, state, MACs) — MACs where a reference publishes them.
const PUBLISHED: &[(&str, u128, u128, u128, Option<u128>)] = &[
    // LeCun et al. 1998: 60,000 trainable in C1–F6 plus the 840 fixed RBF centres; conv+FC MACs 325,680.
    ("lenet", 60_840, 60_000, 0, Some(325_680)),
    ("lenet-keras", 44_426, 44_426, 0, Some(281_640)),
    ("lenet-classic", 61_706, 61_706, 0, Some(416_520)),
    ("alexnet", 60_965_224, 60_965_224, 0, Some(724_406_816)),
    ("alexnet-torchvision", 61_100_840, 61_100_840, 0, Some(714_188_480)),
    ("vgg16", 138_357_544, 138_357_544, 0, Some(15_470_264_320)),
    ("vgg19", 143_667_240, 143_667_240, 0, Some(19_632_062_464)),
    ("resnet18", 11_689_512, 11_689_512, 9_600, Some(1_814_073_344)),
    ("resnet34", 21_797_672, 21_797_672, 17_024, Some(3_663_761_408)),
    ("resnet50", 25_557_032, 25_557_032, 53_120, Some(4_089_184_256)),
    ("resnet101", 44_549_160, 44_549_160, 105_344, Some(7_801_405_440)),
    ("resnet152", 60_192_808, 60_192_808, 151_424, Some(11_513_626_624)),
    // CIFAR ResNets with option-A shortcuts: the parameter counts of the torch
    // reimplementations of He et al. 2015 Sec. 4.2 (akamaster/pytorch_resnet_cifar10: 0.27M /
    // 0.85M in the paper). MACs by hand, 9 = 3×3 taps: conv1 32²·16·3·9 = 442,368; a 3×3
    // conv keeping 16/32/64 channels at 32²/16²/8² is 2,359,296, a stage's first (stride 2,
    // channels doubling) 1,179,648; linear 64·10. ResNet-20 = 442,368 + 6·2,359,296 +
    // 2·(1,179,648 + 5·2,359,296) + 640; ResNet-56 has 18 and 17 instead of 6 and 5.
    ("resnet20-cifar", 269_722, 269_722, 1_376, Some(40_551_040)),
    ("resnet56-cifar", 853_018, 853_018, 4_064, Some(125_485_696)),
    ("googlenet", 6_998_552, 6_998_552, 0, Some(1_582_671_872)),
    ("inception-v2", 11_295_240, 11_295_240, 20_032, Some(2_032_600_064)),
    ("inception-v3", 23_834_568, 23_834_568, 34_432, Some(5_713_216_096)),
    ("inception-v4", 42_679_816, 42_679_816, 63_168, Some(12_253_974_624)),
    ("inception-resnet-v2", 55_843_464, 55_843_464, 60_544, Some(13_155_794_016)),
];

#[test]
fn parameter_counts_match_the_published_ones() {
    let mut wrong = Vec::new();
    for &(name, total, trainable, state, macs) in PUBLISHED {
        let r = common::report(name);
        let got = (r.params, r.total.trainable, r.total.state, macs.map(|_| r.total.macs));
        let want = (total, trainable, state, macs);
        if got != want {
            wrong.push(format!("{name}: got (params, trainable, state, MACs) = {got:?}, published {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_net_in_the_zoo_has_a_published_count() {
    for path in common::zoo() {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        assert!(
            PUBLISHED.iter().any(|(n, ..)| *n == stem) || UNPUBLISHED.contains(&stem.as_str()),
            "{stem}.net has no reference count in this test"
        );
    }
}

/// Nets without a single published reference; their counts are checked block by block elsewhere.
const UNPUBLISHED: &[&str] = &["inception-resnet-v1"];

/// Rows of a report folded to `depth`.
fn rows(name: &str, depth: usize) -> Vec<netc::infer::Row> {
    let text = common::zoo_source(name);
    let mut sources = netc::diag::SourceMap::new();
    netc::driver::check(&mut sources, &format!("{name}.net"), &text, Some(depth)).report.expect("valid net").rows
}

#[test]
fn inception_resnet_v1_blocks_match_facenet() {
    // No ImageNet release exists; davidsandberg/facenet's TF-slim model (reference-counts.md §8)
    // gives per-block figures in TF's convention, where batch norm learns only β. Our PyTorch
    // convention also counts γ, one per BN channel = state / 2, so TF = params − state / 2.
    let rows = rows("inception-resnet-v1", 2);
    let tf = |r: &netc::infer::Row| r.cost.params().unwrap() - r.cost.state / 2;
    let find = |n: &str| rows.iter().find(|r| r.name == n).unwrap_or_else(|| panic!("no row {n}"));
    let conv4b: u128 = rows.iter().filter(|r| r.name.starts_with("Conv2d_4b_3x3")).map(tf).sum();
    assert_eq!(conv4b, 442_624, "Conv2d_4b_3x3");
    let mixed = |prefix: &str| rows.iter().filter(|r| r.name.starts_with(prefix)).map(tf).sum::<u128>();
    assert_eq!(mixed("Mixed_6a."), 1_709_056, "Mixed_6a");
    assert_eq!(mixed("Mixed_7a."), 3_344_256, "Mixed_7a");
    for (block, count, params, macs) in [
        ("Repeat", 5, 77_248, 94_080_000),
        ("Repeat_1", 10, 689_536, 198_868_992),
        ("Repeat_2", 5, 1_600_000, 102_236_160),
    ] {
        for k in 0..count {
            let r = find(&format!("{block}.{k}"));
            assert_eq!((tf(r), r.cost.macs), (params, macs), "{block}.{k}");
        }
        assert!(rows.iter().all(|r| r.name != format!("{block}.{count}")), "{block} has more than {count} blocks");
    }
    // Paper-literal 5×C + FC 1792→1000, PyTorch convention (reference-counts.md §8).
    let r = common::report("inception-resnet-v1");
    assert_eq!((r.params, r.total.macs), (22_756_328, 6_206_361_696));
    assert_eq!(r.output.to_string(), "1000");
}

#[test]
fn resnet50_stages_match_the_reference_breakdown() {
    // Per-block torchvision params and v1.5 MACs, reference-counts.md §4.
    let rows = rows("resnet50", 2);
    let row = |n: &str| rows.iter().find(|row| row.name == n).unwrap_or_else(|| panic!("no row {n}"));
    for (name, params, macs) in [
        ("layer1.0", 75_008, 231_211_008),
        ("layer1.1", 70_400, 218_365_952),
        ("layer2.0", 379_392, 372_506_624),
        ("layer3.0", 1_512_448, 372_506_624),
        ("layer3.5", 1_117_184, 218_365_952),
        ("layer4.0", 6_039_552, 372_506_624),
        ("layer4.2", 4_462_592, 218_365_952),
    ] {
        assert_eq!((row(name).cost.params(), row(name).cost.macs), (Some(params as u128), macs as u128), "{name}");
    }
    assert_eq!(row("layer4.2").output.to_string(), "2048×7×7");
}

/// An auxiliary head: (name, params, loss weight).
type Head = (&'static str, u128, f64);

/// (file, params with the auxiliary heads, each head). Inception-v3:
/// torchvision's `inception_v3(aux_logits=True)` has 27,161,264 (23,834,568 without). GoogLeNet:
/// the heads of Szegedy et al. 2014 Sec. 5 counted by hand from 4a's 512×14×14 and 4d's 528×14×14
/// (4×4 after the 5×5/3 pool): conv 1×1 C·128 + 128, fc 128·16·1024 + 1024 = 2,098,176, classifier
/// 1024·1000 + 1000 = 1,025,000, so 3,188,840 and 3,190,888 (`benches/aux_heads_torch.py` agrees).
const WITH_HEADS: &[(&str, u128, &[Head])] = &[
    ("inception-v3", 27_161_264, &[("AuxLogits", 3_326_696, 0.4)]),
    ("googlenet", 13_378_280, &[("loss1", 3_188_840, 0.3), ("loss2", 3_190_888, 0.3)]),
];

#[test]
fn totals_with_auxiliary_heads_match_the_reference_ones() {
    for &(name, with, heads) in WITH_HEADS {
        let r = common::report(name);
        assert_eq!(r.with_heads.params(), Some(with), "{name} with heads");
        let got: Vec<(&str, u128, f64)> = r.heads.iter().map(|h| (h.name.as_str(), h.params, h.weight)).collect();
        assert_eq!(got, heads.to_vec(), "{name} heads");
        assert_eq!(r.params + heads.iter().map(|h| h.1).sum::<u128>(), with, "{name}: net + heads");
        let v = json::to_json(&r);
        assert_eq!((v.params.total, v.with_heads.params.total, v.heads.len()), (r.params, with, heads.len()));
    }
    for path in common::zoo() {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        if WITH_HEADS.iter().all(|(n, ..)| *n != stem) {
            let r = common::report(&stem);
            assert!(r.heads.is_empty() && r.with_heads == r.total, "{stem} has no heads: both totals agree");
        }
    }
}

#[test]
fn reports_match_their_snapshots() {
    for path in common::zoo() {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let r = common::report(&stem);
        insta::assert_snapshot!(format!("{stem}.text"), text::render(&r));
        insta::assert_snapshot!(format!("{stem}.json"), json::render(&r));
    }
}
