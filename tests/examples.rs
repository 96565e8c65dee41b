//! Each example runs end to end on a small problem: `dt_sweep --quick` (the main job), and the
//! paper_toy, delta_sweep, leakage_sweep, lyapunov and real_image examples, and `report --quick` (Δt sweep,
//! Lyapunov and schedule studies into one Markdown report); their HDF5 files and plots appear.
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
    assert!(
        t.contains("limit") && t.contains("vs δ") && t.contains("vs Δt"),
        "{t}"
    );
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

#[test]
fn report_quick_writes_every_section_with_its_figures() {
    let out = tmp("report");
    let t = run("report", &["--quick"], &out);
    assert!(t.contains("results.md"), "{t}");
    let dir = out.join("report");
    let md = std::fs::read_to_string(dir.join("results.md")).unwrap();
    for needle in [
        "## 1. Convergence",
        "err_split",
        "err_inner",
        "## 2. Is V_δ a Lyapunov function",
        "Scaling in δ",
        "## 3. Projection schedules",
        "equal_entropy",
        "Which schedule wins",
        "Observed rates in K",
        "```toml",
        "Quick mode",
    ] {
        assert!(md.contains(needle), "results.md lacks {needle:?}");
    }
    // every embedded image exists
    let mut n_img = 0;
    for line in md.lines().filter(|l| l.starts_with("![")) {
        let target = line.split_once("](").unwrap().1.trim_end_matches(')');
        let p = dir.join(target);
        assert!(
            std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0) > 1000,
            "{} missing",
            p.display()
        );
        n_img += 1;
    }
    assert!(n_img >= 12, "only {n_img} figures");
    for h5 in ["dt_sweep.h5", "lyapunov.h5", "schedule_study.h5"] {
        assert!(dir.join(h5).exists(), "{h5}");
    }
    // the quick report never touches docs/
    assert!(!dir.join("results.md.tmp").exists());
}

/// `real_image --quick`: the shipped photo and label image on a 32×32 grid; the projected run
/// keeps every region's mass within δ after step 1, the baseline does not.
#[test]
fn real_image_quick_runs_on_the_shipped_photo() {
    let out = tmp("real_image");
    let t = run("real_image", &["--quick"], &out);
    assert!(t.contains("6 regions from the label image"), "{t}");
    let row = |name: &str| -> Vec<f64> {
        let line = t
            .lines()
            .find(|l| l.starts_with(name) && !l.contains("E_block_final"))
            .unwrap_or_else(|| panic!("no row {name} in\n{t}"));
        line.split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect()
    };
    // columns: E_block(0), E_block(T), max E_inf (n ≥ 1), MSE(T), PSNR, V_δ(T), V(T), …
    let (p, b) = (row("kernel_projected"), row("kernel_baseline"));
    assert!(p[2] <= 0.01 + 1e-12, "projected max E_inf {}", p[2]);
    assert!(b[2] > 0.05, "baseline max E_inf {}", b[2]);
    assert!(p[3] < b[3], "MSE projected {} vs baseline {}", p[3], b[3]);
    let dir = out.join("real_image");
    assert_files(&dir, &["images", "block_masses", "e_block_kernel"]);
    assert!(std::fs::metadata(dir.join("regions.png")).unwrap().len() > 1000);
    let _ = std::fs::remove_dir_all(&out);
}
