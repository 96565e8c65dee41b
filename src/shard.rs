//! Sharded sweeps, for clusters (a Slurm job array, see `docs/cluster.md`):
//! `cgkl sweep --shard k/n` runs the k-th of n disjoint slices of a sweep and writes a shard file;
//! `cgkl merge` joins the n shard files into the sweep file an unsharded `cgkl sweep` writes.
//!
//! * **Slicing.** Job `j` (its index in [`crate::sweep::plan`]'s order: values × modes ×
//!   projections) belongs to shard `k` iff `j mod n = k − 1`. `k` counts from 1, like
//!   `SLURM_ARRAY_TASK_ID` of `--array=1-n`. Round robin spreads the expensive runs (large N,
//!   resolved flow) over the shards; the slice depends on nothing but `(j, k, n)`.
//! * **Shard file** (root attribute `kind` = [`SHARD_KIND`], written by
//!   [`crate::shard::write_shard_file`]): the shard's runs in the sweep-file layout, plus
//!   the sweep's identity (config text, `--set` overrides, param, values, modes, projections,
//!   cgkl version), `shard_k`, `shard_n` and the names of every planned run.
//! * **References.** The Δt-sweep references p★(T) (and so the summary) are computed by
//!   [`Shards::merge`] (`cgkl merge`), not by a shard: it hands every run to
//!   [`run_sweep_resumable`] as already finished, the code path of an unsharded sweep and of
//!   `--resume`, so the merged file equals the unsharded one (every dataset bit for bit, every
//!   attribute but the wall times). The price: the merge job computes the two references (in
//!   parallel, on up to 2 threads), which an unsharded sweep computes alongside its runs.
//! * **Inputs.** The merge plans the sweep again from the stored config text, so files the config
//!   names (images, label images, score fields; relative paths from the working directory) must
//!   be readable where the merge runs.

use crate::config::Config;
use crate::config::FlowMode;
use crate::error::{CgklError, Result};
use crate::io::h5util;
use crate::problem::Projection;
use crate::sweep::layout::write_sweep_runs;
use crate::sweep::resume::{first_difference, load_run, Source};
use crate::sweep::{
    plan, run_name, run_sweep_resumable, Resume, SweepEvent, SweepResult, SweepRun, SweepSpec,
};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Root attribute `kind` of a shard file.
pub const SHARD_KIND: &str = "sweep_shard";

/// Shard `k` of `n` (1 ≤ k ≤ n).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, from 1.
    pub k: usize,
    /// Number of slices.
    pub n: usize,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl Shard {
    /// Parses `K/N` (1 ≤ K ≤ N) as given to `--shard`.
    pub fn parse(text: &str) -> Result<Self> {
        let usage = "give K/N with 1 ≤ K ≤ N, e.g. --shard 2/4 (K counts from 1, like SLURM_ARRAY_TASK_ID of sbatch --array=1-N)";
        let bad = |fix: &str| CgklError::config("--shard", format!("{text:?}"), fix);
        let Some((k, n)) = text.trim().split_once('/') else {
            return Err(bad(usage));
        };
        let (Ok(k), Ok(n)) = (k.trim().parse::<usize>(), n.trim().parse::<usize>()) else {
            return Err(bad(usage));
        };
        if n == 0 {
            return Err(bad(&format!("N must be at least 1; {usage}")));
        }
        if k == 0 {
            return Err(bad(&format!("K counts from 1; {usage}")));
        }
        if k > n {
            return Err(bad(&format!("K must not exceed N; {usage}")));
        }
        Ok(Self { k, n })
    }

    /// True if job `j` belongs to this shard (`j mod n = k − 1`).
    pub fn contains(&self, j: usize) -> bool {
        j % self.n == self.k - 1
    }

    /// The job indices of this shard among `n_jobs` planned runs, ascending. More shards than
    /// runs is an error (some shards would be empty).
    pub fn select(&self, n_jobs: usize) -> Result<Vec<usize>> {
        if self.n > n_jobs {
            return Err(CgklError::config(
                "--shard",
                self,
                format!("the sweep plans only {n_jobs} runs; use at most {n_jobs} shards"),
            ));
        }
        Ok((0..n_jobs).filter(|&j| self.contains(j)).collect())
    }

    /// The default shard file: `out/sweep.shard<k>of<n>.h5`.
    pub fn default_out(&self) -> PathBuf {
        PathBuf::from(format!("out/sweep.shard{}of{}.h5", self.k, self.n))
    }
}

/// What a shard file records besides its runs.
#[derive(Debug, Clone)]
pub struct ShardMeta {
    /// The config text given to `cgkl sweep` (empty: the built-in default).
    pub input_config: String,
    /// The `--set` overrides, in order.
    pub overrides: Vec<String>,
    /// What is swept.
    pub spec: SweepSpec,
    /// Which shard.
    pub shard: Shard,
    /// Names of every planned run of the whole sweep, in job order.
    pub planned: Vec<String>,
    /// Wall time of the shard (s).
    pub wall_s: f64,
}

