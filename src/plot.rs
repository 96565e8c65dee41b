//! Publication-quality line plots and image panels (PNG + SVG) built on `plotters`.
//!
//! * Fonts: an embedded DejaVu Sans (`assets/DejaVuSans.ttf`, licence in
//!   `assets/FONT_LICENSE.txt`) is registered once as `"sans-serif"` through the
//!   `ab_glyph` feature, so no system font is needed at run time. (SVG files
//!   reference the generic `sans-serif` family and are rendered by the viewer.)
//! * Every entry point writes `<stem>.png` and `<stem>.svg`; the extension is
//!   *appended* to `stem` (`out/err.v1` gives `out/err.v1.png`). Parent
//!   directories must exist. Files are written directly (no temp files).
//! * No panics on data-dependent paths: all failures are reported as
//!   [`PlotError`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Errors produced by the plotting functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlotError {
    /// The drawing backend (PNG encoder, SVG writer, file system, font
    /// rasteriser) reported an error.
    #[error("plot backend error: {0}")]
    Backend(String),
    /// Nothing plottable was supplied (no finite values, or no positive values
    /// on a logarithmic axis).
    #[error("nothing to plot: {0}")]
    EmptyData(String),
    /// The input is malformed (mismatched lengths, wrong image size, ...).
    #[error("invalid plot input: {0}")]
    InvalidInput(String),
    /// The embedded font could not be registered.
    #[error("font error: {0}")]
    Font(String),
}

/// Axis scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// Linear axis.
    #[default]
    Linear,
    /// Base-10 logarithmic axis; non-positive values are not plotted.
    Log10,
}

/// How a [`Series`] is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeriesStyle {
    /// Solid line.
    #[default]
    Line,
    /// Dashed line (e.g. a slope guide).
    Dashed,
    /// Markers only.
    Markers,
    /// Solid line with markers.
    LineMarkers,
}

/// Position of the legend of a [`LinePlot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegendPos {
    /// First corner (upper right, upper left, lower right, lower left) whose
    /// legend box covers no data; if every corner covers data, the legend is
    /// placed outside, to the right of the axes.
    #[default]
    Auto,
    /// Inside the axes, upper right corner.
    UpperRight,
    /// Inside the axes, upper left corner.
    UpperLeft,
    /// Inside the axes, lower right corner.
    LowerRight,
    /// Inside the axes, lower left corner.
    LowerLeft,
    /// Outside the axes, to the right (the axes shrink accordingly).
    OutsideRight,
    /// No legend.
    Hidden,
}

/// One data series of a [`LinePlot`].
///
/// Points with a non-finite coordinate (or a non-positive one on a log axis)
/// are skipped and break the line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend label; an empty label keeps the series out of the legend.
    pub label: String,
    /// Abscissae (same length as `y`).
    pub x: Vec<f64>,
    /// Ordinates (same length as `x`).
    pub y: Vec<f64>,
    /// Drawing style.
    pub style: SeriesStyle,
    /// Explicit palette index (taken modulo the palette length); `None` uses
    /// the index of the series in [`LinePlot::series`].
    pub color: Option<usize>,
}

impl Series {
    /// Series with an automatically assigned colour.
    pub fn new(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>, style: SeriesStyle) -> Self {
        Self {
            label: label.into(),
            x,
            y,
            style,
            color: None,
        }
    }
}

/// Horizontal reference line, drawn dashed black across the whole plot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HLine {
    /// Ordinate of the line (included in the automatic y range).
    pub y: f64,
    /// Legend label; empty keeps it out of the legend.
    pub label: String,
}

/// Description of a 2-D line plot (1000x700 px PNG, same-size SVG).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinePlot {
    /// Title above the axes (may be empty).
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Scale of the x axis.
    pub x_scale: Scale,
    /// Scale of the y axis.
    pub y_scale: Scale,
    /// Data series; colours come from a colour-blind-safe palette of
    /// [`PALETTE_LEN`] colours by series index (marker shapes change each
    /// time the palette wraps around).
    pub series: Vec<Series>,
    /// Horizontal reference lines.
    pub hlines: Vec<HLine>,
    /// Legend placement.
    pub legend: LegendPos,
}

/// One image of an [`image_row`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImagePanel {
    /// Panel title.
    pub title: String,
    /// Number of columns (x direction).
    pub nx: usize,
    /// Number of rows (y direction).
    pub ny: usize,
    /// Row-major `ny x nx` values: `data[row * nx + col]`. Image convention:
    /// row 0 is drawn at the TOP of the picture, column 0 at the left.
    /// Non-finite values are drawn grey.
    pub data: Vec<f64>,
    /// `true`: symmetric blue-white-red map centred at 0 (for differences);
    /// `false`: sequential viridis map from min to max.
    pub diverging: bool,
}

/// Number of colours in the series palette before it repeats.
pub const PALETTE_LEN: usize = PALETTE.len();

/// Okabe–Ito colours (without yellow/black) followed by Paul Tol colours.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x33, 0x22, 0x88), // indigo
    RGBColor(0x88, 0x22, 0x55), // wine
    RGBColor(0x99, 0x99, 0x33), // olive
    RGBColor(0x66, 0x11, 0x00), // brown
];

