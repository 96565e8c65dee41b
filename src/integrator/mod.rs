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

use crate::error::{CgklError, Result};
use crate::generator::Generator;
use crate::linsolve::LinearSolver;
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
    /// Chebyshev expansion of the exponential over each interval ([`ChebyshevExp`]), matrix-free
    /// with m ≈ √(2τΛ ln(1/ε)) products with G: the degree is the smallest whose a-priori bound
    /// keeps the interval's L1 error at most `tol` (uniform tolerance `tol/χ(p)`,
    /// `χ(p)² = Σ p_i²/π_i`). Static G and a reversible flux only (a real spectrum: not upwind).
    Chebyshev {
        /// L1 error per interval, in [[`chebyshev::MIN_TOL`], 1).
        tol: f64,
    },
    /// Rational exponential of degree m with one repeated pole over each interval
    /// ([`RationalExp`]): one sparse factorisation and m solves; L1 error per interval at most
    /// `ε_m χ(p)` for a reversible flux (ε_1 = 0.10 … ε_12 = 1.8·10⁻⁶). Static G only.
    Rational {
        /// Degree m, 1..=[`rational::MAX_DEGREE`].
        degree: usize,
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
    /// The config spelling of the kind (`flow.integrator.kind`).
    pub fn name(&self) -> &'static str {
        match self {
            IntegratorKind::ExplicitEuler { .. } => "explicit_euler",
            IntegratorKind::ImplicitEuler { .. } => "implicit_euler",
            IntegratorKind::Trbdf2Fixed { .. } => "trbdf2_fixed",
            IntegratorKind::Trbdf2Adaptive { .. } => "trbdf2_adaptive",
            IntegratorKind::Uniformization { .. } => "uniformization",
            IntegratorKind::Chebyshev { .. } => "chebyshev",
            IntegratorKind::Rational { .. } => "rational",
            IntegratorKind::Auto { .. } => "auto",
        }
    }

    /// Checks the field values (config keys `flow.integrator.*`), before any work.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, v: &dyn std::fmt::Display, fix: String| {
            Err(CgklError::config(&format!("flow.integrator.{key}"), v, fix))
        };
        match *self {
            IntegratorKind::Trbdf2Adaptive { rtol, atol } | IntegratorKind::Auto { rtol, atol } => {
                if !(rtol > 0.0 && rtol < 1.0) {
                    return bad("rtol", &rtol, "must lie in (0, 1)".into());
                }
                // auto also uses atol as the uniformization tolerance, which needs < 1e-2
                let (max, why) = match self {
                    IntegratorKind::Auto { .. } => {
                        (1e-2, " (auto uses it as the uniformization tolerance)")
                    }
                    _ => (1.0, " (masses are ≤ 1)"),
                };
                if !(atol > 0.0 && atol < max) {
                    return bad("atol", &atol, format!("must lie in (0, {max}){why}"));
                }
            }
            IntegratorKind::ExplicitEuler { cfl, substeps } => {
                if substeps == 0 {
                    return bad("substeps", &substeps, "must be ≥ 1".into());
                }
                if !(cfl > 0.0 && cfl <= 1.0) {
                    return bad("cfl", &cfl, "must lie in (0, 1] to keep p ≥ 0".into());
                }
            }
            IntegratorKind::ImplicitEuler { substeps }
            | IntegratorKind::Trbdf2Fixed { substeps } => {
                if substeps == 0 {
                    return bad("substeps", &substeps, "must be ≥ 1".into());
                }
            }
            IntegratorKind::Uniformization { tol } => {
                if !(tol > 0.0 && tol < 1e-2) {
                    return bad("tol", &tol, "must lie in (0, 1e-2)".into());
                }
            }
            IntegratorKind::Chebyshev { tol } => {
                if !(chebyshev::MIN_TOL..1.0).contains(&tol) {
                    return bad(
                        "tol",
                        &format!("{tol:e}"),
                        format!(
                            "must lie in [{:e}, 1) (the L1 error per interval; below, round-off \
                             dominates: use uniformization)",
                            chebyshev::MIN_TOL
                        ),
                    );
                }
            }
            IntegratorKind::Rational { degree } => {
                if !(1..=rational::MAX_DEGREE).contains(&degree) {
                    return bad(
                        "degree",
                        &degree,
                        format!(
                            "must lie in 1..={} (the tabulated degrees; ε_{} = {:.1e})",
                            rational::MAX_DEGREE,
                            rational::MAX_DEGREE,
                            RationalExp::uniform_error(rational::MAX_DEGREE).unwrap_or(f64::NAN)
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// True for the kinds whose needs [`Self::check_generator`] checks (a static G, a
    /// reversible flux): the caller builds G only for them.
    pub fn has_generator_needs(&self) -> bool {
        matches!(
            self,
            IntegratorKind::Chebyshev { .. } | IntegratorKind::Rational { .. }
        )
    }

    /// Refuses a generator the kind cannot integrate, with a config error naming
    /// `flow.integrator.kind` and the way out: the exponential methods (chebyshev, rational)
    /// need a time-independent G, and chebyshev also a reversible flux (a real spectrum).
    pub fn check_generator(&self, g: &Generator) -> Result<()> {
        if !self.has_generator_needs() {
            return Ok(());
        }
        let kind = self.name();
        if !g.is_static() {
            return Err(CgklError::config(
                "flow.integrator.kind",
                kind,
                format!(
                    "{kind} integrates a time-independent generator, and this one moves with s \
                     (a time-dependent score or β); use trbdf2_adaptive (or auto)"
                ),
            ));
        }
        if matches!(self, IntegratorKind::Chebyshev { .. })
            && g.flux().reversibility_exponent().is_none()
        {
            return Err(CgklError::config(
                "flow.integrator.kind",
                kind,
                format!(
                    "chebyshev needs a reversible flux (a real spectrum), and reverse.flux = {} is \
                     not; use rational, uniformization or trbdf2_adaptive, or a reversible flux",
                    g.flux().name()
                ),
            ));
        }
        Ok(())
    }

    /// The a-priori bound on the L1 error of one interval from a state p with `χ(p) = chi`
    /// (`χ(p)² = Σ p_i²/π_i`, for a reversible flux), where the kind has one before the solve:
    /// chebyshev its `tol` (met with the degree it picks), rational `ε_m χ(p)`, uniformization
    /// twice its truncation tolerance; None for the time-stepping kinds.
    pub fn error_bound(&self, chi: f64) -> Option<f64> {
        match *self {
            IntegratorKind::Chebyshev { tol } => Some(tol),
            IntegratorKind::Rational { degree } => {
                RationalExp::uniform_error(degree).map(|e| e * chi)
            }
            IntegratorKind::Uniformization { tol } => Some(2.0 * tol),
            _ => None,
        }
    }

    /// Builds the integrator for G's pattern (after [`Self::check_generator`]) with the
    /// default linear solver ([`LinearSolver::Auto`]).
    pub fn build(&self, g: &Generator) -> Result<Box<dyn Integrator>> {
        self.build_with(g, LinearSolver::Auto)
    }

    /// Builds the integrator for G's pattern (after [`Self::check_generator`]), its implicit
    /// systems solved by `solver` (the kinds without systems ignore it).
    pub fn build_with(&self, g: &Generator, solver: LinearSolver) -> Result<Box<dyn Integrator>> {
        self.check_generator(g)?;
        Ok(match *self {
            IntegratorKind::ExplicitEuler { cfl, substeps } => {
                Box::new(ExplicitEuler::new(g.n(), cfl, substeps))
            }
            IntegratorKind::ImplicitEuler { substeps } => {
                Box::new(ImplicitEuler::new(g, substeps, solver)?)
            }
            IntegratorKind::Trbdf2Fixed { substeps } => {
                Box::new(TrBdf2::new(g, StepControl::Fixed { substeps }, solver)?)
            }
            IntegratorKind::Trbdf2Adaptive { rtol, atol } => Box::new(TrBdf2::new(
                g,
                StepControl::Adaptive { rtol, atol },
                solver,
            )?),
            IntegratorKind::Uniformization { tol } => Box::new(Uniformization::new(g.n(), tol)),
            IntegratorKind::Chebyshev { tol } => {
                Box::new(ChebyshevExp::with_l1_tolerance(g.n(), tol)?)
            }
            IntegratorKind::Rational { degree } => {
                Box::new(RationalExp::with_linear_solver(g, degree, solver)?)
            }
            IntegratorKind::Auto { rtol, atol } => {
                if g.is_static() {
                    Box::new(Uniformization::new(g.n(), atol))
                } else {
                    Box::new(TrBdf2::new(
                        g,
                        StepControl::Adaptive { rtol, atol },
                        solver,
                    )?)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of every kind: [`IntegratorKind::name`] is the serde tag, and the field checks
    /// accept the sample values.
    #[test]
    fn names_are_the_config_spelling() {
        let kinds = [
            IntegratorKind::ExplicitEuler {
                cfl: 0.5,
                substeps: 1,
            },
            IntegratorKind::ImplicitEuler { substeps: 1 },
            IntegratorKind::Trbdf2Fixed { substeps: 1 },
            IntegratorKind::Trbdf2Adaptive {
                rtol: 1e-6,
                atol: 1e-9,
            },
            IntegratorKind::Uniformization { tol: 1e-9 },
            IntegratorKind::Chebyshev { tol: 1e-9 },
            IntegratorKind::Rational { degree: 6 },
            IntegratorKind::Auto {
                rtol: 1e-6,
                atol: 1e-9,
            },
        ];
        for k in kinds {
            let text = toml::to_string(&k).unwrap();
            assert!(text.contains(&format!("kind = \"{}\"", k.name())), "{text}");
            assert_eq!(toml::from_str::<IntegratorKind>(&text).unwrap(), k);
            k.validate().unwrap();
        }
        assert!(IntegratorKind::Chebyshev { tol: 1e-14 }.validate().is_err());
        assert!(IntegratorKind::Rational { degree: 0 }.validate().is_err());
        assert_eq!(
            IntegratorKind::Rational { degree: 6 }.error_bound(2.0),
            RationalExp::uniform_error(6).map(|e| 2.0 * e)
        );
    }
}
