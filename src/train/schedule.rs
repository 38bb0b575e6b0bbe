//! Learning-rate schedules and warm-up, as functions of the update count.
//!
//! The clock is the global step `s` (updates made since the start of training, from 0;
//! a resumed run continues the count), with `B` updates per epoch and `T` = epochs·B in
//! the run. Lengths are given in epochs or iterations ([`Span`]); an epoch length
//! becomes `e·B` steps.
//!
//! - `Constant`: the base rate.
//! - `Step { every, gamma }`: base·γ^⌊epoch/every⌋ (netc's `--schedule step`).
//! - `Cosine`: base·½(1 + cos(π·p)), p = (s − W)/(T − W) with `W` the warm-up steps
//!   (0 without warm-up): the cosine spans what is left after the warm-up.
//! - `Exp { gamma, every }`: base·γ^⌊s/K⌋ with K the steps of `every` (TensorFlow's
//!   `exponential_decay` with `staircase=True`).
//! - `Milestones { gamma, at }`: base·γ^n with n the milestones already reached (s ≥ m).
//!
//! Step, exp and milestone schedules count from the start of training, warm-up
//! included (so the CIFAR ResNets' milestones at 32k and 48k iterations stay where the
//! paper puts them). During the warm-up ([`Warmup`]) its own rate replaces the
//! schedule's.

/// A length of training: epochs (possibly fractional) or iterations (updates).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Span {
    Epochs(f64),
    Iterations(u64),
}

impl Span {
    /// The length in steps, with `batches` updates per epoch.
    pub fn steps(self, batches: u64) -> f64 {
        match self {
            Span::Epochs(e) => e * batches as f64,
            Span::Iterations(n) => n as f64,
        }
    }

    fn is_epochs(self) -> bool {
        matches!(self, Span::Epochs(_))
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Span::Epochs(e) => write!(f, "{e}ep"),
            Span::Iterations(n) => write!(f, "{n}it"),
        }
    }
}

impl std::str::FromStr for Span {
    type Err = String;

    /// `N`, `Nep` (epochs, may be fractional) or `Nit` (iterations, whole).
    fn from_str(s: &str) -> Result<Span, String> {
        let s = s.trim();
        if let Some(n) = s.strip_suffix("it") {
            return match n.trim().parse::<u64>() {
                Ok(n) if n >= 1 => Ok(Span::Iterations(n)),
                _ => Err(format!("`{s}`: a number of iterations is a whole number ≥ 1")),
            };
        }
        let e = s.strip_suffix("ep").unwrap_or(s).trim();
        match e.parse::<f64>() {
            Ok(e) if e.is_finite() && e > 0.0 && e <= super::MAX_EPOCHS as f64 => Ok(Span::Epochs(e)),
            _ => Err(format!("`{s}`: expected a length like 2 or 2ep (epochs, > 0) or 500it (iterations)")),
        }
    }
}

/// How the learning rate changes over training.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Constant,
    /// Multiply by `gamma` after every `every` epochs.
    Step {
        every: usize,
        gamma: f64,
    },
    /// Cosine decay from the base rate to 0 over the run (Loshchilov & Hutter 2017),
    /// after the warm-up if there is one.
    Cosine,
    /// Multiply by `gamma` every `every` (staircase exponential decay).
    Exp {
        gamma: f64,
        every: Span,
    },
    /// Multiply by `gamma` at each milestone, in increasing order.
    Milestones {
        gamma: f64,
        at: Vec<Span>,
    },
}

/// How the rate rises during the warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarmupKind {
    /// From the start rate to the base rate in equal increments: at step s < W the rate
    /// is from + (base − from)·s/W, so step W, the first after the warm-up, is at base.
    Linear,
    /// The start rate throughout, then the schedule (He et al. 2016's ResNet-110).
    Constant,
}

/// A warm-up before the schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Warmup {
    pub length: Span,
    pub kind: WarmupKind,
    /// The start rate: where a linear warm-up starts, or what a constant one holds.
    pub from: f64,
}

impl Warmup {
    /// The warm-up's steps with `batches` updates per epoch (a fractional epoch rounds up).
    pub fn steps(&self, batches: u64) -> u64 {
        self.length.steps(batches).ceil() as u64
    }
}

