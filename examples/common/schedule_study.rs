//! Schedule study (issue 4, item 4): how the placement of the projection times (SPEC §6:
//! uniform, geometric, EDM/Karras, equal-entropy) changes the final
//! `KL(q0 ‖ p_K)` of the kernel-mode reverse diffusion, K = 5 … 640 steps.
//!
//! For each problem, schedule, K and projection kind it records `KL(q0 ‖ p_K)`, the L1 distance
//! to the K → ∞ reference `p★(T)` (the continuous limit for projected runs, the unprojected flow
//! at rtol 1e-10 for baselines), the excess `KL(q0 ‖ p_K) − KL(q0 ‖ p★)`, and `K·KL/H²` with
//! `H = −Σ q0 ln q0` the entropy of the data (the bound of arXiv 2601.21943 is `KL = O(H²/K)`).
//! The observed rate `r` in `|excess| ∝ K^{−r}` is the least-squares slope over the
//! [`RATE_POINTS`] largest K whose excess is above [`EXCESS_FLOOR`] and whose L1 error is above
//! [`REF_MARGIN`] times the reference's estimated accuracy.

use super::app::table::{sci, Table};
use cgkl::config::Config;
use cgkl::error::{CgklError, Result};
use cgkl::io::h5util;
use cgkl::io::layout::{put_f64, put_i64};
use cgkl::kl::{entropy, kl};
use cgkl::order::observed_order;
use cgkl::plot::{line_plot, LinePlot, Scale, Series, SeriesStyle};
use cgkl::problem::Projection;
use cgkl::schedule::ScheduleKind;
use cgkl::sweep::{baseline_limit, projected_limit};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The schedules compared, in table order.
pub const SCHEDULES: [ScheduleKind; 4] = [
    ScheduleKind::Uniform,
    ScheduleKind::Geometric,
    ScheduleKind::Karras,
    ScheduleKind::EqualEntropy,
];

/// Points of the rate fit: the largest K with an excess above [`EXCESS_FLOOR`].
pub const RATE_POINTS: usize = 4;
/// KL excesses below this are at the accuracy of the reference and are not fitted.
pub const EXCESS_FLOOR: f64 = 1e-9;
/// Runs whose `|p_K − p★|₁` is within this factor of the reference's estimated accuracy are not
/// fitted.
pub const REF_MARGIN: f64 = 10.0;

/// Config-key name of a schedule (`uniform`, `geometric`, `karras`, `equal_entropy`).
pub fn schedule_name(k: ScheduleKind) -> &'static str {
    match k {
        ScheduleKind::Uniform => "uniform",
        ScheduleKind::Geometric => "geometric",
        ScheduleKind::Karras => "karras",
        ScheduleKind::EqualEntropy => "equal_entropy",
    }
}

/// One test problem of the study: a name and the `--set` overrides applied on top of the base
/// config (and of the user's overrides).
#[derive(Debug, Clone, PartialEq)]
pub struct StudyProblem {
    /// Short name, e.g. `paper_toy`.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Overrides, `key=value`.
    pub overrides: Vec<String>,
}

/// What the study runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulePlan {
    /// Step counts K.
    pub ks: Vec<usize>,
    /// Problems.
    pub problems: Vec<StudyProblem>,
    /// Overrides applied before the user's (the study's default grid), so `--set` wins.
    pub defaults: Vec<String>,
}

impl SchedulePlan {
    /// The study of issue 4: K = 5·2^k up to 640 on `paper_toy` (static score) and on a
    /// textured checkerboard with plain heat flow (ε_fwd = ε_rev = 1, oracle score, start
    /// p_0 = q_T) whose score changes in time, both on a 64×64 grid (`--set grid.nx=128 --set
    /// grid.ny=128` for the paper's size: 6× the cost, since a non-uniform schedule needs a
    /// numeric LU every step). `quick`: 32² grids, K ≤ 80.
    pub fn standard(quick: bool) -> Self {
        let ks: Vec<usize> = if quick {
            vec![5, 10, 20, 40, 80]
        } else {
            (0..8).map(|k| 5 << k).collect()
        };
        let n = if quick { 32 } else { 64 };
        let toy = StudyProblem {
            name: "paper_toy".into(),
            description: "SPEC §8 paper_toy: block-constant checkerboard, ε_fwd = 0 (static score), ε_rev = 0.05, noise start".into(),
            overrides: Vec::new(),
        };
        let tex = StudyProblem {
            name: "textured".into(),
            description: "textured checkerboard, plain heat flow ε_fwd = ε_rev = 1 (the score changes in time), oracle score, p_0 = q_T".into(),
            overrides: [
                "data.kind=textured",
                "forward.eps_fwd=1.0",
                "reverse.eps_rev=1.0",
                "start.kind=forward_end",
            ]
            .map(String::from)
            .to_vec(),
        };
        Self {
            ks,
            problems: vec![toy, tex],
            defaults: vec![format!("grid.nx={n}"), format!("grid.ny={n}")],
        }
    }
}

