//! Lyapunov study (issue 4, item 3): does V_δ behave like a Lyapunov function of the projected
//! reverse diffusion? For δ over three decades, several leakages ε_rev and step counts N (kernel
//! mode), and for the continuous limit, it measures
//! - the Lyapunov violation of SPEC §7, `max_n (V_δ(p_{n+1}) − V_δ(p_n))⁺` (largest single rise),
//! - the positive variation `Σ_n (V_δ(p_{n+1}) − V_δ(p_n))⁺` (total rise; for the limit, over
//!   its Lawson steps), which does not vanish with Δt when V_δ genuinely rises,
//! - the final V_δ,
//!
//! and fits power laws (least-squares slopes of the logarithms): the violation against δ
//! (δ ≤ [`DELTA_FIT_MAX`]; the paper predicts O(δ²) under small leakage), against Δt = T/N and
//! against ε_rev. For the continuous limit the "violation" is per Lawson step, so only its
//! positive variation and final V_δ are step-independent.

use super::app::table::{sci, Table};
use cgkl::config::Config;
use cgkl::error::{CgklError, Result};
use cgkl::io::h5util;
use cgkl::io::layout::{put_f64, put_i64};
use cgkl::limit::LimitSolver;
use cgkl::order::observed_order;
use cgkl::plot::{line_plot, LinePlot, Scale, Series, SeriesStyle};
use cgkl::problem::Projection;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// A plotted quantity: (file stem, title, accessor).
type Metric = (&'static str, &'static str, fn(&LyapunovRow) -> f64);

/// Largest δ in the fit of the violation against δ.
pub const DELTA_FIT_MAX: f64 = 1e-2;

/// What the study runs (kernel mode; N = 0 denotes the continuous limit).
#[derive(Debug, Clone, PartialEq)]
pub struct LyapunovPlan {
    /// Tolerances δ.
    pub deltas: Vec<f64>,
    /// Leakages ε_rev.
    pub eps_rev: Vec<f64>,
    /// Step counts N of the kernel runs.
    pub ns: Vec<usize>,
    /// Lawson steps of the continuous limit.
    pub limit_steps: usize,
    /// Overrides applied before the user's (the default grid of the study).
    pub overrides: Vec<String>,
}

impl LyapunovPlan {
    /// δ = 1e-4 … 1e-1, ε_rev ∈ {0.01, 0.05, 0.2}, N ∈ {40, 160, 640} and the limit with 200
    /// Lawson steps, on a 64×64 grid; `quick`: δ ∈ {1e-3, 3e-3, 1e-2}, ε_rev = 0.05, N ∈ {20, 80},
    /// 50 Lawson steps.
    pub fn standard(quick: bool) -> Self {
        let grid = vec!["grid.nx=64".to_string(), "grid.ny=64".to_string()];
        if quick {
            Self {
                deltas: vec![1e-3, 3e-3, 1e-2],
                eps_rev: vec![0.05],
                ns: vec![20, 80],
                limit_steps: 50,
                overrides: grid,
            }
        } else {
            Self {
                deltas: vec![1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1],
                eps_rev: vec![0.01, 0.05, 0.2],
                ns: vec![40, 160, 640],
                limit_steps: 200,
                overrides: grid,
            }
        }
    }

    fn series_ns(&self) -> Vec<usize> {
        self.ns.iter().copied().chain(std::iter::once(0)).collect()
    }
}

/// One run.
#[derive(Debug, Clone, PartialEq)]
pub struct LyapunovRow {
    /// ε_rev.
    pub eps_rev: f64,
    /// δ.
    pub delta: f64,
    /// N (0: continuous limit).
    pub n: usize,
    /// `max_n (ΔV_δ)⁺`.
    pub violation: f64,
    /// `Σ_n (ΔV_δ)⁺`.
    pub positive_variation: f64,
    /// `V_δ(p_N)`.
    pub v_delta_final: f64,
}

