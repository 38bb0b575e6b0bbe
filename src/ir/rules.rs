//! Shape rules: the output shape of each op from its input shapes, with every
//! check a user can trip (mismatched channels, windows larger than their input, ...).

use super::op::*;
use super::shape::Shape;

/// What is wrong, without a location; the elaborator attaches spans.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeError {
    pub kind: ShapeErrorKind,
    pub message: String,
    /// The argument at fault (`"kernel"`, `"pad"`, `"table"`, ...), if one is.
    pub culprit: Option<&'static str>,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeErrorKind {
    AddMismatch,
    ConcatMismatch,
    WindowTooLarge,
    NonPositive,
    Rank,
    Channels,
    Overflow,
}

impl ShapeError {
    fn new(kind: ShapeErrorKind, message: impl Into<String>) -> ShapeError {
        ShapeError { kind, message: message.into(), culprit: None, hint: None }
    }
    fn at(mut self, arg: &'static str) -> ShapeError {
        self.culprit = Some(arg);
        self
    }
    fn hint(mut self, hint: impl Into<String>) -> ShapeError {
        self.hint = Some(hint.into());
        self
    }
}

type Result<T> = std::result::Result<T, ShapeError>;
use ShapeErrorKind::*;

impl Op {
    /// The output shape for these inputs, or why the op cannot take them.
    pub fn infer(&self, inputs: &[Shape]) -> Result<Shape> {
        let out = match self {
            Op::Input => return Err(ShapeError::new(Rank, "an input node takes no inputs")),
            Op::Add => add(inputs)?,
            Op::Concat => concat(inputs)?,
            _ => {
                let [x] = inputs else {
                    return Err(ShapeError::new(
                        Rank,
                        format!("{} takes one input, got {}", self.kind(), inputs.len()),
                    ));
                };
                unary(self, *x)?
            }
        };
        if out.numel().is_none() {
            return Err(ShapeError::new(Overflow, format!("the output {out} has more than 2^64 elements")));
        }
        Ok(out)
    }
}

fn unary(op: &Op, x: Shape) -> Result<Shape> {
    match op {
        Op::Conv(c) => conv(c, x),
        Op::Pool(p) => pool(p, x),
        Op::GlobalAvgPool => {
            let (c, _, _) = need_map(op, x)?;
            Ok(Shape::map(c, 1, 1))
        }
        Op::Dense(d) => {
            need_vector(op, x)?;
            expect_channels(x.channels(), d.in_features, "input features")?;
            positive(d.out_features, "output features", "out")?;
            Ok(Shape::Flat(d.out_features))
        }
        Op::Flatten => x.numel().map(Shape::Flat).ok_or_else(|| ShapeError::new(Overflow, "flattened size overflows")),
        Op::BatchNorm(b) => expect_channels(x.channels(), b.channels, "channels").map(|_| x),
        Op::Lrn(l) => {
            need_map(op, x)?;
            positive(l.size, "window size", "size")?;
            Ok(x)
        }
        Op::Dropout { .. } | Op::Act(_) | Op::Scale { .. } => Ok(x),
        Op::Softmax => need_vector(op, x).map(|_| x),
        Op::Subsample(s) => subsample(s, x, op),
        Op::Rbf(r) => {
            need_vector(op, x)?;
            expect_channels(x.channels(), r.in_features, "input features")?;
            positive(r.classes, "classes", "classes")?;
            Ok(Shape::Flat(r.classes))
        }
        Op::ZeroPad(p) => {
            let (c, h, w) = need_map(op, x)?;
            if c.checked_add(p.channels_before).and_then(|c| c.checked_add(p.channels_after)).is_none() {
                return Err(ShapeError::new(Overflow, "padded channel count overflows").at("channels"));
            }
            match p.padded(c, h, w) {
                Some((c, h, w)) => Ok(Shape::map(c, h, w)),
                None => Err(ShapeError::new(Overflow, "padded size overflows").at("pad")),
            }
        }
        Op::Input | Op::Add | Op::Concat => unreachable!("handled by Op::infer"),
    }
}

