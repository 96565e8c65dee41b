//! Sweeps: one config parameter over a list of values, in both flow modes, projected and
//! baseline; runs execute in parallel (rayon, one run per task, results in a fixed order, so
//! output is identical for any thread count). The Δt sweep (parameter `schedule.n_steps`)
//! adds the SPEC §9 summary: errors against the reference `p★(T)` and observed orders.

#[cfg(feature = "hdf5")]
pub mod layout;
#[cfg(feature = "hdf5")]
pub mod resume;

#[cfg(feature = "hdf5")]
pub use layout::write_sweep_file;

use crate::config::{Config, FlowMode};
use crate::error::{CgklError, Result};
use crate::integrator::IntegratorKind;
use crate::kl::kl;
use crate::order::observed_order;
use crate::problem::{Problem, Projection, RunResult};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// What a sweep runs.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    /// Dotted config key swept, e.g. `schedule.n_steps`.
    pub param: String,
    /// Values as TOML literals, e.g. `["10", "20"]`.
    pub values: Vec<String>,
    /// Flow modes.
    pub modes: Vec<FlowMode>,
    /// Projected and/or baseline.
    pub projections: Vec<Projection>,
}

impl SweepSpec {
    /// The Δt sweep: `schedule.n_steps` = N, both modes, projected and baseline.
    pub fn dt_sweep(ns: &[usize]) -> Self {
        Self {
            param: "schedule.n_steps".into(),
            values: ns.iter().map(|n| n.to_string()).collect(),
            modes: FlowMode::ALL.to_vec(),
            projections: Projection::ALL.to_vec(),
        }
    }

    /// The standard N values of the main job: 10·2^k up to 2560 (`quick`: 10 … 80).
    pub fn standard_ns(quick: bool) -> Vec<usize> {
        if quick {
            vec![10, 20, 40, 80]
        } else {
            (0..9).map(|k| 10 << k).collect()
        }
    }

    /// True for a sweep over N.
    pub fn is_dt_sweep(&self) -> bool {
        self.param == "schedule.n_steps"
    }
}

/// A progress event from a running sweep.
#[derive(Debug, Clone)]
pub enum SweepEvent {
    /// A run advanced one projection step.
    Step,
    /// A run finished.
    RunDone {
        /// Run name.
        name: String,
        /// Its wall time in seconds.
        wall_s: f64,
    },
}

/// One run of a sweep with the problem it solved.
#[derive(Debug, Clone)]
pub struct SweepRun {
    /// Swept value (TOML literal).
    pub value: String,
    /// Validated problem of this run.
    pub problem: Problem,
    /// The run.
    pub result: RunResult,
}

/// Reference final state p★(T) of one projection kind.
#[derive(Debug, Clone)]
pub struct Limit {
    /// p★(T).
    pub p: Vec<f64>,
    /// How it was computed.
    pub method: String,
    /// Relative tolerance used (NaN if none).
    pub rtol: f64,
    /// Absolute tolerance used (for the continuous limit: its estimated L1 accuracy).
    pub atol: f64,
}

/// Summary datasets of a Δt sweep (SPEC §9), one entry per run in run order.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// N.
    pub n: Vec<i64>,
    /// Largest Δt_n.
    pub dt: Vec<f64>,
    /// Σ|p_N − p★(T)|.
    pub err_l1: Vec<f64>,
    /// D(p★(T) ‖ p_N).
    pub err_kl: Vec<f64>,
    /// Splitting error: `err_l1` of the resolved run with the same N and projection (the inner
    /// flow integrated to tolerance, so what is left is the error of splitting flow and Π_δ).
    pub err_split: Vec<f64>,
    /// Inner integration error: `Σ_i |p_N − p_N^resolved|` against the resolved run with the
    /// same N and projection (kernel runs: the cost of one implicit-Euler step per Δt instead of
    /// the exact flow; resolved runs: 0 by definition).
    pub err_inner: Vec<f64>,
    /// E_block(p_N).
    pub e_block_final: Vec<f64>,
    /// Lyapunov violation.
    pub lyapunov_violation: Vec<f64>,
    /// Wall time per run.
    pub wall_s: Vec<f64>,
    /// Flow mode per run.
    pub mode: Vec<String>,
    /// `projected` or `baseline` per run.
    pub projection: Vec<String>,
    /// `(observed_order_<mode>_<projection>, order, N values used)`.
    pub orders: Vec<(String, f64, Vec<i64>)>,
    /// `(observed_order_<split|inner>_<projection>, order, N values used)`: orders of the
    /// splitting and inner errors of the kernel series.
    pub part_orders: Vec<(String, f64, Vec<i64>)>,
}

