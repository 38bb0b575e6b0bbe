//! Lexical environments: values (`let`, block parameters, repeat counters) and
//! tensors (`name = chain`, `in`) visible in a body. A block body starts a fresh
//! environment; `repeat` and `if` bodies see their enclosing one.

use super::value::Value;
use crate::diag::Span;
use crate::ir::{NodeId, Shape};
use std::cell::Cell;
use std::collections::HashMap;

pub struct TensorBinding {
    pub node: NodeId,
    pub shape: Shape,
    pub span: Span,
    pub used: Cell<bool>,
}

pub struct Env<'p> {
    parent: Option<&'p Env<'p>>,
    values: HashMap<String, Value>,
    tensors: Vec<(String, TensorBinding)>,
    /// The body's input, which `in` names.
    pub input: NodeId,
    pub input_shape: Shape,
}

pub enum Lookup {
    Value(Value),
    Tensor(Shape),
    Missing,
}

impl<'p> Env<'p> {
    /// A fresh environment (a block body or the network).
    pub fn root(input: NodeId, input_shape: Shape) -> Env<'static> {
        Env { parent: None, values: HashMap::new(), tensors: Vec::new(), input, input_shape }
    }

    /// A nested environment seeing everything `parent` sees.
    pub fn child(parent: &'p Env<'p>, input: NodeId, input_shape: Shape) -> Env<'p> {
        Env { parent: Some(parent), values: HashMap::new(), tensors: Vec::new(), input, input_shape }
    }

    pub fn define_value(&mut self, name: &str, v: Value) {
        self.values.insert(name.to_string(), v);
    }

    pub fn define_tensor(&mut self, name: &str, node: NodeId, shape: Shape, span: Span) {
        self.tensors.push((name.to_string(), TensorBinding { node, shape, span, used: Cell::new(false) }));
    }

    /// True if `name` is bound here or in an enclosing environment.
    pub fn is_bound(&self, name: &str) -> bool {
        !matches!(self.lookup(name), Lookup::Missing)
    }

    pub fn lookup(&self, name: &str) -> Lookup {
        if name == "in" {
            return Lookup::Tensor(self.input_shape);
        }
        let mut env = Some(self);
        while let Some(e) = env {
            if let Some(v) = e.values.get(name) {
                return Lookup::Value(v.clone());
            }
            if let Some((_, t)) = e.tensors.iter().find(|(n, _)| n == name) {
                return Lookup::Tensor(t.shape);
            }
            env = e.parent;
        }
        Lookup::Missing
    }

    /// The tensor bound to `name` (or `in`), marked as used.
    pub fn use_tensor(&self, name: &str) -> Option<NodeId> {
        if name == "in" {
            return Some(self.input);
        }
        let mut env = Some(self);
        while let Some(e) = env {
            if e.values.contains_key(name) {
                return None;
            }
            if let Some((_, t)) = e.tensors.iter().find(|(n, _)| n == name) {
                t.used.set(true);
                return Some(t.node);
            }
            env = e.parent;
        }
        None
    }

    /// Tensors bound in this environment (not its parents) that nothing used.
    pub fn unused_tensors(&self) -> impl Iterator<Item = (&str, &TensorBinding)> {
        self.tensors.iter().filter(|(_, t)| !t.used.get()).map(|(n, t)| (n.as_str(), t))
    }

    /// Every value name visible, for suggestions.
    pub fn value_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut env = Some(self);
        while let Some(e) = env {
            out.extend(e.values.keys().cloned());
            env = e.parent;
        }
        out
    }

    /// Every tensor name visible, for suggestions.
    pub fn tensor_names(&self) -> Vec<String> {
        let mut out = vec!["in".to_string()];
        let mut env = Some(self);
        while let Some(e) = env {
            out.extend(e.tensors.iter().map(|(n, _)| n.clone()));
            env = e.parent;
        }
        out
    }
}
