//! Run configuration (TOML). Every run is fully described by a [`Config`]; the defaults are
//! the `paper_toy` problem of SPEC §8. Unknown keys are rejected; `--set key=value` overrides
//! go through [`Config::from_toml_with_overrides`].

use crate::beta::BetaSchedule;
use crate::error::{escape_control, one_line, CgklError, Result};
use crate::flux::Flux;
use crate::integrator::IntegratorKind;
use crate::linsolve::LinearSolver;
use crate::schedule::ScheduleKind;
use serde::{Deserialize, Serialize};

/// `[grid]`: the pixel grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GridConfig {
    /// Cells along x.
    pub nx: usize,
    /// Cells along y.
    pub ny: usize,
}

impl Default for GridConfig {
    fn default() -> Self {
        Self { nx: 128, ny: 128 }
    }
}

/// `[partition]`: the blocks (SPEC §1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PartitionConfig {
    /// Rectangular tiles `bx × by`; tile label `(iy div (ny/by))·bx + ix div (nx/bx)`.
    Tiles {
        /// Tiles along x (must divide nx).
        #[serde(default = "default_tiles")]
        bx: usize,
        /// Tiles along y (must divide ny).
        #[serde(default = "default_tiles")]
        by: usize,
    },
    /// Class regions from a label image: a single-channel integer PNG/PGM/TIFF, or an integer
    /// dataset of an HDF5 file, using every label 0…m−1 (regions may be any shape, also not
    /// connected). Resampled to the grid by area-weighted majority if its size differs.
    Labels {
        /// Path of the label image (relative paths: from the working directory).
        file: String,
        /// Dataset name inside an HDF5 label file (default `labels`; ignored for images).
        #[serde(default = "default_label_dataset")]
        dataset: String,
    },
}

fn default_tiles() -> usize {
    4
}
fn default_label_dataset() -> String {
    "labels".into()
}

impl Default for PartitionConfig {
    fn default() -> Self {
        PartitionConfig::Tiles { bx: 4, by: 4 }
    }
}

impl PartitionConfig {
    /// `(bx, by)` of a tile partition, `None` for a label image.
    pub fn tiles(&self) -> Option<(usize, usize)> {
        match self {
            PartitionConfig::Tiles { bx, by } => Some((*bx, *by)),
            PartitionConfig::Labels { .. } => None,
        }
    }
}

/// `[data]`: the data image q0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DataConfig {
    /// Block-constant checkerboard on the partition's tiles, bright:dark = contrast:1.
    Checkerboard {
        /// Bright/dark ratio (paper_toy: 4).
        #[serde(default = "default_contrast")]
        contrast: f64,
    },
    /// Checkerboard times `1 + a sin(2πkξ) sin(2πkζ)` inside each tile.
    Textured {
        /// Bright/dark ratio (default 4).
        #[serde(default = "default_contrast")]
        contrast: f64,
        /// Texture amplitude a ∈ [0, 1) (default 0.5).
        #[serde(default = "default_amplitude")]
        amplitude: f64,
        /// Texture periods k per tile side (default 2).
        #[serde(default = "default_periods")]
        periods: u32,
    },
    /// The B-relax target of SPEC §8, normalised.
    Brelax,
    /// A grayscale photograph (PNG, PGM or TIFF): luminance (Rec. 709 weights for colour),
    /// area-averaged onto the grid, floored at `floor · max`, normalised.
    Image {
        /// Path of the image (relative paths: from the working directory).
        file: String,
        /// Relative floor f ∈ [0, 1): `q0_i ∝ max(L_i, f · max_k L_k)` (default 1e-3), so that
        /// black pixels keep a positive mass; f = 0 makes a zero pixel an error.
        #[serde(default = "default_floor")]
        floor: f64,
    },
    /// `q0 ∝ exp(f(x, y))` with f given as a formula in x, y (module `expr`).
    Formula {
        /// ln q0 up to a constant, e.g. `"-((x-0.5)^2 + (y-0.5)^2)/0.02"`.
        log_q: String,
    },
}

