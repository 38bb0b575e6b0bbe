//! The optimizer kernels against `Optimizer::step`, bit for bit: every kind
//! (RMSprop also with momentum and ε = 1),
//! weight decay on and off, several steps, parts in shuffled order, FMA on
//! and forced off.

use crate::jit_ops_support::*;
use netc::autodiff::{BufId, ParamInfo};
use netc::codegen::kernels::ops::{compile_optimizer_with, OpOptions};
use netc::ir::{NodeId, ParamKind};
use netc::runtime::update::{apply, Rule, Step};
use netc::runtime::ParamStore;
use netc::train::{Optimizer, OptimizerKind};

/// A store with one trainable tensor of `len` floats.
fn store_of(values: Vec<f32>) -> ParamStore {
    let info = ParamInfo {
        name: "w".into(),
        dims: vec![values.len()],
        kind: ParamKind::Trainable,
        node: NodeId(0),
        role: "weight",
        grad: None,
        buf: BufId(0),
        head: false,
    };
    ParamStore {
        infos: vec![info],
        grads: vec![vec![0.0; values.len()]],
        values: vec![values],
        version: 0,
        frozen: Vec::new(),
    }
}

#[test]
fn optimizers_match_step_bit_for_bit() {
    let mut g = Gen::new(13);
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adam,
        OptimizerKind::RmsProp,
    ] {
        for (i, len) in [1usize, 3, 4, 37, 1003].into_iter().enumerate() {
            let wd = if i % 2 == 0 { 0.0 } else { 5e-3 };
            let init = g.vals(len, -1.0, 1.0);
            let mut store = store_of(init.clone());
            let rule = match kind {
                OptimizerKind::RmsProp if i % 2 == 1 => Rule::RmsProp { decay: 0.9, momentum: 0.9, eps: 1.0 },
                _ => kind.rule(),
            };
            let mut opt = Optimizer::try_with_rule(rule, wd, &store).expect("memory");
            let mut jit_w = init;
            let start = |b: &Vec<f32>| if b.is_empty() { vec![0.0f32; len] } else { b.clone() };
            let (mut m, mut v) = (start(&opt.m[0]), start(&opt.v[0]));
            for (j, jit) in jits().iter().enumerate() {
                let opts = OpOptions { grain: 1 + 7 * j, max_parts: 5 };
                let k = compile_optimizer_with(jit, rule, len, &opts).expect("compile");
                for step in 1..=3u64 {
                    let grad = g.vals(len, -1.0, 1.0);
                    store.grads[0].copy_from_slice(&grad);
                    let lr = 0.1 / step as f32;
                    opt.t += 1;
                    let update = Step { lr, weight_decay: wd, t: opt.t };
                    apply(rule, update, &mut store.values[0], &store.grads[0], &mut opt.m[0], &mut opt.v[0]);
                    let t = (j as u64) * 3 + step;
                    let mut order: Vec<usize> = (0..k.parts()).collect();
                    g.0.shuffle(&mut order);
                    for p in order {
                        // SAFETY: every buffer holds `len` floats.
                        unsafe {
                            k.run(jit_w.as_mut_ptr(), grad.as_ptr(), m.as_mut_ptr(), v.as_mut_ptr(), lr, wd, t, p)
                        };
                    }
                    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    let what = format!("{rule:?} len {len} wd {wd} step {t}");
                    assert_eq!(bits(&jit_w), bits(&store.values[0]), "{what}: weights");
                    if kind != OptimizerKind::Sgd {
                        assert_eq!(bits(&m), bits(&opt.m[0]), "{what}: first moments");
                    }
                    if kind.has_v() {
                        assert_eq!(bits(&v), bits(&opt.v[0]), "{what}: second moments");
                    }
                }
            }
        }
    }
}
