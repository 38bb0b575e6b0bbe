//! End-to-end gradient checks: the whole training program of a net (forward, loss,
//! backward through every rule) against central finite differences of the loss, in f64.

mod common;

use netc::autodiff;
use netc::data::Rng;
use netc::ir::ParamKind;
use netc::runtime::reference::KernelCtx;
use netc::runtime::{Executor, ParamStore};

/// Checks d(loss)/d(param) for a sample of entries of every trainable tensor.
fn gradcheck(src: &str, batch: usize, samples_per_tensor: usize) {
    let mut sources = netc::diag::SourceMap::new();
    let g = netc::driver::compile(&mut sources, "t.net", src).unwrap_or_else(|f| panic!("{:?}", f.diagnostics));
    let program = autodiff::training(&g).expect("a classifier");
    let mut store = ParamStore::new(&program.params);
    netc::train::initialise(&mut store, &g, 3);
    let mut params: Vec<Vec<f64>> = store.values.iter().map(|v| v.iter().map(|&x| f64::from(x)).collect()).collect();
    let mut grads: Vec<Vec<f64>> = store.grads.iter().map(|v| vec![0.0; v.len()]).collect();
    let mut exec: Executor<f64> = Executor::new(program.clone(), batch);
    let mut rng = Rng::new(11);
    let input_len = program.buffer(program.input).len(batch);
    let images: Vec<f64> = (0..input_len).map(|_| f64::from(rng.uniform(-1.0, 1.0))).collect();
    let labels: Vec<f64> = (0..batch).map(|i| (i % program.classes) as f64).collect();
    exec.buffer_mut(program.input, batch).copy_from_slice(&images);
    exec.buffer_mut(program.labels.unwrap(), batch).copy_from_slice(&labels);
    let ctx = KernelCtx { seed: 5, step: 0 };
    // Batch norm updates its running statistics in place; restore them around every run.
    let snapshot = params.clone();
    let loss_at = |exec: &mut Executor<f64>, params: &mut Vec<Vec<f64>>, grads: &mut Vec<Vec<f64>>| {
        for ((p, s), info) in params.iter_mut().zip(&snapshot).zip(&program.params) {
            if info.kind == ParamKind::State {
                p.clone_from(s);
            }
        }
        exec.run(0..program.steps.len(), batch, params, grads, &ctx);
        exec.buffer(program.loss.unwrap(), batch)[0]
    };
    let loss = loss_at(&mut exec, &mut params, &mut grads);
    let analytic = grads.clone();
    // Central differences carry round-off of about ε·|loss|/h ≈ 1e-10·|loss|.
    let noise = 1e-8 * loss.abs().max(1.0);
    let h = 1e-6;
    let mut worst = 0.0f64;
    let (mut compared, mut significant) = (0, 0);
    for (i, info) in program.params.iter().enumerate().filter(|(_, p)| p.kind == ParamKind::Trainable) {
        for _ in 0..samples_per_tensor.min(info.len()) {
            let j = rng.below(info.len() as u64) as usize;
            let keep = params[i][j];
            params[i][j] = keep + h;
            let up = loss_at(&mut exec, &mut params, &mut grads);
            params[i][j] = keep - h;
            let down = loss_at(&mut exec, &mut params, &mut grads);
            params[i][j] = keep;
            let numeric = (up - down) / (2.0 * h);
            let a = analytic[i][j];
            // Gradients at the round-off level (some are exactly 0, e.g. a bias before batch
            // norm) are compared absolutely, the others relatively.
            let err = (a - numeric).abs() / (a.abs() + numeric.abs()).max(1e-12);
            compared += 1;
            if a.abs().max(numeric.abs()) < 100.0 * noise {
                assert!((a - numeric).abs() < noise, "{}[{j}]: analytic {a:e}, numeric {numeric:e}", info.name);
                continue;
            }
            significant += 1;
            worst = worst.max(err);
            assert!(err < 1e-5, "{}[{j}]: analytic {a:e}, numeric {numeric:e} (relative error {err:e})", info.name);
        }
    }
    eprintln!("worst relative error {worst:e} over {significant} of {compared} entries (loss {loss})");
    assert!(
        significant * 2 > compared,
        "only {significant} of {compared} sampled gradients are non-negligible: the check is vacuous"
    );
}

#[test]
fn lenet5_gradients_match_finite_differences() {
    gradcheck(&common::zoo_source("lenet"), 2, 12);
}

#[test]
fn lenet_keras_gradients_match_finite_differences() {
    // Max pooling has kinks; random inputs make ties (and so mismatches) vanishingly unlikely.
    gradcheck(&common::zoo_source("lenet-keras"), 2, 12);
}

#[test]
fn lenet_classic_gradients_match_finite_differences() {
    gradcheck(&common::zoo_source("lenet-classic"), 2, 12);
}

#[test]
fn every_other_op_in_one_net() {
    // Batch norm on maps and vectors, LRN, grouped and asymmetric convolutions, padding,
    // concatenation, residual scaling, global pooling, sigmoid and a final softmax.
    let src = "input 4x9x9
block branchy() {
  a = conv(4, 1x3, pad = 0x1, groups = 2) bn relu
  b = zeropad([1, 0, 0, 1]) conv(2, 2, bias = false) sigmoid
  up = cat(a, b) conv(in.c, 1)
  (in + 0.3 * up) lrn(3, 0.01, 0.75, 2)
}
branchy avgpool(3, 2, pad = 1, count_pad = false) conv(6, 3, 2, pad = same) tanh
gap flatten dense(5) bn scaled_tanh dense(3) softmax
";
    gradcheck(src, 3, 10);
}

#[test]
fn leaky_relu_gradients() {
    // The activation that demonstrates the adding-an-op checklist (lib.rs): its gradient
    // is taken from the output, fused into a convolution's and a dense layer's backward.
    let src = "input 2x6x6
conv(3, 3) leaky_relu(0.2) maxpool(2)
flatten dense(6) leaky_relu dense(3)
";
    gradcheck(src, 3, 10);
}

#[test]
fn option_a_shortcuts() {
    // The CIFAR ResNets' parameter-free shortcut: x[:, :, ::2, ::2] (a 1×1 max pool of
    // stride 2) padded with zero channels, evenly and unevenly; the gradient reaches the
    // first convolution through both the main path and the shortcut.
    let src = "input 2x6x6
default conv(bias = false)
block basic(w, stride, channels) {
  main = conv(w, 3, stride, pad = 1) bn relu -> conv(w, 3, pad = 1) bn
  (main + maxpool(1, stride) zeropad(channels = channels)) relu
}
conv(2, 3, pad = 1) bn relu
basic(4, 2, 1) basic(7, 1, [2, 1])
gap flatten dense(3)
";
    gradcheck(src, 2, 10);
}

#[test]
fn auxiliary_head_gradients() {
    // The loss is the net's plus 0.3 × the head's (tests/aux_heads.rs checks that sum against
    // separate nets); here its gradient reaches the head and, through both paths, the trunk.
    let src = "input 2x6x6
conv(3, 3) bn relu
aux side(weight = 0.3) { conv(4, 1) tanh gap flatten dense(3) }
conv(4, 3) relu gap flatten dense(3)
";
    gradcheck(src, 3, 10);
}
