//! Inputs that crash libhdf5 1.10.8 (`fuzz/hdf5_crashes/`, SIGSEGV inside the C library; see
//! STACKS.txt there) are refused by `cgkl` like any other bad input: exit status 2, one
//! `error:` line naming the file, no signal, nothing written. The binary reads every HDF5 file
//! it did not write in a child process first (`src/app/h5check.rs`).
//!
//! Every crash file is tried in every role: score field (`score.file`, `cgkl run`), label image
//! (`partition.file`, `cgkl run`), checkpoint (`<out>.partial/<run>.h5`, `cgkl sweep
//! --resume`), shard (`cgkl merge`) and `cgkl inspect`. In the role it was found in (the file
//! name's prefix), and in every role for the file that crashes in `H5Fopen`, the error says the
//! library crashed; elsewhere the file may also be refused with the loader's ordinary message.

mod common;

use common::{cgkl, fork_guard, ok, refused};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The crash files, sorted.
fn crash_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/hdf5_crashes");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "h5"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 9,
        "expected the crash files in {}",
        dir.display()
    );
    v
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// A fresh folder for one case.
fn scratch(role: &str, file: &Path) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "cgkl_h5crash_{}_{role}_{}",
        std::process::id(),
        name(file).trim_end_matches(".h5")
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every path below `d` (files and folders), relative to it.
fn tree(d: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            out.insert(p.strip_prefix(root).unwrap().to_path_buf());
            if p.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(d, d, &mut out);
    out
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Runs `args` in `d` and checks the refusal: exit 2 (so no signal), one `error:` line naming
/// `shown`, with the crash wording if `crash`, and no file created, changed or removed in `d`.
fn check_refused(d: &Path, args: &[String], shown: &str, crash: bool, case: &str) -> String {
    let before = tree(d);
    let o = cgkl(args, d);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{case}: status {:?} (a signal means the HDF5 library crashed cgkl), stderr {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let line = refused(&o, &[shown]);
    if crash {
        assert!(
            line.contains("the HDF5 library crashed reading it (signal"),
            "{case}: {line}"
        );
    }
    assert_eq!(tree(d), before, "{case}: files written or removed");
    line
}

/// The role a crash file was found in.
fn found_as(file: &Path) -> &'static str {
    if name(file).starts_with("labels") {
        "labels"
    } else {
        "score"
    }
}

/// The file crashes `H5Fopen` itself, so every role crashes on it.
fn crashes_at_open(file: &Path) -> bool {
    name(file).contains("_H5Fopen_")
}

/// `score.file` of a 4 × 3 run (the grid of the score-field fuzz target, so the data reads are
/// reached).
#[test]
fn a_score_field_that_crashes_libhdf5_is_refused() {
    for f in crash_files() {
        let d = scratch("score", &f);
        std::fs::copy(&f, d.join("field.h5")).unwrap();
        let cfg = "[grid]\nnx = 4\nny = 3\n[partition]\nbx = 2\nby = 3\n[schedule]\nn_steps = 4\n\
                   [score]\nkind = \"external\"\nfile = \"field.h5\"\n";
        std::fs::write(d.join("c.toml"), cfg).unwrap();
        let crash = found_as(&f) == "score" || crashes_at_open(&f);
        let args = s(&["run", "--config", "c.toml", "--out", "o.h5"]);
        check_refused(&d, &args, "field.h5", crash, &format!("score {}", name(&f)));
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// `partition.file` of a 7 × 5 run (the resampling grid of the image fuzz target).
#[test]
fn a_label_file_that_crashes_libhdf5_is_refused() {
    for f in crash_files() {
        let d = scratch("labels", &f);
        std::fs::copy(&f, d.join("labels.h5")).unwrap();
        let cfg = "[grid]\nnx = 7\nny = 5\n[partition]\nkind = \"labels\"\nfile = \"labels.h5\"\n\
                   [schedule]\nn_steps = 4\n";
        std::fs::write(d.join("c.toml"), cfg).unwrap();
        let crash = found_as(&f) == "labels" || crashes_at_open(&f);
        let args = s(&["run", "--config", "c.toml", "--out", "o.h5"]);
        check_refused(
            &d,
            &args,
            "labels.h5",
            crash,
            &format!("labels {}", name(&f)),
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}

const SWEEP_CFG: &str =
    "[grid]\nnx = 4\nny = 4\n[partition]\nbx = 2\nby = 2\n[schedule]\nn_steps = 4\n";

fn sweep_args(out: &str, extra: &[&str]) -> Vec<String> {
    let mut v = s(&[
        "sweep",
        "--config",
        "c.toml",
        "--param",
        "schedule.n_steps",
        "--values",
        "4,8",
        "--modes",
        "kernel",
        "--projections",
        "projected",
        "--out",
        out,
    ]);
    v.extend(s(extra));
    v
}

/// A crash file as the checkpoint of a planned run, read by `cgkl sweep --resume`.
#[test]
fn a_checkpoint_that_crashes_libhdf5_is_refused() {
    for f in crash_files() {
        let d = scratch("ckpt", &f);
        std::fs::write(d.join("c.toml"), SWEEP_CFG).unwrap();
        std::fs::create_dir(d.join("sw.h5.partial")).unwrap();
        std::fs::copy(&f, d.join("sw.h5.partial/kernel_projected_N4.h5")).unwrap();
        let args = sweep_args("sw.h5", &["--resume"]);
        let case = format!("checkpoint {}", name(&f));
        check_refused(
            &d,
            &args,
            "kernel_projected_N4.h5",
            crashes_at_open(&f),
            &case,
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// A crash file as a shard of `cgkl merge`, alone and after a real shard.
#[test]
fn a_shard_that_crashes_libhdf5_is_refused() {
    let real = scratch("shard_real", Path::new("x"));
    std::fs::write(real.join("c.toml"), SWEEP_CFG).unwrap();
    ok(&cgkl(&sweep_args("s1.h5", &["--shard", "1/2"]), &real));
    for f in crash_files() {
        let d = scratch("shard", &f);
        std::fs::copy(&f, d.join("s2.h5")).unwrap();
        std::fs::copy(real.join("s1.h5"), d.join("s1.h5")).unwrap();
        let crash = crashes_at_open(&f);
        for shards in [&["s2.h5"][..], &["s1.h5", "s2.h5"]] {
            let mut args = s(&["merge", "--out", "m.h5"]);
            args.extend(s(shards));
            let case = format!("shard {} in {shards:?}", name(&f));
            check_refused(&d, &args, "s2.h5", crash, &case);
        }
        let _ = std::fs::remove_dir_all(&d);
    }
    let _ = std::fs::remove_dir_all(&real);
}

/// `cgkl inspect` on every crash file.
#[test]
fn inspect_of_a_file_that_crashes_libhdf5_is_refused_or_lists_it() {
    for f in crash_files() {
        let d = scratch("inspect", &f);
        std::fs::copy(&f, d.join("f.h5")).unwrap();
        let before = tree(&d);
        let o = cgkl(&s(&["inspect", "f.h5"]), &d);
        let case = format!("inspect {}", name(&f));
        assert!(
            o.status.code().is_some(),
            "{case}: killed by a signal: {:?}",
            o.status
        );
        if !o.status.success() {
            let line = refused(&o, &["f.h5"]);
            if crashes_at_open(&f) {
                assert!(line.contains("the HDF5 library crashed"), "{case}: {line}");
            }
        }
        assert_eq!(tree(&d), before, "{case}: files written");
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// A score field replaced by a crash file after its shard was written: `cgkl merge` re-plans
/// the sweep from the shard's config, which reads the score field again.
#[test]
fn a_score_field_named_by_a_shard_config_that_crashes_libhdf5_is_refused() {
    let d = scratch("nested", Path::new("x"));
    let t = [0.0, 1.0];
    let log_q = vec![0.0; 2 * 3 * 4];
    {
        let _g = fork_guard();
        cgkl::io::score_field::ScoreField::from_arrays(t.to_vec(), log_q, 4, 3, "test")
            .unwrap()
            .write(&d.join("field.h5"))
            .unwrap();
    }
    let cfg = "[grid]\nnx = 4\nny = 3\n[partition]\nbx = 2\nby = 3\n[schedule]\nn_steps = 4\n\
               [score]\nkind = \"external\"\nfile = \"field.h5\"\n";
    std::fs::write(d.join("c.toml"), cfg).unwrap();
    ok(&cgkl(&sweep_args("s1.h5", &["--shard", "1/1"]), &d));
    let crash = crash_files()
        .into_iter()
        .find(|f| name(f).starts_with("score_t_"))
        .unwrap();
    std::fs::copy(crash, d.join("field.h5")).unwrap();
    let args = s(&["merge", "--out", "m.h5", "s1.h5"]);
    check_refused(&d, &args, "field.h5", true, "nested score field");
    let _ = std::fs::remove_dir_all(&d);
}

/// An input the library refuses cleanly keeps its message (no crash wording), and the hidden
/// subcommand of the check is not offered by `--help`.
#[test]
fn ordinary_bad_inputs_keep_their_message_and_the_check_is_hidden() {
    let d = scratch("ordinary", Path::new("x"));
    std::fs::write(d.join("field.h5"), b"not an HDF5 file at all").unwrap();
    let cfg = "[grid]\nnx = 4\nny = 3\n[partition]\nbx = 2\nby = 3\n[schedule]\nn_steps = 4\n\
               [score]\nkind = \"external\"\nfile = \"field.h5\"\n";
    std::fs::write(d.join("c.toml"), cfg).unwrap();
    let args = s(&["run", "--config", "c.toml", "--out", "o.h5"]);
    let line = check_refused(&d, &args, "field.h5", false, "not HDF5");
    assert!(
        line.contains("not a readable HDF5 file") && !line.contains("crashed"),
        "{line}"
    );
    let o = cgkl(&s(&["--help"]), &d);
    ok(&o);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("check-h5"));
    let _ = std::fs::remove_dir_all(&d);
}
