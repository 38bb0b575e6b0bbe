//! pest pairs → AST nodes.

use super::ast::*;
use super::errors;
use crate::diag::{codes, Diagnostic, FileId, Span};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;
use std::sync::OnceLock;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/net.pest"]
pub(super) struct NetParser;

/// Bounds pest's backtracking so pathological inputs fail fast instead of spinning.
const CALL_LIMIT: usize = 50_000_000;
/// Deepest expression tree accepted (`1 + 1 + ...` is as deep as it is long).
const MAX_EXPR_DEPTH: usize = 200;

pub fn parse_file(text: &str, file: FileId) -> Result<File> {
    pest::set_call_limit(std::num::NonZeroUsize::new(CALL_LIMIT));
    pest::set_error_detail(true);
    let mut pairs = NetParser::parse(Rule::file, text).map_err(|e| errors::from_pest(e, text, file))?;
    let root = pairs.next().expect("grammar: file always yields one pair");
    let lower = Lower { file };
    let mut items = Vec::new();
    for pair in root.into_inner() {
        if pair.as_rule() != Rule::EOI {
            items.push(lower.item(pair)?);
        }
    }
    Ok(File { items })
}

fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    PRATT.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::or, Assoc::Left))
            .op(Op::infix(Rule::and, Assoc::Left))
            .op(Op::prefix(Rule::not))
            .op(Op::infix(Rule::eq, Assoc::Left)
                | Op::infix(Rule::ne, Assoc::Left)
                | Op::infix(Rule::lt, Assoc::Left)
                | Op::infix(Rule::le, Assoc::Left)
                | Op::infix(Rule::gt, Assoc::Left)
                | Op::infix(Rule::ge, Assoc::Left))
            .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
            .op(Op::infix(Rule::mul, Assoc::Left)
                | Op::infix(Rule::div, Assoc::Left)
                | Op::infix(Rule::rem, Assoc::Left))
            .op(Op::prefix(Rule::neg))
            .op(Op::postfix(Rule::field))
    })
}

type Result<T> = std::result::Result<T, Diagnostic>;

struct Lower {
    file: FileId,
}

