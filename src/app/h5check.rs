//! Untrusted HDF5 inputs are read in a child process first: libhdf5 1.10.8 (Debian's, which
//! cgkl links) segfaults on some corrupt files (`fuzz/hdf5_crashes/`, out-of-bounds `memcpy`
//! inside the library), and a segfault cannot be caught in the process it happens in. Before
//! `cgkl` opens a file it did not write (score fields and label files a config names, the
//! checkpoints of `sweep --resume`, the shards of `merge`, the file of `inspect`), it runs itself
//! as `cgkl __check-h5 <what> …`, which reads the same files with the same library functions
//! (`InputReader::read`, `resume::read_checkpoints`, `shard::load_shards_observed`,
//! `inspect::inspect`) and drops the result. If the child dies from a signal, the parent prints
//! `error: <file>: the HDF5 library crashed reading it (signal N); the file is damaged: <fix>`
//! and exits 2 before writing anything; otherwise it goes on, and its own loader gives any
//! ordinary error itself (the same message, at the same point as without the check).
//!
//! Protocol: the child writes `<what>\t<path>\0` to stdout before it opens each file (flushed, so
//! the last record names the file it died in) and `done\0` once every read returned; the config
//! text comes on stdin. The check runs before the parent opens any HDF5 file of its own, so the
//! child inherits no HDF5 descriptor or lock (libhdf5 opens without `O_CLOEXEC`).
//!
//! Why here: the library only lists the inputs ([`cgkl::io::reader::InputReader`]) and reports
//! each file before it opens it (`before_open` of the checkpoint and shard readers); it spawns
//! nothing, installs no global hook, and a library user keeps full control. A newer libhdf5
//! (1.14.6, 2.0.0) reads all these files without crashing, but Debian's 1.10.8 stays cgkl's
//! prerequisite.
//!
//! The child may read more than the parent would (the inputs of every planned run even where
//! an earlier run's config is invalid; the inputs the shards' config names before the shards
//! are checked against each other), never less: a file that crashes the library is refused
//! even where the parent would have stopped at another error first.
//!
//! Cost (docs/benchmarks.md, seventh sitting): one child per command that reads such files,
//! none for tiles and model scores; about 3 ms for a small file (1.5 ms of it the process
//! start) plus the file's read; a resume or merge child also plans the sweep (12 ms for 28
//! runs at 32², 68 ms for 16 at 128²).

use cgkl::config::Config;
use cgkl::error::CgklError;
use cgkl::io::reader::InputReader;
use cgkl::sweep::SweepSpec;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The hidden subcommand the child runs (not a clap subcommand, so `--help` does not show it).
const SUBCOMMAND: &str = "__check-h5";

const DONE: &[u8] = b"done";
const SCORE_FIELD: &str = "score field";
const LABEL_FILE: &str = "label file";
const CHECKPOINT: &str = "checkpoint";
const SHARD: &str = "shard file";
const FILE: &str = "file";

/// How to get past a damaged file, by what it is.
fn fix(what: &str) -> &'static str {
    match what {
        SCORE_FIELD => {
            "write the score field again (e.g. with h5py or ScoreField::write) or point score.file at another file"
        }
        LABEL_FILE => "export the label image again or point partition.file at another file",
        CHECKPOINT => "delete this checkpoint to run its run again",
        SHARD => "run this shard again (cgkl sweep … --shard K/N --force)",
        _ => "cgkl cannot read it; write it again",
    }
}

// ---- the parent ----

/// Before a run or sweep reads the files its config names: the inputs of `config` (a run), or
/// of every planned run of the sweep `spec` over `config` (`text` and `set` are what `config`
/// was made from; the child rebuilds it from them).
pub fn config_inputs(
    text: &str,
    set: &[String],
    config: &Config,
    spec: Option<&SweepSpec>,
) -> anyhow::Result<()> {
    if inputs_of(config, spec).is_empty() {
        return Ok(());
    }
    let mut args = vec![OsString::from("inputs")];
    args.extend(config_args(set, spec));
    isolate(&args, text)
}

/// Before `sweep --resume` loads the checkpoints in `dir` (the sweep `spec` over `text` with
/// `set`).
pub fn checkpoints(dir: &Path, text: &str, set: &[String], spec: &SweepSpec) -> anyhow::Result<()> {
    if cgkl::sweep::resume::finished_files(dir).map_or(true, |v| v.is_empty()) {
        return Ok(());
    }
    let mut args = vec![OsString::from("checkpoints"), dir.as_os_str().to_owned()];
    args.extend(config_args(set, Some(spec)));
    isolate(&args, text)
}