/// The K → ∞ references of one problem.
#[derive(Debug, Clone)]
pub struct ProblemResult {
    /// The problem.
    pub problem: StudyProblem,
    /// Its full configuration (uniform schedule), as TOML.
    pub config_toml: String,
    /// Entropy of the data `H = −Σ q0 ln q0` (nats).
    pub entropy_data: f64,
    /// `KL(q0 ‖ p★)` of the projected reference (continuous limit).
    pub kl_limit_projected: f64,
    /// `KL(q0 ‖ p★)` of the baseline reference (unprojected flow).
    pub kl_limit_baseline: f64,
    /// How the references were computed.
    pub limit_methods: [String; 2],
    /// Estimated L1 accuracy of the references (projected, baseline).
    pub limit_accuracy: [f64; 2],
    /// Schedule fallback warnings met (e.g. equal-entropy on static data).
    pub warnings: Vec<String>,
}

/// One run of the study.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRow {
    /// Index into [`ScheduleStudy::problems`].
    pub problem: usize,
    /// Schedule.
    pub schedule: ScheduleKind,
    /// Steps K.
    pub k: usize,
    /// Projected or baseline.
    pub projection: Projection,
    /// `KL(q0 ‖ p_K)`.
    pub kl: f64,
    /// `KL(q0 ‖ p_K) − KL(q0 ‖ p★)`.
    pub excess: f64,
    /// `Σ |p_K − p★|`.
    pub err_l1: f64,
    /// `E_block(p_K)`.
    pub e_block: f64,
    /// Wall time (s).
    pub wall_s: f64,
}

/// Observed rate of one (problem, schedule, projection) series.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    /// Problem index.
    pub problem: usize,
    /// Schedule.
    pub schedule: ScheduleKind,
    /// Projected or baseline.
    pub projection: Projection,
    /// `r` in `|KL − KL★| ∝ K^{−r}` (NaN if fewer than two points above the floor).
    pub rate_excess: f64,
    /// `r` in `Σ|p_K − p★| ∝ K^{−r}`.
    pub rate_l1: f64,
    /// K values used.
    pub ks: Vec<usize>,
}

/// A finished schedule study.
#[derive(Debug, Clone)]
pub struct ScheduleStudy {
    /// The plan run.
    pub plan: SchedulePlan,
    /// Per problem: references and entropy.
    pub problems: Vec<ProblemResult>,
    /// Every run, ordered problem × schedule × projection × K.
    pub rows: Vec<ScheduleRow>,
    /// Rates per series.
    pub rates: Vec<Rate>,
    /// The base config text and the user's overrides.
    pub base_config: String,
    /// Total wall time (s).
    pub wall_s: f64,
}

fn config_for(
    text: &str,
    user: &[String],
    plan: &SchedulePlan,
    pb: &StudyProblem,
    extra: &[String],
) -> Result<Config> {
    let mut ov = plan.defaults.clone();
    ov.extend(user.iter().cloned());
    ov.extend(pb.overrides.iter().cloned());
    ov.extend(extra.iter().cloned());
    Config::from_toml_with_overrides(text, &ov)
}

