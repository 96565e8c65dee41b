//! A validated problem: a [`Config`] checked against every meaning (SPEC §1–§6) and turned into
//! grid, partition, data, reference, start and projection times, plus the builders of the
//! generator, integrator, post-step operators and diagnostics of a run.

use crate::bounds::{self, MAX_SCALE, MAX_STEP_STIFFNESS, MIN_ETA, MIN_MOTION};
use crate::config::{
    Config, DataConfig, FlowMode, NoiseBase, PartitionConfig, ScoreConfig, StartConfig,
};
use crate::data;
use crate::diagnostics::Diagnostics;
use crate::error::{CgklError, Result};
use crate::expr::Formula;
use crate::flux::Flux;
use crate::generator::Generator;
use crate::grid::Grid;
use crate::integrator::{Integrator, IntegratorKind, StepStats};
use crate::io::input::InputFile;
use crate::io::score_field::ScoreField;
use crate::kl::{Reference, ToleranceBox};
use crate::linsolve::LinearSolver;
use crate::observe::{Collect, Observer, OnStep};
use crate::oracle::ForwardOracle;
use crate::partition::Partition;
use crate::post_step::{PostStep, VdeltaProjection};
use crate::schedule::{projection_times, ScheduleSpec};
use crate::score::{Drive, FieldDrive, FormulaDrive, PotentialDrive, ReverseDrive};
use crate::splitting::{run_splitting, SplitOutput, SplitPlan};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// Whether a run applies the V_δ projection after every flow step (SPEC §6:
/// `p_{n+1} = Π_δ(p̃)`) or is the unprojected baseline (`p_{n+1} = p̃`, its δ-diagnostics at the
/// projected run's δ, stored as `diag_delta`). Spelled `projected` / `baseline` in TOML, on the
/// command line, in run names and in HDF5 attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Projection {
    /// Π_δ after every step.
    Projected,
    /// No post-step operator.
    Baseline,
}

impl Projection {
    /// Both, in the order sweeps run them.
    pub const ALL: [Projection; 2] = [Projection::Projected, Projection::Baseline];

    /// `projected` or `baseline`: the serde spelling (a unit test holds them equal).
    pub fn name(self) -> &'static str {
        match self {
            Projection::Projected => "projected",
            Projection::Baseline => "baseline",
        }
    }

    /// True for [`Projection::Projected`].
    pub fn is_projected(self) -> bool {
        self == Projection::Projected
    }

    /// The run attribute holding δ (SPEC §9): `delta` for a projected run, `diag_delta` for a
    /// baseline.
    pub fn delta_attr(self) -> &'static str {
        match self {
            Projection::Projected => "delta",
            Projection::Baseline => "diag_delta",
        }
    }
}

impl std::fmt::Display for Projection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Projection {
    type Err = String;
    /// Parses `projected` or `baseline`; the error lists the choices and the nearest one.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        crate::config::parse_variant(s, &Self::ALL.map(|p| p.name()))
    }
}

/// A configuration checked and expanded into the objects a run needs.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The configuration it came from.
    pub config: Config,
    /// Pixel grid.
    pub grid: Grid,
    /// Blocks.
    pub partition: Arc<Partition>,
    /// Data q0.
    pub q0: Vec<f64>,
    /// Reference r = q0, w_ref, π.
    pub reference: Arc<Reference>,
    /// Start p_0.
    pub p0: Vec<f64>,
    /// Projection times s_0..s_N.
    pub times: Vec<f64>,
    /// A schedule fallback warning, if any.
    pub warning: Option<String>,
    /// The external score field (`score.kind = "external"`), loaded and validated once.
    pub score_field: Option<Arc<ScoreField>>,
    /// The input files the config names, with their content hashes (stored with every run as
    /// the attribute `inputs`; `--resume` and `merge` refuse runs made from other contents).
    pub inputs: Vec<InputFile>,
}

/// One finished run, in memory, in the form the HDF5 sink stores.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Run name, e.g. `kernel_projected_N40`.
    pub name: String,
    /// Flow mode.
    pub mode: FlowMode,
    /// Projected or baseline.
    pub projection: Projection,
    /// δ of the projection (projected) or of the δ-diagnostics (baseline: `diag_delta`).
    pub delta: f64,
    /// Projection times.
    pub times: Vec<f64>,
    /// Driver output: records, snapshots, final state, integrator work.
    pub output: SplitOutput,
    /// Lyapunov violation `max (V_δ(p_{n+1}) − V_δ(p_n))⁺`.
    pub lyapunov_violation: f64,
    /// Wall time of the run in seconds.
    pub wall_s: f64,
    /// The configuration as TOML.
    pub config_toml: String,
    /// The run attribute `inputs`: one [`InputFile::line`] per input file (empty: none).
    pub inputs: String,
    /// The run attribute `linear_solver`: the solver the implicit steps took (`direct`,
    /// `multigrid`; `none` for a flow without systems; `auto` resolved), empty when read from
    /// a file written before it was recorded.
    pub linear_solver: String,
}

/// Unit tests' problem of `overrides` (TOML `key=value` on the default config) with its
/// generator refreshed at `s`.
#[cfg(test)]
pub(crate) fn refreshed_for_tests(overrides: &[String], s: f64) -> (Problem, Generator) {
    let pb = Config::from_toml_with_overrides("", overrides)
        .unwrap()
        .validate()
        .unwrap();
    let mut g = pb.generator().unwrap();
    g.refresh(s).unwrap();
    (pb, g)
}

fn unit_interval(key: &str, v: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&v) {
        return Err(CgklError::config(key, v, "must lie in [0, 1]"));
    }
    Ok(())
}

