//! Reads back a run written by [`super::layout::write_run`] (the mirror of `layout.rs`): the
//! §7 records from `trajectory/*`, the snapshots (and currents) from `snapshots/*`, `final/p`
//! and the scalar attributes, into a [`RunResult`] that [`write_run`](super::layout::write_run)
//! writes again bit for bit. The projection times are not stored in the layout; they come from
//! the [`Problem`] the run was made from.

use super::h5util;
use crate::config::FlowMode;
use crate::diagnostics::{Field, StepRecord, DIAGNOSTICS};
use crate::error::{CgklError, Result};
use crate::integrator::StepStats;
use crate::problem::{Problem, Projection, RunResult};
use crate::splitting::SplitOutput;
use hdf5::Group;
use std::path::Path;

fn bad(g: &Group, what: impl std::fmt::Display) -> CgklError {
    CgklError::Io {
        path: format!("{}:{}", g.filename(), g.name()),
        msg: format!("not a complete cgkl run: {what}"),
    }
}

fn check_shape(g: &Group, name: &str, shape: &[usize], want: &[usize]) -> Result<()> {
    if shape != want {
        return Err(bad(
            g,
            format!("{name} has shape {shape:?}, expected {want:?} for this problem"),
        ));
    }
    Ok(())
}

fn nonneg(g: &Group, name: &str) -> Result<usize> {
    let v = h5util::read_attr_i64(g, name)?;
    usize::try_from(v).map_err(|_| bad(g, format!("attribute {name} = {v} is negative")))
}

/// Reads the run stored in `g` (the file root of a run file or `/runs/<name>` of a sweep file)
/// that was made from `pb`: shapes are checked against `pb` (grid, blocks, number of steps), and
/// `times` is taken from `pb.times`. The stored `config` must be `pb`'s config; the caller
/// checks that (see [`crate::sweep::resume`]).
pub fn read_run(g: &Group, pb: &Problem) -> Result<RunResult> {
    let (nx, ny, m) = (pb.grid.nx, pb.grid.ny, pb.partition.m());
    let n1 = pb.times.len();
    let name = h5util::read_attr_str(g, "name")?;
    let mode_name = h5util::read_attr_str(g, "mode")?;
    let mode: FlowMode = mode_name
        .parse()
        .map_err(|e| bad(g, format!("mode {mode_name:?}: {e}")))?;
    let projection_name = h5util::read_attr_str(g, "projection")?;
    let projection: Projection = projection_name
        .parse()
        .map_err(|e| bad(g, format!("projection {projection_name:?}: {e}")))?;
    if mode != pb.config.flow.mode {
        return Err(bad(
            g,
            format!("mode {mode} but the problem runs {}", pb.config.flow.mode),
        ));
    }
    let delta = h5util::read_attr_f64(g, projection.delta_attr())?;
    let n_attr = h5util::read_attr_i64(g, "N")?;
    if n_attr != n1 as i64 - 1 {
        return Err(bad(
            g,
            format!("N = {n_attr}, but the problem has {} steps", n1 - 1),
        ));
    }
    let lyapunov_violation = h5util::read_attr_f64(g, "lyapunov_violation")?;
    let wall_s = h5util::read_attr_f64(g, "wall_s")?;
    let config_toml = h5util::read_attr_str(g, "config")?;
    let inputs = h5util::read_attr_str_opt(g, "inputs").unwrap_or_default();
    let linear_solver = h5util::read_attr_str_opt(g, "linear_solver").unwrap_or_default();
    let stats = StepStats {
        steps: nonneg(g, "integrator_steps")?,
        rejected: nonneg(g, "integrator_rejected")?,
        factorizations: nonneg(g, "lu_factorizations")?,
    };

    // records
    let mut records = vec![StepRecord::default(); n1];
    for d in DIAGNOSTICS {
        let path = format!("trajectory/{}", d.name);
        match d.field {
            Field::F64(field) => {
                let v = h5util::read_f64(g, &path)?;
                check_shape(g, &path, &[v.len()], &[n1])?;
                for (r, x) in records.iter_mut().zip(v) {
                    *field(r) = x;
                }
            }
            Field::I32(field) => {
                let v = h5util::read_i32(g, &path)?;
                check_shape(g, &path, &[v.len()], &[n1])?;
                for (r, x) in records.iter_mut().zip(v) {
                    *field(r) = x;
                }
            }
        }
    }
    let (shape, w) = h5util::read_f64_nd(g, "trajectory/w")?;
    check_shape(g, "trajectory/w", &shape, &[n1, m])?;
    if m > 0 {
        for (r, row) in records.iter_mut().zip(w.chunks_exact(m)) {
            r.w = row.to_vec();
        }
    }

    // snapshots
    let steps = h5util::read_i64(g, "snapshots/n")?;
    let snapshot_steps = steps
        .iter()
        .map(|&k| usize::try_from(k).ok().filter(|&k| k < n1))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| bad(g, "snapshots/n holds a step outside 0..=N"))?;
    let k = snapshot_steps.len();
    let (shape, snapshots) = h5util::read_f64_nd(g, "snapshots/p")?;
    check_shape(g, "snapshots/p", &shape, &[k, ny, nx])?;
    let has_jx = g.link_exists("snapshots/J_x");
    let has_jy = g.link_exists("snapshots/J_y");
    let currents = match (has_jx, has_jy) {
        (false, false) => None,
        (true, true) if nx >= 1 && ny >= 1 => {
            let (sx, jx) = h5util::read_f64_nd(g, "snapshots/J_x")?;
            check_shape(g, "snapshots/J_x", &sx, &[k, ny, nx - 1])?;
            let (sy, jy) = h5util::read_f64_nd(g, "snapshots/J_y")?;
            check_shape(g, "snapshots/J_y", &sy, &[k, ny - 1, nx])?;
            // back to the driver's order: per snapshot the x-faces, then the y-faces
            let (nfx, nfy) = ((nx - 1) * ny, nx * (ny - 1));
            let mut cur = Vec::with_capacity(k * (nfx + nfy));
            for s in 0..k {
                cur.extend_from_slice(&jx[s * nfx..(s + 1) * nfx]);
                cur.extend_from_slice(&jy[s * nfy..(s + 1) * nfy]);
            }
            Some(cur)
        }
        _ => return Err(bad(g, "only one of snapshots/J_x and snapshots/J_y")),
    };
    let (shape, final_p) = h5util::read_f64_nd(g, "final/p")?;
    check_shape(g, "final/p", &shape, &[ny, nx])?;

    Ok(RunResult {
        name,
        mode,
        projection,
        delta,
        times: pb.times.clone(),
        output: SplitOutput {
            records,
            // the layout keeps the §7 records, not the post-step operators' own records
            post: Vec::new(),
            snapshot_steps,
            snapshots,
            currents,
            final_p,
            stats,
        },
        lyapunov_violation,
        wall_s,
        config_toml,
        inputs,
        linear_solver,
    })
}

