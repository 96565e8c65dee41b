//! Time integrators for the master equation `dp/ds = G(s) p` over one interval [s0, s1].
//! A new method is a file here plus one variant in [`IntegratorKind`].

pub mod chebyshev;
mod explicit_euler;
mod implicit_euler;
pub mod rational;
pub mod static_exp;
mod trbdf2;
pub mod uniformization;

pub use chebyshev::ChebyshevExp;
pub use explicit_euler::ExplicitEuler;
pub use implicit_euler::ImplicitEuler;
pub use rational::RationalExp;
pub use static_exp::StaticExp;
pub use trbdf2::{StepControl, TrBdf2};
pub use uniformization::Uniformization;

use crate::bounds::{MAX_INNER_STEPS, MIN_ATOL, MIN_RTOL};
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
    /// For a time-independent G, per interval the cheaper of uniformization and the Chebyshev
    /// expansion at L1 tolerance `atol` ([`StaticExp`]); else adaptive TR-BDF2.
    Auto {
        /// Relative tolerance of TR-BDF2.
        rtol: f64,
        /// Absolute tolerance of TR-BDF2 and truncation tolerance of uniformization.
        atol: f64,
    },
}

impl IntegratorKind {
    /// Whether the kind solves linear systems `(I − aG) x = b` (and so holds a linear solver)
    /// for a G that is (`is_static`) or is not time independent.
    pub fn solves_systems(&self, is_static: bool) -> bool {
        match self {
            IntegratorKind::ImplicitEuler { .. }
            | IntegratorKind::Trbdf2Fixed { .. }
            | IntegratorKind::Trbdf2Adaptive { .. }
            | IntegratorKind::Rational { .. } => true,
            IntegratorKind::Auto { .. } => !is_static,
            IntegratorKind::ExplicitEuler { .. }
            | IntegratorKind::Uniformization { .. }
            | IntegratorKind::Chebyshev { .. } => false,
        }
    }

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
                // below round-off the error estimate never passes and the steps shrink without
                // bound: the count a tolerance implies grows like rtol^(−1/3), then diverges
                if rtol < MIN_RTOL {
                    return bad(
                        "rtol",
                        &format!("{rtol:e}"),
                        format!(
                            "must be ≥ {MIN_RTOL:e}: below, TR-BDF2's error estimate is round-off \
                             and its step count grows without bound (default 1e-8); for time-exact \
                             results of a static generator use kind = \"uniformization\""
                        ),
                    );
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
                if atol < MIN_ATOL {
                    return bad(
                        "atol",
                        &format!("{atol:e}"),
                        format!(
                            "must be ≥ {MIN_ATOL:e}: below, the error test on near-empty cells is \
                             round-off and TR-BDF2's step count grows without bound (default 1e-12)"
                        ),
                    );
                }
            }
            IntegratorKind::ExplicitEuler { cfl, substeps } => {
                if substeps == 0 {
                    return bad("substeps", &substeps, "must be ≥ 1".into());
                }
                if !(cfl > 0.0 && cfl <= 1.0) {
                    return bad("cfl", &cfl, "must lie in (0, 1] to keep p ≥ 0".into());
                }
                // the count cfl implies is checked against G in `check_work`
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

    /// About how many inner steps a resolved run over the intervals `dts` (Δt_n) takes, for a
    /// generator whose largest exit rate is `lambda` (`max_i |G_ii|`) and is static or not:
    /// explicit Euler `Σ max(substeps, ⌈Δt_n Λ/cfl⌉)` substeps; implicit Euler and fixed
    /// TR-BDF2 `N·substeps` steps; rational `N·m` solves; uniformization (and auto for a static
    /// G) the products `⌈λ/400⌉(λ' + √(2λ' L) + L)` per interval, `λ = 1.05 Δt_n Λ`, λ' the
    /// substep's share, `L = ln(1/tol)`; Chebyshev `√(2 Δt_n Λ L) + L` products per interval.
    /// None for adaptive TR-BDF2 (auto with a moving G), which has no count before the solve:
    /// its tolerances are bounded instead and its steps at run time.
    pub fn inner_steps(&self, dts: &[f64], lambda: f64, is_static: bool) -> Option<f64> {
        let n = dts.len() as f64;
        let uniformization = |tol: f64| {
            let l = -tol.ln();
            dts.iter()
                .map(|&dt| {
                    let total = 1.05 * dt * lambda;
                    if total == 0.0 {
                        return 0.0;
                    }
                    if total.is_nan() || total < 0.0 {
                        return f64::INFINITY;
                    }
                    let subs = (total / 400.0).ceil().max(1.0);
                    let part = total / subs;
                    subs * (part + (2.0 * part * l).sqrt() + l)
                })
                .sum::<f64>()
        };
        match *self {
            IntegratorKind::ExplicitEuler { cfl, substeps } => Some(
                dts.iter()
                    .map(|&dt| (dt * lambda / cfl).ceil().max(substeps as f64))
                    .sum(),
            ),
            IntegratorKind::ImplicitEuler { substeps }
            | IntegratorKind::Trbdf2Fixed { substeps } => Some(n * substeps as f64),
            IntegratorKind::Rational { degree } => Some(n * degree as f64),
            IntegratorKind::Uniformization { tol } => Some(uniformization(tol)),
            IntegratorKind::Auto { atol, .. } if is_static => Some(uniformization(atol)),
            IntegratorKind::Chebyshev { tol } => {
                let l = -tol.ln();
                Some(
                    dts.iter()
                        .map(|&dt| (2.0 * dt * lambda * l).sqrt() + l)
                        .sum(),
                )
            }
            IntegratorKind::Trbdf2Adaptive { .. } | IntegratorKind::Auto { .. } => None,
        }
    }

    /// Refuses a resolved run whose [`Self::inner_steps`] exceed
    /// `bounds::MAX_INNER_STEPS` (10⁷): a config error naming the knob that
    /// sets the count (cfl, substeps, degree, or the kind for the exponential methods, whose
    /// count is T·Λ), the count it implies and a value that fits.
    pub fn check_work(&self, dts: &[f64], lambda: f64, is_static: bool) -> Result<()> {
        if let IntegratorKind::Chebyshev { .. } = self {
            // the recurrence drifts the mass by ≈ 4e-18·c (chebyshev::roundoff): beyond
            // MAX_CHEBYSHEV_C that exceeds the run's mass tolerance of 1e-12
            let max_dt = dts.iter().fold(0.0f64, |m, &d| m.max(d));
            let c = max_dt * lambda;
            if c.is_nan() || c > chebyshev::MAX_CHEBYSHEV_C {
                return Err(CgklError::config(
                    "flow.integrator.kind",
                    "chebyshev",
                    format!(
                        "the longest interval has c = Δt·Λ = {c:.3e} (Λ = max|G_ii| = {lambda:.3e}); \
                         the expansion's mass round-off (≈ 4e-18·c) stays within the run's mass \
                         tolerance only for c ≤ {:e}: use more steps (schedule.n_steps ≥ {}), \
                         a shorter forward.horizon, or kind = \"uniformization\"",
                        chebyshev::MAX_CHEBYSHEV_C,
                        (dts.len() as f64 * c / chebyshev::MAX_CHEBYSHEV_C).ceil()
                    ),
                ));
            }
        }
        let Some(count) = self.inner_steps(dts, lambda, is_static) else {
            return Ok(());
        };
        if count <= MAX_INNER_STEPS {
            return Ok(());
        }
        let n = dts.len();
        let horizon: f64 = dts.iter().sum();
        let ratio = count / MAX_INNER_STEPS;
        let bad = |key: &str, v: &dyn std::fmt::Display, fix: String| {
            Err(CgklError::config(&format!("flow.integrator.{key}"), v, fix))
        };
        let per_run = format!("at most {MAX_INNER_STEPS:e} per run");
        let rate = format!("T = {horizon:e}, Λ = max|G_ii| = {lambda:.3e}");
        match *self {
            IntegratorKind::ExplicitEuler { cfl, substeps } => {
                let by_cfl: f64 = dts.iter().map(|&dt| (dt * lambda / cfl).ceil()).sum();
                if by_cfl >= n as f64 * substeps as f64 {
                    let need = (horizon * lambda / (MAX_INNER_STEPS - n as f64).max(1.0)).max(cfl);
                    let fix = if need <= 1.0 {
                        format!("raise cfl to ≥ {need:.2e}, or use kind = \"implicit_euler\" or \"auto\"")
                    } else {
                        "cfl ≤ 1 cannot reach it: use kind = \"implicit_euler\" or \"auto\", or flow.mode = \"kernel\"".into()
                    };
                    bad(
                        "cfl",
                        &format!("{cfl:?}"),
                        format!(
                            "explicit Euler would take about {count:.2e} substeps (Σ_n ⌈Δt_n·Λ/cfl⌉, \
                             {rate}), {per_run}; {fix}"
                        ),
                    )
                } else {
                    bad(
                        "substeps",
                        &substeps,
                        format!(
                            "N·substeps = {n}·{substeps} = {count:.2e} substeps, {per_run}; use \
                             substeps ≤ {}",
                            (MAX_INNER_STEPS / n as f64).floor()
                        ),
                    )
                }
            }
            IntegratorKind::ImplicitEuler { substeps }
            | IntegratorKind::Trbdf2Fixed { substeps } => bad(
                "substeps",
                &substeps,
                format!(
                    "N·substeps = {n}·{substeps} = {count:.2e} steps, {per_run}; use substeps ≤ {}",
                    (MAX_INNER_STEPS / n as f64).floor()
                ),
            ),
            IntegratorKind::Rational { degree } => bad(
                "degree",
                &degree,
                format!(
                    "N·m = {n}·{degree} = {count:.2e} solves, {per_run}; use a smaller degree or \
                     fewer steps (schedule.n_steps)"
                ),
            ),
            _ => {
                let name = self.name();
                let what = if matches!(self, IntegratorKind::Chebyshev { .. }) {
                    "products with G (Σ_n √(2Δt_n·Λ·ln(1/tol)))"
                } else {
                    "products with G (≈ 1.05·T·Λ)"
                };
                bad(
                    "kind",
                    &name,
                    format!(
                        "{name} would take about {count:.2e} {what}, {rate}, {per_run}; use \
                         flow.mode = \"kernel\" or kind = \"rational\", or a run {ratio:.1e}× \
                         shorter (forward.horizon) or with smaller rates (β, the score's \
                         neighbour ratios)"
                    ),
                )
            }
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
                    Box::new(StaticExp::new(g.n(), atol)?)
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
