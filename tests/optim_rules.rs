//! RMSprop, Nesterov momentum, the schedules with warm-up and gradient clipping against
//! values worked out independently here (in f64, from the formulas in the README), not
//! by calling the code under test twice.

use netc::autodiff::{BufId, ParamInfo};
use netc::ir::{NodeId, ParamKind};
use netc::runtime::update::{apply, Rule, Step};
use netc::runtime::ParamStore;
use netc::train::schedule::Clock;
use netc::train::{clip_gradients, gradient_norm, Optimizer, Schedule, ScheduleSpec, Span, Warmup, WarmupKind};

fn info(name: &str, len: usize) -> ParamInfo {
    ParamInfo {
        name: name.into(),
        dims: vec![len],
        kind: ParamKind::Trainable,
        node: NodeId(0),
        role: "weight",
        grad: None,
        buf: BufId(0),
        head: false,
    }
}

/// A store of trainable tensors with these values and gradients.
fn store(tensors: &[(&[f32], &[f32])]) -> ParamStore {
    ParamStore {
        infos: tensors.iter().enumerate().map(|(i, (w, _))| info(&format!("t{i}"), w.len())).collect(),
        values: tensors.iter().map(|(w, _)| w.to_vec()).collect(),
        grads: tensors.iter().map(|(_, g)| g.to_vec()).collect(),
        version: 0,
        frozen: Vec::new(),
    }
}

fn close(got: f32, want: f64, what: &str) {
    let tol = 2e-6 * want.abs().max(1.0);
    assert!((f64::from(got) - want).abs() <= tol, "{what}: got {got}, want {want}");
}

const GRADS: [[f32; 3]; 4] = [[0.5, -1.0, 0.0], [0.25, 2.0, -0.125], [-1.5, 0.5, 0.75], [0.1, -0.2, 3.0]];

#[test]
fn rmsprop_follows_tensorflows_update() {
    // TensorFlow's RMSPropOptimizer: ms starts at 1; ε inside the root; lr inside mom.
    for (decay, momentum, eps, wd) in [(0.9, 0.0, 1e-10, 0.0), (0.9, 0.9, 1.0, 0.0), (0.8, 0.5, 0.01, 0.1)] {
        let rule = Rule::RmsProp { decay: decay as f32, momentum: momentum as f32, eps: eps as f32 };
        let s = store(&[(&[1.0, -2.0, 0.5], &[0.0; 3])]);
        let mut opt = Optimizer::try_with_rule(rule, wd as f32, &s).unwrap();
        assert_eq!(opt.v[0], vec![1.0; 3], "mean squares start at 1");
        assert_eq!(opt.m[0], vec![0.0; 3]);
        let (mut w, mut ms, mut mom) = ([1.0f64, -2.0, 0.5], [1.0f64; 3], [0.0f64; 3]);
        let mut wf = s.values[0].clone();
        for (t, g) in GRADS.iter().enumerate() {
            let lr = 0.01 * (t + 1) as f64;
            for i in 0..3 {
                let d = f64::from(g[i]) + f64::from(wd as f32) * w[i];
                ms[i] = f64::from(decay as f32) * ms[i] + (1.0 - f64::from(decay as f32)) * d * d;
                mom[i] = f64::from(momentum as f32) * mom[i] + lr * d / (ms[i] + f64::from(eps as f32)).sqrt();
                w[i] -= mom[i];
            }
            let step = Step { lr: lr as f32, weight_decay: wd as f32, t: t as u64 + 1 };
            apply(rule, step, &mut wf, g, &mut opt.m[0], &mut opt.v[0]);
            for i in 0..3 {
                let what = format!("{rule:?} wd {wd} step {} element {i}", t + 1);
                close(wf[i], w[i], &format!("{what}: weight"));
                close(opt.v[0][i], ms[i], &format!("{what}: mean square"));
                close(opt.m[0][i], mom[i], &format!("{what}: momentum"));
            }
        }
    }
}

#[test]
fn rmsprop_first_step_by_hand() {
    // One element, ρ = 0.9, μ = 0, ε = 1, g = 2, lr = 0.1, from w = 1:
    // ms = 0.9·1 + 0.1·4 = 1.3; mom = 0.1·2/√2.3; w = 1 − mom.
    let rule = Rule::RmsProp { decay: 0.9, momentum: 0.0, eps: 1.0 };
    let (mut w, mut m, mut v) = ([1.0f32], [0.0f32], [1.0f32]);
    apply(rule, Step { lr: 0.1, weight_decay: 0.0, t: 1 }, &mut w, &[2.0], &mut m, &mut v);
    close(v[0], 1.3, "ms");
    close(m[0], 0.2 / 2.3f64.sqrt(), "mom");
    close(w[0], 1.0 - 0.2 / 2.3f64.sqrt(), "w");
}