/// A power-law fit `y ∝ x^slope` of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// What was fitted, e.g. `violation vs δ`.
    pub what: String,
    /// The fixed parameters, e.g. `ε_rev = 0.05, N = 40`.
    pub at: String,
    /// Slope of the violation (NaN if fewer than two positive points).
    pub slope_violation: f64,
    /// Slope of the positive variation.
    pub slope_positive_variation: f64,
}

/// A finished study.
#[derive(Debug, Clone)]
pub struct LyapunovStudy {
    /// The plan.
    pub plan: LyapunovPlan,
    /// Rows in order ε_rev × δ × (N…, limit).
    pub rows: Vec<LyapunovRow>,
    /// Fits against δ, Δt and ε_rev.
    pub fits: Vec<Fit>,
    /// The configuration (before δ, ε_rev and N are set), as TOML.
    pub config_toml: String,
    /// Wall time (s).
    pub wall_s: f64,
}

fn rises(v: &[f64]) -> (f64, f64) {
    let (mut max, mut sum) = (0.0f64, 0.0);
    for w in v.windows(2) {
        let d = (w[1] - w[0]).max(0.0);
        max = max.max(d);
        sum += d;
    }
    (max, sum)
}

fn n_name(n: usize) -> String {
    if n == 0 {
        "limit".into()
    } else {
        format!("N={n}")
    }
}

/// Runs the study in parallel (results in a fixed order, identical for any thread count); every
/// configuration is validated before any work starts. `progress()` is called once per finished
/// run, from worker threads.
pub fn run_lyapunov_study(
    text: &str,
    user: &[String],
    plan: &LyapunovPlan,
    progress: &(dyn Fn() + Sync),
) -> Result<LyapunovStudy> {
    let start = std::time::Instant::now();
    if plan.deltas.is_empty() || plan.eps_rev.is_empty() || plan.limit_steps == 0 {
        return Err(CgklError::config(
            "lyapunov",
            format!("{:?}", plan.deltas),
            "needs at least one δ, one ε_rev and limit_steps ≥ 1",
        ));
    }
    let mut ov = plan.overrides.clone();
    ov.extend(user.iter().cloned());
    let base = Config::from_toml_with_overrides(text, &ov)?;
    let mut jobs = Vec::new();
    for &e in &plan.eps_rev {
        for &d in &plan.deltas {
            for n in plan.series_ns() {
                let mut o = ov.clone();
                o.push(format!("reverse.eps_rev={e}"));
                o.push(format!("projection.delta={d}"));
                o.push(format!("schedule.n_steps={}", n.max(1)));
                o.push("flow.mode=kernel".into());
                let pb = Config::from_toml_with_overrides(text, &o)?.validate()?;
                jobs.push((e, d, n, pb));
            }
        }
    }
    let rows: Vec<Result<LyapunovRow>> = jobs
        .par_iter()
        .map(|(e, d, n, pb)| {
            let v: Vec<f64> = if *n == 0 {
                let lim = LimitSolver::new(pb)?.solve(pb, plan.limit_steps)?;
                lim.v_delta.iter().map(|x| x.1).collect()
            } else {
                pb.run(Projection::Projected)?
                    .output
                    .records
                    .iter()
                    .map(|r| r.v_delta)
                    .collect()
            };
            progress();
            let (violation, positive_variation) = rises(&v);
            Ok(LyapunovRow {
                eps_rev: *e,
                delta: *d,
                n: *n,
                violation,
                positive_variation,
                v_delta_final: v.last().copied().unwrap_or(f64::NAN),
            })
        })
        .collect();
    let rows: Vec<LyapunovRow> = rows.into_iter().collect::<Result<_>>()?;
    let fits = fit_all(plan, &rows, base.forward.horizon);
    Ok(LyapunovStudy {
        plan: plan.clone(),
        rows,
        fits,
        config_toml: base.to_toml(),
        wall_s: start.elapsed().as_secs_f64(),
    })
}

