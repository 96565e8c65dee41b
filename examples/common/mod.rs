//! Code shared by the examples (and the tests that run their studies): the command line's
//! support code of the binary (`src/app`, mounted here) and the studies of issue 4 beyond the
//! Δt sweep, each with its tables, HDF5 file and plots. Every example mounts all of it and uses
//! a part.
#![allow(dead_code)]

#[path = "../../src/app/mod.rs"]
pub mod app;
pub mod lyapunov;
pub mod param_study;
pub mod schedule_study;
