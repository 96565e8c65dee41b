//! Parameter studies (δ sweep, leakage sweep): final E_block, pixel MSE and V_δ of the
//! projected and baseline runs against the swept value, as a table and as plots.

use cgkl::error::{CgklError, Result};
use cgkl::plot::{line_plot, LinePlot, Scale, Series, SeriesStyle};
use cgkl::problem::Projection;
use cgkl::sweep::SweepResult;
use std::path::{Path, PathBuf};

/// A plotted quantity: (file stem, axis label, accessor).
type Metric = (
    &'static str,
    &'static str,
    fn(&cgkl::problem::RunResult) -> f64,
);

/// One row per run: value, mode, projection, final E_block, MSE, V_δ, Lyapunov violation.
pub fn param_table(sw: &SweepResult) -> String {
    let mut out = format!(
        "{:>10} {:>9} {:>10} {:>13} {:>11} {:>11} {:>11}\n",
        sw.spec.param.rsplit('.').next().unwrap_or(""),
        "mode",
        "projection",
        "E_block_final",
        "mse",
        "V_delta",
        "Lyap_viol"
    );
    for r in &sw.runs {
        let last = r.result.output.records.last();
        let get = |f: fn(&cgkl::diagnostics::StepRecord) -> f64| last.map_or(f64::NAN, f);
        out += &format!(
            "{:>10} {:>9} {:>10} {:>13.4e} {:>11.4e} {:>11.4e} {:>11.4e}\n",
            r.value,
            r.result.mode.name(),
            r.result.projection.name(),
            get(|x| x.e_block),
            get(|x| x.mse),
            get(|x| x.v_delta),
            r.result.lyapunov_violation
        );
    }
    out
}

/// Plots `E_block_final`, `mse_final`, `V_delta_final` and `lyapunov_violation` against the swept
/// value (log x when every finite value is positive and they span over two decades; values 0 and
/// inf cannot be placed on such an axis and are listed in the title instead).
pub fn param_figures(sw: &SweepResult, label: &str, out_dir: &Path) -> Result<Vec<PathBuf>> {
    cgkl::figures::make_dir(out_dir)?;
    let xs: Vec<f64> = sw
        .runs
        .iter()
        .map(|r| r.value.parse::<f64>().unwrap_or(f64::NAN))
        .collect();
    let finite_pos: Vec<f64> = xs
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    let (lo, hi) = finite_pos
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
    let log_x = hi / lo > 100.0;
    let skipped: Vec<String> = sw
        .runs
        .iter()
        .zip(&xs)
        .filter(|(_, x)| !x.is_finite() || (log_x && **x <= 0.0))
        .map(|(r, _)| r.value.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let metrics: [Metric; 4] = [
        ("E_block_final", "final E_block", |r| {
            r.output.records.last().map_or(f64::NAN, |x| x.e_block)
        }),
        ("mse_final", "final pixel MSE", |r| {
            r.output.records.last().map_or(f64::NAN, |x| x.mse)
        }),
        ("V_delta_final", "final V_δ (nats)", |r| {
            r.output.records.last().map_or(f64::NAN, |x| x.v_delta)
        }),
        (
            "lyapunov_violation",
            "Lyapunov violation max (ΔV_δ)⁺ (nats)",
            |r| r.lyapunov_violation,
        ),
    ];
    let mut files = Vec::new();
    for (stem, ylabel, get) in metrics {
        let mut series = Vec::new();
        for (k, projection) in Projection::ALL.into_iter().enumerate() {
            let (x, y): (Vec<f64>, Vec<f64>) = sw
                .runs
                .iter()
                .zip(&xs)
                .filter(|(r, _)| r.result.projection == projection)
                .map(|(r, &x)| (x, get(&r.result)))
                .unzip();
            let mut s = Series::new(projection.name(), x, y, SeriesStyle::LineMarkers);
            s.color = Some(k);
            series.push(s);
        }
        let all_pos = series
            .iter()
            .flat_map(|s| s.y.iter())
            .filter(|y| y.is_finite())
            .all(|&y| y > 0.0);
        let plot = LinePlot {
            title: if skipped.is_empty() {
                format!("{ylabel} against {label}")
            } else {
                format!(
                    "{ylabel} against {label} (not shown: {label} = {})",
                    skipped.join(", ")
                )
            },
            x_label: label.to_string(),
            y_label: ylabel.to_string(),
            x_scale: if log_x { Scale::Log10 } else { Scale::Linear },
            y_scale: if all_pos { Scale::Log10 } else { Scale::Linear },
            series,
            ..LinePlot::default()
        };
        let path = out_dir.join(stem);
        line_plot(&plot, &path)
            .map_err(|e| CgklError::Output(format!("{}: {e}", path.display())))?;
        files.push(path.with_extension("png"));
        files.push(path.with_extension("svg"));
    }
    Ok(files)
}

/// A kernel-mode parameter study (projected and baseline for every value): the table, the
/// sweep file `<out>/<name>.h5` and the plots in `<out>/<name>/`.
pub fn param_study_main(
    name: &str,
    param: &str,
    values: &[&str],
    label: &str,
) -> anyhow::Result<()> {
    use cgkl::sweep::{run_sweep, SweepSpec};
    let args = super::app::support::parse_args::<super::app::support::ExampleArgs>();
    let (text, ov) = args.prepare()?;
    let spec = SweepSpec {
        param: param.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
        modes: vec![cgkl::config::FlowMode::Kernel],
        projections: cgkl::problem::Projection::ALL.to_vec(),
    };
    let base = cgkl::config::Config::from_toml_with_overrides(&text, &ov)?;
    let n = base.schedule.n_steps as u64;
    let (bar, report) = super::app::support::progress_for(2 * values.len() as u64 * n);
    let sw = run_sweep(&base, &spec, &report)?;
    bar.finish_and_clear();
    println!("{}", param_table(&sw));
    let h5 = args.out.join(format!("{name}.h5"));
    cgkl::sweep::write_sweep_file(&h5, &sw, true)?;
    println!("wrote {}", h5.display());
    for f in param_figures(&sw, label, &args.out.join(name))? {
        println!("wrote {}", f.display());
    }
    Ok(())
}