/// Where training is: the global step, the updates per epoch and in the whole run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    pub step: u64,
    pub batches: u64,
    pub total: u64,
}

impl Schedule {
    /// The rate at a fraction `progress` ∈ [0, 1] of training, in epoch `epoch` (0-based),
    /// for the schedules that need no more (netc's original three); the others are at
    /// the base rate. [`Schedule::rate_at`] handles every schedule and warm-up.
    pub fn rate(&self, base: f64, epoch: usize, progress: f64) -> f64 {
        match *self {
            Schedule::Constant | Schedule::Exp { .. } | Schedule::Milestones { .. } => base,
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            Schedule::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * progress.clamp(0.0, 1.0)).cos()),
        }
    }

    /// The rate of the update at `clock.step`, with `warmup` before the schedule.
    pub fn rate_at(&self, base: f64, warmup: Option<&Warmup>, clock: Clock) -> f64 {
        let Clock { step, batches, total } = clock;
        let w = warmup.map_or(0, |w| w.steps(batches));
        if let Some(wu) = warmup.filter(|_| step < w) {
            return match wu.kind {
                WarmupKind::Linear => wu.from + (base - wu.from) * (step as f64 / w as f64),
                WarmupKind::Constant => wu.from,
            };
        }
        match self {
            Schedule::Constant | Schedule::Step { .. } => {
                let epoch = step.checked_div(batches).unwrap_or(0);
                self.rate(base, epoch as usize, 0.0)
            }
            Schedule::Cosine => {
                // Without warm-up exactly netc's original expression, step / T.
                let progress = (step - w) as f64 / total.saturating_sub(w) as f64;
                self.rate(base, 0, progress)
            }
            Schedule::Exp { gamma, every } => {
                let k = (step as f64 / every.steps(batches)).floor();
                base * gamma.powf(k)
            }
            Schedule::Milestones { gamma, at } => {
                let n = at.iter().filter(|m| step as f64 >= m.steps(batches)).count();
                base * gamma.powi(n as i32)
            }
        }
    }

    /// Refuses a warm-up that does not end before a run of `epochs` epochs of
    /// `batches` updates does; returns warnings for milestones and decay periods the run
    /// never reaches (legitimate in a shortened trial of a longer recipe, but also what a
    /// milestone in iterations written without `it` looks like).
    pub fn check(&self, warmup: Option<&Warmup>, batches: u64, epochs: u64) -> Result<Vec<String>, String> {
        let total = batches.saturating_mul(epochs);
        let run = format!("{total} steps: {epochs} epoch{} of {batches}", if epochs == 1 { "" } else { "s" });
        if let Some(w) = warmup {
            if w.steps(batches) >= total {
                return Err(format!(
                    "--warmup {} is {} steps, but the run has {run}: the warm-up must end before the run does",
                    w.length,
                    w.steps(batches)
                ));
            }
        }
        let mut warnings = Vec::new();
        match self {
            Schedule::Milestones { at, .. } => {
                for &m in at.iter().filter(|m| m.steps(batches) >= total as f64) {
                    let hint =
                        if m.is_epochs() { "; a bare number counts epochs, add `it` for iterations" } else { "" };
                    warnings.push(format!(
                        "warning: --schedule: the milestone {m} is beyond the run ({run}), so it never applies{hint}"
                    ));
                }
            }
            Schedule::Exp { every, .. } if every.steps(batches) >= total as f64 => warnings.push(format!(
                "warning: --schedule: the decay period {every} is not shorter than the run ({run}), so the rate never \
                 decays in it"
            )),
            _ => {}
        }
        Ok(warnings)
    }
}

/// A `--schedule` as written: the schedule, where netc's `step` takes its period from
/// the run's epochs.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleSpec {
    /// `constant`, `cosine`, or a schedule with its parameters.
    Fixed(Schedule),
    /// `step`: ×0.1 every third of the epochs.
    Thirds,
}

impl ScheduleSpec {
    /// The schedule of a run of `epochs` epochs.
    pub fn schedule(&self, epochs: usize) -> Schedule {
        match self {
            ScheduleSpec::Fixed(s) => s.clone(),
            ScheduleSpec::Thirds => Schedule::Step { every: epochs.div_ceil(3), gamma: 0.1 },
        }
    }
}

