//! Initial values of every parameter and state tensor, by layer kind:
//!
//! - convolution and dense weights: uniform in ±√(6/fan_in) (He et al. 2015) when
//!   the layer feeds a ReLU (directly or through batch norm), otherwise ±√(3/fan_in)
//!   (LeCun et al. 1998, variance 1/fan_in) for tanh and sigmoid units. fan_in is
//!   (Cin/groups)·kh·kw, or for a connection table the links of that output channel
//!   times kh·kw. Biases start at 0.
//! - batch norm: γ = 1, β = 0, running mean 0, running variance 1.
//! - LeNet-5 subsampling: coefficient 1/k² (an average), bias 0.
//! - LeNet-5 RBF centres: the ±1 codes of stylised 7×12 digit bitmaps, as in the paper
//!   (Sec. II-B), for 84 inputs and up to 10 classes; otherwise random ±1 codes.
//!
//! A layer's `init`, `bias_init`, `gamma_init` and `beta_init` arguments (see
//! [`LayerInit`]) replace these defaults for its tensors: Glorot, He and LeCun, uniform or
//! normal, with fan_in = (Cin/groups)·kh·kw and fan_out = Cout·kh·kw (a dense layer's
//! inputs and outputs; a connection table's rows keep their own fan_in and share
//! fan_out = links·kh·kw/Cin), as PyTorch's and Keras' initialisers compute them.
//!
//! The same seed gives the same values.

use crate::data::rng::mix_seed;
use crate::data::Rng;
use crate::ir::{Act, Graph, LayerInit, NodeId, Op, WeightInit};
use crate::runtime::ParamStore;

/// Fills `store` with initial values for the net `g`.
pub fn initialise(store: &mut ParamStore, g: &Graph, seed: u64) {
    store.touch();
    let consumers = g.consumers();
    for i in 0..store.infos.len() {
        let info = store.infos[i].clone();
        let mut rng = Rng::new(mix_seed(seed, i as u64));
        let node = g.node(info.node);
        let v = &mut store.values[i];
        let chosen = g.init(info.node);
        if from_source(&chosen, &node.op, info.role, v, &mut rng) {
            continue;
        }
        match (&node.op, info.role) {
            (Op::Conv(c), "weight") => {
                let (kh, kw) = (c.window.kh as usize, c.window.kw as usize);
                let gain = gain(g, &consumers, info.node);
                match &c.table {
                    Some(t) => {
                        let mut at = 0;
                        for row in &t.inputs {
                            let n = row.len() * kh * kw;
                            uniform(&mut v[at..at + n], (gain / n as f64).sqrt(), &mut rng);
                            at += n;
                        }
                    }
                    None => uniform(v, (gain / ((c.in_c / c.groups) as usize * kh * kw) as f64).sqrt(), &mut rng),
                }
            }
            (Op::Dense(d), "weight") => {
                uniform(v, (gain(g, &consumers, info.node) / d.in_features as f64).sqrt(), &mut rng)
            }
            (Op::BatchNorm(_), "weight" | "running_var") => v.fill(1.0),
            (Op::Subsample(s), "weight") => v.fill(1.0 / (s.k * s.k) as f32),
            (Op::Rbf(r), "centers") => rbf_codes(v, r.classes as usize, r.in_features as usize, &mut rng),
            _ => v.fill(0.0),
        }
    }
}

/// Fills `v` as the source chose, if it chose for this tensor; false to keep the default.
fn from_source(chosen: &LayerInit, op: &Op, role: &str, v: &mut [f32], rng: &mut Rng) -> bool {
    let constant = |v: &mut [f32], x: Option<f64>| x.map(|x| v.fill(x as f32)).is_some();
    match (op, role) {
        (Op::Conv(c), "weight") => {
            let Some(w) = chosen.weight else { return false };
            let k = (c.window.kh * c.window.kw) as f64;
            match &c.table {
                Some(t) => {
                    let links: usize = t.inputs.iter().map(Vec::len).sum();
                    let fan_out = links as f64 * k / c.in_c as f64;
                    let mut at = 0;
                    for row in &t.inputs {
                        let n = row.len() * k as usize;
                        draw(w, &mut v[at..at + n], row.len() as f64 * k, fan_out, rng);
                        at += n;
                    }
                }
                None => draw(w, v, (c.in_c / c.groups) as f64 * k, c.out_c as f64 * k, rng),
            }
            true
        }
        (Op::Dense(d), "weight") => {
            let Some(w) = chosen.weight else { return false };
            draw(w, v, d.in_features as f64, d.out_features as f64, rng);
            true
        }
        (Op::Conv(_) | Op::Dense(_), "bias") => constant(v, chosen.bias),
        (Op::BatchNorm(_), "weight") => constant(v, chosen.gamma),
        (Op::BatchNorm(_), "bias") => constant(v, chosen.beta),
        _ => false,
    }
}

