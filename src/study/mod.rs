//! The studies of issue 4 beyond the Δt sweep ([`crate::sweep`]): the Lyapunov behaviour of
//! V_δ and the comparison of projection schedules, each with its tables, HDF5 file and plots,
//! shared by the examples `lyapunov`, `schedule_study` and `report`.

pub mod lyapunov;
pub mod schedule_study;
pub mod table;
