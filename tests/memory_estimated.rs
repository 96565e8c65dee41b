//! Issue 17 item 5: large allocations are estimated from the config and the files' declared
//! shapes before they are made, and refused with exit 2 and the estimate. Before the fix a sweep
//! keeping snapshots × cells in memory aborted in the allocator ("memory allocation of
//! 52428800000 bytes failed", SIGABRT), and a 6 KB chunked score file declaring 2³¹ values made
//! the loader allocate 16 GiB. `CGKL_MEMORY_LIMIT` makes the budget the same on every machine.

mod common;

use common::{fork_guard, refused};
use std::path::PathBuf;
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    common::scratch(&format!("memory_{name}"))
}

fn cgkl_with_limit(args: &[&str], limit: Option<u64>, d: &std::path::Path) -> std::process::Output {
    let _g = fork_guard();
    let mut c = Command::new(env!("CARGO_BIN_EXE_cgkl"));
    c.args(args).current_dir(d);
    match limit {
        Some(l) => c.env("CGKL_MEMORY_LIMIT", l.to_string()),
        None => c.env_remove("CGKL_MEMORY_LIMIT"),
    };
    c.output().unwrap()
}

fn empty(d: &std::path::Path) -> bool {
    std::fs::read_dir(d)
        .unwrap()
        .all(|e| e.unwrap().file_name() == "score.h5")
}

#[test]
fn a_sweep_whose_snapshots_do_not_fit_is_refused_up_front() {
    let d = scratch("sweep");
    // 1024² cells × 100000 snapshots × 8 bytes × 2 runs ≈ 1.6 TB: more than any machine
    let o = cgkl_with_limit(
        &[
            "sweep",
            "--param",
            "projection.delta",
            "--values",
            "0.01",
            "--modes",
            "kernel",
            "--set",
            "grid.nx=1024",
            "--set",
            "grid.ny=1024",
            "--set",
            "schedule.n_steps=100000",
            "--set",
            "output.snapshots=100000",
            "--out",
            "s.h5",
        ],
        None,
        &d,
    );
    refused(
        &o,
        &[
            "output.snapshots",
            "GiB",
            "the 2 runs of this sweep",
            "--shard",
        ],
    );
    assert!(empty(&d), "files written");

    // the budget fixed at 50 MB: 64² × 2000 snapshots × 8 bytes = 65 MB per run is refused,
    // 2 snapshots run
    let args = |snaps: &'static str| -> Vec<&'static str> {
        vec![
            "sweep",
            "--param",
            "projection.delta",
            "--values",
            "0.01",
            "--modes",
            "kernel",
            "--projections",
            "projected",
            "--set",
            "grid.nx=64",
            "--set",
            "grid.ny=64",
            "--set",
            "schedule.n_steps=2000",
            "--set",
            snaps,
            "--out",
            "t.h5",
        ]
    };
    let o = cgkl_with_limit(&args("output.snapshots=2000"), Some(50_000_000), &d);
    refused(&o, &["≈ 6", "47.684 MiB", "the 1 runs"]);
    assert!(empty(&d), "files written");
    let o = cgkl_with_limit(&args("output.snapshots=2"), Some(50_000_000), &d);
    common::ok(&o);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_score_file_declaring_too_many_values_is_refused_before_reading() {
    let d = scratch("score");
    let (k, side) = (32_768usize, 256usize); // K × ny × nx = 2³¹ values, 16 GiB as float64
    {
        let _g = fork_guard();
        let f = hdf5::File::create(d.join("score.h5")).unwrap();
        let t: Vec<f64> = (0..k).map(|i| i as f64 * 1e-6).collect();
        f.new_dataset_builder().with_data(&t).create("t").unwrap();
        f.new_dataset::<f64>()
            .chunk((1, side, side))
            .shape((k, side, side))
            .create("log_q")
            .unwrap();
    }
    let size = std::fs::metadata(d.join("score.h5")).unwrap().len();
    assert!(size < 1 << 20, "the file itself is small ({size} bytes)");
    let o = cgkl_with_limit(
        &[
            "run",
            "--set",
            "grid.nx=256",
            "--set",
            "grid.ny=256",
            "--set",
            "partition.bx=4",
            "--set",
            "partition.by=4",
            "--set",
            "score.kind=external",
            "--set",
            "score.file=score.h5",
            "--set",
            "schedule.n_steps=2",
            "--out",
            "r.h5",
        ],
        Some(8 << 30),
        &d,
    );
    refused(
        &o,
        &[
            "score.file",
            "32768 × 256 × 256",
            "32.000 GiB",
            "fewer times",
        ],
    );
    assert!(empty(&d), "files written");
    let _ = std::fs::remove_dir_all(&d);
}

/// Issue 18 item 4: grids up to 4096² are accepted and estimated before any allocation of
/// their size; a run whose direct factor would not fit names `flow.linear_solver` and its
/// size, one whose working set would not fit (the multigrid path `auto` takes above 2048²)
/// names the grid, and a side above 4096 is refused whatever the budget.
#[test]
fn a_4096_grid_is_estimated_and_refused_by_its_largest_part() {
    let d = scratch("grid4096");
    let args = |solver: &'static str, side: &'static str| -> Vec<String> {
        [
            "run",
            "--set",
            &format!("grid.nx={side}"),
            "--set",
            &format!("grid.ny={side}"),
            "--set",
            &format!("flow.linear_solver={solver}"),
            "--out",
            "r.h5",
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |a: Vec<String>, limit: Option<u64>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        cgkl_with_limit(&a, limit, &d)
    };
    // 4096² × (8.35·12 − 14.5) ≈ 1.43·10⁹ factor values × 15.2 bytes ≈ 20.4 GiB
    let o = run(args("direct", "4096"), Some(8 << 30));
    refused(
        &o,
        &[
            "flow.linear_solver",
            "20.354 GiB",
            "\"multigrid\" (O(n) memory)",
        ],
    );
    assert!(empty(&d), "files written");
    // auto: multigrid, 52 + 38 values per cell ≈ 11.25 GiB
    let o = run(args("auto", "4096"), Some(4 << 30));
    refused(&o, &["config: grid = ", "11.250 GiB", "52 values per cell"]);
    assert!(empty(&d), "files written");
    let o = run(args("auto", "4097"), None);
    refused(&o, &["grid.nx", "1..=4096"]);
    assert!(empty(&d), "files written");
    let _ = std::fs::remove_dir_all(&d);
}
