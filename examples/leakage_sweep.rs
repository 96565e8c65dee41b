//! Final E_block, pixel MSE and V_δ against the reverse leakage ε_rev (projected and baseline, kernel mode):
//! `out/leakage_sweep.h5` and plots in `out/leakage_sweep/`.
//!
//! `cargo run --release --example leakage_sweep -- [--config FILE] [--set key=value]... [--out DIR] [--quick]`
use cgkl::cli_support::{exit_on_error, progress_for, read_config_text};
use cgkl::param_study::{param_figures, param_table};
use cgkl::sweep::{run_sweep, SweepSpec};
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(about = "Final E_block, MSE and V_delta against the reverse leakage ε_rev")]
struct Args {
    /// TOML config (default: paper_toy).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a config key (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Output folder.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// A small grid (32×32) for tests.
    #[arg(long)]
    quick: bool,
}

fn main() {
    exit_on_error(run());
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = read_config_text(args.config.as_deref())?;
    let mut ov: Vec<String> = if args.quick {
        vec!["grid.nx=32".into(), "grid.ny=32".into()]
    } else {
        vec![]
    };
    ov.extend(args.set.iter().cloned());
    let values = ["0", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"];
    let spec = SweepSpec {
        param: "reverse.eps_rev".into(),
        values: values.iter().map(|v| v.to_string()).collect(),
        modes: vec![cgkl::config::FlowMode::Kernel],
        projections: vec![true, false],
    };
    std::fs::create_dir_all(&args.out)?;
    let n = cgkl::config::Config::from_toml_with_overrides(&text, &ov)?
        .schedule
        .n_steps as u64;
    let (bar, report) = progress_for(2 * values.len() as u64 * n);
    let sw = run_sweep(&text, &ov, &spec, &report)?;
    bar.finish_and_clear();
    println!("{}", param_table(&sw));
    let h5 = args.out.join("leakage_sweep.h5");
    cgkl::io::layout::write_sweep_file(&h5, &sw, true)?;
    println!("wrote {}", h5.display());
    for f in param_figures(&sw, "ε_rev", &args.out.join("leakage_sweep"))? {
        println!("wrote {}", f.display());
    }
    Ok(())
}
