//! The `cgkl` command-line tool: `run`, `sweep`, `plot`, `inspect`, `config`.
//! Bad input exits with status 2 and one `error: …` line; other failures with status 1.

use anyhow::Context;
// shared with the examples (examples/common/ mounts it), which use parts the binary does not
#[allow(dead_code)]
mod app;
// binary only (the examples mount `app` without it)
#[path = "app/h5check.rs"]
mod h5check;

use app::support::{exit_on_error, install_threads, print_out, progress_for, read_config_text};
use cgkl::config::{Config, FlowMode, DEFAULT_CONFIG_TOML};
use cgkl::error::CgklError;
use cgkl::problem::Projection;
use cgkl::shard::{Shard, ShardMeta};
use cgkl::sweep::resume::{self as checkpoint, checkpoint_dir};
use cgkl::sweep::{format_summary, run_sweep_resumable, Job, Resume, SweepSpec};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "cgkl",
    version,
    about = "Reverse Fokker–Planck diffusion on the pixel grid with the V_δ projection"
)]
struct Cli {
    /// Worker threads: the runs of a sweep and the two halves of every sparse Cholesky (default:
    /// all cores). Results do not depend on it.
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
    /// Sweep one config key over a list of values (both modes, projected and baseline by default);
    /// resumable after an interruption (--resume).
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
        /// Output HDF5 file [default: out/sweep.h5; with --shard K/N: out/sweep.shard<K>of<N>.h5].
        /// While the sweep runs, every finished run is saved in the checkpoint folder
        /// <OUT>.partial (removed once the sweep file is written).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overwrite an existing output file; without --resume, also delete a checkpoint
        /// folder left by an interrupted sweep and start over.
        #[arg(long)]
        force: bool,
        /// Finish an interrupted sweep (killed, or stopped by an error whose cause is fixed):
        /// give the same arguments plus --resume; the runs saved in <OUT>.partial are reused
        /// (they must match the planned runs' config) and only the missing runs are run. The
        /// file equals that of an uninterrupted sweep (up to wall times).
        #[arg(long)]
        resume: bool,
        /// Run only the K-th of N disjoint slices of the sweep (K = 1…N; run j is in slice
        /// j mod N + 1) and write a shard file; `cgkl merge` joins the N shard files into the
        /// sweep file. For Slurm job arrays: see docs/cluster.md.
        #[arg(long, value_name = "K/N", allow_hyphen_values = true)]
        shard: Option<String>,
    },
    // ---- sharded sweeps: merge ----
    /// Join the shard files of `cgkl sweep --shard K/N` (all N, any order) into the sweep file
    /// an unsharded `cgkl sweep` writes (computing the Δt-sweep references).
    Merge {
        /// The shard files.
        #[arg(required = true, value_name = "SHARD")]
        shards: Vec<PathBuf>,
        /// Output sweep file.
        #[arg(long, default_value = "out/sweep.h5")]
        out: PathBuf,
        /// Overwrite an existing output file.
        #[arg(long)]
        force: bool,
    },
    // ---- end sharded sweeps ----
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
    /// Solve the B-relax peer benchmark (SPEC §8) on an L×L grid and write ρ(T) to HDF5.
    Brelax {
        /// Grid side L.
        #[arg(long = "n", value_name = "L")]
        l: usize,
        /// Relative L1 accuracy against the time-exact solution: sets the Chebyshev or rational
        /// degree (from their a-priori bounds) or the number of TR-BDF2 steps (from a measured
        /// error constant).
        #[arg(long, default_value_t = cgkl::brelax::DEFAULT_RTOL)]
        rtol: f64,
        /// Time integration: auto (default: chebyshev on small grids, rational on large ones),
        /// chebyshev (matrix-free, m products with G), rational (one factorisation or multigrid
        /// setup, m solves), trbdf2 (fixed steps) or exact (uniformization); the config kinds
        /// chebyshev, rational, trbdf2_fixed and uniformization.
        #[arg(long, value_enum, default_value_t = BrelaxMethod::Auto)]
        method: BrelaxMethod,
        /// Degree m of the rational method (overrides --rtol).
        #[arg(long)]
        degree: Option<usize>,
        /// Fixed number of TR-BDF2 steps (overrides --rtol).
        #[arg(long)]
        steps: Option<usize>,
        /// Linear solver of the rational and TR-BDF2 methods: auto (direct up to 1024², multigrid
        /// above), direct (a sparse Cholesky) or multigrid (O(n) memory).
        #[arg(long, default_value_t = cgkl::linsolve::LinearSolver::Auto)]
        linear_solver: cgkl::linsolve::LinearSolver,
        /// Also compute the time-exact solution (uniformization, slow at large L) and print the error.
        #[arg(long)]
        check: bool,
        /// Output HDF5 file (dataset rho).
        #[arg(long, default_value = "out/brelax.h5")]
        out: PathBuf,
        /// Overwrite an existing output file.
        #[arg(long)]
        force: bool,
    },
}

