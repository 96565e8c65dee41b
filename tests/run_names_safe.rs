//! Issue 17 item 4: run names built from swept values are safe HDF5 names and unique, checked
//! before any run starts. Before the fix `--param data.log_q --values 'x,x/2'` nested one run
//! inside another (2 groups for 4 runs), and two spellings of one value collided only after every
//! run had been computed.

mod common;

use cgkl::sweep::{plan, run_name, SweepSpec};
use cgkl::{Config, FlowMode, Projection};
use common::{cgkl, fork_guard, ok, refused};

fn spec(param: &str, values: &[&str]) -> SweepSpec {
    SweepSpec {
        param: param.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
        modes: vec![FlowMode::Kernel],
        projections: Projection::ALL.to_vec(),
    }
}

#[test]
fn a_slash_in_a_value_gives_its_own_run_group() {
    let sp = spec("data.log_q", &["x", "x/2"]);
    let a = run_name(&sp, FlowMode::Kernel, Projection::Projected, "x/2");
    assert_eq!(a, "kernel_projected_log_q=x%2F2");
    assert!(!a.contains('/'));
    // distinct values, distinct names (the escape is one-to-one: '%' is escaped too)
    let b = run_name(&sp, FlowMode::Kernel, Projection::Projected, "x%2F2");
    assert_ne!(a, b);

    let d = std::env::temp_dir().join(format!("cgkl_names_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let args: Vec<String> = [
        "sweep",
        "--param",
        "data.log_q",
        "--values",
        "x,x/2",
        "--set",
        "data.kind=formula",
        "--set",
        "grid.nx=8",
        "--set",
        "grid.ny=8",
        "--modes",
        "kernel",
        "--out",
        "s.h5",
    ]
    .map(String::from)
    .to_vec();
    ok(&cgkl(&args, &d));
    let _g = fork_guard();
    let f = hdf5::File::open(d.join("s.h5")).unwrap();
    let mut runs = f.group("runs").unwrap().member_names().unwrap();
    runs.sort();
    assert_eq!(
        runs,
        [
            "kernel_baseline_log_q=x",
            "kernel_baseline_log_q=x%2F2",
            "kernel_projected_log_q=x",
            "kernel_projected_log_q=x%2F2"
        ]
    );
    for r in &runs {
        let g = f.group(&format!("runs/{r}")).unwrap();
        assert!(
            g.member_names().unwrap().contains(&"final".to_string()),
            "{r}"
        );
    }
    drop(f);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn two_spellings_of_one_value_are_refused_before_any_run() {
    let base = Config::default();
    let e = plan(&base, &spec("projection.delta", &["0.01", "1e-2"]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("0.01 and 1e-2 give the same projection.delta"),
        "{e}"
    );
    let d = std::env::temp_dir().join(format!("cgkl_names2_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let args: Vec<String> = [
        "sweep",
        "--param",
        "projection.delta",
        "--values",
        "0.01,1e-2",
        "--set",
        "grid.nx=8",
        "--set",
        "grid.ny=8",
        "--out",
        "s.h5",
    ]
    .map(String::from)
    .to_vec();
    refused(&cgkl(&args, &d), &["give the same projection.delta"]);
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0, "files written");
    let _ = std::fs::remove_dir_all(&d);
}