fn fit(what: &str, at: String, pts: &[(f64, &LyapunovRow)]) -> Fit {
    let x: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let v: Vec<f64> = pts.iter().map(|p| p.1.violation).collect();
    let pv: Vec<f64> = pts.iter().map(|p| p.1.positive_variation).collect();
    Fit {
        what: what.into(),
        at,
        slope_violation: observed_order(&x, &v),
        slope_positive_variation: observed_order(&x, &pv),
    }
}

fn fit_all(plan: &LyapunovPlan, rows: &[LyapunovRow], horizon: f64) -> Vec<Fit> {
    let mut fits = Vec::new();
    // against δ, per ε_rev and N
    for &e in &plan.eps_rev {
        for n in plan.series_ns() {
            let pts: Vec<(f64, &LyapunovRow)> = rows
                .iter()
                .filter(|r| r.eps_rev == e && r.n == n && r.delta <= DELTA_FIT_MAX)
                .map(|r| (r.delta, r))
                .collect();
            fits.push(fit("vs δ", format!("ε_rev = {e}, {}", n_name(n)), &pts));
        }
    }
    // against Δt = T/N (kernel runs), per ε_rev and δ
    if plan.ns.len() >= 2 {
        for &e in &plan.eps_rev {
            for &d in &plan.deltas {
                let pts: Vec<(f64, &LyapunovRow)> = rows
                    .iter()
                    .filter(|r| r.eps_rev == e && r.delta == d && r.n > 0)
                    .map(|r| (horizon / r.n as f64, r))
                    .collect();
                fits.push(fit("vs Δt", format!("ε_rev = {e}, δ = {d:e}"), &pts));
            }
        }
    }
    // against ε_rev, per δ and N
    if plan.eps_rev.len() >= 2 {
        for &d in &plan.deltas {
            for n in plan.series_ns() {
                let pts: Vec<(f64, &LyapunovRow)> = rows
                    .iter()
                    .filter(|r| r.delta == d && r.n == n)
                    .map(|r| (r.eps_rev, r))
                    .collect();
                fits.push(fit("vs ε_rev", format!("δ = {d:e}, {}", n_name(n)), &pts));
            }
        }
    }
    fits
}

impl LyapunovStudy {
    /// Every run.
    pub fn runs_table(&self) -> Table {
        let mut t = Table::new([
            "ε_rev",
            "δ",
            "N",
            "violation",
            "positive variation",
            "V_δ(T)",
        ]);
        for r in &self.rows {
            t.push(vec![
                r.eps_rev.to_string(),
                format!("{:.0e}", r.delta),
                n_name(r.n),
                sci(r.violation),
                sci(r.positive_variation),
                sci(r.v_delta_final),
            ]);
        }
        t
    }

    /// The power-law fits whose label starts with `what` (`vs δ`, `vs Δt`, `vs ε_rev`).
    pub fn fits_table(&self, what: &str) -> Table {
        let mut t = Table::new([
            "fit",
            "at",
            "slope of violation",
            "slope of positive variation",
        ]);
        for f in self.fits.iter().filter(|f| f.what == what) {
            t.push(vec![
                format!("ln y against ln x, {}", f.what),
                f.at.clone(),
                format!("{:.2}", f.slope_violation),
                format!("{:.2}", f.slope_positive_variation),
            ]);
        }
        t
    }

