//! The main job: how does the V_δ-projected reverse diffusion behave as Δt → 0?
//!
//! Runs the `paper_toy` config (or `--config FILE`) for N = 10, 20, …, 2560 in the kernel and
//! resolved flow modes, projected and baseline; prints the summary table with observed orders;
//! writes `out/dt_sweep.h5` (SPEC §9) and the plots in `out/dt_sweep/`.
//!
//! `cargo run --release --example dt_sweep -- [--config FILE] [--set key=value]... [--out DIR] [--quick] [--threads K]`

mod common;
use cgkl::sweep::{format_summary, run_sweep, SweepSpec};
use common::app::support::{exit_on_error, progress_for, ExampleArgs};

fn main() {
    exit_on_error(run());
}

fn run() -> anyhow::Result<()> {
    let args = common::app::support::parse_args::<ExampleArgs>();
    // --quick: a 32×32 grid and N = 10…80
    let (text, overrides) = args.prepare()?;
    let ns = SweepSpec::standard_ns(args.quick);
    let spec = SweepSpec::dt_sweep(&ns);
    let total_steps: u64 = 4 * ns.iter().map(|&n| n as u64).sum::<u64>();
    eprintln!(
        "dt_sweep: N = {:?}, kernel and resolved modes, projected and baseline ({} runs, {} threads)",
        ns,
        4 * ns.len(),
        rayon::current_num_threads()
    );
    let (bar, report) = progress_for(total_steps);
    let base = cgkl::config::Config::from_toml_with_overrides(&text, &overrides)?;
    let sweep = run_sweep(&base, &spec, &report)?;
    bar.finish_and_clear();
    println!("{}", format_summary(&sweep));
    let h5 = args.out.join("dt_sweep.h5");
    cgkl::sweep::write_sweep_file(&h5, &sweep, true)?;
    println!("wrote {}", h5.display());
    let figs = cgkl::figures::sweep_figures(&h5, &args.out.join("dt_sweep"))?;
    for f in figs {
        println!("wrote {}", f.display());
    }
    Ok(())
}