/// A finished sweep.
#[derive(Debug, Clone)]
pub struct SweepResult {
    /// The base configuration (before the swept value is applied).
    pub base: Config,
    /// What was swept.
    pub spec: SweepSpec,
    /// Runs in order: values × modes × projections.
    pub runs: Vec<SweepRun>,
    /// Δt sweeps: reference of the projected runs.
    pub limit_projected: Option<Limit>,
    /// Δt sweeps: reference of the baseline runs.
    pub limit_baseline: Option<Limit>,
    /// Δt sweeps: the summary.
    pub summary: Option<Summary>,
    /// Total wall time.
    pub wall_s: f64,
}

/// Points used for an observed order: the finest `ASYMPTOTIC_POINTS` runs whose error is above
/// the round-off floor [`ROUNDOFF_FLOOR`].
pub const ASYMPTOTIC_POINTS: usize = 5;
/// Errors below this (L1 of a probability vector) are round-off, not discretisation error.
pub const ROUNDOFF_FLOOR: f64 = 1e-11;

/// Name of a sweep run: `<mode>_<projection>_N<N>` for Δt sweeps, else
/// `<mode>_<projection>_<key>=<value>`, every byte of the value outside `A–Z a–z 0–9 _ - . + = ,`
/// written `%XX` (a `/` would nest one run's HDF5 group inside another's; distinct values give
/// distinct names).
pub fn run_name(spec: &SweepSpec, mode: FlowMode, projection: Projection, value: &str) -> String {
    let mut safe = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"_-.+=,".contains(&b) {
            safe.push(b as char);
        } else {
            safe.push_str(&format!("%{b:02X}"));
        }
    }
    if spec.is_dt_sweep() {
        format!("{mode}_{projection}_N{safe}")
    } else {
        let key = spec.param.rsplit('.').next().unwrap_or(&spec.param);
        format!("{mode}_{projection}_{key}={safe}")
    }
}

/// The base config of a sweep given as TOML text and `--set` overrides: `text` with
/// `overrides`, or, when that is incomplete (e.g. `--param data.log_q` with `data.kind =
/// "formula"` and no `log_q` of its own), with `param=<first value>` as well, so the swept key
/// need not be set twice. Errors are those of the text with the overrides alone.
pub fn base_config(text: &str, overrides: &[String], spec: &SweepSpec) -> Result<Config> {
    match Config::from_toml_with_overrides(text, overrides) {
        Ok(c) => Ok(c),
        Err(e) => {
            let Some(first) = spec.values.first() else {
                return Err(e);
            };
            let mut ov = overrides.to_vec();
            ov.push(format!("{}={first}", spec.param));
            Config::from_toml_with_overrides(text, &ov).map_err(|_| e)
        }
    }
}

/// Refuses the runs `select` of `jobs` when, kept in memory together until the sweep's (or
/// shard's) file is written, they would not fit ([`crate::memory::check_fits`]): every run's
/// result, and the working sets (an upper bound: [`Problem::working_bytes`]) of as many runs
/// as run at once on the pool.
pub fn check_memory(jobs: &[Job], select: &[usize]) -> Result<()> {
    let results = select.iter().fold(0u64, |acc, &k| {
        acc.saturating_add(jobs[k].3.result_bytes(true))
    });
    let mut working: Vec<u64> = select
        .iter()
        .map(|&k| jobs[k].3.working_bytes(None))
        .collect();
    working.sort_unstable_by(|a, b| b.cmp(a));
    let at_once = rayon::current_num_threads().max(1);
    let total = working
        .iter()
        .take(at_once)
        .fold(results, |acc, &w| acc.saturating_add(w));
    crate::memory::check_fits(
        "output.snapshots",
        &format!(
            "the {} runs of this sweep, kept until its file is written",
            select.len()
        ),
        total,
        "lower output.snapshots or the grid size, or split the sweep into shards (--shard K/N)",
    )
}

