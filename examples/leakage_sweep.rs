//! Final E_block, pixel MSE, V_δ and Lyapunov violation against the reverse leakage ε_rev
//! (projected and baseline, kernel mode): `out/leakage_sweep.h5` and plots in `out/leakage_sweep/`.
//!
//! `cargo run --release --example leakage_sweep -- [--config FILE] [--set key=value]... [--out DIR] [--quick]`

mod common;
use common::app::support::exit_on_error;
use common::param_study::param_study_main;

fn main() {
    let values = ["0", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"];
    exit_on_error(param_study_main(
        "leakage_sweep",
        "reverse.eps_rev",
        &values,
        "ε_rev",
    ));
}
