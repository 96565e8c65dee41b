//! The splitting driver (SPEC §6): `p̃ = Φ(s_n → s_{n+1}) p_n`, then the post-step operators
//! (Π_δ for a projected run, none for the baseline), then the §7 record. The start p_0 is not
//! projected. This loop knows no physics: the flow is an [`Integrator`] on a [`Generator`], the
//! projection a [`PostStep`]; what it produces goes to [`Observer`]s as it goes.

use crate::diagnostics::{Diagnostics, StepRecord};
use crate::error::{CgklError, Result};
use crate::generator::Generator;
use crate::integrator::{Integrator, StepStats};
use crate::observe::{Collect, Observer, RunShape, Snapshot};
use crate::post_step::{PostRecord, PostStep};

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

/// What the driver returns when the run is done; the records and snapshots went to the
/// observers as the run went.
#[derive(Debug, Clone, Default)]
pub struct SplitEnd {
    /// p_N.
    pub final_p: Vec<f64>,
    /// Internal work of the integrator, summed over the run.
    pub stats: StepStats,
    /// Lyapunov violation `max_{n<N} (V_δ(p_{n+1}) − V_δ(p_n))⁺` (SPEC §7).
    pub lyapunov_violation: f64,
    /// Step indices n of the snapshots (ascending, always 0 and N).
    pub snapshot_steps: Vec<usize>,
}

/// What the driver produced, kept in memory (a [`Collect`] observer and the [`SplitEnd`]):
/// the form in which sweeps hold their runs.
#[derive(Debug, Clone, Default)]
pub struct SplitOutput {
    /// §7 records, index 0 = p_0 (length N+1).
    pub records: Vec<StepRecord>,
    /// What the post-step operators did, steps 1…N flattened (`ops` per step; empty for a
    /// baseline).
    pub post: Vec<PostRecord>,
    /// Step indices n of the snapshots (ascending).
    pub snapshot_steps: Vec<usize>,
    /// Snapshots after projection, flattened `K × n`; empty when the run streamed them to a
    /// sink instead of keeping them.
    pub snapshots: Vec<f64>,
    /// Face currents at the snapshots (if requested and kept), flattened `K × n_faces` in the
    /// face order of [`crate::grid::Grid::faces`]: `J = G(s_n)`'s net face flux on p̃_n (for
    /// kernel mode exactly the flux of the implicit step: `p̃_n − p_{n−1} = Δt G(s_n) p̃_n`);
    /// at n = 0, G(0) on p_0.
    pub currents: Option<Vec<f64>>,
    /// p_N.
    pub final_p: Vec<f64>,
    /// Internal work of the integrator, summed over the run.
    pub stats: StepStats,
}

impl SplitOutput {
    /// Joins what a [`Collect`] observer kept with the driver's [`SplitEnd`]. The snapshot
    /// steps are the run's, whether or not the collector kept the snapshots.
    pub fn new(collected: Collect, end: SplitEnd) -> Self {
        Self {
            records: collected.records,
            post: collected.post,
            snapshot_steps: end.snapshot_steps,
            snapshots: collected.snapshots,
            currents: collected.currents,
            final_p: end.final_p,
            stats: end.stats,
        }
    }
}

/// What to run and what to keep: times, start, snapshot steps, whether to store currents.
#[derive(Debug, Clone, Copy)]
pub struct SplitPlan<'a> {
    /// Projection times s_0..s_N (at least two).
    pub times: &'a [f64],
    /// Start p_0 (not projected).
    pub p0: &'a [f64],
    /// Step indices of the snapshots (0 and N are always added; indices above N are ignored).
    pub snapshot_at: &'a [usize],
    /// Also hand the face currents at the snapshots to the observers.
    pub store_currents: bool,
}

impl SplitPlan<'_> {
    /// The snapshot steps the driver takes: `snapshot_at ∩ [0, N]` with 0 and N, ascending.
    pub fn snapshot_steps(&self) -> Vec<usize> {
        let n_steps = self.times.len().saturating_sub(1);
        let mut snaps: Vec<usize> = self
            .snapshot_at
            .iter()
            .copied()
            .filter(|&k| k <= n_steps)
            .collect();
        snaps.extend([0, n_steps]);
        snaps.sort_unstable();
        snaps.dedup();
        snaps
    }
}

