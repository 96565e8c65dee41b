//! # cgkl: coarse-grained KL control of reverse diffusion, in continuous time
//!
//! A finite-volume reverse Fokker–Planck solver on the pixel grid, split with the V_δ
//! projection of arXiv 2601.01045 every Δt, with an exact forward oracle to verify against.
//! `SPEC.md` is the contract for every formula and name; module docs cite its sections.
//!
//! ```no_run
//! use cgkl::prelude::*;
//! let pb = Problem::from_config(&Config::default())?; // paper_toy (SPEC §8), validated
//! let run = pb.run(Projection::Projected)?;            // records, snapshots, p_N in memory
//! println!("E_block(p_N) = {}", run.output.records.last().unwrap().e_block);
//! # Ok::<(), CgklError>(())
//! ```
//!
//! The modules are listed with their SPEC sections in `docs/architecture.md`. Three tiers:
//! * **the API**: the root re-exports and [`prelude`] (config, the validated problem and its run,
//!   observers, sweeps, results, the error type);
//! * **building blocks**, public for extensions and for verification against them: the numerical
//!   core (grid, partition, kl, flux, generator, stencil, integrator, post_step, splitting, limit,
//!   diagnostics, oracle, order) and `io` (the run file layout and its streaming sink);
//! * **tool support**, shared with the `cgkl` binary and the examples and hidden from these docs
//!   (`figures`, `plot`, `shard`): no stability promise. Everything else is `pub(crate)`.
//!
//! Pipeline: [`config::Config`] → [`problem::Problem`] → [`generator::Generator`] from a
//! [`flux::Flux`] and a [`score::Drive`] → [`integrator::Integrator`] → [`post_step::PostStep`]
//! (Π_δ) → [`diagnostics::StepRecord`], driven by [`splitting::run_splitting`].
// one audited `unsafe` block: the `vzeroupper` of `simd_state`
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod beta;
pub(crate) mod bounds;
pub mod brelax;
pub mod config;
pub mod data;
pub mod diagnostics;
pub(crate) mod drive;
pub mod error;
pub(crate) mod expr;
#[cfg(all(feature = "hdf5", feature = "plot"))]
#[doc(hidden)]
pub mod figures;
pub mod flux;
pub mod generator;
pub mod grid;
pub mod integrator;
pub mod io;
pub mod kl;
pub mod limit;
pub mod linsolve;
pub mod memory;
pub(crate) mod monotone_root;
pub mod multigrid;
pub mod observe;
pub mod oracle;
pub mod order;
pub(crate) mod par;
pub mod partition;
#[cfg(feature = "plot")]
#[doc(hidden)]
pub mod plot;
pub mod post_step;
pub mod problem;
pub(crate) mod rng;
pub mod schedule;
pub mod score;
#[cfg(feature = "hdf5")]
#[doc(hidden)]
pub mod shard;
pub(crate) mod simd_state;
pub mod splitting;
pub mod stencil;
pub(crate) mod supernodal;
pub mod sweep;

pub use config::{Config, FlowMode};
pub use diagnostics::StepRecord;
pub use error::{CgklError, Result};
pub use integrator::IntegratorKind;
pub use observe::{Collect, Observer, OnStep, RunShape, Snapshot};
pub use problem::{Problem, Projection, RunResult};
pub use sweep::{run_sweep, SweepResult, SweepSpec};

/// The few names a run needs: `use cgkl::prelude::*;` then
/// `Problem::from_config(&Config::default())?.run(Projection::Projected)?`.
pub mod prelude {
    pub use crate::config::{Config, FlowMode};
    pub use crate::error::{CgklError, Result};
    pub use crate::observe::{Observer, OnStep, Snapshot};
    pub use crate::problem::{Problem, Projection, RunResult};
    pub use crate::sweep::{run_sweep, SweepResult, SweepSpec};
}
