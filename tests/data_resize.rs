//! Resizing against Pillow: the expected values below were computed once with
//! Pillow 13.0 (`Image.fromarray(plane, "L").resize((w, h), Image.BILINEAR)` per
//! channel, and mode "F" for the float cases, on the planes `source` builds), so the
//! project needs no Python. The u8 path must match exactly; the f32 path within 1e-6.

use netc::data::resize::{resize, resize_f32, resize_shorter_side, shorter_side_size};
use netc::data::Image;

/// `((h, w, channels), (out_h, out_w), salt, expected planar output)`.
type Case = ((usize, usize, usize), (usize, usize), usize, &'static [u8]);
type FloatCase = ((usize, usize, usize), (usize, usize), usize, &'static [f64]);

/// The deterministic test pattern (the same formula was used with Pillow).
fn source(h: usize, w: usize, c: usize, salt: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(c * h * w);
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                out.push(((x * x * 7 + y * 31 + ch * 101 + salt * 13 + (x * y) % 17 * 9) % 256) as u8);
            }
        }
    }
    out
}

#[rustfmt::skip]
const U8_CASES: &[Case] = &[
    ((7, 9, 1), (3, 4), 0, &[42, 110, 168, 123, 121, 149, 123, 129, 166, 79, 126, 159]),
    ((5, 5, 1), (8, 7), 1, &[13, 17, 26, 41, 66, 97, 125, 27, 33, 45, 62, 90, 124, 154, 46, 55, 72, 93, 125, 156, 180, 65, 78, 98, 124, 160, 126, 62, 85, 100, 124, 154, 194, 130, 24, 104, 123, 151, 185, 229, 169, 66, 123, 146, 178, 216, 161, 125, 108, 137, 162, 196, 237, 105, 88, 137]),
    ((13, 6, 3), (4, 10), 2, &[71, 79, 91, 111, 125, 125, 124, 122, 112, 106, 162, 159, 154, 152, 135, 91, 88, 105, 136, 157, 125, 114, 97, 117, 127, 113, 117, 129, 161, 183, 97, 115, 141, 158, 157, 120, 119, 136, 120, 110, 172, 176, 181, 179, 175, 164, 152, 138, 122, 112, 144, 135, 121, 130, 140, 152, 170, 191, 132, 93, 107, 129, 161, 162, 162, 164, 138, 98, 96, 95, 198, 156, 92, 106, 115, 114, 122, 135, 175, 201, 75, 83, 95, 81, 78, 101, 118, 133, 136, 138, 108, 120, 139, 152, 150, 118, 94, 73, 91, 103, 186, 144, 82, 88, 97, 111, 128, 145, 135, 129, 91, 113, 145, 127, 116, 117, 108, 92, 70, 56]),
    ((1, 6, 1), (3, 2), 3, &[57, 144, 57, 144, 57, 144]),
    ((40, 33, 1), (9, 5), 4, &[135, 132, 97, 110, 117, 126, 136, 116, 124, 129, 125, 131, 134, 134, 144, 132, 135, 117, 127, 136, 144, 128, 105, 115, 115, 134, 128, 125, 124, 139, 119, 134, 141, 134, 133, 127, 130, 114, 128, 138, 130, 120, 109, 123, 111]),
    ((6, 4, 2), (6, 3), 5, &[67, 83, 118, 101, 127, 173, 134, 172, 228, 168, 216, 104, 202, 133, 83, 159, 49, 138, 168, 184, 219, 202, 228, 95, 235, 145, 73, 13, 61, 128, 47, 106, 184, 81, 150, 60]),
    ((3, 5, 1), (3, 11), 6, &[78, 79, 82, 87, 96, 106, 122, 138, 159, 181, 190, 109, 112, 119, 128, 141, 155, 175, 195, 127, 37, 1, 140, 145, 156, 169, 186, 204, 112, 19, 25, 56, 68]),
];
#[rustfmt::skip]
const F32_CASES: &[FloatCase] = &[
    ((7, 9, 1), (3, 4), 0, &[-0.17401361465454102, 0.36468541622161865, 0.8177837133407593, 0.46739497780799866, 0.44870325922966003, 0.6699777841567993, 0.46858808398246765, 0.5156928896903992, 0.8031452894210815, 0.12105623632669449, 0.48839929699897766, 0.7497318983078003]),
    ((5, 5, 1), (8, 7), 1, &[-0.39803922176361084, -0.36666667461395264, -0.2960784435272217, -0.17843136191368103, 0.01764707826077938, 0.2607843279838562, 0.4803921580314636, -0.2916666567325592, -0.24264706671237946, -0.15000000596046448, -0.010294103994965553, 0.20784316956996918, 0.4730392396450043, 0.7102941274642944, -0.1397058665752411, -0.0654761865735054, 0.05868348106741905, 0.229901984333992, 0.47955185174942017, 0.7224790453910828, 0.9132353067398071, 0.012254921719431877, 0.11169469356536865, 0.2673669755458832, 0.470098078250885, 0.75126051902771, 0.48788517713546753, -0.013235285878181458, 0.16421571373939514, 0.2888655662536621, 0.476050466299057, 0.7102941870689392, 1.0229692459106445, 0.5221989154815674, -0.3122549057006836, 0.31617647409439087, 0.46603643894195557, 0.6847339272499084, 0.9504902362823486, 1.2946778535842896, 0.8254202008247375, 0.0161764957010746, 0.46813729405403137, 0.643207311630249, 0.8934174180030823, 1.1906863451004028, 0.7596638798713684, 0.4832633435726166, 0.3446078896522522, 0.574509859085083, 0.7672269344329834, 1.039495825767517, 1.358823537826538, 0.3224089741706848, 0.19355745613574982, 0.574509859085083]),
    ((40, 33, 1), (9, 5), 4, &[0.5578587651252747, 0.5334000587463379, 0.2591068744659424, 0.36509618163108826, 0.41389113664627075, 0.48999783396720886, 0.5666383504867554, 0.4073682129383087, 0.4696214199066162, 0.5077565908432007, 0.48313668370246887, 0.5237521529197693, 0.5513430237770081, 0.5528070330619812, 0.6260390877723694, 0.5361993908882141, 0.5608111619949341, 0.4156830310821533, 0.49797049164772034, 0.5626282691955566, 0.629277765750885, 0.5002841949462891, 0.32042840123176575, 0.40529298782348633, 0.4003651440143585, 0.5498322248458862, 0.5021961331367493, 0.48177382349967957, 0.4739813804626465, 0.5932998061180115, 0.43336963653564453, 0.5521692633628845, 0.6030069589614868, 0.550870954990387, 0.5445225834846497, 0.4934598207473755, 0.5170781016349792, 0.3947926163673401, 0.5023477673530579, 0.5824056267738342, 0.5178277492523193, 0.443252831697464, 0.35472372174263, 0.4658287763595581, 0.36912423372268677]),
];

