//! The HDF5 layout of SPEC §9. A run lives at the file root or in `/runs/<name>` of a sweep
//! file: attributes `config` (TOML) and `version`; `grid/labels` (int32 ny×nx);
//! `reference/{q0, r, w_ref}`; `trajectory/<diagnostic>` (N+1) and `trajectory/w` ((N+1)×m);
//! `snapshots/{s, n, p}` (p: K×ny×nx, chunked, deflate); `final/p`. A sweep adds `summary/`
//! and `limit/<projected|baseline>/p`. A shard file of `cgkl sweep --shard k/n` holds its runs
//! as a sweep file does, plus what `cgkl merge` needs ([`write_shard_file`]).

use super::h5util::{self, describe, Growing3d};
use crate::config::Config;
use crate::diagnostics::{Field, DIAGNOSTICS};
use crate::error::{CgklError, Result};
use crate::observe::{Observer, Snapshot};
use crate::problem::{Problem, Projection, RunResult};
use crate::shard::{ShardMeta, SHARD_KIND};
use crate::sweep::{SweepResult, SweepRun, ASYMPTOTIC_POINTS, ROUNDOFF_FLOOR};
use hdf5::Group;

/// Writes one run's layout into a group (the file root or `/runs/<name>`) as the run goes:
/// [`begin`](Self::begin) writes what the problem fixes (grid, reference, start) and creates
/// the growing snapshot datasets, each [`Observer::snapshot`] appends one plane, and
/// [`finish`](Self::finish) writes the attributes, the trajectories, `snapshots/{s, n}` and
/// `final/p`. Memory: one plane at a time (plus the §7 records, which the run keeps).
pub struct RunWriter {
    g: Group,
    nx: usize,
    ny: usize,
    m: usize,
    steps: Vec<usize>,
    s: Vec<f64>,
    p: Growing3d,
    currents: Option<(Growing3d, Growing3d)>,
}

impl RunWriter {
    /// Starts the run layout of `pb` in `g`; `currents` creates `snapshots/J_x` and `J_y`.
    pub fn begin(g: &Group, pb: &Problem, currents: bool) -> Result<Self> {
        let (nx, ny, m) = (pb.grid.nx, pb.grid.ny, pb.partition.m());
        let labels: Vec<i32> = pb.partition.labels().iter().map(|&l| l as i32).collect();
        let ds = h5util::write_i32_2d(g, "grid/labels", ny, nx, &labels)?;
        describe(&ds, "block label of every cell (row = y)", "1")?;
        let grid = h5util::group(g, "grid")?;
        h5util::attr_i64(&grid, "nx", nx as i64)?;
        h5util::attr_i64(&grid, "ny", ny as i64)?;
        h5util::attr_f64(&grid, "h", pb.grid.h())?;
        h5util::attr_i64(&grid, "m", m as i64)?;

        let ds = h5util::write_f64_2d(g, "reference/q0", ny, nx, &pb.q0)?;
        describe(&ds, "data image q0 (cell masses)", "1")?;
        let ds = h5util::write_f64_2d(g, "reference/r", ny, nx, &pb.reference.r)?;
        describe(&ds, "reference image r", "1")?;
        let ds = h5util::write_f64(g, "reference/w_ref", &pb.reference.w_ref)?;
        describe(&ds, "reference block masses w_ref = w(r)", "1")?;
        let ds = h5util::write_f64_2d(g, "start/p0", ny, nx, &pb.p0)?;
        describe(&ds, "initial state p_0 (not projected)", "1")?;

        let p = Growing3d::create(g, "snapshots/p", ny, nx)?;
        describe(
            p.dataset(),
            "states after projection at snapshots/s, K × ny × nx",
            "1",
        )?;
        let currents = if currents {
            // faces: (nx−1)·ny x-faces row by row, then nx·(ny−1) y-faces
            let jx = Growing3d::create(g, "snapshots/J_x", ny, nx.saturating_sub(1))?;
            describe(jx.dataset(), "net probability current from cell (iy, ix) to (iy, ix+1) at the snapshots: G(s_n)'s face flux on p̃_n", "mass/time")?;
            let jy = Growing3d::create(g, "snapshots/J_y", ny.saturating_sub(1), nx)?;
            describe(jy.dataset(), "net probability current from cell (iy, ix) to (iy+1, ix) at the snapshots: G(s_n)'s face flux on p̃_n", "mass/time")?;
            Some((jx, jy))
        } else {
            None
        };
        Ok(Self {
            g: g.clone(),
            nx,
            ny,
            m,
            steps: Vec::new(),
            s: Vec::new(),
            p,
            currents,
        })
    }