const FONT: &str = "sans-serif";
const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const LINE_W: u32 = 1000;
const LINE_H: u32 = 700;
const TITLE_PX: u32 = 24;
const DESC_PX: u32 = 20;
const TICK_PX: u32 = 15;
const LEGEND_PX: u32 = 16;
const NAN_GREY: RGBColor = RGBColor(0x9a, 0x9a, 0x9a);

static FONT_STATE: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers the embedded font exactly once.
fn ensure_font() -> Result<(), PlotError> {
    FONT_STATE
        .get_or_init(|| {
            register_font(FONT, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "embedded DejaVuSans.ttf could not be parsed".to_string())
        })
        .clone()
        .map_err(PlotError::Font)
}

fn be<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Backend(e.to_string())
}

fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_os_string();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn font(px: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, px).into_font())
}

// ---------------------------------------------------------------------------
// Tick computation and formatting
// ---------------------------------------------------------------------------

/// One axis in plot coordinates (log10 of the value for log axes).
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    minor: Vec<f64>,
    labels: Vec<String>,
}

impl Axis {
    fn label_of(&self, v: f64) -> String {
        let mut best: Option<(f64, &String)> = None;
        for (t, l) in self.ticks.iter().zip(&self.labels) {
            let d = (t - v).abs();
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, l));
            }
        }
        best.map(|(_, l)| l.clone()).unwrap_or_default()
    }

    fn spec(&self) -> TickCoord {
        TickCoord {
            lo: self.lo,
            hi: self.hi,
            ticks: self.ticks.clone(),
            minor: self.minor.clone(),
        }
    }
}

/// Linear coordinate (in plot coordinates) with explicit major/minor ticks.
/// (`WithKeyPoints` of plotters 0.3.7 cannot be used with `configure_mesh`.)
struct TickCoord {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for TickCoord {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = (value - self.lo) / (self.hi - self.lo);
        // Float-to-int casts saturate, so far-away values cannot overflow.
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

fn nice_step(span: f64, target: f64) -> (f64, f64) {
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    };
    (m * mag, m)
}

fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let k0 = (lo / step - 1e-9).ceil();
    let k1 = (hi / step + 1e-9).floor();
    if !(k0.is_finite() && k1.is_finite()) || k1 - k0 > 1000.0 {
        return Vec::new();
    }
    let mut v = Vec::new();
    let mut k = k0;
    while k <= k1 {
        v.push(k * step);
        k += 1.0;
    }
    v
}

fn linear_axis(lo: f64, hi: f64) -> Axis {
    let (step, m) = nice_step(hi - lo, 7.0);
    let ticks = multiples(lo, hi, step);
    let sub = if m == 2.0 { 4.0 } else { 5.0 };
    let minor = multiples(lo, hi, step / sub);
    let labels = format_linear(&ticks, step);
    Axis {
        lo,
        hi,
        ticks,
        minor,
        labels,
    }
}

