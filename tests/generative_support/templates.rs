//! Fixed shapes of blocks the generator instantiates with random arguments: ResNet's
//! basic block (a projection on the shortcut when the shape changes) and
//! Inception-ResNet's scaled residual, plus the exact-size projection used to make
//! branches meet.

use super::model::*;

pub fn env_child(env: &Env, x: Sh) -> Env {
    Env { input: Some(x), ..env.clone() }
}

/// `conv(c, [kh, kw])`: stride 1, no padding, so the output shrinks by kh−1 × kw−1.
pub fn conv_to(c: u64, k: (u64, u64)) -> Layer {
    Layer::Conv {
        out: E::K(c as i64),
        k,
        form: KForm::List,
        stride: None,
        pad: None,
        groups: None,
        bias: None,
        table: None,
    }
}

/// ResNet's basic block: `main` and a projected shortcut when the shape changes.
pub fn residual_block(name: &str, with_bn: bool) -> Block {
    let bn = || Stage::Layer(Layer::Bn { eps: None, momentum: None });
    let conv = |k: u64, stride: Option<E>, pad: Option<Pad>| {
        Stage::Layer(Layer::Conv {
            out: E::Name("w".into()),
            k: (k, k),
            form: KForm::Square,
            stride,
            pad,
            groups: None,
            bias: None,
            table: None,
        })
    };
    let s = || Some(E::Name("s".into()));
    let mut main = vec![conv(3, s(), Some(Pad::N(1)))];
    if with_bn {
        main.push(bn());
    }
    main.push(Stage::Layer(Layer::Plain("relu")));
    main.push(conv(3, None, Some(Pad::N(1))));
    if with_bn {
        main.push(bn());
    }
    let mut proj = vec![conv(1, s(), None)];
    if with_bn {
        proj.push(bn());
    }
    let changes = B::Or(
        Box::new(B::Cmp(E::Name("s".into()), "!=", E::K(1))),
        Box::new(B::Cmp(E::InC, "!=", E::Name("w".into()))),
    );
    let short = Chain::of(vec![Stage::If(changes, Chain::of(proj), None)]);
    let sum = Stage::Sum(vec![
        Term { factor: None, chain: Chain::of(vec![Stage::Tensor("main".into())]) },
        Term { factor: None, chain: Chain::of(vec![Stage::Tensor("short".into())]) },
    ]);
    Block {
        name: name.into(),
        params: vec![("w".into(), None), ("s".into(), Some(Val::Int(1)))],
        body: vec![
            Stmt::Bind("main".into(), Chain::of(main)),
            Stmt::Bind("short".into(), short),
            Stmt::Flow(Chain::of(vec![sum, Stage::Layer(Layer::Plain("relu"))])),
        ],
    }
}

/// Inception-ResNet's pattern: `in + r · up(cat(branches))`, then a ReLU if `act`.
pub fn inception_residual_block(name: &str, width: i64) -> Block {
    let conv = |c: E, k: u64, pad: Option<Pad>| {
        Stage::Layer(Layer::Conv {
            out: c,
            k: (k, k),
            form: KForm::Square,
            stride: None,
            pad,
            groups: None,
            bias: None,
            table: None,
        })
    };
    let relu = || Stage::Layer(Layer::Plain("relu"));
    let up = Chain::of(vec![
        Stage::Cat(vec![
            Chain::of(vec![conv(E::K(width), 1, None), relu()]),
            Chain::of(vec![conv(E::K(width), 1, None), relu(), conv(E::K(width + 1), 3, Some(Pad::N(1))), relu()]),
            Chain::of(vec![
                Stage::Layer(Layer::Pool {
                    max: true,
                    k: (3, 3),
                    stride: Some(1),
                    pad: Some(1),
                    ceil: None,
                    count_pad: None,
                }),
                conv(E::K(2), 1, None),
            ]),
        ]),
        conv(E::InC, 1, None),
    ]);
    let sum = Stage::Sum(vec![
        Term { factor: None, chain: Chain::of(vec![Stage::Tensor("in".into())]) },
        Term { factor: Some("r".into()), chain: Chain::of(vec![Stage::Tensor("up".into())]) },
    ]);
    let act = Stage::If(B::Name("act".into()), Chain::of(vec![relu()]), None);
    Block {
        name: name.into(),
        params: vec![("r".into(), Some(Val::Float(0.2))), ("act".into(), Some(Val::Bool(true)))],
        body: vec![Stmt::Bind("up".into(), up), Stmt::Flow(Chain::of(vec![sum, act]))],
    }
}
