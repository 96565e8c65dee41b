//! V_δ projection Π_δ (SPEC §3): `Π_δ(p)_i = p_i · w★_j / w_j(p)`, i ∈ block j; an empty block
//! with `w★_j > 0` is filled as `w★_j π^(j)`. The identity, with no arithmetic, when `w(p) ∈ W_δ`.

use super::{PostRecord, PostStep};
use crate::kl::{Reference, TauSolver, TauStar, ToleranceBox};
use crate::partition::Partition;
use std::sync::Arc;

/// The V_δ projection: the I-projection `argmin {D(q‖p) : w(q) ∈ W_δ}` (SPEC §3).
#[derive(Debug, Clone)]
pub struct VdeltaProjection {
    part: Arc<Partition>,
    reference: Arc<Reference>,
    bounds: ToleranceBox,
    solver: TauSolver,
    w: Vec<f64>,
    w_star: Vec<f64>,
    factor: Vec<f64>,
}

impl VdeltaProjection {
    /// Π_δ for the given partition, reference and tolerance box (workspaces sized once).
    pub fn new(part: Arc<Partition>, reference: Arc<Reference>, bounds: ToleranceBox) -> Self {
        let m = part.m();
        Self {
            part,
            reference,
            bounds,
            solver: TauSolver::new(m),
            w: vec![0.0; m],
            w_star: vec![0.0; m],
            factor: vec![0.0; m],
        }
    }

    /// The tolerance box W_δ.
    pub fn bounds(&self) -> &ToleranceBox {
        &self.bounds
    }

    /// Applies Π_δ in place and returns τ★ with the active-bound counts.
    pub fn project(&mut self, p: &mut [f64]) -> TauStar {
        self.part.block_masses_into(p, &mut self.w);
        let t = self.solver.solve(&self.w, &self.bounds, &mut self.w_star);
        if t.n_active_lower == 0 && t.n_active_upper == 0 && self.bounds.contains(&self.w) {
            return t; // Π_δ(p) = p exactly
        }
        for j in 0..self.w.len() {
            self.factor[j] = if self.w[j] > 0.0 {
                self.w_star[j] / self.w[j]
            } else {
                f64::NAN
            };
        }
        let (labels, pi_ref) = (self.part.labels(), &self.reference.pi);
        let (factor, w_star) = (&self.factor, &self.w_star);
        crate::par::for_each_mut(p, |r, p| {
            for ((pi, &l), &ci) in p.iter_mut().zip(&labels[r.clone()]).zip(&pi_ref[r]) {
                let j = l as usize;
                let f = factor[j];
                *pi = if f.is_nan() { w_star[j] * ci } else { *pi * f };
            }
        });
        t
    }
}

impl PostStep for VdeltaProjection {
    fn apply(&mut self, p: &mut [f64], _s: f64) -> PostRecord {
        let mass = |p: &[f64]| crate::par::sum(p.len(), |r| p[r].iter().sum::<f64>());
        let before = mass(p);
        let t = self.project(p);
        let after = mass(p);
        PostRecord {
            tau: t.tau,
            n_active_lower: t.n_active_lower,
            n_active_upper: t.n_active_upper,
            mass_change: before - after,
        }
    }

    fn name(&self) -> &'static str {
        "vdelta_projection"
    }
}