/// `cgkl brelax --method`: the user-facing names of the time integrators it offers, each
/// mapped to an [`cgkl::integrator::IntegratorKind`] (with the degree or the steps from
/// `--rtol`, `--degree` or `--steps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BrelaxMethod {
    /// The cheapest for --rtol by size: chebyshev while its degree is at most 700, else
    /// rational (cgkl::brelax::cheapest_for_rtol).
    Auto,
    /// The Chebyshev expansion (kind chebyshev).
    Chebyshev,
    /// The rational exponential (kind rational).
    Rational,
    /// Fixed-step TR-BDF2 (kind trbdf2_fixed).
    Trbdf2,
    /// Uniformization at tol 1e-14 (kind uniformization): the time-exact reference.
    Exact,
}

impl std::fmt::Display for BrelaxMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.to_possible_value().ok_or(std::fmt::Error)?;
        f.write_str(v.get_name())
    }
}

fn main() {
    if let Some(status) = h5check::child_if_asked() {
        std::process::exit(status);
    }
    exit_on_error(run());
}

fn load(cfg: &ConfigArgs) -> anyhow::Result<(String, Config)> {
    let text = read_config_text(cfg.config.as_deref())?;
    let config = Config::from_toml_with_overrides(&text, &cfg.set)?;
    Ok((text, config))
}