/// Refuses an item given twice in a list flag (`--values`, `--modes`, `--projections`).
fn check_once<T: PartialEq + std::fmt::Display>(flag: &str, items: &[T]) -> Result<()> {
    for (i, x) in items.iter().enumerate() {
        if items[..i].contains(x) {
            return Err(CgklError::config(
                flag,
                x,
                format!(
                    "appears twice; give every {} once",
                    &flag[2..flag.len() - 1]
                ),
            ));
        }
    }
    Ok(())
}

/// The configs of the sweep's runs, in job order (value, then mode, then projection), not
/// validated: job `(value, mode, projection)` is `base` with `param=value` and `flow.mode=mode`
/// set ([`Config::with_overrides`]). Lazy, so [`plan`] stops at the first bad one; also read to
/// find the input files of every run before any is loaded
/// ([`crate::io::reader::InputReader::of_config`]).
pub fn planned_configs<'a>(
    base: &Config,
    spec: &'a SweepSpec,
) -> impl Iterator<Item = (&'a str, FlowMode, Projection, Result<Config>)> + 'a {
    let base_toml = base.to_toml();
    spec.values.iter().flat_map(move |v| {
        let base_toml = base_toml.clone();
        spec.modes.iter().flat_map(move |&mode| {
            let base_toml = base_toml.clone();
            spec.projections.iter().map(move |&projection| {
                let ov = [format!("{}={}", spec.param, v), format!("flow.mode={mode}")];
                let cfg = Config::from_toml_with_overrides(&base_toml, &ov);
                (v.as_str(), mode, projection, cfg)
            })
        })
    })
}

/// Validates every run of the sweep before any work starts: the jobs of [`planned_configs`].
pub fn plan(base: &Config, spec: &SweepSpec) -> Result<Vec<Job>> {
    if spec.values.is_empty() || spec.modes.is_empty() || spec.projections.is_empty() {
        return Err(CgklError::config(
            "sweep",
            &spec.param,
            "needs at least one value, one mode and one projection kind",
        ));
    }
    if spec.is_dt_sweep() {
        // the references of a Δt sweep (crate::limit) must not run away either: the finer
        // solve of the projected one is the largest
        let pb = base.build()?;
        let factor = if pb.generator()?.is_static() {
            1
        } else {
            MOVING_LIMIT_FACTOR
        };
        crate::limit::check_work(&pb, factor * LIMIT_STEPS)?;
    }
    check_once("--values", &spec.values)?;
    check_once("--modes", &spec.modes)?;
    check_once("--projections", &spec.projections)?;
    let mut jobs: Vec<Job> = Vec::new();
    for (v, mode, projection, cfg) in planned_configs(base, spec) {
        let cfg = cfg?;
        // two spellings of one value (0.01 and 1e-2) would run the same run twice
        if let Some((w, ..)) = jobs
            .iter()
            .find(|(_, m, p, pb)| (*m, *p) == (mode, projection) && pb.config == cfg)
        {
            return Err(CgklError::config(
                "--values",
                format!("{w},{v}"),
                format!(
                    "{w} and {v} give the same {}; give each value once",
                    spec.param
                ),
            ));
        }
        jobs.push((v.to_string(), mode, projection, cfg.validate()?));
    }
    let names: Vec<String> = jobs
        .iter()
        .map(|(v, m, p, _)| run_name(spec, *m, *p, v))
        .collect();
    if let Some(i) = (0..names.len()).find(|&i| names[..i].contains(&names[i])) {
        return Err(CgklError::config(
            "--values",
            &jobs[i].0,
            format!(
                "gives the run name {} twice; give each value once",
                names[i]
            ),
        ));
    }
    Ok(jobs)
}

/// Runs a sweep on the current rayon pool; `progress` is called from worker threads.
pub fn run_sweep(
    base: &Config,
    spec: &SweepSpec,
    progress: &(dyn Fn(SweepEvent) + Sync),
) -> Result<SweepResult> {
    run_sweep_resumable(
        base,
        spec,
        progress,
        Resume {
            finished: BTreeMap::new(),
            on_run: &|_, _| Ok(()),
        },
    )
}

/// Checkpoint hook of a sweep: `(problem, run)` of a run that just finished (its name is the
/// final [`run_name`]); called from worker threads. An error fails that run.
pub type OnRun<'a> = &'a (dyn Fn(&Problem, &RunResult) -> Result<()> + Sync);

/// What [`run_sweep_resumable`] takes from an interrupted sweep and how it records progress.
pub struct Resume<'a> {
    /// Runs finished earlier, by job index into [`plan`]'s jobs; they are not run again and
    /// enter the result exactly as given (they must be the runs of those jobs).
    pub finished: BTreeMap<usize, RunResult>,
    /// Called with every run this call computes, as soon as it finishes.
    pub on_run: OnRun<'a>,
}

