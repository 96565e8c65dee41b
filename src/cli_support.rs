//! Shared edge code of the `cgkl` binary and the examples: reading configs, one-line errors
//! with exit status 2 for bad input (1 otherwise), thread pools and progress reporting.
//! This is the only library module that uses `anyhow` (it is the program edge).

use crate::error::CgklError;
use crate::sweep::SweepEvent;
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
        eprintln!("error: {}", msg.join(": ").replace('\n', " "));
        std::process::exit(exit_code(&e));
    }
}

/// The config text: the file's contents, or the built-in default (paper_toy) as TOML.
pub fn read_config_text(path: Option<&Path>) -> anyhow::Result<String> {
    match path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| {
            anyhow::Error::new(CgklError::Io {
                path: p.display().to_string(),
                msg: format!("cannot read the config file ({e}); check the path"),
            })
        }),
        None => Ok(String::new()),
    }
}

/// Sizes the global rayon pool (`None`: all cores). Results do not depend on it.
pub fn install_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(t) = threads {
        if t == 0 {
            return Err(CgklError::config("--threads", 0, "use at least 1 thread").into());
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
