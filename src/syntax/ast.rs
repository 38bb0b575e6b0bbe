//! The abstract syntax tree of a `.net` file. Every node carries its [`Span`].

use crate::diag::Span;

/// A whole `.net` file, items in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `input 3x224x224`
    Input { dims: Vec<i64>, span: Span },
    /// `default conv(bias = false)`: default keyword arguments for a layer or block.
    Default { target: Ident, args: Vec<Arg>, span: Span },
    /// `block name(params) { body }`
    Block(BlockDef),
    /// A top-level statement; together they form the network body.
    Stmt(Stmt),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockDef {
    pub name: Ident,
    pub params: Vec<Param>,
    pub body: Body,
    pub span: Span,
}

/// A block parameter with an optional default value.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub default: Option<Expr>,
}

/// Statements between braces; the flow of the last chain is the body's output.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `let name = expr`: a value (number, list, ...).
    Let { name: Ident, value: Expr, span: Span },
    /// `name = chain`: a tensor computed from the current flow; the flow is unchanged.
    Bind { name: Ident, chain: Chain, span: Span },
    /// A chain applied to the current flow; its result becomes the flow.
    Chain(Chain),
    /// `aux name(weight = 0.3) { body }`: an auxiliary head reading the flow; the flow is unchanged.
    Head(HeadDef),
}

/// An auxiliary classifier: trained with `weight ×` its loss, left out of inference.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadDef {
    pub name: Ident,
    /// `None` without parentheses.
    pub args: Option<Vec<Arg>>,
    pub body: Body,
    pub span: Span,
}

/// Stages applied one after the other.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    pub stages: Vec<Stage>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub label: Option<Ident>,
    pub kind: StageKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StageKind {
    /// A layer, a block instance, or a tensor name (`conv(64, 3)`, `bottleneck(64)`, `main`).
    Call(Call),
    /// `repeat n as i { body }`: n copies in sequence, `i` = 0..n-1.
    Repeat { count: Expr, var: Option<Ident>, body: Body },
    /// `if cond { body } else { body }`; a missing else is the identity.
    If { cond: Expr, then: Body, otherwise: Option<Else> },
    /// `cat(chain, chain, ...)`: branches from the flow, concatenated along channels.
    Cat(Vec<Chain>),
    /// `(term + term + ...)`: branches from the flow, added; a single term just groups.
    Group(Vec<Term>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Else {
    If(Box<Stage>),
    Body(Body),
}

/// One operand of a sum: `0.17 * chain` or `chain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub factor: Option<Expr>,
    pub chain: Chain,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: Ident,
    /// `None` for a bare name (`relu`), `Some(vec![])` for `relu()`.
    pub args: Option<Vec<Arg>>,
    pub span: Span,
}

/// A positional (`64`) or keyword (`stride = 2`) argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    /// `3x3`, `1x7`
    Dims(Vec<i64>),
    List(Vec<Expr>),
    Name(String),
    /// `in.c`: a field of a tensor's shape.
    Field(Box<Expr>, Ident),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }
}