/// [`run_sweep`] that skips the runs in `resume.finished` and hands every newly finished run to
/// `resume.on_run` (e.g. to write a checkpoint). The references of a Δt sweep are always
/// recomputed, so the result equals that of an uninterrupted [`run_sweep`] (up to wall times)
/// whenever the finished runs are those of the same plan. On a failed run the other runs still
/// run (and reach `on_run`); the error of the first failed run in job order is returned.
pub fn run_sweep_resumable(
    base: &Config,
    spec: &SweepSpec,
    progress: &(dyn Fn(SweepEvent) + Sync),
    resume: Resume<'_>,
) -> Result<SweepResult> {
    let start = std::time::Instant::now();
    let jobs = plan(base, spec)?;
    check_memory(&jobs, &(0..jobs.len()).collect::<Vec<_>>())?;
    let Resume { finished, on_run } = resume;
    if let Some(&k) = finished.keys().find(|&&k| k >= jobs.len()) {
        return Err(CgklError::config(
            "sweep",
            k,
            format!("finished run index beyond the {} planned runs", jobs.len()),
        ));
    }
    // the references (Δt sweeps) are computed alongside the runs
    let want_limits = spec.is_dt_sweep();
    let want_projected = want_limits && spec.projections.contains(&Projection::Projected);
    let all: Vec<usize> = (0..jobs.len()).collect();
    let (runs, (limit_baseline, limit_projected)) = rayon::join(
        || run_jobs_collect(jobs, &all, spec, progress, finished, on_run),
        || {
            rayon::join(
                || want_limits.then(|| baseline_limit(base)).transpose(),
                || want_projected.then(|| projected_limit(base)).transpose(),
            )
        },
    );
    let runs = runs?.into_iter().map(|(_, run)| run).collect();
    let mut out = SweepResult {
        base: base.clone(),
        spec: spec.clone(),
        runs,
        limit_projected: None,
        limit_baseline: None,
        summary: None,
        wall_s: 0.0,
    };
    if spec.is_dt_sweep() {
        out.limit_baseline = limit_baseline?;
        out.limit_projected = limit_projected?;
        out.summary = Some(summarise(&out));
    }
    out.wall_s = start.elapsed().as_secs_f64();
    Ok(out)
}

/// Runs only the jobs `select` of the sweep (indices into [`plan`]'s jobs, e.g. one shard, see
/// [`crate::shard`]) exactly as [`run_sweep_resumable`] runs them: the runs in
/// `resume.finished` (which must be among `select`) are reused, the others run on the current
/// rayon pool (the expensive ones first) and reach `resume.on_run`. No reference or summary is
/// computed. Returns `(job index, run)` in job order; on a failed run the other runs still run
/// and the error of the first failed run in job order is returned.
pub fn run_selected(
    base: &Config,
    spec: &SweepSpec,
    select: &[usize],
    progress: &(dyn Fn(SweepEvent) + Sync),
    resume: Resume<'_>,
) -> Result<Vec<(usize, SweepRun)>> {
    let jobs = plan(base, spec)?;
    let Resume { finished, on_run } = resume;
    if let Some(&k) = select.iter().find(|&&k| k >= jobs.len()) {
        return Err(CgklError::config(
            "sweep",
            k,
            format!("selected run index beyond the {} planned runs", jobs.len()),
        ));
    }
    check_memory(&jobs, select)?;
    if let Some(&k) = finished.keys().find(|k| !select.contains(k)) {
        return Err(CgklError::config(
            "sweep",
            k,
            "finished run is not among the selected runs",
        ));
    }
    run_jobs_collect(jobs, select, spec, progress, finished, on_run)
}

