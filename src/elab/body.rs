//! Bodies, chains and stages: how the flow of tensors is wired into the graph.
//!
//! A body's flow starts at its input. A chain statement applies its stages to the
//! flow and makes the result the new flow; `name = chain` binds the result instead.
//! A chain that starts with a tensor name (`main`, `in`) starts from that tensor.

use super::args::{self, ArgVal};
use super::builtins::{self, Args};
use super::env::Env;
use super::value::{eval, truth, Value};
use super::{suggest, Elab, Frame, MAX_DEPTH, MAX_NODES, MAX_REPEAT, R};
use crate::diag::{codes, Diagnostic, Span};
use crate::ir::{NodeId, Op, ScopeId, ScopeKind, ShapeError, ShapeErrorKind};
use crate::syntax::ast::*;

impl<'a> Elab<'a> {
    /// Elaborates statements with `env.input` as the starting flow; returns the final flow.
    pub(super) fn stmts<'s>(
        &mut self,
        stmts: impl IntoIterator<Item = &'s Stmt>,
        env: &mut Env,
        scope: ScopeId,
    ) -> R<NodeId> {
        let mut flow = env.input;
        for stmt in stmts {
            match stmt {
                Stmt::Let { name, value, .. } => {
                    self.check_free(name, env)?;
                    let v = eval(value, env).map_err(|d| self.err(d))?;
                    env.define_value(&name.name, v);
                }
                Stmt::Bind { name, chain, .. } => {
                    self.check_free(name, env)?;
                    let node = self.chain(chain, flow, env, scope)?;
                    env.define_tensor(&name.name, node, self.shape(node), name.span);
                }
                Stmt::Chain(c) => flow = self.chain(c, flow, env, scope)?,
                Stmt::Head(h) => self.head(h, flow, env, scope)?,
            }
        }
        if let Some((name, t)) = env.unused_tensors().next() {
            let d = Diagnostic::error(codes::MISUSE, format!("tensor `{name}` is never used"), t.span, "bound here")
                .with_hint("use it in a later chain (e.g. `(main + short) relu`) or remove it");
            return Err(self.err(d));
        }
        Ok(flow)
    }

    fn check_free(&self, name: &Ident, env: &Env) -> R<()> {
        let n = name.name.as_str();
        let why = if builtins::is_reserved(n) {
            format!("`{n}` is a built-in name")
        } else if self.blocks.contains_key(n) {
            format!("`{n}` is the name of a block")
        } else if env.is_bound(n) {
            format!("`{n}` is already defined")
        } else {
            return Ok(());
        };
        Err(self.err(Diagnostic::error(codes::DUPLICATE_NAME, why, name.span, "choose another name")))
    }

    fn chain(&mut self, chain: &Chain, flow: NodeId, env: &Env, scope: ScopeId) -> R<NodeId> {
        let mut cur = flow;
        for (i, stage) in chain.stages.iter().enumerate() {
            cur = self.stage(stage, cur, i == 0, env, scope)?;
        }
        Ok(cur)
    }

    fn stage(&mut self, st: &Stage, flow: NodeId, first: bool, env: &Env, scope: ScopeId) -> R<NodeId> {
        match &st.kind {
            StageKind::Call(call) => self.call(call, st.label.as_ref(), flow, first, env, scope),
            StageKind::Repeat { count, var, body } => self.repeat(count, var.as_ref(), body, st, flow, env, scope),
            StageKind::If { cond, then, otherwise } => {
                let inner = self.group_scope(st, scope)?;
                self.cond(cond, then, otherwise.as_ref(), flow, env, inner)
            }
            StageKind::Cat(branches) => {
                let inner = self.group_scope(st, scope)?;
                let outs = branches.iter().map(|b| self.chain(b, flow, env, inner)).collect::<R<Vec<_>>>()?;
                self.merge(Op::Concat, outs, inner, st.span)
            }
            StageKind::Group(terms) => {
                let inner = self.group_scope(st, scope)?;
                let mut outs = Vec::new();
                for t in terms {
                    let mut out = self.chain(&t.chain, flow, env, inner)?;
                    if let Some(f) = &t.factor {
                        let factor = eval(f, env).map_err(|d| self.err(d))?;
                        let Some(factor) = factor.as_f64() else {
                            return Err(self.err(Diagnostic::error(
                                codes::BAD_VALUE,
                                "a scale factor must be a number",
                                f.span,
                                format!("this is {}", factor.type_name()),
                            )));
                        };
                        out = self.add_node(
                            Op::Scale { factor },
                            &[out],
                            inner,
                            "scale",
                            false,
                            f.span.to(t.chain.span),
                            None,
                        )?;
                    }
                    outs.push(out);
                }
                self.merge(Op::Add, outs, inner, st.span)
            }
        }
    }

    /// A labelled stage gets its own scope; an unlabelled one stays in the current scope.
    fn group_scope(&mut self, st: &Stage, scope: ScopeId) -> R<ScopeId> {
        match &st.label {
            Some(l) => self.new_scope(scope, l.name.clone(), true, ScopeKind::Group, st.span),
            None => Ok(scope),
        }
    }

    fn merge(&mut self, op: Op, outs: Vec<NodeId>, scope: ScopeId, span: Span) -> R<NodeId> {
        if outs.len() == 1 {
            return Ok(outs[0]);
        }
        let kind = op.kind();
        self.add_node(op, &outs, scope, kind, false, span, None)
    }

    fn cond(
        &mut self,
        cond: &Expr,
        then: &Body,
        otherwise: Option<&Else>,
        flow: NodeId,
        env: &Env,
        scope: ScopeId,
    ) -> R<NodeId> {
        let v = eval(cond, env).map_err(|d| self.err(d))?;
        let taken = truth(&v, cond.span).map_err(|d| self.err(d))?;
        let mut child = Env::child(env, flow, self.shape(flow));
        match (taken, otherwise) {
            (true, _) => self.stmts(&then.stmts, &mut child, scope),
            (false, Some(Else::Body(b))) => self.stmts(&b.stmts, &mut child, scope),
            (false, Some(Else::If(st))) => self.stage(st, flow, false, env, scope),
            (false, None) => Ok(flow),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn repeat(
        &mut self,
        count: &Expr,
        var: Option<&Ident>,
        body: &Body,
        st: &Stage,
        flow: NodeId,
        env: &Env,
        scope: ScopeId,
    ) -> R<NodeId> {
        let n = match eval(count, env).map_err(|d| self.err(d))? {
            Value::Int(n) if (0..=MAX_REPEAT).contains(&n) => n,
            Value::Int(n) if n < 0 => {
                return Err(self.err(Diagnostic::error(
                    codes::NON_POSITIVE,
                    "a repeat count cannot be negative",
                    count.span,
                    format!("this is {n}"),
                )))
            }
            Value::Int(n) => {
                return Err(self.err(Diagnostic::error(
                    codes::TOO_LARGE,
                    format!("at most {MAX_REPEAT} copies per `repeat`"),
                    count.span,
                    format!("this is {n}"),
                )))
            }
            v => {
                return Err(self.err(Diagnostic::error(
                    codes::BAD_VALUE,
                    "a repeat count must be an integer",
                    count.span,
                    format!("this is {}", v.type_name()),
                )))
            }
        };
        if let Some(v) = var {
            self.check_free(v, env)?;
        }
        let (name, explicit) = st.label.as_ref().map_or(("repeat".to_string(), false), |l| (l.name.clone(), true));
        let rscope = self.graph.add_scope(scope, name, explicit, ScopeKind::Repeat, st.span);
        let single_block = self.single_block_call(body);
        let mut cur = flow;
        for k in 0..n {
            let mut child = Env::child(env, cur, self.shape(cur));
            if let Some(v) = var {
                child.define_value(&v.name, Value::Int(k));
            }
            cur = match single_block {
                // A body that is one block instance is the copy itself: `layer1.0.conv1`.
                Some((def, call)) => self.instantiate(def, call, Some(k.to_string()), cur, &child, rscope)?,
                None => {
                    let iscope = self.new_scope(rscope, k.to_string(), true, ScopeKind::Iteration, body.span)?;
                    self.stmts(&body.stmts, &mut child, iscope)?
                }
            };
        }
        Ok(cur)
    }

    fn single_block_call<'b>(&self, body: &'b Body) -> Option<(&'a BlockDef, &'b Call)> {
        let [Stmt::Chain(chain)] = body.stmts.as_slice() else {
            return None;
        };
        let [Stage { label: None, kind: StageKind::Call(call), .. }] = chain.stages.as_slice() else {
            return None;
        };
        self.blocks.get(call.name.name.as_str()).map(|def| (*def, call))
    }

    fn call(
        &mut self,
        call: &Call,
        label: Option<&Ident>,
        flow: NodeId,
        first: bool,
        env: &Env,
        scope: ScopeId,
    ) -> R<NodeId> {
        let name = call.name.name.as_str();
        if let Some(node) = env.use_tensor(name) {
            return self.tensor_ref(call, label, first).map(|()| node);
        }
        if name == "id" {
            return match &call.args {
                Some(a) if !a.is_empty() => Err(self.err(Diagnostic::error(
                    codes::ARGUMENTS,
                    "`id` takes no arguments",
                    call.span,
                    "the identity",
                ))),
                _ => Ok(flow),
            };
        }
        if let Some(def) = self.blocks.get(name).copied() {
            return self.instantiate(def, call, label.map(|l| l.name.clone()), flow, env, scope);
        }
        if let Some(sig) = builtins::lookup(name) {
            return self.layer(sig, call, label, flow, env, scope);
        }
        Err(self.err(self.unknown(call, env)))
    }

    fn tensor_ref(&self, call: &Call, label: Option<&Ident>, first: bool) -> R<()> {
        let name = &call.name.name;
        let problem = if call.args.is_some() {
            Some((
                format!("`{name}` is a tensor, not a layer"),
                format!(
                    "to apply a layer to a sum, write `(a + b) relu`, not `relu(a + b)`; `{name}` takes no arguments"
                ),
            ))
        } else if !first {
            Some((
                format!("tensor `{name}` in the middle of a chain"),
                format!("a tensor name can only start a chain; start a new statement with `{name}`"),
            ))
        } else {
            label.map(|_| {
                (
                    format!("a label cannot name the tensor `{name}`"),
                    "labels name layers, blocks and groups".to_string(),
                )
            })
        };
        match problem {
            Some((msg, hint)) => {
                Err(self.err(Diagnostic::error(codes::MISUSE, msg, call.span, "a tensor").with_hint(hint)))
            }
            None => Ok(()),
        }
    }

    fn unknown(&self, call: &Call, env: &Env) -> Diagnostic {
        let name = &call.name.name;
        let tensors = env.tensor_names();
        let candidates = builtins::BUILTINS
            .iter()
            .map(|s| s.name)
            .chain(self.blocks.keys().copied())
            .chain(tensors.iter().map(String::as_str));
        let mut d = Diagnostic::error(
            codes::UNKNOWN_NAME,
            format!("unknown layer, block or tensor `{name}`"),
            call.name.span,
            "not defined",
        );
        if let Some(s) = suggest::closest(name, candidates) {
            d = d.with_hint(format!("did you mean `{s}`?"));
        } else if env.value_names().iter().any(|v| v == name) {
            d = d.with_hint(format!("`{name}` is a value; values go in arguments, e.g. `conv({name}, 3)`"));
        }
        d
    }

    fn presets(&self, name: &str) -> Vec<(String, ArgVal)> {
        self.presets.get(name).cloned().unwrap_or_default()
    }

    fn layer(
        &mut self,
        sig: &'static builtins::Sig,
        call: &Call,
        label: Option<&Ident>,
        flow: NodeId,
        env: &Env,
        scope: ScopeId,
    ) -> R<NodeId> {
        let args = call.args.as_deref().unwrap_or(&[]);
        let slots =
            args::bind(sig.name, &sig.param_names(), args, &self.presets(sig.name), env).map_err(|d| self.err(d))?;
        let a = Args { sig, slots: &slots, call: call.span };
        let op = builtins::build(&a, self.shape(flow)).map_err(|d| self.err(d))?;
        let init = super::init::layer_init(&a).map_err(|d| self.err(d))?;
        let (name, explicit) = label.map_or((op.kind().to_string(), false), |l| (l.name.clone(), true));
        let id = self.add_node(op, &[flow], scope, name, explicit, call.span, Some(&a))?;
        self.graph.set_init(id, init);
        Ok(id)
    }

    /// Instantiates a block on `flow`; `name` overrides the instance name.
    pub(super) fn instantiate(
        &mut self,
        def: &'a BlockDef,
        call: &Call,
        name: Option<String>,
        flow: NodeId,
        env: &Env,
        scope: ScopeId,
    ) -> R<NodeId> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.err(Diagnostic::error(
                codes::TOO_LARGE,
                format!("blocks nest more than {MAX_DEPTH} instances deep"),
                call.span,
                "too deep",
            )));
        }
        let block = def.name.name.as_str();
        let params: Vec<&str> = def.params.iter().map(|p| p.name.name.as_str()).collect();
        let slots = args::bind(block, &params, call.args.as_deref().unwrap_or(&[]), &self.presets(block), env)
            .map_err(|d| self.err(d))?;
        let mut benv = Env::root(flow, self.shape(flow));
        for (p, slot) in def.params.iter().zip(slots) {
            let v = match (slot, &p.default) {
                (Some(a), _) => a.value,
                (None, Some(e)) => eval(e, &benv).map_err(|d| self.err(d))?,
                (None, None) => {
                    let sig = def.params.iter().map(|q| q.name.name.as_str()).collect::<Vec<_>>().join(", ");
                    let d = Diagnostic::error(
                        codes::ARGUMENTS,
                        format!("block `{block}` needs its `{}` argument", p.name.name),
                        call.span,
                        format!("`{}` missing", p.name.name),
                    )
                    .with_label(def.name.span, format!("`{block}` takes ({sig})"));
                    return Err(self.err(d));
                }
            };
            benv.define_value(&p.name.name, v);
        }
        let (sname, explicit) = name.map_or((block.to_string(), false), |n| (n, true));
        let bscope = self.new_scope(scope, sname, explicit, ScopeKind::Block(block.to_string()), call.span)?;
        self.stack.push(Frame { block: block.to_string(), call: call.span, scope: bscope });
        let out = self.stmts(&def.body.stmts, &mut benv, bscope);
        self.stack.pop();
        out
    }

    /// Opens a scope; scopes count against the size limit like nodes, so that
    /// empty repetitions cannot run away either.
    pub(super) fn new_scope(
        &mut self,
        parent: ScopeId,
        name: impl Into<String>,
        explicit: bool,
        kind: ScopeKind,
        span: Span,
    ) -> R<ScopeId> {
        self.check_size(span)?;
        Ok(self.graph.add_scope(parent, name, explicit, kind, span))
    }

    fn check_size(&self, span: Span) -> R<()> {
        if self.graph.nodes().len() + self.graph.scopes().len() >= MAX_NODES {
            return Err(self.err(Diagnostic::error(
                codes::TOO_LARGE,
                format!("the net elaborates to more than {MAX_NODES} layers and modules"),
                span,
                "limit reached here",
            )));
        }
        Ok(())
    }

    /// Wires a node, turning a shape error into a located diagnostic.
    #[allow(clippy::too_many_arguments)]
    fn add_node(
        &mut self,
        op: Op,
        inputs: &[NodeId],
        scope: ScopeId,
        name: impl Into<String>,
        explicit: bool,
        span: Span,
        args: Option<&Args>,
    ) -> R<NodeId> {
        if self.graph.nodes().len() >= MAX_NODES {
            return Err(self.err(Diagnostic::error(
                codes::TOO_LARGE,
                format!("the net has more than {MAX_NODES} layers"),
                span,
                "limit reached here",
            )));
        }
        match self.graph.add(op, inputs, scope, name, explicit, span) {
            Ok(id) => Ok(id),
            Err(e) => Err(self.err(self.shape_diagnostic(e, inputs, span, args))),
        }
    }

    fn shape_diagnostic(&self, e: ShapeError, inputs: &[NodeId], span: Span, args: Option<&Args>) -> Diagnostic {
        use ShapeErrorKind::*;
        let code = match e.kind {
            AddMismatch => codes::ADD_MISMATCH,
            ConcatMismatch => codes::CONCAT_MISMATCH,
            WindowTooLarge => codes::WINDOW_TOO_LARGE,
            NonPositive => codes::NON_POSITIVE,
            Rank => codes::RANK,
            Channels => codes::CHANNELS,
            Overflow => codes::ARITHMETIC,
        };
        let at = match (e.culprit, args) {
            (Some(arg), Some(a)) => a.span(arg),
            _ => span,
        };
        let input_desc = inputs.iter().map(|&i| self.shape(i).to_string()).collect::<Vec<_>>().join(", ");
        let mut d = Diagnostic::error(code, e.message, at, format!("input is {input_desc}"));
        if matches!(e.kind, AddMismatch | ConcatMismatch) {
            d.labels[0].message = "merged here".into();
            for (k, &i) in inputs.iter().enumerate() {
                let n = self.graph.node(i);
                d = d.with_label(n.span, format!("operand {} is {}", k + 1, n.shape));
            }
        }
        if let Some(h) = e.hint {
            d = d.with_hint(h);
        }
        d
    }
}
