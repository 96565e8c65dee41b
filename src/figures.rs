//! Figures from cgkl HDF5 files (SPEC §9), read from the file alone, so `cgkl plot FILE` and the
//! examples draw the same plots. Every plot is written as `<stem>.png` and `<stem>.svg`.
//!
//! * Sweep files (root attribute `kind` = `dt_sweep` or `sweep`):
//!   `vdelta_trajectories_<mode>` (V_δ against s after and before projection, one line per swept value),
//!   `error_vs_dt` (Δt sweeps only: ‖p_N − p★(T)‖₁ against Δt with the observed orders),
//!   `e_block_<mode>` (E_block against s, projected vs baseline, for a representative run),
//!   `images` (data, start, final projected, final baseline and their difference) and
//!   `block_masses` (final block masses against the tolerance box around w_ref).
//! * Run files (`kind` = `run`): `vdelta_trajectory`, `e_block`, `block_masses`, `images`.
//!
//! The representative run of a Δt sweep is N = 40 (the paper's setting) when present, else the
//! middle N; `images` and `block_masses` use the kernel mode when present.

use crate::error::{CgklError, Result};
use crate::io::h5util;
use crate::plot::{
    image_row, line_plot, HLine, ImagePanel, LegendPos, LinePlot, PlotError, Scale, Series,
    SeriesStyle,
};
use crate::problem::Projection;
use crate::sweep::ROUNDOFF_FLOOR;
use hdf5::{File, Group};
use std::path::{Path, PathBuf};

/// Label of the reverse-time axis.
const S_LABEL: &str = "reverse time s (dimensionless)";
/// Palette index of projected runs (blue).
const C_PROJ: usize = 0;
/// Palette index of baseline runs (vermillion).
const C_BASE: usize = 1;
/// Palette index of reference quantities (bluish green).
const C_REF: usize = 2;
/// Palette index of guide lines (indigo).
const C_GUIDE: usize = 6;
/// The paper's number of steps, preferred as the representative run of a Δt sweep.
const PAPER_N: i64 = 40;

/// Plots for a sweep file (root attribute kind = "dt_sweep" or "sweep"); returns the files
/// written (PNG and SVG).
pub fn sweep_figures(h5: &Path, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let file = open(h5)?;
    let kind = kind_of(&file, h5)?;
    if kind != "dt_sweep" && kind != "sweep" {
        return Err(CgklError::Data(format!(
            "{}: is a cgkl '{kind}' file, not a sweep file; use `run_figures` (or `cgkl plot`)",
            h5.display()
        )));
    }
    make_dir(out_dir)?;
    let runs = list_runs(&file, h5, kind == "dt_sweep")?;
    let mut out = Figures::new(out_dir);
    let modes = distinct(runs.iter().map(|r| r.mode.clone()));
    let values = distinct_values(&runs);
    let rep = representative(&values, kind == "dt_sweep");

    for mode in &modes {
        vdelta_trajectories(&file, &runs, mode, &mut out)?;
    }
    if kind == "dt_sweep" && file.link_exists("summary") {
        error_vs_dt(&file, h5, &mut out)?;
        if has(&group(&file, "summary")?, "err_inner") {
            error_parts(&file, &mut out)?;
        }
    }
    if let Some(rep) = rep {
        for mode in &modes {
            let proj = find(&runs, mode, Projection::Projected, rep);
            let base = find(&runs, mode, Projection::Baseline, rep);
            e_block_sweep(&file, mode, proj, base, &mut out)?;
        }
        let mode = if modes.iter().any(|m| m == "kernel") {
            Some("kernel".to_string())
        } else {
            modes.first().cloned()
        };
        if let Some(mode) = mode {
            let proj = find(&runs, &mode, Projection::Projected, rep);
            let base = find(&runs, &mode, Projection::Baseline, rep);
            images_sweep(&file, &mode, proj, base, &mut out)?;
            block_masses_sweep(&file, &mode, proj, base, &mut out)?;
        }
    }
    Ok(out.files)
}

