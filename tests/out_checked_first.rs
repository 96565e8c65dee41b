//! Issue 17 item 12: a bad `--out` (a name too long for the file system, a trailing slash, a
//! folder cgkl cannot write) is refused before any work, with one `error:` line and exit 2, and
//! nothing is written (a sweep creates no checkpoint folder). Before the fix these were found
//! only when the finished run or sweep was written.

mod common;

use common::{cgkl, refused};
use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    let d = common::scratch(&format!("outfirst_{name}"));
    std::fs::create_dir_all(d.join("out")).unwrap();
    d
}

fn files(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(d);
    v.sort();
    v
}

fn walk(d: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(d).unwrap().flatten() {
        v.push(e.path().display().to_string());
        if e.file_type().unwrap().is_dir() {
            v.extend(walk(&e.path()));
        }
    }
    v
}

fn args(cmd: &[&str], out: &str) -> Vec<String> {
    let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    v.extend(common::tiny_sets(2, &[]));
    v.extend(["--out".to_string(), out.to_string()]);
    v
}

#[test]
fn a_bad_out_is_refused_before_any_work() {
    let long = format!("out/{}.h5", "x".repeat(300));
    let cases: Vec<(Vec<&str>, String, &str)> = vec![
        (
            vec!["run"],
            long.clone(),
            "choose a writable folder and a shorter name",
        ),
        (vec!["run"], "out/r.h5/".into(), "ends with '/'"),
        (
            vec![
                "sweep",
                "--param",
                "projection.delta",
                "--values",
                "0.01,0.02",
                "--modes",
                "kernel",
            ],
            long,
            "choose a writable folder and a shorter name",
        ),
        (
            vec![
                "sweep",
                "--param",
                "projection.delta",
                "--values",
                "0.01",
                "--modes",
                "kernel",
            ],
            "out/s.h5/".into(),
            "ends with '/'",
        ),
    ];
    for (cmd, out, needle) in cases {
        let d = dir("case");
        let before = files(&d);
        let o = cgkl(&args(&cmd, &out), &d);
        refused(&o, &[needle]);
        assert_eq!(files(&d), before, "{cmd:?} --out {out}: files were written");
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[cfg(unix)]
#[test]
fn a_read_only_folder_is_refused_before_any_work() {
    use std::os::unix::fs::PermissionsExt;
    let d = dir("ro");
    let ro = d.join("out");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    // root writes anywhere: then there is nothing to test
    let probe = ro.join("probe");
    if std::fs::write(&probe, b"").is_ok() {
        let _ = std::fs::remove_file(&probe);
        eprintln!("note: running as a user who can write a read-only folder; case skipped");
    } else {
        let sweep = [
            "sweep",
            "--param",
            "projection.delta",
            "--values",
            "0.01",
            "--modes",
            "kernel",
        ];
        for cmd in [&["run"][..], &sweep[..]] {
            let o = cgkl(&args(cmd, "out/r.h5"), &d);
            refused(&o, &["choose a writable folder"]);
            assert!(std::fs::read_dir(&ro).unwrap().next().is_none());
        }
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _ = std::fs::remove_dir_all(&d);
}
