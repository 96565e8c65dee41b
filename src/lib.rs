//! # cgkl: coarse-grained KL control of reverse diffusion, in continuous time
//!
//! A finite-volume reverse Fokker–Planck solver on the pixel grid, split with the V_δ
//! projection of arXiv 2601.01045 every Δt, with an exact forward oracle to verify against.
//! `SPEC.md` is the contract for every formula and name; module docs cite its sections.
//!
//! Pipeline: [`config::Config`] → [`problem::Problem`] → [`generator::Generator`] from a
//! [`flux::Flux`] and a [`drive::Drive`] → [`integrator::Integrator`] → [`post_step::PostStep`]
//! (Π_δ) → [`diagnostics::StepRecord`], driven by [`splitting::run_splitting`].
// one audited `unsafe` block: the `vzeroupper` of `simd_state`
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod beta;
pub mod brelax;
pub mod config;
pub mod data;
pub mod diagnostics;
pub mod drive;
pub mod error;
pub mod expr;
#[cfg(all(feature = "hdf5", feature = "plot"))]
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
pub mod observe;
pub mod oracle;
pub mod order;
pub mod partition;
#[cfg(feature = "plot")]
pub mod plot;
pub mod post_step;
pub mod problem;
pub mod rng;
pub mod schedule;
pub mod score;
#[cfg(feature = "hdf5")]
pub mod shard;
pub mod simd_state;
pub mod splitting;
pub mod stencil;
pub mod supernodal;
pub mod sweep;

pub use error::{CgklError, Result};
