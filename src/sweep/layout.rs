//! The sweep file of SPEC §9: its runs at `/runs/<name>` (each in the run layout of
//! [`crate::io::layout`], with its swept `value`), `summary/` over the runs with the observed
//! orders, and `limit/<projected|baseline>/p` with the references used.

use super::{SweepResult, SweepRun, ASYMPTOTIC_POINTS, ROUNDOFF_FLOOR};
use crate::error::Result;
use crate::io::h5util::{self, describe};
use crate::io::layout::{put_f64, put_i64, write_run};
use crate::problem::Projection;
use hdf5::Group;

/// Writes the runs of a sweep as `/runs/<name>` (each with its swept `value`) and the root
/// attribute `runs` (their names in order); returns the names.
pub(crate) fn write_sweep_runs(root: &Group, runs: &[SweepRun]) -> Result<Vec<String>> {
    let names: Vec<String> = runs.iter().map(|r| r.result.name.clone()).collect();
    h5util::attr_str_array(root, "runs", &names)?;
    for run in runs {
        let g = h5util::group(root, &format!("runs/{}", run.result.name))?;
        h5util::attr_str(&g, "value", &run.value)?;
        write_run(&g, &run.problem, &run.result)?;
    }
    Ok(names)
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