impl std::fmt::Display for ScheduleSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScheduleSpec::Thirds => write!(f, "step"),
            ScheduleSpec::Fixed(Schedule::Constant) => write!(f, "constant"),
            ScheduleSpec::Fixed(Schedule::Cosine) => write!(f, "cosine"),
            ScheduleSpec::Fixed(Schedule::Step { every, gamma }) => write!(f, "×{gamma} every {every} epochs"),
            ScheduleSpec::Fixed(Schedule::Exp { gamma, every }) => write!(f, "exp:{gamma}/{every}"),
            ScheduleSpec::Fixed(Schedule::Milestones { gamma, at }) => {
                let at: Vec<String> = at.iter().map(Span::to_string).collect();
                write!(f, "step:{gamma}@{}", at.join(","))
            }
        }
    }
}

/// A factor γ: finite and > 0.
fn gamma(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(g) if g.is_finite() && g > 0.0 => Ok(g),
        _ => Err(format!("the factor `{s}` must be a number > 0")),
    }
}

impl std::str::FromStr for ScheduleSpec {
    type Err = String;

    /// `constant`, `cosine`, `step`, `exp:γ/PERIOD`, `step:[γ@]M1,M2,…` (PERIOD and
    /// milestones as [`Span`]: bare numbers are epochs, `it` marks iterations).
    fn from_str(s: &str) -> Result<ScheduleSpec, String> {
        let s = s.trim();
        let usage = "expected constant, cosine, step, exp:GAMMA/PERIOD (e.g. exp:0.94/2 for ×0.94 every 2 epochs) or \
                     step:[GAMMA@]M1,M2,… (e.g. step:32000it,48000it or step:0.2@60,120,160)";
        match s {
            "constant" => return Ok(ScheduleSpec::Fixed(Schedule::Constant)),
            "cosine" => return Ok(ScheduleSpec::Fixed(Schedule::Cosine)),
            "step" => return Ok(ScheduleSpec::Thirds),
            _ => {}
        }
        if let Some(rest) = s.strip_prefix("exp:") {
            let Some((g, every)) = rest.split_once('/') else {
                return Err(format!("`{s}`: say the period, as in exp:{rest}/2 (×{rest} every 2 epochs)"));
            };
            return Ok(ScheduleSpec::Fixed(Schedule::Exp { gamma: gamma(g)?, every: every.parse()? }));
        }
        if let Some(rest) = s.strip_prefix("step:") {
            let (g, list) = match rest.split_once('@') {
                Some((g, list)) => (gamma(g)?, list),
                None => (0.1, rest),
            };
            let at = list.split(',').map(str::parse::<Span>).collect::<Result<Vec<Span>, String>>()?;
            if at.iter().any(|m| m.is_epochs() != at[0].is_epochs()) {
                return Err(format!("`{s}`: give every milestone in the same unit (epochs, or iterations with `it`)"));
            }
            let key = |m: &Span| m.steps(1);
            if let Some(w) = at.windows(2).find(|w| key(&w[1]) <= key(&w[0])) {
                return Err(format!("`{s}`: the milestones must increase ({} then {})", w[0], w[1]));
            }
            return Ok(ScheduleSpec::Fixed(Schedule::Milestones { gamma: g, at }));
        }
        Err(format!("`{s}`: {usage}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let p = |s: &str| s.parse::<ScheduleSpec>();
        assert_eq!(p("step"), Ok(ScheduleSpec::Thirds));
        assert_eq!(p("exp:0.94/2"), Ok(ScheduleSpec::Fixed(Schedule::Exp { gamma: 0.94, every: Span::Epochs(2.0) })));
        assert_eq!(
            p("step:32000it,48000it"),
            Ok(ScheduleSpec::Fixed(Schedule::Milestones {
                gamma: 0.1,
                at: vec![Span::Iterations(32000), Span::Iterations(48000)]
            }))
        );
        for bad in
            ["exp:0/2", "exp:-1/2", "exp:0.9", "exp:0.9/0", "exp:NaN/2", "step:3,2", "step:2,2", "step:1,2it", "x"]
        {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