    /// Writes `lyapunov.h5` (one entry per run: `eps_rev`, `delta`, `N`, `violation`,
    /// `positive_variation`, `V_delta_final`), atomically.
    pub fn write_h5(&self, path: &Path) -> Result<()> {
        let f = h5util::AtomicH5::create(path, true)?;
        let root = f.root();
        h5util::attr_str(root, "kind", "lyapunov_study")?;
        h5util::attr_str(root, "config", &self.config_toml)?;
        h5util::attr_str(root, "version", env!("CARGO_PKG_VERSION"))?;
        h5util::attr_f64(root, "wall_s", self.wall_s)?;
        h5util::attr_f64(root, "limit_steps", self.plan.limit_steps as f64)?;
        let col = |g: fn(&LyapunovRow) -> f64| self.rows.iter().map(g).collect::<Vec<f64>>();
        put_f64(
            root,
            "eps_rev",
            &col(|r| r.eps_rev),
            "reverse leakage ε_rev",
            "1",
        )?;
        put_f64(root, "delta", &col(|r| r.delta), "tolerance δ", "1")?;
        put_i64(
            root,
            "N",
            &self.rows.iter().map(|r| r.n as i64).collect::<Vec<_>>(),
            "projection steps (0: continuous limit)",
            "1",
        )?;
        put_f64(
            root,
            "violation",
            &col(|r| r.violation),
            "max_n (V_δ(p_{n+1}) − V_δ(p_n))⁺",
            "nats",
        )?;
        put_f64(
            root,
            "positive_variation",
            &col(|r| r.positive_variation),
            "Σ_n (V_δ(p_{n+1}) − V_δ(p_n))⁺",
            "nats",
        )?;
        put_f64(
            root,
            "V_delta_final",
            &col(|r| r.v_delta_final),
            "V_δ(p_N)",
            "nats",
        )?;
        f.commit()?;
        Ok(())
    }

    /// Violation, positive variation and final V_δ against δ (log-log), one line per N and the
    /// continuous limit, at ε_rev = 0.05 if studied (else the first ε_rev); the violation plot
    /// has a δ² guide.
    pub fn figures(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        cgkl::figures::make_dir(dir)?;
        let e_plot = if self.plan.eps_rev.contains(&0.05) {
            0.05
        } else {
            self.plan.eps_rev[0]
        };
        let metrics: [Metric; 3] = [
            (
                "violation_vs_delta",
                "Lyapunov violation max (ΔV_δ)⁺ against δ",
                |r| r.violation,
            ),
            (
                "positive_variation_vs_delta",
                "positive variation Σ (ΔV_δ)⁺ against δ",
                |r| r.positive_variation,
            ),
            ("v_delta_final_vs_delta", "final V_δ against δ", |r| {
                r.v_delta_final
            }),
        ];
        let mut files = Vec::new();
        for (stem, title, get) in metrics {
            let mut series = Vec::new();
            for (k, n) in self.plan.series_ns().into_iter().enumerate() {
                let pts: Vec<&LyapunovRow> = self
                    .rows
                    .iter()
                    .filter(|r| r.eps_rev == e_plot && r.n == n)
                    .collect();
                let mut s = Series::new(
                    if n == 0 {
                        "continuous limit".into()
                    } else {
                        format!("kernel, N = {n}")
                    },
                    pts.iter().map(|r| r.delta).collect(),
                    pts.iter().map(|r| get(r)).collect(),
                    SeriesStyle::LineMarkers,
                );
                s.color = Some(k);
                series.push(s);
            }
            if stem == "violation_vs_delta" {
                // a δ² guide through half the smallest-δ point of the coarsest run
                if let Some(first) = self.rows.iter().find(|r| r.eps_rev == e_plot && r.n > 0) {
                    let c = first.violation / (first.delta * first.delta);
                    let x = self.plan.deltas.clone();
                    let mut g = Series::new(
                        "δ² guide",
                        x.clone(),
                        x.iter().map(|d| 0.5 * c * d * d).collect(),
                        SeriesStyle::Dashed,
                    );
                    g.color = Some(9);
                    series.push(g);
                }
            }
            let plot = LinePlot {
                title: format!("{title} (ε_rev = {e_plot})"),
                x_label: "δ".into(),
                y_label: "nats".into(),
                x_scale: Scale::Log10,
                y_scale: Scale::Log10,
                series,
                ..LinePlot::default()
            };
            let path = dir.join(stem);
            line_plot(&plot, &path)
                .map_err(|e| CgklError::Output(format!("{}: {e}", path.display())))?;
            files.push(path.with_extension("png"));
        }
        Ok(files)
    }
}
