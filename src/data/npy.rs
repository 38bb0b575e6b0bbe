//! `.npy` files (NumPy's array format, versions 1 to 3): float tensors in, float32 arrays out.
//!
//! Consumes: paths. Produces: an open [`NpyFile`] whose header has been checked (shape, a
//! float dtype, the data's length against the file's) and whose elements can then be read
//! in chunks as `f32`, in C order; or a whole array ([`read`]). Writes float32 arrays
//! atomically ([`write_f32`]).
//!
//! Guarantees: nothing is read before it is known to be bounded. The fixed prefix (magic,
//! version, header length) is read first; a header longer than [`MAX_HEADER_BYTES`] or than
//! the file is refused before it is read; the data's length, computed from the header with
//! overflow checks, must match the rest of the file exactly before any element is read.
//! float16 and float64 are converted to float32 (float64 values beyond float32's range
//! become infinite: callers that need finite values check them); both byte orders are
//! read; Fortran-order arrays are transposed to C order when read whole ([`read`],
//! [`NpyFile::read_all`]). Any other dtype (integers, booleans, structured arrays,
//! objects) is refused with a message that names it.
//!
//! The header's Python literal is parsed by the `npyz` crate, after a check of our own that
//! every integer in it is plain and that their product fits in 64 bits: `npyz` multiplies
//! the shape's dimensions unchecked, which would panic (or wrap) on a lying header.

use crate::data::error::grouped;
use crate::files::{dir_of, open_regular, resolve};
use npyz::{DType, Order, TypeChar};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Largest header accepted, in bytes (the whole of a version 1 header's range). NumPy writes
/// about 128 bytes for a float array, and itself refuses headers over 10,000 bytes by
/// default (`max_header_size` of `numpy.load`).
pub const MAX_HEADER_BYTES: u64 = 65_535;

/// Elements decoded per read: bounds the raw bytes held at once (8 MiB of float64).
const CHUNK_ELEMENTS: usize = 1 << 20;

/// The magic string every `.npy` file starts with.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// A file that is not a readable float `.npy`, with the reason.
#[derive(Debug)]
pub struct NpyError {
    pub path: PathBuf,
    pub detail: String,
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.detail)
    }
}

impl std::error::Error for NpyError {}

/// The float types netc reads, all converted to `f32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Float {
    F16,
    F32,
    F64,
}

impl Float {
    pub fn bytes(self) -> usize {
        match self {
            Float::F16 => 2,
            Float::F32 => 4,
            Float::F64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Float::F16 => "float16",
            Float::F32 => "float32",
            Float::F64 => "float64",
        }
    }
}

/// An opened `.npy` file whose header and length have been checked.
pub struct NpyFile {
    path: PathBuf,
    file: io::BufReader<File>,
    header: npyz::NpyHeader,
    shape: Vec<usize>,
    float: Float,
    fortran: bool,
    /// Elements read so far.
    read: usize,
}

impl fmt::Debug for NpyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NpyFile").field("path", &self.path).field("shape", &self.shape).finish()
    }
}