/// Plots for a single-run file (root attribute kind = "run": the run is at the file root).
pub fn run_figures(h5: &Path, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let file = open(h5)?;
    let kind = kind_of(&file, h5)?;
    if kind != "run" {
        return Err(CgklError::Data(format!(
            "{}: is a cgkl '{kind}' file, not a single-run file; use `sweep_figures` (or `cgkl plot`)",
            h5.display()
        )));
    }
    make_dir(out_dir)?;
    let run = run_info(&file, "", h5, false, 0)?;
    let mut out = Figures::new(out_dir);
    let g: &Group = &file;
    let what = format!("{} mode, {}", run.mode, run.projection.name());
    let traj = RunTraj::read(g)?;

    // V_δ trajectory
    let mut series = Vec::new();
    let label = if run.projection.is_projected() {
        "V_δ after projection".to_string()
    } else {
        format!("V_δ (diagnostic δ = {}, not enforced)", fmt_num(run.delta))
    };
    let mut s = Series::new(
        label,
        traj.s.clone(),
        traj.v_delta.clone(),
        SeriesStyle::Line,
    );
    s.color = Some(C_PROJ);
    series.push(s);
    if let (true, Some(pre)) = (run.projection.is_projected(), &traj.v_delta_pre) {
        let mut s = Series::new(
            "V_δ before projection",
            traj.s.clone(),
            pre.clone(),
            SeriesStyle::Dashed,
        );
        s.color = Some(C_BASE);
        series.push(s);
    }
    out.line(
        "vdelta_trajectory",
        LinePlot {
            title: format!("V_δ along the reverse flow ({what}, N = {})", run.n),
            x_label: S_LABEL.into(),
            y_label: "V_δ (nats)".into(),
            y_scale: log_if_positive(&series),
            series,
            ..LinePlot::default()
        },
    )?;

    // E_block
    let mut series = Vec::new();
    let mut s = Series::new(
        if run.projection.is_projected() {
            "E_block after projection"
        } else {
            "E_block(p_n)"
        },
        traj.s.clone(),
        traj.e_block.clone(),
        SeriesStyle::Line,
    );
    s.color = Some(C_PROJ);
    series.push(s);
    let mut hlines = Vec::new();
    if run.projection.is_projected() {
        if let Some(pre) = &traj.e_block_pre {
            let mut s = Series::new(
                "E_block before projection",
                traj.s.clone(),
                pre.clone(),
                SeriesStyle::Dashed,
            );
            s.color = Some(C_BASE);
            series.push(s);
        }
        if let Some(h) = m_delta_line(g, run.delta)? {
            hlines.push(h);
        }
    }
    out.line(
        "e_block",
        LinePlot {
            title: format!("Block-mass error E_block ({what}, N = {})", run.n),
            x_label: S_LABEL.into(),
            y_label: "E_block = Σ_j |w_j − w_ref,j| (probability)".into(),
            y_scale: log_if_spread(&series, &hlines),
            series,
            hlines,
            ..LinePlot::default()
        },
    )?;

    // block masses
    let w_ref = read_f64(g, "reference/w_ref")?;
    let w = final_w(g, w_ref.len())?;
    let label = format!("final w(p_N), {}", run.projection.name());
    let mut series = vec![marker_series(&label, &w, C_PROJ)];
    series.extend(reference_bars(
        &w_ref,
        run.delta,
        !run.projection.is_projected(),
    ));
    out.line(
        "block_masses",
        LinePlot {
            title: format!("Final block masses against w_ref ({what}, N = {})", run.n),
            x_label: "block index j".into(),
            y_label: "block mass w_j (probability)".into(),
            series,
            legend: LegendPos::OutsideRight,
            ..LinePlot::default()
        },
    )?;

    // images
    let q0 = read_image(g, "reference/q0")?;
    let p = read_image(g, "final/p")?;
    let mut panels = vec![q0.panel("data q0", false)];
    if has(g, "start/p0") {
        panels.push(read_image(g, "start/p0")?.panel("start p0 (noise)", false));
    }
    panels.push(p.panel(&format!("final p_N ({})", run.projection.name()), false));
    panels.push(p.diff(&q0, "final p_N − q0")?);
    out.images(
        "images",
        &panels,
        &format!(
            "{what}, N = {}, s = {} (cell masses)",
            run.n,
            fmt_num(traj.s.last().copied().unwrap_or(f64::NAN))
        ),
    )?;
    Ok(out.files)
}

/// Dispatches on the root attribute `kind`.
pub fn figures_for_file(h5: &Path, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let kind = {
        let file = open(h5)?;
        kind_of(&file, h5)?
    };
    match kind.as_str() {
        "run" => run_figures(h5, out_dir),
        "dt_sweep" | "sweep" => sweep_figures(h5, out_dir),
        other => Err(CgklError::Data(format!(
            "{}: unknown cgkl file kind '{other}' (expected run, sweep or dt_sweep)",
            h5.display()
        ))),
    }
}

// ---------------------------------------------------------------------------
// file access

fn open(h5: &Path) -> Result<File> {
    crate::io::open_h5(h5, "give a run or sweep file written by cgkl")
}

fn kind_of(file: &File, h5: &Path) -> Result<String> {
    if !has_attr(file, "kind") {
        return Err(CgklError::Data(format!(
            "{}: not a cgkl output file: the root has no attribute `kind` \
             (cgkl writes kind = run, sweep or dt_sweep)",
            h5.display()
        )));
    }
    h5util::read_attr_str(file, "kind").map_err(|e| {
        CgklError::Data(format!(
            "{}: not a cgkl output file: root attribute `kind` is not a string ({e})",
            h5.display()
        ))
    })
}

/// Creates the figure folder `out_dir` (and its parents), as a [`CgklError::Io`] on failure.
pub fn make_dir(out_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(out_dir).map_err(|e| CgklError::Io {
        path: out_dir.display().to_string(),
        msg: format!("cannot create the figure folder: {e}"),
    })
}