/// Before `merge` reads `files` (and the inputs their config names).
pub fn shards(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut args = vec![OsString::from("shards")];
    args.extend(files.iter().map(|f| f.as_os_str().to_owned()));
    isolate(&args, "")
}

/// Before `inspect` reads `file`.
pub fn inspect(file: &Path) -> anyhow::Result<()> {
    isolate(
        &[OsString::from("inspect"), file.as_os_str().to_owned()],
        "",
    )
}

/// `--set`, `--param`, `--value`, `--mode`, `--projection` arguments of the child (one value
/// each, in `--key=value` form, so no value is split or taken for a flag).
fn config_args(set: &[String], spec: Option<&SweepSpec>) -> Vec<OsString> {
    let mut v: Vec<String> = set.iter().map(|s| format!("--set={s}")).collect();
    if let Some(spec) = spec {
        v.push(format!("--param={}", spec.param));
        v.extend(spec.values.iter().map(|x| format!("--value={x}")));
        v.extend(spec.modes.iter().map(|m| format!("--mode={m}")));
        v.extend(spec.projections.iter().map(|p| format!("--projection={p}")));
    }
    v.into_iter().map(OsString::from).collect()
}

/// Runs `cgkl __check-h5 args…` with `stdin` on its standard input and turns its death into
/// an error naming the file it was reading.
fn isolate(args: &[OsString], stdin: &str) -> anyhow::Result<()> {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("warning: cannot check the HDF5 inputs in a child process ({e}); reading them directly");
            return Ok(());
        }
    };
    let child = Command::new(exe)
        .arg(SUBCOMMAND)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warning: cannot check the HDF5 inputs in a child process ({e}); reading them directly");
            return Ok(());
        }
    };
    if let Some(mut w) = child.stdin.take() {
        // a child that died early closed the pipe; its status says why
        let _ = w.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output()?;
    let records: Vec<&[u8]> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|r| !r.is_empty())
        .collect();
    if out.status.success() && records.last() == Some(&DONE) {
        return Ok(());
    }
    let (how, is) = match signal(&out.status) {
        Some(n) => (
            format!("the HDF5 library crashed reading it (signal {n})"),
            "is",
        ),
        None => (
            format!("reading it in a child process failed ({})", out.status),
            "may be",
        ),
    };
    let Some((what, path)) = records.last().and_then(|r| split_record(r)) else {
        anyhow::bail!(
            "the check of the HDF5 inputs in a child process ended before it read a file ({})",
            out.status
        );
    };
    Err(CgklError::Data(format!(
        "{}: {how}; the file {is} damaged: {}",
        path.display(),
        fix(&what)
    ))
    .into())
}

#[cfg(unix)]
fn signal(s: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    s.signal()
}

#[cfg(not(unix))]
fn signal(_: &std::process::ExitStatus) -> Option<i32> {
    None
}

fn split_record(r: &[u8]) -> Option<(String, PathBuf)> {
    let k = r.iter().position(|&b| b == b'\t')?;
    let what = String::from_utf8_lossy(&r[..k]).into_owned();
    Some((what, PathBuf::from(os_from_bytes(&r[k + 1..]))))
}

#[cfg(unix)]
fn os_from_bytes(b: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(b).to_owned()
}

#[cfg(not(unix))]
fn os_from_bytes(b: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(b).into_owned())
}

#[cfg(unix)]
fn os_bytes(s: &OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: &OsStr) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

/// The distinct inputs of `config`, or of every planned run of `spec` over it (up to the first
/// config that does not build, where the plan stops), in reading order.
fn inputs_of(config: &Config, spec: Option<&SweepSpec>) -> Vec<InputReader> {
    let configs: Vec<Config> = match spec {
        None => vec![config.clone()],
        Some(spec) => cgkl::sweep::planned_configs(config, spec)
            .map(|(_, _, _, c)| c)
            .take_while(Result::is_ok)
            .flatten()
            .collect(),
    };
    let mut v: Vec<InputReader> = Vec::new();
    for f in configs.iter().flat_map(InputReader::of_config) {
        if !v.contains(&f) {
            v.push(f);
        }
    }
    v
}

// ---- the child ----

/// If this process was started as `cgkl __check-h5 …`, does the reads and returns the exit
/// status (0 unless the arguments are bad); otherwise `None`.
pub fn child_if_asked() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(SUBCOMMAND)) {
        return None;
    }
    let args: Vec<OsString> = args.collect();
    Some(match child(&args) {
        Ok(()) => {
            record_raw(DONE);
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    })
}

/// Writes one record and flushes it, so it is out before the next library call.
fn record_raw(r: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(r).and_then(|_| out.write_all(b"\0"));
    let _ = out.flush();
}