    fn append(&mut self, snap: Snapshot<'_>) -> Result<()> {
        self.p.append(snap.p)?;
        if let Some((jx, jy)) = self.currents.as_mut() {
            let cur = snap.currents.ok_or_else(|| {
                CgklError::Output(format!(
                    "snapshot at step {} has no currents but the run stores them (a cgkl bug)",
                    snap.n
                ))
            })?;
            let nfx = self.nx.saturating_sub(1) * self.ny;
            jx.append(&cur[..nfx.min(cur.len())])?;
            jy.append(&cur[nfx.min(cur.len())..])?;
        }
        self.steps.push(snap.n);
        self.s.push(snap.s);
        Ok(())
    }

    /// Writes the rest of `run`'s layout: the attributes (`config`, `version`, `name`, `mode`,
    /// `projection`, `delta` or `diag_delta`, `N`, `lyapunov_violation`, `wall_s`, the
    /// integrator's work), `trajectory/*`, `snapshots/{s, n}` and `final/p`. Errors if the
    /// snapshots received are not the run's.
    pub fn finish(self, run: &RunResult) -> Result<()> {
        let g = &self.g;
        if self.steps != run.output.snapshot_steps {
            return Err(CgklError::Output(format!(
                "the run took snapshots at {:?} but the writer received {:?} (a cgkl bug)",
                run.output.snapshot_steps, self.steps
            )));
        }
        h5util::attr_str(g, "config", &run.config_toml)?;
        h5util::attr_str(g, "version", env!("CARGO_PKG_VERSION"))?;
        h5util::attr_str(g, "name", &run.name)?;
        h5util::attr_str(g, "mode", run.mode.name())?;
        h5util::attr_str(g, "projection", run.projection.name())?;
        h5util::attr_f64(g, run.projection.delta_attr(), run.delta)?;
        h5util::attr_i64(g, "N", (run.times.len() - 1) as i64)?;
        h5util::attr_f64(g, "lyapunov_violation", run.lyapunov_violation)?;
        h5util::attr_f64(g, "wall_s", run.wall_s)?;
        let st = run.stats();
        h5util::attr_i64(g, "integrator_steps", st.steps as i64)?;
        h5util::attr_i64(g, "integrator_rejected", st.rejected as i64)?;
        h5util::attr_i64(g, "lu_factorizations", st.factorizations as i64)?;

        let m = self.m;
        let recs = &run.output.records;
        for d in DIAGNOSTICS {
            let path = format!("trajectory/{}", d.name);
            let ds = match d.field {
                Field::F64(_) => {
                    let v: Vec<f64> = recs.iter().filter_map(|r| d.f64_of(r)).collect();
                    h5util::write_f64(g, &path, &v)?
                }
                Field::I32(_) => {
                    let v: Vec<i32> = recs.iter().filter_map(|r| d.i32_of(r)).collect();
                    h5util::write_i32(g, &path, &v)?
                }
            };
            describe(&ds, d.description, d.units)?;
        }
        let w: Vec<f64> = recs.iter().flat_map(|r| r.w.iter().copied()).collect();
        let ds = h5util::write_f64_2d(g, "trajectory/w", recs.len(), m, &w)?;
        describe(&ds, "block masses w(p_n), (N+1) × m", "1")?;

        let ds = h5util::write_f64(g, "snapshots/s", &self.s)?;
        describe(&ds, "times of the snapshots", "time")?;
        let n: Vec<i64> = self.steps.iter().map(|&k| k as i64).collect();
        let ds = h5util::write_i64(g, "snapshots/n", &n)?;
        describe(&ds, "step indices of the snapshots", "1")?;
        let ds = h5util::write_f64_2d(g, "final/p", self.ny, self.nx, &run.output.final_p)?;
        describe(&ds, "final state p_N", "1")?;
        Ok(())
    }
}