use h5util::{has, has_attr, read_attr_f64_opt as attr_f64_opt, read_attr_str_opt as attr_str_opt};

fn group(parent: &Group, path: &str) -> Result<Group> {
    if !has(parent, path) {
        return Err(missing(parent, path));
    }
    parent
        .group(path)
        .map_err(|e| CgklError::Output(format!("{}/{path}: cannot open group: {e}", parent.name())))
}

fn missing(g: &Group, path: &str) -> CgklError {
    CgklError::Data(format!(
        "{}: missing dataset '{path}' (not a complete cgkl file?)",
        g.name()
    ))
}

fn read_f64(g: &Group, path: &str) -> Result<Vec<f64>> {
    if !has(g, path) {
        return Err(missing(g, path));
    }
    Ok(h5util::read_f64(g, path)?)
}

fn read_opt(g: &Group, path: &str) -> Result<Option<Vec<f64>>> {
    Ok(h5util::read_f64_opt(g, path)?)
}

/// A 2-D image (`ny × nx`, row = y).
struct Image {
    ny: usize,
    nx: usize,
    data: Vec<f64>,
}

impl Image {
    fn panel(&self, title: &str, diverging: bool) -> ImagePanel {
        ImagePanel {
            title: title.into(),
            nx: self.nx,
            ny: self.ny,
            data: self.data.clone(),
            diverging,
        }
    }

    fn diff(&self, other: &Image, title: &str) -> Result<ImagePanel> {
        if (self.ny, self.nx) != (other.ny, other.nx) {
            return Err(CgklError::Data(format!(
                "cannot draw '{title}': images of shape {}×{} and {}×{}",
                self.ny, self.nx, other.ny, other.nx
            )));
        }
        Ok(ImagePanel {
            title: title.into(),
            nx: self.nx,
            ny: self.ny,
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(a, b)| a - b)
                .collect(),
            diverging: true,
        })
    }
}

fn read_image(g: &Group, path: &str) -> Result<Image> {
    if !has(g, path) {
        return Err(missing(g, path));
    }
    let (shape, data) = h5util::read_f64_nd(g, path)?;
    match shape[..] {
        [ny, nx] => Ok(Image { ny, nx, data }),
        _ => Err(CgklError::Data(format!(
            "{}/{path}: expected a 2-D image, found shape {shape:?}",
            g.name()
        ))),
    }
}

/// Last row of `trajectory/w` ((N+1) × m).
fn final_w(g: &Group, m: usize) -> Result<Vec<f64>> {
    if !has(g, "trajectory/w") {
        return Err(missing(g, "trajectory/w"));
    }
    let (shape, data) = h5util::read_f64_nd(g, "trajectory/w")?;
    match shape[..] {
        [rows, cols] if rows > 0 && cols == m => Ok(data[(rows - 1) * cols..].to_vec()),
        _ => Err(CgklError::Data(format!(
            "{}/trajectory/w: expected (N+1) × {m}, found shape {shape:?}",
            g.name()
        ))),
    }
}

/// The trajectories drawn from a run.
struct RunTraj {
    s: Vec<f64>,
    v_delta: Vec<f64>,
    v_delta_pre: Option<Vec<f64>>,
    e_block: Vec<f64>,
    e_block_pre: Option<Vec<f64>>,
}

impl RunTraj {
    fn read(g: &Group) -> Result<Self> {
        Ok(Self {
            s: read_f64(g, "trajectory/s")?,
            v_delta: read_f64(g, "trajectory/V_delta")?,
            v_delta_pre: read_opt(g, "trajectory/V_delta_pre")?,
            e_block: read_f64(g, "trajectory/E_block")?,
            e_block_pre: read_opt(g, "trajectory/E_block_pre")?,
        })
    }
}

/// Identity of one run of a file.
#[derive(Debug, Clone)]
struct RunInfo {
    /// Group path in the file ("" for the root).
    path: String,
    mode: String,
    projection: Projection,
    /// Number of projection steps.
    n: i64,
    /// δ of a projected run (`delta`), or the δ its diagnostics use (`diag_delta`).
    delta: f64,
    /// Swept value as text (N for Δt sweeps).
    value: String,
    /// Numeric sort key of the value (its position in the file when not numeric).
    key: f64,
    /// Legend label of the value, e.g. `N = 40`.
    label: String,
}

