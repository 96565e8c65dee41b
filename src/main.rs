//! The `cgkl` command-line tool: `run`, `sweep`, `plot`, `inspect`, `config`.
//! Bad input exits with status 2 and one `error: …` line; other failures with status 1.

use anyhow::Context;
use cgkl::cli_support::{exit_on_error, install_threads, progress_for, read_config_text};
use cgkl::config::{Config, FlowMode, DEFAULT_CONFIG_TOML};
use cgkl::error::CgklError;
use cgkl::sweep::{format_summary, run_sweep, SweepSpec};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "cgkl",
    version,
    about = "Reverse Fokker–Planck diffusion on the pixel grid with the V_δ projection"
)]
struct Cli {
    /// Worker threads for sweeps (default: all cores). Results do not depend on it.
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Debug)]
struct ConfigArgs {
    /// TOML config (default: the built-in paper_toy problem; see `cgkl config`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a config key, e.g. --set projection.delta=0.02 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run one config to one HDF5 file.
    Run {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Output HDF5 file.
        #[arg(long, default_value = "out/run.h5")]
        out: PathBuf,
        /// Run the unprojected baseline instead of the projected scheme.
        #[arg(long)]
        baseline: bool,
        /// Overwrite an existing output file.
        #[arg(long)]
        force: bool,
    },
    /// Sweep one config key over a list of values (both modes, projected and baseline by default).
    Sweep {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// The dotted key to sweep, e.g. schedule.n_steps or projection.delta.
        #[arg(long)]
        param: String,
        /// Comma-separated values (TOML literals), e.g. 10,20,40.
        #[arg(long, value_delimiter = ',', required = true)]
        values: Vec<String>,
        /// Flow modes to run.
        #[arg(long, value_delimiter = ',', default_value = "kernel,resolved")]
        modes: Vec<String>,
        /// Which runs: projected, baseline or both.
        #[arg(long, value_delimiter = ',', default_value = "projected,baseline")]
        projections: Vec<String>,
        /// Output HDF5 file.
        #[arg(long, default_value = "out/sweep.h5")]
        out: PathBuf,
        /// Overwrite an existing output file.
        #[arg(long)]
        force: bool,
    },
    /// Plot a cgkl HDF5 file (run or sweep) into PNG and SVG files.
    Plot {
        /// The HDF5 file.
        file: PathBuf,
        /// Output folder (default: next to the file, named after it).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a readable summary of a cgkl HDF5 file.
    Inspect {
        /// The HDF5 file.
        file: PathBuf,
    },
    /// Print the complete default config as commented TOML.
    Config,
}

fn main() {
    exit_on_error(run());
}

fn load(cfg: &ConfigArgs) -> anyhow::Result<(String, Config)> {
    let text = read_config_text(cfg.config.as_deref())?;
    let config = Config::from_toml_with_overrides(&text, &cfg.set)?;
    Ok((text, config))
}

fn check_out(out: &Path, force: bool) -> anyhow::Result<()> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(CgklError::Io {
            path: out.display().to_string(),
            msg: format!(
                "output folder {} does not exist; create it first (mkdir -p {})",
                parent.display(),
                parent.display()
            ),
        }
        .into());
    }
    if out.exists() && !force {
        return Err(CgklError::Io {
            path: out.display().to_string(),
            msg: "already exists; pass --force to overwrite it or choose another --out".into(),
        }
        .into());
    }
    Ok(())
}

fn parse_modes(modes: &[String]) -> anyhow::Result<Vec<FlowMode>> {
    modes
        .iter()
        .map(|m| match m.trim() {
            "kernel" => Ok(FlowMode::Kernel),
            "resolved" => Ok(FlowMode::Resolved),
            other => Err(CgklError::config("--modes", other, "use kernel and/or resolved").into()),
        })
        .collect()
}

fn parse_projections(p: &[String]) -> anyhow::Result<Vec<bool>> {
    p.iter()
        .map(|m| match m.trim() {
            "projected" => Ok(true),
            "baseline" => Ok(false),
            other => {
                Err(
                    CgklError::config("--projections", other, "use projected and/or baseline")
                        .into(),
                )
            }
        })
        .collect()
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    install_threads(cli.threads)?;
    match cli.cmd {
        Cmd::Run {
            cfg,
            out,
            baseline,
            force,
        } => {
            let (_, config) = load(&cfg)?;
            let pb = config.validate()?;
            check_out(&out, force)?;
            if let Some(w) = &pb.warning {
                eprintln!("warning: {w}");
            }
            let n = (pb.times.len() - 1) as u64;
            let (bar, report) = progress_for(n);
            let r =
                pb.run_with_progress(!baseline, &mut |_, _| report(cgkl::sweep::SweepEvent::Step))?;
            bar.finish_and_clear();
            cgkl::io::layout::write_run_file(&out, &pb, &r, force)?;
            let last = r.output.records.last().context("empty run")?;
            println!(
                "{}: E_block = {:.4e}, E_inf = {:.4e}, V_delta = {:.4e}, mse = {:.4e}, Lyapunov violation = {:.3e}, wall {:.2} s",
                r.name, last.e_block, last.e_inf, last.v_delta, last.mse, r.lyapunov_violation, r.wall_s
            );
            println!("wrote {}", out.display());
        }
        Cmd::Sweep {
            cfg,
            param,
            values,
            modes,
            projections,
            out,
            force,
        } => {
            let text = read_config_text(cfg.config.as_deref())?;
            let spec = SweepSpec {
                param,
                values,
                modes: parse_modes(&modes)?,
                projections: parse_projections(&projections)?,
            };
            let jobs = cgkl::sweep::plan(&text, &cfg.set, &spec)?;
            check_out(&out, force)?;
            let total: u64 = jobs.iter().map(|j| (j.3.times.len() - 1) as u64).sum();
            eprintln!(
                "sweep: {} runs on {} threads",
                jobs.len(),
                rayon::current_num_threads()
            );
            let (bar, report) = progress_for(total);
            let sweep = run_sweep(&text, &cfg.set, &spec, &report)?;
            bar.finish_and_clear();
            println!("{}", format_summary(&sweep));
            cgkl::io::layout::write_sweep_file(&out, &sweep, force)?;
            println!("wrote {}", out.display());
        }
        Cmd::Plot { file, out } => {
            let dir = out.unwrap_or_else(|| file.with_extension(""));
            if !file.exists() {
                return Err(CgklError::Io {
                    path: file.display().to_string(),
                    msg: "no such file; check the path".into(),
                }
                .into());
            }
            for f in cgkl::figures::figures_for_file(&file, &dir)? {
                println!("wrote {}", f.display());
            }
        }
        Cmd::Inspect { file } => print!("{}", cgkl::io::inspect::inspect(&file)?),
        Cmd::Config => print!("{DEFAULT_CONFIG_TOML}"),
    }
    Ok(())
}
