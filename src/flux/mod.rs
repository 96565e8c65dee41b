//! Face fluxes (SPEC §5): the rate from cell i to a neighbour k as a function of the face
//! coefficient `c = scale·κ_ik/h²` and the log-target difference `d = φ_k − φ_i`
//! (φ = ln q̂_t for the reverse diffusion, φ = −U for a potential problem).
//! A new flux is a file here plus one variant and one match arm in [`Flux`].

mod bernoulli;

pub use bernoulli::bernoulli;
use serde::{Deserialize, Serialize};

/// The flux discretisations of SPEC §5 and the plain SG flux of a potential problem.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Flux {
    /// Scharfetter–Gummel, diffusion weight η ∈ (0, 1]: `η c B(−((1+η)/η) d)`, i.e.
    /// `U = −((1+η)/η) ln q̂`, discretising `∂_s ρ = ∇·(ηβ∇ρ − (1+η)βρ∇ln q̂)`.
    Sg {
        /// Diffusion weight η ∈ (0, 1]; η = 1 is the reverse SDE's Fokker–Planck equation.
        eta: f64,
    },
    /// Upwind transport (η = 0): `c · max(0, d)`.
    Upwind,
    /// Exact chain reversal (η = 1): `c · e^d = c · q̂(k)/q̂(i)`.
    ChainReversal,
    /// SG for a given potential U with φ = −U: `c · B(U_k − U_i) = c · B(−d)` (B-relax and other
    /// drift–diffusion problems `∂_t ρ = ∇·(D(∇ρ + ρ∇U))`, c = D/h²).
    PotentialSg,
}

impl Flux {
    /// Rate i→k for face coefficient c ≥ 0 and `d = φ_k − φ_i`.
    #[inline]
    pub fn rate(&self, c: f64, d: f64) -> f64 {
        match *self {
            Flux::Sg { eta } => eta * c * bernoulli(-((1.0 + eta) / eta) * d),
            Flux::Upwind => c * d.max(0.0),
            Flux::ChainReversal => c * d.exp(),
            Flux::PotentialSg => c * bernoulli(-d),
        }
    }

    /// The exponent κ for which the rates are in detailed balance with `π ∝ e^{κφ}`
    /// (`π_i rate(i→k) = π_k rate(k→i)`, from `B(−z) = e^z B(z)`): chain reversal 2, SG
    /// `(1+η)/η`, potential SG 1; `None` for upwind (one-directional rates: not reversible).
    pub fn reversibility_exponent(&self) -> Option<f64> {
        match *self {
            Flux::ChainReversal => Some(2.0),
            Flux::Sg { eta } => Some((1.0 + eta) / eta),
            Flux::PotentialSg => Some(1.0),
            Flux::Upwind => None,
        }
    }

    /// Short name used in logs and file attributes.
    pub fn name(&self) -> &'static str {
        match self {
            Flux::Sg { .. } => "sg",
            Flux::Upwind => "upwind",
            Flux::ChainReversal => "chain_reversal",
            Flux::PotentialSg => "potential_sg",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sg_eta_one_is_chain_reversal_times_delta_over_sinh() {
        for &d in &[-3.0, -0.5, 1e-7, 0.2, 2.5] {
            let sg = Flux::Sg { eta: 1.0 }.rate(2.0, d);
            let cr = Flux::ChainReversal.rate(2.0, d) * d / f64::sinh(d);
            assert!((sg - cr).abs() < 1e-14 * cr, "d = {d}");
        }
    }

    #[test]
    fn sg_tends_to_upwind_as_eta_vanishes() {
        for &d in &[-1.0, -0.1, 0.1, 1.0] {
            let sg = Flux::Sg { eta: 1e-4 }.rate(1.0, d);
            let up = Flux::Upwind.rate(1.0, d);
            assert!((sg - up).abs() < 2e-3 * (1.0 + up), "d = {d}: {sg} vs {up}");
        }
    }

    #[test]
    fn detailed_balance_of_sg() {
        // SG satisfies rate(i→k)/rate(k→i) = exp((1+η)/η · d)... for PotentialSg: e^{d}
        let d = 0.7;
        let r = Flux::PotentialSg.rate(1.0, d) / Flux::PotentialSg.rate(1.0, -d);
        assert!((r - d.exp()).abs() < 1e-14);
    }
}
