//! Helpers shared by the integration tests that run the `cgkl` binary and compare its HDF5
//! files: `cgkl`, `ok`, `refused` and [`compare_groups`] (every dataset bit for bit, every
//! attribute but the wall times).
#![allow(dead_code)]

use cgkl::io::h5util::{read_attr_str, read_attr_str_array};
use hdf5::types::TypeDescriptor as TD;
use hdf5::{Dataset, Group, Location};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

/// Attributes and datasets holding wall times, which may differ between two sweeps.
pub const WALL: &[&str] = &["wall_s"];

static FORK: Mutex<()> = Mutex::new(());

/// Held around in-process HDF5 writes and around spawning `cgkl`. The HDF5 C library opens files
/// without `O_CLOEXEC` and locks them with `flock`: a child forked (by another test thread) while
/// this process has an HDF5 file open inherits the descriptor, and with it the lock, for its whole
/// life, so the next `cgkl` that opens the file fails with "unable to lock file, errno = 11".
pub fn fork_guard() -> MutexGuard<'static, ()> {
    FORK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn cgkl(args: &[String], cwd: &Path) -> Output {
    spawn_cgkl(args, cwd).wait_with_output().unwrap()
}

/// `cgkl args` started in `cwd` with piped output (under the fork guard).
pub fn spawn_cgkl(args: &[String], cwd: &Path) -> std::process::Child {
    let _g = fork_guard();
    Command::new(env!("CARGO_BIN_EXE_cgkl"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "status {:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Asserts exit status 2 and one `error:` line mentioning every needle; returns the line.
pub fn refused(o: &Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "stderr {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("error:"),
        "expected one error line, got {err:?}"
    );
    for n in needles {
        assert!(err.contains(n), "{err:?} does not mention {n:?}");
    }
    err
}

pub fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The value of an attribute, as comparable text (floats as bit patterns).
pub fn attr_value(loc: &Location, name: &str) -> String {
    let a = loc.attr(name).unwrap();
    match a.dtype().unwrap().to_descriptor().unwrap() {
        TD::Float(_) => format!(
            "f64 {:?} {:?}",
            a.shape(),
            bits(&a.read_raw::<f64>().unwrap())
        ),
        TD::Integer(_) | TD::Unsigned(_) => {
            format!("int {:?} {:?}", a.shape(), a.read_raw::<i64>().unwrap())
        }
        TD::VarLenUnicode | TD::VarLenAscii | TD::FixedAscii(_) | TD::FixedUnicode(_) => {
            if a.is_scalar() {
                format!("str {:?}", read_attr_str(loc, name).unwrap())
            } else {
                format!("str[] {:?}", read_attr_str_array(loc, name).unwrap())
            }
        }
        other => panic!("{}@{name}: unexpected attribute type {other:?}", loc.name()),
    }
}

pub fn compare_attrs(a: &Location, b: &Location) {
    let (mut na, mut nb) = (a.attr_names().unwrap(), b.attr_names().unwrap());
    na.sort();
    nb.sort();
    assert_eq!(na, nb, "attributes of {}", a.name());
    for n in na.iter().filter(|n| !WALL.contains(&n.as_str())) {
        assert_eq!(
            attr_value(a, n),
            attr_value(b, n),
            "attribute {}@{n}",
            a.name()
        );
    }
}

pub fn compare_datasets(a: &Dataset, b: &Dataset) {
    let path = a.name();
    assert_eq!(a.shape(), b.shape(), "{path}");
    let (ta, tb) = (
        a.dtype().unwrap().to_descriptor().unwrap(),
        b.dtype().unwrap().to_descriptor().unwrap(),
    );
    assert_eq!(ta, tb, "{path}");
    compare_attrs(a, b);
    if WALL.iter().any(|w| path.ends_with(&format!("/{w}"))) {
        return;
    }
    match ta {
        TD::Float(_) => assert_eq!(
            bits(&a.read_raw::<f64>().unwrap()),
            bits(&b.read_raw::<f64>().unwrap()),
            "{path}"
        ),
        TD::Integer(_) | TD::Unsigned(_) => assert_eq!(
            a.read_raw::<i64>().unwrap(),
            b.read_raw::<i64>().unwrap(),
            "{path}"
        ),
        other => panic!("{path}: unexpected dataset type {other:?}"),
    }
}

/// Every group, dataset and attribute below `a` equals the one below `b`; returns the number
/// of datasets compared.
pub fn compare_groups(a: &Group, b: &Group) -> usize {
    compare_attrs(a, b);
    let names = |g: &Group| {
        let mut v = g.member_names().unwrap();
        v.sort();
        v
    };
    let members = names(a);
    assert_eq!(members, names(b), "members of {}", a.name());
    let mut n = 0;
    for m in &members {
        match (a.group(m), b.group(m)) {
            (Ok(ga), Ok(gb)) => n += compare_groups(&ga, &gb),
            _ => {
                compare_datasets(&a.dataset(m).unwrap(), &b.dataset(m).unwrap());
                n += 1;
            }
        }
    }
    n
}

/// A fresh, empty folder `<temp>/cgkl_<tag>_<pid>` for one test case.
pub fn scratch(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("cgkl_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `--set` pairs of a tiny problem (8×8 grid, 2×2 tiles, N = `n_steps`), then one per `extra`.
pub fn tiny_sets(n_steps: usize, extra: &[&str]) -> Vec<String> {
    let n = format!("schedule.n_steps={n_steps}");
    let base = [
        "grid.nx=8",
        "grid.ny=8",
        "partition.bx=2",
        "partition.by=2",
        &n,
    ];
    base.iter()
        .chain(extra)
        .flat_map(|s| ["--set".to_string(), s.to_string()])
        .collect()
}

/// `cgkl run --out r.h5` on the tiny problem of [`tiny_sets`].
pub fn tiny_run(n_steps: usize, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["run", "--out", "r.h5"].map(String::from).to_vec();
    v.extend(tiny_sets(n_steps, extra));
    v
}

/// Runs `cgkl args` in `cwd` under a file-size limit of `kb` × 1 kB with SIGXFSZ ignored, so a
/// write past it fails with EFBIG as on a full disk; `None` where bash cannot set the limit.
pub fn cgkl_with_file_limit(kb: u64, args: &[String], cwd: &Path) -> Option<Output> {
    let cmd = format!(
        "trap '' XFSZ; ulimit -f {kb} || exit 77; exec {} \"$@\"",
        env!("CARGO_BIN_EXE_cgkl")
    );
    let o = {
        let _g = fork_guard();
        Command::new("bash")
            .arg("-c")
            .arg(&cmd)
            .arg("cgkl")
            .args(args)
            .current_dir(cwd)
            .output()
            .unwrap()
    };
    (o.status.code() != Some(77)).then_some(o)
}