/// Runs the split scheme of `plan` with the flow `integrator` on `g` and the operators `post`,
/// handing every §7 record (with the post-step records) and every snapshot to `observers` in
/// step order. Memory: a few state vectors, whatever the number of steps and snapshots.
pub fn run_splitting(
    g: &mut Generator,
    integrator: &mut dyn Integrator,
    post: &mut [Box<dyn PostStep>],
    diag: &mut Diagnostics,
    plan: SplitPlan<'_>,
    observers: &mut [&mut dyn Observer],
) -> Result<SplitEnd> {
    let SplitPlan {
        times,
        p0,
        store_currents,
        ..
    } = plan;
    if times.len() < 2 {
        return Err(CgklError::config(
            "schedule.n_steps",
            times.len().saturating_sub(1),
            "a run needs at least two projection times s_0 < s_N (N ≥ 1)",
        ));
    }
    let n_steps = times.len() - 1;
    let snaps = plan.snapshot_steps();
    let mass0: f64 = p0.iter().sum();
    let mut p = p0.to_vec();
    let mut pre = vec![0.0; p.len()];
    let mut cur: Vec<f64> = Vec::with_capacity(if store_currents { g.n_faces() } else { 0 });
    let mut post_recs = Vec::with_capacity(post.len());
    let shape = RunShape {
        n_steps,
        snapshot_steps: &snaps,
        cells: p.len(),
        faces: store_currents.then(|| g.n_faces()),
        ops: post.len(),
    };
    for o in observers.iter_mut() {
        o.begin(&shape)?;
    }
    let rec0 = diag.initial(&p);
    let mut prev_w = rec0.w.clone();
    let mut prev_v_delta = rec0.v_delta;
    let mut violation = 0.0_f64;
    for o in observers.iter_mut() {
        o.record(0, &rec0, &[])?;
    }
    if store_currents {
        g.refresh(times[0])?;
        g.face_currents(&p, &mut cur);
    }
    let snap0 = Snapshot {
        n: 0,
        s: times[0],
        p: &p,
        currents: store_currents.then_some(&cur[..]),
    };
    for o in observers.iter_mut() {
        o.snapshot(snap0)?;
    }
    let mut stats = StepStats::default();
    for n in 0..n_steps {
        let (s0, s1) = (times[n], times[n + 1]);
        stats += integrator.advance(g, &mut p, s0, s1)?;
        pre.copy_from_slice(&p);
        // the flow's own output must be valid before any post-step could mask a defect
        let tol = mass_tol(n + 1, stats.steps);
        check_invariants(&pre, mass0, tol, n + 1, s1)?;
        post_recs.clear();
        for op in post.iter_mut() {
            post_recs.push(op.apply(&mut p, s1));
        }
        check_invariants(&p, mass0, tol, n + 1, s1)?;
        let rec = diag.record(s1, s1 - s0, &prev_w, &pre, &p);
        prev_w.copy_from_slice(&rec.w);
        violation = violation.max((rec.v_delta - prev_v_delta).max(0.0));
        prev_v_delta = rec.v_delta;
        for o in observers.iter_mut() {
            o.record(n + 1, &rec, &post_recs)?;
        }
        if snaps.binary_search(&(n + 1)).is_ok() {
            if store_currents {
                g.refresh(s1)?;
                cur.clear();
                g.face_currents(&pre, &mut cur);
            }
            let snap = Snapshot {
                n: n + 1,
                s: s1,
                p: &p,
                currents: store_currents.then_some(&cur[..]),
            };
            for o in observers.iter_mut() {
                o.snapshot(snap)?;
            }
        }
    }
    Ok(SplitEnd {
        final_p: p,
        stats,
        lyapunov_violation: violation,
        snapshot_steps: snaps,
    })
}

/// The mass guard after `steps` projection steps and `internal` integrator steps:
/// `MASS_TOL + MASS_TOL_PER_STEP·steps + MASS_TOL_PER_INTERNAL_STEP·internal`.
pub fn mass_tol(steps: usize, internal: usize) -> f64 {
    MASS_TOL + MASS_TOL_PER_STEP * steps as f64 + MASS_TOL_PER_INTERNAL_STEP * internal as f64
}

/// Errors unless every entry is finite and ≥ [`MIN_P_TOL`] and `|Σp − mass0| ≤ tol`.
pub(crate) fn check_invariants(p: &[f64], mass0: f64, tol: f64, step: usize, s: f64) -> Result<()> {
    // one pass, chunk by chunk (crate::par): (first non-finite index, min, sum)
    let (bad, min, mass) = crate::par::reduce(
        p.len(),
        |r| {
            let c = &p[r.clone()];
            let bad = c.iter().position(|x| !x.is_finite()).map(|i| r.start + i);
            (
                bad,
                c.iter().cloned().fold(f64::INFINITY, f64::min),
                c.iter().sum::<f64>(),
            )
        },
        |(b, m, s), (b2, m2, s2)| (b.or(b2), m.min(m2), s + s2),
    );
    if let Some(i) = bad {
        return Err(CgklError::Invariant {
            step,
            s,
            msg: format!("p[{i}] = {} is not finite", p[i]),
        });
    }
    if min < MIN_P_TOL {
        return Err(CgklError::Invariant {
            step,
            s,
            msg: format!("min p = {min:e} < {MIN_P_TOL:e}"),
        });
    }
    if (mass - mass0).abs() > tol {
        return Err(CgklError::Invariant {
            step,
            s,
            msg: format!("mass drifted by {:e} (> {tol:e})", mass - mass0),
        });
    }
    Ok(())
}
