//! Projection-time schedules (SPEC §6): `0 = s_0 < … < s_N = T`, `t_n = T − s_n`.
//!
//! - uniform: `s_n = nT/N`;
//! - geometric: `σ_n = σ_max (σ_min/σ_max)^{n/(N−1)}`, n < N, with `σ(t) = √(2S(t))`, `s_N = T`;
//! - EDM/Karras: `σ_n = (σ_max^{1/ρ} + n/(N−1)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ`, n < N, `s_N = T`;
//! - equal-entropy: `H(q_{t_n}) = H(q_T) − (n/N)(H(q_T) − H(q0))` (bisection in t on the
//!   oracle's entropy); falls back to uniform, with a warning, where `|H(q_T) − H(q0)| < 1e-10 H(q0)`.

use crate::beta::BetaSchedule;
use crate::error::{CgklError, Result};
use crate::oracle::ForwardOracle;
use serde::{Deserialize, Serialize};

/// Schedule selection (config `[schedule]`, key `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Equal steps in s.
    Uniform,
    /// Geometric in σ(t) = √(2S(t)).
    Geometric,
    /// EDM/Karras ρ-schedule in σ.
    Karras,
    /// Equal increments of the forward entropy H(q_t).
    EqualEntropy,
}

/// Schedule parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleSpec {
    /// Which schedule.
    pub kind: ScheduleKind,
    /// Number of projection steps N ≥ 1.
    pub n_steps: usize,
    /// σ_min > 0 for geometric and Karras.
    pub sigma_min: f64,
    /// Karras ρ (default 7).
    pub rho: f64,
}

/// The forward time t ∈ (0, T) with `H(q_t) = target`, for `H(q_0) = h0 < target < H(q_T) = ht`
/// (H increases in t): Illinois regula falsi on the bracket, to `1e-14·T` in t or `1e-15·|H|`
/// in H; a bisection step whenever an interpolation step fails to halve the bracket.
fn entropy_root(oracle: &mut ForwardOracle, target: f64, horizon: f64, h0: f64, ht: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, horizon);
    let (mut flo, mut fhi) = (h0 - target, ht - target);
    let mut side = 0i8;
    for _ in 0..200 {
        if hi - lo <= 1e-14 * horizon {
            break;
        }
        let width = hi - lo;
        let mut mid = (lo * fhi - hi * flo) / (fhi - flo);
        if !(mid > lo && mid < hi) {
            mid = 0.5 * (lo + hi);
        }
        let f = oracle.entropy_at(mid) - target;
        if f.abs() <= 1e-15 * target.abs() {
            return mid;
        }
        if f < 0.0 {
            lo = mid;
            flo = f;
            if side == -1 {
                fhi *= 0.5; // Illinois: the retained end's value is halved
            }
            side = -1;
        } else {
            hi = mid;
            fhi = f;
            if side == 1 {
                flo *= 0.5;
            }
            side = 1;
        }
        if hi - lo > 0.5 * width {
            // slow progress: one bisection step
            let m = 0.5 * (lo + hi);
            let fm = oracle.entropy_at(m) - target;
            if fm < 0.0 {
                lo = m;
                flo = fm;
            } else {
                hi = m;
                fhi = fm;
            }
            side = 0;
        }
    }
    0.5 * (lo + hi)
}

