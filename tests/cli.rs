//! The `cgkl` binary: bad input exits with status 2 and one clear `error:` line, never a panic,
//! never a file left behind; good input produces files that `inspect` reads.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cgkl(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cgkl"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cgkl_cli_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("out")).unwrap();
    d
}

fn files_in(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    v.sort();
    v
}

/// Asserts exit status 2, one `error:` line mentioning every `needle`, no panic, no new file in out/.
fn bad(args: &[&str], needles: &[&str], d: &Path) {
    let before = files_in(&d.join("out"));
    let o = cgkl(args, d);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?}: status {:?}, stderr {err}",
        o.status
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{args:?}: {err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("error:"),
        "{args:?}: expected one error line, got {err:?}"
    );
    for n in needles {
        assert!(
            err.contains(n),
            "{args:?}: message {err:?} does not mention {n:?}"
        );
    }
    assert_eq!(
        files_in(&d.join("out")),
        before,
        "{args:?} left files behind"
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_status_2() {
    let d = scratch("bad");
    std::fs::write(d.join("broken.toml"), "[grid\nnx = 4").unwrap();
    std::fs::write(d.join("unknown.toml"), "[projection]\ndelt = 0.1\n").unwrap();
    std::fs::write(d.join("neg.toml"), "[projection]\ndelta = -0.5\n").unwrap();
    let run = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["run".into(), "--out".into(), "out/r.h5".into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (run(&["--config", "broken.toml"]), vec!["config"]),
        (run(&["--config", "unknown.toml"]), vec!["delt", "delta"]),
        (
            run(&["--config", "neg.toml"]),
            vec!["projection.delta", "-0.5"],
        ),
        (run(&["--config", "missing.toml"]), vec!["missing.toml"]),
        (
            run(&["--set", "projection.delta=-1"]),
            vec!["projection.delta"],
        ),
        (
            run(&["--set", "grid.nx=30"]),
            vec!["partition.bx", "not divisible"],
        ),
        (
            run(&["--set", "reverse.eps_rev=1.5"]),
            vec!["reverse.eps_rev", "[0, 1]"],
        ),
        (
            run(&["--set", "forward.horizon=0"]),
            vec!["forward.horizon"],
        ),
        (
            run(&["--set", "schedule.n_steps=0"]),
            vec!["schedule.n_steps"],
        ),
        (
            run(&[
                "--set",
                "reverse.flux.kind=sg",
                "--set",
                "reverse.flux.eta=0",
            ]),
            vec!["eta"],
        ),
        (run(&["--set", "nonsense"]), vec!["key=value"]),
        (run(&["--set", "schedule.kind=cubic"]), vec!["cubic"]),
        (
            vec!["run".into(), "--out".into(), "nowhere/r.h5".into()],
            vec!["nowhere", "does not exist"],
        ),
        (
            vec![
                "sweep".into(),
                "--param".into(),
                "projection.delta".into(),
                "--values".into(),
                "0.1,-2".into(),
                "--out".into(),
                "out/s.h5".into(),
            ],
            vec!["projection.delta", "-2"],
        ),
        (
            vec![
                "sweep".into(),
                "--param".into(),
                "projection.delta".into(),
                "--values".into(),
                "0.1".into(),
                "--modes".into(),
                "fast".into(),
                "--out".into(),
                "out/s.h5".into(),
            ],
            vec!["fast"],
        ),
        (
            vec!["inspect".into(), "out/none.h5".into()],
            vec!["none.h5"],
        ),
        (
            vec!["inspect".into(), "broken.toml".into()],
            vec!["broken.toml", "HDF5"],
        ),
        (
            vec!["run".into(), "--threads".into(), "0".into()],
            vec!["threads"],
        ),
    ];
    for (args, needles) in &cases {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        bad(&a, needles, &d);
    }
}

#[test]
fn run_refuses_to_overwrite_without_force_and_inspect_reads_it() {
    let d = scratch("run");
    let small = [
        "--set",
        "grid.nx=16",
        "--set",
        "grid.ny=16",
        "--set",
        "schedule.n_steps=5",
    ];
    let mut args = vec!["run", "--out", "out/r.h5"];
    args.extend(small);
    let o = cgkl(&args, &d);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = std::fs::read(d.join("out/r.h5")).unwrap();
    bad(&args, &["already exists", "--force"], &d);
    assert_eq!(
        std::fs::read(d.join("out/r.h5")).unwrap(),
        before,
        "the existing file must be untouched"
    );
    args.push("--force");
    assert!(cgkl(&args, &d).status.success());
    let o = cgkl(&["inspect", "out/r.h5"], &d);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("kernel_projected_N5") && text.contains("E_block"),
        "{text}"
    );
    assert_eq!(files_in(&d.join("out")), vec!["r.h5".to_string()]);
}

#[test]
fn config_prints_the_commented_default() {
    let d = scratch("config");
    let o = cgkl(&["config"], &d);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(text.contains("# ") && text.contains("delta = 0.01"));
    std::fs::write(d.join("c.toml"), &text).unwrap();
    let o = cgkl(
        &[
            "run",
            "--config",
            "c.toml",
            "--set",
            "grid.nx=8",
            "--set",
            "grid.ny=8",
            "--out",
            "out/c.h5",
        ],
        &d,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn sweep_writes_one_file_with_every_run() {
    let d = scratch("sweep");
    let o = cgkl(
        &[
            "sweep",
            "--param",
            "projection.delta",
            "--values",
            "0.005,0.05",
            "--modes",
            "kernel",
            "--set",
            "grid.nx=16",
            "--set",
            "grid.ny=16",
            "--out",
            "out/s.h5",
            "--threads",
            "2",
        ],
        &d,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&cgkl(&["inspect", "out/s.h5"], &d).stdout).to_string();
    for name in ["kernel_projected_delta=0.005", "kernel_baseline_delta=0.05"] {
        assert!(text.contains(name), "{name} missing in {text}");
    }
}