fn log_axis(lo: f64, hi: f64) -> Axis {
    let d0 = lo.ceil() as i64;
    let d1 = hi.floor() as i64;
    let n = d1 - d0 + 1;
    let in_range = |t: f64| t >= lo - 1e-12 && t <= hi + 1e-12;
    let mantissas = |ms: &[f64]| -> Vec<f64> {
        let mut v = Vec::new();
        for d in (lo.floor() as i64)..=(hi.ceil() as i64) {
            for &m in ms {
                let t = d as f64 + m.log10();
                if in_range(t) {
                    v.push(t);
                }
            }
        }
        v
    };
    let (ticks, minor) = if n >= 4 {
        let stride = ((n as f64) / 8.0).ceil().max(1.0) as i64;
        let ticks: Vec<f64> = (d0..=d1)
            .filter(|d| d.rem_euclid(stride) == 0)
            .map(|d| d as f64)
            .collect();
        let minor = if stride == 1 {
            mantissas(&[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
        } else {
            (d0..=d1)
                .filter(|d| d.rem_euclid(stride) != 0)
                .map(|d| d as f64)
                .collect()
        };
        (ticks, minor)
    } else {
        let t125 = mantissas(&[1.0, 2.0, 5.0]);
        let all = mantissas(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        if t125.len() >= 3 {
            (t125, all)
        } else if all.len() >= 2 {
            (all, Vec::new())
        } else {
            // Less than a factor ~2: linear ticks on the values.
            let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
            let (step, _) = nice_step(b - a, 5.0);
            let t = multiples(a, b, step)
                .into_iter()
                .filter(|v| *v > 0.0)
                .map(f64::log10)
                .collect();
            (t, Vec::new())
        }
    };
    let values: Vec<f64> = ticks.iter().map(|t| 10f64.powf(*t)).collect();
    let labels = format_log(&values);
    Axis {
        lo,
        hi,
        ticks,
        minor,
        labels,
    }
}

/// Shortest scientific representation (`1e-3`, `2.5e-4`).
fn fmt_sci(v: f64) -> String {
    for p in 0..=6 {
        let s = format!("{v:.p$e}");
        if s.parse::<f64>()
            .is_ok_and(|r| (r - v).abs() <= 1e-9 * v.abs())
        {
            return s;
        }
    }
    format!("{v:.6e}")
}

/// Shortest fixed representation (`0.1`, `10`).
fn fmt_fixed_min(v: f64) -> String {
    for p in 0..=8 {
        let s = format!("{v:.p$}");
        if s.parse::<f64>()
            .is_ok_and(|r| (r - v).abs() <= 1e-9 * v.abs())
        {
            return s;
        }
    }
    format!("{v}")
}

fn format_linear(ticks: &[f64], step: f64) -> Vec<String> {
    let maxabs = ticks.iter().fold(0.0f64, |a, t| a.max(t.abs()));
    let sci = !(1e-2..1e5).contains(&maxabs);
    let dec = (-step.log10() - 1e-9).ceil().max(0.0) as usize;
    ticks
        .iter()
        .map(|&t| {
            if t.abs() < 1e-9 * step {
                "0".to_string()
            } else if sci {
                fmt_sci(t)
            } else {
                format!("{t:.dec$}")
            }
        })
        .collect()
}

fn format_log(values: &[f64]) -> Vec<String> {
    let maxabs = values.iter().fold(0.0f64, |a, t| a.max(t.abs()));
    let minabs = values.iter().fold(f64::INFINITY, |a, t| a.min(t.abs()));
    let sci = maxabs >= 1e5 || minabs < 1e-2;
    values
        .iter()
        .map(|&v| if sci { fmt_sci(v) } else { fmt_fixed_min(v) })
        .collect()
}

/// About three significant digits, for colour-bar labels.
fn fmt_sig(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    if (1e-2..1e4).contains(&a) {
        let dec = (2.0 - a.log10().floor()).max(0.0) as usize;
        let s = format!("{v:.dec$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        let s = format!("{v:.2e}");
        match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => s,
        }
    }
}

fn padded_range(min: f64, max: f64, scale: Scale) -> Result<(f64, f64), PlotError> {
    let span = max - min;
    if !span.is_finite() {
        return Err(PlotError::InvalidInput(
            "data range too large to plot".to_string(),
        ));
    }
    let (lo, hi) = if span > 0.0 {
        (min - 0.04 * span, max + 0.04 * span)
    } else {
        let d = match scale {
            Scale::Log10 => 0.5,
            Scale::Linear if min == 0.0 => 1.0,
            Scale::Linear => 0.1 * min.abs(),
        };
        (min - d, max + d)
    };
    if lo.is_finite() && hi.is_finite() && hi > lo {
        Ok((lo, hi))
    } else {
        Err(PlotError::InvalidInput(
            "data range cannot be represented".to_string(),
        ))
    }
}

// ---------------------------------------------------------------------------
// Line plots
// ---------------------------------------------------------------------------

fn to_plot(v: f64, scale: Scale) -> Option<f64> {
    match scale {
        Scale::Linear => v.is_finite().then_some(v),
        Scale::Log10 => (v.is_finite() && v > 0.0)
            .then(|| v.log10())
            .filter(|l| l.is_finite()),
    }
}

struct PSeries {
    color: RGBColor,
    style: SeriesStyle,
    marker: usize,
    segments: Vec<Vec<(f64, f64)>>,
}

struct LegendItem {
    label: String,
    color: RGBColor,
    style: SeriesStyle,
    marker: usize,
}

struct Prepared {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<PSeries>,
    hlines: Vec<f64>,
    legend_items: Vec<LegendItem>,
    legend: LegendPos,
    x: Axis,
    y: Axis,
}

fn prepare(plot: &LinePlot) -> Result<Prepared, PlotError> {
    let mut series = Vec::new();
    let mut legend_items = Vec::new();
    let (mut xmin, mut xmax) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut ymin, mut ymax) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, s) in plot.series.iter().enumerate() {
        if s.x.len() != s.y.len() {
            return Err(PlotError::InvalidInput(format!(
                "series {i} ('{}'): x has {} points, y has {}",
                s.label,
                s.x.len(),
                s.y.len()
            )));
        }
        let mut segments = Vec::new();
        let mut cur: Vec<(f64, f64)> = Vec::new();
        for (&x, &y) in s.x.iter().zip(&s.y) {
            match (to_plot(x, plot.x_scale), to_plot(y, plot.y_scale)) {
                (Some(px), Some(py)) => {
                    xmin = xmin.min(px);
                    xmax = xmax.max(px);
                    ymin = ymin.min(py);
                    ymax = ymax.max(py);
                    cur.push((px, py));
                }
                _ => {
                    if !cur.is_empty() {
                        segments.push(std::mem::take(&mut cur));
                    }
                }
            }
        }
        if !cur.is_empty() {
            segments.push(cur);
        }
        if segments.is_empty() {
            continue;
        }
        let ci = s.color.unwrap_or(i);
        let color = PALETTE[ci % PALETTE_LEN];
        let marker = (ci / PALETTE_LEN) % 4;
        if !s.label.is_empty() {
            legend_items.push(LegendItem {
                label: s.label.clone(),
                color,
                style: s.style,
                marker,
            });
        }
        series.push(PSeries {
            color,
            style: s.style,
            marker,
            segments,
        });
    }
    if series.is_empty() {
        return Err(PlotError::EmptyData(format!(
            "plot '{}': no series has a finite{} point",
            plot.title,
            if plot.x_scale == Scale::Log10 || plot.y_scale == Scale::Log10 {
                " (and positive on log axes)"
            } else {
                ""
            }
        )));
    }
    let mut hlines = Vec::new();
    for h in &plot.hlines {
        if let Some(py) = to_plot(h.y, plot.y_scale) {
            ymin = ymin.min(py);
            ymax = ymax.max(py);
            hlines.push(py);
            if !h.label.is_empty() {
                legend_items.push(LegendItem {
                    label: h.label.clone(),
                    color: BLACK,
                    style: SeriesStyle::Dashed,
                    marker: usize::MAX,
                });
            }
        }
    }
    let (xlo, xhi) = padded_range(xmin, xmax, plot.x_scale)?;
    let (ylo, yhi) = padded_range(ymin, ymax, plot.y_scale)?;
    let axis = |lo, hi, s| match s {
        Scale::Linear => linear_axis(lo, hi),
        Scale::Log10 => log_axis(lo, hi),
    };
    Ok(Prepared {
        title: plot.title.clone(),
        x_label: plot.x_label.clone(),
        y_label: plot.y_label.clone(),
        series,
        hlines,
        legend_items,
        legend: plot.legend,
        x: axis(xlo, xhi, plot.x_scale),
        y: axis(ylo, yhi, plot.y_scale),
    })
}

/// Writes `<stem>.png` (1000x700) and `<stem>.svg` for `plot`.
///
/// Axis ranges are computed over all plottable points and reference lines,
/// with a 4 % margin. Series without any plottable point are skipped;
/// if no series has one, [`PlotError::EmptyData`] is returned.
pub fn line_plot(plot: &LinePlot, stem: &Path) -> Result<(), PlotError> {
    ensure_font()?;
    let prep = prepare(plot)?;
    let png = with_ext(stem, "png");
    {
        let root = BitMapBackend::new(&png, (LINE_W, LINE_H)).into_drawing_area();
        render_line(&root, &prep)?;
        root.present().map_err(be)?;
    }
    let svg = with_ext(stem, "svg");
    {
        let root = SVGBackend::new(&svg, (LINE_W, LINE_H)).into_drawing_area();
        render_line(&root, &prep)?;
        root.present().map_err(be)?;
    }
    Ok(())
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<TickCoord, TickCoord>>;

fn build_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    prep: &Prepared,
    y_area: u32,
) -> Result<Chart<'a, DB>, PlotError> {
    ChartBuilder::on(area)
        .margin_top(12)
        .margin_bottom(8)
        .margin_left(10)
        .margin_right(25)
        .x_label_area_size(58)
        .y_label_area_size(y_area)
        .build_cartesian_2d(prep.x.spec(), prep.y.spec())
        .map_err(be)
}

