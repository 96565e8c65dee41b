//! Implicit Euler: `p ← (I − Δt G(s+Δt))⁻¹ p`. For a Markov generator `R = (I − Δt G)⁻¹` is a
//! Markov kernel (entrywise ≥ 0, columns sum to 1) for every Δt > 0: mass conserved, p ≥ 0,
//! L-stable, order 1. One numeric factorisation (or multigrid setup) per new (G, Δt), reused
//! otherwise; the multigrid path solves to 10⁻³ of the step's own local error
//! ([`Tolerance::ImplicitEuler`]).

use super::{Integrator, StepStats};
use crate::error::Result;
use crate::generator::Generator;
use crate::linsolve::{LinearSolver, Solver};
use crate::multigrid::Tolerance;

/// Implicit Euler with a fixed number of equal substeps per interval.
pub struct ImplicitEuler {
    lu: Solver,
    substeps: usize,
}

impl ImplicitEuler {
    /// Implicit Euler for G's pattern with `substeps` ≥ 1 equal steps per interval, its
    /// systems solved by `solver`.
    pub fn new(g: &Generator, substeps: usize, solver: LinearSolver) -> Result<Self> {
        Ok(Self {
            lu: Solver::new(g, solver, Tolerance::ImplicitEuler)?,
            substeps: substeps.max(1),
        })
    }
}

impl Integrator for ImplicitEuler {
    fn order(&self) -> u32 {
        1
    }

    fn name(&self) -> &'static str {
        "implicit_euler"
    }

    fn advance(&mut self, g: &mut Generator, p: &mut [f64], s0: f64, s1: f64) -> Result<StepStats> {
        let before = self.lu.factorizations();
        let h = (s1 - s0) / self.substeps as f64;
        for k in 0..self.substeps {
            let s_end = if k + 1 == self.substeps {
                s1
            } else {
                s0 + (k + 1) as f64 * h
            };
            g.refresh(s_end)?;
            self.lu.factor(g, h, s_end)?;
            self.lu.solve_in_place(p)?;
        }
        Ok(StepStats {
            steps: self.substeps,
            rejected: 0,
            factorizations: self.lu.factorizations() - before,
        })
    }
}