impl NpyFile {
    /// Opens `path` and checks its header and length; reads nothing past the header.
    pub fn open(path: &Path) -> Result<NpyFile, NpyError> {
        let fail = |detail: String| NpyError { path: path.to_path_buf(), detail };
        let (file, len) = open_regular(path).map_err(|e| fail(e.to_string()))?;
        let mut file = io::BufReader::new(file);
        let (prefix, header_len) = read_prefix(&mut file, len).map_err(fail)?;
        let mut bytes = prefix;
        let start = bytes.len() as u64;
        (&mut file).take(header_len).read_to_end(&mut bytes).map_err(|e| fail(e.to_string()))?;
        if bytes.len() as u64 != start + header_len {
            return Err(fail("the file ended inside its header (it changed while being read?)".into()));
        }
        let text = String::from_utf8_lossy(&bytes[start as usize..]);
        check_integers(&text).map_err(|e| fail(format!("invalid header: {e}")))?;
        let header = npyz::NpyHeader::from_reader(&bytes[..]).map_err(|e| fail(format!("invalid header: {e}")))?;
        let float = float_type(&header.dtype()).map_err(fail)?;
        let shape: Vec<usize> = header.shape().iter().map(|&d| usize::try_from(d).unwrap_or(usize::MAX)).collect();
        let described = shape
            .iter()
            .try_fold(float.bytes() as u64, |acc, &d| acc.checked_mul(d as u64))
            .ok_or_else(|| fail(format!("its shape {} is too large to be held in any file", shape_text(&shape))))?;
        let held = len - start - header_len;
        let what = format!("shape {} of {}", shape_text(&shape), float.name());
        if held < described {
            return Err(fail(format!(
                "truncated: its header describes {what}, {} bytes of data, but only {} bytes follow the header",
                grouped(described),
                grouped(held)
            )));
        }
        if held > described {
            return Err(fail(format!(
                "{} bytes follow the {} bytes of data its header describes ({what}); is the header wrong?",
                grouped(held - described),
                grouped(described)
            )));
        }
        let fortran = header.order() == Order::Fortran && shape.len() > 1;
        Ok(NpyFile { path: path.to_path_buf(), file, header, shape, float, fortran, read: 0 })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The array's shape as stored.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Elements in the array.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored float type.
    pub fn float(&self) -> Float {
        self.float
    }

    /// Whether the elements are stored in Fortran (column-major) order; such arrays can only
    /// be read whole, with [`NpyFile::read_all`].
    pub fn is_fortran(&self) -> bool {
        self.fortran
    }

    /// Appends the next `count` elements, in storage order, converted to `f32`.
    pub fn read_elements(&mut self, count: usize, out: &mut Vec<f32>) -> Result<(), NpyError> {
        let fail = |detail: String| NpyError { path: self.path.clone(), detail };
        if count > self.len() - self.read {
            return Err(fail(format!("asked for {count} elements, {} are left", self.len() - self.read)));
        }
        // In chunks, so that the raw bytes held at once stay small whatever `count` is.
        let mut bytes = Vec::new();
        let mut left = count;
        while left > 0 {
            let n = left.min(CHUNK_ELEMENTS);
            bytes.resize(n * self.float.bytes(), 0);
            self.file.read_exact(&mut bytes).map_err(|e| fail(format!("cannot read its data: {e}")))?;
            self.read += n;
            left -= n;
            let file = npyz::NpyFile::with_header(self.header.clone(), &bytes[..]);
            let decoded: io::Result<()> = match self.float {
                Float::F16 => decode::<npyz::half::f16>(file, n, out, |x| x.to_f32()),
                Float::F32 => decode::<f32>(file, n, out, |x| x),
                Float::F64 => decode::<f64>(file, n, out, |x| x as f32),
            };
            decoded.map_err(|e| fail(format!("cannot decode its data: {e}")))?;
        }
        Ok(())
    }

    /// Every element, in C order (a Fortran-order array is transposed).
    pub fn read_all(mut self) -> Result<Vec<f32>, NpyError> {
        let n = self.len() - self.read;
        let mut data = Vec::new();
        data.try_reserve_exact(n).map_err(|_| NpyError {
            path: self.path.clone(),
            detail: format!("cannot allocate {} floats to read it", grouped(n as u64)),
        })?;
        self.read_elements(n, &mut data)?;
        Ok(if self.fortran { fortran_to_c(&self.shape, &data) } else { data })
    }
}

fn decode<T: npyz::Deserialize>(
    file: npyz::NpyFile<&[u8]>,
    count: usize,
    out: &mut Vec<f32>,
    to_f32: impl Fn(T) -> f32,
) -> io::Result<()> {
    let reader = file.data::<T>().map_err(io::Error::other)?;
    for x in reader.take(count) {
        out.push(to_f32(x?));
    }
    Ok(())
}

/// An array read whole, in C order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Reads a whole float `.npy` file as `f32`, in C order.
pub fn read(path: &Path) -> Result<Array, NpyError> {
    let file = NpyFile::open(path)?;
    let shape = file.shape().to_vec();
    Ok(Array { shape, data: file.read_all()? })
}

/// Reads the magic, the version and the header's length; checks the length against the cap
/// and the file. Returns the prefix's bytes and the header's length.
fn read_prefix(file: &mut impl Read, len: u64) -> Result<(Vec<u8>, u64), String> {
    let not_npy = || "not a .npy file (it does not start with the magic bytes \\x93NUMPY)".to_string();
    if len < 10 {
        return Err(if len >= 6 && file_starts_with_magic(file)? {
            format!("truncated: {len} bytes, too short for a .npy header")
        } else {
            not_npy()
        });
    }
    let mut prefix = vec![0u8; 10];
    file.read_exact(&mut prefix).map_err(|e| e.to_string())?;
    if &prefix[..6] != MAGIC {
        return Err(not_npy());
    }
    let (major, minor) = (prefix[6], prefix[7]);
    let header_len = match major {
        1 => u64::from(u16::from_le_bytes([prefix[8], prefix[9]])),
        2 | 3 => {
            let mut rest = [0u8; 2];
            file.read_exact(&mut rest).map_err(|_| format!("truncated: {len} bytes, too short for a .npy header"))?;
            prefix.extend_from_slice(&rest);
            u64::from(u32::from_le_bytes([prefix[8], prefix[9], rest[0], rest[1]]))
        }
        _ => return Err(format!("a .npy format version netc does not know ({major}.{minor}; it reads 1.0 to 3.0)")),
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "its header claims {} bytes, more than the {} netc accepts (a float array's header is about 128)",
            grouped(header_len),
            grouped(MAX_HEADER_BYTES)
        ));
    }
    let after = len - prefix.len() as u64;
    if header_len > after {
        return Err(format!(
            "truncated: its header claims {} bytes, but only {} follow",
            grouped(header_len),
            grouped(after)
        ));
    }
    Ok((prefix, header_len))
}

