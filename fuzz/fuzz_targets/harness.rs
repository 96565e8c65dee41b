//! The code path shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and the regression
//! test `tests/fuzz_regressions.rs` (which includes this file with `#[path]`): it depends on
//! `cgkl` and `toml` only.
//!
//! An input is UTF-8 text: a TOML config, then up to [`MAX_OVERRIDES`] `--set`-style overrides,
//! each after a NUL byte (`<toml>\0grid.nx=8\0schedule.kind=karras`).

#![allow(dead_code)]

use cgkl::config::Config;

/// Grids with a side longer than this (more than 64×64 cells) are parsed but not validated:
/// validate builds dense side × side oracle matrices, and with the fuzz build's debug
/// assertions a 811×5 grid took over 10 s (0.05 s in release).
pub const MAX_SIDE: usize = 64;
/// Schedules with more steps than this are parsed but not validated.
pub const MAX_STEPS: usize = 200;
/// Overrides beyond this many are ignored.
pub const MAX_OVERRIDES: usize = 8;

/// How far an input got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not UTF-8: skipped.
    NotUtf8,
    /// `from_toml_with_overrides` rejected it (the message).
    ParseError(String),
    /// Parsed, but too large to validate quickly: skipped.
    TooLarge,
    /// `validate` rejected it (the message).
    Invalid(String),
    /// `generator()` failed (the message).
    GeneratorError(String),
    /// Validated and the generator built.
    Built,
}

/// Splits an input into the TOML text and the overrides.
pub fn split_input(text: &str) -> (&str, Vec<String>) {
    let mut parts = text.split('\0');
    let toml = parts.next().unwrap_or("");
    let overrides = parts.take(MAX_OVERRIDES).map(str::to_string).collect();
    (toml, overrides)
}

/// An error message must be one non-empty line (the CLI prints it after `error: `).
fn clean(msg: String) -> String {
    assert!(!msg.trim().is_empty(), "empty error message");
    assert!(!msg.contains('\n'), "multi-line error message: {msg:?}");
    msg
}

/// True if validating `cfg` would be slow (a side above [`MAX_SIDE`] or steps above
/// [`MAX_STEPS`]).
pub fn too_large(cfg: &Config) -> bool {
    cfg.grid.nx.max(cfg.grid.ny) > MAX_SIDE || cfg.schedule.n_steps > MAX_STEPS
}

/// Target `config_parser`: parse with overrides, validate, build the generator.
pub fn config_parser(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::NotUtf8;
    };
    let (toml, overrides) = split_input(text);
    let cfg = match Config::from_toml_with_overrides(toml, &overrides) {
        Ok(cfg) => cfg,
        Err(e) => return Outcome::ParseError(clean(e.to_string())),
    };
    if too_large(&cfg) {
        return Outcome::TooLarge;
    }
    let problem = match cfg.validate() {
        Ok(p) => p,
        Err(e) => return Outcome::Invalid(clean(e.to_string())),
    };
    assert_eq!(
        problem.times.len(),
        cfg.schedule.n_steps + 1,
        "times s_0..s_N"
    );
    match problem.generator() {
        Ok(_) => Outcome::Built,
        Err(e) => Outcome::GeneratorError(clean(e.to_string())),
    }
}

/// Target `config_roundtrip`: a config that parses serialises with `to_toml()` and parses back
/// to an equal config (NaNs compared through their TOML text).
pub fn config_roundtrip(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::NotUtf8;
    };
    let (toml, overrides) = split_input(text);
    let cfg = match Config::from_toml_with_overrides(toml, &overrides) {
        Ok(cfg) => cfg,
        Err(e) => return Outcome::ParseError(clean(e.to_string())),
    };
    let out = cfg.to_toml();
    assert!(
        !out.starts_with("# serialisation failed"),
        "to_toml failed: {out}\nconfig: {cfg:?}"
    );
    let back = match Config::from_toml(&out) {
        Ok(back) => back,
        Err(e) => panic!("to_toml output does not parse back: {e}\n{out}"),
    };
    assert!(
        back == cfg || back.to_toml() == out,
        "round trip changed the config:\nbefore: {cfg:?}\nafter:  {back:?}"
    );
    Outcome::Built
}