#[test]
fn nesterov_follows_pytorchs_update() {
    // PyTorch's SGD(nesterov=True), dampening 0: d = g + wd·w; buf = μ·buf + d;
    // w −= lr·(d + μ·buf).
    for (mu, wd) in [(0.9, 0.0), (0.5, 0.01)] {
        let rule = Rule::Nesterov { mu: mu as f32 };
        let s = store(&[(&[1.0, -2.0, 0.5], &[0.0; 3])]);
        let mut opt = Optimizer::try_with_rule(rule, wd as f32, &s).unwrap();
        assert!(opt.v[0].is_empty(), "no second buffer");
        let (mut w, mut buf) = ([1.0f64, -2.0, 0.5], [0.0f64; 3]);
        let mut wf = s.values[0].clone();
        for (t, g) in GRADS.iter().enumerate() {
            let lr = 0.1 / (t + 1) as f64;
            for i in 0..3 {
                let d = f64::from(g[i]) + f64::from(wd as f32) * w[i];
                buf[i] = f64::from(mu as f32) * buf[i] + d;
                w[i] -= lr * (d + f64::from(mu as f32) * buf[i]);
            }
            apply(
                rule,
                Step { lr: lr as f32, weight_decay: wd as f32, t: t as u64 + 1 },
                &mut wf,
                g,
                &mut opt.m[0],
                &mut [],
            );
            for i in 0..3 {
                close(wf[i], w[i], &format!("μ {mu} wd {wd} step {} element {i}", t + 1));
                close(opt.m[0][i], buf[i], &format!("μ {mu} wd {wd} step {} buffer {i}", t + 1));
            }
        }
    }
    // By hand, one element, μ = 0.9, lr = 0.1, g = 1 then 1 from w = 0:
    // buf 1, w = −0.1·(1 + 0.9) = −0.19; buf 1.9, w = −0.19 − 0.1·(1 + 1.71) = −0.461.
    let (mut w, mut m) = ([0.0f32], [0.0f32]);
    for _ in 0..2 {
        apply(Rule::Nesterov { mu: 0.9 }, Step { lr: 0.1, weight_decay: 0.0, t: 1 }, &mut w, &[1.0], &mut m, &mut []);
    }
    close(w[0], -0.461, "two Nesterov steps");
}

fn at(step: u64) -> Clock {
    // 100 updates per epoch, 10 epochs.
    Clock { step, batches: 100, total: 1000 }
}

#[test]
fn warmup_then_schedules() {
    let base = 0.1;
    let linear = Warmup { length: Span::Epochs(2.0), kind: WarmupKind::Linear, from: 0.0 };
    let cosine = Schedule::Cosine;
    // Linear warm-up over 200 steps: from + (base − from)·s/200.
    for (s, want) in [(0, 0.0), (50, 0.025), (100, 0.05), (199, 0.0995)] {
        close(cosine.rate_at(base, Some(&linear), at(s)) as f32, want, &format!("warm-up at {s}"));
    }
    // Then cosine over the 800 steps left: ½·base·(1 + cos(π·(s − 200)/800)).
    for (s, want) in [(200, 0.1), (600, 0.05), (400, 0.05 * (1.0 + (std::f64::consts::PI / 4.0).cos())), (999, 0.0)] {
        let got = cosine.rate_at(base, Some(&linear), at(s));
        assert!((got - want).abs() < 1e-6, "cosine at {s}: {got} vs {want}");
    }
    // A linear warm-up from a start rate, in iterations.
    let from = Warmup { length: Span::Iterations(10), kind: WarmupKind::Linear, from: 0.02 };
    close(Schedule::Constant.rate_at(base, Some(&from), at(5)) as f32, 0.06, "from 0.02, half way");
    close(Schedule::Constant.rate_at(base, Some(&from), at(10)) as f32, 0.1, "after");
    // A constant warm-up (ResNet-110: 0.01 for 400 iterations, then 0.1).
    let constant = Warmup { length: Span::Iterations(400), kind: WarmupKind::Constant, from: 0.01 };
    let resnet = "step:32000it,48000it".parse::<ScheduleSpec>().unwrap().schedule(160);
    let big = |step| Clock { step, batches: 391, total: 64_000 };
    for (s, want) in
        [(0, 0.01), (399, 0.01), (400, 0.1), (31_999, 0.1), (32_000, 0.01), (47_999, 0.01), (48_000, 0.001)]
    {
        close(resnet.rate_at(base, Some(&constant), big(s)) as f32, want, &format!("resnet step {s}"));
    }
    // Without warm-up, cosine is netc's original expression.
    for s in [0, 1, 333, 999] {
        assert_eq!(cosine.rate_at(base, None, at(s)), cosine.rate(base, 0, s as f64 / 1000.0));
    }
}

