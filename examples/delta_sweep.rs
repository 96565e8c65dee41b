//! Final E_block, pixel MSE, V_δ and Lyapunov violation against δ (projected and baseline,
//! kernel mode): `out/delta_sweep.h5` and plots in `out/delta_sweep/`.
//!
//! `cargo run --release --example delta_sweep -- [--config FILE] [--set key=value]... [--out DIR] [--quick]`

mod common;
use common::app::support::exit_on_error;
use common::param_study::param_study_main;

fn main() {
    let values = [
        "0", "0.0003", "0.001", "0.003", "0.01", "0.03", "0.1", "inf",
    ];
    exit_on_error(param_study_main(
        "delta_sweep",
        "projection.delta",
        &values,
        "δ",
    ));
}
