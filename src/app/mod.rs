//! The command line's own code, shared by the `cgkl` binary (`mod app` in `src/main.rs`) and
//! the examples (`examples/common/`, through a `#[path]` module): exit codes and one-line
//! errors, config reading, progress bars, thread pools, and the tables the studies print. None
//! of it is in the library, which knows no clap, indicatif or anyhow.

pub mod summary;
pub mod support;
pub mod table;
