//! Post-step operators: maps applied to the state after every flow step (SPEC §6:
//! `p_{n+1} = Π_δ(p̃)`). The splitting driver only knows the [`PostStep`] trait, so a new hook
//! (clipping, thresholding, a user's own) plugs in without touching the driver.

mod clip;
mod projection;

pub use clip::Clip;
pub use projection::VdeltaProjection;

/// What a post-step operator did to one state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PostRecord {
    /// τ★ of the V_δ projection (NaN for operators without one).
    pub tau: f64,
    /// Blocks clipped at their lower bound.
    pub n_active_lower: i32,
    /// Blocks clipped at their upper bound.
    pub n_active_upper: i32,
    /// Mass the operator removed (positive) or added (negative), `Σ p_before − Σ p_after`.
    pub mass_change: f64,
}

impl PostRecord {
    /// The record of an operator that left the state untouched.
    pub fn identity() -> Self {
        Self {
            tau: f64::NAN,
            n_active_lower: 0,
            n_active_upper: 0,
            mass_change: 0.0,
        }
    }
}

/// A map applied in place to the state after each flow step.
pub trait PostStep: Send {
    /// Applies the operator to `p` at time `s` and reports what it did.
    fn apply(&mut self, p: &mut [f64], s: f64) -> PostRecord;
    /// Short name for logs and HDF5 attributes.
    fn name(&self) -> &'static str;
}