impl Lower {
    /// The pair's span without trailing blanks (pest keeps the whitespace it
    /// skipped before an optional part that then did not match).
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        let len = pair.as_str().trim_end_matches([' ', '\t']).len();
        Span::new(self.file, s.start(), s.start() + len)
    }

    fn item(&self, pair: Pair<Rule>) -> Result<Item> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::input_decl => {
                let dims = pair.into_inner().nth(1).expect("grammar: input has dims");
                Ok(Item::Input { dims: self.dims(&dims)?, span })
            }
            Rule::default_decl => {
                let mut inner = pair.into_inner().skip(1);
                let target = self.ident(inner.next().expect("grammar: default has a target"));
                let args = inner.map(|a| self.arg(a)).collect::<Result<_>>()?;
                Ok(Item::Default { target, args, span })
            }
            Rule::block_def => Ok(Item::Block(self.block(pair)?)),
            _ => Ok(Item::Stmt(self.stmt(pair)?)),
        }
    }

    fn block(&self, pair: Pair<Rule>) -> Result<BlockDef> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().skip(1);
        let name = self.ident(inner.next().expect("grammar: block has a name"));
        let mut params = Vec::new();
        let mut body = None;
        for p in inner {
            match p.as_rule() {
                Rule::param => {
                    let mut pi = p.into_inner();
                    let name = self.ident(pi.next().expect("grammar: param has a name"));
                    let default = pi.next().map(|e| self.expr(e)).transpose()?;
                    params.push(Param { name, default });
                }
                _ => body = Some(self.body(p)?),
            }
        }
        Ok(BlockDef { name, params, body: body.expect("grammar: block has a body"), span })
    }

    fn body(&self, pair: Pair<Rule>) -> Result<Body> {
        let span = self.span(&pair);
        let stmts = pair.into_inner().map(|s| self.stmt(s)).collect::<Result<_>>()?;
        Ok(Body { stmts, span })
    }

    fn stmt(&self, pair: Pair<Rule>) -> Result<Stmt> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::let_stmt => {
                let mut inner = pair.into_inner().skip(1);
                let name = self.ident(inner.next().expect("grammar: let has a name"));
                let value = self.expr(inner.next().expect("grammar: let has a value"))?;
                Ok(Stmt::Let { name, value, span })
            }
            Rule::bind_stmt => {
                let mut inner = pair.into_inner();
                let name = self.ident(inner.next().expect("grammar: binding has a name"));
                let chain = self.chain(inner.next().expect("grammar: binding has a chain"))?;
                Ok(Stmt::Bind { name, chain, span })
            }
            Rule::head_stmt => {
                let mut inner = pair.into_inner().skip(1);
                let name = self.ident(inner.next().expect("grammar: a head has a name"));
                let mut args = None;
                let mut body = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::args => args = Some(p.into_inner().map(|a| self.arg(a)).collect::<Result<_>>()?),
                        _ => body = Some(self.body(p)?),
                    }
                }
                Ok(Stmt::Head(HeadDef { name, args, body: body.expect("grammar: a head has a body"), span }))
            }
            _ => Ok(Stmt::Chain(self.chain(pair)?)),
        }
    }

    fn chain(&self, pair: Pair<Rule>) -> Result<Chain> {
        let span = self.span(&pair);
        let stages = pair.into_inner().map(|s| self.stage(s)).collect::<Result<_>>()?;
        Ok(Chain { stages, span })
    }

    fn stage(&self, pair: Pair<Rule>) -> Result<Stage> {
        let span = self.span(&pair);
        let mut label = None;
        let mut kind = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::label => label = Some(self.ident(p)),
                _ => kind = Some(self.stage_kind(p)?),
            }
        }
        Ok(Stage { label, kind: kind.expect("grammar: stage has a kind"), span })
    }

    fn stage_kind(&self, pair: Pair<Rule>) -> Result<StageKind> {
        match pair.as_rule() {
            Rule::call => Ok(StageKind::Call(self.call(pair)?)),
            Rule::repeat => {
                let mut count = None;
                let mut var = None;
                let mut body = None;
                for p in pair.into_inner() {
                    match p.as_rule() {
                        Rule::expr => count = Some(self.expr(p)?),
                        Rule::ident => var = Some(self.ident(p)),
                        Rule::body => body = Some(self.body(p)?),
                        _ => {}
                    }
                }
                Ok(StageKind::Repeat {
                    count: count.expect("grammar: repeat count"),
                    var,
                    body: body.expect("grammar: repeat body"),
                })
            }
            Rule::cond => self.cond(pair),
            Rule::cat => {
                let chains = pair.into_inner().filter(|p| p.as_rule() == Rule::chain);
                Ok(StageKind::Cat(chains.map(|c| self.chain(c)).collect::<Result<_>>()?))
            }
            Rule::group => Ok(StageKind::Group(pair.into_inner().map(|t| self.term(t)).collect::<Result<_>>()?)),
            r => unreachable!("grammar: unexpected stage rule {r:?}"),
        }
    }

    fn cond(&self, pair: Pair<Rule>) -> Result<StageKind> {
        let mut cond = None;
        let mut then = None;
        let mut otherwise = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::expr => cond = Some(self.expr(p)?),
                Rule::body if then.is_none() => then = Some(self.body(p)?),
                Rule::body => otherwise = Some(Else::Body(self.body(p)?)),
                Rule::cond_stage => {
                    let span = self.span(&p);
                    let inner = p.into_inner().next().expect("grammar: else-if has a cond");
                    let kind = self.cond(inner)?;
                    otherwise = Some(Else::If(Box::new(Stage { label: None, kind, span })));
                }
                _ => {}
            }
        }
        Ok(StageKind::If { cond: cond.expect("grammar: if cond"), then: then.expect("grammar: if body"), otherwise })
    }

    fn term(&self, pair: Pair<Rule>) -> Result<Term> {
        let span = self.span(&pair);
        let mut factor = None;
        let mut chain = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::factor => factor = Some(self.primary(p.into_inner().next().expect("grammar: factor"))?),
                _ => chain = Some(self.chain(p)?),
            }
        }
        Ok(Term { factor, chain: chain.expect("grammar: term has a chain"), span })
    }

    fn call(&self, pair: Pair<Rule>) -> Result<Call> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("grammar: call has a name"));
        let args = match inner.next() {
            Some(args) => Some(args.into_inner().map(|a| self.arg(a)).collect::<Result<_>>()?),
            None => None,
        };
        Ok(Call { name, args, span })
    }

    fn arg(&self, pair: Pair<Rule>) -> Result<Arg> {
        let span = self.span(&pair);
        let mut name = None;
        let mut value = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                _ => value = Some(self.expr(p)?),
            }
        }
        Ok(Arg { name, value: value.expect("grammar: arg has a value"), span })
    }

    fn ident(&self, pair: Pair<Rule>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(&pair) }
    }

    fn expr(&self, pair: Pair<Rule>) -> Result<Expr> {
        self.expr_with_depth(pair).map(|(e, _)| e)
    }

    /// Lowers an expression and measures its depth, refusing trees deeper than
    /// [`MAX_EXPR_DEPTH`] so that evaluating them cannot exhaust the stack.
    fn expr_with_depth(&self, pair: Pair<Rule>) -> Result<(Expr, usize)> {
        pratt()
            .map_primary(|p| {
                let e = self.primary(p)?;
                Ok((e, 1))
            })
            .map_prefix(|op, rhs| {
                let (rhs, d) = rhs?;
                let un = if op.as_rule() == Rule::neg { UnOp::Neg } else { UnOp::Not };
                let e = Expr { span: self.span(&op).to(rhs.span), kind: ExprKind::Unary(un, Box::new(rhs)) };
                deep(e, d + 1)
            })
            .map_postfix(|lhs, op| {
                let (lhs, d) = lhs?;
                let field = self.ident(op.into_inner().next().expect("grammar: field ident"));
                let e = Expr { span: lhs.span.to(field.span), kind: ExprKind::Field(Box::new(lhs), field) };
                deep(e, d + 1)
            })
            .map_infix(|lhs, op, rhs| {
                let ((lhs, dl), (rhs, dr)) = (lhs?, rhs?);
                let bin = binop(op.as_rule());
                let e = Expr { span: lhs.span.to(rhs.span), kind: ExprKind::Binary(bin, Box::new(lhs), Box::new(rhs)) };
                deep(e, dl.max(dr) + 1)
            })
            .parse(pair.into_inner())
    }

    fn primary(&self, pair: Pair<Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::int => ExprKind::Int(self.int(&pair)?),
            Rule::float => {
                let v: f64 = pair.as_str().parse().map_err(|_| self.bad_literal(span, "not a number"))?;
                if !v.is_finite() {
                    return Err(self.bad_literal(span, "this number is too large for a 64-bit float"));
                }
                ExprKind::Float(v)
            }
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::dims => ExprKind::Dims(self.dims(&pair)?),
            Rule::ident => ExprKind::Name(pair.as_str().to_string()),
            Rule::paren => return self.expr(pair.into_inner().next().expect("grammar: paren has expr")),
            Rule::expr => return self.expr(pair),
            Rule::list => ExprKind::List(pair.into_inner().map(|e| self.expr(e)).collect::<Result<_>>()?),
            Rule::if_expr => {
                let mut es = pair.into_inner().filter(|p| p.as_rule() == Rule::expr);
                let mut next = || self.expr(es.next().expect("grammar: if-expr has three parts"));
                let (c, a, b) = (next()?, next()?, next()?);
                ExprKind::If(Box::new(c), Box::new(a), Box::new(b))
            }
            r => unreachable!("grammar: unexpected primary {r:?}"),
        };
        Ok(Expr { kind, span })
    }

    fn int(&self, pair: &Pair<Rule>) -> Result<i64> {
        pair.as_str().parse().map_err(|_| self.bad_literal(self.span(pair), "this integer does not fit in 64 bits"))
    }

    fn dims(&self, pair: &Pair<Rule>) -> Result<Vec<i64>> {
        let start = pair.as_span().start();
        let mut out = Vec::new();
        let mut offset = 0;
        for part in pair.as_str().split('x') {
            let span = Span::new(self.file, start + offset, start + offset + part.len());
            out.push(part.parse().map_err(|_| self.bad_literal(span, "this size does not fit in 64 bits"))?);
            offset += part.len() + 1;
        }
        Ok(out)
    }

    fn bad_literal(&self, span: Span, why: &str) -> Diagnostic {
        Diagnostic::error(codes::BAD_LITERAL, "number literal out of range", span, why)
    }
}

/// Passes an expression of depth `d` on, unless it is too deep.
fn deep(e: Expr, d: usize) -> Result<(Expr, usize)> {
    if d > MAX_EXPR_DEPTH {
        let msg = format!("expression nests more than {MAX_EXPR_DEPTH} operations deep");
        return Err(
            Diagnostic::error(codes::TOO_DEEP, msg, e.span, "too deep").with_hint("split it with `let` bindings")
        );
    }
    Ok((e, d))
}

fn binop(rule: Rule) -> BinOp {
    match rule {
        Rule::add => BinOp::Add,
        Rule::sub => BinOp::Sub,
        Rule::mul => BinOp::Mul,
        Rule::div => BinOp::Div,
        Rule::rem => BinOp::Rem,
        Rule::eq => BinOp::Eq,
        Rule::ne => BinOp::Ne,
        Rule::lt => BinOp::Lt,
        Rule::le => BinOp::Le,
        Rule::gt => BinOp::Gt,
        Rule::ge => BinOp::Ge,
        Rule::and => BinOp::And,
        Rule::or => BinOp::Or,
        r => unreachable!("grammar: unexpected infix {r:?}"),
    }
}
