//! Rate schedule β(t) ≥ 0 of the forward process (SPEC §4) and its integral `S(t) = ∫₀ᵗ β`.

use crate::bounds::MAX_SCALE;
use crate::error::{CgklError, Result};
use serde::{Deserialize, Serialize};

/// β(t): constant, or linear `β(t) = β_min + (β_max − β_min) t/T`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BetaSchedule {
    /// β(t) = value.
    Constant {
        /// The constant rate (default 1).
        value: f64,
    },
    /// β(t) = min + (max − min) t/T.
    Linear {
        /// β at t = 0.
        min: f64,
        /// β at t = T.
        max: f64,
    },
}

impl Default for BetaSchedule {
    fn default() -> Self {
        BetaSchedule::Constant { value: 1.0 }
    }
}

impl BetaSchedule {
    /// Checks β ≥ 0, finite and at most 10³⁰ (`bounds::MAX_SCALE`).
    pub fn validate(&self) -> Result<()> {
        let vals: &[(&str, f64)] = match self {
            BetaSchedule::Constant { value } => &[("forward.beta.value", *value)],
            BetaSchedule::Linear { min, max } => {
                &[("forward.beta.min", *min), ("forward.beta.max", *max)]
            }
        };
        for &(k, v) in vals {
            if !(v.is_finite() && v >= 0.0) {
                return Err(CgklError::config(k, v, "β must be finite and ≥ 0"));
            }
            if v > MAX_SCALE {
                return Err(CgklError::config(
                    k,
                    format!("{v:?}"),
                    format!(
                        "β must be ≤ {MAX_SCALE:e}: the reverse rates β·κ/h²·q̂(k)/q̂(i) must stay \
                         finite; the noising depends on S(T) = ∫β only, so scale β down and \
                         forward.horizon up (paper_toy: β = 1, T = 0.02)"
                    ),
                ));
            }
        }
        if let BetaSchedule::Constant { value } = self {
            if *value == 0.0 {
                return Err(CgklError::config(
                    "forward.beta.value",
                    0,
                    "β = 0 freezes both processes; use β > 0",
                ));
            }
        }
        if let BetaSchedule::Linear { min, max } = self {
            if *min == 0.0 && *max == 0.0 {
                return Err(CgklError::config(
                    "forward.beta",
                    "0..0",
                    "β ≡ 0 freezes both processes; use max > 0",
                ));
            }
        }
        Ok(())
    }

    /// β(t) on a horizon T.
    pub fn beta(&self, t: f64, horizon: f64) -> f64 {
        match *self {
            BetaSchedule::Constant { value } => value,
            BetaSchedule::Linear { min, max } => min + (max - min) * t / horizon,
        }
    }

    /// `S(t) = ∫₀ᵗ β`: `β t`, or `β_min t + (β_max − β_min) t²/(2T)`.
    pub fn integral(&self, t: f64, horizon: f64) -> f64 {
        match *self {
            BetaSchedule::Constant { value } => value * t,
            BetaSchedule::Linear { min, max } => min * t + (max - min) * t * t / (2.0 * horizon),
        }
    }

    /// The t ∈ [0, T] with `S(t) = target` (S is non-decreasing; closed form, clamped to [0, T]).
    pub fn inverse_integral(&self, target: f64, horizon: f64) -> f64 {
        let t = match *self {
            BetaSchedule::Constant { value } => target / value,
            BetaSchedule::Linear { min, max } => {
                let a = (max - min) / (2.0 * horizon);
                if a.abs() < 1e-300 {
                    target / min
                } else {
                    // a t² + min t − target = 0, stable root
                    let disc = (min * min + 4.0 * a * target).max(0.0).sqrt();
                    2.0 * target / (min + disc)
                }
            }
        };
        t.clamp(0.0, horizon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_and_inverse_agree() {
        let b = BetaSchedule::Linear {
            min: 0.1,
            max: 20.0,
        };
        for &t in &[0.0, 0.1, 0.5, 1.0] {
            let s = b.integral(t, 1.0);
            assert!((b.inverse_integral(s, 1.0) - t).abs() < 1e-14);
        }
        // S(1) = 0.1 + 19.9/2
        assert!((b.integral(1.0, 1.0) - 10.05).abs() < 1e-14);
        assert!(BetaSchedule::Constant { value: -1.0 }.validate().is_err());
    }
}
