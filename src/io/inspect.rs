//! `cgkl inspect`: a readable summary of any cgkl HDF5 file (a run or a sweep), and a plain
//! listing of the objects in any other HDF5 file.

use super::h5util;
use crate::error::{CgklError, Result};
use hdf5::{File, Group};
use std::fmt::Write;
use std::path::Path;

fn open(path: &Path) -> Result<File> {
    super::open_h5(path, "give a file written by cgkl")
}

fn attr_str(g: &Group, name: &str) -> Option<String> {
    h5util::read_attr_str_opt(g, name)
}

fn attr_f64(g: &Group, name: &str) -> Option<f64> {
    h5util::read_attr_f64(g, name).ok()
}

fn last(g: &Group, name: &str) -> f64 {
    h5util::read_f64(g, &format!("trajectory/{name}"))
        .ok()
        .and_then(|v| v.last().copied())
        .unwrap_or(f64::NAN)
}

fn run_line(g: &Group, name: &str) -> String {
    let n = h5util::read_attr_i64(g, "N").unwrap_or(-1);
    format!(
        "{name:<34} N = {n:<5} E_block = {:.4e}  E_inf = {:.4e}  V_delta = {:.4e}  mse = {:.4e}  Lyapunov violation = {:.3e}  wall = {:.2} s",
        last(g, "E_block"),
        last(g, "E_inf"),
        last(g, "V_delta"),
        last(g, "mse"),
        attr_f64(g, "lyapunov_violation").unwrap_or(f64::NAN),
        attr_f64(g, "wall_s").unwrap_or(f64::NAN),
    )
}

fn run_details(g: &Group, out: &mut String) {
    let get = |k: &str| attr_str(g, k).unwrap_or_else(|| "?".into());
    let _ = writeln!(
        out,
        "run {} ({} mode, {})",
        get("name"),
        get("mode"),
        get("projection")
    );
    if let Ok(grid) = g.group("grid") {
        let _ = writeln!(
            out,
            "  grid {} × {}, m = {} blocks",
            h5util::read_attr_i64(&grid, "nx").unwrap_or(-1),
            h5util::read_attr_i64(&grid, "ny").unwrap_or(-1),
            h5util::read_attr_i64(&grid, "m").unwrap_or(-1)
        );
    }
    let delta = attr_f64(g, "delta")
        .or_else(|| attr_f64(g, "diag_delta"))
        .unwrap_or(f64::NAN);
    let _ = writeln!(
        out,
        "  δ = {delta}, N = {}",
        h5util::read_attr_i64(g, "N").unwrap_or(-1)
    );
    let _ = writeln!(
        out,
        "  integrator work: {} steps, {} rejected, {} LU factorisations",
        h5util::read_attr_i64(g, "integrator_steps").unwrap_or(-1),
        h5util::read_attr_i64(g, "integrator_rejected").unwrap_or(-1),
        h5util::read_attr_i64(g, "lu_factorizations").unwrap_or(-1)
    );
    let _ = writeln!(out, "  final: {}", run_line(g, "").trim_start());
    let _ = writeln!(
        out,
        "  final mass − 1 = {:.2e}, min p = {:.3e}",
        last(g, "mass") - 1.0,
        last(g, "min_p")
    );
}

/// The summary text of the file at `path`.
pub fn inspect(path: &Path) -> Result<String> {
    let f = open(path)?;
    let root: &Group = &f;
    let mut out = String::new();
    let _ = writeln!(out, "file {}", path.display());
    let Some(kind) = attr_str(root, "kind") else {
        let _ = writeln!(
            out,
            "not a cgkl file (no root attribute `kind`); its objects:"
        );
        list(root, "/", &mut out, 0)?;
        return Ok(out);
    };
    let _ = writeln!(
        out,
        "kind {kind}, written by cgkl {}",
        attr_str(root, "version").unwrap_or_else(|| "?".into())
    );
    match kind.as_str() {
        "run" => run_details(root, &mut out),
        "dt_sweep" | "sweep" => {
            let _ = writeln!(
                out,
                "sweep over {} = [{}] ({:.1} s)",
                attr_str(root, "param").unwrap_or_default(),
                h5util::read_attr_str_array(root, "values")
                    .unwrap_or_default()
                    .join(", "),
                attr_f64(root, "wall_s").unwrap_or(f64::NAN)
            );
            let names = h5util::read_attr_str_array(root, "runs")?;
            let runs = root
                .group("runs")
                .map_err(|e| CgklError::Data(format!("sweep file without /runs: {e}")))?;
            for name in &names {
                if let Ok(g) = runs.group(name) {
                    let _ = writeln!(out, "  {}", run_line(&g, name));
                }
            }
            if let Ok(s) = root.group("summary") {
                let _ = writeln!(out, "summary (errors against p★(T)):");
                let keys = s.attr_names().unwrap_or_default();
                let orders = keys.iter().filter(|k| {
                    k.starts_with("observed_order_")
                        && !k.ends_with("_N")
                        && *k != "observed_order_method"
                });
                for key in orders {
                    let v = attr_f64(&s, key).unwrap_or(f64::NAN);
                    let _ = writeln!(out, "  {key} = {v:.3}");
                }
            }
            for which in ["projected", "baseline"] {
                if let Ok(g) = root.group(&format!("limit/{which}")) {
                    let _ = writeln!(
                        out,
                        "reference p★ ({which}): {}",
                        attr_str(&g, "method").unwrap_or_default()
                    );
                }
            }
        }
        other => {
            let _ = writeln!(out, "unknown cgkl file kind {other:?}");
        }
    }
    if let Some(cfg) = attr_str(root, "config") {
        let _ = writeln!(
            out,
            "config:\n{}",
            cfg.trim_end()
                .lines()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(out)
}

fn list(g: &Group, prefix: &str, out: &mut String, depth: usize) -> Result<()> {
    if depth > 8 {
        return Ok(());
    }
    let err = |e: hdf5::Error| CgklError::Data(format!("cannot list {prefix}: {e}"));
    for ds in g.datasets().map_err(err)? {
        let _ = writeln!(out, "  {}  {:?}", ds.name(), ds.shape());
    }
    for sub in g.groups().map_err(err)? {
        let name = sub.name();
        list(&sub, &name, out, depth + 1)?;
    }
    Ok(())
}