/// The runs `select` of `jobs` (in job order, each once): those in `finished` as given, the
/// others run on the current rayon pool, the expensive ones first (better load balance, same
/// results), each handed to `on_run`. On a failed run the others still run and the error of
/// the first failed run in job order is returned.
fn run_jobs_collect(
    jobs: Vec<Job>,
    select: &[usize],
    spec: &SweepSpec,
    progress: &(dyn Fn(SweepEvent) + Sync),
    mut finished: BTreeMap<usize, RunResult>,
    on_run: OnRun<'_>,
) -> Result<Vec<(usize, SweepRun)>> {
    let mut order: Vec<usize> = select
        .iter()
        .copied()
        .filter(|k| !finished.contains_key(k))
        .collect();
    order.sort_by_key(|&k| (std::cmp::Reverse(jobs[k].3.times.len()), k));
    let mut done: BTreeMap<usize, Result<RunResult>> =
        run_jobs(&order, &jobs, spec, progress, on_run)
            .into_iter()
            .collect();
    let mut select = select.to_vec();
    select.sort_unstable();
    select.dedup();
    let mut jobs: Vec<Option<Job>> = jobs.into_iter().map(Some).collect();
    let mut runs = Vec::with_capacity(select.len());
    for k in select {
        let Some((value, _, _, problem)) = jobs[k].take() else {
            continue;
        };
        let result = match finished.remove(&k) {
            Some(r) => r,
            None => match done.remove(&k) {
                Some(r) => r?,
                None => {
                    return Err(CgklError::Output(format!(
                        "sweep: run {k} was neither run nor restored"
                    )))
                }
            },
        };
        runs.push((
            k,
            SweepRun {
                value,
                problem,
                result,
            },
        ));
    }
    Ok(runs)
}

/// One planned run: swept value (TOML literal), flow mode, projection, validated problem.
pub type Job = (String, FlowMode, Projection, Problem);

/// Runs the jobs in the given order on the rayon pool; results keep their job index and carry
/// their final [`run_name`]. Every run that finishes goes to `on_run` before it is reported.
fn run_jobs(
    order: &[usize],
    jobs: &[Job],
    spec: &SweepSpec,
    progress: &(dyn Fn(SweepEvent) + Sync),
    on_run: OnRun<'_>,
) -> Vec<(usize, Result<RunResult>)> {
    order
        .par_iter()
        .map(|&k| {
            let (value, mode, projection, pb) = &jobs[k];
            let r = pb
                .run_with_progress(*projection, &mut |_, _| progress(SweepEvent::Step))
                .and_then(|mut r| {
                    r.name = run_name(spec, *mode, *projection, value);
                    on_run(pb, &r)?;
                    Ok(r)
                });
            if let Ok(r) = &r {
                progress(SweepEvent::RunDone {
                    name: r.name.clone(),
                    wall_s: r.wall_s,
                });
            }
            (k, r)
        })
        .collect()
}

/// The unprojected flow: uniformization to 1e-14 for a static G (exact in time); for a moving
/// score the Lawson–RK4 solver of [`crate::limit`] with δ = ∞ (no projection: the exponential
/// of G frozen at each step's midpoint plus RK4 on the remainder), [`LIMIT_STEPS`] and half as
/// many steps, their L1 difference stored as its accuracy. (Adaptive TR-BDF2 at rtol 1e-10 took
/// 171 s on a 64² moving-score problem; this takes about a second.)
pub fn baseline_limit(base: &Config) -> Result<Limit> {
    let mut c = base.clone();
    c.flow.mode = FlowMode::Resolved;
    c.flow.integrator = IntegratorKind::Auto {
        rtol: 1e-10,
        atol: 1e-14,
    };
    c.schedule.kind = crate::schedule::ScheduleKind::Uniform;
    c.schedule.n_steps = 1;
    let pb = c.validate()?;
    if pb.generator()?.is_static() {
        let r = pb.run(Projection::Baseline)?;
        return Ok(Limit {
            p: r.output.final_p,
            method: "unprojected flow, uniformization (static generator), tolerance 1e-14".into(),
            rtol: f64::NAN,
            atol: 1e-14,
        });
    }
    c.projection.delta = f64::INFINITY;
    let pb = c.validate()?;
    let (fine, diff) = crate::limit::continuous_limit(&pb, LIMIT_STEPS / 2)?;
    Ok(Limit {
        p: fine.p,
        method: format!(
            "unprojected flow (moving score): Lawson–RK4 with the midpoint exponential, {} steps; |p_{} − p_{}|_1 = {diff:.2e}",
            fine.steps,
            LIMIT_STEPS,
            LIMIT_STEPS / 2
        ),
        rtol: f64::NAN,
        atol: diff,
    })
}