fn default_floor() -> f64 {
    1e-3
}

fn default_contrast() -> f64 {
    4.0
}
fn default_amplitude() -> f64 {
    0.5
}
fn default_periods() -> u32 {
    2
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig::Checkerboard { contrast: 4.0 }
    }
}

/// `[forward]`: the noising heat flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardConfig {
    /// Cross-block conductance ε_fwd ∈ [0, 1].
    pub eps_fwd: f64,
    /// Horizon T > 0.
    pub horizon: f64,
    /// Rate schedule β(t).
    pub beta: BetaSchedule,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        Self {
            eps_fwd: 0.0,
            horizon: 0.02,
            beta: BetaSchedule::default(),
        }
    }
}

/// `[score]`: the score model q̂.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScoreConfig {
    /// q̂ = q_t, the ε_fwd oracle.
    #[default]
    Oracle,
    /// ln q̂ = ln q_t + σ ξ with ξ a seeded smooth unit-RMS field of correlation length ℓ cells.
    Perturbed {
        /// Perturbation size σ ≥ 0.
        sigma: f64,
        /// Correlation length ℓ in cells (default 4).
        corr_len: f64,
        /// Seed of ξ.
        seed: u64,
    },
    /// q̂ computed with ε_score ≠ ε_fwd (the leakage experiment).
    Misspecified {
        /// Cross-block conductance of the score's forward model.
        eps_score: f64,
    },
    /// An external field from an HDF5 file: `t` (K, increasing forward times) and `log_q`
    /// (K × ny × nx), ln q̂ linear in t between the given times, constant beyond them.
    External {
        /// Path of the HDF5 file (relative paths: from the working directory).
        file: String,
    },
    /// ln q̂_t(x, y) given as a formula in x, y and the forward time t (module `expr`).
    Formula {
        /// ln q̂ up to a constant (only differences enter the rates).
        log_q: String,
    },
    /// A potential problem `∂_s ρ = ∇·(D(∇ρ + ρ∇U))` with U(x, y, t) a formula in the run's own
    /// time t = s (not the reverse time of a score); needs `reverse.flux.kind = "potential_sg"`.
    /// β is not used; κ^rev (ε_rev) still scales the cross-block faces.
    Potential {
        /// U(x, y, t), e.g. B-relax: `"-ln(0.05 + 0.6*exp(-((x-0.3)^2+(y-0.3)^2)/(2*0.08^2)) + …)"`.
        potential: String,
        /// Diffusion coefficient D > 0.
        diffusion: f64,
    },
}

/// `[reverse]`: the reverse Fokker–Planck flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReverseConfig {
    /// Reverse cross-block conductance ε_rev ∈ [0, 1].
    pub eps_rev: f64,
    /// Face flux.
    pub flux: Flux,
}

impl Default for ReverseConfig {
    fn default() -> Self {
        Self {
            eps_rev: 0.05,
            flux: Flux::ChainReversal,
        }
    }
}

/// Base image of the starting noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseBase {
    /// The uniform image.
    Uniform,
    /// The data q0.
    Data,
}

/// `[start]`: the initial state p_0 of the reverse run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StartConfig {
    /// base × log-normal pixel noise exp(σ z), renormalised.
    Noise {
        /// Base image.
        base: NoiseBase,
        /// Log-normal σ ≥ 0 (paper_toy: 0.5).
        sigma: f64,
        /// Seed.
        seed: u64,
    },
    /// p_0 = q_T from the ε_fwd oracle (exact-reversal checks).
    ForwardEnd,
    /// p_0 = q0.
    Data,
    /// The uniform image.
    Uniform,
}

impl Default for StartConfig {
    fn default() -> Self {
        StartConfig::Noise {
            base: NoiseBase::Uniform,
            sigma: 0.5,
            seed: 0,
        }
    }
}