fn run_info(file: &File, path: &str, h5: &Path, dt_sweep: bool, pos: usize) -> Result<RunInfo> {
    let root: &Group = file;
    let g: Group = if path.is_empty() {
        root.clone()
    } else {
        group(file, path)?
    };
    let name = attr_str_opt(&g, "name")
        .unwrap_or_else(|| path.rsplit('/').next().unwrap_or(path).to_string());
    let mut parts = name.splitn(3, '_');
    let (name_mode, name_proj) = (parts.next(), parts.next());
    let mode = attr_str_opt(&g, "mode")
        .or_else(|| name_mode.map(String::from))
        .ok_or_else(|| {
            CgklError::Data(format!(
                "{}: run '{name}' has no attribute `mode`",
                h5.display()
            ))
        })?;
    let projection_text = attr_str_opt(&g, "projection")
        .or_else(|| name_proj.map(String::from))
        .unwrap_or_default();
    let projection: Projection = projection_text.parse().map_err(|e| {
        CgklError::Data(format!(
            "{}: run '{name}' has projection '{projection_text}' ({e})",
            h5.display()
        ))
    })?;
    let n = if has_attr(&g, "N") {
        h5util::read_attr_i64(&g, "N")?
    } else {
        read_f64(&g, "trajectory/s")?.len() as i64 - 1
    };
    let delta = attr_f64_opt(&g, projection.delta_attr()).unwrap_or(f64::NAN);
    let (value, key, label) = if dt_sweep || path.is_empty() {
        (n.to_string(), n as f64, format!("N = {n}"))
    } else {
        let value = attr_str_opt(&g, "value").unwrap_or_else(|| pos.to_string());
        let param = attr_str_opt(file, "param").unwrap_or_else(|| "value".into());
        let short = match param.rsplit('.').next().unwrap_or(&param) {
            "delta" => "δ".to_string(),
            other => other.to_string(),
        };
        let key = value.trim().parse::<f64>().unwrap_or(pos as f64);
        (value.clone(), key, format!("{short} = {value}"))
    };
    Ok(RunInfo {
        path: path.to_string(),
        mode,
        projection,
        n,
        delta,
        value,
        key,
        label,
    })
}

fn list_runs(file: &File, h5: &Path, dt_sweep: bool) -> Result<Vec<RunInfo>> {
    if !file.link_exists("runs") {
        return Err(CgklError::Data(format!(
            "{}: sweep file without a `runs` group",
            h5.display()
        )));
    }
    let names = if has_attr(file, "runs") {
        h5util::read_attr_str_array(file, "runs")?
    } else {
        group(file, "runs")?
            .member_names()
            .map_err(|e| CgklError::Output(format!("{}: cannot list /runs: {e}", h5.display())))?
    };
    let mut runs = Vec::with_capacity(names.len());
    for (pos, name) in names.iter().enumerate() {
        runs.push(run_info(file, &format!("runs/{name}"), h5, dt_sweep, pos)?);
    }
    if runs.is_empty() {
        return Err(CgklError::Data(format!(
            "{}: the sweep has no runs",
            h5.display()
        )));
    }
    runs.sort_by(|a, b| a.key.total_cmp(&b.key));
    Ok(runs)
}

fn distinct(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for s in it {
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

/// Distinct swept values in sort order: (value, key, N).
fn distinct_values(runs: &[RunInfo]) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = Vec::new();
    for r in runs {
        if !v.iter().any(|(s, _)| *s == r.value) {
            v.push((r.value.clone(), r.n));
        }
    }
    v
}

fn representative(values: &[(String, i64)], dt_sweep: bool) -> Option<&str> {
    if dt_sweep {
        if let Some((v, _)) = values.iter().find(|(_, n)| *n == PAPER_N) {
            return Some(v);
        }
    }
    values.get(values.len() / 2).map(|(v, _)| v.as_str())
}

fn find<'a>(
    runs: &'a [RunInfo],
    mode: &str,
    projection: Projection,
    value: &str,
) -> Option<&'a RunInfo> {
    runs.iter()
        .find(|r| r.mode == mode && r.projection == projection && r.value == value)
}

// ---------------------------------------------------------------------------
// drawing helpers

/// Collects the written files; an empty plot is skipped with a warning, other failures abort.
struct Figures<'a> {
    dir: &'a Path,
    files: Vec<PathBuf>,
}

impl<'a> Figures<'a> {
    fn new(dir: &'a Path) -> Self {
        Self {
            dir,
            files: Vec::new(),
        }
    }

    fn done(&mut self, stem: &str, r: std::result::Result<(), PlotError>) -> Result<()> {
        let path = self.dir.join(stem);
        match r {
            Ok(()) => {
                for ext in ["png", "svg"] {
                    let mut s = path.as_os_str().to_os_string();
                    s.push(".");
                    s.push(ext);
                    self.files.push(PathBuf::from(s));
                }
                Ok(())
            }
            Err(PlotError::EmptyData(msg)) => {
                eprintln!("warning: figure {} skipped: {msg}", path.display());
                Ok(())
            }
            Err(e) => Err(CgklError::Output(format!("{}: {e}", path.display()))),
        }
    }

    fn line(&mut self, stem: &str, plot: LinePlot) -> Result<()> {
        let r = line_plot(&plot, &self.dir.join(stem));
        self.done(stem, r)
    }