/// The jobs among `select` not already in `finished`, and their total number of steps (the
/// length of the progress bar).
fn pending<T>(
    jobs: &[cgkl::sweep::Job],
    select: impl Iterator<Item = usize>,
    finished: &std::collections::BTreeMap<usize, T>,
) -> (Vec<usize>, u64) {
    let todo: Vec<usize> = select.filter(|k| !finished.contains_key(k)).collect();
    let total = todo
        .iter()
        .map(|&k| (jobs[k].3.times.len() - 1) as u64)
        .sum();
    (todo, total)
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
    if out.as_os_str().to_string_lossy().ends_with('/') {
        return Err(CgklError::Io {
            path: out.display().to_string(),
            msg: "ends with '/'; --out takes a file name, e.g. out/run.h5".into(),
        }
        .into());
    }
    // before any work: the temporary file must be creatable beside the target
    let name = out.file_name().ok_or_else(|| CgklError::Io {
        path: out.display().to_string(),
        msg: "has no file name; --out takes a file name, e.g. out/run.h5".into(),
    })?;
    match cgkl::io::h5util::create_temp_beside(parent, name) {
        Ok((probe, f)) => {
            drop(f);
            let _ = std::fs::remove_file(probe);
        }
        Err(e) => {
            let why = match &e {
                cgkl::io::h5util::H5Error::Io { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            return Err(CgklError::Io {
                path: out.display().to_string(),
                msg: format!(
                    "cannot create a file there ({why}); choose a writable folder and a shorter name for --out"
                ),
            }
            .into());
        }
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

/// Prepares the checkpoint folder `ckpt` of a sweep and returns the runs to reuse: with
/// `resume`, the runs saved in it (checked against `jobs`); without, a folder holding saved runs
/// is an error unless `force` deletes it. The folder exists afterwards.
fn open_checkpoint(
    ckpt: &Path,
    jobs: &[Job],
    spec: &SweepSpec,
    (text, set): (&str, &[String]),
    resume: bool,
    force: bool,
) -> anyhow::Result<BTreeMap<usize, cgkl::problem::RunResult>> {
    if std::fs::symlink_metadata(ckpt).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(CgklError::Io {
            path: ckpt.display().to_string(),
            msg: "is a symbolic link; the checkpoint folder of this sweep must be a real folder (cgkl deletes it when the sweep is written): remove the link".into(),
        }
        .into());
    }
    if ckpt.exists() && !ckpt.is_dir() {
        return Err(CgklError::Io {
            path: ckpt.display().to_string(),
            msg: "is in the way of the checkpoint folder of this sweep and not a folder; move it away".into(),
        }
        .into());
    }
    let mut finished = BTreeMap::new();
    if resume {
        if ckpt.is_dir() {
            h5check::checkpoints(ckpt, text, set, spec)?;
            finished = checkpoint::load(ckpt, jobs, spec)?;
        } else {
            eprintln!(
                "note: no checkpoint folder {} to resume from; running every run",
                ckpt.display()
            );
        }
    } else if !checkpoint::finished_files(ckpt)?.is_empty() {
        if !force {
            return Err(CgklError::Io {
                path: ckpt.display().to_string(),
                msg: "holds the runs of an interrupted sweep; pass --resume (same arguments) to finish it, or --force to delete them and start over".into(),
            }
            .into());
        }
        std::fs::remove_dir_all(ckpt).map_err(|e| CgklError::Io {
            path: ckpt.display().to_string(),
            msg: format!("cannot delete the checkpoint folder ({e})"),
        })?;
    }
    if !ckpt.is_dir() {
        std::fs::create_dir(ckpt).map_err(|e| CgklError::Io {
            path: ckpt.display().to_string(),
            msg: format!("cannot create the checkpoint folder ({e})"),
        })?;
    }
    Ok(finished)
}

/// The error of a sweep that stopped: says how many runs are saved in `ckpt` and that
/// `--resume` continues; an empty checkpoint folder is removed (nothing to resume).
fn stopped(e: CgklError, ckpt: &Path, planned: usize) -> anyhow::Error {
    let saved = checkpoint::finished_files(ckpt).map_or(0, |v| v.len());
    if saved == 0 {
        let _ = std::fs::remove_dir_all(ckpt);
        return anyhow::Error::new(e).context("sweep stopped, no run finished");
    }
    anyhow::Error::new(e).context(format!(
        "sweep stopped ({saved} of {planned} runs are saved in {}; after fixing the cause, the same command with --resume runs only the rest)",
        ckpt.display()
    ))
}

/// The final file of a sweep (or shard) could not be written: every run is saved in `ckpt`, so
/// say so and how to write the file without running anything again.
fn unwritten(e: CgklError, out: &Path, ckpt: &Path) -> anyhow::Error {
    let saved = checkpoint::finished_files(ckpt).map_or(0, |v| v.len());
    anyhow::Error::new(e).context(format!(
        "cannot write {} (all {saved} runs are saved in {}; free space or fix the cause, then the same command with --resume writes the file without running them again)",
        out.display(),
        ckpt.display()
    ))
}

/// Parses a comma list of `--modes` or `--projections` through the enum's own spelling.
fn parse_list<T>(flag: &str, items: &[String]) -> anyhow::Result<Vec<T>>
where
    T: std::str::FromStr<Err = String>,
{
    items
        .iter()
        .map(|m| {
            m.parse::<T>()
                .map_err(|e| CgklError::config(flag, m.trim(), e).into())
        })
        .collect()
}

// ---- sharded sweeps: `sweep --shard K/N` and `merge` ----

/// `cgkl sweep … --shard K/N`: runs the shard's runs (with the checkpoint folder and --resume
/// of an ordinary sweep) and writes the shard file.
fn sweep_shard(
    shard: &str,
    text: &str,
    set: &[String],
    spec: &SweepSpec,
    out: Option<PathBuf>,
    force: bool,
    resume: bool,
) -> anyhow::Result<()> {
    let shard = Shard::parse(shard)?;
    let start = std::time::Instant::now();
    let base = cgkl::sweep::base_config(text, set, spec)?;
    h5check::config_inputs(text, set, &base, Some(spec))?;
    let jobs = cgkl::sweep::plan(&base, spec)?;
    let select = shard.select(jobs.len())?;
    cgkl::sweep::check_memory(&jobs, &select)?;
    let out = out.unwrap_or_else(|| shard.default_out());
    check_out(&out, force)?;
    let ckpt = checkpoint_dir(&out);
    let finished = open_checkpoint(&ckpt, &jobs, spec, (text, set), resume, force)?;
    if let Some(&j) = finished.keys().find(|&&j| !shard.contains(j)) {
        return Err(CgklError::Io {
            path: ckpt.display().to_string(),
            msg: format!(
                "holds run {}, which is not in shard {shard}; give the --shard and --out of the shard that saved it, or --force instead of --resume to start over",
                finished[&j].name
            ),
        }
        .into());
    }
    let (todo, total) = pending(&jobs, select.iter().copied(), &finished);
    eprintln!(
        "sweep shard {shard}: {} of the {} runs on {} threads{}",
        todo.len(),
        jobs.len(),
        rayon::current_num_threads(),
        if finished.is_empty() {
            String::new()
        } else {
            format!(" ({} restored from {})", finished.len(), ckpt.display())
        }
    );
    let planned = cgkl::shard::planned_names(&jobs, spec);
    drop(jobs);
    let (bar, report) = progress_for(total);
    let save = |pb: &cgkl::problem::Problem, r: &cgkl::problem::RunResult| {
        checkpoint::save_run(&ckpt, pb, r)
    };
    let runs = cgkl::sweep::run_selected(
        &base,
        spec,
        &select,
        &report,
        Resume {
            finished,
            on_run: &save,
        },
    );
    bar.finish_and_clear();
    let runs: Vec<cgkl::sweep::SweepRun> = match runs {
        Ok(r) => r.into_iter().map(|(_, run)| run).collect(),
        Err(e) => return Err(stopped(e, &ckpt, select.len())),
    };
    let meta = ShardMeta {
        input_config: text.to_string(),
        overrides: set.to_vec(),
        spec: spec.clone(),
        shard,
        planned,
        wall_s: start.elapsed().as_secs_f64(),
    };
    cgkl::shard::write_shard_file(&out, &meta, &runs, force)
        .map_err(|e| unwritten(e, &out, &ckpt))?;
    if let Err(e) = std::fs::remove_dir_all(&ckpt) {
        eprintln!(
            "warning: cannot remove the checkpoint folder {} ({e}); delete it by hand",
            ckpt.display()
        );
    }
    let mut text = String::new();
    for run in &runs {
        let r = &run.result;
        text += &format!("{:<40} wall {:.2} s\n", r.name, r.wall_s);
    }
    text += &format!(
        "wrote {} (shard {shard}); once all {} shards are done: cgkl merge --out <sweep.h5> <the {} shard files>\n",
        out.display(),
        shard.n,
        shard.n
    );
    print_out(&text)
}

/// `cgkl merge --out OUT SHARD…`.
fn merge(shards: &[PathBuf], out: &Path, force: bool) -> anyhow::Result<()> {
    for s in shards {
        check_in(s)?;
        if out.exists() && same_file(s, out) {
            return Err(CgklError::Io {
                path: out.display().to_string(),
                msg: "is one of the shard files; choose another --out".into(),
            }
            .into());
        }
    }
    check_out(out, force)?;
    h5check::shards(shards)?;
    let loaded = cgkl::shard::load_shards(shards)?;
    eprintln!(
        "merge: {} runs from {} shards{}",
        loaded.runs(),
        loaded.n(),
        if loaded.spec().is_dt_sweep() {
            format!(
                "; computing the Δt-sweep references on {} threads",
                rayon::current_num_threads()
            )
        } else {
            String::new()
        }
    );
    let sweep = loaded.merge(&|_| {})?;
    cgkl::sweep::write_sweep_file(out, &sweep, force)?;
    print_out(&format!(
        "{}\nwrote {}\n",
        format_summary(&sweep),
        out.display()
    ))
}

/// True if `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

// ---- end sharded sweeps ----

fn run() -> anyhow::Result<()> {
    let cli: Cli = app::support::parse_args();
    install_threads(cli.threads)?;
    match cli.cmd {
        Cmd::Run {
            cfg,
            out,
            baseline,
            force,
        } => {
            let (text, config) = load(&cfg)?;
            h5check::config_inputs(&text, &cfg.set, &config, None)?;
            let pb = config.validate()?;
            check_out(&out, force)?;
            if let Some(w) = &pb.warning {
                eprintln!("warning: {w}");
            }
            let n = (pb.times.len() - 1) as u64;
            let (bar, report) = progress_for(n);
            // the output file is created before any work and the snapshots are streamed into it
            let mut sink = cgkl::io::layout::RunFileSink::create(&out, &pb, force)?;
            let mut progress = cgkl::observe::OnStep(|_| report(cgkl::sweep::SweepEvent::Step));
            let projection = if baseline {
                Projection::Baseline
            } else {
                Projection::Projected
            };
            let r = pb.run_observed(projection, &mut [&mut sink, &mut progress])?;
            bar.finish_and_clear();
            sink.finish(&r)?;
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
            resume,
            shard,
        } => {
            check_sweep(&param, &values)?;
            let text = read_config_text(cfg.config.as_deref())?;
            let spec = SweepSpec {
                param,
                values,
                modes: parse_list::<FlowMode>("--modes", &modes)?,
                projections: parse_list::<Projection>("--projections", &projections)?,
            };
            if let Some(shard) = shard {
                return sweep_shard(&shard, &text, &cfg.set, &spec, out, force, resume);
            }
            let out = out.unwrap_or_else(|| PathBuf::from("out/sweep.h5"));
            let base = cgkl::sweep::base_config(&text, &cfg.set, &spec)?;
            h5check::config_inputs(&text, &cfg.set, &base, Some(&spec))?;
            let jobs = cgkl::sweep::plan(&base, &spec)?;
            cgkl::sweep::check_memory(&jobs, &(0..jobs.len()).collect::<Vec<_>>())?;
            check_out(&out, force)?;
            let ckpt = checkpoint_dir(&out);
            let finished = open_checkpoint(&ckpt, &jobs, &spec, (&text, &cfg.set), resume, force)?;
            let (todo, total) = pending(&jobs, 0..jobs.len(), &finished);
            let restored = if finished.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} of {} restored from {})",
                    finished.len(),
                    jobs.len(),
                    ckpt.display()
                )
            };
            eprintln!(
                "sweep: {} runs on {} threads{restored}",
                todo.len(),
                rayon::current_num_threads()
            );
            let (bar, report) = progress_for(total);
            let save = |pb: &cgkl::problem::Problem, r: &cgkl::problem::RunResult| {
                checkpoint::save_run(&ckpt, pb, r)
            };
            let sweep = run_sweep_resumable(
                &base,
                &spec,
                &report,
                Resume {
                    finished,
                    on_run: &save,
                },
            );
            bar.finish_and_clear();
            let sweep = match sweep {
                Ok(s) => s,
                Err(e) => return Err(stopped(e, &ckpt, jobs.len())),
            };
            cgkl::sweep::write_sweep_file(&out, &sweep, force)
                .map_err(|e| unwritten(e, &out, &ckpt))?;
            if let Err(e) = std::fs::remove_dir_all(&ckpt) {
                eprintln!(
                    "warning: cannot remove the checkpoint folder {} ({e}); delete it by hand",
                    ckpt.display()
                );
            }
            print_out(&format!(
                "{}\nwrote {}\n",
                format_summary(&sweep),
                out.display()
            ))?;
        }
        Cmd::Merge { shards, out, force } => merge(&shards, &out, force)?,
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
            h5check::inspect(&file)?;
            print_out(&cgkl::io::inspect::inspect(&file)?)?
        }
        Cmd::Config => print_out(DEFAULT_CONFIG_TOML)?,
        Cmd::Brelax {
            l,
            rtol,
            method,
            degree,
            steps,
            linear_solver,
            check,
            out,
            force,
        } => {
            use cgkl::brelax;
            use cgkl::integrator::IntegratorKind;
            let kind = match (method, degree, steps) {
                (_, Some(0), _) => {
                    return Err(CgklError::config("--degree", 0, "must be ≥ 1").into())
                }
                (_, _, Some(0)) => {
                    return Err(CgklError::config("--steps", 0, "must be ≥ 1").into())
                }
                (BrelaxMethod::Rational, Some(degree), None) => {
                    let max = cgkl::integrator::rational::MAX_DEGREE;
                    if degree > max {
                        return Err(CgklError::config(
                            "--degree",
                            degree,
                            format!("the rational method is tabulated for degrees 1..={max}"),
                        )
                        .into());
                    }
                    IntegratorKind::Rational { degree }
                }
                (BrelaxMethod::Rational, None, None) => brelax::rational_for_rtol(l, rtol)?,
                (BrelaxMethod::Chebyshev, None, None) => brelax::for_rtol(l, rtol)?,
                (BrelaxMethod::Auto, None, None) => brelax::cheapest_for_rtol(l, rtol)?,
                (BrelaxMethod::Trbdf2, None, Some(steps)) => {
                    IntegratorKind::Trbdf2Fixed { substeps: steps }
                }
                (BrelaxMethod::Trbdf2, None, None) => brelax::trbdf2_for_rtol(rtol)?,
                (BrelaxMethod::Exact, None, None) => brelax::EXACT,
                (m, _, _) => {
                    return Err(CgklError::config(
                        "--method",
                        m,
                        "takes --degree only with rational and --steps only with trbdf2",
                    )
                    .into())
                }
            };
            if !(2..=4096).contains(&l) {
                return Err(CgklError::config("--n", l, "L must lie in 2..=4096").into());
            }
            check_out(&out, force)?;
            // with --degree the accuracy is the degree's, not --rtol's
            let target = degree.is_none().then_some(rtol);
            let sol = brelax::solve_with(l, kind, linear_solver, target)?;
            brelax::write_h5(&out, &sol, force)?;
            let mut text = format!(
                "B-relax L = {l}: {}\nwall {:.3} s (assembly + time stepping), mass error {:.2e}, min ρ {:.6}\n",
                sol.describe(),
                sol.wall_s,
                sol.mass_err,
                sol.min_rho
            );
            if !sol.phases.is_empty() {
                let parts: Vec<String> = sol
                    .phases
                    .iter()
                    .map(|(name, t)| format!("{name} {t:.3}"))
                    .collect();
                text.push_str(&format!("phases (s): {}\n", parts.join(", ")));
            }
            if let (Some(degree), Some(b)) = (sol.degree, sol.error_bound) {
                // on multigrid the rational method's solves take the rest of --rtol
                let mg = sol.phases.iter().any(|(p, _)| *p == "multigrid setup");
                let solves = if mg && target.is_some() {
                    " + the multigrid solves' share"
                } else {
                    ""
                };
                text.push_str(&format!(
                    "a-priori L1 error bound ε_{degree}·χ(p₀){solves} = {b:.2e} (requested {rtol:e})\n"
                ));
            }
            if check {
                let t0 = std::time::Instant::now();
                let r = brelax::reference(l)?;
                text.push_str(&format!(
                    "relative L1 error against the time-exact solution: {:.3e} (reference {:.1} s)\n",
                    brelax::rel_l1(&sol.rho, &r),
                    t0.elapsed().as_secs_f64()
                ));
            }
            text.push_str(&format!("wrote {}\n", out.display()));
            print_out(&text)?;
        }
    }
    Ok(())
}