const LEG_SAMPLE: i32 = 40;
const LEG_PAD: i32 = 8;
const LEG_INSET: i32 = 10;

fn legend_size<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    items: &[LegendItem],
) -> Result<(i32, i32, i32), PlotError> {
    let style = font(LEGEND_PX);
    let mut w = 0;
    for it in items {
        let (tw, _) = root.estimate_text_size(&it.label, &style).map_err(be)?;
        w = w.max(tw as i32);
    }
    let row = LEGEND_PX as i32 + 8;
    Ok((
        LEG_PAD * 3 + LEG_SAMPLE + w,
        LEG_PAD * 2 + row * items.len() as i32,
        row,
    ))
}

/// Number of data samples (pixels) covered by a rectangle.
fn covered<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    prep: &Prepared,
    rect: (i32, i32, i32, i32),
) -> usize {
    let (x0, y0, x1, y1) = rect;
    let inside = |p: (i32, i32)| p.0 >= x0 - 4 && p.0 <= x1 + 4 && p.1 >= y0 - 4 && p.1 <= y1 + 4;
    let mut n = 0;
    for s in &prep.series {
        for seg in &s.segments {
            let pts: Vec<(i32, i32)> = seg.iter().map(|p| chart.backend_coord(p)).collect();
            for (k, &p) in pts.iter().enumerate() {
                n += usize::from(inside(p));
                if s.style != SeriesStyle::Markers {
                    if let Some(&q) = pts.get(k + 1) {
                        let len = ((q.0 - p.0).abs() + (q.1 - p.1).abs()) as usize;
                        let m = (len / 4).min(2000);
                        for j in 1..m {
                            let f = j as f64 / m as f64;
                            let r = (
                                p.0 + (f * f64::from(q.0 - p.0)) as i32,
                                p.1 + (f * f64::from(q.1 - p.1)) as i32,
                            );
                            n += usize::from(inside(r));
                        }
                    }
                }
            }
        }
    }
    for &h in &prep.hlines {
        let (_, py) = chart.backend_coord(&(prep.x.lo, h));
        if py >= y0 - 4 && py <= y1 + 4 {
            n += 1;
        }
    }
    n
}

fn corner_rect<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    pos: LegendPos,
    w: i32,
    h: i32,
) -> (i32, i32, i32, i32) {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let (l, r, t, b) = (xr.start, xr.end, yr.start, yr.end);
    let x0 = match pos {
        LegendPos::UpperLeft | LegendPos::LowerLeft => l + LEG_INSET,
        _ => r - LEG_INSET - w,
    };
    let y0 = match pos {
        LegendPos::LowerLeft | LegendPos::LowerRight => b - LEG_INSET - h,
        _ => t + LEG_INSET,
    };
    (x0, y0, x0 + w, y0 + h)
}