/// `[projection]`: the V_δ projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectionConfig {
    /// Tolerance δ ≥ 0 (`inf`: never active; baseline bit for bit).
    pub delta: f64,
}

impl Default for ProjectionConfig {
    fn default() -> Self {
        Self { delta: 0.01 }
    }
}

/// `[schedule]`: the projection times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// uniform | geometric | karras | equal_entropy.
    pub kind: ScheduleKind,
    /// Number of projection steps N ≥ 1.
    pub n_steps: usize,
    /// σ_min > 0 for geometric and Karras.
    pub sigma_min: f64,
    /// Karras ρ.
    pub rho: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Uniform,
            n_steps: 40,
            sigma_min: 0.002,
            rho: 7.0,
        }
    }
}

/// Flow mode of the splitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowMode {
    /// One implicit-Euler step per Δt_n, generator at the step's end (the paper's kernel).
    Kernel,
    /// The FP flow integrated to tolerance between projections.
    Resolved,
}

impl FlowMode {
    /// Every mode, in the order sweeps run them.
    pub const ALL: [FlowMode; 2] = [FlowMode::Kernel, FlowMode::Resolved];

    /// `kernel` or `resolved`: the serde spelling (a unit test holds them equal).
    pub fn name(&self) -> &'static str {
        match self {
            FlowMode::Kernel => "kernel",
            FlowMode::Resolved => "resolved",
        }
    }
}

impl std::fmt::Display for FlowMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for FlowMode {
    type Err = String;
    /// Parses the serde spelling (`kernel`, `resolved`); the error lists the choices and the
    /// nearest one.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        parse_variant(s, &Self::ALL.map(|m| m.name()))
    }
}

impl std::str::FromStr for LinearSolver {
    type Err = String;
    /// Parses the serde spelling (`auto`, `direct`, `multigrid`); the error lists the choices
    /// and the nearest one. (Here, beside [`parse_variant`], so that `linsolve` needs no
    /// `config`.)
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        parse_variant(s, &Self::ALL.map(|m| m.name()))
    }
}

/// Parses a unit variant of a serde enum from its serde spelling, so the spelling has one
/// source (the enum's `rename_all`): `"kernel"` → `FlowMode::Kernel`. The error names the
/// choices and the nearest one (`names`, the spellings of every variant).
pub fn parse_variant<T: serde::de::DeserializeOwned>(
    s: &str,
    names: &[&str],
) -> std::result::Result<T, String> {
    use serde::de::value::{Error, StrDeserializer};
    use serde::de::IntoDeserializer;
    let word = s.trim();
    let de: StrDeserializer<'_, Error> = word.into_deserializer();
    T::deserialize(de).map_err(|_| {
        let hint = nearest(word, names)
            .map(|c| format!("; did you mean {c}?"))
            .unwrap_or_default();
        format!("use one of {}{hint}", names.join(", "))
    })
}

/// `[flow]`: the flow between projections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowConfig {
    /// kernel | resolved.
    pub mode: FlowMode,
    /// Integrator of the resolved mode (default `auto`, rtol 1e-8, atol 1e-12: uniformization for
    /// a time-independent generator, adaptive TR-BDF2 otherwise).
    pub integrator: IntegratorKind,
    /// Solver of the implicit systems `(I − aG)x = b` of both modes: `auto` (default: the
    /// direct solve, multigrid for a moving generator on grids of at least
    /// [`crate::linsolve::MULTIGRID_MIN_CELLS`] cells), `direct` or `multigrid`.
    pub linear_solver: LinearSolver,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            mode: FlowMode::Kernel,
            integrator: IntegratorKind::Auto {
                rtol: 1e-8,
                atol: 1e-12,
            },
            linear_solver: LinearSolver::Auto,
        }
    }
}

/// `[output]`: what a run stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// Number of snapshots, evenly spaced in n (s_0 and s_N always included).
    pub snapshots: usize,
    /// Also store the probability current (face fluxes in x and y) at every snapshot.
    pub currents: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            snapshots: 5,
            currents: false,
        }
    }
}