impl Observer for RunWriter {
    fn snapshot(&mut self, snap: Snapshot<'_>) -> Result<()> {
        self.append(snap)
    }
}

/// Writes one run kept in memory (its snapshots in `run.output`) into `g`, through the same
/// [`RunWriter`] a streaming run uses.
pub fn write_run(g: &Group, pb: &Problem, run: &RunResult) -> Result<()> {
    let out = &run.output;
    let mut w = RunWriter::begin(g, pb, out.currents.is_some())?;
    let cells = pb.grid.nx * pb.grid.ny;
    let k = out.snapshot_steps.len();
    if out.snapshots.len() != k * cells {
        return Err(CgklError::Output(format!(
            "run {} keeps {} snapshot values for {k} snapshots of {cells} cells (a run that streamed its snapshots cannot be written again)",
            run.name,
            out.snapshots.len()
        )));
    }
    let faces = out.currents.as_ref().map_or(0, |c| c.len() / k.max(1));
    for (j, &n) in out.snapshot_steps.iter().enumerate() {
        w.append(Snapshot {
            n,
            s: run.times[n],
            p: &out.snapshots[j * cells..(j + 1) * cells],
            currents: out
                .currents
                .as_ref()
                .map(|c| &c[j * faces..(j + 1) * faces]),
        })?;
    }
    w.finish(run)
}

/// A run file (SPEC §9, the run at the root, attribute `kind = "run"`) written as the run goes:
/// an observer that streams the snapshots into `<target>.tmp-<pid>` and renames it onto the
/// target in [`finish`](Self::finish). Dropped without `finish` (an error, a panic), it deletes
/// the temporary file, so no half-written file is ever left under the target name.
pub struct RunFileSink {
    writer: RunWriter,
    file: h5util::AtomicH5,
}

impl RunFileSink {
    /// Creates the temporary file beside `path` and writes what `pb` fixes; refuses an
    /// existing `path` unless `overwrite`.
    pub fn create(path: &std::path::Path, pb: &Problem, overwrite: bool) -> Result<Self> {
        let file = h5util::AtomicH5::create(path, overwrite)?;
        h5util::attr_str(file.root(), "kind", "run")?;
        let writer = RunWriter::begin(file.root(), pb, pb.config.output.currents)?;
        Ok(Self { writer, file })
    }

    /// Writes the rest of `run` (see [`RunWriter::finish`]) and renames the file into place.
    pub fn finish(self, run: &RunResult) -> Result<()> {
        let Self { writer, file } = self;
        writer.finish(run)?;
        file.commit()?;
        Ok(())
    }
}

impl Observer for RunFileSink {
    fn snapshot(&mut self, snap: Snapshot<'_>) -> Result<()> {
        self.writer.append(snap)
    }
}

/// Writes a 1-D float64 dataset with `description` and `units` attributes.
pub fn put_f64(g: &Group, name: &str, data: &[f64], what: &str, units: &str) -> Result<()> {
    let ds = h5util::write_f64(g, name, data)?;
    describe(&ds, what, units)?;
    Ok(())
}