#[test]
fn exponential_and_milestone_decay() {
    let base = 1.0;
    // ×0.94 every 2 epochs (Inception-v3): staircase, 0.94^⌊s/200⌋.
    let exp = "exp:0.94/2".parse::<ScheduleSpec>().unwrap().schedule(10);
    for (s, k) in [(0, 0), (199, 0), (200, 1), (399, 1), (400, 2), (999, 4)] {
        close(exp.rate_at(base, None, at(s)) as f32, 0.94f64.powi(k), &format!("exp at {s}"));
    }
    // Six times faster (BN-Inception): every 1/3 epoch = 33.3 steps.
    let fast = Schedule::Exp { gamma: 0.94, every: Span::Epochs(1.0 / 3.0) };
    for (s, k) in [(33, 0), (34, 1), (66, 1), (67, 2), (101, 3)] {
        close(fast.rate_at(base, None, at(s)) as f32, 0.94f64.powi(k), &format!("fast exp at {s}"));
    }
    // In iterations.
    let it = "exp:0.5/30it".parse::<ScheduleSpec>().unwrap().schedule(10);
    close(it.rate_at(base, None, at(59)) as f32, 0.5, "exp 30it at 59");
    close(it.rate_at(base, None, at(60)) as f32, 0.25, "exp 30it at 60");
    // Milestones in epochs with a factor: ×0.2 at epochs 3 and 6.
    let ms = "step:0.2@3,6ep".parse::<ScheduleSpec>().unwrap().schedule(10);
    for (s, want) in [(0, 1.0), (299, 1.0), (300, 0.2), (599, 0.2), (600, 0.04), (999, 0.04)] {
        close(ms.rate_at(base, None, at(s)) as f32, want, &format!("milestones at {s}"));
    }
    // netc's `step`: ×0.1 every third of the epochs (every 4 of 10).
    let thirds = "step".parse::<ScheduleSpec>().unwrap().schedule(10);
    for (s, want) in [(399, 1.0), (400, 0.1), (800, 0.01)] {
        close(thirds.rate_at(base, None, at(s)) as f32, want, &format!("thirds at {s}"));
    }
}

#[test]
fn schedules_that_do_not_fit_the_run_are_refused() {
    let w = |length| Warmup { length, kind: WarmupKind::Linear, from: 0.0 };
    let c = Schedule::Cosine;
    assert!(c.check(Some(&w(Span::Epochs(9.0))), 100, 10).is_ok());
    assert!(c.check(Some(&w(Span::Epochs(10.0))), 100, 10).is_err(), "as long as the run");
    assert!(c.check(Some(&w(Span::Iterations(5000))), 100, 10).is_err());
    let ms = |s: &str| s.parse::<ScheduleSpec>().unwrap().schedule(10);
    // Milestones and decay periods beyond the run are warned about, not refused (a
    // shortened trial of a longer recipe).
    let w = ms("step:32000,48000").check(None, 100, 10).unwrap();
    assert_eq!(w.len(), 2);
    assert!(w[0].contains("32000ep") && w[0].contains("add `it` for iterations"), "{w:?}");
    assert_eq!(ms("step:320it,480it").check(None, 100, 10), Ok(Vec::new()));
    assert_eq!(ms("exp:0.9/9").check(None, 100, 10), Ok(Vec::new()));
    assert_eq!(ms("exp:0.9/10").check(None, 100, 10).unwrap().len(), 1);
    for bad in
        ["step:48000it,32000it", "step:5,5", "step:0@3", "exp:-0.5/2", "exp:0.94/0", "exp:0.94/-1it", "exp:nan/2"]
    {
        assert!(bad.parse::<ScheduleSpec>().is_err(), "{bad} accepted");
    }
}

#[test]
fn clipping_by_global_norm() {
    // Norm √(3² + 4² + 12²) = 13.
    let mut s = store(&[(&[0.0, 0.0], &[3.0, 4.0]), (&[0.0], &[12.0])]);
    assert_eq!(gradient_norm(&s), 13.0);
    assert_eq!(clip_gradients(&mut s, 13.0), 13.0);
    assert_eq!(s.grads, vec![vec![3.0, 4.0], vec![12.0]], "at the threshold: unchanged");
    assert_eq!(clip_gradients(&mut s, 100.0), 13.0);
    assert_eq!(s.grads, vec![vec![3.0, 4.0], vec![12.0]], "below: unchanged");
    assert_eq!(clip_gradients(&mut s, 6.5), 13.0, "the norm before clipping");
    assert_eq!(s.grads, vec![vec![1.5, 2.0], vec![6.0]], "halved");
    assert!((gradient_norm(&s) - 6.5).abs() < 1e-12);
    // A frozen tensor is neither counted nor scaled.
    let mut s = store(&[(&[0.0, 0.0], &[3.0, 4.0]), (&[0.0], &[12.0])]);
    s.frozen = vec![false, true];
    assert_eq!(clip_gradients(&mut s, 2.5), 5.0);
    assert_eq!(s.grads, vec![vec![1.5, 2.0], vec![12.0]]);
}