impl Config {
    /// Checks every value and builds the [`Problem`]; nothing is written before this succeeds.
    /// Beyond the values themselves, the run they ask for must be one the numerics can take:
    /// implicit steps within `bounds::MAX_STEP_STIFFNESS` (Δt·4c/h² ≤ 10⁶), a resolved run within
    /// `bounds::MAX_INNER_STEPS` (10⁷) inner steps and an integrator that takes its generator.
    pub fn validate(&self) -> Result<Problem> {
        let problem = self.build()?;
        problem.check_run()?;
        Ok(problem)
    }

    /// [`Self::validate`] without the checks of the run in the configured flow mode (step
    /// stiffness, inner step count, the integrator's needs): the problem of the continuous-limit
    /// references of a Δt sweep, which take neither the schedule's steps nor its integrator.
    pub(crate) fn build(&self) -> Result<Problem> {
        // sizes beyond these would exhaust memory (the exact oracle keeps dense side × side
        // matrices; every step keeps a diagnostics record) instead of failing cleanly; up to
        // 4096 × 4096 = 2²⁴ cells, whose memory is estimated before the run (memory_estimate)
        const MAX_SIDE: usize = 4096;
        const MAX_STEPS: usize = 1_000_000;
        const MAX_SNAPSHOTS: usize = 100_000;
        for (key, v) in [("grid.nx", self.grid.nx), ("grid.ny", self.grid.ny)] {
            if v == 0 || v > MAX_SIDE {
                return Err(CgklError::config(
                    key,
                    v,
                    format!("must lie in 1..={MAX_SIDE} cells"),
                ));
            }
        }
        if let Some((bx, by)) = self.partition.tiles() {
            for (key, v) in [("partition.bx", bx), ("partition.by", by)] {
                if v == 0 {
                    return Err(CgklError::config(key, v, "must be ≥ 1 (1 = a single tile)"));
                }
            }
        }
        let n_steps = self.schedule.n_steps;
        if n_steps == 0 || n_steps > MAX_STEPS {
            return Err(CgklError::config(
                "schedule.n_steps",
                n_steps,
                format!("N must lie in 1..={MAX_STEPS}"),
            ));
        }
        let sigma_min = self.schedule.sigma_min;
        if !(sigma_min.is_finite() && sigma_min > 0.0) {
            return Err(CgklError::config(
                "schedule.sigma_min",
                sigma_min,
                "σ_min must be finite and > 0 (default 0.002)",
            ));
        }
        let rho = self.schedule.rho;
        if !(rho.is_finite() && rho > 0.0) {
            return Err(CgklError::config(
                "schedule.rho",
                rho,
                "ρ must be finite and > 0 (Karras: 7)",
            ));
        }
        let k = self.output.snapshots;
        if !(2..=MAX_SNAPSHOTS).contains(&k) {
            return Err(CgklError::config(
                "output.snapshots",
                k,
                format!("must lie in 2..={MAX_SNAPSHOTS} (s_0 and s_N are always stored)"),
            ));
        }
        let grid = Grid::new(self.grid.nx, self.grid.ny)?;
        let part = build_partition(&self.partition, grid)?;
        unit_interval("forward.eps_fwd", self.forward.eps_fwd)?;
        unit_interval("reverse.eps_rev", self.reverse.eps_rev)?;
        let t = self.forward.horizon;
        if !(t.is_finite() && t > 0.0) {
            return Err(CgklError::config(
                "forward.horizon",
                t,
                "T must be finite and > 0",
            ));
        }
        self.forward.beta.validate()?;
        if let Flux::Sg { eta } = self.reverse.flux {
            if !(eta > 0.0 && eta <= 1.0) {
                return Err(CgklError::config(
                    "reverse.flux.eta",
                    eta,
                    "SG needs η ∈ (0, 1]; for η = 0 use reverse.flux.kind = \"upwind\"",
                ));
            }
            if eta < MIN_ETA {
                return Err(CgklError::config(
                    "reverse.flux.eta",
                    format!("{eta:?}"),
                    format!(
                        "SG needs η ≥ {MIN_ETA:e}: its exponent (1+η)/η overflows the rates' \
                         arithmetic below, where SG equals upwind to within η·|Δ ln q̂|; use \
                         reverse.flux.kind = \"upwind\""
                    ),
                ));
            }
        }
        let potential = matches!(self.score, ScoreConfig::Potential { .. });
        if potential && self.reverse.flux != Flux::PotentialSg {
            return Err(CgklError::config(
                "reverse.flux.kind",
                self.reverse.flux.name(),
                "score.kind = \"potential\" discretises ∇·(D(∇ρ + ρ∇U)) and needs reverse.flux.kind = \"potential_sg\"",
            ));
        }
        let mut score_field = None;
        match &self.score {
            ScoreConfig::Oracle => {}
            ScoreConfig::Perturbed {
                sigma, corr_len, ..
            } => {
                if !(sigma.is_finite() && *sigma >= 0.0) {
                    return Err(CgklError::config(
                        "score.sigma",
                        sigma,
                        "must be finite and ≥ 0",
                    ));
                }
                // data::smooth_field allocates a kernel of 8ℓ + 1 taps (ℓ = 1e9: 64 GB, abort)
                // and computes 0/0 at the centre tap once 2ℓ² underflows (ℓ = 1e-200: NaN field)
                const MIN_CORR_LEN: f64 = 1e-3;
                let max_corr_len = self.grid.nx.max(self.grid.ny) as f64;
                if !(corr_len.is_finite() && *corr_len > 0.0) {
                    return Err(CgklError::config(
                        "score.corr_len",
                        corr_len,
                        "must be finite and > 0 (cells)",
                    ));
                }
                if !(MIN_CORR_LEN..=max_corr_len).contains(corr_len) {
                    return Err(CgklError::config(
                        "score.corr_len",
                        corr_len,
                        format!(
                            "must lie in [{MIN_CORR_LEN}, {max_corr_len}] cells \
                             (at most the grid side max(nx, ny))"
                        ),
                    ));
                }
            }
            ScoreConfig::Misspecified { eps_score } => {
                unit_interval("score.eps_score", *eps_score)?
            }
            ScoreConfig::External { file } => {
                score_field = Some(Arc::new(ScoreField::load(
                    std::path::Path::new(file),
                    grid.nx,
                    grid.ny,
                )?));
            }
            ScoreConfig::Formula { log_q } => {
                let f = Formula::parse("score.log_q", log_q)?;
                // fail now, not mid-run, where the formula is undefined at the ends or too steep
                let mut buf = vec![0.0; grid.n()];
                for tt in [0.0, t] {
                    f.eval_cells(grid, tt, &mut buf)?;
                    check_log_steps("score.log_q", &f, grid, &buf, "ln q̂", tt)?;
                }
            }
            ScoreConfig::Potential {
                potential,
                diffusion,
            } => {
                let f = Formula::parse("score.potential", potential)?;
                let mut buf = vec![0.0; grid.n()];
                for tt in [0.0, t] {
                    f.eval_cells(grid, tt, &mut buf)?;
                    check_log_steps("score.potential", &f, grid, &buf, "U", tt)?;
                }
                if !(diffusion.is_finite() && *diffusion > 0.0) {
                    return Err(CgklError::config(
                        "score.diffusion",
                        diffusion,
                        "D must be finite and > 0",
                    ));
                }
                if *diffusion > MAX_SCALE {
                    return Err(CgklError::config(
                        "score.diffusion",
                        format!("{diffusion:?}"),
                        format!(
                            "D must be ≤ {MAX_SCALE:e}: the rates D/h²·B(ΔU) must stay finite; \
                             the flow depends on D·T only, so scale D down and forward.horizon up \
                             (B-relax: D = 0.02, T = 0.5)"
                        ),
                    ));
                }
            }
        }
        // T·Λ_diff: below MIN_MOTION nothing moves beyond round-off (and a denormal T makes
        // the projection times coincide)
        let (scale, scale_name) = self.rate_scale();
        let lam_diff = bounds::diffusive_rate(grid.nx, grid.ny, scale);
        let motion = t * lam_diff;
        if motion.is_nan() || motion < MIN_MOTION {
            return Err(CgklError::config(
                "forward.horizon",
                format!("{t:?}"),
                format!(
                    "T·Λ_diff = T·4c/h² = {:.3e} (c = {scale_name} = {scale:?}, 1/h = {}) is below \
                     {MIN_MOTION:e}: the reverse flow would move no mass beyond round-off and the \
                     projection times would not be distinct; use T ≥ {:.2e} (paper_toy: 0.02)",
                    t * lam_diff,
                    grid.nx.max(grid.ny),
                    MIN_MOTION / lam_diff
                ),
            ));
        }
        let delta = self.projection.delta;
        if delta.is_nan() || delta < 0.0 {
            return Err(CgklError::config(
                "projection.delta",
                delta,
                "δ must be ≥ 0 (inf disables the projection)",
            ));
        }
        self.flow.integrator.validate()?;
        // multigrid needs a reversible flux (config error before any work)
        self.flow
            .linear_solver
            .resolve(self.grid.nx * self.grid.ny, self.reverse.flux, true)?;
        let tiles = || {
            self.partition.tiles().ok_or_else(|| {
                CgklError::config(
                    "data.kind",
                    "checkerboard/textured",
                    "the checkerboard is drawn on tiles and needs partition.kind = \"tiles\"; \
                     with a label image use data.kind = \"image\" or \"formula\"",
                )
            })
        };
        let q0 = match &self.data {
            DataConfig::Checkerboard { contrast } => {
                let (bx, by) = tiles()?;
                data::checkerboard(grid, bx, by, *contrast)?
            }
            DataConfig::Textured {
                contrast,
                amplitude,
                periods,
            } => {
                let (bx, by) = tiles()?;
                data::textured_checkerboard(grid, bx, by, *contrast, *amplitude, *periods)?
            }
            DataConfig::Brelax => data::brelax_target(grid),
            DataConfig::Image { file, floor } => data::image_data(grid, file, *floor)?,
            DataConfig::Formula { log_q } => data::formula_data(grid, log_q)?,
        };
        self.check_data_blocks(&part, &q0)?;
        let reference = Reference::new(&part, q0.clone())?;
        self.check_score_field(grid, &q0)?;
        let mut oracle = self.forward_oracle_for(&part, &q0, self.forward.eps_fwd)?;
        let p0 = match &self.start {
            StartConfig::Noise { base, sigma, seed } => {
                let b = match base {
                    NoiseBase::Uniform => vec![1.0 / grid.n() as f64; grid.n()],
                    NoiseBase::Data => q0.clone(),
                };
                data::lognormal_noise(&b, *sigma, *seed).map_err(|e| match e {
                    CgklError::Data(msg) => CgklError::config(
                        "start.sigma",
                        sigma,
                        format!("the noise image is unusable ({msg}); use a smaller σ"),
                    ),
                    other => other,
                })?
            }
            StartConfig::ForwardEnd => {
                let mut q = vec![0.0; grid.n()];
                oracle.q_at(t, &mut q);
                q
            }
            StartConfig::Data => q0.clone(),
            StartConfig::Uniform => vec![1.0 / grid.n() as f64; grid.n()],
        };
        let spec = ScheduleSpec {
            kind: self.schedule.kind,
            n_steps: self.schedule.n_steps,
            sigma_min: self.schedule.sigma_min,
            rho: self.schedule.rho,
        };
        let (times, warning) = projection_times(&spec, t, &self.forward.beta, &mut oracle)?;
        let problem = Problem {
            config: self.clone(),
            grid,
            partition: Arc::new(part),
            q0,
            reference: Arc::new(reference),
            p0,
            times,
            warning,
            score_field,
            inputs: self.input_files()?,
        };
        Ok(problem)
    }