/// Writes a 1-D int64 dataset with `description` and `units` attributes.
pub fn put_i64(g: &Group, name: &str, data: &[i64], what: &str, units: &str) -> Result<()> {
    let ds = h5util::write_i64(g, name, data)?;
    describe(&ds, what, units)?;
    Ok(())
}

/// Reads `trajectory/<name>` of a run group (for round-trip checks and `inspect`).
pub fn read_trajectory(g: &Group, name: &str) -> Result<Vec<f64>> {
    Ok(h5util::read_f64(g, &format!("trajectory/{name}"))?)
}

/// Writes one run as a file (run at the root), atomically.
pub fn write_run_file(
    path: &std::path::Path,
    pb: &Problem,
    run: &RunResult,
    overwrite: bool,
) -> Result<()> {
    let f = h5util::AtomicH5::create(path, overwrite)?;
    h5util::attr_str(f.root(), "kind", "run")?;
    write_run(f.root(), pb, run)?;
    f.commit()?;
    Ok(())
}

/// Writes the runs of a sweep as `/runs/<name>` (each with its swept `value`) and the root
/// attribute `runs` (their names in order); returns the names.
fn write_sweep_runs(root: &Group, runs: &[SweepRun]) -> Result<Vec<String>> {
    let names: Vec<String> = runs.iter().map(|r| r.result.name.clone()).collect();
    h5util::attr_str_array(root, "runs", &names)?;
    for run in runs {
        let g = h5util::group(root, &format!("runs/{}", run.result.name))?;
        h5util::attr_str(&g, "value", &run.value)?;
        write_run(&g, &run.problem, &run.result)?;
    }
    Ok(names)
}

/// Writes a shard file of `cgkl sweep --shard k/n` (kind `sweep_shard`, see [`crate::shard`]),
/// atomically: the shard's runs as in a sweep file (`/runs/<name>` with `value`, root attribute
/// `runs`), the base `config` and `version`, and what `cgkl merge` needs to re-plan the sweep
/// and check the shards against each other: `input_config` (the config text given, empty for
/// the built-in default), `overrides` (the `--set` arguments), `param`, `values`, `modes`,
/// `projections`, `shard_k`, `shard_n`, `planned_runs` (every run of the whole sweep in job
/// order) and `wall_s`.
pub fn write_shard_file(
    path: &std::path::Path,
    meta: &ShardMeta,
    runs: &[SweepRun],
    overwrite: bool,
) -> Result<()> {
    let base = Config::from_toml_with_overrides(&meta.input_config, &meta.overrides)?;
    let f = h5util::AtomicH5::create(path, overwrite)?;
    let root = f.root();
    h5util::attr_str(root, "kind", SHARD_KIND)?;
    h5util::attr_str(root, "config", &base.to_toml())?;
    h5util::attr_str(root, "version", env!("CARGO_PKG_VERSION"))?;
    h5util::attr_str(root, "input_config", &meta.input_config)?;
    h5util::attr_str_array(root, "overrides", &meta.overrides)?;
    h5util::attr_str(root, "param", &meta.spec.param)?;
    h5util::attr_str_array(root, "values", &meta.spec.values)?;
    let modes: Vec<&str> = meta.spec.modes.iter().map(|m| m.name()).collect();
    h5util::attr_str_array(root, "modes", &modes)?;
    let projections: Vec<&str> = meta.spec.projections.iter().map(|p| p.name()).collect();
    h5util::attr_str_array(root, "projections", &projections)?;
    h5util::attr_i64(root, "shard_k", meta.shard.k as i64)?;
    h5util::attr_i64(root, "shard_n", meta.shard.n as i64)?;
    h5util::attr_str_array(root, "planned_runs", &meta.planned)?;
    h5util::attr_f64(root, "wall_s", meta.wall_s)?;
    write_sweep_runs(root, runs)?;
    f.commit()?;
    Ok(())
}