fn draw_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    p: CT::From,
    shape: usize,
    color: RGBColor,
) -> Result<(), PlotError> {
    let fill = color.filled();
    match shape {
        0 => area.draw(&Circle::new(p, 4, fill)),
        1 => area.draw(&TriangleMarker::new(p, 6, fill)),
        2 => area.draw(&(EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], fill))),
        _ => area.draw(&Cross::new(p, 5, color.stroke_width(2))),
    }
    .map_err(be)
}

fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    items: &[LegendItem],
    (x0, y0, x1, y1): (i32, i32, i32, i32),
    row: i32,
) -> Result<(), PlotError> {
    root.draw(&Rectangle::new(
        [(x0, y0), (x1, y1)],
        WHITE.mix(0.85).filled(),
    ))
    .map_err(be)?;
    root.draw(&Rectangle::new(
        [(x0, y0), (x1, y1)],
        RGBColor(0x80, 0x80, 0x80).stroke_width(1),
    ))
    .map_err(be)?;
    let text = font(LEGEND_PX).pos(Pos::new(HPos::Left, VPos::Center));
    for (k, it) in items.iter().enumerate() {
        let yc = y0 + LEG_PAD + row * k as i32 + row / 2;
        let (a, b) = (x0 + LEG_PAD, x0 + LEG_PAD + LEG_SAMPLE);
        let line = it.color.stroke_width(2);
        match it.style {
            SeriesStyle::Line | SeriesStyle::LineMarkers => root
                .draw(&PathElement::new(vec![(a, yc), (b, yc)], line))
                .map_err(be)?,
            SeriesStyle::Dashed => root
                .draw(&DashedPathElement::new(vec![(a, yc), (b, yc)], 8, 5, line))
                .map_err(be)?,
            SeriesStyle::Markers => {}
        }
        if matches!(it.style, SeriesStyle::Markers | SeriesStyle::LineMarkers) {
            draw_marker(root, ((a + b) / 2, yc), it.marker, it.color)?;
        }
        root.draw_text(&it.label, &text, (b + LEG_PAD, yc))
            .map_err(be)?;
    }
    Ok(())
}

fn render_line<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    prep: &Prepared,
) -> Result<(), PlotError> {
    root.fill(&WHITE).map_err(be)?;
    let body = if prep.title.is_empty() {
        root.clone()
    } else {
        root.titled(&prep.title, font(TITLE_PX)).map_err(be)?
    };

    // Room for the y tick labels plus the rotated axis description.
    let tick_style = font(TICK_PX);
    let mut tick_w = 0;
    for l in &prep.y.labels {
        tick_w = tick_w.max(root.estimate_text_size(l, &tick_style).map_err(be)?.0);
    }
    let y_area = tick_w
        + 20
        + if prep.y_label.is_empty() {
            0
        } else {
            DESC_PX + 14
        };

    let (leg_w, leg_h, row) = legend_size(root, &prep.legend_items)?;
    let show_legend = !prep.legend_items.is_empty() && prep.legend != LegendPos::Hidden;

    let mut placement = prep.legend;
    if show_legend && placement == LegendPos::Auto {
        let chart = build_chart(&body, prep, y_area)?;
        placement = LegendPos::OutsideRight;
        for pos in [
            LegendPos::UpperRight,
            LegendPos::UpperLeft,
            LegendPos::LowerRight,
            LegendPos::LowerLeft,
        ] {
            if covered(&chart, prep, corner_rect(&chart, pos, leg_w, leg_h)) == 0 {
                placement = pos;
                break;
            }
        }
    }

    let outside = show_legend && placement == LegendPos::OutsideRight;
    let (plot_area, legend_area) = if outside {
        let (w, _) = body.dim_in_pixel();
        let split = (w as i32 - leg_w - 12).max(w as i32 / 2);
        let (l, r) = body.split_horizontally(split);
        (l, Some(r))
    } else {
        (body.clone(), None)
    };

    let mut chart = build_chart(&plot_area, prep, y_area)?;
    let xf = |v: &f64| prep.x.label_of(*v);
    let yf = |v: &f64| prep.y.label_of(*v);
    chart
        .configure_mesh()
        .x_desc(prep.x_label.as_str())
        .y_desc(prep.y_label.as_str())
        .axis_desc_style(font(DESC_PX))
        .label_style(font(TICK_PX))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .bold_line_style(BLACK.mix(0.18).stroke_width(1))
        .light_line_style(BLACK.mix(0.06).stroke_width(1))
        .axis_style(BLACK.stroke_width(1))
        .set_all_tick_mark_size(6)
        .draw()
        .map_err(be)?;

    for &h in &prep.hlines {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(prep.x.lo, h), (prep.x.hi, h)],
                10,
                6,
                BLACK.stroke_width(2),
            ))
            .map_err(be)?;
    }

    for s in &prep.series {
        let line = s.color.stroke_width(2);
        for seg in &s.segments {
            match s.style {
                SeriesStyle::Line | SeriesStyle::LineMarkers => {
                    chart
                        .draw_series(LineSeries::new(seg.iter().copied(), line))
                        .map_err(be)?;
                }
                SeriesStyle::Dashed => {
                    chart
                        .draw_series(DashedLineSeries::new(seg.iter().copied(), 10, 6, line))
                        .map_err(be)?;
                }
                SeriesStyle::Markers => {}
            }
            let lone = seg.len() == 1 && matches!(s.style, SeriesStyle::Line | SeriesStyle::Dashed);
            if matches!(s.style, SeriesStyle::Markers | SeriesStyle::LineMarkers) || lone {
                for &p in seg {
                    draw_marker(chart.plotting_area(), p, s.marker, s.color)?;
                }
            }
        }
    }

    if show_legend {
        let rect = match (placement, legend_area) {
            (LegendPos::OutsideRight, Some(area)) => {
                let (xr, _) = area.get_pixel_range();
                let (_, yr) = chart.plotting_area().get_pixel_range();
                let x0 = xr.start + 4;
                (x0, yr.start, x0 + leg_w, yr.start + leg_h)
            }
            (pos, _) => corner_rect(&chart, pos, leg_w, leg_h),
        };
        draw_legend(root, &prep.legend_items, rect, row)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Image panels
// ---------------------------------------------------------------------------

const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x24, 0x75),
    (0x41, 0x44, 0x87),
    (0x35, 0x5f, 0x8d),
    (0x2a, 0x78, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x22, 0xa8, 0x84),
    (0x44, 0xbf, 0x70),
    (0x7a, 0xd1, 0x51),
    (0xbd, 0xdf, 0x26),
    (0xfd, 0xe7, 0x25),
];