    /// The files this config reads (`data.file`, `partition.file`, `score.file`), hashed.
    pub fn input_files(&self) -> Result<Vec<InputFile>> {
        let mut v = Vec::new();
        if let DataConfig::Image { file, .. } = &self.data {
            v.push(InputFile::hash("data.file", file)?);
        }
        if let PartitionConfig::Labels { file, .. } = &self.partition {
            v.push(InputFile::hash("partition.file", file)?);
        }
        if let ScoreConfig::External { file } = &self.score {
            v.push(InputFile::hash("score.file", file)?);
        }
        Ok(v)
    }

    /// The scale c of the reverse rates and its name: max β(t) over [0, T], or D for a
    /// potential problem.
    fn rate_scale(&self) -> (f64, &'static str) {
        match (&self.score, self.forward.beta) {
            (ScoreConfig::Potential { diffusion, .. }, _) => (*diffusion, "D"),
            (_, crate::beta::BetaSchedule::Constant { value }) => (value, "β"),
            (_, crate::beta::BetaSchedule::Linear { min, max }) => (min.max(max), "max β"),
        }
    }

    /// Every block of the data must keep mass (the reference box needs w_ref_j > 0): refused
    /// naming the data key that sets it.
    fn check_data_blocks(&self, part: &Partition, q0: &[f64]) -> Result<()> {
        let w = part.block_masses(q0);
        let Some(j) = w.iter().position(|&w| w.is_nan() || w <= 0.0) else {
            return Ok(());
        };
        let (key, value, fix) = match &self.data {
            DataConfig::Image { floor, .. } => (
                "data.floor",
                format!("{floor:?}"),
                "raise data.floor (default 1e-3) so that black regions keep a small mass",
            ),
            DataConfig::Checkerboard { contrast } | DataConfig::Textured { contrast, .. } => (
                "data.contrast",
                format!("{contrast:?}"),
                "use a bright:dark ratio closer to 1 (paper_toy: 4)",
            ),
            DataConfig::Formula { log_q } => (
                "data.log_q",
                format!("\"{}\"", crate::error::one_line(log_q)),
                "flatten the formula so that every block keeps a positive mass",
            ),
            DataConfig::Brelax => ("data.kind", "\"brelax\"".to_string(), "report this bug"),
        };
        Err(CgklError::config(
            key,
            value,
            format!(
                "block {j} of the data has no mass (w_ref_{j} = {}); {fix}",
                w[j]
            ),
        ))
    }

