//! The splitting driver (SPEC §6): `p̃ = Φ(s_n → s_{n+1}) p_n`, then the post-step operators
//! (Π_δ for a projected run, none for the baseline), then the §7 record. The start p_0 is not
//! projected. This loop knows no physics: the flow is an [`Integrator`] on a [`Generator`], the
//! projection a [`PostStep`].

use crate::diagnostics::{Diagnostics, StepRecord};
use crate::error::{CgklError, Result};
use crate::generator::Generator;
use crate::integrator::{Integrator, StepStats};
use crate::post_step::PostStep;

/// Mass drift |Σp − Σp_0| allowed before the driver stops with an error, plus
/// [`MASS_TOL_PER_STEP`] per projection step: each implicit solve rounds the mass by a few ulp
/// times Δt·max|G_ii| (columns of I − ΔtG sum to 1 only to round-off), which long runs with very
/// large steps accumulate (measured: 6e-14 per step at Δt·max|G_ii| ≈ 1e3).
pub const MASS_TOL: f64 = 1e-12;
/// Extra mass drift allowed per projection step.
pub const MASS_TOL_PER_STEP: f64 = 1e-14;
/// Extra mass drift allowed per internal step of the flow integrator (a few ulp per solve or
/// matrix–vector product: a resolved step at rtol 1e-10 takes thousands of TR-BDF2 steps).
pub const MASS_TOL_PER_INTERNAL_STEP: f64 = 1e-15;
/// Most negative entry allowed before the driver stops with an error.
pub const MIN_P_TOL: f64 = -1e-15;

/// What the driver produced, in memory, ready for a sink.
#[derive(Debug, Clone, Default)]
pub struct SplitOutput {
    /// §7 records, index 0 = p_0 (length N+1).
    pub records: Vec<StepRecord>,
    /// Step indices n of the snapshots (ascending).
    pub snapshot_steps: Vec<usize>,
    /// Snapshots after projection, flattened `K × n`.
    pub snapshots: Vec<f64>,
    /// Face currents at the snapshots (if requested), flattened `K × n_faces` in the face order
    /// of [`crate::grid::Grid::faces`]: `J = G(s_n)`'s net face flux on p̃_n (for kernel mode
    /// exactly the flux of the implicit step: `p̃_n − p_{n−1} = Δt G(s_n) p̃_n`); at n = 0, G(0) on p_0.
    pub currents: Option<Vec<f64>>,
    /// p_N.
    pub final_p: Vec<f64>,
    /// Internal work of the integrator, summed over the run.
    pub stats: StepStats,
}

/// What to run and what to keep: times, start, snapshot steps, whether to store currents.
#[derive(Debug, Clone, Copy)]
pub struct SplitPlan<'a> {
    /// Projection times s_0..s_N.
    pub times: &'a [f64],
    /// Start p_0 (not projected).
    pub p0: &'a [f64],
    /// Step indices of the snapshots (0 and N are always added).
    pub snapshot_at: &'a [usize],
    /// Also store the face currents at the snapshots.
    pub store_currents: bool,
}

/// Runs the split scheme of `plan` with the flow `integrator` on `g` and the operators `post`;
/// `progress(n, N)` is called after every step.
pub fn run_splitting(
    g: &mut Generator,
    integrator: &mut dyn Integrator,
    post: &mut [Box<dyn PostStep>],
    diag: &mut Diagnostics,
    plan: SplitPlan<'_>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SplitOutput> {
    let SplitPlan {
        times,
        p0,
        snapshot_at,
        store_currents,
    } = plan;
    let n_steps = times.len() - 1;
    let mut snaps: Vec<usize> = snapshot_at
        .iter()
        .copied()
        .filter(|&k| k <= n_steps)
        .collect();
    snaps.extend([0, n_steps]);
    snaps.sort_unstable();
    snaps.dedup();
    let mut out = SplitOutput {
        records: Vec::with_capacity(n_steps + 1),
        snapshots: Vec::with_capacity(snaps.len() * p0.len()),
        snapshot_steps: snaps,
        ..Default::default()
    };
    let mass0: f64 = p0.iter().sum();
    let mut p = p0.to_vec();
    let mut pre = vec![0.0; p.len()];
    let rec0 = diag.initial(&p);
    let mut prev_w = rec0.w.clone();
    out.records.push(rec0);
    out.snapshots.extend_from_slice(&p);
    if store_currents {
        let mut cur = Vec::with_capacity(out.snapshot_steps.len() * g.n_faces());
        g.refresh(times[0])?;
        g.face_currents(&p, &mut cur);
        out.currents = Some(cur);
    }
    for n in 0..n_steps {
        let (s0, s1) = (times[n], times[n + 1]);
        out.stats += integrator.advance(g, &mut p, s0, s1)?;
        pre.copy_from_slice(&p);
        // the flow's own output must be valid before any post-step could mask a defect
        let tol = mass_tol(n + 1, out.stats.steps);
        check_invariants(&pre, mass0, tol, n + 1, s1)?;
        for op in post.iter_mut() {
            op.apply(&mut p, s1);
        }
        check_invariants(&p, mass0, tol, n + 1, s1)?;
        let rec = diag.record(s1, s1 - s0, &prev_w, &pre, &p);
        prev_w.copy_from_slice(&rec.w);
        out.records.push(rec);
        if out.snapshot_steps.binary_search(&(n + 1)).is_ok() {
            out.snapshots.extend_from_slice(&p);
            if let Some(cur) = out.currents.as_mut() {
                g.refresh(s1)?;
                g.face_currents(&pre, cur);
            }
        }
        progress(n + 1, n_steps);
    }
    out.final_p = p;
    Ok(out)
}

/// The mass guard after `steps` projection steps and `internal` integrator steps:
/// `MASS_TOL + MASS_TOL_PER_STEP·steps + MASS_TOL_PER_INTERNAL_STEP·internal`.
pub fn mass_tol(steps: usize, internal: usize) -> f64 {
    MASS_TOL + MASS_TOL_PER_STEP * steps as f64 + MASS_TOL_PER_INTERNAL_STEP * internal as f64
}

/// Errors unless every entry is finite and ≥ [`MIN_P_TOL`] and `|Σp − mass0| ≤ tol`.
fn check_invariants(p: &[f64], mass0: f64, tol: f64, step: usize, s: f64) -> Result<()> {
    if let Some(i) = p.iter().position(|x| !x.is_finite()) {
        return Err(CgklError::Invariant {
            step,
            s,
            msg: format!("p[{i}] = {} is not finite", p[i]),
        });
    }
    let min = p.iter().cloned().fold(f64::INFINITY, f64::min);
    if min < MIN_P_TOL {
        return Err(CgklError::Invariant {
            step,
            s,
            msg: format!("min p = {min:e} < {MIN_P_TOL:e}"),
        });
    }
    let mass: f64 = p.iter().sum();
    if (mass - mass0).abs() > tol {
        return Err(CgklError::Invariant {
            step,
            s,
            msg: format!("mass drifted by {:e} (> {tol:e})", mass - mass0),
        });
    }
    Ok(())
}