/// Reads a run file written by [`super::layout::write_run_file`] (see [`read_run`]).
pub fn read_run_file(path: &Path, pb: &Problem) -> Result<RunResult> {
    let f = super::open_h5(path, "give a run file written by cgkl run")?;
    read_run(&f, pb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::io::layout::write_run_file;

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn a_written_run_reads_back_bit_for_bit() {
        let dir = std::env::temp_dir().join(format!("cgkl_read_run_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (currents, projection) in [(true, Projection::Projected), (false, Projection::Baseline)]
        {
            let ov: Vec<String> = [
                "grid.nx=8",
                "grid.ny=6",
                "partition.bx=2",
                "partition.by=3",
                "schedule.n_steps=7",
                "output.snapshots=3",
                if currents {
                    "output.currents=true"
                } else {
                    "output.currents=false"
                },
            ]
            .map(String::from)
            .to_vec();
            let pb = Config::from_toml_with_overrides("", &ov)
                .unwrap()
                .validate()
                .unwrap();
            let r = pb.run(projection).unwrap();
            let path = dir.join(format!("run_{currents}.h5"));
            write_run_file(&path, &pb, &r, true).unwrap();
            let back = read_run_file(&path, &pb).unwrap();
            assert_eq!(back.name, r.name);
            assert_eq!(back.mode, r.mode);
            assert_eq!(back.projection, r.projection);
            assert_eq!(back.delta.to_bits(), r.delta.to_bits());
            assert_eq!(bits(&back.times), bits(&r.times));
            assert_eq!(
                back.lyapunov_violation.to_bits(),
                r.lyapunov_violation.to_bits()
            );
            assert_eq!(back.wall_s.to_bits(), r.wall_s.to_bits());
            assert_eq!(back.config_toml, r.config_toml);
            let (a, b) = (&back.output, &r.output);
            // records compare by value; NaN fields (tau at index 0) compare via Debug
            assert_eq!(format!("{:?}", a.records), format!("{:?}", b.records));
            assert_eq!(a.snapshot_steps, b.snapshot_steps);
            assert_eq!(bits(&a.snapshots), bits(&b.snapshots));
            assert_eq!(a.currents.is_some(), currents);
            assert_eq!(
                a.currents.as_deref().map(bits),
                b.currents.as_deref().map(bits)
            );
            assert_eq!(bits(&a.final_p), bits(&b.final_p));
            assert_eq!(format!("{:?}", a.stats), format!("{:?}", b.stats));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