    /// The score's field at t = 0 (ln q0, plus σξ for a perturbed score) must keep neighbouring
    /// cells within [`bounds::MAX_LOG_STEP`]: refused naming the key that sets it. (Formula and
    /// potential scores are checked where they are evaluated, external fields when loaded.)
    fn check_score_field(&self, grid: Grid, q0: &[f64]) -> Result<()> {
        let (perturbation, score_key) = match &self.score {
            ScoreConfig::Oracle | ScoreConfig::Misspecified { .. } => (None, None),
            ScoreConfig::Perturbed {
                sigma,
                corr_len,
                seed,
            } => (Some((*sigma, *corr_len, *seed)), Some("score.sigma")),
            _ => return Ok(()),
        };
        let mut phi: Vec<f64> = q0.iter().map(|q| q.ln()).collect();
        if let Some(msg) = bounds::log_step_problem(grid.nx, grid.ny, &phi, "ln q0") {
            let (key, value) = match &self.data {
                DataConfig::Image { floor, .. } => ("data.floor", format!("{floor:?}")),
                DataConfig::Checkerboard { contrast } | DataConfig::Textured { contrast, .. } => {
                    ("data.contrast", format!("{contrast:?}"))
                }
                DataConfig::Formula { log_q } => (
                    "data.log_q",
                    format!("\"{}\"", crate::error::one_line(log_q)),
                ),
                DataConfig::Brelax => ("data.kind", "\"brelax\"".to_string()),
            };
            return Err(CgklError::config(
                key,
                value,
                format!(
                    "{msg}; the score at t = 0 is ln q0 (score.kind = \"{}\"): make the data \
                     smoother",
                    score_kind(&self.score)
                ),
            ));
        }
        if let (Some((sigma, corr_len, seed)), Some(key)) = (perturbation, score_key) {
            let xi = data::smooth_field(grid, corr_len, seed)?;
            phi.iter_mut().zip(&xi).for_each(|(p, x)| *p += sigma * x);
            if let Some(msg) = bounds::log_step_problem(grid.nx, grid.ny, &phi, "ln q̂ = ln q0 + σξ")
            {
                return Err(CgklError::config(
                    key,
                    format!("{sigma:?}"),
                    format!("{msg}; use a smaller σ or a longer score.corr_len"),
                ));
            }
        }
        Ok(())
    }

    /// The forward oracle of the data with conductance ε across blocks.
    fn forward_oracle_for(&self, part: &Partition, q0: &[f64], eps: f64) -> Result<ForwardOracle> {
        ForwardOracle::new(part, q0, eps, self.forward.beta, self.forward.horizon)
    }
}