fn conv(c: &Conv, x: Shape) -> Result<Shape> {
    let (in_c, h, w) = need_map(&Op::Conv(c.clone()), x)?;
    expect_channels(in_c, c.in_c, "input channels")?;
    positive(c.out_c, "output channels", "out")?;
    positive(c.groups, "groups", "groups")?;
    match &c.table {
        Some(t) => check_table(t, c.in_c, c.out_c)?,
        None => {
            for (what, n) in [("input", c.in_c), ("output", c.out_c)] {
                if n % c.groups != 0 {
                    return Err(ShapeError::new(
                        Channels,
                        format!("{n} {what} channels do not split into {} groups", c.groups),
                    )
                    .at("groups")
                    .hint("groups must divide both the input and the output channels"));
                }
            }
        }
    }
    let (oh, ow) = window_out(&c.window, h, w, false)?;
    Ok(Shape::map(c.out_c, oh, ow))
}

fn check_table(t: &ConnTable, in_c: u64, out_c: u64) -> Result<()> {
    let bad = |m: String| Err(ShapeError::new(Channels, m).at("table"));
    if t.inputs.len() as u64 != out_c {
        return bad(format!(
            "the connection table has {} rows but the layer has {out_c} output channels",
            t.inputs.len()
        ));
    }
    for (o, row) in t.inputs.iter().enumerate() {
        if row.is_empty() {
            return bad(format!("output channel {o} is connected to no input channel"));
        }
        if let Some(&i) = row.iter().find(|&&i| u64::from(i) >= in_c) {
            return bad(format!(
                "output channel {o} reads input channel {i}, but the input has {in_c} channels (0..{})",
                in_c - 1
            ));
        }
        let mut sorted = row.clone();
        sorted.sort_unstable();
        if let Some(pair) = sorted.windows(2).find(|p| p[0] == p[1]) {
            return bad(format!("output channel {o} lists input channel {} twice", pair[0]));
        }
    }
    Ok(())
}

fn pool(p: &Pool, x: Shape) -> Result<Shape> {
    let (c, h, w) = need_map(&Op::Pool(*p), x)?;
    let win = &p.window;
    if win.pad.top.max(win.pad.bottom) >= win.kh || win.pad.left.max(win.pad.right) >= win.kw {
        return Err(ShapeError::new(WindowTooLarge, "pooling padding must be smaller than the window")
            .at("pad")
            .hint("a window lying entirely in the padding has nothing to pool"));
    }
    let (oh, ow) = window_out(win, h, w, p.ceil)?;
    Ok(Shape::map(c, oh, ow))
}

fn subsample(s: &Subsample, x: Shape, op: &Op) -> Result<Shape> {
    let (c, h, w) = need_map(op, x)?;
    expect_channels(c, s.channels, "channels")?;
    positive(s.k, "window", "kernel")?;
    if s.k > h || s.k > w {
        return Err(ShapeError::new(WindowTooLarge, format!("a {0}×{0} window does not fit the {h}×{w} input", s.k))
            .at("kernel"));
    }
    Ok(Shape::map(c, h / s.k, w / s.k))
}

/// Output size of a sliding window along both axes.
pub fn window_out(win: &Window, h: u64, w: u64, ceil: bool) -> Result<(u64, u64)> {
    for (what, v, arg) in [
        ("kernel height", win.kh, "kernel"),
        ("kernel width", win.kw, "kernel"),
        ("stride", win.sh, "stride"),
        ("stride", win.sw, "stride"),
    ] {
        positive(v, what, arg)?;
    }
    let oh = axis_out(h, win.kh, win.sh, win.pad.top, win.pad.bottom, ceil, "height")?;
    let ow = axis_out(w, win.kw, win.sw, win.pad.left, win.pad.right, ceil, "width")?;
    Ok((oh, ow))
}