/// The complete configuration of one run (defaults: `paper_toy`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Pixel grid.
    pub grid: GridConfig,
    /// Blocks.
    pub partition: PartitionConfig,
    /// Data image.
    pub data: DataConfig,
    /// Forward process.
    pub forward: ForwardConfig,
    /// Score model.
    pub score: ScoreConfig,
    /// Reverse flow.
    pub reverse: ReverseConfig,
    /// Start p_0.
    pub start: StartConfig,
    /// V_δ projection.
    pub projection: ProjectionConfig,
    /// Projection times.
    pub schedule: ScheduleConfig,
    /// Flow between projections.
    pub flow: FlowConfig,
    /// Output.
    pub output: OutputConfig,
}

impl Config {
    /// Parses TOML text (missing keys take the paper_toy defaults).
    pub fn from_toml(text: &str) -> Result<Self> {
        Self::from_toml_with_overrides(text, &[])
    }

    /// Parses TOML text, then applies `key=value` overrides (dotted keys, TOML values; a bare
    /// word that is not valid TOML is taken as a string), then deserialises.
    ///
    /// Sections of a tagged kind (`[partition]`, `[data]`, `[forward.beta]`, `[score]`, `[reverse.flux]`,
    /// `[start]`, `[flow.integrator]`) without a `kind` take the default kind, and while their
    /// kind is the default one their missing keys take the default values (so
    /// `--set forward.beta.value=2` works on its own). Unknown sections and keys, also those a
    /// kind ignores (e.g. `reverse.flux.eta` with `kind = "upwind"`), are rejected with one line
    /// naming the key and the nearest valid name.
    ///
    /// Errors are one line: control characters in user keys and values (e.g. a quoted key
    /// `"a\nb"`) are shown escaped.
    pub fn from_toml_with_overrides(text: &str, overrides: &[String]) -> Result<Self> {
        Self::parse_with_overrides(text, overrides).map_err(|e| match e {
            CgklError::Parse(msg) if msg.contains(char::is_control) => {
                CgklError::Parse(escape_control(&msg))
            }
            other => other,
        })
    }

    fn parse_with_overrides(text: &str, overrides: &[String]) -> Result<Self> {
        let mut root: toml::Table =
            toml::from_str(text).map_err(|e| CgklError::Parse(syntax_error(text, &e)))?;
        for ov in overrides {
            let (key, val) = ov.split_once('=').ok_or_else(|| {
                CgklError::Parse(format!(
                    "--set {ov:?}: expected key=value, e.g. --set projection.delta=0.02"
                ))
            })?;
            let (key, val) = (key.trim(), val.trim());
            let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {val}")) {
                // exactly one value: `8\nny = 9` would otherwise set nx = 8 and drop `ny = 9`
                Ok(mut t) if t.len() == 1 => {
                    t.remove("v").unwrap_or(toml::Value::String(val.into()))
                }
                Ok(_) => {
                    return Err(CgklError::Parse(format!(
                        "--set {key}: the value {:?} is more than one TOML value",
                        one_line(val)
                    )))
                }
                Err(_) => toml::Value::String(val.into()),
            };
            set_dotted(&mut root, key, value)?;
        }
        let defaults = default_table();
        fill_kind_defaults(&mut root, &defaults, "");
        let cfg: Config = root
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| CgklError::Parse(explain(&e, &root, &defaults)))?;
        // serde lets a unit kind (e.g. `kind = "upwind"`) ignore extra keys: catch them here
        let canonical: toml::Table = toml::from_str(&cfg.to_toml())
            .map_err(|e| CgklError::Parse(format!("internal: {}", one_line(e))))?;
        check_ignored_keys(&root, &canonical, &defaults, "")?;
        Ok(cfg)
    }

    /// This configuration with `key=value` overrides applied, as
    /// [`Config::from_toml_with_overrides`] applies them to [`Config::to_toml`]'s text (a sweep's
    /// runs are its base with the swept key set). Every key of the base is explicit in that text,
    /// so a kind changed by an override keeps the base's keys of that section, and keys the new
    /// kind does not take are refused as usual.
    pub fn with_overrides(&self, overrides: &[String]) -> Result<Self> {
        Self::from_toml_with_overrides(&self.to_toml(), overrides)
    }

    /// The configuration as TOML text (stored in every output file).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# serialisation failed: {e}"))
    }
}

