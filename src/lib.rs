//! # cgkl: coarse-grained KL control of reverse diffusion, in continuous time
//!
//! A finite-volume reverse Fokker–Planck solver on the pixel grid, split with the V_δ
//! projection of arXiv 2601.01045 every Δt, with an exact forward oracle to verify against.
//! `SPEC.md` is the contract for every formula and name; module docs cite its sections.
//!
//! Pipeline: [`config::Config`] → [`problem::Problem`] → [`generator::Generator`] from a
//! [`flux::Flux`] and a [`score::Drive`] → [`integrator::Integrator`] → [`post_step::PostStep`]
//! (Π_δ) → [`diagnostics::StepRecord`], driven by [`splitting::run_splitting`].
// one audited `unsafe` block: the `vzeroupper` of `simd_state`
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod beta;
pub mod brelax;
pub mod cli_support;
pub mod config;
pub mod data;
pub mod diagnostics;
pub mod error;
pub mod expr;
pub mod figures;
pub mod flux;
pub mod generator;
pub mod grid;
pub mod integrator;
pub mod io;
pub mod kl;
pub mod limit;
pub mod linsolve;
pub mod monotone_root;
pub mod oracle;
pub mod order;
pub mod param_study;
pub mod partition;
pub mod plot;
pub mod post_step;
pub mod problem;
pub mod rng;
pub mod schedule;
pub mod score;
pub mod shard;
pub mod simd_state;
pub mod splitting;
pub mod stencil;
pub mod study;
pub mod supernodal;
pub mod sweep;

pub use error::{CgklError, Result};