/// Runs the study: every run is validated before any work starts, then the runs and the
/// references execute in parallel (rayon; results in a fixed order, identical for any thread
/// count). `progress(steps_done_increment)` is called from worker threads.
pub fn run_schedule_study(
    text: &str,
    user: &[String],
    plan: &SchedulePlan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ScheduleStudy> {
    let start = std::time::Instant::now();
    if plan.ks.is_empty() || plan.problems.is_empty() || plan.ks.contains(&0) {
        return Err(CgklError::config(
            "schedule_study",
            format!("{:?}", plan.ks),
            "needs at least one problem and step counts K ≥ 1",
        ));
    }
    // validate everything first (in parallel: the equal-entropy times need the oracle)
    let mut specs = Vec::new();
    for (ip, pb) in plan.problems.iter().enumerate() {
        for &sched in &SCHEDULES {
            for projection in Projection::ALL {
                for &k in &plan.ks {
                    let extra = vec![
                        "flow.mode=kernel".to_string(),
                        format!("schedule.kind={}", schedule_name(sched)),
                        format!("schedule.n_steps={k}"),
                    ];
                    specs.push((
                        ip,
                        sched,
                        projection,
                        k,
                        config_for(text, user, plan, pb, &extra)?,
                    ));
                }
            }
        }
    }
    let jobs = specs
        .into_par_iter()
        .map(|(ip, sched, projection, k, cfg)| Ok((ip, sched, projection, k, cfg.validate()?)))
        .collect::<Result<Vec<_>>>()?;
    let bases: Vec<Config> = plan
        .problems
        .iter()
        .map(|pb| config_for(text, user, plan, pb, &["flow.mode=kernel".to_string()]))
        .collect::<Result<_>>()?;
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&j| std::cmp::Reverse(jobs[j].3));
    type Refs = (Vec<f64>, Vec<f64>, [String; 2], [f64; 2]);
    let (done, refs): (Vec<(usize, Result<_>)>, Vec<Result<Refs>>) = rayon::join(
        || {
            order
                .par_iter()
                .map(|&j| {
                    let (_, _, projection, _, pb) = &jobs[j];
                    let r = pb.run_with_progress(*projection, &mut |_, _| progress(1));
                    (j, r)
                })
                .collect()
        },
        || {
            bases
                .par_iter()
                .map(|c| {
                    let (proj, base) = rayon::join(|| projected_limit(c), || baseline_limit(c));
                    let (proj, base) = (proj?, base?);
                    Ok((
                        proj.p,
                        base.p,
                        [proj.method, base.method],
                        [proj.atol, base.atol],
                    ))
                })
                .collect()
        },
    );
    let mut done = done;
    done.sort_by_key(|(j, _)| *j);
    let mut problems = Vec::new();
    let mut refs_p = Vec::new();
    for ((pb, c), r) in plan.problems.iter().zip(&bases).zip(refs) {
        let (pp, pbase, methods, accuracy) = r?;
        let q0 = c.validate()?.q0;
        problems.push(ProblemResult {
            problem: pb.clone(),
            config_toml: c.to_toml(),
            entropy_data: entropy(&q0),
            kl_limit_projected: kl(&q0, &pp),
            kl_limit_baseline: kl(&q0, &pbase),
            limit_methods: methods,
            limit_accuracy: accuracy,
            warnings: Vec::new(),
        });
        refs_p.push((pp, pbase));
    }
    let refs = refs_p;
    let mut rows = Vec::with_capacity(jobs.len());
    for ((ip, sched, projection, k, pb), (_, r)) in jobs.into_iter().zip(done) {
        let r = r?;
        if let Some(w) = &pb.warning {
            let ws = &mut problems[ip].warnings;
            let w = format!("{}: {w}", schedule_name(sched));
            if !ws.contains(&w) {
                ws.push(w);
            }
        }
        let p = &r.output.final_p;
        let reference = if projection.is_projected() {
            &refs[ip].0
        } else {
            &refs[ip].1
        };
        let klv = kl(&pb.q0, p);
        let kl_ref = if projection.is_projected() {
            problems[ip].kl_limit_projected
        } else {
            problems[ip].kl_limit_baseline
        };
        rows.push(ScheduleRow {
            problem: ip,
            schedule: sched,
            k,
            projection,
            kl: klv,
            excess: klv - kl_ref,
            err_l1: p.iter().zip(reference).map(|(a, b)| (a - b).abs()).sum(),
            e_block: r.output.records.last().map_or(f64::NAN, |x| x.e_block),
            wall_s: r.wall_s,
        });
    }
    let rates = fit_rates(&rows, &problems);
    Ok(ScheduleStudy {
        plan: plan.clone(),
        problems,
        rows,
        rates,
        base_config: text.to_string(),
        wall_s: start.elapsed().as_secs_f64(),
    })
}

