//! The HDF5 layout of SPEC §9. A run lives at the file root or in `/runs/<name>` of a sweep
//! file: attributes `config` (TOML) and `version`; `grid/labels` (int32 ny×nx);
//! `reference/{q0, r, w_ref}`; `trajectory/<diagnostic>` (N+1) and `trajectory/w` ((N+1)×m);
//! `snapshots/{s, n, p}` (p: K×ny×nx, chunked, deflate); `final/p`. A sweep adds `summary/`
//! and `limit/<projected|baseline>/p`. A shard file of `cgkl sweep --shard k/n` holds its runs
//! as a sweep file does, plus what `cgkl merge` needs ([`crate::shard::write_shard_file`]).

use super::h5util::{self, describe, Growing3d};
use crate::diagnostics::{Field, DIAGNOSTICS};
use crate::error::{CgklError, Result};
use crate::observe::{Observer, Snapshot};
use crate::problem::{Problem, RunResult};
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

    /// Writes the rest of `run`'s layout: the attributes (`config`, `version`, `inputs`, `name`, `mode`,
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
        h5util::attr_str(g, "inputs", &run.inputs)?;
        h5util::attr_str(g, "linear_solver", &run.linear_solver)?;
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
