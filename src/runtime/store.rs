//! Parameters, their gradients and batch-norm state, held outside the executors so
//! that executors built for different batch sizes share one set of weights.

use super::memory::{try_zeroed, AllocError};
use crate::autodiff::ParamInfo;
use crate::ir::ParamKind;

#[derive(Debug, Clone, PartialEq)]
pub struct ParamStore {
    pub infos: Vec<ParamInfo>,
    /// One tensor per [`ParamInfo`], in program order.
    pub values: Vec<Vec<f32>>,
    /// Gradients of trainable tensors (empty for the others).
    pub grads: Vec<Vec<f32>>,
    /// Bumped by [`ParamStore::touch`] whenever the values change, so that engines can
    /// keep what they derive from the weights (folded batch norms) until then.
    pub version: u64,
    /// Per tensor, whether optimizer updates leave it as it is (`--freeze`); empty or
    /// shorter than `infos` means not frozen. Gradients are still computed (layers before
    /// a frozen one may learn), and batch-norm statistics still follow the data.
    pub frozen: Vec<bool>,
}

impl ParamStore {
    /// Zero-filled tensors for a program's parameters.
    pub fn new(infos: &[ParamInfo]) -> ParamStore {
        Self::try_new(infos, true).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Zero-filled tensors, with gradients for the trainable ones if `grads` (inference
    /// needs none); a refused allocation is an error, not an abort.
    pub fn try_new(infos: &[ParamInfo], grads: bool) -> Result<ParamStore, AllocError> {
        let values = infos.iter().map(|p| try_zeroed(p.len())).collect::<Result<_, _>>()?;
        let grads = infos
            .iter()
            .map(|p| if grads && p.kind == ParamKind::Trainable { try_zeroed(p.len()) } else { Ok(Vec::new()) })
            .collect::<Result<_, _>>()?;
        Ok(ParamStore { infos: infos.to_vec(), values, grads, version: 0, frozen: Vec::new() })
    }

    /// Records that the values changed. Whoever writes `values` must call it.
    pub fn touch(&mut self) {
        self.version += 1;
    }

    /// Index of the tensor named `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.infos.iter().position(|p| p.name == name)
    }

    /// Indices of the trainable tensors.
    pub fn trainable(&self) -> impl Iterator<Item = usize> + '_ {
        self.infos.iter().enumerate().filter(|(_, p)| p.kind == ParamKind::Trainable).map(|(i, _)| i)
    }

    /// Indices of the tensors optimizer updates change: the trainable ones not frozen.
    pub fn updated(&self) -> impl Iterator<Item = usize> + '_ {
        self.trainable().filter(|&i| !self.frozen.get(i).copied().unwrap_or(false))
    }

    /// The store without the tensors of auxiliary heads: what inference and export use.
    pub fn without_heads(self) -> ParamStore {
        let keep: Vec<bool> = self.infos.iter().map(|p| !p.head).collect();
        let pick = |v: Vec<Vec<f32>>| v.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(t, _)| t).collect();
        let frozen = self.frozen.iter().zip(&keep).filter(|(_, k)| **k).map(|(f, _)| *f).collect();
        ParamStore {
            infos: self.infos.into_iter().filter(|p| !p.head).collect(),
            values: pick(self.values),
            grads: pick(self.grads),
            version: self.version + 1,
            frozen,
        }
    }

    /// True if every value is finite (no NaN or infinity crept in).
    pub fn all_finite(&self) -> bool {
        self.values.iter().all(|v| v.iter().all(|x| x.is_finite()))
    }
}