impl ShardMeta {
    /// The sweep's base config: [`ShardMeta::input_config`] with [`ShardMeta::overrides`]
    /// ([`crate::sweep::base_config`]).
    pub fn base(&self) -> Result<crate::config::Config> {
        crate::sweep::base_config(&self.input_config, &self.overrides, &self.spec)
    }
}

/// The names of every planned run, in job order.
pub fn planned_names(jobs: &[crate::sweep::Job], spec: &SweepSpec) -> Vec<String> {
    jobs.iter()
        .map(|(v, mode, projection, _)| run_name(spec, *mode, *projection, v))
        .collect()
}

fn io_err(path: &Path, msg: impl Into<String>) -> CgklError {
    CgklError::Io {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// A shard file's metadata, read back, with the stored version and run names.
struct ShardFile {
    path: PathBuf,
    meta: ShardMeta,
    version: String,
    runs: Vec<String>,
}

fn open(path: &Path) -> Result<hdf5::File> {
    crate::io::open_h5(path, "pass the shard files written by cgkl sweep --shard")
}

/// The metadata of shard file `path`, read and checked as [`load_shards`] reads it (the sweep it
/// belongs to: [`ShardMeta::base`] and `spec`).
pub fn read_shard_meta(path: &Path) -> Result<ShardMeta> {
    read_shard_file(path).map(|s| s.meta)
}

fn read_shard_file(path: &Path) -> Result<ShardFile> {
    let f = open(path)?;
    let root: &hdf5::Group = &f;
    let not_shard = |what: String| {
        io_err(
            path,
            format!("{what}, not a shard file of `cgkl sweep --shard K/N`; pass only the shard files of one sweep"),
        )
    };
    let kind = h5util::read_attr_str(root, "kind")
        .map_err(|_| not_shard("has no root attribute `kind`".into()))?;
    if kind != SHARD_KIND {
        return Err(not_shard(format!("is a cgkl `{kind}` file")));
    }
    let broken = |e: h5util::H5Error| {
        io_err(
            path,
            format!("incomplete shard file ({e}); run that shard again"),
        )
    };
    let s = |name: &str| h5util::read_attr_str(root, name).map_err(broken);
    let v = |name: &str| h5util::read_attr_str_array(root, name).map_err(broken);
    let i = |name: &str| h5util::read_attr_i64(root, name).map_err(broken);
    let modes = v("modes")?
        .iter()
        .map(|m| {
            m.parse::<FlowMode>()
                .map_err(|e| io_err(path, format!("flow mode {m:?} in a shard file: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let projections = v("projections")?
        .iter()
        .map(|p| {
            p.parse::<Projection>()
                .map_err(|e| io_err(path, format!("projection {p:?} in a shard file: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let (k, n) = (i("shard_k")?, i("shard_n")?);
    let shard = match (usize::try_from(k), usize::try_from(n)) {
        (Ok(k), Ok(n)) if 1 <= k && k <= n => Shard { k, n },
        _ => return Err(io_err(path, format!("shard {k}/{n} is not a valid shard"))),
    };
    Ok(ShardFile {
        path: path.to_path_buf(),
        version: s("version")?,
        runs: v("runs")?,
        meta: ShardMeta {
            input_config: s("input_config")?,
            overrides: v("overrides")?,
            spec: SweepSpec {
                param: s("param")?,
                values: v("values")?,
                modes,
                projections,
            },
            shard,
            planned: v("planned_runs")?,
            wall_s: h5util::read_attr_f64(root, "wall_s").map_err(broken)?,
        },
    })
}

/// Why shard `b` is not of the same sweep as shard `a` (None if it is).
fn sweep_difference(a: &ShardFile, b: &ShardFile) -> Option<String> {
    let (ma, mb) = (&a.meta, &b.meta);
    let list = |v: &[String]| format!("[{}]", v.join(", "));
    let modes = |m: &ShardMeta| {
        m.spec
            .modes
            .iter()
            .map(|x| x.name())
            .collect::<Vec<_>>()
            .join(",")
    };
    let projs = |m: &ShardMeta| {
        m.spec
            .projections
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(",")
    };
    let differ = |what: &str, x: String, y: String| Some(format!("{what}: {x} there, {y} here"));
    if a.version != b.version {
        return differ("cgkl version", a.version.clone(), b.version.clone());
    }
    if ma.shard.n != mb.shard.n {
        return differ(
            "number of shards N",
            ma.shard.n.to_string(),
            mb.shard.n.to_string(),
        );
    }
    if ma.spec.param != mb.spec.param {
        return differ("--param", ma.spec.param.clone(), mb.spec.param.clone());
    }
    if ma.spec.values != mb.spec.values {
        return differ("--values", list(&ma.spec.values), list(&mb.spec.values));
    }
    if ma.spec.modes != mb.spec.modes {
        return differ("--modes", modes(ma), modes(mb));
    }
    if ma.spec.projections != mb.spec.projections {
        return differ("--projections", projs(ma), projs(mb));
    }
    if ma.overrides != mb.overrides {
        return differ("--set", list(&ma.overrides), list(&mb.overrides));
    }
    if ma.input_config != mb.input_config {
        return Some(format!(
            "config file: {}",
            first_difference(&ma.input_config, &mb.input_config)
        ));
    }
    if ma.planned != mb.planned {
        return Some("planned runs".into());
    }
    None
}

/// The shard files of one sweep, checked and read back: [`load_shards`], then [`Shards::merge`].
pub struct Shards {
    meta: ShardMeta,
    finished: BTreeMap<usize, crate::problem::RunResult>,
    longest_wall_s: f64,
    start: std::time::Instant,
}

impl Shards {
    /// Number of shards.
    pub fn n(&self) -> usize {
        self.meta.shard.n
    }

    /// Number of runs.
    pub fn runs(&self) -> usize {
        self.finished.len()
    }

    /// What was swept.
    pub fn spec(&self) -> &SweepSpec {
        &self.meta.spec
    }

    /// The result an unsharded sweep computes: the runs of the shards, and for a Δt sweep the
    /// references and summary (computed here, see the module docs). `wall_s` is the longest
    /// shard's wall time plus the time since [`load_shards`] started.
    pub fn merge(self, progress: &(dyn Fn(SweepEvent) + Sync)) -> Result<SweepResult> {
        let meta = self.meta;
        let mut sweep = run_sweep_resumable(
            &meta.base()?,
            &meta.spec,
            progress,
            Resume {
                finished: self.finished,
                on_run: &|_, _| Ok(()),
            },
        )?;
        sweep.wall_s = self.longest_wall_s + self.start.elapsed().as_secs_f64();
        Ok(sweep)
    }
}

/// Reads the shard files `files` (all n shards of one sweep, in any order) and checks them:
/// every shard must belong to the same sweep (config, overrides, param, values, modes,
/// projections, n, cgkl version), every shard 1…n must be given exactly once and hold all of
/// its runs, each stored with the config the sweep plans.
pub fn load_shards(files: &[PathBuf]) -> Result<Shards> {
    load_shards_observed(files, &|_| {})
}

/// [`load_shards`], calling `before_open(file)` before each shard file is opened (each is
/// opened twice: for its metadata, all files first, then for its runs); the `cgkl` binary reads
/// the shards this way in a child process first, to name the file that crashes the HDF5
/// library.
pub fn load_shards_observed(files: &[PathBuf], before_open: &dyn Fn(&Path)) -> Result<Shards> {
    let start = std::time::Instant::now();
    let Some(first) = files.first() else {
        return Err(CgklError::config(
            "merge",
            "no files",
            "pass the shard files",
        ));
    };
    let shards = files
        .iter()
        .map(|p| {
            before_open(p);
            read_shard_file(p)
        })
        .collect::<Result<Vec<_>>>()?;
    let a = &shards[0];
    for b in &shards[1..] {
        if let Some(why) = sweep_difference(a, b) {
            return Err(io_err(
                &b.path,
                format!(
                    "is a shard of another sweep than {} ({why}); merge the shards of one sweep",
                    first.display()
                ),
            ));
        }
    }
    if a.version != env!("CARGO_PKG_VERSION") {
        return Err(io_err(
            &a.path,
            format!(
                "was written by cgkl {}, this is {}; merge with the cgkl that ran the shards",
                a.version,
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    let n = a.meta.shard.n;
    let mut by_k: BTreeMap<usize, &ShardFile> = BTreeMap::new();
    for s in &shards {
        if let Some(other) = by_k.insert(s.meta.shard.k, s) {
            return Err(io_err(
                &s.path,
                format!(
                    "shard {} given twice (also {}); pass every shard once",
                    s.meta.shard,
                    other.path.display()
                ),
            ));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !by_k.contains_key(k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        let got: Vec<String> = by_k.keys().map(|k| k.to_string()).collect();
        return Err(CgklError::Io {
            path: "cgkl merge".into(),
            msg: format!(
                "shard {} of {n} missing (given: {} of {n}); pass all {n} shard files (a shard that failed: rerun its `cgkl sweep … --shard K/{n}` command with --resume, which keeps its saved runs)",
                missing.join(", "),
                got.join(", ")
            ),
        });
    }
    let meta = &a.meta;
    let jobs = plan(&meta.base()?, &meta.spec)?;
    if planned_names(&jobs, &meta.spec) != meta.planned {
        return Err(io_err(
            &a.path,
            "its planned runs differ from those this cgkl plans for the same sweep; run the shards again",
        ));
    }
    let mut finished = BTreeMap::new();
    for s in by_k.values() {
        before_open(&s.path);
        let f = open(&s.path)?;
        let root: &hdf5::Group = &f;
        let rerun = format!(
            "run shard {} again (cgkl sweep … --shard {} --force)",
            s.meta.shard, s.meta.shard
        );
        let src = Source {
            what: "shard copy",
            redo: &rerun,
            start_over: &rerun,
        };
        for name in &s.runs {
            let g = root
                .group(&format!("runs/{name}"))
                .map_err(|e| io_err(&s.path, format!("run {name} is missing ({e}); {rerun}")))?;
            let (j, run) = load_run(&g, &s.path, &jobs, &meta.spec, &src)?;
            if !s.meta.shard.contains(j) {
                return Err(io_err(
                    &s.path,
                    format!("holds run {name}, which belongs to another shard; {rerun}"),
                ));
            }
            if finished.insert(j, run).is_some() {
                return Err(io_err(&s.path, format!("holds run {name} twice; {rerun}")));
            }
        }
        if let Some(j) =
            (0..jobs.len()).find(|&j| s.meta.shard.contains(j) && !finished.contains_key(&j))
        {
            return Err(io_err(
                &s.path,
                format!("lacks run {} of its shard; {rerun}", meta.planned[j]),
            ));
        }
    }
    let longest_wall_s = shards.iter().map(|s| s.meta.wall_s).fold(0.0, f64::max);
    Ok(Shards {
        meta: meta.clone(),
        finished,
        longest_wall_s,
        start,
    })
}

/// Writes a shard file of `cgkl sweep --shard k/n` (kind `sweep_shard`, see this module),
/// atomically: the shard's runs as in a sweep file (`/runs/<name>` with `value`, root attribute
/// `runs`), the base `config` and `version`, and what `cgkl merge` needs to re-plan the sweep
/// and check the shards against each other: `input_config` (the config text given, empty for
/// the built-in default), `overrides` (the `--set` arguments), `param`, `values`, `modes`,
/// `projections`, `shard_k`, `shard_n`, `planned_runs` (every run of the whole sweep in job
/// order) and `wall_s`.
pub fn write_shard_file(
    path: &std::path::Path,
    meta: &ShardMeta,
    runs: &[SweepRun],
    overwrite: bool,
) -> Result<()> {
    let base = Config::from_toml_with_overrides(&meta.input_config, &meta.overrides)?;
    let f = h5util::AtomicH5::create(path, overwrite)?;
    let root = f.root();
    h5util::attr_str(root, "kind", SHARD_KIND)?;
    h5util::attr_str(root, "config", &base.to_toml())?;
    h5util::attr_str(root, "version", env!("CARGO_PKG_VERSION"))?;
    h5util::attr_str(root, "input_config", &meta.input_config)?;
    h5util::attr_str_array(root, "overrides", &meta.overrides)?;
    h5util::attr_str(root, "param", &meta.spec.param)?;
    h5util::attr_str_array(root, "values", &meta.spec.values)?;
    let modes: Vec<&str> = meta.spec.modes.iter().map(|m| m.name()).collect();
    h5util::attr_str_array(root, "modes", &modes)?;
    let projections: Vec<&str> = meta.spec.projections.iter().map(|p| p.name()).collect();
    h5util::attr_str_array(root, "projections", &projections)?;
    h5util::attr_i64(root, "shard_k", meta.shard.k as i64)?;
    h5util::attr_i64(root, "shard_n", meta.shard.n as i64)?;
    h5util::attr_str_array(root, "planned_runs", &meta.planned)?;
    h5util::attr_f64(root, "wall_s", meta.wall_s)?;
    write_sweep_runs(root, runs)?;
    f.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_jobs_round_robin() {
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { k, n: 3 }).collect();
        let sel: Vec<Vec<usize>> = shards.iter().map(|s| s.select(8).unwrap()).collect();
        assert_eq!(sel, [vec![0, 3, 6], vec![1, 4, 7], vec![2, 5]]);
        assert!(Shard { k: 4, n: 4 }.select(3).is_err());
        assert_eq!(Shard::parse(" 2/4 ").unwrap(), Shard { k: 2, n: 4 });
        for bad in [
            "0/3", "4/3", "1/0", "x", "1/", "/3", "1/3/2", "-1/3", "1.5/3", "",
        ] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Shard { k: 2, n: 4 }.default_out(),
            Path::new("out/sweep.shard2of4.h5")
        );
    }
}
