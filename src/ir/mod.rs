//! The graph IR: what every later stage (report, autodiff, executors, JIT) consumes.
//!
//! A [`Graph`] is an arena of [`Node`]s in topological order (a node's inputs always
//! come before it) plus a tree of [`Scope`]s that records where each node came from
//! (block instances, repetitions, labelled groups), which gives paths like
//! `layer3.2.conv2`. Adding a node runs its shape rule immediately ([`Graph::add`]),
//! so a graph never holds a node whose shape is unknown; errors come back as
//! span-free [`ShapeError`]s for the caller to locate.

mod dump;
mod heads;
mod init;
mod op;
mod params;
mod rules;
mod shape;
mod verify;

pub use heads::Head;
pub use init::{LayerInit, WeightInit, WEIGHT_INITS};
pub use op::*;
pub use params::{ParamKind, ParamSpec};
pub use rules::{window_out, ShapeError, ShapeErrorKind};
pub use shape::Shape;
pub use verify::{checks_enabled, enable_checks, verify};

use crate::diag::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl ScopeId {
    pub const ROOT: ScopeId = ScopeId(0);
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<NodeId>,
    pub shape: Shape,
    pub scope: ScopeId,
    /// Name within its scope; unique there once names are assigned.
    pub name: String,
    /// True if the user wrote the name (`conv1: conv(...)`), false if derived from the op.
    pub explicit: bool,
    /// Where the layer was written.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeKind {
    Root,
    /// An instance of the named block.
    Block(String),
    /// The copies made by `repeat`.
    Repeat,
    /// One copy of a repeat body.
    Iteration,
    /// A labelled group, concatenation or condition.
    Group,
    /// An auxiliary head (`aux name(...) { ... }`).
    Head,
}

/// A named region of the graph; its children are nodes and scopes, in creation order.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub name: String,
    pub explicit: bool,
    pub parent: Option<ScopeId>,
    pub kind: ScopeKind,
    /// Where the scope was instantiated.
    pub span: Span,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    Node(NodeId),
    Scope(ScopeId),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    nodes: Vec<Node>,
    scopes: Vec<Scope>,
    output: NodeId,
    /// Auxiliary heads (training only); see [`Head`].
    heads: Vec<Head>,
    /// Initialisers the source chose, per node (see [`LayerInit`]).
    inits: Vec<(NodeId, LayerInit)>,
}

impl Graph {
    /// A graph holding only its input node.
    pub fn new(input: Shape, span: Span) -> Graph {
        let root = Scope {
            name: String::new(),
            explicit: true,
            parent: None,
            kind: ScopeKind::Root,
            span,
            members: vec![Member::Node(NodeId(0))],
        };
        let input = Node {
            op: Op::Input,
            inputs: vec![],
            shape: input,
            scope: ScopeId::ROOT,
            name: "input".into(),
            explicit: true,
            span,
        };
        Graph { nodes: vec![input], scopes: vec![root], output: NodeId(0), heads: Vec::new(), inits: Vec::new() }
    }

    /// Wires a new node: runs the op's shape rule on its inputs' shapes and appends it.
    pub fn add(
        &mut self,
        op: Op,
        inputs: &[NodeId],
        scope: ScopeId,
        name: impl Into<String>,
        explicit: bool,
        span: Span,
    ) -> Result<NodeId, ShapeError> {
        let shapes: Vec<Shape> = inputs.iter().map(|&i| self.node(i).shape).collect();
        let shape = op.infer(&shapes)?;
        if op.params().iter().any(|p| p.numel().is_none()) {
            return Err(ShapeError {
                kind: ShapeErrorKind::Overflow,
                message: "this layer has more than 2^64 parameters".into(),
                culprit: None,
                hint: None,
            });
        }
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Node { op, inputs: inputs.to_vec(), shape, scope, name: name.into(), explicit, span });
        self.scopes[scope.index()].members.push(Member::Node(id));
        self.output = id;
        Ok(id)
    }

    /// Opens a child scope of `parent`.
    pub fn add_scope(
        &mut self,
        parent: ScopeId,
        name: impl Into<String>,
        explicit: bool,
        kind: ScopeKind,
        span: Span,
    ) -> ScopeId {
        let id = ScopeId(self.scopes.len() as u32);
        self.scopes.push(Scope { name: name.into(), explicit, parent: Some(parent), kind, span, members: vec![] });
        self.scopes[parent.index()].members.push(Member::Scope(id));
        id
    }

    pub fn input(&self) -> NodeId {
        NodeId(0)
    }

    /// The node whose value the network returns (the last one added unless set).
    pub fn output(&self) -> NodeId {
        self.output
    }

    pub fn set_output(&mut self, id: NodeId) {
        self.output = id;
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn ids(&self) -> impl DoubleEndedIterator<Item = NodeId> + ExactSizeIterator {
        (0..self.nodes.len() as u32).map(NodeId)
    }

    pub fn scope(&self, id: ScopeId) -> &Scope {
        &self.scopes[id.index()]
    }

    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    pub fn rename_node(&mut self, id: NodeId, name: String) {
        self.nodes[id.index()].name = name;
    }

    pub fn rename_scope(&mut self, id: ScopeId, name: String) {
        self.scopes[id.index()].name = name;
    }

    /// Scopes from the root's child down to `scope` (empty for the root).
    pub fn scope_chain(&self, scope: ScopeId) -> Vec<ScopeId> {
        let mut chain = Vec::new();
        let mut cur = Some(scope);
        while let Some(s) = cur {
            if s != ScopeId::ROOT {
                chain.push(s);
            }
            cur = self.scope(s).parent;
        }
        chain.reverse();
        chain
    }

    /// Dotted path of a scope, e.g. `layer3.2` (empty for the root).
    pub fn scope_path(&self, scope: ScopeId) -> String {
        self.scope_chain(scope).iter().map(|&s| self.scope(s).name.as_str()).collect::<Vec<_>>().join(".")
    }

    /// Dotted path of a node, e.g. `layer3.2.conv2`.
    pub fn path(&self, id: NodeId) -> String {
        let node = self.node(id);
        let prefix = self.scope_path(node.scope);
        if prefix.is_empty() {
            node.name.clone()
        } else {
            format!("{prefix}.{}", node.name)
        }
    }

    /// Nesting depth of a scope: 0 for the root, 1 for its children, ...
    pub fn scope_depth(&self, scope: ScopeId) -> usize {
        self.scope_chain(scope).len()
    }

    /// For each node, the nodes that read it.
    pub fn consumers(&self) -> Vec<Vec<NodeId>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for id in self.ids() {
            for &i in &self.node(id).inputs {
                out[i.index()].push(id);
            }
        }
        out
    }

    /// Nodes that the output depends on (the output included): the net as inference
    /// runs it, without its auxiliary heads.
    pub fn live(&self) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        live[self.output.index()] = true;
        self.close_over_inputs(&mut live);
        live
    }
}
