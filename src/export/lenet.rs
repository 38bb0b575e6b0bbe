//! LeNet-5's layers as elementary ONNX operators: the connection table, the scaled tanh,
//! the trainable subsampling and the RBF output.
//!
//! The initializers stay the net's own tensors (`C3.weight` holds only the table's links,
//! `S2.weight` one coefficient per map); what ONNX needs is derived from them inside the
//! graph with integer constants only, so the model's parameter count is netc's.

use super::builder::{attr_int, attr_ints, attr_tensor, tensor, GraphBuilder};
use super::lower::{window_attrs, Ctx, Lowered};
use super::proto::tensor_proto::DataType;
use crate::ir::{ConnTable, Conv, Rbf, Subsample};

/// A convolution through a connection table, as a masked dense convolution: the table's
/// weights [links, kh, kw] are scattered into a zero [out, in, kh, kw] kernel by a
/// `Gather` of their rows after a row of zeros, with the row of each (output, input)
/// pair as a constant index (0 for unconnected pairs).
pub fn table_conv(b: &mut GraphBuilder, conv: &Conv, table: &ConnTable, x: &str, c: &Ctx) -> Lowered {
    let (out_c, in_c) = (conv.out_c as usize, conv.in_c as usize);
    let taps = (conv.window.kh * conv.window.kw) as usize;
    let mut index = vec![0i64; out_c * in_c];
    let mut row = 1;
    for (o, inputs) in table.inputs.iter().enumerate() {
        for &i in inputs {
            index[o * in_c + i as usize] = row;
            row += 1;
        }
    }
    let links = (row - 1) as usize;
    let rows_shape = b.const_i64(&c.part("rows_shape"), &[2], &[links as i64, taps as i64]);
    let rows = b.op("Reshape", &c.part("rows"), &[&c.params[0], &rows_shape], &c.part("rows"), vec![]);
    let zero_shape = b.const_i64(&c.part("zero_shape"), &[2], &[1, taps as i64]);
    let zero_value = attr_tensor("value", tensor(DataType::Float, &[1], 0f32.to_le_bytes().to_vec()));
    let zero = b.op("ConstantOfShape", &c.part("zero"), &[&zero_shape], &c.part("zero"), vec![zero_value]);
    let padded = b.op("Concat", &c.part("with_zero"), &[&zero, &rows], &c.part("with_zero"), vec![attr_int("axis", 0)]);
    let index = b.const_i64(&c.part("table"), &[out_c * in_c], &index);
    let dense = b.op("Gather", &c.part("gather"), &[&padded, &index], &c.part("dense_rows"), vec![attr_int("axis", 0)]);
    let kernel_shape = [out_c, in_c, conv.window.kh as usize, conv.window.kw as usize].map(|v| v as i64);
    let kernel_shape = b.const_i64(&c.part("kernel_shape"), &[4], &kernel_shape);
    let kernel = b.op("Reshape", &c.part("kernel"), &[&dense, &kernel_shape], &c.part("kernel"), vec![]);
    let mut inputs = vec![x, kernel.as_str()];
    inputs.extend(c.params[1..].iter().map(String::as_str));
    b.node("Conv", c.path, &inputs, c.out, window_attrs(&conv.window));
    Lowered::Written
}

/// a·tanh(s·x).
pub fn scaled_tanh(b: &mut GraphBuilder, x: &str, a: f64, s: f64, c: &Ctx) -> Lowered {
    let s = b.const_f32(&c.part("s"), s as f32);
    let scaled = b.op("Mul", &c.part("scale_in"), &[x, &s], &c.part("scaled"), vec![]);
    let t = b.op("Tanh", &c.part("tanh"), &[&scaled], &c.part("tanh"), vec![]);
    let a = b.const_f32(&c.part("a"), a as f32);
    b.node("Mul", c.path, &[&t, &a], c.out, vec![]);
    Lowered::Written
}

/// Trainable subsampling, w[c]·(sum of each k×k block) + b[c], as a depthwise convolution
/// of stride k whose k×k kernel of map c is w[c] everywhere (the coefficient `Expand`ed).
/// Rows and columns left over when k does not divide the size are dropped by both.
pub fn subsample(b: &mut GraphBuilder, s: &Subsample, x: &str, c: &Ctx) -> Lowered {
    let (ch, k) = (s.channels as i64, s.k as i64);
    let column = b.const_i64(&c.part("column_shape"), &[4], &[ch, 1, 1, 1]);
    let coef = b.op("Reshape", &c.part("coefficients"), &[&c.params[0], &column], &c.part("coefficients"), vec![]);
    let full = b.const_i64(&c.part("kernel_shape"), &[4], &[ch, 1, k, k]);
    let kernel = b.op("Expand", &c.part("kernel"), &[&coef, &full], &c.part("kernel"), vec![]);
    let attrs = vec![attr_ints("kernel_shape", &[k, k]), attr_ints("strides", &[k, k]), attr_int("group", ch)];
    b.node("Conv", c.path, &[x, &kernel, &c.params[1]], c.out, attrs);
    Lowered::Written
}

/// The Euclidean RBF output, y[n,j] = Σᵢ (x[n,i] − centres[j,i])²: x as N×1×F minus the
/// centres K×F broadcasts to N×K×F, squared and summed over F.
pub fn rbf(b: &mut GraphBuilder, _r: &Rbf, x: &str, c: &Ctx) -> Lowered {
    let axis1 = b.const_i64(&c.part("axis1"), &[1], &[1]);
    let column = b.op("Unsqueeze", &c.part("unsqueeze"), &[x, &axis1], &c.part("x"), vec![]);
    let diff = b.op("Sub", &c.part("sub"), &[&column, &c.params[0]], &c.part("diff"), vec![]);
    let sq = b.op("Mul", &c.part("square"), &[&diff, &diff], &c.part("squares"), vec![]);
    let axis2 = b.const_i64(&c.part("axis2"), &[1], &[2]);
    b.node("ReduceSum", c.path, &[&sq, &axis2], c.out, vec![attr_int("keepdims", 0)]);
    Lowered::Written
}
