//! The library's one error type, [`CgklError`]: one variant per cause, each message
//! naming the value and the fix.

use thiserror::Error;

/// Everything that can go wrong in cgkl.
///
/// [`CgklError::is_input`] separates bad input (exit status 2 at the CLI) from
/// numerical or I/O failures (exit status 1).
#[derive(Debug, Error)]
pub enum CgklError {
    /// A configuration value is outside its meaning (`key`, offending value, how to fix it).
    #[error("config: {key} = {value}: {fix}")]
    Config {
        /// Dotted config key, e.g. `projection.delta`.
        key: String,
        /// The offending value as text.
        value: String,
        /// What is wrong and how to fix it.
        fix: String,
    },
    /// The configuration text could not be parsed.
    #[error("config: {0}")]
    Parse(String),
    /// Input data (an image, a label image, a score field) is unusable.
    #[error("data: {0}")]
    Data(String),
    /// A file could not be read or written.
    #[error("{path}: {msg}")]
    Io {
        /// The file or folder concerned.
        path: String,
        /// What failed and how to fix it.
        msg: String,
    },
    /// A sparse factorisation failed (singular or structurally deficient matrix).
    #[error("linear solve failed at s = {s:.6e} (dt = {dt:.3e}): {msg}")]
    Singular {
        /// Time at which the factorisation was attempted.
        s: f64,
        /// Step size of the system `I − a·dt·G`.
        dt: f64,
        /// Detail from the factorisation.
        msg: String,
    },
    /// The adaptive integrator could not meet its tolerance.
    #[error("step size too small at s = {s:.6e}: dt = {dt:.3e} after {rejects} rejections; loosen rtol/atol or check the generator")]
    StepSizeTooSmall {
        /// Time reached.
        s: f64,
        /// Last attempted step.
        dt: f64,
        /// Consecutive rejections.
        rejects: usize,
    },
    /// An invariant (mass, non-negativity, finiteness) broke during a run.
    #[error("invariant broken at step {step} (s = {s:.6e}): {msg}")]
    Invariant {
        /// Projection step index n (the state p_n after the breach).
        step: usize,
        /// Time s_n.
        s: f64,
        /// Which invariant and by how much.
        msg: String,
    },
    /// A score model produced a non-positive or non-finite density.
    #[error("score: q̂ at t = {t:.6e} is {what} at cell {cell}; q̂ must be finite and > 0")]
    Score {
        /// Forward time t.
        t: f64,
        /// Flattened cell index.
        cell: usize,
        /// "zero", "negative" or "not finite".
        what: String,
    },
    /// A HDF5 or plotting back end failed.
    #[error("output: {0}")]
    Output(String),
}

impl CgklError {
    /// True for errors caused by the user's input (CLI exit status 2).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            CgklError::Config { .. }
                | CgklError::Parse(_)
                | CgklError::Data(_)
                | CgklError::Io { .. }
        )
    }

    /// Shorthand for a [`CgklError::Config`].
    pub fn config(key: &str, value: impl std::fmt::Display, fix: impl Into<String>) -> Self {
        CgklError::Config {
            key: key.to_string(),
            value: value.to_string(),
            fix: fix.into(),
        }
    }
}

/// `s` with control characters escaped (`\n`, `\u{1b}`, …), so user text (a key, a file's
/// member name) cannot break a one-line message.
pub(crate) fn escape_control(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Any whitespace run (including the line breaks of a foreign message) as one space.
pub(crate) fn one_line(s: impl std::fmt::Display) -> String {
    s.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Result alias used throughout the library.
pub type Result<T> = std::result::Result<T, CgklError>;