    fn images(&mut self, stem: &str, panels: &[ImagePanel], title: &str) -> Result<()> {
        let r = image_row(panels, title, &self.dir.join(stem));
        self.done(stem, r)
    }
}

fn finite_values<'a>(series: &'a [Series]) -> impl Iterator<Item = f64> + 'a {
    series
        .iter()
        .flat_map(|s| s.y.iter().copied())
        .filter(|y| y.is_finite())
}

/// Log scale when every finite ordinate is positive.
fn log_if_positive(series: &[Series]) -> Scale {
    let mut any = false;
    for y in finite_values(series) {
        if y <= 0.0 {
            return Scale::Linear;
        }
        any = true;
    }
    if any {
        Scale::Log10
    } else {
        Scale::Linear
    }
}

/// Log scale when every finite ordinate (and reference line) is positive and they span more
/// than two decades.
fn log_if_spread(series: &[Series], hlines: &[HLine]) -> Scale {
    let ys: Vec<f64> = finite_values(series)
        .chain(hlines.iter().map(|h| h.y).filter(|y| y.is_finite()))
        .collect();
    let (lo, hi) = ys
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
            (a.min(y), b.max(y))
        });
    if !ys.is_empty() && lo > 0.0 && hi / lo > 100.0 {
        Scale::Log10
    } else {
        Scale::Linear
    }
}

fn marker_series(label: &str, w: &[f64], color: usize) -> Series {
    let mut s = Series::new(
        label,
        (0..w.len()).map(|j| j as f64).collect(),
        w.to_vec(),
        SeriesStyle::Markers,
    );
    s.color = Some(color);
    s
}

/// Short horizontal bars at `values[j]` centred on block j (broken between blocks).
fn bars(label: &str, values: &[f64], style: SeriesStyle, color: usize) -> Series {
    const HALF: f64 = 0.38;
    let mut x = Vec::with_capacity(3 * values.len());
    let mut y = Vec::with_capacity(3 * values.len());
    for (j, &v) in values.iter().enumerate() {
        let c = j as f64;
        x.extend([c - HALF, c + HALF, f64::NAN]);
        y.extend([v, v, f64::NAN]);
    }
    let mut s = Series::new(label, x, y, style);
    s.color = Some(color);
    s
}

/// w_ref as solid bars and, for a finite δ, the box [max(w_ref − δ, 0), min(w_ref + δ, 1)] as
/// dashed bars (`diagnostic`: δ is a baseline's `diag_delta`, not enforced).
fn reference_bars(w_ref: &[f64], delta: f64, diagnostic: bool) -> Vec<Series> {
    let mut v = vec![bars("w_ref", w_ref, SeriesStyle::Line, C_REF)];
    if delta.is_finite() {
        let lo: Vec<f64> = w_ref.iter().map(|w| (w - delta).max(0.0)).collect();
        let hi: Vec<f64> = w_ref.iter().map(|w| (w + delta).min(1.0)).collect();
        v.push(bars(
            &format!(
                "w_ref ± δ ({}δ = {})",
                if diagnostic { "diagnostic " } else { "" },
                fmt_num(delta)
            ),
            &hi,
            SeriesStyle::Dashed,
            C_REF,
        ));
        v.push(bars("", &lo, SeriesStyle::Dashed, C_REF));
    }
    v
}

/// The line E_block = m·δ of a projected run (none for an infinite or missing δ).
fn m_delta_line(g: &Group, delta: f64) -> Result<Option<HLine>> {
    if !delta.is_finite() || !has(g, "grid") {
        return Ok(None);
    }
    let grid = group(g, "grid")?;
    if !has_attr(&grid, "m") {
        return Ok(None);
    }
    let m = h5util::read_attr_i64(&grid, "m")?;
    Ok(Some(HLine {
        y: m as f64 * delta,
        label: format!("m·δ = {m} × {}", fmt_num(delta)),
    }))
}

/// About four significant digits, without trailing zeros.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let dec = (3.0 - a.log10().floor()).max(0.0) as usize;
        let s = format!("{v:.dec$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v:.3e}")
    }
}

// ---------------------------------------------------------------------------
// the sweep plots

fn vdelta_trajectories(file: &File, runs: &[RunInfo], mode: &str, out: &mut Figures) -> Result<()> {
    let mut series = Vec::new();
    for (k, r) in runs
        .iter()
        .filter(|r| r.mode == mode && r.projection.is_projected())
        .enumerate()
    {
        let g = group(file, &r.path)?;
        let s = read_f64(&g, "trajectory/s")?;
        let post = read_f64(&g, "trajectory/V_delta")?;
        let mut a = Series::new(r.label.clone(), s.clone(), post, SeriesStyle::Line);
        a.color = Some(k);
        series.push(a);
        if let Some(pre) = read_opt(&g, "trajectory/V_delta_pre")? {
            let mut b = Series::new("", s, pre, SeriesStyle::Dashed);
            b.color = Some(k);
            series.push(b);
        }
    }
    if series.is_empty() {
        return Ok(());
    }
    out.line(
        &format!("vdelta_trajectories_{mode}"),
        LinePlot {
            title: format!(
                "V_δ, {mode} mode, projected runs (solid: after projection, dashed: before)"
            ),
            x_label: S_LABEL.into(),
            y_label: "V_δ (nats)".into(),
            y_scale: log_if_positive(&series),
            series,
            ..LinePlot::default()
        },
    )
}

