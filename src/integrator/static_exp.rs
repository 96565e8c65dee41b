//! `auto` for a time-independent generator: on every interval the cheaper of two exponentials
//! that both meet the L1 tolerance `tol` a priori,
//!
//! - uniformization ([`Uniformization`]): `⌈λ/400⌉·(λ' + ≈√(2λ' ln(1/tol)) + …)` products,
//!   `λ = 1.05 τΛ`, a sum of probability vectors (non-negative by construction);
//! - the Chebyshev expansion ([`ChebyshevExp`], reversible fluxes): the smallest degree m with
//!   `ε_m + r(c) ≤ tol/χ(p)`, `c = τΛ`, about `√(2c ln(1/tol))` products, each one fused pass
//!   over the stencil (uniformization's product is a pass plus two vector updates).
//!
//! The Chebyshev degree is known before the products (from c, tol and χ(p)), so the choice is
//! made per interval from those numbers alone: the Chebyshev expansion when its degree is below
//! uniformization's product count, and only where its tolerance is above its round-off
//! (`tol/χ(p) ≥ 2r(c)`) and `c ≤ MAX_CHEBYSHEV_C`. A polynomial is not sign-preserving (its
//! negative part is at most its bound): an interval whose Chebyshev result has a negative entry
//! is redone by uniformization from the saved start, so p stays ≥ 0 as with uniformization
//! alone. Every choice depends on the state and the interval only, so results do not depend on
//! the thread count.

use super::chebyshev::{roundoff, MAX_CHEBYSHEV_C};
use super::{ChebyshevExp, Integrator, RationalExp, StepStats, Uniformization};
use crate::error::Result;
use crate::generator::Generator;

/// Uniformization or the Chebyshev expansion, per interval (see the module doc).
pub struct StaticExp {
    tol: f64,
    unif: Uniformization,
    cheb: ChebyshevExp,
    start: Vec<f64>,
    /// Intervals done by each method, and the Chebyshev results redone (a negative entry).
    pub counts: StaticExpCounts,
}

/// How often [`StaticExp`] took each path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StaticExpCounts {
    /// Intervals by uniformization (including the redone ones).
    pub uniformization: usize,
    /// Intervals by the Chebyshev expansion, kept.
    pub chebyshev: usize,
    /// Chebyshev results with a negative entry, redone by uniformization.
    pub redone: usize,
}

impl StaticExp {
    /// L1 tolerance `tol` per interval (uniformization's truncation tolerance, the Chebyshev
    /// expansion's a-priori L1 bound), for n cells.
    pub fn new(n: usize, tol: f64) -> Result<Self> {
        Ok(Self {
            tol,
            unif: Uniformization::new(n, tol),
            // the uniform tolerance is set per interval; any value in range will do here
            cheb: ChebyshevExp::new(n, tol.max(super::chebyshev::MIN_TOL))?,
            start: vec![0.0; n],
            counts: StaticExpCounts::default(),
        })
    }

    /// The uniform tolerance of the Chebyshev expansion on this interval if it may be used (reversible flux, χ(p) finite, tolerance above round-off, c in range) and takes
    /// fewer than `unif_products` products. χ(p) costs an exponential per cell, so it is only
    /// computed when the degree at the largest possible uniform tolerance, `tol/‖p‖₁`
    /// (`χ(p) ≥ ‖p‖₁` by Cauchy–Schwarz with Σπ = 1), could still win.
    fn chebyshev_tolerance(
        &self,
        g: &Generator,
        p: &[f64],
        c: f64,
        unif_products: usize,
    ) -> Option<f64> {
        if !(c.is_finite() && c > 0.0 && c <= MAX_CHEBYSHEV_C) {
            return None;
        }
        let r = roundoff(c);
        let usable =
            |utol: f64| utol >= 2.0 * r && (super::chebyshev::MIN_TOL..1.0).contains(&utol);
        let degree = |utol: f64| ChebyshevExp::series(c, utol - r).0.len() - 1;
        let mass = crate::par::sum(p.len(), |i| p[i].iter().sum());
        let loosest = (self.tol / mass).min(0.5);
        if !(mass > 0.0 && usable(loosest) && degree(loosest) < unif_products) {
            return None;
        }
        let utol = self.tol / RationalExp::chi(g, p)?;
        if !usable(utol) {
            return None;
        }
        (degree(utol) < unif_products).then_some(utol)
    }
}

