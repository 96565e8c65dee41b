//! Explicit Euler with positivity-limited substeps: `p ← p + Δt G(s) p` with
//! `Δt · max_i |G_ii| ≤ cfl ≤ 1`, so `I + Δt G` is entrywise ≥ 0 (a Markov kernel): mass is
//! conserved and p stays ≥ 0. Order 1.

use super::{Integrator, StepStats};
use crate::bounds::MAX_INNER_STEPS;
use crate::error::{CgklError, Result};
use crate::generator::Generator;

/// Explicit Euler with positivity-limited substeps.
pub struct ExplicitEuler {
    cfl: f64,
    min_substeps: usize,
    gp: Vec<f64>,
}

impl ExplicitEuler {
    /// `cfl ∈ (0, 1]`, at least `min_substeps` equal substeps per interval.
    pub fn new(n: usize, cfl: f64, min_substeps: usize) -> Self {
        Self {
            cfl,
            min_substeps: min_substeps.max(1),
            gp: vec![0.0; n],
        }
    }
}

impl Integrator for ExplicitEuler {
    fn order(&self) -> u32 {
        1
    }

    fn name(&self) -> &'static str {
        "explicit_euler"
    }

    fn advance(&mut self, g: &mut Generator, p: &mut [f64], s0: f64, s1: f64) -> Result<StepStats> {
        let mut stats = StepStats::default();
        let h_nominal = (s1 - s0) / self.min_substeps as f64;
        let mut s = s0;
        while s < s1 {
            g.refresh(s)?;
            let h_pos = if g.max_exit_rate() > 0.0 {
                self.cfl / g.max_exit_rate()
            } else {
                f64::INFINITY
            };
            let mut h = h_nominal.min(h_pos);
            // land exactly on s1 and avoid a sliver of a last step
            if s + h >= s1 || s1 - (s + h) < 1e-12 * (s1 - s0) {
                h = s1 - s;
            }
            g.apply(p, &mut self.gp);
            p.iter_mut().zip(&self.gp).for_each(|(x, d)| *x += h * d);
            s = if h == s1 - s { s1 } else { s + h };
            stats.steps += 1;
            // validation estimates the count from G at s = 0 and T; a G whose rates peak in
            // between is stopped here rather than running on
            if s < s1 && stats.steps as f64 >= MAX_INNER_STEPS {
                return Err(CgklError::config(
                    "flow.integrator.cfl",
                    format!("{:?}", self.cfl),
                    format!(
                        "explicit Euler took {MAX_INNER_STEPS:e} substeps on [{s0:e}, {s1:e}] and \
                         reached only s = {s:e} (max|G_ii| = {:.3e}); raise cfl, or use kind = \
                         \"implicit_euler\" or \"auto\"",
                        g.max_exit_rate()
                    ),
                ));
            }
        }
        Ok(stats)
    }
}