fn error_vs_dt(file: &File, h5: &Path, out: &mut Figures) -> Result<()> {
    let g = group(file, "summary")?;
    let dt = read_f64(&g, "dt")?;
    let err = read_f64(&g, "err_l1")?;
    let modes = h5util::read_attr_str_array(&g, "mode")?;
    let projs = h5util::read_attr_str_array(&g, "projection")?;
    let ns = if has(&g, "N") {
        h5util::read_i64(&g, "N")?
    } else {
        Vec::new()
    };
    if [err.len(), modes.len(), projs.len()]
        .iter()
        .any(|&l| l != dt.len())
    {
        return Err(CgklError::Data(format!(
            "{}: summary/dt, err_l1, @mode and @projection differ in length",
            h5.display()
        )));
    }
    let keys = distinct(modes.iter().zip(&projs).map(|(m, p)| format!("{m}_{p}")));
    let mut series = Vec::new();
    let mut all_roundoff = Vec::new();
    let mut min_ratio = f64::INFINITY;
    let (mut dt_lo, mut dt_hi) = (f64::INFINITY, 0.0f64);
    for (k, key) in keys.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = Vec::new();
        let mut dropped: Vec<String> = Vec::new();
        for i in 0..dt.len() {
            if format!("{}_{}", modes[i], projs[i]) != *key || dt[i].is_nan() || dt[i] <= 0.0 {
                continue;
            }
            if err[i].is_finite() && err[i] > ROUNDOFF_FLOOR {
                pts.push((dt[i], err[i]));
            } else {
                dropped.push(
                    ns.get(i)
                        .map_or_else(|| format!("Δt = {}", fmt_num(dt[i])), |n| n.to_string()),
                );
            }
        }
        let name = key.replacen('_', " ", 1);
        if pts.is_empty() {
            all_roundoff.push(name);
            continue;
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        for &(x, y) in &pts {
            min_ratio = min_ratio.min(y / x);
            dt_lo = dt_lo.min(x);
            dt_hi = dt_hi.max(x);
        }
        let slope = attr_f64_opt(&g, &format!("observed_order_{key}"));
        let mut label = match slope {
            Some(p) if p.is_finite() => format!("{name} (slope {p:.2})"),
            _ => format!("{name} (slope n/a)"),
        };
        if !dropped.is_empty() {
            label += &format!("; N = {} at round-off, not shown", dropped.join(", "));
        }
        let (x, y) = pts.into_iter().unzip();
        let mut s = Series::new(label, x, y, SeriesStyle::LineMarkers);
        s.color = Some(k);
        series.push(s);
    }
    if min_ratio.is_finite() && dt_hi > dt_lo {
        // a factor 2 below every plotted point, so it hides none of them
        let c = 0.5 * min_ratio;
        let mut s = Series::new(
            "slope 1 guide",
            vec![dt_lo, dt_hi],
            vec![c * dt_lo, c * dt_hi],
            SeriesStyle::Dashed,
        );
        s.color = Some(C_GUIDE);
        series.push(s);
    }
    let mut title = "Error at s = T against Δt".to_string();
    if !all_roundoff.is_empty() {
        title += &format!(" (not shown, at round-off: {})", all_roundoff.join(", "));
    }
    // the projected reference may be a stand-in for the continuous limit: say which
    let method = if has(file, "limit/projected") {
        attr_str_opt(&*group(file, "limit/projected")?, "method")
    } else {
        None
    };
    let x_label = match method {
        Some(m) if m.starts_with("finest") => {
            let run = m
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map_or("the finest projected run", |(r, _)| r);
            format!("Δt = T/N (dimensionless); projected p★(T) := {run}")
        }
        _ => "Δt = T/N (dimensionless)".to_string(),
    };
    if series.is_empty() {
        eprintln!(
            "warning: figure error_vs_dt skipped: every error is at round-off (≤ {ROUNDOFF_FLOOR:e})"
        );
        return Ok(());
    }
    out.line(
        "error_vs_dt",
        LinePlot {
            title,
            x_label,
            y_label: "‖p_N − p★(T)‖₁ (probability)".into(),
            x_scale: Scale::Log10,
            y_scale: Scale::Log10,
            series,
            ..LinePlot::default()
        },
    )
}