/// Lawson–RK4 steps over [0, T] for the projected reference (and half as many for its accuracy
/// estimate).
pub const LIMIT_STEPS: usize = 400;

/// Step multiplier of the projected reference when the score moves: the Lawson steps keep a
/// uniform grid there (see [`crate::limit::LimitSolver::solve`]) and the fine structure of the
/// data makes G change fast near t = 0 (64² textured data, ε = 1: |p★_400 − p★_200|₁ = 3.2e-3,
/// |p★_1600 − p★_800|₁ = 2.5e-5, |p★_6400 − p★_3200|₁ = 1.1e-7).
pub const MOVING_LIMIT_FACTOR: usize = 8;

/// The projected reference: the continuous limit of SPEC §6 (see [`crate::limit`]), computed with
/// [`LIMIT_STEPS`] and half as many steps ([`MOVING_LIMIT_FACTOR`] times more for a moving
/// score); their L1 difference is stored as its accuracy.
pub fn projected_limit(base: &Config) -> Result<Limit> {
    // the base's own steps and integrator do not enter the limit (only T, the generator, p_0
    // and the box): not checked as a run
    let pb = base.build()?;
    let factor = if pb.generator()?.is_static() {
        1
    } else {
        MOVING_LIMIT_FACTOR
    };
    let coarse = factor * LIMIT_STEPS / 2;
    let (fine, diff) = crate::limit::continuous_limit(&pb, coarse)?;
    Ok(Limit {
        p: fine.p,
        method: format!(
            "continuous limit of the projected dynamics: Lawson–RK4 with the exact flow, {} steps ({} events located); |p★_{} − p★_{}|_1 = {:.2e}",
            fine.steps,
            fine.events.len(),
            2 * coarse,
            coarse,
            diff
        ),
        rtol: f64::NAN,
        atol: diff,
    })
}

fn summarise(sw: &SweepResult) -> Summary {
    let mut s = Summary::default();
    for run in &sw.runs {
        let r = &run.result;
        let limit = if r.projection.is_projected() {
            sw.limit_projected.as_ref()
        } else {
            sw.limit_baseline.as_ref()
        };
        let p = &r.output.final_p;
        let (e1, ekl) = match limit {
            Some(l) => (l1_dist(p, &l.p), kl(&l.p, p)),
            None => (f64::NAN, f64::NAN),
        };
        s.n.push((r.times.len() - 1) as i64);
        s.dt.push(r.times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max));
        s.err_l1.push(e1);
        s.err_kl.push(ekl);
        s.e_block_final
            .push(r.output.records.last().map_or(f64::NAN, |x| x.e_block));
        s.lyapunov_violation.push(r.lyapunov_violation);
        s.wall_s.push(r.wall_s);
        s.mode.push(r.mode.name().into());
        s.projection.push(r.projection.name().into());
    }
    // splitting vs inner integration error: pair every run with the resolved run of equal times
    for run in &sw.runs {
        let r = &run.result;
        let twin = sw.runs.iter().position(|o| {
            o.result.mode == FlowMode::Resolved
                && o.result.projection == r.projection
                && o.result.times == r.times
        });
        let (split, inner) = match twin {
            Some(t) => (
                s.err_l1[t],
                l1_dist(&r.output.final_p, &sw.runs[t].result.output.final_p),
            ),
            None => (f64::NAN, f64::NAN),
        };
        s.err_split.push(split);
        s.err_inner.push(inner);
    }
    for &mode in &sw.spec.modes {
        for &projection in &sw.spec.projections {
            let idx: Vec<usize> = (0..s.n.len())
                .filter(|&k| s.mode[k] == mode.name() && s.projection[k] == projection.name())
                .collect();
            let (order, ns) = fit_order(&s.dt, &s.err_l1, &s.n, idx);
            s.orders.push((
                format!("observed_order_{}_{}", mode.name(), projection.name()),
                order,
                ns,
            ));
        }
    }
    if sw.spec.modes.contains(&FlowMode::Kernel) {
        for &projection in &sw.spec.projections {
            for (part, vals) in [("split", &s.err_split), ("inner", &s.err_inner)] {
                let idx: Vec<usize> = (0..s.n.len())
                    .filter(|&k| {
                        s.mode[k] == FlowMode::Kernel.name() && s.projection[k] == projection.name()
                    })
                    .collect();
                let (order, ns) = fit_order(&s.dt, vals, &s.n, idx);
                s.part_orders.push((
                    format!("observed_order_{part}_{}", projection.name()),
                    order,
                    ns,
                ));
            }
        }
    }
    s
}

