//! Uniformization (Jensen 1953) for a time-independent Markov generator:
//!
//! ```text
//! exp(τG) p = Σ_k e^{−λ} λ^k/k! · P^k p,   P = I + G/Λ,   λ = Λτ,   Λ = 1.05 · max_i |G_ii|
//! ```
//! P is entrywise ≥ 0 with columns summing to 1, so every term is a probability vector: the
//! result is non-negative and conserves mass to round-off. The series is cut at the first K > λ
//! whose Poisson tail bound `w_K r/(1−r)`, `r = λ/(K+1)`, is below `tol`, and the kept weights are
//! renormalised to sum to 1, so the L1 error is at most 2·tol per substep. Substeps keep
//! λ ≤ 400 (no underflow of e^{−λ}). Cost ≈ Λτ + 8√(Λτ) matrix–vector products, independent of
//! stiffness structure; exact in time up to `tol`. For a time-dependent G it refuses (use TR-BDF2).

use super::{Integrator, StepStats};
use crate::error::Result;
use crate::generator::Generator;

/// Largest Poisson parameter per substep.
const LAMBDA_MAX: f64 = 400.0;

/// Uniformization with an a-priori truncation tolerance.
#[derive(Debug, Clone)]
pub struct Uniformization {
    tol: f64,
    v: Vec<f64>,
    gv: Vec<f64>,
    acc: Vec<f64>,
    weights: Vec<f64>,
}

impl Uniformization {
    /// Uniformization with L1 truncation tolerance `tol` per substep.
    pub fn new(n: usize, tol: f64) -> Self {
        Self {
            tol,
            v: vec![0.0; n],
            gv: vec![0.0; n],
            acc: vec![0.0; n],
            weights: Vec::with_capacity(1024),
        }
    }

    /// The number of products [`Self::apply_exp_op`] takes for a total Poisson parameter
    /// `total = 1.05 τΛ` at truncation tolerance `tol` (the same substeps and truncation rule,
    /// without computing the weights' values beyond what the rule needs).
    pub fn products(total: f64, tol: f64) -> usize {
        if total.is_nan() || total <= 0.0 {
            return 0;
        }
        if !total.is_finite() {
            return usize::MAX;
        }
        let substeps = (total / LAMBDA_MAX).ceil().max(1.0) as usize;
        let lambda = total / substeps as f64;
        let mut w = (-lambda).exp();
        let mut k = 0usize;
        loop {
            let r = lambda / (k as f64 + 1.0);
            if (k as f64) > lambda && r < 1.0 && w * r / (1.0 - r) <= tol {
                break;
            }
            w *= r;
            k += 1;
        }
        substeps.saturating_mul(k)
    }

    /// Normalised truncated Poisson(λ) weights into `self.weights`.
    fn poisson_weights(&mut self, lambda: f64) {
        self.weights.clear();
        let mut w = (-lambda).exp();
        let mut k = 0usize;
        loop {
            self.weights.push(w);
            let r = lambda / (k as f64 + 1.0);
            if (k as f64) > lambda && r < 1.0 && w * r / (1.0 - r) <= self.tol {
                break;
            }
            w *= r;
            k += 1;
        }
        let total: f64 = self.weights.iter().sum();
        self.weights.iter_mut().for_each(|w| *w /= total);
    }
}

impl Integrator for Uniformization {
    fn order(&self) -> u32 {
        // exact in time up to the truncation tolerance; reported as "infinite" order
        u32::MAX
    }

    fn name(&self) -> &'static str {
        "uniformization"
    }

    fn advance(&mut self, g: &mut Generator, p: &mut [f64], s0: f64, s1: f64) -> Result<StepStats> {
        super::refresh_static(g, s0, "uniformization")?;
        Ok(self.apply_exp(g, p, s1 - s0))
    }
}

impl Uniformization {
    /// `p ← exp(τG) p` for the generator as it is now (frozen; no refresh). Linear in p, so it
    /// also propagates signed vectors (e.g. Runge–Kutta stages that sum to 0).
    pub fn apply_exp(&mut self, g: &Generator, p: &mut [f64], tau: f64) -> StepStats {
        self.apply_exp_op(&|v, out| g.apply(v, out), g.max_exit_rate(), p, tau)
    }

    /// `p ← exp(τG) p` for any Markov generator given by its product `apply(v, out): out = G v`
    /// and its largest exit rate `max_exit = max_i |G_ii|` (the series of the module doc).
    pub fn apply_exp_op(
        &mut self,
        apply: &dyn Fn(&[f64], &mut [f64]),
        max_exit: f64,
        p: &mut [f64],
        tau: f64,
    ) -> StepStats {
        let rate = 1.05 * max_exit;
        let total = rate * tau;
        if total <= 0.0 {
            return StepStats::default();
        }
        let substeps = (total / LAMBDA_MAX).ceil().max(1.0) as usize;
        let lambda = total / substeps as f64;
        self.poisson_weights(lambda);
        let mut stats = StepStats::default();
        for _ in 0..substeps {
            self.v.copy_from_slice(p);
            let w0 = self.weights[0];
            crate::par::for_each_mut(&mut self.acc, |r, acc| {
                for (a, &v) in acc.iter_mut().zip(&self.v[r]) {
                    *a = w0 * v;
                }
            });
            for k in 1..self.weights.len() {
                apply(&self.v, &mut self.gv);
                let w = self.weights[k];
                // v ← v + Gv/Λ, acc ← acc + w·v: one pass, chunk by chunk on the pool
                // (elementwise, so the same bits on any thread count)
                let gv = &self.gv;
                crate::par::for_each_mut2(&mut self.v, &mut self.acc, |r, v, acc| {
                    for ((v, a), &d) in v.iter_mut().zip(acc.iter_mut()).zip(&gv[r]) {
                        *v += d / rate;
                        *a += w * *v;
                    }
                });
            }
            p.copy_from_slice(&self.acc);
            stats.steps += self.weights.len() - 1;
        }
        stats
    }
}