/// ColorBrewer RdBu reversed: negative = blue, 0 = white, positive = red.
const BWR: [(u8, u8, u8); 11] = [
    (0x05, 0x30, 0x61),
    (0x21, 0x66, 0xac),
    (0x43, 0x93, 0xc3),
    (0x92, 0xc5, 0xde),
    (0xd1, 0xe5, 0xf0),
    (0xf7, 0xf7, 0xf7),
    (0xfd, 0xdb, 0xc7),
    (0xf4, 0xa5, 0x82),
    (0xd6, 0x60, 0x4d),
    (0xb2, 0x18, 0x2b),
    (0x67, 0x00, 0x1f),
];

/// Colour for `t` in [0, 1], quantised to 256 levels.
fn cmap(t: f64, diverging: bool) -> RGBColor {
    let anchors = if diverging { &BWR } else { &VIRIDIS };
    let t = (t.clamp(0.0, 1.0) * 255.0).round() / 255.0;
    let f = t * (anchors.len() - 1) as f64;
    let i = (f.floor() as usize).min(anchors.len() - 2);
    let w = f - i as f64;
    let (a, b) = (anchors[i], anchors[i + 1]);
    let lerp = |p: u8, q: u8| (f64::from(p) + w * (f64::from(q) - f64::from(p))).round() as u8;
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// Block-averages to at most `MAX_SIDE` cells per side (NaN-aware).
const MAX_SIDE: usize = 256;

fn downsample(p: &ImagePanel) -> (usize, usize, Vec<f64>) {
    let f = p.nx.max(p.ny).div_ceil(MAX_SIDE);
    if f <= 1 {
        return (p.nx, p.ny, p.data.clone());
    }
    let (mx, my) = (p.nx.div_ceil(f), p.ny.div_ceil(f));
    let mut out = vec![f64::NAN; mx * my];
    for by in 0..my {
        for bx in 0..mx {
            let (mut s, mut c) = (0.0, 0usize);
            for y in by * f..((by + 1) * f).min(p.ny) {
                for x in bx * f..((bx + 1) * f).min(p.nx) {
                    let v = p.data[y * p.nx + x];
                    if v.is_finite() {
                        s += v;
                        c += 1;
                    }
                }
            }
            if c > 0 {
                out[by * mx + bx] = s / c as f64;
            }
        }
    }
    (mx, my, out)
}

struct PPanel<'a> {
    title: &'a str,
    nx: usize,
    ny: usize,
    data: Vec<f64>,
    diverging: bool,
    /// Colour limits; `None` when the panel has no finite value.
    limits: Option<(f64, f64)>,
    has_nan: bool,
}

const PANEL_IMG: i32 = 340;
const PANEL_W: i32 = 490;
const ROW_H: u32 = 470;