fn record(what: &str, path: &Path) {
    let mut r = what.as_bytes().to_vec();
    r.push(b'\t');
    r.extend(os_bytes(path.as_os_str()));
    record_raw(&r);
}

/// The options of the child's `inputs` and `checkpoints`.
#[derive(Default)]
struct ConfigOpts {
    set: Vec<String>,
    param: Option<String>,
    values: Vec<String>,
    modes: Vec<String>,
    projections: Vec<String>,
}

impl ConfigOpts {
    fn parse(args: &[OsString]) -> anyhow::Result<Self> {
        let mut o = ConfigOpts::default();
        for a in args {
            let s = a.to_string_lossy();
            let Some((key, value)) = s.strip_prefix("--").and_then(|s| s.split_once('=')) else {
                anyhow::bail!("{SUBCOMMAND}: unexpected argument {s:?}");
            };
            let value = value.to_string();
            match key {
                "set" => o.set.push(value),
                "param" => o.param = Some(value),
                "value" => o.values.push(value),
                "mode" => o.modes.push(value),
                "projection" => o.projections.push(value),
                _ => anyhow::bail!("{SUBCOMMAND}: unknown option --{key}"),
            }
        }
        Ok(o)
    }

    /// The config from `text` (stdin) and the sweep, or `None` where the parent's own parsing
    /// fails first (it reports that).
    fn config(&self, text: &str) -> Option<(Config, Option<SweepSpec>)> {
        let Some(param) = &self.param else {
            let config = Config::from_toml_with_overrides(text, &self.set).ok()?;
            return Some((config, None));
        };
        let spec = SweepSpec {
            param: param.clone(),
            values: self.values.clone(),
            modes: self
                .modes
                .iter()
                .map(|m| m.parse())
                .collect::<Result<_, _>>()
                .ok()?,
            projections: self
                .projections
                .iter()
                .map(|p| p.parse())
                .collect::<Result<_, _>>()
                .ok()?,
        };
        // the sweep's base as the parent builds it
        let config = cgkl::sweep::base_config(text, &self.set, &spec).ok()?;
        Some((config, Some(spec)))
    }
}

/// Reads an input, recording it first; an ordinary error is left to the parent's own reading.
fn read_input(f: &InputReader) {
    let what = match f {
        InputReader::Labels { .. } => LABEL_FILE,
        InputReader::ScoreField { .. } => SCORE_FIELD,
    };
    record(what, f.path());
    let _ = f.read();
}

fn child(args: &[OsString]) -> anyhow::Result<()> {
    let Some((cmd, args)) = args.split_first() else {
        anyhow::bail!("{SUBCOMMAND}: give inputs, checkpoints, shards or inspect");
    };
    let stdin = || {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    };
    match cmd.to_string_lossy().as_ref() {
        "inputs" => {
            let o = ConfigOpts::parse(args)?;
            if let Some((config, spec)) = o.config(&stdin()?) {
                inputs_of(&config, spec.as_ref())
                    .iter()
                    .for_each(read_input);
            }
        }
        "checkpoints" => {
            let [dir, opts @ ..] = args else {
                anyhow::bail!("{SUBCOMMAND} checkpoints: give the folder, then the options");
            };
            let o = ConfigOpts::parse(opts)?;
            if let Some((config, Some(spec))) = o.config(&stdin()?) {
                // the parent planned the same sweep already, so this plan reads nothing new
                if let Ok(jobs) = cgkl::sweep::plan(&config, &spec) {
                    let _ =
                        cgkl::sweep::resume::read_checkpoints(Path::new(dir), &jobs, &spec, &|p| {
                            record(CHECKPOINT, p)
                        });
                }
            }
        }
        "shards" => {
            let files: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
            // the inputs the shards' config names, which the merge's plan reads
            if let Some(first) = files.first() {
                record(SHARD, first);
                if let Ok(meta) = cgkl::shard::read_shard_meta(first) {
                    if let Ok(base) = meta.base() {
                        inputs_of(&base, Some(&meta.spec))
                            .iter()
                            .for_each(read_input);
                    }
                }
            }
            let _ = cgkl::shard::load_shards_observed(&files, &|p| record(SHARD, p));
        }
        "inspect" => {
            let [file] = args else {
                anyhow::bail!("{SUBCOMMAND} inspect: give one file");
            };
            record(FILE, Path::new(file));
            let _ = cgkl::io::inspect::inspect(Path::new(file));
        }
        other => anyhow::bail!("{SUBCOMMAND}: unknown check {other:?}"),
    }
    Ok(())
}
