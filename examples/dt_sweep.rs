//! The main job: how does the V_δ-projected reverse diffusion behave as Δt → 0?
//!
//! Runs the `paper_toy` config (or `--config FILE`) for N = 10, 20, …, 2560 in the kernel and
//! resolved flow modes, projected and baseline; prints the summary table with observed orders;
//! writes `out/dt_sweep.h5` (SPEC §9) and the plots in `out/dt_sweep/`.
//!
//! `cargo run --release --example dt_sweep -- [--config FILE] [--set key=value]... [--out DIR] [--quick] [--threads K]`
use anyhow::Context;
use cgkl::cli_support::{exit_on_error, install_threads, progress_for, read_config_text};
use cgkl::sweep::{format_summary, run_sweep, SweepSpec};
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(about = "Δt convergence study of the V_δ-projected reverse Fokker–Planck flow")]
struct Args {
    /// TOML config (default: the built-in paper_toy problem).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a config key, e.g. --set projection.delta=0.02 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Output folder (created if missing).
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// A small sweep (32×32 grid, N = 10…80) for tests and a first look.
    #[arg(long)]
    quick: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
}

fn main() {
    exit_on_error(run());
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    install_threads(args.threads)?;
    let text = read_config_text(args.config.as_deref())?;
    let mut overrides = Vec::new();
    let ns: Vec<usize> = if args.quick {
        overrides.extend(["grid.nx=32", "grid.ny=32"].map(String::from));
        vec![10, 20, 40, 80]
    } else {
        (0..9).map(|k| 10 << k).collect()
    };
    overrides.extend(args.set.iter().cloned());
    let spec = SweepSpec::dt_sweep(&ns);
    let total_steps: u64 = 4 * ns.iter().map(|&n| n as u64).sum::<u64>();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create output folder {}", args.out.display()))?;
    eprintln!(
        "dt_sweep: N = {:?}, kernel and resolved modes, projected and baseline ({} runs, {} threads)",
        ns,
        4 * ns.len(),
        rayon::current_num_threads()
    );
    let (bar, report) = progress_for(total_steps);
    let sweep = run_sweep(&text, &overrides, &spec, &report)?;
    bar.finish_and_clear();
    println!("{}", format_summary(&sweep));
    let h5 = args.out.join("dt_sweep.h5");
    cgkl::io::layout::write_sweep_file(&h5, &sweep, true)?;
    println!("wrote {}", h5.display());
    let figs = cgkl::figures::sweep_figures(&h5, &args.out.join("dt_sweep"))?;
    for f in figs {
        println!("wrote {}", f.display());
    }
    Ok(())
}