#[test]
fn u8_matches_pillow_exactly() {
    for &((h, w, c), (oh, ow), salt, want) in U8_CASES {
        let pixels = source(h, w, c, salt);
        let got = resize(Image { channels: c, h, w, pixels: &pixels }, oh, ow).unwrap();
        assert_eq!(got, want, "{c}×{h}×{w} → {oh}×{ow}");
    }
}

#[test]
fn f32_matches_pillow_mode_f() {
    for &((h, w, c), (oh, ow), salt, want) in F32_CASES {
        let pixels: Vec<f32> = source(h, w, c, salt).iter().map(|&p| f32::from(p) / 255.0 * 2.0 - 0.5).collect();
        let got = resize_f32(&pixels, c, (h, w), (oh, ow)).unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (&g, &e)) in got.iter().zip(want).enumerate() {
            assert!((f64::from(g) - e).abs() < 1e-6, "{c}×{h}×{w} → {oh}×{ow} at {i}: {g} vs {e}");
        }
    }
}

#[test]
fn a_constant_image_stays_constant_and_same_size_is_a_copy() {
    let flat = vec![77u8; 3 * 50 * 31];
    let img = Image { channels: 3, h: 50, w: 31, pixels: &flat };
    for (h, w) in [(7, 3), (1, 1), (64, 90), (50, 9)] {
        assert!(resize(img, h, w).unwrap().iter().all(|&p| p == 77), "{h}×{w}");
    }
    let pattern = source(9, 8, 2, 1);
    let img = Image { channels: 2, h: 9, w: 8, pixels: &pattern };
    assert_eq!(resize(img, 9, 8).unwrap(), pattern);
    assert!(resize(img, 0, 3).is_err());
    assert!(resize_f32(&[0.0; 5], 1, (2, 2), (1, 1)).is_err());
}

#[test]
fn downscaling_averages_instead_of_sampling() {
    // A 1-pixel checkerboard halved: point sampling would keep one colour, the
    // antialiased filter gives the mean grey everywhere.
    let board: Vec<u8> = (0..64 * 64).map(|i| if (i / 64 + i % 64) % 2 == 0 { 0 } else { 255 }).collect();
    let img = Image { channels: 1, h: 64, w: 64, pixels: &board };
    let small = resize(img, 16, 16).unwrap();
    assert!(small.iter().all(|&p| (120..=135).contains(&p)), "{small:?}");
}