/// Kernel mode: total error, splitting error (the resolved run of equal N) and inner
/// integration error (`|p_N^kernel − p_N^resolved|_1`) against Δt, projected and baseline.
fn error_parts(file: &File, out: &mut Figures) -> Result<()> {
    let g = group(file, "summary")?;
    let dt = read_f64(&g, "dt")?;
    let modes = h5util::read_attr_str_array(&g, "mode")?;
    let projs = h5util::read_attr_str_array(&g, "projection")?;
    let parts = [
        ("err_l1", "total", SeriesStyle::LineMarkers),
        ("err_split", "splitting", SeriesStyle::Dashed),
        ("err_inner", "inner integration", SeriesStyle::Markers),
    ];
    let mut series = Vec::new();
    for (c, proj) in Projection::ALL.map(|p| p.name()).into_iter().enumerate() {
        for (key, what, style) in parts {
            let v = read_f64(&g, key)?;
            let mut pts: Vec<(f64, f64)> = (0..dt.len().min(v.len()))
                .filter(|&i| modes.get(i).is_some_and(|m| m == "kernel"))
                .filter(|&i| projs.get(i).is_some_and(|p| p == proj))
                .filter(|&i| v[i].is_finite() && v[i] > ROUNDOFF_FLOOR && dt[i] > 0.0)
                .map(|i| (dt[i], v[i]))
                .collect();
            if pts.len() < 2 {
                continue;
            }
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (x, y) = pts.into_iter().unzip();
            let mut s = Series::new(format!("{proj}: {what}"), x, y, style);
            s.color = Some(c);
            series.push(s);
        }
    }
    if series.is_empty() {
        return Ok(());
    }
    out.line(
        "error_parts_kernel",
        LinePlot {
            title: "Kernel mode: total error, its splitting part and its inner-integration part"
                .into(),
            x_label: "Δt = T/N (dimensionless)".into(),
            y_label: "L1 error at s = T".into(),
            x_scale: Scale::Log10,
            y_scale: Scale::Log10,
            series,
            ..LinePlot::default()
        },
    )
}

fn e_block_sweep(
    file: &File,
    mode: &str,
    proj: Option<&RunInfo>,
    base: Option<&RunInfo>,
    out: &mut Figures,
) -> Result<()> {
    let mut series = Vec::new();
    let mut hlines = Vec::new();
    let mut label = None;
    if let Some(r) = proj {
        let g = group(file, &r.path)?;
        let t = RunTraj::read(&g)?;
        let mut a = Series::new(
            "projected, after projection",
            t.s.clone(),
            t.e_block,
            SeriesStyle::Line,
        );
        a.color = Some(C_PROJ);
        series.push(a);
        if let Some(pre) = t.e_block_pre {
            let mut b = Series::new(
                "projected, before projection",
                t.s,
                pre,
                SeriesStyle::Dashed,
            );
            b.color = Some(C_PROJ);
            series.push(b);
        }
        hlines.extend(m_delta_line(&g, r.delta)?);
        label = Some(r.label.clone());
    }
    if let Some(r) = base {
        let g = group(file, &r.path)?;
        let s = read_f64(&g, "trajectory/s")?;
        let e = read_f64(&g, "trajectory/E_block")?;
        let mut a = Series::new("baseline (no projection)", s, e, SeriesStyle::Line);
        a.color = Some(C_BASE);
        series.push(a);
        label = label.or(Some(r.label.clone()));
    }
    let Some(label) = label else {
        return Ok(());
    };
    out.line(
        &format!("e_block_{mode}"),
        LinePlot {
            title: format!("Block-mass error E_block, {mode} mode, {label}"),
            x_label: S_LABEL.into(),
            y_label: "E_block = Σ_j |w_j − w_ref,j| (probability)".into(),
            y_scale: log_if_spread(&series, &hlines),
            series,
            hlines,
            ..LinePlot::default()
        },
    )
}

fn images_sweep(
    file: &File,
    mode: &str,
    proj: Option<&RunInfo>,
    base: Option<&RunInfo>,
    out: &mut Figures,
) -> Result<()> {
    let Some(first) = proj.or(base) else {
        return Ok(());
    };
    let g0 = group(file, &first.path)?;
    let mut panels = vec![read_image(&g0, "reference/q0")?.panel("data q0", false)];
    if has(&g0, "start/p0") {
        panels.push(read_image(&g0, "start/p0")?.panel("start p0 (noise)", false));
    }
    let mut finals = Vec::new();
    for r in [proj, base].into_iter().flatten() {
        let p = read_image(&group(file, &r.path)?, "final/p")?;
        panels.push(p.panel(&format!("final p_N, {}", r.projection.name()), false));
        finals.push(p);
    }
    if let [p, b] = &finals[..] {
        panels.push(p.diff(b, "projected − baseline")?);
    }
    let t = read_f64(&g0, "trajectory/s")?
        .last()
        .copied()
        .unwrap_or(f64::NAN);
    out.images(
        "images",
        &panels,
        &format!(
            "{mode} mode, {}, s = {} (cell masses)",
            first.label,
            fmt_num(t)
        ),
    )
}

