//! Each example runs end to end on a small problem: `dt_sweep --quick` (the main job), and the
//! paper_toy, delta_sweep and leakage_sweep examples; their HDF5 files and plots appear.
//! Cargo builds the examples before running integration tests; they live next to `deps/`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not built (cargo test builds the examples)",
        path.display()
    );
    path
}

fn run(name: &str, args: &[&str], out: &Path) -> String {
    let _ = std::fs::remove_dir_all(out);
    let o = Command::new(example(name))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{name} failed: {}\n{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("cgkl_examples_{}_{name}", std::process::id()))
}

fn assert_files(dir: &Path, stems: &[&str]) {
    for s in stems {
        for ext in ["png", "svg"] {
            let p = dir.join(format!("{s}.{ext}"));
            let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            assert!(len > 1000, "{} missing or empty", p.display());
        }
    }
}

#[test]
fn dt_sweep_quick_runs_and_reports_orders() {
    let out = tmp("dt");
    let text = run("dt_sweep", &["--quick"], &out);
    for needle in [
        "kernel / projected",
        "resolved / baseline",
        "observed order",
        "err_l1",
        "wrote",
    ] {
        assert!(
            text.contains(needle),
            "dt_sweep output lacks {needle:?}:\n{text}"
        );
    }
    assert!(out.join("dt_sweep.h5").exists());
    assert_files(
        &out.join("dt_sweep"),
        &[
            "error_vs_dt",
            "vdelta_trajectories_kernel",
            "images",
            "block_masses",
        ],
    );
    // no temporary files left behind
    let stray: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(stray.is_empty());
}

#[test]
fn parameter_studies_and_paper_toy_run() {
    let out = tmp("studies");
    let t = run("delta_sweep", &["--quick"], &out);
    assert!(t.contains("projected") && t.contains("inf"));
    assert_files(
        &out.join("delta_sweep"),
        &[
            "E_block_final",
            "mse_final",
            "V_delta_final",
            "lyapunov_violation",
        ],
    );
    let t = run("leakage_sweep", &["--quick"], &out.join("leak"));
    assert!(t.contains("eps_rev"));
    let t = run(
        "paper_toy",
        &["--set", "grid.nx=32", "--set", "grid.ny=32"],
        &out.join("toy"),
    );
    assert!(
        t.contains("kernel_projected_N40") && t.contains("kernel_baseline_N40"),
        "{t}"
    );
    assert!(out.join("toy/paper_toy.h5").exists());
}

#[test]
fn lyapunov_study_quick_runs() {
    let out = tmp("lyap");
    let t = run("lyapunov", &["--quick"], &out);
    assert!(t.contains("limit") && t.contains("violation ∝ δ^"), "{t}");
    assert!(out.join("lyapunov.h5").exists());
    assert_files(
        &out.join("lyapunov"),
        &[
            "violation_vs_delta",
            "positive_variation_vs_delta",
            "v_delta_final_vs_delta",
        ],
    );
}