/// The config spelling of the score kind (`score.kind`).
fn score_kind(score: &ScoreConfig) -> &'static str {
    match score {
        ScoreConfig::Oracle => "oracle",
        ScoreConfig::Perturbed { .. } => "perturbed",
        ScoreConfig::Misspecified { .. } => "misspecified",
        ScoreConfig::External { .. } => "external",
        ScoreConfig::Formula { .. } => "formula",
        ScoreConfig::Potential { .. } => "potential",
    }
}

/// Refuses a formula field (`what`: ln q̂ or U, evaluated at time `t`) whose neighbouring cells
/// differ by more than [`bounds::MAX_LOG_STEP`], naming `key`.
fn check_log_steps(
    key: &str,
    f: &Formula,
    grid: Grid,
    values: &[f64],
    what: &str,
    t: f64,
) -> Result<()> {
    match bounds::log_step_problem(grid.nx, grid.ny, values, what) {
        None => Ok(()),
        Some(msg) => Err(CgklError::config(
            key,
            f.shown(),
            format!("at t = {t:e}, {msg}; flatten the formula (smaller coefficients)"),
        )),
    }
}

/// The blocks of the configuration: tiles, or a label image loaded and, if its size differs
/// from the grid's, resampled by area-weighted majority.
fn build_partition(cfg: &PartitionConfig, grid: Grid) -> Result<Partition> {
    match cfg {
        PartitionConfig::Tiles { bx, by } => Partition::tiles(grid, *bx, *by),
        PartitionConfig::Labels { file, dataset } => {
            let lab = crate::io::image::load_labels(std::path::Path::new(file), dataset)?;
            // 0…m−1 without gaps, checked before any work of size m
            let m = crate::partition::check_dense(&lab.labels).map_err(|e| match e {
                CgklError::Data(msg) => CgklError::Data(format!("{file}: {msg}")),
                other => other,
            })?;
            let same = (lab.width, lab.height) == (grid.nx, grid.ny);
            let labels = if same {
                lab.labels
            } else {
                let resampled = crate::io::image::resample_labels(&lab, grid.nx, grid.ny);
                // a region smaller than a cell can vanish, also the highest labels
                let mut seen = vec![false; m];
                resampled.iter().for_each(|&l| seen[l as usize] = true);
                let lost: Vec<String> = (0..m)
                    .filter(|&j| !seen[j])
                    .map(|j| j.to_string())
                    .collect();
                if !lost.is_empty() {
                    return Err(CgklError::Data(format!(
                        "{file}: label(s) {} vanish when the {}×{} label image is resampled to the \
                         {}×{} grid (no cell is mostly theirs); use a finer grid or merge the small regions",
                        lost.join(", "),
                        lab.width,
                        lab.height,
                        grid.nx,
                        grid.ny
                    )));
                }
                resampled
            };
            Partition::from_labels(grid, labels).map_err(|e| match e {
                CgklError::Data(msg) => CgklError::Data(format!("{file}: {msg}")),
                other => other,
            })
        }
    }
}

impl Problem {
    /// The checks of the run in the configured flow mode, before any work: implicit steps
    /// within `bounds::MAX_STEP_STIFFNESS` (Δt·4c/h² ≤ 10⁶); for the resolved mode an integrator that takes this
    /// generator (a moving one, upwind: refused here, not at the first step) and whose inner
    /// steps stay within [`bounds::MAX_INNER_STEPS`].
    fn check_run(&self) -> Result<()> {
        let cfg = &self.config;
        let (scale, scale_name) = cfg.rate_scale();
        let lam_diff = bounds::diffusive_rate(self.grid.nx, self.grid.ny, scale);
        self.check_step_stiffness(lam_diff, scale_name, scale)?;
        if cfg.flow.mode == FlowMode::Resolved {
            let integrator = &cfg.flow.integrator;
            let mut g = self.generator()?;
            integrator.check_generator(&g)?;
            let lambda = self.largest_rate_of(&mut g)?;
            let dts: Vec<f64> = self.times.windows(2).map(|w| w[1] - w[0]).collect();
            integrator.check_work(&dts, lambda, g.is_static())?;
        }
        Ok(())
    }

    /// Refuses an implicit step of size Δt with `Δt·Λ_diff > MAX_STEP_STIFFNESS` (kernel mode:
    /// one step per Δt_n; resolved implicit_euler and trbdf2_fixed: Δt_n/substeps; rational:
    /// Δt_n), whose round-off would break mass conservation mid-run: a config error naming
    /// forward.horizon with a T and an N that fit.
    fn check_step_stiffness(&self, lam_diff: f64, scale_name: &str, scale: f64) -> Result<()> {
        let cfg = &self.config;
        let substeps = match (cfg.flow.mode, cfg.flow.integrator) {
            (FlowMode::Kernel, _) => Some(1),
            (_, IntegratorKind::ImplicitEuler { substeps })
            | (_, IntegratorKind::Trbdf2Fixed { substeps }) => Some(substeps.max(1)),
            (_, IntegratorKind::Rational { .. }) => Some(1),
            _ => None,
        };
        let Some(substeps) = substeps else {
            return Ok(());
        };
        let max_dt = self
            .times
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(0.0f64, f64::max);
        let dt = max_dt / substeps as f64;
        let stiffness = dt * lam_diff;
        if stiffness <= MAX_STEP_STIFFNESS {
            return Ok(());
        }
        let t = cfg.forward.horizon;
        let factor = stiffness / MAX_STEP_STIFFNESS;
        let n = self.times.len() - 1;
        let more_n = (n as f64 * factor).ceil();
        let mut fix = format!("use T ≤ {:.2e}", t / factor);
        if more_n <= 1e6 {
            fix.push_str(&format!(", or schedule.n_steps ≥ {more_n}"));
        }
        if cfg.flow.mode == FlowMode::Resolved
            && matches!(
                cfg.flow.integrator,
                IntegratorKind::ImplicitEuler { .. } | IntegratorKind::Trbdf2Fixed { .. }
            )
        {
            fix.push_str(&format!(
                ", or flow.integrator.substeps ≥ {}",
                (substeps as f64 * factor).ceil()
            ));
        }
        let step = if substeps > 1 {
            format!("step Δt = Δt_max/substeps = {dt:.3e}")
        } else {
            format!("step Δt = {dt:.3e}")
        };
        Err(CgklError::config(
            "forward.horizon",
            format!("{t:?}"),
            format!(
                "the longest implicit {step} times Λ_diff = 4c/h² = {lam_diff:.3e} (c = \
                 {scale_name} = {scale:?}) is Δt·Λ_diff = {stiffness:.3e}; an implicit step keeps \
                 the mass only while Δt·Λ_diff ≤ {MAX_STEP_STIFFNESS:e}: {fix}"
            ),
        ))
    }

