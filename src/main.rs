//! The `cgkl` command-line tool: `run`, `sweep`, `plot`, `inspect`, `config`.
//! Bad input exits with status 2 and one `error: …` line; other failures with status 1.

use anyhow::Context;
use cgkl::cli_support::{
    exit_on_error, install_threads, print_out, progress_for, read_config_text,
};
use cgkl::config::{nearest, Config, FlowMode, DEFAULT_CONFIG_TOML};
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
    if out.is_dir() {
        return Err(CgklError::Io {
            path: out.display().to_string(),
            msg: "is a folder; --out takes a file name, e.g. out/run.h5".into(),
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

/// The entries of a folder (empty if it cannot be read).
fn list_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// The HDF5 file to read must exist and be a file.
fn check_in(file: &Path) -> anyhow::Result<()> {
    let msg = if !file.exists() {
        "no such file; check the path"
    } else if file.is_dir() {
        "is a folder; pass a cgkl HDF5 file (.h5)"
    } else {
        return Ok(());
    };
    Err(CgklError::Io {
        path: file.display().to_string(),
        msg: msg.into(),
    }
    .into())
}

/// The swept key must be a dotted key and every value must be given once.
fn check_sweep(param: &str, values: &[String]) -> anyhow::Result<()> {
    if param.trim().is_empty() || param.contains('=') {
        return Err(CgklError::config(
            "--param",
            format!("{param:?}"),
            "give one dotted config key, e.g. --param projection.delta",
        )
        .into());
    }
    for (i, v) in values.iter().enumerate() {
        if v.trim().is_empty() {
            return Err(CgklError::config(
                "--values",
                values.join(","),
                "a value is empty; give comma-separated values, e.g. 0.01,0.1",
            )
            .into());
        }
        if values[..i].iter().any(|w| w.trim() == v.trim()) {
            return Err(CgklError::config(
                "--values",
                v.trim(),
                "appears twice; give every value once",
            )
            .into());
        }
    }
    Ok(())
}

fn parse_modes(modes: &[String]) -> anyhow::Result<Vec<FlowMode>> {
    modes
        .iter()
        .map(|m| match m.trim() {
            "kernel" => Ok(FlowMode::Kernel),
            "resolved" => Ok(FlowMode::Resolved),
            other => Err(CgklError::config(
                "--modes",
                other,
                format!(
                    "use kernel and/or resolved{}",
                    did_you_mean(other, &["kernel", "resolved"])
                ),
            )
            .into()),
        })
        .collect()
}

fn parse_projections(p: &[String]) -> anyhow::Result<Vec<bool>> {
    p.iter()
        .map(|m| match m.trim() {
            "projected" => Ok(true),
            "baseline" => Ok(false),
            other => {
                let hint = did_you_mean(other, &["projected", "baseline"]);
                Err(CgklError::config(
                    "--projections",
                    other,
                    format!("use projected and/or baseline{hint}"),
                )
                .into())
            }
        })
        .collect()
}

fn did_you_mean(word: &str, choices: &[&str]) -> String {
    nearest(word, choices)
        .map(|c| format!("; did you mean {c}?"))
        .unwrap_or_default()
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
            print_out(&format!(
                "{}: E_block = {:.4e}, E_inf = {:.4e}, V_delta = {:.4e}, mse = {:.4e}, Lyapunov violation = {:.3e}, wall {:.2} s\nwrote {}\n",
                r.name, last.e_block, last.e_inf, last.v_delta, last.mse, r.lyapunov_violation, r.wall_s,
                out.display()
            ))?;
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
            check_sweep(&param, &values)?;
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
            cgkl::io::layout::write_sweep_file(&out, &sweep, force)?;
            print_out(&format!(
                "{}\nwrote {}\n",
                format_summary(&sweep),
                out.display()
            ))?;
        }
        Cmd::Plot { file, out } => {
            let dir = out.unwrap_or_else(|| file.with_extension(""));
            check_in(&file)?;
            if dir.exists() && !dir.is_dir() {
                return Err(CgklError::Io {
                    path: dir.display().to_string(),
                    msg: "exists and is not a folder; --out takes a folder for the plots".into(),
                }
                .into());
            }
            // on failure, remove what this command created (the folder, or new files in it)
            let before: Option<Vec<PathBuf>> = dir.is_dir().then(|| list_dir(&dir));
            let figs = match cgkl::figures::figures_for_file(&file, &dir) {
                Ok(f) => f,
                Err(e) => {
                    match &before {
                        None => {
                            let _ = std::fs::remove_dir_all(&dir);
                        }
                        Some(old) => {
                            for p in list_dir(&dir).iter().filter(|p| !old.contains(p)) {
                                let _ = std::fs::remove_file(p);
                            }
                        }
                    }
                    return Err(e.into());
                }
            };
            for f in figs {
                print_out(&format!("wrote {}\n", f.display()))?;
            }
        }
        Cmd::Inspect { file } => {
            check_in(&file)?;
            print_out(&cgkl::io::inspect::inspect(&file)?)?
        }
        Cmd::Config => print_out(DEFAULT_CONFIG_TOML)?,
    }
    Ok(())
}