#[test]
fn shorter_side_follows_torchvision() {
    // torchvision: short side = size, long side = int(size * long / short).
    assert_eq!(shorter_side_size(480, 640, 256), (256, 341));
    assert_eq!(shorter_side_size(640, 480, 256), (341, 256));
    assert_eq!(shorter_side_size(500, 375, 256), (341, 256));
    assert_eq!(shorter_side_size(100, 100, 32), (32, 32));
    assert_eq!(shorter_side_size(3, 1000, 2), (2, 666));
    let pixels = source(30, 40, 3, 2);
    let ((h, w), out) = resize_shorter_side(Image { channels: 3, h: 30, w: 40, pixels: &pixels }, 15).unwrap();
    assert_eq!((h, w, out.len()), (15, 20, 3 * 15 * 20));
}

#[rustfmt::skip]
const HASHED_CASES: &[(usize, usize, usize, usize, u64)] = &[
    (300, 200, 37, 50, 0x441c27b2f1c44b81),
    (500, 40, 20, 31, 0x7fcb8cdf279cf1cf),
    (224, 224, 256, 256, 0x41ccc56def41fbb8),
    (480, 640, 256, 341, 0xb43a163f26794a14),
    (33, 1, 7, 1, 0x27b7d16d5fe9126d),
    (1, 1, 5, 9, 0x873321047e9c9fe0),
    (64, 64, 32, 32, 0x5dbad3803cd0cc45),
    (256, 341, 224, 224, 0xda31285adcaee541),
    (42, 20, 51, 84, 0xedc2da92944cc17a),
    (7, 10, 69, 13, 0xd3b55c746b4be198),
    (47, 75, 8, 65, 0xcb40b96b128becc0),
    (28, 5, 12, 56, 0xe9d2b74d67ce5cd3),
    (54, 9, 31, 12, 0x3284cdc3b2447a18),
    (71, 55, 8, 73, 0x3bc18b5c5709a8d1),
    (16, 29, 81, 81, 0xfad5edeb1810e8fb),
    (75, 8, 74, 75, 0x9d92e5f5a6ea5a4b),
    (51, 7, 29, 6, 0xab2df70450956a64),
    (72, 18, 38, 54, 0x39f06e80ccbc16c4),
    (19, 70, 16, 74, 0x2f0b591b735a9944),
    (40, 72, 88, 24, 0xb2ad349c3ca27234),
    (14, 75, 74, 82, 0xa4814988dc68459d),
    (25, 48, 13, 71, 0x2cb3487ee982150d),
    (9, 73, 8, 80, 0xf1be2f0858415b19),
    (27, 64, 88, 69, 0x5d53a34a08f28757),
    (55, 41, 60, 75, 0xcd00e31bbe534b28),
    (59, 47, 39, 32, 0x0d46554bf45194fa),
    (24, 90, 32, 11, 0x892686d8b9524fa1),
    (74, 39, 68, 64, 0x57cf150d7e85ba36),
    (44, 58, 37, 78, 0x6d87ff3cc809c116),
    (10, 16, 66, 54, 0x9f9958817aebb9ea),
    (22, 44, 20, 63, 0x45b0eaa926c2903a),
    (54, 6, 86, 10, 0xb9e5f42cc89abcd1),
    (72, 74, 41, 44, 0xc209710c397671d4),
    (89, 45, 77, 64, 0xddd36e97d6017758),
    (75, 59, 9, 12, 0x0667834eca531fcd),
    (35, 61, 90, 86, 0x11f53f465fb69751),
    (9, 8, 90, 40, 0x6053063c9d235ca5),
    (83, 74, 88, 58, 0xe992c2853ac4fa35),
    (37, 50, 86, 45, 0xae5ec86c1a9c8f97),
    (3, 60, 46, 22, 0x0741176e0f308a6d),
];

/// FNV-1a over the output bytes (the same function hashed Pillow's output).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[test]
fn u8_matches_pillow_on_forty_size_pairs() {
    // Random sizes from 1 to 90 plus typical ones (ImageNet's 256/224, a tall image
    // that Pillow 13 resizes vertically first), salt = the case's index.
    for (i, &(h, w, oh, ow, want)) in HASHED_CASES.iter().enumerate() {
        let pixels = source(h, w, 1, i);
        let got = resize(Image { channels: 1, h, w, pixels: &pixels }, oh, ow).unwrap();
        assert_eq!(fnv1a(&got), want, "case {i}: {h}×{w} → {oh}×{ow}");
    }
}