/// Writes a sweep file (SPEC §9): `/runs/<name>`, `summary/`, `limit/`, atomically.
pub fn write_sweep_file(path: &std::path::Path, sw: &SweepResult, overwrite: bool) -> Result<()> {
    let f = h5util::AtomicH5::create(path, overwrite)?;
    let root = f.root();
    h5util::attr_str(
        root,
        "kind",
        if sw.spec.is_dt_sweep() {
            "dt_sweep"
        } else {
            "sweep"
        },
    )?;
    h5util::attr_str(root, "config", &sw.base.to_toml())?;
    h5util::attr_str(root, "version", env!("CARGO_PKG_VERSION"))?;
    h5util::attr_str(root, "param", &sw.spec.param)?;
    h5util::attr_str_array(root, "values", &sw.spec.values)?;
    h5util::attr_f64(root, "wall_s", sw.wall_s)?;
    let names = write_sweep_runs(root, &sw.runs)?;
    if let Some(s) = &sw.summary {
        let g = h5util::group(root, "summary")?;
        put_i64(&g, "N", &s.n, "number of projection steps N", "1")?;
        put_f64(
            &g,
            "dt",
            &s.dt,
            "largest Δt_n (T/N for uniform schedules)",
            "time",
        )?;
        put_f64(&g, "err_l1", &s.err_l1, "Σ_i |p_N − p★(T)|", "1")?;
        put_f64(&g, "err_kl", &s.err_kl, "D(p★(T) ‖ p_N)", "nats")?;
        put_f64(
            &g,
            "err_split",
            &s.err_split,
            "splitting error: err_l1 of the resolved run with the same N and projection",
            "1",
        )?;
        put_f64(
            &g,
            "err_inner",
            &s.err_inner,
            "inner integration error: Σ_i |p_N − p_N^resolved| (same N and projection)",
            "1",
        )?;
        put_f64(&g, "E_block_final", &s.e_block_final, "E_block(p_N)", "1")?;
        put_f64(
            &g,
            "lyapunov_violation",
            &s.lyapunov_violation,
            "max_n (V_δ(p_{n+1}) − V_δ(p_n))⁺",
            "nats",
        )?;
        put_f64(&g, "wall_s", &s.wall_s, "wall time of each run", "s")?;
        h5util::attr_str_array(&g, "mode", &s.mode)?;
        h5util::attr_str_array(&g, "projection", &s.projection)?;
        h5util::attr_str_array(&g, "run", &names)?;
        for (key, order, ns) in s.orders.iter().chain(&s.part_orders) {
            h5util::attr_f64(&g, key, *order)?;
            let used: Vec<String> = ns.iter().map(|n| n.to_string()).collect();
            h5util::attr_str(&g, &format!("{key}_N"), &used.join(","))?;
        }
        h5util::attr_str(
            &g,
            "observed_order_method",
            &format!("least-squares slope of ln err_l1 against ln dt over the {ASYMPTOTIC_POINTS} finest runs with err_l1 > {ROUNDOFF_FLOOR:e} (NaN if fewer than two)"),
        )?;
    }
    let grid = sw.runs.first().map(|r| r.problem.grid);
    for (projection, limit) in [
        (Projection::Projected, &sw.limit_projected),
        (Projection::Baseline, &sw.limit_baseline),
    ] {
        let name = projection.name();
        if let (Some(l), Some(grid)) = (limit, grid) {
            let ds =
                h5util::write_f64_2d(root, &format!("limit/{name}/p"), grid.ny, grid.nx, &l.p)?;
            describe(&ds, &format!("reference p★(T) for the {name} runs"), "1")?;
            let g = h5util::group(root, &format!("limit/{name}"))?;
            h5util::attr_str(&g, "method", &l.method)?;
            h5util::attr_f64(&g, "rtol", l.rtol)?;
            h5util::attr_f64(&g, "atol", l.atol)?;
        }
    }
    f.commit()?;
    Ok(())
}