    /// The largest exit rate `max_i |G_ii|` of the reverse generator at s = 0 and, if it moves,
    /// s = T (the estimate the work bounds use), from a fresh generator.
    pub(crate) fn largest_rate(&self) -> Result<f64> {
        self.largest_rate_of(&mut self.generator()?)
    }

    /// [`Self::largest_rate`] of the generator `g` (refreshed here).
    fn largest_rate_of(&self, g: &mut Generator) -> Result<f64> {
        g.refresh(0.0)?;
        let mut lambda = g.max_exit_rate();
        if !g.is_static() {
            g.refresh(self.config.forward.horizon)?;
            lambda = lambda.max(g.max_exit_rate());
        }
        Ok(lambda)
    }

    /// Validates `config` against every meaning (SPEC §1–§6) and builds the problem: the same as
    /// [`Config::validate`]; nothing is computed or written before it succeeds.
    pub fn from_config(config: &Config) -> Result<Self> {
        config.validate()
    }

    /// The exact forward oracle with ε_fwd (for kl_track and p_0 = q_T).
    pub fn forward_oracle(&self) -> Result<ForwardOracle> {
        self.config
            .forward_oracle_for(&self.partition, &self.q0, self.config.forward.eps_fwd)
    }

    /// A fresh reverse generator G(s) with ε_rev conductances and the configured flux, driven by
    /// the score model: the oracle with ε_score (ε_fwd unless misspecified) and an optional
    /// perturbation, an external field, a ln q̂ formula, or a potential formula (scale D).
    pub fn generator(&self) -> Result<Generator> {
        let cfg = &self.config;
        let (beta, horizon) = (cfg.forward.beta, cfg.forward.horizon);
        let oracle_drive =
            |eps_score: f64, pert: Option<(f64, Vec<f64>)>| -> Result<Box<dyn Drive>> {
                let oracle = cfg.forward_oracle_for(&self.partition, &self.q0, eps_score)?;
                Ok(Box::new(ReverseDrive::new(oracle, beta, pert)))
            };
        let drive: Box<dyn Drive> = match &cfg.score {
            ScoreConfig::Oracle => oracle_drive(cfg.forward.eps_fwd, None)?,
            ScoreConfig::Perturbed {
                sigma,
                corr_len,
                seed,
            } => oracle_drive(
                cfg.forward.eps_fwd,
                Some((*sigma, data::smooth_field(self.grid, *corr_len, *seed)?)),
            )?,
            ScoreConfig::Misspecified { eps_score } => oracle_drive(*eps_score, None)?,
            ScoreConfig::External { file } => {
                let field = match &self.score_field {
                    Some(f) => f.clone(),
                    None => Arc::new(ScoreField::load(
                        std::path::Path::new(file),
                        self.grid.nx,
                        self.grid.ny,
                    )?),
                };
                Box::new(FieldDrive::new(field, beta, horizon))
            }
            ScoreConfig::Formula { log_q } => Box::new(FormulaDrive::new(
                Formula::parse("score.log_q", log_q)?,
                self.grid,
                beta,
                horizon,
            )),
            ScoreConfig::Potential {
                potential,
                diffusion,
            } => {
                let f = Formula::parse("score.potential", potential)?;
                let moving = f.uses_t();
                Box::new(PotentialDrive::new(
                    self.grid,
                    Box::new(move |x, y, t| f.eval(x, y, t)),
                    *diffusion,
                    moving,
                ))
            }
        };
        Ok(Generator::new(
            &self.partition,
            cfg.reverse.eps_rev,
            cfg.reverse.flux,
            drive,
        ))
    }

    /// The solver of the implicit systems (`flow.linear_solver`).
    pub fn linear_solver(&self) -> LinearSolver {
        self.config.flow.linear_solver
    }

    /// The integrator of the flow mode: kernel = one implicit-Euler step per Δt_n; resolved =
    /// the configured integrator; both with the configured linear solver.
    pub fn integrator(&self, g: &Generator, mode: FlowMode) -> Result<Box<dyn Integrator>> {
        match mode {
            FlowMode::Kernel => {
                IntegratorKind::ImplicitEuler { substeps: 1 }.build_with(g, self.linear_solver())
            }
            FlowMode::Resolved => self
                .config
                .flow
                .integrator
                .build_with(g, self.linear_solver()),
        }
    }

    /// Diagnostics at tolerance δ (the projected run's δ, also for its baseline).
    pub fn diagnostics(&self, delta: f64) -> Result<Diagnostics> {
        let bounds = ToleranceBox::new(&self.reference.w_ref, delta)?;
        Ok(Diagnostics::new(
            self.partition.clone(),
            self.reference.clone(),
            bounds,
            self.q0.clone(),
            // a potential problem has no score marginals to track
            match self.config.score {
                ScoreConfig::Potential { .. } => None,
                _ => Some(self.forward_oracle()?),
            },
            self.config.forward.horizon,
        ))
    }