/// Rates over the largest K whose excess is above [`EXCESS_FLOOR`] and whose L1 error is above
/// [`REF_MARGIN`] times the reference's estimated accuracy (closer points measure the reference).
fn fit_rates(rows: &[ScheduleRow], problems: &[ProblemResult]) -> Vec<Rate> {
    let mut out = Vec::new();
    for (problem, pr) in problems.iter().enumerate() {
        for &schedule in &SCHEDULES {
            for projection in Projection::ALL {
                let mut pts: Vec<&ScheduleRow> = rows
                    .iter()
                    .filter(|r| {
                        r.problem == problem && r.schedule == schedule && r.projection == projection
                    })
                    .filter(|r| r.excess.abs() > EXCESS_FLOOR)
                    .filter(|r| {
                        let acc = pr.limit_accuracy[usize::from(!projection.is_projected())];
                        acc.is_nan() || r.err_l1 > REF_MARGIN * acc
                    })
                    .collect();
                pts.sort_by_key(|r| std::cmp::Reverse(r.k));
                pts.truncate(RATE_POINTS);
                let inv_k: Vec<f64> = pts.iter().map(|r| 1.0 / r.k as f64).collect();
                let ex: Vec<f64> = pts.iter().map(|r| r.excess.abs()).collect();
                let l1: Vec<f64> = pts.iter().map(|r| r.err_l1).collect();
                out.push(Rate {
                    problem,
                    schedule,
                    projection,
                    rate_excess: observed_order(&inv_k, &ex),
                    rate_l1: observed_order(&inv_k, &l1),
                    ks: pts.iter().rev().map(|r| r.k).collect(),
                });
            }
        }
    }
    out
}

impl ScheduleStudy {
    /// Every run: problem, schedule, projection, K, KL, excess, K·KL/H², L1 error, E_block.
    pub fn runs_table(&self) -> Table {
        let mut t = Table::new([
            "problem",
            "schedule",
            "projection",
            "K",
            "KL(q0‖p_K)",
            "KL − KL★",
            "K·KL/H²",
            "|p_K − p★|₁",
            "E_block",
        ]);
        for r in &self.rows {
            let h = self.problems[r.problem].entropy_data;
            t.push(vec![
                self.problems[r.problem].problem.name.clone(),
                schedule_name(r.schedule).into(),
                r.projection.name().into(),
                r.k.to_string(),
                sci(r.kl),
                sci(r.excess),
                sci(r.k as f64 * r.kl / (h * h)),
                sci(r.err_l1),
                sci(r.e_block),
            ]);
        }
        t
    }

    /// Observed rates per series.
    pub fn rates_table(&self) -> Table {
        let mut t = Table::new([
            "problem",
            "schedule",
            "projection",
            "rate of |KL − KL★|",
            "rate of |p_K − p★|₁",
            "K used",
        ]);
        for r in &self.rates {
            t.push(vec![
                self.problems[r.problem].problem.name.clone(),
                schedule_name(r.schedule).into(),
                r.projection.name().into(),
                format!("{:.2}", r.rate_excess),
                format!("{:.2}", r.rate_l1),
                r.ks.iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ]);
        }
        t
    }

    /// At each K in `ks`: per problem and projection, KL(q0 ‖ p_K) of every schedule and the
    /// winner with the runner-up's ratio to it.
    pub fn comparison_table(&self, ks: &[usize]) -> Table {
        self.compare(ks, "KL", |r| r.kl)
    }

    /// As [`Self::comparison_table`] for the accuracy `|p_K − p★|₁` (which schedule solves the
    /// K → ∞ dynamics best; differs from the KL ranking where the discretisation error happens
    /// to move p_K towards q0).
    pub fn accuracy_table(&self, ks: &[usize]) -> Table {
        self.compare(ks, "|p_K − p★|₁", |r| r.err_l1)
    }

    fn compare(&self, ks: &[usize], what: &str, get: fn(&ScheduleRow) -> f64) -> Table {
        let mut header = vec!["problem".to_string(), "projection".into(), "K".into()];
        header.extend(
            SCHEDULES
                .iter()
                .map(|s| format!("{what} {}", schedule_name(*s))),
        );
        header.push("best (next best / best)".into());
        let mut t = Table::new(header);
        for (ip, p) in self.problems.iter().enumerate() {
            for projection in Projection::ALL {
                for &k in ks {
                    let vals: Vec<Option<f64>> = SCHEDULES
                        .iter()
                        .map(|&s| {
                            self.rows
                                .iter()
                                .find(|r| {
                                    r.problem == ip
                                        && r.schedule == s
                                        && r.projection == projection
                                        && r.k == k
                                })
                                .map(get)
                        })
                        .collect();
                    if vals.iter().all(Option::is_none) {
                        continue;
                    }
                    let mut row = vec![p.problem.name.clone(), projection.name().into()];
                    row.push(k.to_string());
                    row.extend(vals.iter().map(|v| v.map_or("—".into(), sci)));
                    row.push(winner(&vals));
                    t.push(row);
                }
            }
        }
        t
    }

