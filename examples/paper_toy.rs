//! The paper's toy problem (SPEC §8): one projected and one baseline run of `paper_toy` (or
//! `--config FILE`), a comparison table, `out/paper_toy.h5` (a sweep file with the two runs) and
//! plots in `out/paper_toy/`.
//!
//! `cargo run --release --example paper_toy -- [--config FILE] [--set key=value]... [--out DIR] [--quick]`

mod common;
use cgkl::config::FlowMode;
use cgkl::problem::Projection;
use cgkl::sweep::{format_summary, run_sweep, SweepSpec};
use common::app::support::{exit_on_error, progress_for, ExampleArgs};

fn main() {
    exit_on_error(run());
}

fn run() -> anyhow::Result<()> {
    let args = common::app::support::parse_args::<ExampleArgs>();
    let (text, overrides) = args.prepare()?;
    let base = cgkl::config::Config::from_toml_with_overrides(&text, &overrides)?;
    let spec = SweepSpec {
        param: "schedule.n_steps".into(),
        values: vec![base.schedule.n_steps.to_string()],
        modes: vec![base.flow.mode],
        projections: Projection::ALL.to_vec(),
    };
    let (bar, report) = progress_for(2 * base.schedule.n_steps as u64);
    let sw = run_sweep(&base, &spec, &report)?;
    bar.finish_and_clear();
    println!("{}", format_summary(&sw));
    for r in &sw.runs {
        let last = r
            .result
            .output
            .records
            .last()
            .ok_or_else(|| anyhow::anyhow!("empty run"))?;
        let worst = r.result.output.records[1..]
            .iter()
            .map(|x| x.e_inf)
            .fold(0.0, f64::max);
        println!(
            "{:<28} E_inf(s=0) {:.4}  max_n≥1 E_inf {:.4}  E_inf(T) {:.4}  MSE {:.4}  V_delta(T) {:.4e}  Lyapunov violation {:.3e}",
            r.result.name,
            r.result.output.records[0].e_inf,
            worst,
            last.e_inf,
            last.mse,
            last.v_delta,
            r.result.lyapunov_violation
        );
    }
    if base.flow.mode == FlowMode::Kernel {
        println!("(kernel mode: one implicit-Euler step per Δt; --set flow.mode=resolved for the resolved flow)");
    }
    let h5 = args.out.join("paper_toy.h5");
    cgkl::sweep::write_sweep_file(&h5, &sw, true)?;
    println!("wrote {}", h5.display());
    for f in cgkl::figures::sweep_figures(&h5, &args.out.join("paper_toy"))? {
        println!("wrote {}", f.display());
    }
    Ok(())
}