fn file_starts_with_magic(file: &mut impl Read) -> Result<bool, String> {
    let mut magic = [0u8; 6];
    file.read_exact(&mut magic).map_err(|e| e.to_string())?;
    Ok(&magic == MAGIC)
}

/// Refuses a header whose integers could make `npyz`'s unchecked shape arithmetic overflow:
/// every token that starts with a digit must be plain decimal digits, and the product of
/// the non-zero ones must fit in 64 bits. The shape's dimensions are among those tokens,
/// so every product `npyz` forms of them is bounded by this one.
fn check_integers(text: &str) -> Result<(), String> {
    let mut product: u64 = 1;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
        if !word(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && word(bytes[i]) {
            i += 1;
        }
        let token = &text[start..i];
        if !token.as_bytes()[0].is_ascii_digit() {
            continue;
        }
        if !token.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{token}` is not a plain integer"));
        }
        let value: u64 = token.parse().map_err(|_| format!("the number {token} is too large"))?;
        if value > 0 {
            product = product.checked_mul(value).ok_or("its shape has too many elements to count")?;
        }
    }
    Ok(())
}

/// The float type of a dtype, or why netc cannot read it.
fn float_type(dtype: &DType) -> Result<Float, String> {
    let hint = "netc reads float16, float32 and float64 arrays (convert with `a.astype(numpy.float32)`)";
    let DType::Plain(ty) = dtype else {
        return Err(format!("its dtype is a structured type ({}); {hint}", dtype.descr()));
    };
    let kind = match ty.type_char() {
        TypeChar::Float => match ty.size_field() {
            2 => return Ok(Float::F16),
            4 => return Ok(Float::F32),
            8 => return Ok(Float::F64),
            n => format!("float{}", 8 * n),
        },
        TypeChar::Int => format!("int{}", 8 * ty.size_field()),
        TypeChar::Uint => format!("uint{}", 8 * ty.size_field()),
        TypeChar::Bool => "bool".into(),
        TypeChar::Complex => format!("complex{}", 8 * ty.size_field()),
        TypeChar::Object => "object (pickled Python objects)".into(),
        _ => "not a number type".into(),
    };
    Err(format!("its dtype is '{ty}', {kind}; {hint}"))
}

/// A shape as NumPy prints it: `(2, 1, 28, 28)`, `(5,)`, `()`.
pub fn shape_text(shape: &[usize]) -> String {
    match shape {
        [d] => format!("({d},)"),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

/// The elements of a Fortran-order array of `shape`, in C order.
fn fortran_to_c(shape: &[usize], data: &[f32]) -> Vec<f32> {
    // Fortran strides: the first index varies fastest.
    let mut strides = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        strides[k] = strides[k - 1] * shape[k - 1];
    }
    let mut out = Vec::with_capacity(data.len());
    let mut index = vec![0usize; shape.len()];
    for _ in 0..data.len() {
        out.push(data[index.iter().zip(&strides).map(|(i, s)| i * s).sum::<usize>()]);
        // The next C-order index: the last dimension varies fastest.
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            if index[k] < shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    out
}

/// Writes a little-endian float32 array of `shape` (C order) to `path` (through symlinks):
/// to a temporary file beside it, then renamed over it, so a failure never leaves half a
/// file. The caller decides whether `path` may be replaced.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), NpyError> {
    let fail = |detail: String| NpyError { path: path.to_path_buf(), detail };
    if shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) != Some(data.len()) {
        return Err(fail(format!("shape {} does not hold {} values", shape_text(shape), data.len())));
    }
    let real = resolve(path).map_err(|e| fail(e.to_string()))?;
    // Readable like a file made by `File::create` (0666 less the umask), not 0600.
    use std::os::unix::fs::PermissionsExt;
    let mut tmp = tempfile::Builder::new()
        .prefix(".netc-npy-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir_of(&real))
        .map_err(|e| fail(format!("cannot create a file in {}: {e}", dir_of(&real).display())))?;
    {
        let dtype = DType::Plain("<f4".parse().expect("a valid type string"));
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let sink = io::BufWriter::new(tmp.as_file_mut());
        use npyz::WriterBuilder;
        let mut writer = npyz::WriteOptions::<f32>::new()
            .dtype(dtype)
            .shape(&shape)
            .writer(sink)
            .begin_nd()
            .map_err(|e| fail(e.to_string()))?;
        writer.extend(data.iter().copied()).and_then(|()| writer.finish()).map_err(|e| fail(e.to_string()))?;
    }
    tmp.as_file_mut().flush().and_then(|()| tmp.as_file().sync_all()).map_err(|e| fail(e.to_string()))?;
    tmp.persist(&real).map_err(|e| fail(e.error.to_string()))?;
    Ok(())
}

/// Whether the regular file at `path` starts with the `.npy` magic.
pub fn is_npy(path: &Path) -> bool {
    open_regular(path).is_ok_and(|(mut f, _)| file_starts_with_magic(&mut f).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_is_transposed() {
        // A 2×3 array [[0, 1, 2], [3, 4, 5]] stored column-major: 0 3 1 4 2 5.
        assert_eq!(fortran_to_c(&[2, 3], &[0., 3., 1., 4., 2., 5.]), vec![0., 1., 2., 3., 4., 5.]);
        // 2×2×2: element (i, j, k) at i + 2j + 4k.
        let f: Vec<f32> = (0..8).map(|x| x as f32).collect();
        let c = fortran_to_c(&[2, 2, 2], &f);
        let expect: Vec<f32> = (0..8).map(|n| (((n >> 2) & 1) + 2 * ((n >> 1) & 1) + 4 * (n & 1)) as f32).collect();
        assert_eq!(c, expect);
    }

    #[test]
    fn header_integers_are_bounded() {
        assert!(check_integers("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 224, 224), }").is_ok());
        assert!(check_integers("{'shape': (0, 4294967296, 4294967296)}").is_err());
        assert!(check_integers("{'shape': (4294967295, 4294967297)}").is_ok());
        assert!(check_integers("{'shape': (99999999999999999999,)}").is_err());
        assert!(check_integers("{'shape': (0x10,)}").is_err());
        assert!(check_integers("{'shape': (1_000,)}").is_err());
    }
}
