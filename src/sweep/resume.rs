//! Checkpoints of a running sweep (`cgkl sweep --resume`): while a sweep writing `<out>` runs,
//! every finished run is written atomically (temp file + rename) to `<out>.partial/<run>.h5` in
//! the layout of [`write_run_file`]. An interrupted sweep is finished by loading those runs back
//! ([`load`]: each must be a run the sweep plans, with the same stored `config` and `version`)
//! and running only the rest; the sweep file is then written as usual and the folder removed.

use crate::error::{CgklError, Result};
use crate::io::h5util;
use crate::io::input::{inputs_differ, InputFile};
use crate::io::layout::write_run_file;
use crate::io::read_run::read_run;
use crate::problem::{Problem, RunResult};
use crate::sweep::{run_name, Job, SweepSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Appended to the output file name to name the checkpoint folder.
pub const SUFFIX: &str = ".partial";

/// The checkpoint folder of a sweep writing `out`: `<out>.partial` next to it.
pub fn checkpoint_dir(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(SUFFIX);
    out.with_file_name(name)
}

/// A run name as a file name: ASCII letters, digits and `_-.=+,` are kept, every other byte
/// becomes `%XX` (so different names give different files).
fn file_stem(name: &str) -> String {
    let mut s = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"_-.=+,".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// The checkpoint file of run `name` in `dir`.
pub fn run_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{}.h5", file_stem(name)))
}

/// One checkpoint write at a time (hdf5-metno already serialises every HDF5 call through one
/// global lock; this keeps whole files from interleaving).
static WRITE: Mutex<()> = Mutex::new(());

/// Writes the finished run `run` of `pb` into `dir` (atomically; safe from several threads).
pub fn save_run(dir: &Path, pb: &Problem, run: &RunResult) -> Result<()> {
    let _lock = WRITE.lock().unwrap_or_else(|e| e.into_inner());
    write_run_file(&run_file(dir, &run.name), pb, run, true)
}

fn io_err(path: &Path, msg: impl Into<String>) -> CgklError {
    CgklError::Io {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// The finished runs (`*.h5` files) in checkpoint folder `dir`, sorted; none if it does not
/// exist.
pub fn finished_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let rd = std::fs::read_dir(dir)
        .map_err(|e| io_err(dir, format!("cannot read the checkpoint folder ({e})")))?;
    let mut v = Vec::new();
    for e in rd {
        let e = e.map_err(|e| io_err(dir, format!("cannot read the checkpoint folder ({e})")))?;
        let p = e.path();
        if p.extension().is_some_and(|x| x == "h5") && p.is_file() {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

/// The first line where two TOML texts differ, with its `[section]`, for error messages.
pub(crate) fn first_difference(stored: &str, planned: &str) -> String {
    let (mut a, mut b) = (stored.lines(), planned.lines());
    let mut section = String::new();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return "same text".into(),
            (x, y) if x == y => {
                if let Some(l) = x.filter(|l| l.trim_start().starts_with('[')) {
                    section = format!("{} ", l.trim());
                }
            }
            (x, y) => {
                return format!(
                    "{section}stored `{}`, now `{}`",
                    x.unwrap_or("(end)").trim(),
                    y.unwrap_or("(end)").trim()
                )
            }
        }
    }
}

/// Loads the runs of checkpoint folder `dir` back, by job index into `jobs` (from
/// [`crate::sweep::plan`] with `spec`). Every stored run must be a planned run with the same
/// `config` and `version`; otherwise the error names the file and says how to start over.
/// Leftover temp files of an interrupted write are removed.
pub fn load(dir: &Path, jobs: &[Job], spec: &SweepSpec) -> Result<BTreeMap<usize, RunResult>> {
    if !dir.is_dir() {
        return Err(io_err(dir, "is not a folder; remove it"));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().contains(".h5.tmp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    read_checkpoints(dir, jobs, spec, &|_| {})
}

/// [`load`] without removing leftover temp files, calling `before_open(file)` before each
/// checkpoint file is opened (in the order [`load`] opens them: [`finished_files`]); the `cgkl`
/// binary reads the files this way in a child process first, to name the file that crashes
/// the HDF5 library.
pub fn read_checkpoints(
    dir: &Path,
    jobs: &[Job],
    spec: &SweepSpec,
    before_open: &dyn Fn(&Path),
) -> Result<BTreeMap<usize, RunResult>> {
    let start_over = format!(
        "delete {} (or pass --force instead of --resume) to start the sweep over",
        dir.display()
    );
    let src = Source {
        what: "checkpoint",
        redo: "delete this file to run it again",
        start_over: &start_over,
    };
    let mut out = BTreeMap::new();
    for path in finished_files(dir)? {
        before_open(&path);
        let f = crate::io::open_h5(
            &path,
            "a broken checkpoint: delete this file to run it again",
        )?;
        let (k, run) = load_run(&f, &path, jobs, spec, &src)?;
        if out.insert(k, run).is_some() {
            return Err(io_err(
                &path,
                format!(
                    "a second checkpoint of run {}; {start_over}",
                    run_name(spec, jobs[k].1, jobs[k].2, &jobs[k].0)
                ),
            ));
        }
    }
    Ok(out)
}

/// Where a stored run comes from, for the error messages of [`load_run`].
pub struct Source<'a> {
    /// What holds the run, e.g. `checkpoint` (messages say "checkpoint of run …").
    pub what: &'a str,
    /// How to get past an unreadable run, e.g. "delete this file to run it again".
    pub redo: &'a str,
    /// How to start over when the run does not belong to the planned sweep.
    pub start_over: &'a str,
}

/// Reads the run stored in `g` (a run file's root or a `/runs/<name>` group; `path` names it in
/// errors) back as the run of one of `jobs` (from [`crate::sweep::plan`] with `spec`): it must
/// be a planned run with the same stored `config`, `version` and projection kind. Returns its
/// job index and the run.
pub fn load_run(
    g: &hdf5::Group,
    path: &Path,
    jobs: &[Job],
    spec: &SweepSpec,
    src: &Source<'_>,
) -> Result<(usize, RunResult)> {
    let Source {
        what,
        redo,
        start_over,
    } = src;
    let attr = |name: &str| -> Result<String> {
        h5util::read_attr_str(g, name)
            .map_err(|e| io_err(path, format!("not a cgkl run {what} ({e}); {redo}")))
    };
    let name = attr("name")?;
    let Some(k) = jobs
        .iter()
        .position(|(value, mode, projection, _)| run_name(spec, *mode, *projection, value) == name)
    else {
        return Err(io_err(
            path,
            format!(
                "{what} of run {name}, which this sweep does not plan (it was made with other --param, --values, --modes or --projections); {start_over}"
            ),
        ));
    };
    let (_, _, planned_projection, pb) = &jobs[k];
    let version = attr("version")?;
    if version != env!("CARGO_PKG_VERSION") {
        return Err(io_err(
            path,
            format!(
                "{what} of run {name} was made by cgkl {version}, this is {}; {start_over}",
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    let config = attr("config")?;
    let planned = pb.stored_config(*planned_projection).to_toml();
    if config != planned {
        return Err(io_err(
            path,
            format!(
                "{what} of run {name} was made with a different config ({}); {start_over}",
                first_difference(&config, &planned)
            ),
        ));
    }
    let projection = attr("projection")?;
    if projection != planned_projection.name() {
        return Err(io_err(
            path,
            format!("{what} of run {name} is a {projection} run; {start_over}"),
        ));
    }
    let stored_inputs =
        InputFile::parse_lines(&h5util::read_attr_str_opt(g, "inputs").unwrap_or_default())
            .ok_or_else(|| {
                io_err(
                    path,
                    format!("{what} of run {name} has a malformed `inputs` attribute; {redo}"),
                )
            })?;
    if let Some(d) = inputs_differ(&stored_inputs, &pb.inputs) {
        return Err(io_err(
            path,
            format!("{what} of run {name} was made from other input files: {d}; restore that file, or {start_over}"),
        ));
    }
    let run =
        read_run(g, pb).map_err(|e| io_err(path, format!("unreadable {what} ({e}); {redo}")))?;
    check_restored(pb, &run).map_err(|e| {
        io_err(
            path,
            format!("{what} of run {name} is damaged: {e}; {redo}"),
        )
    })?;
    Ok((k, run))
}

/// Checks a run read back as a fresh run of `pb` is checked (SPEC invariants): every state it
/// holds (`final/p`, every snapshot) finite, ≥ [`crate::splitting::MIN_P_TOL`] and of the
/// initial mass to [`crate::splitting::mass_tol`] of its steps; the snapshot at s_0 equal to
/// p_0 and the one at s_N to `final/p`; every record's `s` the planned time, its `mass` the
/// initial mass and its `min_p` non-negative (to the same tolerances), its block masses finite,
/// and the last record's block masses those of `final/p`.
pub fn check_restored(pb: &Problem, run: &RunResult) -> Result<()> {
    let out = &run.output;
    let n_steps = pb.times.len() - 1;
    let mass0: f64 = pb.p0.iter().sum();
    let tol = crate::splitting::mass_tol(n_steps, out.stats.steps);
    let s_end = pb.times[n_steps];
    let msg = |e: CgklError, what: &str| -> CgklError {
        match e {
            CgklError::Invariant { msg, .. } => CgklError::Data(format!("{what}: {msg}")),
            other => other,
        }
    };
    crate::splitting::check_invariants(&out.final_p, mass0, tol, n_steps, s_end)
        .map_err(|e| msg(e, "final/p"))?;
    let cells = pb.grid.n();
    for (j, (snap, &n)) in out
        .snapshots
        .chunks_exact(cells)
        .zip(&out.snapshot_steps)
        .enumerate()
    {
        crate::splitting::check_invariants(snap, mass0, tol, n, pb.times[n])
            .map_err(|e| msg(e, &format!("snapshots/p[{j}]")))?;
        let same = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        if n == 0 && !same(snap, &pb.p0) {
            return Err(CgklError::Data(format!(
                "snapshots/p[{j}] (s_0) is not the problem's p_0"
            )));
        }
        if n == n_steps && !same(snap, &out.final_p) {
            return Err(CgklError::Data(format!(
                "snapshots/p[{j}] (s_N) differs from final/p"
            )));
        }
    }
    for (n, r) in out.records.iter().enumerate() {
        // NaN is a legitimate value of some diagnostics (τ at s_0, kl_track without an
        // oracle): check those with a known value
        if r.s.to_bits() != pb.times[n].to_bits() {
            return Err(CgklError::Data(format!(
                "trajectory/s[{n}] = {} is not s_{n} = {}",
                r.s, pb.times[n]
            )));
        }
        if (r.mass - mass0).abs().is_nan() || (r.mass - mass0).abs() > tol {
            return Err(CgklError::Data(format!(
                "trajectory/mass[{n}] = {} is not the mass {mass0}",
                r.mass
            )));
        }
        if r.min_p.is_nan() || r.min_p < crate::splitting::MIN_P_TOL {
            return Err(CgklError::Data(format!(
                "trajectory/min_p[{n}] = {} is negative or not a number",
                r.min_p
            )));
        }
        if let Some(i) = r.w.iter().position(|x| !x.is_finite()) {
            return Err(CgklError::Data(format!(
                "trajectory/w[{n}, {i}] = {} is not finite",
                r.w[i]
            )));
        }
    }
    if let Some(last) = out.records.last() {
        let mut w = vec![0.0; pb.partition.m()];
        for (i, &x) in out.final_p.iter().enumerate() {
            w[pb.partition.labels()[i] as usize] += x;
        }
        if let Some(b) = (0..w.len()).find(|&b| (w[b] - last.w[b]).abs() > tol) {
            return Err(CgklError::Data(format!(
                "trajectory/w[N, {b}] = {} but final/p holds {} in block {b}",
                last.w[b], w[b]
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_distinct_safe_files() {
        let d = Path::new("/x");
        assert_eq!(
            run_file(d, "kernel_projected_N40"),
            Path::new("/x/kernel_projected_N40.h5")
        );
        let a = run_file(d, "kernel_projected_kind=\"a/b\"");
        let b = run_file(d, "kernel_projected_kind=\"a_b\"");
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(d));
        assert_eq!(
            checkpoint_dir(Path::new("out/sweep.h5")),
            Path::new("out/sweep.h5.partial")
        );
    }

    #[test]
    fn first_difference_names_the_section() {
        let a = "[grid]\nnx = 32\nny = 32\n";
        let b = "[grid]\nnx = 16\nny = 32\n";
        assert_eq!(
            first_difference(a, b),
            "[grid] stored `nx = 32`, now `nx = 16`"
        );
    }
}