fn block_masses_sweep(
    file: &File,
    mode: &str,
    proj: Option<&RunInfo>,
    base: Option<&RunInfo>,
    out: &mut Figures,
) -> Result<()> {
    let Some(first) = proj.or(base) else {
        return Ok(());
    };
    let w_ref = read_f64(&group(file, &first.path)?, "reference/w_ref")?;
    let mut series = Vec::new();
    for (r, c) in [(proj, C_PROJ), (base, C_BASE)] {
        if let Some(r) = r {
            let w = final_w(&group(file, &r.path)?, w_ref.len())?;
            series.push(marker_series(
                &format!("final w(p_N), {}", r.projection.name()),
                &w,
                c,
            ));
        }
    }
    let (delta, diagnostic) = match (proj, base) {
        (Some(r), _) => (r.delta, false),
        (None, Some(r)) => (r.delta, true),
        (None, None) => (f64::NAN, false),
    };
    series.extend(reference_bars(&w_ref, delta, diagnostic));
    out.line(
        "block_masses",
        LinePlot {
            title: format!("Final block masses, {mode} mode, {}", first.label),
            x_label: "block index j".into(),
            y_label: "block mass w_j (probability)".into(),
            series,
            legend: LegendPos::OutsideRight,
            ..LinePlot::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::write_sweep_file;
    use crate::sweep::{run_sweep, SweepSpec};

    fn tmp_dir(tag: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let d =
            std::env::temp_dir().join(format!("cgkl_figures_{tag}_{}_{nanos}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn sweep_file_gives_every_figure() {
        let spec = SweepSpec::dt_sweep(&[2, 4, 8]);
        let ov: Vec<String> = ["grid.nx=8", "grid.ny=8", "partition.bx=2", "partition.by=2"]
            .map(String::from)
            .to_vec();
        let sw = run_sweep(
            &crate::config::Config::from_toml_with_overrides("", &ov).unwrap(),
            &spec,
            &|_| {},
        )
        .unwrap();
        let dir = tmp_dir("sweep");
        let h5 = dir.join("sweep.h5");
        write_sweep_file(&h5, &sw, true).unwrap();
        let figs = figures_for_file(&h5, &dir.join("figs")).unwrap();
        let stems = [
            "vdelta_trajectories_kernel",
            "vdelta_trajectories_resolved",
            "error_vs_dt",
            "error_parts_kernel",
            "e_block_kernel",
            "e_block_resolved",
            "images",
            "block_masses",
        ];
        for stem in stems {
            for ext in ["png", "svg"] {
                let p = dir.join("figs").join(format!("{stem}.{ext}"));
                let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                assert!(len > 0, "{} missing or empty", p.display());
                assert!(figs.contains(&p), "{} not reported", p.display());
            }
        }
        assert_eq!(figs.len(), 2 * stems.len());
        // a sweep file is not a run file
        assert!(matches!(
            run_figures(&h5, &dir.join("x")),
            Err(CgklError::Data(_))
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn run_file_gives_every_figure() {
        let mut c = crate::config::Config::default();
        c.grid.nx = 8;
        c.grid.ny = 8;
        c.partition = crate::config::PartitionConfig::Tiles { bx: 2, by: 2 };
        c.schedule.n_steps = 5;
        let pb = c.validate().unwrap();
        let dir = tmp_dir("run");
        for projection in Projection::ALL {
            let r = pb.run(projection).unwrap();
            let h5 = dir.join(format!("run_{projection}.h5"));
            crate::io::layout::write_run_file(&h5, &pb, &r, true).unwrap();
            let out = dir.join(format!("figs_{projection}"));
            let figs = figures_for_file(&h5, &out).unwrap();
            for stem in ["vdelta_trajectory", "e_block", "block_masses", "images"] {
                for ext in ["png", "svg"] {
                    let p = out.join(format!("{stem}.{ext}"));
                    let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                    assert!(len > 0, "{} missing or empty", p.display());
                    assert!(figs.contains(&p), "{} not reported", p.display());
                }
            }
            assert_eq!(figs.len(), 8);
            assert!(matches!(
                sweep_figures(&h5, &dir.join("x")),
                Err(CgklError::Data(_))
            ));
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn non_cgkl_file_is_a_data_error() {
        let dir = tmp_dir("foreign");
        let h5 = dir.join("foreign.h5");
        {
            let f = File::create(&h5).unwrap();
            h5util::write_f64(&f, "x", &[1.0, 2.0]).unwrap();
        }
        let e = figures_for_file(&h5, &dir.join("figs"));
        assert!(
            matches!(&e, Err(CgklError::Data(m)) if m.contains("not a cgkl")),
            "{e:?}"
        );
        let txt = dir.join("plain.h5");
        std::fs::write(&txt, "not hdf5").unwrap();
        assert!(matches!(
            figures_for_file(&txt, &dir.join("figs")),
            Err(CgklError::Data(_))
        ));
        std::fs::remove_dir_all(&dir).ok();
    }
}
