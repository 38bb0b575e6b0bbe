//! Tensor values of other float types, as PyTorch and other tools save them, read as
//! the `f32` netc computes in: F16 and BF16 exactly (every value is an `f32`), F64 by
//! rounding to nearest (a value beyond `f32`'s range becomes infinite, which loading
//! then refuses as not finite). Integer and boolean tensors are not weights.

use safetensors::Dtype;

/// Whether tensors of `dtype` can be read as weights.
pub(super) fn is_float(dtype: Dtype) -> bool {
    matches!(dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64)
}

/// The little-endian `bytes` of a tensor of `dtype` (one of [`is_float`]) as `f32`.
pub(super) fn to_f32(dtype: Dtype, bytes: &[u8]) -> Vec<f32> {
    match dtype {
        Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        // A bfloat16 is the top half of an f32.
        Dtype::BF16 => {
            bytes.chunks_exact(2).map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)).collect()
        }
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        _ => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
    }
}