    /// Problems with their entropies and references.
    pub fn problems_table(&self) -> Table {
        let mut t = Table::new([
            "problem",
            "H(q0) (nats)",
            "KL(q0‖p★) projected",
            "KL(q0‖p★) baseline",
            "description",
        ]);
        for p in &self.problems {
            t.push(vec![
                p.problem.name.clone(),
                format!("{:.4}", p.entropy_data),
                sci(p.kl_limit_projected),
                sci(p.kl_limit_baseline),
                p.problem.description.clone(),
            ]);
        }
        t
    }

    /// Writes `schedule_study.h5`: one row per run (`problem`, `schedule`, `projected`, `K`,
    /// `kl`, `kl_excess`, `K_kl_over_H2`, `err_l1`, `E_block`, `wall_s`) and per problem a group
    /// `problems/<name>` with its config, entropy and references; atomically.
    pub fn write_h5(&self, path: &Path) -> Result<()> {
        let f = h5util::AtomicH5::create(path, true)?;
        let root = f.root();
        h5util::attr_str(root, "kind", "schedule_study")?;
        h5util::attr_str(root, "version", env!("CARGO_PKG_VERSION"))?;
        h5util::attr_str(root, "config", &self.base_config)?;
        h5util::attr_f64(root, "wall_s", self.wall_s)?;
        let names: Vec<String> = self
            .rows
            .iter()
            .map(|r| self.problems[r.problem].problem.name.clone())
            .collect();
        h5util::attr_str_array(root, "problem", &names)?;
        let sched: Vec<String> = self
            .rows
            .iter()
            .map(|r| schedule_name(r.schedule).to_string())
            .collect();
        h5util::attr_str_array(root, "schedule", &sched)?;
        let col = |g: fn(&ScheduleRow) -> f64| self.rows.iter().map(g).collect::<Vec<f64>>();
        put_i64(
            root,
            "K",
            &self.rows.iter().map(|r| r.k as i64).collect::<Vec<_>>(),
            "projection steps K",
            "1",
        )?;
        put_i64(
            root,
            "projected",
            &self
                .rows
                .iter()
                .map(|r| r.projection.is_projected() as i64)
                .collect::<Vec<_>>(),
            "1: projected, 0: baseline",
            "1",
        )?;
        put_f64(root, "kl", &col(|r| r.kl), "KL(q0 ‖ p_K)", "nats")?;
        put_f64(
            root,
            "kl_excess",
            &col(|r| r.excess),
            "KL(q0 ‖ p_K) − KL(q0 ‖ p★(T))",
            "nats",
        )?;
        let kh: Vec<f64> = self
            .rows
            .iter()
            .map(|r| {
                let h = self.problems[r.problem].entropy_data;
                r.k as f64 * r.kl / (h * h)
            })
            .collect();
        put_f64(root, "K_kl_over_H2", &kh, "K·KL(q0 ‖ p_K)/H(q0)²", "1/nats")?;
        put_f64(root, "err_l1", &col(|r| r.err_l1), "Σ|p_K − p★(T)|", "1")?;
        put_f64(root, "E_block", &col(|r| r.e_block), "E_block(p_K)", "1")?;
        put_f64(root, "wall_s", &col(|r| r.wall_s), "wall time per run", "s")?;
        for p in &self.problems {
            let g = h5util::group(root, &format!("problems/{}", p.problem.name))?;
            h5util::attr_str(&g, "config", &p.config_toml)?;
            h5util::attr_str(&g, "description", &p.problem.description)?;
            h5util::attr_str(&g, "overrides", &p.problem.overrides.join("\n"))?;
            h5util::attr_f64(&g, "entropy_data", p.entropy_data)?;
            h5util::attr_f64(&g, "kl_limit_projected", p.kl_limit_projected)?;
            h5util::attr_f64(&g, "kl_limit_baseline", p.kl_limit_baseline)?;
            h5util::attr_str(&g, "limit_method_projected", &p.limit_methods[0])?;
            h5util::attr_str(&g, "limit_method_baseline", &p.limit_methods[1])?;
        }
        f.commit()?;
        Ok(())
    }