/// Writes a row of image panels, each with its own colour bar, as
/// `<stem>.png` and `<stem>.svg` (490 px wide per panel, 470 px high).
///
/// Images larger than 256 cells on a side are block-averaged (NaN-aware)
/// before drawing; each cell is a square, nearest-neighbour rectangle.
/// A panel without finite values is drawn all grey; if no panel has a finite
/// value (or `panels` is empty) [`PlotError::EmptyData`] is returned.
/// Intended for up to ~5 panels (the canvas widens with the count).
pub fn image_row(panels: &[ImagePanel], title: &str, stem: &Path) -> Result<(), PlotError> {
    ensure_font()?;
    if panels.is_empty() {
        return Err(PlotError::EmptyData(format!(
            "image row '{title}': no panels"
        )));
    }
    let mut prepared = Vec::with_capacity(panels.len());
    for (i, p) in panels.iter().enumerate() {
        if p.nx == 0 || p.ny == 0 {
            return Err(PlotError::EmptyData(format!(
                "panel {i} ('{}') has size {}x{}",
                p.title, p.nx, p.ny
            )));
        }
        if p.nx.checked_mul(p.ny) != Some(p.data.len()) {
            return Err(PlotError::InvalidInput(format!(
                "panel {i} ('{}'): {} values for {}x{} cells",
                p.title,
                p.data.len(),
                p.nx,
                p.ny
            )));
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut has_nan = false;
        for &v in &p.data {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            } else {
                has_nan = true;
            }
        }
        let limits = (lo <= hi).then(|| {
            if p.diverging {
                let a = lo.abs().max(hi.abs());
                let a = if a > 0.0 { a } else { 1.0 };
                (-a, a)
            } else if hi > lo {
                (lo, hi)
            } else {
                let d = if lo == 0.0 { 1.0 } else { 0.5 * lo.abs() };
                (lo - d, hi + d)
            }
        });
        let (nx, ny, data) = downsample(p);
        prepared.push(PPanel {
            title: &p.title,
            nx,
            ny,
            data,
            diverging: p.diverging,
            limits,
            has_nan,
        });
    }
    if prepared.iter().all(|p| p.limits.is_none()) {
        return Err(PlotError::EmptyData(format!(
            "image row '{title}': no finite values in any panel"
        )));
    }
    let size = ((PANEL_W as u32) * panels.len() as u32, ROW_H);
    let png = with_ext(stem, "png");
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        render_images(&root, &prepared, title)?;
        root.present().map_err(be)?;
    }
    let svg = with_ext(stem, "svg");
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        render_images(&root, &prepared, title)?;
        root.present().map_err(be)?;
    }
    Ok(())
}