/// The projection times `s_0..s_N` and a warning if a fallback was taken.
pub fn projection_times(
    spec: &ScheduleSpec,
    horizon: f64,
    beta: &BetaSchedule,
    oracle: &mut ForwardOracle,
) -> Result<(Vec<f64>, Option<String>)> {
    let n = spec.n_steps;
    if n == 0 {
        return Err(CgklError::config("schedule.n_steps", 0, "N must be ≥ 1"));
    }
    let uniform = || {
        (0..=n)
            .map(|k| {
                if k == n {
                    horizon
                } else {
                    horizon * k as f64 / n as f64
                }
            })
            .collect::<Vec<_>>()
    };
    let from_sigmas = |sig: Vec<f64>| -> Vec<f64> {
        let mut s: Vec<f64> = sig
            .iter()
            .map(|&sg| horizon - beta.inverse_integral(0.5 * sg * sg, horizon))
            .collect();
        s[0] = 0.0;
        s.push(horizon);
        s
    };
    let sigma_max = (2.0 * beta.integral(horizon, horizon)).sqrt();
    let check_sigma = || -> Result<()> {
        if !(spec.sigma_min > 0.0 && spec.sigma_min < sigma_max) {
            return Err(CgklError::config(
                "schedule.sigma_min",
                spec.sigma_min,
                format!(
                    "σ_min must lie in (0, σ_max = √(2S(T)) = {sigma_max:.4e}): use a smaller \
                     σ_min (default 0.002), or a longer forward.horizon or larger β (S(T) = ∫₀ᵀβ)"
                ),
            ));
        }
        Ok(())
    };
    let mut warning = None;
    let times = match spec.kind {
        ScheduleKind::Uniform => uniform(),
        ScheduleKind::Geometric => {
            check_sigma()?;
            let r = spec.sigma_min / sigma_max;
            from_sigmas(
                (0..n)
                    .map(|k| {
                        if n == 1 {
                            sigma_max
                        } else {
                            sigma_max * r.powf(k as f64 / (n - 1) as f64)
                        }
                    })
                    .collect(),
            )
        }
        ScheduleKind::Karras => {
            check_sigma()?;
            if !(spec.rho.is_finite() && spec.rho > 0.0) {
                return Err(CgklError::config(
                    "schedule.rho",
                    spec.rho,
                    "ρ must be finite and > 0 (Karras: 7)",
                ));
            }
            let (a, b) = (
                sigma_max.powf(1.0 / spec.rho),
                spec.sigma_min.powf(1.0 / spec.rho),
            );
            from_sigmas(
                (0..n)
                    .map(|k| {
                        let f = if n == 1 {
                            0.0
                        } else {
                            k as f64 / (n - 1) as f64
                        };
                        (a + f * (b - a)).powf(spec.rho)
                    })
                    .collect(),
            )
        }
        ScheduleKind::EqualEntropy => {
            let h0 = oracle.entropy_at(0.0);
            let ht = oracle.entropy_at(horizon);
            if (ht - h0).abs() < 1e-10 * h0.abs() {
                warning = Some(format!(
                    "equal-entropy schedule: H(q_T) − H(q0) = {:.3e} is negligible (the data do not move under the forward flow); using the uniform schedule",
                    ht - h0
                ));
                uniform()
            } else if ht < h0 {
                // the heat flow's entropy never decreases (A is symmetric with a uniform
                // stationary state); a decrease means round-off or a broken oracle
                return Err(CgklError::Data(format!(
                    "equal-entropy schedule: H(q_T) = {ht} < H(q0) = {h0}; the forward entropy must increase (use another schedule)"
                )));
            } else {
                let mut s = vec![0.0; n + 1];
                s[n] = horizon;
                for (k, sk) in s.iter_mut().enumerate().take(n).skip(1) {
                    let target = ht - (k as f64 / n as f64) * (ht - h0);
                    *sk = horizon - entropy_root(oracle, target, horizon, h0, ht);
                }
                s
            }
        }
    };
    if let Some(k) =
        (0..n).find(|&k| times[k + 1].partial_cmp(&times[k]) != Some(std::cmp::Ordering::Greater))
    {
        let what = format!(
            "the projection times are not strictly increasing at n = {k} (s = {:e}, {:e})",
            times[k],
            times[k + 1]
        );
        // name the key that separates them
        let (key, value, fix) = match spec.kind {
            ScheduleKind::Uniform => (
                "forward.horizon",
                format!("{horizon:?}"),
                format!("T/N = {:e} does not separate them: use a larger T or fewer steps (schedule.n_steps)", horizon / n as f64),
            ),
            ScheduleKind::Geometric | ScheduleKind::Karras if times[k + 1] >= horizon => (
                "schedule.sigma_min",
                format!("{:?}", spec.sigma_min),
                "the last σ_n are so small that t = σ²/(2β) is below the rounding of s = T − t: \
                 raise σ_min (default 0.002) or use fewer steps"
                    .to_string(),
            ),
            ScheduleKind::Geometric => (
                "schedule.sigma_min",
                format!("{:?}", spec.sigma_min),
                format!("consecutive σ_n = σ_max·(σ_min/σ_max)^(n/(N−1)) coincide: use fewer steps or a σ_min further below σ_max = {sigma_max:.4e}"),
            ),
            ScheduleKind::Karras => (
                "schedule.rho",
                format!("{:?}", spec.rho),
                format!("consecutive σ_n coincide: use fewer steps, a ρ nearer 7, or a σ_min further below σ_max = {sigma_max:.4e}"),
            ),
            ScheduleKind::EqualEntropy => (
                "schedule.n_steps",
                n.to_string(),
                "the entropy increments are below the root solver's resolution: use fewer steps \
                 or another schedule.kind"
                    .to_string(),
            ),
        };
        return Err(CgklError::config(key, value, format!("{what}; {fix}")));
    }
    Ok((times, warning))
}