/// Values of `init` for a weight with these fans: uniform in ±√(3·variance) or normal with
/// that variance.
fn draw(init: WeightInit, v: &mut [f32], fan_in: f64, fan_out: f64, rng: &mut Rng) {
    let var = init.variance(fan_in.max(1.0), fan_out.max(1.0));
    match init {
        WeightInit::Zeros => v.fill(0.0),
        WeightInit::Ones => v.fill(1.0),
        w if w.is_normal() => v.iter_mut().for_each(|x| *x = rng.normal(0.0, var.sqrt() as f32)),
        _ => uniform(v, (3.0 * var).sqrt(), rng),
    }
}

/// 6 for layers feeding a ReLU (He), 6/(1 + slope²) for a leaky ReLU (He's gain for
/// it, as PyTorch's `kaiming_uniform_`), 3 otherwise (LeCun): the bound is √(gain/fan_in).
fn gain(g: &Graph, consumers: &[Vec<NodeId>], mut node: NodeId) -> f64 {
    loop {
        match consumers[node.index()].as_slice() {
            [next] => match g.node(*next).op {
                Op::BatchNorm(_) => node = *next,
                Op::Act(Act::Relu) => return 6.0,
                Op::Act(Act::LeakyRelu { slope }) => return 6.0 / (1.0 + slope * slope),
                _ => return 3.0,
            },
            _ => return 3.0,
        }
    }
}

fn uniform(v: &mut [f32], bound: f64, rng: &mut Rng) {
    for x in v {
        *x = rng.uniform(-bound as f32, bound as f32);
    }
}

/// Stylised digits on a 7×12 grid ('#' = +1, '.' = −1), one per class.
const DIGITS: [[&str; 12]; 10] = [
    [
        ".......", "..###..", ".#...#.", "#.....#", "#.....#", "#.....#", "#.....#", "#.....#", ".#...#.", "..###..",
        ".......", ".......",
    ],
    [
        ".......", "...#...", "..##...", ".#.#...", "...#...", "...#...", "...#...", "...#...", "...#...", ".#####.",
        ".......", ".......",
    ],
    [
        ".......", "..###..", ".#...#.", ".....#.", "....#..", "...#...", "..#....", ".#.....", "#......", "#######",
        ".......", ".......",
    ],
    [
        ".......", ".####..", "#....#.", "......#", ".....#.", "..###..", ".....#.", "......#", "#....#.", ".####..",
        ".......", ".......",
    ],
    [
        ".......", "....#..", "...##..", "..#.#..", ".#..#..", "#...#..", "#######", "....#..", "....#..", "....#..",
        ".......", ".......",
    ],
    [
        ".......", "#######", "#......", "#......", "#####..", ".....#.", "......#", "......#", "#....#.", ".####..",
        ".......", ".......",
    ],
    [
        ".......", "..###..", ".#.....", "#......", "#.###..", "##...#.", "#.....#", "#.....#", ".#...#.", "..###..",
        ".......", ".......",
    ],
    [
        ".......", "#######", "......#", ".....#.", "....#..", "...#...", "...#...", "..#....", "..#....", "..#....",
        ".......", ".......",
    ],
    [
        ".......", "..###..", ".#...#.", ".#...#.", "..###..", ".#...#.", "#.....#", "#.....#", ".#...#.", "..###..",
        ".......", ".......",
    ],
    [
        ".......", "..###..", ".#...#.", "#.....#", "#.....#", ".#...##", "..###.#", "......#", ".....#.", "..###..",
        ".......", ".......",
    ],
];

fn rbf_codes(v: &mut [f32], classes: usize, features: usize, rng: &mut Rng) {
    for c in 0..classes {
        let row = &mut v[c * features..(c + 1) * features];
        if features == 84 && c < DIGITS.len() {
            for (x, ch) in row.iter_mut().zip(DIGITS[c].iter().flat_map(|line| line.chars())) {
                *x = if ch == '#' { 1.0 } else { -1.0 };
            }
        } else {
            row.iter_mut().for_each(|x| *x = if rng.below(2) == 0 { -1.0 } else { 1.0 });
        }
    }
}