    /// The V_δ projection at the configured δ.
    pub fn projection(&self) -> Result<VdeltaProjection> {
        let bounds = ToleranceBox::new(&self.reference.w_ref, self.config.projection.delta)?;
        Ok(VdeltaProjection::new(
            self.partition.clone(),
            self.reference.clone(),
            bounds,
        ))
    }

    /// Snapshot step indices: `output.snapshots` evenly spaced in n, including 0 and N.
    pub fn snapshot_steps(&self) -> Vec<usize> {
        let n = self.times.len().saturating_sub(1);
        let k = self.config.output.snapshots.max(2);
        (0..k).map(|j| (j * n + (k - 1) / 2) / (k - 1)).collect()
    }

    /// Runs the configured flow mode, projected or baseline, keeping records and snapshots in
    /// memory, with `progress(n, N)` after every step.
    pub fn run_with_progress(
        &self,
        projection: Projection,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<RunResult> {
        let n = self.times.len().saturating_sub(1);
        let mut on_step = OnStep(|k| progress(k, n));
        self.run_collecting(projection, Collect::all(), &mut [&mut on_step])
    }

    /// Runs the configured flow mode, handing every record and snapshot to `observers` as the
    /// run goes (e.g. a streaming sink); the result keeps the records but no snapshots, so
    /// memory does not grow with the snapshot count.
    pub fn run_observed(
        &self,
        projection: Projection,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunResult> {
        self.run_collecting(projection, Collect::records_only(), observers)
    }

    /// Float64 values per cell of a run's working set without a linear solver (generator,
    /// oracle, integrator vectors, diagnostics, output buffers): measured as the peak RSS of a
    /// Chebyshev-resolved paper_toy run, 56 per cell at 512² and 51 at 1024²
    /// (`docs/benchmarks.md`, tenth sitting).
    pub const WORK_F64_PER_CELL: usize = 52;

    /// Estimated bytes of one run: [`Problem::WORK_F64_PER_CELL`] per cell, the linear solver's
    /// ([`LinearSolver::memory_bytes`]) when the flow solves systems, the §7 and post-step
    /// records of every step, and with `keep_snapshots` the K snapshots (and currents, about two
    /// values per cell) it keeps in memory. `is_static`: whether G is time independent, which
    /// decides `auto`'s solver; `None` (not known before the generator is built) takes the
    /// larger of the two, an upper bound.
    pub fn memory_estimate(&self, keep_snapshots: bool, is_static: Option<bool>) -> u64 {
        self.working_bytes(is_static)
            .saturating_add(self.result_bytes(keep_snapshots))
    }

    /// Refuses the run ([`crate::memory::check_fits`]) when [`Problem::memory_estimate`] does
    /// not fit, naming the key that would lower it most: `flow.linear_solver` when a direct
    /// solve's factor is the largest part, `output.snapshots` when the kept snapshots are, the
    /// grid otherwise.
    fn check_memory(&self, keep_snapshots: bool, is_static: bool) -> Result<()> {
        let solver = self.solver_bytes(is_static);
        let result = self.result_bytes(keep_snapshots);
        let work = self.working_bytes(Some(is_static)).saturating_sub(solver);
        let direct = self.solver_taken(is_static) == Some(LinearSolver::Direct);
        let (key, fix) = if direct && solver > result.max(work) {
            (
                "flow.linear_solver",
                format!(
                    "the direct solve's factor alone needs ≈ {} (it grows like n log n); use \
                     flow.linear_solver = \"multigrid\" (O(n) memory) or a smaller grid",
                    crate::memory::human(solver)
                ),
            )
        } else if result > work.max(solver) {
            (
                "output.snapshots",
                "lower output.snapshots or the grid size, or stream the run to its file (cgkl \
                 run)"
                    .to_string(),
            )
        } else {
            (
                "grid",
                format!(
                    "a run needs about {} values per cell besides its solver and snapshots (≈ {} \
                     here); use a smaller grid",
                    Self::WORK_F64_PER_CELL,
                    crate::memory::human(work)
                ),
            )
        };
        crate::memory::check_fits(
            key,
            "this run in memory",
            self.memory_estimate(keep_snapshots, Some(is_static)),
            &fix,
        )
    }

    /// Bytes of the linear solver the run holds (0 when its flow solves no systems).
    fn solver_bytes(&self, is_static: bool) -> u64 {
        self.solver_taken(is_static)
            .map_or(0, |c| c.memory_bytes(self.grid.n()))
    }

    /// The part of [`Problem::memory_estimate`] held only while the run runs: the working set
    /// and the linear solver.
    pub fn working_bytes(&self, is_static: Option<bool>) -> u64 {
        let solver = match is_static {
            Some(s) => self.solver_bytes(s),
            None => self.solver_bytes(true).max(self.solver_bytes(false)),
        };
        crate::memory::f64s(Self::WORK_F64_PER_CELL, self.grid.n(), 1).saturating_add(solver)
    }

    /// The part of [`Problem::memory_estimate`] a run's result keeps: its records and, with
    /// `keep_snapshots`, its snapshots.
    pub fn result_bytes(&self, keep_snapshots: bool) -> u64 {
        let n = self.grid.n();
        let steps = self.times.len();
        let m = self.partition.m();
        let per_step = std::mem::size_of::<crate::diagnostics::StepRecord>()
            + 8 * m
            + std::mem::size_of::<crate::post_step::PostRecord>();
        let mut bytes = (steps as u64).saturating_mul(per_step as u64);
        if keep_snapshots {
            let k = self.config.output.snapshots.max(2);
            let per_cell = if self.config.output.currents { 3 } else { 1 };
            bytes = bytes.saturating_add(crate::memory::f64s(k, n, per_cell));
        }
        bytes
    }

    fn run_collecting(
        &self,
        projection: Projection,
        mut collect: Collect,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunResult> {
        let keep = collect.keeps_snapshots();
        // before G is built only the smaller estimate can refuse (whether G moves decides the
        // solver `auto` takes); with G built, the estimate for its solver
        let first = [true, false]
            .into_iter()
            .min_by_key(|&s| self.memory_estimate(keep, Some(s)))
            .unwrap_or(true);
        self.check_memory(keep, first)?;
        let start = Instant::now();
        let mode = self.config.flow.mode;
        let mut g = self.generator()?;
        self.check_memory(keep, g.is_static())?;
        let linear_solver = self
            .solver_taken(g.is_static())
            .map_or("none", |c| c.name())
            .to_string();
        let mut integ = self.integrator(&g, mode)?;
        let mut post: Vec<Box<dyn PostStep>> = Vec::new();
        if projection.is_projected() {
            post.push(Box::new(self.projection()?));
        }
        let delta = self.config.projection.delta;
        let mut diag = self.diagnostics(delta)?;
        let mut all: Vec<&mut dyn Observer> = Vec::with_capacity(observers.len() + 1);
        all.push(&mut collect);
        for o in observers.iter_mut() {
            all.push(&mut **o);
        }
        let end = run_splitting(
            &mut g,
            integ.as_mut(),
            &mut post,
            &mut diag,
            SplitPlan {
                times: &self.times,
                p0: &self.p0,
                snapshot_at: &self.snapshot_steps(),
                store_currents: self.config.output.currents,
            },
            &mut all,
        )?;
        drop(all);
        let n = self.times.len() - 1;
        Ok(RunResult {
            name: format!("{mode}_{projection}_N{n}"),
            mode,
            projection,
            delta,
            times: self.times.clone(),
            lyapunov_violation: end.lyapunov_violation,
            output: SplitOutput::new(collect, end),
            wall_s: start.elapsed().as_secs_f64(),
            config_toml: self.stored_config(projection).to_toml(),
            inputs: self.inputs.iter().map(|f| f.line() + "\n").collect(),
            linear_solver,
        })
    }

    /// The solver the run's implicit steps take for a G that is (`is_static`) or is not time
    /// independent: `auto` resolved ([`LinearSolver::resolve`]); None when the flow solves no
    /// systems (the run attribute `linear_solver` writes `none`).
    pub fn solver_taken(&self, is_static: bool) -> Option<LinearSolver> {
        let solves = match self.config.flow.mode {
            FlowMode::Kernel => true,
            FlowMode::Resolved => self.config.flow.integrator.solves_systems(is_static),
        };
        solves
            .then(|| {
                self.linear_solver()
                    .resolve(self.grid.n(), self.config.reverse.flux, is_static)
                    .ok()
            })
            .flatten()
    }

    /// The config stored with a run of this problem (SPEC §9), which reproduces that run alone:
    /// the problem's own for a projected run; for a baseline `projection.delta = inf` (Π_δ with
    /// an unbounded box is the identity), the δ of its δ-diagnostics being the run's `diag_delta`.
    pub fn stored_config(&self, projection: Projection) -> Config {
        let mut c = self.config.clone();
        if !projection.is_projected() {
            c.projection.delta = f64::INFINITY;
        }
        c
    }

    /// Runs without progress reporting, keeping everything in memory.
    pub fn run(&self, projection: Projection) -> Result<RunResult> {
        self.run_with_progress(projection, &mut |_, _| {})
    }
}

impl RunResult {
    /// Integrator work summed over the run.
    pub fn stats(&self) -> StepStats {
        self.output.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FlowMode;

    #[test]
    fn projection_and_mode_spellings_are_serdes() {
        // name() and Display are the serde spelling, and FromStr parses it back
        for p in Projection::ALL {
            let via_serde = toml::Value::try_from(p).unwrap();
            assert_eq!(via_serde.as_str(), Some(p.name()));
            assert_eq!(p.to_string().parse::<Projection>(), Ok(p));
        }
        for m in FlowMode::ALL {
            let via_serde = toml::Value::try_from(m).unwrap();
            assert_eq!(via_serde.as_str(), Some(m.name()));
            assert_eq!(format!(" {m} ").parse::<FlowMode>(), Ok(m));
        }
        assert_eq!(Projection::Projected.delta_attr(), "delta");
        assert_eq!(Projection::Baseline.delta_attr(), "diag_delta");
        let e = "basline".parse::<Projection>().unwrap_err();
        assert_eq!(e, "use one of projected, baseline; did you mean baseline?");
        let e = "xyz".parse::<FlowMode>().unwrap_err();
        assert_eq!(e, "use one of kernel, resolved");
        // the spelling is exact: serde has no case folding
        assert!("Kernel".parse::<FlowMode>().is_err());
    }

    #[test]
    fn times_edited_to_nothing_is_an_error_not_a_panic() {
        let mut c = Config::default();
        c.grid.nx = 8;
        c.grid.ny = 8;
        c.partition = crate::config::PartitionConfig::Tiles { bx: 2, by: 2 };
        let mut pb = Problem::from_config(&c).unwrap();
        for times in [vec![], vec![0.0]] {
            pb.times = times;
            for p in Projection::ALL {
                let e = pb.run(p).unwrap_err().to_string();
                assert!(e.contains("at least two projection times"), "{e}");
            }
        }
    }
}
