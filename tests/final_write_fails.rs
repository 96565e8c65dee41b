//! Issue 17 item 16: when the finished sweep's file cannot be written (here a file-size limit,
//! as on a full disk), the one error line says that the runs are saved and that `--resume` writes
//! the file; `--resume` then writes it without running anything again, and no temporary file is
//! left behind.

mod common;

use common::ok;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    common::scratch(&format!("finalwrite_{name}"))
}

fn sweep(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "sweep",
        "--param",
        "projection.delta",
        "--values",
        "0.01,0.02,0.03,0.04",
        "--modes",
        "kernel",
        "--set",
        "grid.nx=32",
        "--set",
        "grid.ny=32",
        "--out",
        "s.h5",
    ]
    .map(String::from)
    .to_vec();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[cfg(unix)]
#[test]
fn a_sweep_file_too_large_to_write_points_to_resume() {
    let d = scratch("limit");
    // every run's checkpoint (≈ 110 kB) fits under 200 blocks of 1 kB, the sweep file (≈ 870 kB)
    // does not; SIGXFSZ ignored, so the write fails with EFBIG as on a full disk
    let Some(o) = common::cgkl_with_file_limit(200, &sweep(&[]), &d) else {
        eprintln!("note: cannot set a file-size limit here; case skipped");
        return;
    };
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert!(!o.status.success(), "{err}");
    assert_eq!(lines.len(), 1, "{err}");
    for needle in [
        "cannot write s.h5",
        "all 8 runs are saved in",
        "s.h5.partial",
        "--resume",
    ] {
        assert!(lines[0].contains(needle), "{needle:?} not in {}", lines[0]);
    }
    assert!(!d.join("s.h5").exists());
    let names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        names,
        vec!["s.h5.partial".to_string()],
        "leftovers: {names:?}"
    );
    // without the limit, --resume writes the file from the saved runs alone
    let o = common::cgkl(&sweep(&["--resume"]), &d);
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("0 runs") && err.contains("8 of 8 restored"),
        "{err}"
    );
    assert!(d.join("s.h5").is_file() && !d.join("s.h5.partial").exists());
    let _ = std::fs::remove_dir_all(&d);
}
