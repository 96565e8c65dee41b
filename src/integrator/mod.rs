//! Time integrators for the master equation `dp/ds = G(s) p` over one interval [s0, s1].
//! A new method is a file here plus one variant in [`IntegratorKind`].

pub mod chebyshev;
mod explicit_euler;
mod implicit_euler;
pub mod rational;
mod trbdf2;
pub mod uniformization;

pub use chebyshev::ChebyshevExp;
pub use explicit_euler::ExplicitEuler;
pub use implicit_euler::ImplicitEuler;
pub use rational::RationalExp;
pub use trbdf2::{StepControl, TrBdf2};
pub use uniformization::Uniformization;

use crate::error::Result;
use crate::generator::Generator;
use serde::{Deserialize, Serialize};

/// Work done by one call of [`Integrator::advance`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepStats {
    /// Accepted internal steps (for uniformization: matrix–vector products).
    pub steps: usize,
    /// Rejected internal steps (error too large or a negative entry).
    pub rejected: usize,
    /// Numeric LU factorisations.
    pub factorizations: usize,
}

impl std::ops::AddAssign for StepStats {
    fn add_assign(&mut self, o: Self) {
        self.steps += o.steps;
        self.rejected += o.rejected;
        self.factorizations += o.factorizations;
    }
}

/// A one-interval solver for `dp/ds = G(s) p`.
pub trait Integrator: Send {
    /// Advertised order of accuracy in Δt (read by the order tests).
    fn order(&self) -> u32;
    /// Short name for logs and file attributes.
    fn name(&self) -> &'static str;
    /// Advances `p` from `s0` to `s1`, refreshing G as needed.
    fn advance(&mut self, g: &mut Generator, p: &mut [f64], s0: f64, s1: f64) -> Result<StepStats>;
}

/// Refreshes G at `s0` and refuses a time-dependent one for the integrator `kind` (a config
/// error naming `flow.integrator.kind`, with `trbdf2_adaptive` as the way out).
pub(crate) fn refresh_static(g: &mut Generator, s0: f64, kind: &str) -> Result<()> {
    g.refresh(s0)?;
    if g.is_static() {
        return Ok(());
    }
    Err(crate::error::CgklError::config(
        "flow.integrator.kind",
        kind,
        format!("{kind} needs a time-independent generator; use trbdf2_adaptive (or auto)"),
    ))
}

/// Entries below `−NEG_TOL` count as negative (a rejected step for TR-BDF2).
pub const NEG_TOL: f64 = 1e-16;

/// Integrator selection (config `[flow.integrator]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum IntegratorKind {
    /// Explicit Euler, substeps with `Δt·max_i|G_ii| ≤ cfl` (cfl ≤ 1 keeps p ≥ 0), at least `substeps`.
    ExplicitEuler {
        /// Positivity limit, in (0, 1].
        cfl: f64,
        /// Minimum number of equal substeps per interval.
        substeps: usize,
    },
    /// Implicit Euler with `substeps` equal steps per interval (generator at each step's end).
    ImplicitEuler {
        /// Equal substeps per interval.
        substeps: usize,
    },
    /// TR-BDF2 (γ = 2 − √2) with `substeps` equal steps per interval (negative steps are halved).
    Trbdf2Fixed {
        /// Equal substeps per interval.
        substeps: usize,
    },
    /// TR-BDF2 with adaptive steps: embedded error estimate, max norm of
    /// `|est_i| / (atol + rtol·|p_i|)` ≤ 1.
    Trbdf2Adaptive {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance on the masses.
        atol: f64,
    },
    /// Uniformization, exact in time up to an L1 truncation tolerance `tol` (static G only).
    Uniformization {
        /// L1 truncation tolerance per substep.
        tol: f64,
    },
    /// Uniformization with `tol = atol` when G is time independent, else adaptive TR-BDF2.
    Auto {
        /// Relative tolerance of TR-BDF2.
        rtol: f64,
        /// Absolute tolerance of TR-BDF2 and truncation tolerance of uniformization.
        atol: f64,
    },
}

impl IntegratorKind {
    /// Builds the integrator for G's pattern.
    pub fn build(&self, g: &Generator) -> Result<Box<dyn Integrator>> {
        Ok(match *self {
            IntegratorKind::ExplicitEuler { cfl, substeps } => {
                Box::new(ExplicitEuler::new(g.n(), cfl, substeps))
            }
            IntegratorKind::ImplicitEuler { substeps } => {
                Box::new(ImplicitEuler::new(g, substeps)?)
            }
            IntegratorKind::Trbdf2Fixed { substeps } => {
                Box::new(TrBdf2::new(g, StepControl::Fixed { substeps })?)
            }
            IntegratorKind::Trbdf2Adaptive { rtol, atol } => {
                Box::new(TrBdf2::new(g, StepControl::Adaptive { rtol, atol })?)
            }
            IntegratorKind::Uniformization { tol } => Box::new(Uniformization::new(g.n(), tol)),
            IntegratorKind::Auto { rtol, atol } => {
                if g.is_static() {
                    Box::new(Uniformization::new(g.n(), atol))
                } else {
                    Box::new(TrBdf2::new(g, StepControl::Adaptive { rtol, atol })?)
                }
            }
        })
    }
}
