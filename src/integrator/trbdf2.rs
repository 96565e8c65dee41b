//! TR-BDF2 (Bank et al. 1985; Hosea & Shampine 1996), γ = 2 − √2, d = γ/2:
//!
//! ```text
//! (I − d h G(s+γh)) z   = y + d h G(s) y                                   (trapezoidal to s+γh)
//! (I − d h G(s+h)) y₁   = z/(γ(2−γ)) − (1−γ)²/(γ(2−γ)) · y                  (BDF2 to s+h)
//! ```
//! Second order, L-stable, both stages share `I − d h G` (one factorisation per step for a
//! static G). The coefficients of the BDF2 right side sum to 1, so mass is conserved. Local error
//! estimate `est = 2Ch((f₁ − f_z)/(1−γ) − (f_z − f₀)/γ)`, `C = (−3γ² + 4γ − 2)/(12(2−γ))`, filtered
//! through `(I − d h G)⁻¹` for stiff components (Shampine). A step with an entry below
//! −[`super::NEG_TOL`] is rejected (adaptive: h halved; fixed: split in two halves).

use super::{Integrator, StepStats, NEG_TOL};
use crate::bounds::MAX_INNER_STEPS;
use crate::error::{CgklError, Result};
use crate::generator::Generator;
use crate::linsolve::{LinearSolver, Solver};
use crate::multigrid::Tolerance;

const GAMMA: f64 = 2.0 - std::f64::consts::SQRT_2;
const D: f64 = GAMMA / 2.0;

/// Fixed or adaptive step control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepControl {
    /// `substeps` equal steps per interval.
    Fixed {
        /// Steps per interval.
        substeps: usize,
    },
    /// Error-controlled steps: max_i |est_i|/(atol + rtol·max(|y_i|, |y₁_i|)) ≤ 1.
    Adaptive {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
}

/// The TR-BDF2 integrator with its workspaces.
pub struct TrBdf2 {
    lu: Solver,
    control: StepControl,
    h_next: Option<f64>,
    z: Vec<f64>,
    y1: Vec<f64>,
    f0: Vec<f64>,
    fz: Vec<f64>,
    f1: Vec<f64>,
    est: Vec<f64>,
}

/// Outcome of one attempted step from `y` (result in `y1`, estimate in `est`).
struct Attempt {
    err: f64,
    negative: bool,
}

impl TrBdf2 {
    /// TR-BDF2 for G's pattern, its systems solved by `solver`; multigrid solves stop at
    /// [`Self::solve_tolerance`].
    pub fn new(g: &Generator, control: StepControl, solver: LinearSolver) -> Result<Self> {
        let n = g.n();
        Ok(Self {
            lu: Solver::new(g, solver, Self::solve_tolerance(control))?,
            control,
            h_next: None,
            z: vec![0.0; n],
            y1: vec![0.0; n],
            f0: vec![0.0; n],
            fz: vec![0.0; n],
            f1: vec![0.0; n],
            est: vec![0.0; n],
        })
    }

    /// The multigrid tolerance (relative L1 residual, [`crate::multigrid`]): 10⁻³·rtol for
    /// adaptive steps (a thousandth of the relative error the controller accepts), 10⁻¹⁰ for
    /// fixed ones.
    pub fn solve_tolerance(control: StepControl) -> Tolerance {
        match control {
            StepControl::Adaptive { rtol, .. } => Tolerance::Relative(1e-3 * rtol),
            StepControl::Fixed { .. } => Tolerance::Relative(1e-10),
        }
    }

    fn attempt(
        &mut self,
        g: &mut Generator,
        y: &[f64],
        s: f64,
        h: f64,
        tol: Option<(f64, f64)>,
    ) -> Result<Attempt> {
        let dh = D * h;
        g.refresh(s)?;
        g.apply(y, &mut self.f0);
        for ((z, &yi), &f) in self.z.iter_mut().zip(y).zip(&self.f0) {
            *z = yi + dh * f;
        }
        let sg = s + GAMMA * h;
        g.refresh(sg)?;
        self.lu.factor(g, dh, sg)?;
        self.lu.solve_in_place(&mut self.z)?;
        let c1 = 1.0 / (GAMMA * (2.0 - GAMMA));
        let c0 = (1.0 - GAMMA).powi(2) / (GAMMA * (2.0 - GAMMA));
        let mut negative = false;
        if tol.is_some() {
            g.apply(&self.z, &mut self.fz);
        }
        for ((y1, &z), &yi) in self.y1.iter_mut().zip(&self.z).zip(y) {
            *y1 = c1 * z - c0 * yi;
        }
        let s1 = s + h;
        g.refresh(s1)?;
        self.lu.factor(g, dh, s1)?;
        self.lu.solve_in_place(&mut self.y1)?;
        // `!(v ≥ −tol)` also catches NaN
        negative |= self.y1.iter().any(|&v| v.is_nan() || v < -NEG_TOL);
        let mut err = 0.0;
        if let Some((rtol, atol)) = tol {
            g.apply(&self.y1, &mut self.f1);
            let cst = (-3.0 * GAMMA * GAMMA + 4.0 * GAMMA - 2.0) / (12.0 * (2.0 - GAMMA));
            for i in 0..y.len() {
                self.est[i] = 2.0
                    * cst
                    * h
                    * ((self.f1[i] - self.fz[i]) / (1.0 - GAMMA)
                        - (self.fz[i] - self.f0[i]) / GAMMA);
            }
            self.lu.solve_in_place(&mut self.est)?;
            for ((&yi, &y1i), &est) in y.iter().zip(&self.y1).zip(&self.est) {
                let sc = atol + rtol * yi.abs().max(y1i.abs());
                let e = est.abs() / sc;
                // NaN compares false: make it an infinite error (a rejected step)
                err = if e.is_nan() {
                    f64::INFINITY
                } else {
                    err.max(e)
                };
            }
        }
        Ok(Attempt { err, negative })
    }