impl Integrator for StaticExp {
    fn order(&self) -> u32 {
        // exact in time up to the tolerance, as uniformization
        u32::MAX
    }

    fn name(&self) -> &'static str {
        "auto (uniformization or chebyshev)"
    }

    fn advance(&mut self, g: &mut Generator, p: &mut [f64], s0: f64, s1: f64) -> Result<StepStats> {
        super::refresh_static(g, s0, "auto")?;
        let tau = s1 - s0;
        let c = tau * g.max_exit_rate();
        let unif_products = Uniformization::products(1.05 * c, self.tol);
        if let Some(utol) = self.chebyshev_tolerance(g, p, c, unif_products) {
            self.start.copy_from_slice(p);
            self.cheb.set_uniform_tolerance(utol);
            let stats = self.cheb.apply_exp(g.stencil(), p, tau)?;
            let min = crate::par::reduce(
                p.len(),
                |r| p[r].iter().cloned().fold(f64::INFINITY, f64::min),
                f64::min,
            );
            if min >= 0.0 {
                self.counts.chebyshev += 1;
                return Ok(stats);
            }
            self.counts.redone += 1;
            p.copy_from_slice(&self.start);
        }
        self.counts.uniformization += 1;
        Ok(self.unif.apply_exp(g, p, tau))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// On paper_toy (resolved, 64²) over a long and a short interval: the long one takes the
    /// Chebyshev expansion (fewer products), the short one uniformization, and both agree with
    /// uniformization at 1e-15 to the tolerance, conserve mass and stay ≥ 0.
    #[test]
    fn picks_the_cheaper_exponential_within_the_tolerance() {
        let mut c = Config::default();
        c.grid.nx = 64;
        c.grid.ny = 64;
        let pb = c.validate().unwrap();
        let mut g = pb.generator().unwrap();
        g.refresh(0.0).unwrap();
        let lambda = g.max_exit_rate();
        for (c_target, cheb) in [(200.0, true), (1e-3, false)] {
            let tau = c_target / lambda;
            let mut auto = StaticExp::new(g.n(), 1e-12).unwrap();
            let mut p = pb.p0.clone();
            let stats = auto.advance(&mut g, &mut p, 0.0, tau).unwrap();
            assert_eq!(
                auto.counts.chebyshev == 1,
                cheb,
                "c = {c_target}: {:?}",
                auto.counts
            );
            // the product count the choice compares is the one each method then takes
            let unif = Uniformization::products(1.05 * c_target, 1e-12);
            if cheb {
                assert!(stats.steps < unif, "{} ≥ {unif}", stats.steps);
            } else {
                assert_eq!(stats.steps, unif);
            }
            let mut v = pb.p0.clone();
            let long = Uniformization::new(g.n(), 1e-12).apply_exp(&g, &mut v, 2000.0 / lambda);
            assert_eq!(long.steps, Uniformization::products(1.05 * 2000.0, 1e-12));
            let mut exact = pb.p0.clone();
            Uniformization::new(g.n(), 1e-15).apply_exp(&g, &mut exact, tau);
            let d: f64 = p.iter().zip(&exact).map(|(a, b)| (a - b).abs()).sum();
            assert!(d <= 2e-12, "c = {c_target}: |auto − exact|₁ = {d:e}");
            let mass: f64 = p.iter().sum();
            assert!((mass - 1.0).abs() < 1e-13, "mass {mass}");
            assert!(p.iter().all(|&x| x >= 0.0));
        }
    }
}
