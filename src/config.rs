//! Run configuration (TOML). Every run is fully described by a [`Config`]; the defaults are
//! the `paper_toy` problem of SPEC §8. Unknown keys are rejected; `--set key=value` overrides
//! go through [`Config::from_toml_with_overrides`].

use crate::beta::BetaSchedule;
use crate::error::{CgklError, Result};
use crate::flux::Flux;
use crate::integrator::IntegratorKind;
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

/// `[partition]`: rectangular tiles `bx × by`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartitionConfig {
    /// Tiles along x (must divide nx).
    pub bx: usize,
    /// Tiles along y (must divide ny).
    pub by: usize,
}

impl Default for PartitionConfig {
    fn default() -> Self {
        Self { bx: 4, by: 4 }
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
    /// `kernel` or `resolved`.
    pub fn name(&self) -> &'static str {
        match self {
            FlowMode::Kernel => "kernel",
            FlowMode::Resolved => "resolved",
        }
    }
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
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            mode: FlowMode::Kernel,
            integrator: IntegratorKind::Auto {
                rtol: 1e-8,
                atol: 1e-12,
            },
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
    pub fn from_toml_with_overrides(text: &str, overrides: &[String]) -> Result<Self> {
        let mut root: toml::Table =
            toml::from_str(text).map_err(|e| CgklError::Parse(one_line(&e.to_string())))?;
        for ov in overrides {
            let (key, val) = ov.split_once('=').ok_or_else(|| {
                CgklError::Parse(format!(
                    "--set {ov:?}: expected key=value, e.g. --set projection.delta=0.02"
                ))
            })?;
            let (key, val) = (key.trim(), val.trim());
            let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {val}")) {
                Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(val.into())),
                Err(_) => toml::Value::String(val.into()),
            };
            set_dotted(&mut root, key, value)?;
        }
        let cfg: Config = root
            .try_into()
            .map_err(|e: toml::de::Error| CgklError::Parse(one_line(&e.to_string())))?;
        Ok(cfg)
    }

    /// The configuration as TOML text (stored in every output file).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# serialisation failed: {e}"))
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
        assert!(e.contains("unknown field") && e.contains("delt"), "{e}");
        assert!(Config::from_toml("[grid\nnx=1").is_err());
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