fn render_images<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[PPanel<'_>],
    title: &str,
) -> Result<(), PlotError> {
    root.fill(&WHITE).map_err(be)?;
    let top = if title.is_empty() {
        10
    } else {
        root.draw_text(
            title,
            &font(TITLE_PX).pos(Pos::new(HPos::Center, VPos::Top)),
            (root.dim_in_pixel().0 as i32 / 2, 12),
        )
        .map_err(be)?;
        12 + TITLE_PX as i32 + 10
    };
    let ptitle = font(18).pos(Pos::new(HPos::Center, VPos::Top));
    let lab = font(TICK_PX).pos(Pos::new(HPos::Left, VPos::Center));
    for (k, p) in panels.iter().enumerate() {
        let left = k as i32 * PANEL_W + 25;
        root.draw_text(p.title, &ptitle, (left + PANEL_IMG / 2, top + 8))
            .map_err(be)?;
        let box_top = top + 40;
        // Square cells, image centred in a PANEL_IMG x PANEL_IMG box.
        let cell = (f64::from(PANEL_IMG) / p.nx as f64).min(f64::from(PANEL_IMG) / p.ny as f64);
        let (iw, ih) = (
            (cell * p.nx as f64).round() as i32,
            (cell * p.ny as f64).round() as i32,
        );
        let ox = left + (PANEL_IMG - iw) / 2;
        let oy = box_top + (PANEL_IMG - ih) / 2;
        let edge = |o: i32, i: usize| o + (cell * i as f64).round() as i32;
        let color_of = |v: f64| match p.limits {
            Some((lo, hi)) if v.is_finite() => cmap((v - lo) / (hi - lo), p.diverging),
            _ => NAN_GREY,
        };
        for row in 0..p.ny {
            let (y0, y1) = (edge(oy, row), edge(oy, row + 1));
            let mut col = 0;
            while col < p.nx {
                let c = color_of(p.data[row * p.nx + col]);
                let mut end = col + 1;
                while end < p.nx && color_of(p.data[row * p.nx + end]) == c {
                    end += 1;
                }
                let (x0, x1) = (edge(ox, col), edge(ox, end));
                if x1 > x0 && y1 > y0 {
                    root.draw(&Rectangle::new([(x0, y0), (x1, y1)], c.filled()))
                        .map_err(be)?;
                }
                col = end;
            }
        }
        root.draw(&Rectangle::new(
            [(ox - 1, oy - 1), (ox + iw, oy + ih)],
            BLACK.stroke_width(1),
        ))
        .map_err(be)?;

        // Colour bar spanning the image height.
        let bx = left + PANEL_IMG + 14;
        let bw = 18;
        let (b0, b1) = (oy, oy + ih);
        match p.limits {
            Some((lo, hi)) => {
                let n = (b1 - b0).max(1);
                for j in 0..n {
                    let t = 1.0 - (f64::from(j) + 0.5) / f64::from(n);
                    root.draw(&Rectangle::new(
                        [(bx, b0 + j), (bx + bw, b0 + j + 1)],
                        cmap(t, p.diverging).filled(),
                    ))
                    .map_err(be)?;
                }
                let mut ticks = vec![(hi, b0), (lo, b1 - 1)];
                if p.diverging {
                    ticks.push((0.0, (b0 + b1) / 2));
                }
                for (v, y) in ticks {
                    root.draw(&PathElement::new(
                        vec![(bx + bw, y), (bx + bw + 4, y)],
                        BLACK.stroke_width(1),
                    ))
                    .map_err(be)?;
                    root.draw_text(&fmt_sig(v), &lab, (bx + bw + 7, y))
                        .map_err(be)?;
                }
            }
            None => {
                root.draw(&Rectangle::new(
                    [(bx, b0), (bx + bw, b1)],
                    NAN_GREY.filled(),
                ))
                .map_err(be)?;
                root.draw_text("no finite data", &lab, (bx + bw + 7, (b0 + b1) / 2))
                    .map_err(be)?;
            }
        }
        root.draw(&Rectangle::new(
            [(bx - 1, b0 - 1), (bx + bw, b1)],
            BLACK.stroke_width(1),
        ))
        .map_err(be)?;
        if p.has_nan && p.limits.is_some() {
            root.draw(&Rectangle::new(
                [(ox, oy + ih + 12), (ox + 14, oy + ih + 26)],
                NAN_GREY.filled(),
            ))
            .map_err(be)?;
            root.draw_text("NaN / non-finite", &lab, (ox + 20, oy + ih + 19))
                .map_err(be)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("cgkl_plot_{name}_{}_{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn assert_nonempty(stem: &Path) {
        for ext in ["png", "svg"] {
            let p = with_ext(stem, ext);
            let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            assert!(len > 0, "{} missing or empty", p.display());
        }
    }

    #[test]
    fn line_plot_writes_files() {
        let dir = tmp("line");
        let x: Vec<f64> = (1..=20).map(|i| f64::from(i) * 1e-3).collect();
        let plot = LinePlot {
            title: "t".into(),
            x_label: "dt".into(),
            y_label: "err".into(),
            x_scale: Scale::Log10,
            y_scale: Scale::Log10,
            series: vec![
                Series::new(
                    "a",
                    x.clone(),
                    x.iter().map(|v| v * v).collect(),
                    SeriesStyle::LineMarkers,
                ),
                Series::new("nan", x.clone(), vec![f64::NAN; x.len()], SeriesStyle::Line),
            ],
            hlines: vec![HLine {
                y: 1e-5,
                label: "ref".into(),
            }],
            legend: LegendPos::Auto,
        };
        let stem = dir.join("line");
        line_plot(&plot, &stem).unwrap();
        assert_nonempty(&stem);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn all_nan_is_empty_data() {
        let dir = tmp("nan");
        let plot = LinePlot {
            series: vec![Series::new(
                "n",
                vec![1.0, 2.0],
                vec![f64::NAN; 2],
                SeriesStyle::Line,
            )],
            ..LinePlot::default()
        };
        let r = line_plot(&plot, &dir.join("nan"));
        assert!(matches!(r, Err(PlotError::EmptyData(_))), "{r:?}");
        // Non-positive values on a log axis are not plottable either.
        let plot = LinePlot {
            y_scale: Scale::Log10,
            series: vec![Series::new(
                "z",
                vec![1.0, 2.0],
                vec![0.0, -1.0],
                SeriesStyle::Line,
            )],
            ..LinePlot::default()
        };
        let r = line_plot(&plot, &dir.join("neg"));
        assert!(matches!(r, Err(PlotError::EmptyData(_))), "{r:?}");
        let panel = ImagePanel {
            title: "p".into(),
            nx: 2,
            ny: 2,
            data: vec![f64::NAN; 4],
            diverging: false,
        };
        let r = image_row(&[panel], "x", &dir.join("img"));
        assert!(matches!(r, Err(PlotError::EmptyData(_))), "{r:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn image_row_writes_files_and_downsamples() {
        let dir = tmp("img");
        let n = 300;
        let data: Vec<f64> = (0..n * n).map(|k| ((k % n) as f64 * 0.05).sin()).collect();
        let mut with_nan = data.clone();
        with_nan[5] = f64::NAN;
        let panels = [
            ImagePanel {
                title: "a".into(),
                nx: n,
                ny: n,
                data,
                diverging: false,
            },
            ImagePanel {
                title: "b".into(),
                nx: n,
                ny: n,
                data: with_nan,
                diverging: true,
            },
        ];
        let stem = dir.join("img");
        image_row(&panels, "row", &stem).unwrap();
        assert_nonempty(&stem);
        let bad = ImagePanel {
            title: "bad".into(),
            nx: 3,
            ny: 3,
            data: vec![0.0; 4],
            diverging: false,
        };
        assert!(matches!(
            image_row(&[bad], "x", &stem),
            Err(PlotError::InvalidInput(_))
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn tick_labels() {
        let a = log_axis(-5.2, -1.8);
        assert_eq!(a.labels, vec!["1e-5", "1e-4", "1e-3", "1e-2"]);
        let b = linear_axis(-0.0008, 0.0208);
        assert_eq!(b.labels.first().map(String::as_str), Some("0"));
        assert!(b.labels.contains(&"0.010".to_string()), "{:?}", b.labels);
        let c = log_axis(-1.1, 2.1);
        assert_eq!(c.labels, vec!["0.1", "1", "10", "100"]);
        assert_eq!(fmt_sig(0.012345), "0.0123");
        assert_eq!(fmt_sig(-2.5e-5), "-2.5e-5");
    }
}
