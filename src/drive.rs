//! The rate field of a generator (SPEC §5): a [`Drive`] supplies, at reverse time s, the cell
//! field φ whose differences set the rates and the scale c(s) multiplying the face
//! conductances κ/h². The score models that implement it live in [`crate::score`]; the plain
//! heat flow [`HeatDrive`] (the forward generator A of SPEC §4) lives here, so the forward
//! oracle and the generator depend on this file and not on the score models.

use crate::beta::BetaSchedule;
use crate::error::Result;

/// A time-dependent rate field for the [`crate::generator::Generator`].
pub trait Drive: Send {
    /// Writes φ(s) into `phi` and returns the scale c(s) ≥ 0.
    fn eval(&mut self, s: f64, phi: &mut [f64]) -> Result<f64>;
    /// True when φ and the scale do not depend on s (then G is built once).
    fn is_static(&self) -> bool;
}

/// Pure heat flow (φ ≡ 0, scale β(t) in forward time): with [`crate::flux::Flux::ChainReversal`] the
/// generator is the forward A of SPEC §4 (used for numerical checks of the oracle).
pub struct HeatDrive {
    /// Rate schedule.
    pub beta: BetaSchedule,
    /// Horizon T of the schedule.
    pub horizon: f64,
}

impl Drive for HeatDrive {
    fn eval(&mut self, s: f64, phi: &mut [f64]) -> Result<f64> {
        phi.fill(0.0);
        Ok(self.beta.beta(s, self.horizon))
    }

    fn is_static(&self) -> bool {
        matches!(self.beta, BetaSchedule::Constant { .. })
    }
}
