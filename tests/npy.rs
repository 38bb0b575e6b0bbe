//! `.npy` reading and writing: round trips, files built byte by byte from the format's
//! specification (NEP 1: magic, version, little-endian header length, a Python dict literal
//! padded with spaces and ended by a newline, then the data), every float type and byte
//! order, Fortran order, and damaged or lying files, each refused with a message that
//! says what is wrong.

mod cli_support;

use cli_support::TempDir;
use netc::data::npy::{self, Float, NpyFile};
use std::path::Path;

/// A `.npy` file by hand: `version` 1 (u16 header length) or 2/3 (u32), the header dict
/// padded so that the data starts at a multiple of 64, then `data` as given.
fn npy_bytes(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
    let prefix = if version == 1 { 10 } else { 12 };
    let mut header = dict.to_string();
    while !(prefix + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([version, 0]);
    if version == 1 {
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

fn dict(descr: &str, fortran: bool, shape: &str) -> String {
    let order = if fortran { "True" } else { "False" };
    format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}")
}

fn f32_le(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The error message for `bytes` as a file.
fn refused(d: &TempDir, name: &str, bytes: &[u8]) -> String {
    let p = d.write(name, bytes);
    let e = npy::read(&p).expect_err("a bad file is refused");
    let msg = e.to_string();
    assert!(msg.starts_with(&p.display().to_string()), "the message names the file: {msg}");
    msg
}

const SIX: [f32; 6] = [0.5, -1.25, 3.0, 1e-3, -0.0, 65504.0];

#[test]
fn written_files_read_back_exactly() {
    let d = TempDir::new("round");
    let data: Vec<f32> = (0..2 * 3 * 4 * 5).map(|i| (i as f32 * 0.37).sin() * 1e3).collect();
    let p = d.0.join("x.npy");
    npy::write_f32(&p, &[2, 3, 4, 5], &data).unwrap();
    let a = npy::read(&p).unwrap();
    assert_eq!(a.shape, vec![2, 3, 4, 5]);
    assert_eq!(a.data, data);
    // The header is what NumPy writes: version 1, '<f4', C order, data aligned to 64.
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0);
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"), "{header}");
    assert!(header.contains("(2, 3, 4, 5") && header.ends_with('\n'), "{header}");
    assert_eq!(bytes.len(), 10 + header_len + 4 * data.len());
    assert_eq!(&bytes[10 + header_len..], f32_le(&data).as_slice());
    // Replacing an existing file leaves no temporary file behind.
    npy::write_f32(&p, &[1, 2], &[1.0, 2.0]).unwrap();
    assert_eq!(npy::read(&p).unwrap().data, vec![1.0, 2.0]);
    assert_eq!(std::fs::read_dir(&d.0).unwrap().count(), 1);
    // A shape that does not hold the data is refused.
    assert!(npy::write_f32(&p, &[3], &[1.0]).is_err());
}

#[test]
fn hand_built_v1_and_v2_headers_are_read() {
    let d = TempDir::new("versions");
    for version in [1, 2, 3] {
        let p = d.write("v.npy", npy_bytes(version, &dict("<f4", false, "(2, 3)"), &f32_le(&SIX)));
        let a = npy::read(&p).unwrap_or_else(|e| panic!("version {version}: {e}"));
        assert_eq!((a.shape.as_slice(), a.data.as_slice()), (&[2usize, 3][..], &SIX[..]), "version {version}");
    }
    // Keys in another order, no trailing comma, a one-dimensional shape.
    let p = d.write("o.npy", npy_bytes(1, "{'shape': (6,), 'fortran_order': False, 'descr': '<f4'}", &f32_le(&SIX)));
    assert_eq!(npy::read(&p).unwrap().shape, vec![6]);
}

#[test]
fn other_float_types_and_byte_orders_convert_to_f32() {
    let d = TempDir::new("floats");
    let be: Vec<u8> = SIX.iter().flat_map(|x| x.to_be_bytes()).collect();
    let p = d.write("be.npy", npy_bytes(1, &dict(">f4", false, "(6,)"), &be));
    assert_eq!(npy::read(&p).unwrap().data, SIX);
    let f64s: Vec<f64> = vec![0.1, -2.5, 1e300, 3.0];
    for (descr, bytes) in [
        ("<f8", f64s.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()),
        (">f8", f64s.iter().flat_map(|x| x.to_be_bytes()).collect()),
    ] {
        let p = d.write("f8.npy", npy_bytes(1, &dict(descr, false, "(4,)"), &bytes));
        let file = NpyFile::open(&p).unwrap();
        assert_eq!(file.float(), Float::F64);
        // Rounded to the nearest f32; beyond f32's range becomes infinity (callers check).
        assert_eq!(file.read_all().unwrap(), vec![0.1f64 as f32, -2.5, f32::INFINITY, 3.0], "{descr}");
    }
    // float16 bit patterns: 1.0 = 0x3C00, -2.0 = 0xC000, 65504 = 0x7BFF, 2^-24 = 0x0001.
    let halves: [u16; 4] = [0x3C00, 0xC000, 0x7BFF, 0x0001];
    for (descr, bytes) in [
        ("<f2", halves.iter().flat_map(|h| h.to_le_bytes()).collect::<Vec<u8>>()),
        (">f2", halves.iter().flat_map(|h| h.to_be_bytes()).collect()),
    ] {
        let p = d.write("f2.npy", npy_bytes(1, &dict(descr, false, "(4,)"), &bytes));
        assert_eq!(npy::read(&p).unwrap().data, vec![1.0, -2.0, 65504.0, 2f32.powi(-24)], "{descr}");
    }
}

#[test]
fn fortran_order_is_read_in_c_order() {
    let d = TempDir::new("fortran");
    // [[0, 1, 2], [3, 4, 5]] stored column by column.
    let p = d.write("f.npy", npy_bytes(1, &dict("<f4", true, "(2, 3)"), &f32_le(&[0., 3., 1., 4., 2., 5.])));
    let file = NpyFile::open(&p).unwrap();
    assert!(file.is_fortran());
    assert_eq!(file.read_all().unwrap(), vec![0., 1., 2., 3., 4., 5.]);
    // 2×3×2: element (i, j, k) stored at i + 2j + 6k; in C order it is at 6i + 2j + k.
    let mut stored = vec![0f32; 12];
    for (i, j, k) in (0..2).flat_map(|i| (0..3).flat_map(move |j| (0..2).map(move |k| (i, j, k)))) {
        stored[i + 2 * j + 6 * k] = (6 * i + 2 * j + k) as f32;
    }
    let p = d.write("f3.npy", npy_bytes(1, &dict("<f4", true, "(2, 3, 2)"), &f32_le(&stored)));
    let expect: Vec<f32> = (0..12).map(|x| x as f32).collect();
    assert_eq!(npy::read(&p).unwrap().data, expect);
}

#[test]
fn chunks_read_in_order() {
    let d = TempDir::new("chunks");
    let data: Vec<f32> = (0..40).map(|x| x as f32).collect();
    let p = d.write("c.npy", npy_bytes(1, &dict("<f4", false, "(10, 4)"), &f32_le(&data)));
    let mut file = NpyFile::open(&p).unwrap();
    let mut out = Vec::new();
    file.read_elements(12, &mut out).unwrap();
    file.read_elements(28, &mut out).unwrap();
    assert_eq!(out, data);
    assert!(file.read_elements(1, &mut out).unwrap_err().to_string().contains("0 are left"));
}

#[test]
fn non_float_dtypes_are_refused_by_name() {
    let d = TempDir::new("dtypes");
    for (descr, size, name) in [
        ("<i4", 4, "int32"),
        ("<i8", 8, "int64"),
        ("|u1", 1, "uint8"),
        ("|b1", 1, "bool"),
        ("<c8", 8, "complex64"),
        ("<f16", 16, "float128"),
    ] {
        let msg = refused(&d, "i.npy", &npy_bytes(1, &dict(descr, false, "(2,)"), &vec![0u8; 2 * size]));
        assert!(msg.contains(name) && msg.contains("float32"), "{descr}: {msg}");
    }
    let msg = refused(
        &d,
        "s.npy",
        &npy_bytes(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", &[0; 4]),
    );
    assert!(msg.contains("structured"), "{msg}");
    let msg = refused(&d, "o.npy", &npy_bytes(1, &dict("|O", false, "(1,)"), &[0; 8]));
    assert!(msg.contains("object"), "{msg}");
}

#[test]
fn truncated_and_lying_files_are_refused() {
    let d = TempDir::new("lying");
    let good = npy_bytes(1, &dict("<f4", false, "(2, 3)"), &f32_le(&SIX));
    // Data cut short, by one byte and by all of it.
    let msg = refused(&d, "t.npy", &good[..good.len() - 1]);
    assert!(msg.contains("truncated") && msg.contains("24 bytes") && msg.contains("23"), "{msg}");
    let msg = refused(&d, "t0.npy", &good[..good.len() - 24]);
    assert!(msg.contains("truncated") && msg.contains("only 0 bytes"), "{msg}");
    // Cut inside the header, and inside the fixed prefix.
    let msg = refused(&d, "h.npy", &good[..30]);
    assert!(msg.contains("truncated") && msg.contains("header"), "{msg}");
    let msg = refused(&d, "p.npy", &good[..8]);
    assert!(msg.contains("truncated"), "{msg}");
    // More data than the header describes.
    let mut long = good.clone();
    long.extend([0u8; 4]);
    let msg = refused(&d, "l.npy", &long);
    assert!(msg.contains("4 bytes follow the 24 bytes of data"), "{msg}");
    // A header length beyond the cap (v2 allows 4 GiB) or beyond the file.
    let mut huge = b"\x93NUMPY\x02\x00".to_vec();
    huge.extend(u32::MAX.to_le_bytes());
    huge.extend([b' '; 100]);
    let msg = refused(&d, "big.npy", &huge);
    assert!(msg.contains("4,294,967,295 bytes") && msg.contains("65,535"), "{msg}");
    let mut beyond = b"\x93NUMPY\x01\x00".to_vec();
    beyond.extend(60000u16.to_le_bytes());
    beyond.extend([b' '; 100]);
    let msg = refused(&d, "beyond.npy", &beyond);
    assert!(msg.contains("60,000 bytes, but only 100 follow"), "{msg}");
    // A shape whose size overflows, or fits in u64 but describes far more than the file.
    let msg = refused(&d, "o.npy", &npy_bytes(1, &dict("<f4", false, "(4294967296, 4294967296)"), &[0; 8]));
    assert!(msg.contains("invalid header"), "{msg}");
    let msg = refused(&d, "o2.npy", &npy_bytes(1, &dict("<f8", false, "(1000000, 1000000, 1000)"), &[0; 8]));
    assert!(msg.contains("too large") || msg.contains("truncated"), "{msg}");
    // Not .npy at all, an unknown version, a header that is not a dict.
    let msg = refused(&d, "n.npy", b"P5\n28 28\n255\n0000000000000000");
    assert!(msg.contains("not a .npy file"), "{msg}");
    let mut v9 = good.clone();
    v9[6] = 9;
    let msg = refused(&d, "v9.npy", &v9);
    assert!(msg.contains("version") && msg.contains("9.0"), "{msg}");
    let msg = refused(&d, "g.npy", &npy_bytes(1, "this is not a dict", &[]));
    assert!(msg.contains("invalid header"), "{msg}");
    let msg = refused(&d, "k.npy", &npy_bytes(1, "{'descr': '<f4', 'shape': (1,)}", &[0; 4]));
    assert!(msg.contains("fortran_order"), "{msg}");
    let msg = refused(&d, "neg.npy", &npy_bytes(1, &dict("<f4", false, "(-1, 2)"), &[0; 8]));
    assert!(msg.contains("invalid header"), "{msg}");
}

#[test]
fn only_regular_files_are_opened() {
    let e = npy::read(Path::new("/dev/zero")).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let d = TempDir::new("kinds");
    let e = npy::read(&d.0).unwrap_err().to_string();
    assert!(e.contains("directory"), "{e}");
    let e = npy::read(&d.0.join("absent.npy")).unwrap_err().to_string();
    assert!(e.contains("No such file"), "{e}");
}
