//! A tuning choice: the knobs of [`ConvOptions`] the autotuner may set, their text
//! form in the cache, and the candidates it tries, stage by stage.
//!
//! Every choice compiles to a correct kernel (the knobs only pick between
//! algorithms with the same semantics), so a stale or hand-edited cache entry can
//! cost speed, never correctness.

use crate::autodiff::Kernel;
use crate::codegen::kernels::conv::{ConvOptions, WINOGRAD_TILES};

/// What the tuner overrides in the cost model's options (`None`: the model decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Choice {
    /// Winograd: `Some(0)` off, `Some(m)` F(m×m,3×3) for m = 2, 4, 6.
    pub winograd: Option<usize>,
    /// The GEMM engines' register tile (rows, vectors).
    pub tile: Option<(usize, usize)>,
    /// Weights pre-broadcast (`true`) or read in place.
    pub packed: Option<bool>,
    /// Multiply-adds as `fma`.
    pub fused: bool,
}

/// Register tiles tried after the algorithm is fixed, most often useful first (the
/// shapes the cost model picks on the machines measured so far, then their
/// transposes and taller or wider ones).
const TILES: [(usize, usize); 8] = [(6, 2), (4, 3), (3, 4), (2, 6), (12, 1), (5, 2), (2, 5), (1, 12)];

impl Choice {
    /// `base` with this choice applied.
    pub fn apply(&self, base: &ConvOptions) -> ConvOptions {
        let mut o = *base;
        match self.winograd {
            Some(0) => (o.winograd, o.winograd_m) = (Some(false), None),
            Some(m) => (o.winograd, o.winograd_m) = (Some(true), Some(m)),
            None => {}
        }
        if self.tile.is_some() {
            o.tile = self.tile;
        }
        if self.packed.is_some() {
            o.packed = self.packed;
        }
        o.fused |= self.fused;
        o
    }

    /// The stages of the search after the model's own choice: each is a list of
    /// choices derived from the best so far, `best` being that choice. `fma` comes
    /// first: it moves every kernel of a CPU alike and by the most (2-core Intel
    /// Xeon: ResNet-50 batch 1 110 → 90 ms with `fma` everywhere, a VGG-16 Winograd
    /// layer 19.8 → 17.0 ms; on AMD Zen 4 and 5 `fmul` + `fadd` wins), it is one
    /// candidate, and a large step's budget often ends within the algorithm stage.
    /// Winograd variants only for 3×3 stride-1 single-group convolutions whose
    /// algorithm the caller left to the model (`free_winograd`); `fma` only where
    /// the CPU has it.
    pub fn stage(stage: usize, best: &Choice, kernel: &Kernel, free_winograd: bool, has_fma: bool) -> Vec<Choice> {
        match stage {
            0 if has_fma => vec![Choice { fused: true, ..*best }],
            1 if free_winograd && winograd_shape(kernel) => {
                std::iter::once(0).chain(WINOGRAD_TILES).map(|m| Choice { winograd: Some(m), ..*best }).collect()
            }
            2 => TILES.iter().map(|&t| Choice { tile: Some(t), ..*best }).collect(),
            3 => [true, false].iter().map(|&p| Choice { packed: Some(p), ..*best }).collect(),
            _ => Vec::new(),
        }
    }

    /// Stages [`Choice::stage`] knows.
    pub const STAGES: usize = 4;

    /// The cache's text form: `w=off|f2|f4|f6|- t=RxV|- p=packed|direct|- fma=0|1`.
    pub fn to_text(&self) -> String {
        let w = match self.winograd {
            Some(0) => "off".to_string(),
            Some(m) => format!("f{m}"),
            None => "-".into(),
        };
        let t = self.tile.map_or("-".into(), |(r, v)| format!("{r}x{v}"));
        let p = match self.packed {
            Some(true) => "packed",
            Some(false) => "direct",
            None => "-",
        };
        format!("w={w} t={t} p={p} fma={}", u8::from(self.fused))
    }

    /// Parses [`Choice::to_text`]'s form; None for anything else.
    pub fn parse(text: &str) -> Option<Choice> {
        let mut c = Choice::default();
        let mut seen = 0;
        for field in text.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            match (k, v) {
                ("w", "-") => {}
                ("w", "off") => c.winograd = Some(0),
                ("w", "f2") => c.winograd = Some(2),
                ("w", "f4") => c.winograd = Some(4),
                ("w", "f6") => c.winograd = Some(6),
                ("t", "-") => {}
                ("t", t) => {
                    let (r, v) = t.split_once('x')?;
                    let (r, v) = (r.parse().ok()?, v.parse().ok()?);
                    if !(1..=12).contains(&r) || !(1..=12).contains(&v) {
                        return None;
                    }
                    c.tile = Some((r, v));
                }
                ("p", "-") => {}
                ("p", "packed") => c.packed = Some(true),
                ("p", "direct") => c.packed = Some(false),
                ("fma", "0") => c.fused = false,
                ("fma", "1") => c.fused = true,
                _ => return None,
            }
            seen += 1;
        }
        (seen == 4).then_some(c)
    }
}

/// Whether the step is a convolution Winograd can run (3×3, stride 1, one group, no
/// connection table), in any direction.
fn winograd_shape(kernel: &Kernel) -> bool {
    let c = match kernel {
        Kernel::Conv(c) | Kernel::ConvBackwardData(c) | Kernel::ConvBackwardWeight(c) => c,
        _ => return false,
    };
    let w = &c.window;
    (w.kh, w.kw, w.sh, w.sw) == (3, 3, 1, 1) && c.groups == 1 && c.table.is_none()
}

/// Whether the tuner handles this kernel at all (the GEMM-shaped families).
pub fn tunable(kernel: &Kernel) -> bool {
    matches!(
        kernel,
        Kernel::Conv(_)
            | Kernel::ConvBackwardData(_)
            | Kernel::ConvBackwardWeight(_)
            | Kernel::Dense(_)
            | Kernel::DenseBackwardData(_)
            | Kernel::DenseBackwardWeight(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_rejects_garbage() {
        let all = [
            Choice::default(),
            Choice { winograd: Some(0), tile: Some((6, 2)), packed: Some(false), fused: true },
            Choice { winograd: Some(4), tile: None, packed: Some(true), fused: false },
            Choice { winograd: Some(2), tile: Some((1, 12)), packed: None, fused: true },
        ];
        for c in all {
            assert_eq!(Choice::parse(&c.to_text()), Some(c), "{}", c.to_text());
        }
        for bad in ["", "w=f3 t=- p=- fma=0", "w=- t=13x1 p=- fma=0", "w=- t=- p=- fma=0 x=1", "w=- t=- p=-"] {
            assert_eq!(Choice::parse(bad), None, "{bad}");
        }
    }
}
