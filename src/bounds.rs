//! The numeric range of the inputs and the work they imply (issue 17, items 7 and 9): bounds that
//! [`crate::config::Config::validate`] checks before any work, so that a value the numerics
//! cannot handle is refused naming its key, instead of breaking an invariant mid-run, and a
//! knob that sets an inner step count cannot ask for a run that never finishes.
//!
//! The scales, with `h = 1/max(nx, ny)` and c = β (or D for a potential problem):
//! * the diffusive rate `Λ_diff = 4c/h²`, the largest exit rate of a cell for a flat score
//!   (the symmetric part of G that an implicit step inverts);
//! * `Λ`, the largest exit rate `max_i |G_ii|` of the reverse generator itself (measured at
//!   s = 0 and s = T), which the score's neighbour ratios `e^{Δ ln q̂}` raise above `Λ_diff`.
//!
//! Every bound is generous next to the configurations of the docs and tests (paper_toy:
//! `T·Λ_diff ≈ 1.3·10³`), and each one was measured or follows from the f64 range:
//! * [`MAX_LOG_STEP`]: neighbouring cells differ by at most 500 in ln q̂ (or in U), so the
//!   chain-reversal rate `c·e^{Δ ln q̂} ≤ 1.7·10³⁷·1.4·10²¹⁷` stays finite with [`MAX_SCALE`];
//! * [`MAX_STEP_STIFFNESS`]: an implicit step of size Δt keeps the mass to 1e-12 while
//!   `Δt·Λ_diff ≤ 10⁶` (measured, kernel mode, 2×2 … 128² grids, every flux: the first mass
//!   drift beyond the tolerance at 3·10⁶ on a 4×4 grid, at 3·10⁷ on 8×8 and 16×16);
//! * [`MIN_MOTION`]: below `T·Λ_diff = 10⁻¹²` the reverse flow moves no mass beyond round-off
//!   (and a denormal T makes the projection times coincide);
//! * [`MAX_INNER_STEPS`]: at most 10⁷ inner steps (substeps, products or solves with G) per run.

/// Largest |Δ ln q̂| (or |ΔU|) between neighbouring cells.
pub const MAX_LOG_STEP: f64 = 500.0;

/// Largest rate scale: β (every value of the schedule) and the diffusion coefficient D.
pub const MAX_SCALE: f64 = 1e30;

/// Largest `Δt·Λ_diff` of one implicit step (kernel mode; implicit_euler, trbdf2_fixed per
/// substep; rational per interval).
pub const MAX_STEP_STIFFNESS: f64 = 1e6;

/// Smallest `T·Λ_diff` of a run.
pub const MIN_MOTION: f64 = 1e-12;

/// Largest number of inner steps of one run (resolved mode, and the continuous-limit reference
/// of a Δt sweep).
pub const MAX_INNER_STEPS: f64 = 1e7;

/// Smallest SG diffusion weight η: below, SG is upwind to within ≈ η·|Δ ln q̂| and its exponent
/// (1+η)/η leaves the range where the symmetric solves and χ(p) are representable.
pub const MIN_ETA: f64 = 1e-6;

/// Largest bright:dark ratio of the checkerboards (and smallest: its inverse); ln 10¹⁰⁰ = 230
/// is within [`MAX_LOG_STEP`].
pub const MAX_CONTRAST: f64 = 1e100;

/// Largest σ of the log-normal start noise `exp(σ z)`: |z| stays below ≈ 6 on 4·10⁶ cells, so
/// `exp(σ z)` and its sum stay finite.
pub const MAX_START_SIGMA: f64 = 100.0;

/// Smallest relative tolerance of adaptive TR-BDF2 (rtol): below, the embedded error estimate
/// is round-off (≈ 10⁻¹⁶·|p| amplified by the solves) and the step size shrinks without bound.
pub const MIN_RTOL: f64 = 1e-13;

/// Smallest absolute tolerance of adaptive TR-BDF2 (atol, on masses ≤ 1).
pub const MIN_ATOL: f64 = 1e-20;

/// `Λ_diff = 4c/h²`, h = 1/max(nx, ny): the largest exit rate of a flat score with scale c.
pub fn diffusive_rate(nx: usize, ny: usize, scale: f64) -> f64 {
    let side = nx.max(ny) as f64;
    4.0 * scale * side * side
}

/// The largest `|φ_k − φ_i|` between neighbouring cells (x and y faces) of the `nx × ny` field
/// `phi` (row-major), with the two cells, or None for a single cell. A NaN difference counts as
/// infinite.
pub fn max_log_step(nx: usize, ny: usize, phi: &[f64]) -> Option<(f64, usize, usize)> {
    let mut best: Option<(f64, usize, usize)> = None;
    let mut see = |i: usize, k: usize| {
        let d = (phi[k] - phi[i]).abs();
        let d = if d.is_nan() { f64::INFINITY } else { d };
        if best.is_none_or(|(b, _, _)| d > b) {
            best = Some((d, i, k));
        }
    };
    for iy in 0..ny {
        for ix in 0..nx {
            let i = iy * nx + ix;
            if ix + 1 < nx {
                see(i, i + 1);
            }
            if iy + 1 < ny {
                see(i, i + nx);
            }
        }
    }
    best
}

/// The text of a refusal of a field whose neighbours differ by more than [`MAX_LOG_STEP`]
/// (`what`: `ln q̂`, `U`, …), or None when it is within: names the two cells and the step.
pub fn log_step_problem(nx: usize, ny: usize, phi: &[f64], what: &str) -> Option<String> {
    let (d, i, k) = max_log_step(nx, ny, phi)?;
    if d <= MAX_LOG_STEP {
        return None;
    }
    let cell = |c: usize| format!("({}, {})", c % nx, c / nx);
    Some(format!(
        "{what} changes by {d:.3e} between the neighbouring cells (ix, iy) = {} and {}; \
         neighbours may differ by at most {MAX_LOG_STEP} in {what} (ratios up to e^{MAX_LOG_STEP} ≈ \
         1.4e217: the reverse rates contain e^Δ)",
        cell(i),
        cell(k)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_steps_look_at_x_and_y_neighbours_only() {
        // 3×2: the largest step is the vertical one at ix = 2; the diagonal 0→4 does not count
        let phi = [0.0, 1.0, 2.0, 3.0, 3.5, 9.0];
        assert_eq!(max_log_step(3, 2, &phi), Some((7.0, 2, 5)));
        assert_eq!(max_log_step(1, 1, &[5.0]), None);
        let nan = [0.0, f64::NAN];
        assert_eq!(max_log_step(2, 1, &nan).map(|b| b.0), Some(f64::INFINITY));
        assert!(log_step_problem(3, 2, &phi, "ln q̂").is_none());
        let big = [0.0, 600.0];
        let msg = log_step_problem(2, 1, &big, "ln q̂").unwrap();
        assert!(
            msg.contains("(0, 0) and (1, 0)") && msg.contains("at most 500"),
            "{msg}"
        );
        assert_eq!(diffusive_rate(128, 64, 1.0), 4.0 * 16384.0);
    }
}
