//! Score models and drives (SPEC §5). A [`Drive`] supplies, at reverse time s, the cell field φ
//! whose differences set the rates (φ = ln q̂_{T−s} for the reverse diffusion, φ = −U for a
//! potential problem) and the scale c(s) multiplying the face conductances κ/h² (β(T−s), or D).
//! The [`Drive`] trait itself lives in module `drive`, so the generator needs no score model.

use crate::beta::BetaSchedule;
use crate::error::{CgklError, Result};
use crate::grid::Grid;
use crate::oracle::ForwardOracle;

pub use crate::drive::{Drive, HeatDrive};

/// Reverse-diffusion drive: `φ = ln q̂_t + σ ξ`, `t = T − s`, scale `β(t)`.
///
/// q̂ is the oracle built with ε_score (= ε_fwd for the plain oracle, ≠ ε_fwd for the
/// misspecified-score/leakage experiment); σ ξ is the seeded smooth perturbation (σ = 0: none).
/// If β is constant and the oracle is frozen (q_t = q0, as for block-constant data with
/// ε_score = 0; see [`ForwardOracle::is_frozen`]) the drive is static.
pub struct ReverseDrive {
    oracle: ForwardOracle,
    beta: BetaSchedule,
    horizon: f64,
    perturbation: Option<(f64, Vec<f64>)>,
    q: Vec<f64>,
    frozen: bool,
}

impl ReverseDrive {
    /// A drive from the score oracle, β, T and an optional perturbation (σ, ξ).
    pub fn new(
        oracle: ForwardOracle,
        beta: BetaSchedule,
        perturbation: Option<(f64, Vec<f64>)>,
    ) -> Self {
        let horizon = oracle.horizon();
        let q = vec![0.0; oracle.q0().len()];
        let frozen = oracle.is_frozen() && matches!(beta, BetaSchedule::Constant { .. });
        Self {
            oracle,
            beta,
            horizon,
            perturbation,
            q,
            frozen,
        }
    }
}

/// `φ_i = ln q_i (+ σ ξ_i)`, rejecting q ≤ 0 or non-finite q.
fn log_field(q: &[f64], t: f64, pert: Option<&(f64, Vec<f64>)>, phi: &mut [f64]) -> Result<()> {
    // `φ = ln q (+ σξ)` chunk by chunk on the pool (crate::par); the first bad cell, in cell
    // order, is the error
    let bad = crate::par::reduce(
        q.len(),
        |r| r.clone().find(|&i| !(q[i] > 0.0 && q[i].is_finite())),
        |a, b| a.or(b),
    );
    if let Some(i) = bad {
        let qi = q[i];
        let what = if qi.is_nan() || qi.is_infinite() {
            "not finite"
        } else if qi == 0.0 {
            "zero"
        } else {
            "negative"
        };
        return Err(CgklError::Score {
            t,
            cell: i,
            what: what.into(),
        });
    }
    crate::par::for_each_mut(phi, |r, ph| {
        crate::simd_state::clear_upper_state();
        match pert {
            Some((sigma, xi)) => {
                for ((p, &qi), &x) in ph.iter_mut().zip(&q[r.clone()]).zip(&xi[r]) {
                    *p = qi.ln() + sigma * x;
                }
            }
            None => {
                for (p, &qi) in ph.iter_mut().zip(&q[r]) {
                    *p = qi.ln();
                }
            }
        }
    });
    Ok(())
}

impl Drive for ReverseDrive {
    fn eval(&mut self, s: f64, phi: &mut [f64]) -> Result<f64> {
        let t = (self.horizon - s).max(0.0);
        if self.oracle.is_frozen() {
            log_field(self.oracle.q0(), t, self.perturbation.as_ref(), phi)?;
        } else {
            self.oracle.q_at(t, &mut self.q);
            log_field(&self.q, t, self.perturbation.as_ref(), phi)?;
        }
        Ok(self.beta.beta(t, self.horizon))
    }