fn axis_out(n: u64, k: u64, s: u64, lo: u64, hi: u64, ceil: bool, axis: &str) -> Result<u64> {
    let padded = n
        .checked_add(lo)
        .and_then(|v| v.checked_add(hi))
        .ok_or_else(|| ShapeError::new(Overflow, "padded size overflows").at("pad"))?;
    if k > padded {
        let msg = format!(
            "the kernel {axis} {k} is larger than the padded input {axis} {padded} ({n} + {lo} + {hi} padding)"
        );
        return Err(ShapeError::new(WindowTooLarge, msg)
            .at("kernel")
            .hint("use a smaller kernel, more padding, or remove a downsampling layer before this one"));
    }
    let span = padded - k;
    let mut out = if ceil { span.div_ceil(s) + 1 } else { span / s + 1 };
    // Caffe and PyTorch drop a last window that would start inside the trailing padding.
    if ceil && (out - 1) * s >= n + lo {
        out -= 1;
    }
    Ok(out)
}

fn add(inputs: &[Shape]) -> Result<Shape> {
    let Some((first, rest)) = inputs.split_first() else {
        return Err(ShapeError::new(Rank, "an addition needs at least one operand"));
    };
    for (i, s) in rest.iter().enumerate() {
        if s != first {
            let kind = if s.channels() != first.channels() { "channel" } else { "shape" };
            return Err(ShapeError {
                kind: AddMismatch,
                message: format!("{kind} mismatch at an addition: operand 1 is {first}, operand {} is {s}", i + 2),
                culprit: None,
                hint: Some(
                    "use a projection on the shortcut, e.g. `conv(out, 1, stride) bn`, so both sides match".into(),
                ),
            });
        }
    }
    Ok(*first)
}

fn concat(inputs: &[Shape]) -> Result<Shape> {
    let Some((first, _)) = inputs.split_first() else {
        return Err(ShapeError::new(Rank, "a concatenation needs at least one branch"));
    };
    let mut total: u64 = 0;
    for (i, s) in inputs.iter().enumerate() {
        let same_kind = matches!((first, s), (Shape::Map { .. }, Shape::Map { .. }) | (Shape::Flat(_), Shape::Flat(_)));
        if !same_kind || s.spatial() != first.spatial() {
            return Err(ShapeError::new(
                ConcatMismatch,
                format!("spatial mismatch at a concatenation: branch 1 is {first}, branch {} is {s}", i + 1),
            )
            .hint("branches must keep the same height and width; check their strides and padding"));
        }
        total = total
            .checked_add(s.channels())
            .ok_or_else(|| ShapeError::new(Overflow, "concatenated channels overflow"))?;
    }
    Ok(match *first {
        Shape::Map { h, w, .. } => Shape::map(total, h, w),
        Shape::Flat(_) => Shape::Flat(total),
    })
}

fn need_map(op: &Op, x: Shape) -> Result<(u64, u64, u64)> {
    match x {
        Shape::Map { c, h, w } => Ok((c, h, w)),
        Shape::Flat(n) => Err(ShapeError::new(
            Rank,
            format!("{} needs a C×H×W feature map, but its input is a flat vector of {n}", op.kind()),
        )
        .hint("spatial layers must come before `flatten` or `dense`")),
    }
}

fn need_vector(op: &Op, x: Shape) -> Result<()> {
    if x.is_vector_like() {
        return Ok(());
    }
    Err(ShapeError::new(Rank, format!("{} needs a flat vector (or C×1×1), but its input is {x}", op.kind()))
        .hint("insert `flatten` (keeps every value) or `gap` (averages each map) before it"))
}

fn expect_channels(got: u64, want: u64, what: &str) -> Result<()> {
    if got == want {
        return Ok(());
    }
    Err(ShapeError::new(Channels, format!("{what}: the layer was built for {want} but its input has {got}")))
}

fn positive(v: u64, what: &str, arg: &'static str) -> Result<()> {
    if v == 0 {
        return Err(ShapeError::new(NonPositive, format!("{what} must be positive, got 0")).at(arg));
    }
    Ok(())
}