    /// One fixed step of size h from s, split recursively in halves while it goes negative.
    fn fixed_step(
        &mut self,
        g: &mut Generator,
        p: &mut [f64],
        s: f64,
        h: f64,
        depth: u32,
        stats: &mut StepStats,
    ) -> Result<()> {
        let a = self.attempt(g, p, s, h, None)?;
        if a.negative {
            stats.rejected += 1;
            if depth >= 30 {
                return Err(CgklError::StepSizeTooSmall {
                    s,
                    dt: h,
                    rejects: stats.rejected,
                });
            }
            self.fixed_step(g, p, s, 0.5 * h, depth + 1, stats)?;
            return self.fixed_step(g, p, s + 0.5 * h, 0.5 * h, depth + 1, stats);
        }
        p.copy_from_slice(&self.y1);
        stats.steps += 1;
        Ok(())
    }

    fn initial_step(
        &mut self,
        g: &mut Generator,
        p: &[f64],
        s0: f64,
        span: f64,
        rtol: f64,
        atol: f64,
    ) -> Result<f64> {
        g.refresh(s0)?;
        g.apply(p, &mut self.f0);
        let (mut d0, mut d1) = (0.0f64, 0.0f64);
        for (&y, &f) in p.iter().zip(&self.f0) {
            let sc = atol + rtol * y.abs();
            d0 = d0.max(y.abs() / sc);
            d1 = d1.max(f.abs() / sc);
        }
        let h = if d1 > 0.0 { 0.01 * d0 / d1 } else { span };
        Ok(h.min(span).max(1e-12 * span))
    }
}

impl Integrator for TrBdf2 {
    fn order(&self) -> u32 {
        2
    }

    fn name(&self) -> &'static str {
        match self.control {
            StepControl::Fixed { .. } => "trbdf2_fixed",
            StepControl::Adaptive { .. } => "trbdf2_adaptive",
        }
    }

    fn advance(&mut self, g: &mut Generator, p: &mut [f64], s0: f64, s1: f64) -> Result<StepStats> {
        let before = self.lu.factorizations();
        let mut stats = StepStats::default();
        let span = s1 - s0;
        match self.control {
            StepControl::Fixed { substeps } => {
                let n = substeps.max(1);
                let h = span / n as f64;
                for k in 0..n {
                    let s = s0 + k as f64 * h;
                    let hk = if k + 1 == n { s1 - s } else { h };
                    self.fixed_step(g, p, s, hk, 0, &mut stats)?;
                }
            }
            StepControl::Adaptive { rtol, atol } => {
                let mut h = match self.h_next {
                    Some(h) => h,
                    None => self.initial_step(g, p, s0, span, rtol, atol)?,
                };
                let mut s = s0;
                let mut consecutive = 0usize;
                while s < s1 {
                    // tolerances near round-off can ask for ever smaller steps: bounded here
                    if (stats.steps + stats.rejected) as f64 >= MAX_INNER_STEPS {
                        return Err(CgklError::config(
                            "flow.integrator.rtol",
                            format!("{rtol:e}"),
                            format!(
                                "adaptive TR-BDF2 took {MAX_INNER_STEPS:e} steps on [{s0:e}, {s1:e}] \
                                 and reached only s = {s:e} (atol = {atol:e}); loosen \
                                 flow.integrator.rtol/atol, or use flow.mode = \"kernel\""
                            ),
                        ));
                    }
                    let last = s + h >= s1 || (s1 - (s + h)) < 1e-10 * span;
                    let hs = if last { s1 - s } else { h };
                    let a = self.attempt(g, p, s, hs, Some((rtol, atol)))?;
                    let fac = if a.err > 0.0 {
                        0.9 * a.err.powf(-1.0 / 3.0)
                    } else {
                        5.0
                    };
                    if a.negative || a.err.is_nan() || a.err > 1.0 {
                        stats.rejected += 1;
                        consecutive += 1;
                        h = hs * if a.negative { 0.5 } else { fac.clamp(0.2, 0.9) };
                        if consecutive > 60 || h < 1e-14 * span.max(f64::MIN_POSITIVE) {
                            return Err(CgklError::StepSizeTooSmall {
                                s,
                                dt: h,
                                rejects: consecutive,
                            });
                        }
                        continue;
                    }
                    consecutive = 0;
                    p.copy_from_slice(&self.y1);
                    stats.steps += 1;
                    s = if last { s1 } else { s + hs };
                    // keep h (and the factorisation) when the proposed change is small; after a
                    // step truncated to land on s1, carry the untruncated h to the next interval
                    let fac = fac.clamp(0.2, 5.0);
                    let h_prop = if (1.0..=1.2).contains(&fac) {
                        hs
                    } else {
                        hs * fac
                    };
                    if !(last && hs < h) {
                        h = h_prop;
                    }
                    self.h_next = Some(h);
                }
            }
        }
        stats.factorizations = self.lu.factorizations() - before;
        Ok(stats)
    }
}