    fn is_static(&self) -> bool {
        self.frozen
    }
}

/// Potential problem `∂_t ρ = ∇·(D(∇ρ + ρ∇U))` on the grid: φ_i = −U(x_i, y_i, s), scale D.
pub struct PotentialDrive {
    centres: Vec<(f64, f64)>,
    potential: Box<dyn Fn(f64, f64, f64) -> f64 + Send>,
    diffusion: f64,
    time_dependent: bool,
}

impl PotentialDrive {
    /// `U(x, y, t)` evaluated at the cell centres; `time_dependent = false` builds G once.
    pub fn new(
        grid: Grid,
        potential: Box<dyn Fn(f64, f64, f64) -> f64 + Send>,
        diffusion: f64,
        time_dependent: bool,
    ) -> Self {
        Self {
            centres: (0..grid.n()).map(|i| grid.centre(i)).collect(),
            potential,
            diffusion,
            time_dependent,
        }
    }
}

impl Drive for PotentialDrive {
    fn eval(&mut self, s: f64, phi: &mut [f64]) -> Result<f64> {
        for (i, (ph, &(x, y))) in phi.iter_mut().zip(&self.centres).enumerate() {
            let u = (self.potential)(x, y, s);
            if !u.is_finite() {
                return Err(CgklError::Data(format!(
                    "potential U is {u} at cell {i} (x = {x}, y = {y}, t = {s}); U must be finite"
                )));
            }
            *ph = -u;
        }
        Ok(self.diffusion)
    }

    fn is_static(&self) -> bool {
        !self.time_dependent
    }
}

/// Reverse-diffusion drive from a formula: `φ = f(x, y, t)` (= ln q̂_t) at the cell centres,
/// `t = T − s`, scale `β(t)`. Static when f does not use t and β is constant.
pub struct FormulaDrive {
    formula: crate::expr::Formula,
    grid: Grid,
    beta: BetaSchedule,
    horizon: f64,
}

impl FormulaDrive {
    /// A drive from the parsed ln q̂ formula, β and T.
    pub fn new(
        formula: crate::expr::Formula,
        grid: Grid,
        beta: BetaSchedule,
        horizon: f64,
    ) -> Self {
        Self {
            formula,
            grid,
            beta,
            horizon,
        }
    }
}

impl Drive for FormulaDrive {
    fn eval(&mut self, s: f64, phi: &mut [f64]) -> Result<f64> {
        let t = (self.horizon - s).max(0.0);
        self.formula.eval_cells(self.grid, t, phi)?;
        Ok(self.beta.beta(t, self.horizon))
    }

    fn is_static(&self) -> bool {
        !self.formula.uses_t() && matches!(self.beta, BetaSchedule::Constant { .. })
    }
}

/// Reverse-diffusion drive from an external score field (SPEC §5): `φ = ln q̂(t)`, linear in t
/// between the file's times and constant beyond them, `t = T − s`, scale `β(t)`.
pub struct FieldDrive {
    field: std::sync::Arc<crate::io::score_field::ScoreField>,
    beta: BetaSchedule,
    horizon: f64,
}

impl FieldDrive {
    /// A drive from a loaded (validated) field, β and T.
    pub fn new(
        field: std::sync::Arc<crate::io::score_field::ScoreField>,
        beta: BetaSchedule,
        horizon: f64,
    ) -> Self {
        Self {
            field,
            beta,
            horizon,
        }
    }
}

impl Drive for FieldDrive {
    fn eval(&mut self, s: f64, phi: &mut [f64]) -> Result<f64> {
        let t = (self.horizon - s).max(0.0);
        self.field.log_q_at(t, phi);
        Ok(self.beta.beta(t, self.horizon))
    }

    fn is_static(&self) -> bool {
        self.field.is_static() && matches!(self.beta, BetaSchedule::Constant { .. })
    }
}
