//! Independent oracles written straight from the contract's formulas, sharing no code
//! with the kernels: a direct nested-loop convolution and a plain matrix product.

use super::Tensor;
use netc::ir::Conv;

/// The input channels of output `o` with the weight row of each link, straight from
/// the contract: table rows in order, or the channels of o's group.
fn links_of(c: &Conv, o: usize) -> Vec<(usize, usize)> {
    match &c.table {
        Some(t) => {
            let first: usize = t.inputs[..o].iter().map(Vec::len).sum();
            t.inputs[o].iter().enumerate().map(|(k, &ch)| (ch as usize, first + k)).collect()
        }
        None => {
            let per_in = (c.in_c / c.groups) as usize;
            let group = o / (c.out_c / c.groups) as usize;
            (0..per_in).map(|k| (group * per_in + k, o * per_in + k)).collect()
        }
    }
}

/// y[n,o,i,j] = b[o] + Σ_{links (c, row)} Σ_{p,q} w[row,p,q]·x[n, c, i·sh − pt + p, j·sw − pl + q],
/// out-of-range reads being 0; output size from the plain floor formula.
pub fn conv(c: &Conv, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    let [n, _, h, wd] = x.dims[..] else { panic!("x must be NCHW") };
    let win = &c.window;
    let (kh, kw, sh, sw) = (win.kh as usize, win.kw as usize, win.sh as usize, win.sw as usize);
    let (pt, pl) = (win.pad.top as i64, win.pad.left as i64);
    let oh = (h + (win.pad.top + win.pad.bottom) as usize - kh) / sh + 1;
    let ow = (wd + (win.pad.left + win.pad.right) as usize - kw) / sw + 1;
    let out_c = c.out_c as usize;
    let mut y = Tensor::zeros(&[n, out_c, oh, ow]);
    for s in 0..n {
        for o in 0..out_c {
            let links = links_of(c, o);
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b.data[o]);
                    for &(ch, row) in &links {
                        for p in 0..kh {
                            for q in 0..kw {
                                let ih = (i * sh) as i64 - pt + p as i64;
                                let iw = (j * sw) as i64 - pl + q as i64;
                                if ih < 0 || iw < 0 || ih >= h as i64 || iw >= wd as i64 {
                                    continue;
                                }
                                let xv = x.data[((s * x.dims[1] + ch) * h + ih as usize) * wd + iw as usize];
                                acc += w.data[(row * kh + p) * kw + q] * xv;
                            }
                        }
                    }
                    y.data[((s * out_c + o) * oh + i) * ow + j] = acc;
                }
            }
        }
    }
    y
}

/// y = x·wᵀ + b for x N×in, w out×in.
pub fn matmul(x: &Tensor, w: &Tensor, b: Option<&Tensor>, fin: usize, fout: usize) -> Tensor {
    let n = x.dims[0];
    let mut y = Tensor::zeros(&[n, fout]);
    for s in 0..n {
        for o in 0..fout {
            let dot: f64 = (0..fin).map(|i| x.data[s * fin + i] * w.data[o * fin + i]).sum();
            y.data[s * fout + o] = dot + b.map_or(0.0, |b| b.data[o]);
        }
    }
    y
}