    /// Log-log plots of KL(q0 ‖ p_K) against K, one line per schedule, per problem and
    /// projection (`kl_vs_K_<problem>_<projected|baseline>`), with the K → ∞ value as a
    /// horizontal line where it is positive.
    pub fn figures(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        cgkl::figures::make_dir(dir)?;
        let mut files = Vec::new();
        for (ip, p) in self.problems.iter().enumerate() {
            for projection in Projection::ALL {
                let mut series = Vec::new();
                for (c, &s) in SCHEDULES.iter().enumerate() {
                    let pts: Vec<&ScheduleRow> = self
                        .rows
                        .iter()
                        .filter(|r| {
                            r.problem == ip && r.schedule == s && r.projection == projection
                        })
                        .filter(|r| r.kl > 0.0)
                        .collect();
                    let mut ser = Series::new(
                        schedule_name(s),
                        pts.iter().map(|r| r.k as f64).collect(),
                        pts.iter().map(|r| r.kl).collect(),
                        SeriesStyle::LineMarkers,
                    );
                    ser.color = Some(c);
                    series.push(ser);
                }
                // K⁻¹ (the rate of the O(H²/K) bound) and K⁻² guides, a factor 2 below the
                // smallest KL at the largest K
                let kmax = *self.plan.ks.iter().max().unwrap_or(&1) as f64;
                let kmin = *self.plan.ks.iter().min().unwrap_or(&1) as f64;
                let floor = self
                    .rows
                    .iter()
                    .filter(|r| r.problem == ip && r.projection == projection)
                    .filter(|r| r.k as f64 == kmax && r.kl > 0.0)
                    .map(|r| r.kl)
                    .fold(f64::INFINITY, f64::min);
                if floor.is_finite() && kmax > kmin {
                    for (c, (name, pw)) in
                        [("K⁻¹ guide", 1), ("K⁻² guide", 2)].into_iter().enumerate()
                    {
                        let y = |k: f64| 0.5 * floor * (kmax / k).powi(pw);
                        let mut g = Series::new(
                            name,
                            vec![kmin, kmax],
                            vec![y(kmin), y(kmax)],
                            SeriesStyle::Dashed,
                        );
                        g.color = Some(7 + c);
                        series.push(g);
                    }
                }
                let kl_ref = if projection.is_projected() {
                    p.kl_limit_projected
                } else {
                    p.kl_limit_baseline
                };
                let mut hlines = Vec::new();
                if kl_ref > 1e-12 {
                    hlines.push(cgkl::plot::HLine {
                        y: kl_ref,
                        label: format!("K → ∞: {}", sci(kl_ref)),
                    });
                }
                let plot = LinePlot {
                    title: format!(
                        "KL(q0 ‖ p_K) against K, {} ({}), kernel mode",
                        p.problem.name,
                        projection.name()
                    ),
                    x_label: "K (projection steps)".into(),
                    y_label: "KL(q0 ‖ p_K) (nats)".into(),
                    x_scale: Scale::Log10,
                    y_scale: Scale::Log10,
                    series,
                    hlines,
                    ..LinePlot::default()
                };
                let stem = dir.join(format!("kl_vs_K_{}_{}", p.problem.name, projection.name()));
                line_plot(&plot, &stem)
                    .map_err(|e| CgklError::Output(format!("{}: {e}", stem.display())))?;
                files.push(stem.with_extension("png"));
            }
        }
        Ok(files)
    }
}

/// "`<schedule>` (×ratio)": the schedule with the smallest value (several joined by `=` when they
/// tie exactly, e.g. equal-entropy falling back to uniform) and the ratio of the next best
/// distinct value to it.
fn winner(vals: &[Option<f64>]) -> String {
    let mut v: Vec<(usize, f64)> = vals
        .iter()
        .enumerate()
        .filter_map(|(k, x)| x.filter(|x| x.is_finite()).map(|x| (k, x)))
        .collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1));
    let Some(&(_, best)) = v.first() else {
        return "—".into();
    };
    let names: Vec<&str> = v
        .iter()
        .filter(|(_, x)| *x == best)
        .map(|(k, _)| schedule_name(SCHEDULES[*k]))
        .collect();
    match v.iter().find(|(_, x)| *x > best) {
        Some((_, next)) => format!("{} ({:.2}×)", names.join(" = "), next / best),
        None => names.join(" = "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winner_names_ties_and_the_next_distinct_ratio() {
        assert_eq!(
            winner(&[Some(1.0), Some(3.0), Some(2.0), Some(1.0)]),
            "uniform = equal_entropy (2.00×)"
        );
        assert_eq!(winner(&[None, Some(2.0), None, None]), "geometric");
        assert_eq!(winner(&[None, None, None, None]), "—");
    }
}