/// Checks that `text` is valid TOML; the error names the line and column.
pub fn check_toml_syntax(text: &str) -> Result<()> {
    toml::from_str::<toml::Table>(text)
        .map(|_| ())
        .map_err(|e| CgklError::Parse(syntax_error(text, &e)))
}

/// One line: `TOML syntax error at line L, column C: <what>`.
fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let msg = one_line(e.message());
    match e.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            let before = text.get(..start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("TOML syntax error at line {line}, column {col}: {msg}")
        }
        None => format!("TOML syntax error: {msg}"),
    }
}

/// The default configuration as a TOML table.
fn default_table() -> toml::Table {
    toml::from_str(&Config::default().to_toml()).unwrap_or_default()
}

/// The sections whose `kind` selects a variant with its own keys (serde-tagged enums);
/// `schedule.kind` is a plain value.
const TAGGED: [&str; 7] = [
    "partition",
    "data",
    "forward.beta",
    "score",
    "reverse.flux",
    "start",
    "flow.integrator",
];

fn is_tagged(path: &str) -> bool {
    TAGGED.contains(&path)
}

/// Fills tagged sections ([`TAGGED`]): a missing `kind` takes the default one, and a section
/// of the default kind takes the default values of its missing keys.
fn fill_kind_defaults(user: &mut toml::Table, defaults: &toml::Table, prefix: &str) {
    for (key, dv) in defaults {
        let (Some(toml::Value::Table(ut)), toml::Value::Table(dt)) = (user.get_mut(key), dv) else {
            continue;
        };
        let path = join_key(prefix, key);
        if let Some(dkind) = dt.get("kind").filter(|_| is_tagged(&path)) {
            match ut.get("kind") {
                None => {
                    ut.insert("kind".into(), dkind.clone());
                }
                Some(k) if k == dkind => {}
                Some(_) => continue, // another kind: its own keys and serde defaults
            }
            for (fk, fv) in dt {
                if !ut.contains_key(fk) {
                    ut.insert(fk.clone(), fv.clone());
                }
            }
        }
        fill_kind_defaults(ut, dt, &path);
    }
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The value at a dotted path (keys without dots, as in the config).
fn lookup<'a>(root: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut v = root.get(parts.next()?)?;
    for p in parts {
        v = v.as_table()?.get(p)?;
    }
    Some(v)
}

