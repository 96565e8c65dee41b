//! Shared edge code of the `cgkl` binary and the examples: reading configs, one-line errors
//! with exit status 2 for bad input (1 otherwise), thread pools and progress reporting.
//! This is the only library module that uses `anyhow` (it is the program edge).

use cgkl::error::CgklError;
use cgkl::sweep::SweepEvent;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

/// Exit status for an error: 2 for bad input (config, data, files), 1 for failures.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<CgklError>() {
            return if c.is_input() { 2 } else { 1 };
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return 2;
        }
    }
    1
}

/// Prints `error: …` on one line (the causes joined by `: `) and exits with [`exit_code`].
pub fn exit_on_error(r: anyhow::Result<()>) {
    if let Err(e) = r {
        let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        // not eprintln!: an unwritable stderr (a full disk) must not turn the error into a panic
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "error: {}",
            msg.join(": ").replace('\n', " ")
        );
        std::process::exit(exit_code(&e));
    }
}

/// Parses the command line: help and version print as clap prints them; any other mistake is
/// one line `error: <what is wrong>[; <clap's tip>]; see --help` and exit status 2 (clap's own
/// report takes two or three lines with a usage block).
pub fn parse_args<T: clap::Parser>() -> T {
    match T::try_parse() {
        Ok(t) => t,
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(
                e.kind(),
                K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            eprintln!("error: {}", one_line_clap(&e.render().to_string()));
            std::process::exit(2);
        }
    }
}

/// clap's rendered error on one line: its message without `error: ` (with the lines that
/// continue it, e.g. the missing arguments after "…were not provided:"), then any `tip:` lines,
/// then a pointer to `--help`; the usage block is dropped.
fn one_line_clap(rendered: &str) -> String {
    let mut msg: Vec<String> = Vec::new();
    let mut tips: Vec<String> = Vec::new();
    for l in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if l.starts_with("Usage:") || l.starts_with("For more information") {
            break;
        }
        if l.starts_with("tip:") {
            tips.push(l.to_string());
        } else {
            msg.push(l.strip_prefix("error: ").unwrap_or(l).to_string());
        }
    }
    let mut parts = vec![if msg.is_empty() {
        "invalid arguments".to_string()
    } else {
        msg.join(" ")
    }];
    parts.extend(tips);
    parts.push("see --help".into());
    parts.join("; ")
}

/// The config text: the file's contents (checked to be valid TOML; the error names the file,
/// line and column), or the built-in default (paper_toy) as TOML.
pub fn read_config_text(path: Option<&Path>) -> anyhow::Result<String> {
    match path {
        Some(p) => {
            if p.is_dir() {
                return Err(CgklError::Io {
                    path: p.display().to_string(),
                    msg: "is a folder, not a config file; pass a TOML file (see `cgkl config`)"
                        .into(),
                }
                .into());
            }
            let text = std::fs::read_to_string(p).map_err(|e| {
                anyhow::Error::new(CgklError::Io {
                    path: p.display().to_string(),
                    msg: format!("cannot read the config file ({e}); check the path"),
                })
            })?;
            cgkl::config::check_toml_syntax(&text).map_err(|e| match e {
                CgklError::Parse(msg) => CgklError::Parse(format!("{}: {msg}", p.display())),
                other => other,
            })?;
            Ok(text)
        }
        None => Ok(String::new()),
    }
}

/// Writes `text` to stdout: a closed pipe (`cgkl inspect f.h5 | head`) ends the output quietly,
/// any other write failure is an error instead of a panic.
pub fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CgklError::Io {
            path: "stdout".into(),
            msg: format!("cannot write the output ({e})"),
        }
        .into()),
    }
}

/// Largest `--threads` accepted.
pub const MAX_THREADS: usize = 1024;

/// Sizes the global rayon pool (`None`: all cores). Results do not depend on it.
pub fn install_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(t) = threads {
        if t == 0 || t > MAX_THREADS {
            return Err(CgklError::config(
                "--threads",
                t,
                format!("use 1..={MAX_THREADS} threads (default: all cores)"),
            )
            .into());
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}

/// A progress bar over `total` projection steps on a terminal (hidden otherwise), and the
/// sweep callback feeding it; without a terminal each finished run prints one plain line.
pub fn progress_for(total: u64) -> (ProgressBar, impl Fn(SweepEvent) + Sync) {
    let tty = std::io::stderr().is_terminal();
    let bar = if tty {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} steps ({eta} left) {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    let b = bar.clone();
    let report = move |ev: SweepEvent| match ev {
        SweepEvent::Step => b.inc(1),
        SweepEvent::RunDone { name, wall_s } => {
            if tty {
                b.set_message(format!("{name} done"));
            } else {
                eprintln!("  finished {name} in {wall_s:.2} s");
            }
        }
    };
    (bar, report)
}

/// The options every example takes.
#[derive(clap::Parser, Debug)]
pub struct ExampleArgs {
    /// TOML config (default: the built-in paper_toy problem).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Override a config key, e.g. --set projection.delta=0.02 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Output folder (created if missing).
    #[arg(long, default_value = "out")]
    pub out: std::path::PathBuf,
    /// A small problem (32×32 grid) for tests and a first look.
    #[arg(long)]
    pub quick: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

impl ExampleArgs {
    /// Installs the thread pool, validates the config (nothing is created before it passes),
    /// creates the output folder and returns the config text and the overrides (`--quick`
    /// first, then every `--set`).
    pub fn prepare(&self) -> anyhow::Result<(String, Vec<String>)> {
        self.prepare_with_default("")
    }

    /// [`ExampleArgs::prepare`] with `default_text` as the config when no `--config` is given.
    pub fn prepare_with_default(
        &self,
        default_text: &str,
    ) -> anyhow::Result<(String, Vec<String>)> {
        install_threads(self.threads)?;
        let text = match &self.config {
            Some(p) => read_config_text(Some(p))?,
            None => default_text.to_string(),
        };
        let mut ov: Vec<String> = Vec::new();
        if self.quick {
            ov.extend(["grid.nx=32", "grid.ny=32"].map(String::from));
        }
        ov.extend(self.set.iter().cloned());
        cgkl::config::Config::from_toml_with_overrides(&text, &ov)?.validate()?;
        if self.out.exists() && !self.out.is_dir() {
            return Err(CgklError::Io {
                path: self.out.display().to_string(),
                msg: "exists and is not a folder; --out takes a folder".into(),
            }
            .into());
        }
        std::fs::create_dir_all(&self.out).map_err(|e| {
            anyhow::Error::new(CgklError::Io {
                path: self.out.display().to_string(),
                msg: format!("cannot create the output folder ({e})"),
            })
        })?;
        Ok((text, ov))
    }
}
