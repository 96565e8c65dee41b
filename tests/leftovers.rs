//! Issue 17 item 14: no leftovers. The temporary file of a process that died while writing
//! (`kill -9` during the final write) is removed by the next write of the same target, also by
//! `--resume`; a temporary file whose HDF5 creation fails (a full disk) is removed; a checkpoint
//! folder that is a symbolic link is refused up front instead of leaving the runs in the link's
//! target after the sweep.

mod common;

use common::{cgkl, ok, refused};
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    let d = common::scratch(&format!("leftovers_{name}"));
    std::fs::create_dir_all(d.join("out")).unwrap();
    d
}

fn args(cmd: &[&str], out: &str) -> Vec<String> {
    let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    v.extend(common::tiny_sets(2, &[]));
    v.extend(["--out".to_string(), out.to_string()]);
    v
}

/// Above Linux's largest pid (2^22), so never a running process.
const DEAD: u32 = 4_194_305;

#[test]
fn temp_files_of_dead_processes_are_removed_by_the_next_write() {
    if !std::path::Path::new("/proc/self").exists() {
        eprintln!("note: no /proc, stale temp files are kept; case skipped");
        return;
    }
    let d = dir("stale");
    let old = d.join(format!("out/r.h5.tmp-{DEAD}"));
    let new = d.join(format!("out/r.h5.tmp-{DEAD}-0123456789abcdef"));
    let live = d.join(format!(
        "out/r.h5.tmp-{}-0123456789abcdef",
        std::process::id()
    ));
    let other = d.join(format!("out/q.h5.tmp-{DEAD}"));
    for p in [&old, &new, &live, &other] {
        std::fs::write(p, b"half-written").unwrap();
    }
    ok(&cgkl(&args(&["run"], "out/r.h5"), &d));
    assert!(!old.exists() && !new.exists(), "stale temp files left");
    assert!(live.exists(), "a running process's temp file was removed");
    assert!(other.exists(), "another target's temp file was removed");
    assert!(d.join("out/r.h5").is_file());

    // a sweep killed during its final write, then --resume: the same
    let stale = d.join(format!("out/s.h5.tmp-{DEAD}-00000000deadbeef"));
    std::fs::write(&stale, b"half-written").unwrap();
    let sweep = [
        "sweep",
        "--param",
        "projection.delta",
        "--values",
        "0.01",
        "--modes",
        "kernel",
        "--resume",
    ];
    ok(&cgkl(&args(&sweep, "out/s.h5"), &d));
    assert!(!stale.exists(), "--resume left the stale temp file");
    assert!(d.join("out/s.h5").is_file());
    let _ = std::fs::remove_dir_all(&d);
}

#[cfg(unix)]
#[test]
fn a_symlinked_checkpoint_folder_is_refused() {
    let d = dir("link");
    let elsewhere = d.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, d.join("out/s.h5.partial")).unwrap();
    let sweep = [
        "sweep",
        "--param",
        "projection.delta",
        "--values",
        "0.01",
        "--modes",
        "kernel",
    ];
    let o = cgkl(&args(&sweep, "out/s.h5"), &d);
    refused(&o, &["symbolic link", "s.h5.partial"]);
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
    assert!(!d.join("out/s.h5").exists());
    let _ = std::fs::remove_dir_all(&d);
}

#[cfg(unix)]
#[test]
fn a_temp_file_whose_creation_fails_is_removed() {
    let d = dir("full");
    // a file-size limit of 0: the empty temp file is made, HDF5's first write fails with EFBIG
    // as on a full disk
    let Some(o) = common::cgkl_with_file_limit(0, &args(&["run"], "out/r.h5"), &d) else {
        eprintln!("note: cannot set a file-size limit here; case skipped");
        return;
    };
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && o.status.code() != Some(101), "{err}");
    assert!(
        err.starts_with("error:") && err.contains("File too large"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(d.join("out")).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&d);
}