/// A value for a message: TOML text, shortened.
fn show(v: &toml::Value) -> String {
    let s = one_line(v);
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// The names between backticks in a serde message, in order.
fn backticked(msg: &str) -> Vec<&str> {
    msg.split('`').skip(1).step_by(2).collect()
}

/// Restricted Damerau–Levenshtein (optimal string alignment) distance: insertions, deletions,
/// substitutions and transpositions of neighbours each cost 1; case is ignored.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate nearest to `word` by [`edit_distance`], if it is close enough to be a likely
/// typo (at most 2 edits, or a third of the word's length for long words).
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Every leaf key of a table as a dotted path.
fn leaf_paths(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in t {
        let path = join_key(prefix, k);
        match v {
            toml::Value::Table(sub) => leaf_paths(sub, &path, out),
            _ => out.push(path),
        }
    }
}

/// `; did you mean …?` for an unknown `key` under `prefix`: the nearest of `siblings`; else,
/// in a tagged section (`kind` given), the keys that kind takes; else a key of the same name
/// elsewhere in the default config; else the list of valid names.
fn unknown_key_hint(
    key: &str,
    prefix: &str,
    siblings: &[&str],
    defaults: &toml::Table,
    kind: Option<&toml::Value>,
) -> String {
    if kind.is_none() {
        // the same name in another section: a key put in the wrong place
        let mut all = Vec::new();
        leaf_paths(defaults, "", &mut all);
        if let Some(p) = all.iter().find(|p| {
            p.rsplit_once('.')
                .is_some_and(|(parent, leaf)| parent != prefix && edit_distance(leaf, key) == 0)
        }) {
            return format!("; did you mean `{p}`?");
        }
    }
    if let Some(best) = nearest(key, siblings) {
        return format!("; did you mean `{}`?", join_key(prefix, best));
    }
    if let Some(kind) = kind {
        let others: Vec<&str> = siblings.iter().copied().filter(|s| *s != "kind").collect();
        let takes = if others.is_empty() {
            "no other key".to_string()
        } else {
            others.join(", ")
        };
        return format!(
            "; {} = {} takes {takes}: remove the key or choose another {}",
            join_key(prefix, "kind"),
            show(kind),
            join_key(prefix, "kind")
        );
    }
    if siblings.is_empty() {
        return String::new();
    }
    let place = if prefix.is_empty() {
        "valid sections".to_string()
    } else {
        format!("valid keys in [{prefix}]")
    };
    format!("; {place}: {}", siblings.join(", "))
}

/// A one-line explanation of a deserialisation error, naming the full key, the value and a fix.
fn explain(e: &toml::de::Error, root: &toml::Table, defaults: &toml::Table) -> String {
    let msg = one_line(e.message());
    let full = e.to_string();
    let path = full
        .split_once("\nin `")
        .and_then(|(_, rest)| rest.split('`').next())
        .unwrap_or("")
        .to_string();
    let names = backticked(&msg);
    if msg.starts_with("unknown field `") && !names.is_empty() {
        let key = names[0];
        let full_key = join_key(&path, key);
        let value = lookup(root, &full_key);
        let (what, shown) = match value {
            Some(toml::Value::Table(_)) => ("section", String::new()),
            Some(v) => ("key", format!(" (= {})", show(v))),
            None => ("key", String::new()),
        };
        let what = if path.is_empty() { what } else { "key" };
        let kind = lookup(root, &join_key(&path, "kind")).filter(|_| is_tagged(&path));
        let hint = unknown_key_hint(key, &path, &names[1..], defaults, kind);
        return format!("unknown {what} `{full_key}`{shown}{hint}");
    }
    if msg.starts_with("unknown variant `") && !names.is_empty() {
        let value = names[0];
        let key = if path.is_empty() { "value" } else { &path };
        let hint = match nearest(value, &names[1..]) {
            Some(best) => format!("; did you mean \"{best}\"?"),
            None => String::new(),
        };
        return format!(
            "{key} = \"{value}\" is not a valid choice; use one of {}{hint}",
            names[1..].join(", ")
        );
    }
    if msg.starts_with("missing field `") && !names.is_empty() {
        let key = join_key(&path, names[0]);
        let kind = lookup(root, &join_key(&path, "kind"))
            .map(|k| format!(" (needed by {} = {})", join_key(&path, "kind"), show(k)))
            .unwrap_or_default();
        return format!(
            "missing key `{key}`{kind}; set it in the config file or with --set {key}=VALUE"
        );
    }
    match lookup(root, &path) {
        Some(toml::Value::Table(t)) if !path.is_empty() => {
            // a tagged section reports only its own path: find the key whose value is quoted
            let hits: Vec<(&String, &toml::Value)> = t
                .iter()
                .filter(|(_, v)| {
                    let s = show(v);
                    !v.is_table()
                        && (msg.contains(&format!("`{s}`")) || msg.contains(&format!("string {s}")))
                })
                .collect();
            match hits.as_slice() {
                [(k, v)] => format!("{} = {}: {msg}", join_key(&path, k), show(v)),
                _ => format!("[{path}]: {msg}"),
            }
        }
        Some(v) if !path.is_empty() => format!("{path} = {}: {msg}", show(v)),
        _ => msg,
    }
}

/// Rejects keys of `user` that the parsed configuration does not contain (`canonical`: the
/// parsed config written back), i.e. keys serde silently ignored.
fn check_ignored_keys(
    user: &toml::Table,
    canonical: &toml::Table,
    defaults: &toml::Table,
    prefix: &str,
) -> Result<()> {
    for (k, v) in user {
        let path = join_key(prefix, k);
        match (canonical.get(k), v) {
            (None, _) => {
                let siblings: Vec<&str> = canonical.keys().map(|s| s.as_str()).collect();
                let shown = if v.is_table() {
                    String::new()
                } else {
                    format!(" (= {})", show(v))
                };
                let kind = canonical.get("kind").filter(|_| is_tagged(prefix));
                let hint = unknown_key_hint(k, prefix, &siblings, defaults, kind);
                return Err(CgklError::Parse(format!(
                    "unknown key `{path}`{shown}{hint}"
                )));
            }
            (Some(toml::Value::Table(ct)), toml::Value::Table(ut)) => {
                check_ignored_keys(ut, ct, defaults, &path)?
            }
            _ => {}
        }
    }
    Ok(())
}

fn set_dotted(root: &mut toml::Table, key: &str, value: toml::Value) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(CgklError::Parse(format!(
            "--set: malformed key {key:?}; use section.key=value"
        )));
    }
    let mut table = root;
    for part in &parts[..parts.len() - 1] {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(CgklError::Parse(format!(
                    "--set {key}: {part} is not a section"
                )))
            }
        };
    }
    table.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_overrides_apply() {
        let c = Config::default();
        assert_eq!(Config::from_toml(&c.to_toml()).unwrap(), c);
        let c2 = Config::from_toml_with_overrides(
            "",
            &[
                "projection.delta=inf".into(),
                "flow.mode=resolved".into(),
                "reverse.flux.kind=upwind".into(),
            ],
        )
        .unwrap();
        assert!(c2.projection.delta.is_infinite());
        assert_eq!(c2.flow.mode, FlowMode::Resolved);
        assert_eq!(c2.reverse.flux, Flux::Upwind);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = Config::from_toml("[projection]\ndelt = 0.1\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown key `projection.delt`") && e.contains("`projection.delta`"),
            "{e}"
        );
        let e = Config::from_toml("[grid\nnx=1").unwrap_err().to_string();
        assert!(e.contains("line 1, column 6"), "{e}");
    }

    fn err(text: &str, ov: &[&str]) -> String {
        let ov: Vec<String> = ov.iter().map(|s| s.to_string()).collect();
        let e = Config::from_toml_with_overrides(text, &ov)
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\n'), "{e:?}");
        e
    }

    #[test]
    fn unknown_names_get_the_nearest_valid_one() {
        let e = err("", &["projection.detla=0.1"]);
        assert_eq!(
            e,
            "config: unknown key `projection.detla` (= 0.1); did you mean `projection.delta`?"
        );
        let e = err("[projectoin]\ndelta = 0.1\n", &[]);
        assert!(e.contains("unknown section `projectoin`"), "{e}");
        assert!(e.contains("did you mean `projection`?"), "{e}");
        // a key in the wrong section
        let e = err("", &["projection.eps_rev=0.1"]);
        assert!(e.contains("did you mean `reverse.eps_rev`?"), "{e}");
        let e = err("[nonsense]\nx = 1\n", &[]);
        assert!(
            e.contains("unknown section `nonsense`") && e.contains("grid"),
            "{e}"
        );
        let e = err("", &["schedule.kind=karas"]);
        assert!(
            e.contains("schedule.kind = \"karas\"") && e.contains("did you mean \"karras\"?"),
            "{e}"
        );
        let e = err("", &["reverse.flux.kind=sg", "reverse.flux.etaa=0.5"]);
        assert!(e.contains("did you mean `reverse.flux.eta`?"), "{e}");
        let e = err("", &["reverse.flux.kind=sg"]);
        assert!(e.contains("missing key `reverse.flux.eta`"), "{e}");
        let e = err("", &["grid.nx=abc"]);
        assert!(
            e.contains("grid.nx = \"abc\"") && e.contains("usize"),
            "{e}"
        );
        let e = err("", &["data.kind=textured", "data.periods=-1"]);
        assert!(e.contains("data.periods = -1"), "{e}");
        let e = err("", &["delta=0.1"]);
        assert!(e.contains("did you mean `projection.delta`?"), "{e}");
    }

    #[test]
    fn keys_a_kind_ignores_are_rejected() {
        let e = err("", &["reverse.flux.kind=upwind", "reverse.flux.eta=0.5"]);
        assert!(
            e.contains("unknown key `reverse.flux.eta`") && e.contains("upwind"),
            "{e}"
        );
        let e = err("[score]\nkind = \"oracle\"\nsigma = 0.1\n", &[]);
        assert!(
            e.contains("unknown key `score.sigma`") && e.contains("score.kind"),
            "{e}"
        );
    }

    #[test]
    fn tagged_sections_keep_their_default_kind() {
        let c = Config::from_toml_with_overrides("", &["forward.beta.value=2".into()]).unwrap();
        assert_eq!(c.forward.beta, BetaSchedule::Constant { value: 2.0 });
        let c =
            Config::from_toml_with_overrides("", &["flow.integrator.rtol=1e-6".into()]).unwrap();
        assert_eq!(
            c.flow.integrator,
            IntegratorKind::Auto {
                rtol: 1e-6,
                atol: 1e-12
            }
        );
        let c = Config::from_toml_with_overrides("", &["data.contrast=2".into()]).unwrap();
        assert_eq!(c.data, DataConfig::Checkerboard { contrast: 2.0 });
    }

    #[test]
    fn tagged_lists_exactly_the_sections_whose_kind_is_required() {
        // a tagged section without `kind` fails to deserialise; a plain one takes its default
        let defaults = default_table();
        let mut with_kind = Vec::new();
        fn walk(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
            for (k, v) in t {
                if let toml::Value::Table(sub) = v {
                    let p = join_key(prefix, k);
                    if sub.contains_key("kind") {
                        out.push(p.clone());
                    }
                    walk(sub, &p, out);
                }
            }
        }
        walk(&defaults, "", &mut with_kind);
        for path in with_kind {
            let mut t = defaults.clone();
            let mut sec = &mut t;
            for part in path.split('.') {
                sec = sec.get_mut(part).and_then(|v| v.as_table_mut()).unwrap();
            }
            sec.remove("kind");
            let ok = t.try_into::<Config>().is_ok();
            assert_eq!(!ok, is_tagged(&path), "{path}");
        }
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(edit_distance("detla", "delta"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("Delta", "delta"), 0);
        assert_eq!(nearest("detla", &["delta", "grid"]), Some("delta"));
        assert_eq!(nearest("zzzzzz", &["delta", "grid"]), None);
    }
}

/// The complete default configuration as commented TOML (`cgkl config`).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("config_template.toml");

#[cfg(test)]
mod template_tests {
    use super::*;

    #[test]
    fn template_is_the_default_config_and_names_every_key() {
        assert_eq!(
            Config::from_toml(DEFAULT_CONFIG_TOML).unwrap(),
            Config::default()
        );
        let plain: toml::Table = toml::from_str(&Config::default().to_toml()).unwrap();
        let tmpl: toml::Table = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        fn keys(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
            for (k, v) in t {
                let key = format!("{prefix}{k}");
                match v {
                    toml::Value::Table(sub) => keys(sub, &format!("{key}."), out),
                    _ => out.push(key),
                }
            }
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        keys(&plain, "", &mut a);
        keys(&tmpl, "", &mut b);
        a.sort();
        b.sort();
        assert_eq!(a, b, "config_template.toml must list every default key");
    }
}