/// `Σ_i |a_i − b_i|`.
fn l1_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

/// Least-squares order of `err` against `dt` over the `ASYMPTOTIC_POINTS` finest of the runs
/// `idx` whose error is above [`ROUNDOFF_FLOOR`]; returns the order and the N values used.
fn fit_order(dt: &[f64], err: &[f64], n: &[i64], idx: Vec<usize>) -> (f64, Vec<i64>) {
    let mut idx: Vec<usize> = idx
        .into_iter()
        .filter(|&k| err[k].is_finite() && err[k] > ROUNDOFF_FLOOR)
        .collect();
    idx.sort_by(|&a, &b| dt[a].total_cmp(&dt[b]));
    idx.truncate(ASYMPTOTIC_POINTS);
    let x: Vec<f64> = idx.iter().map(|&k| dt[k]).collect();
    let y: Vec<f64> = idx.iter().map(|&k| err[k]).collect();
    (observed_order(&x, &y), idx.iter().map(|&k| n[k]).collect())
}

/// The summary as a plain-text table (one block per series) with the observed orders.
pub fn format_summary(sw: &SweepResult) -> String {
    let mut out = String::new();
    let Some(s) = &sw.summary else {
        for run in &sw.runs {
            let r = &run.result;
            let last = r.output.records.last();
            out += &format!(
                "{:<40} E_block_final {:.4e}  mse {:.4e}  V_delta {:.4e}  Lyapunov violation {:.3e}  wall {:.2} s\n",
                r.name,
                last.map_or(f64::NAN, |x| x.e_block),
                last.map_or(f64::NAN, |x| x.mse),
                last.map_or(f64::NAN, |x| x.v_delta),
                r.lyapunov_violation,
                r.wall_s
            );
        }
        return out;
    };
    if let Some(l) = &sw.limit_projected {
        out += &format!("reference for projected runs: {}\n", l.method);
    }
    if let Some(l) = &sw.limit_baseline {
        out += &format!("reference for baseline runs:  {}\n", l.method);
    }
    for (key, order, ns) in &s.orders {
        let series = key.trim_start_matches("observed_order_");
        let (mode, proj) = series.split_once('_').unwrap_or((series, ""));
        out += &format!("\n{mode} / {proj}\n");
        out += &format!(
            "{:>6} {:>11} {:>11} {:>11} {:>11} {:>11} {:>13} {:>11} {:>9}\n",
            "N",
            "dt",
            "err_l1",
            "err_split",
            "err_inner",
            "err_kl",
            "E_block_final",
            "Lyap_viol",
            "wall_s"
        );
        for k in (0..s.n.len()).filter(|&k| s.mode[k] == mode && s.projection[k] == proj) {
            out += &format!(
                "{:>6} {:>11.4e} {:>11.4e} {:>11.4e} {:>11.4e} {:>11.4e} {:>13.4e} {:>11.4e} {:>9.2}\n",
                s.n[k],
                s.dt[k],
                s.err_l1[k],
                s.err_split[k],
                s.err_inner[k],
                s.err_kl[k],
                s.e_block_final[k],
                s.lyapunov_violation[k],
                s.wall_s[k]
            );
        }
        let used: Vec<String> = ns.iter().map(|n| n.to_string()).collect();
        if order.is_nan() {
            out += &format!(
                "observed order: none (fewer than two errors above the round-off floor {ROUNDOFF_FLOOR:e}: this series does not depend on Δt)\n"
            );
        } else {
            out += &format!(
                "observed order (least squares over N = {}): {:.3}\n",
                used.join(", "),
                order
            );
        }
    }
    if !s.part_orders.is_empty() {
        out += "\nkernel mode, error split into its parts (err_split: the resolved run of equal N against p★; err_inner: |p_N^kernel − p_N^resolved|_1):\n";
        for (key, order, _) in &s.part_orders {
            out += &format!("  {key}: {order:.3}\n");
        }
    }
    out += &format!("\ntotal wall time {:.1} s\n", sw.wall_s);
    out
}
