//! The HDF5 files round-trip (SPEC §9): every name is present and the values equal the
//! in-memory run, for a single-run file and for a Δt-sweep file.

use cgkl::config::Config;
use cgkl::diagnostics::DIAGNOSTICS;
use cgkl::io::h5util::{
    read_attr_f64, read_attr_str, read_attr_str_array, read_f64, read_f64_nd, read_i32_nd, read_i64,
};
use cgkl::io::layout::write_run_file;
use cgkl::problem::{Problem, Projection, RunResult};
use cgkl::sweep::write_sweep_file;
use cgkl::sweep::{run_sweep, SweepSpec};
use hdf5::Group;
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cgkl_h5rt_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn check_run(g: &Group, pb: &Problem, r: &RunResult) {
    let (nx, ny, m) = (pb.grid.nx, pb.grid.ny, pb.partition.m());
    let cfg = read_attr_str(g, "config").unwrap();
    assert_eq!(
        Config::from_toml(&cfg).unwrap(),
        pb.stored_config(r.projection),
        "stored config must reproduce the run's config (a baseline's with delta = inf)"
    );
    assert_eq!(
        read_attr_str(g, "version").unwrap(),
        env!("CARGO_PKG_VERSION")
    );
    // the solver the implicit steps took (these small grids: the direct one; resolved runs of
    // a static G solve no systems)
    let solver = read_attr_str(g, "linear_solver").unwrap();
    assert_eq!(solver, r.linear_solver);
    let expected = match r.mode {
        cgkl::config::FlowMode::Kernel => "direct",
        cgkl::config::FlowMode::Resolved => "none",
    };
    assert_eq!(solver, expected, "{}", r.name);
    let (shape, labels) = read_i32_nd(g, "grid/labels").unwrap();
    assert_eq!(shape, vec![ny, nx]);
    assert!(labels
        .iter()
        .zip(pb.partition.labels())
        .all(|(a, b)| *a as u32 == *b));
    let (shape, q0) = read_f64_nd(g, "reference/q0").unwrap();
    assert_eq!((shape, q0), (vec![ny, nx], pb.q0.clone()));
    assert_eq!(read_f64_nd(g, "reference/r").unwrap().1, pb.reference.r);
    assert_eq!(read_f64(g, "reference/w_ref").unwrap(), pb.reference.w_ref);
    let recs = &r.output.records;
    for d in DIAGNOSTICS.iter().filter(|d| d.f64_of(&recs[0]).is_some()) {
        let name = d.name;
        let v = read_f64(g, &format!("trajectory/{name}")).unwrap();
        let want: Vec<f64> = recs.iter().filter_map(|x| d.f64_of(x)).collect();
        assert_eq!(v.len(), recs.len(), "trajectory/{name}");
        for (a, b) in v.iter().zip(&want) {
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "trajectory/{name}: {a} vs {b}"
            );
        }
    }
    for name in ["n_active_lower", "n_active_upper"] {
        let (shape, v) = read_i32_nd(g, &format!("trajectory/{name}")).unwrap();
        assert_eq!(shape, vec![recs.len()]);
        let want: Vec<i32> = recs
            .iter()
            .map(|x| {
                if name.ends_with("lower") {
                    x.n_active_lower
                } else {
                    x.n_active_upper
                }
            })
            .collect();
        assert_eq!(v, want);
    }
    let (shape, w) = read_f64_nd(g, "trajectory/w").unwrap();
    assert_eq!(shape, vec![recs.len(), m]);
    assert_eq!(w, recs.iter().flat_map(|x| x.w.clone()).collect::<Vec<_>>());
    let s = read_f64(g, "snapshots/s").unwrap();
    assert_eq!(s.first(), Some(&0.0));
    assert_eq!(s.last(), Some(&pb.config.forward.horizon));
    let (shape, p) = read_f64_nd(g, "snapshots/p").unwrap();
    assert_eq!(shape, vec![s.len(), ny, nx]);
    assert_eq!(p, r.output.snapshots);
    assert_eq!(read_f64_nd(g, "final/p").unwrap().1, r.output.final_p);
    assert_eq!(&p[(s.len() - 1) * nx * ny..], &r.output.final_p[..]);
    // snapshots/p is chunked and compressed
    let ds = g.dataset("snapshots/p").unwrap();
    assert!(ds.is_chunked());
    assert!(!ds.filters().is_empty(), "snapshots/p must be compressed");
}

#[test]
fn run_file_round_trips() {
    let mut c = Config::default();
    c.grid.nx = 16;
    c.grid.ny = 12;
    c.partition = cgkl::config::PartitionConfig::Tiles { bx: 4, by: 3 };
    c.schedule.n_steps = 7;
    let pb = c.validate().unwrap();
    let r = pb.run(Projection::Projected).unwrap();
    let path = tmp("run").join("run.h5");
    let _ = std::fs::remove_file(&path);
    write_run_file(&path, &pb, &r, false).unwrap();
    let f = hdf5::File::open(&path).unwrap();
    assert_eq!(read_attr_str(&f, "kind").unwrap(), "run");
    assert_eq!(read_attr_f64(&f, "delta").unwrap(), 0.01);
    check_run(&f, &pb, &r);
    drop(f);
    // no overwrite without permission, and nothing left behind
    assert!(write_run_file(&path, &pb, &r, false).is_err());
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "only run.h5 may remain");
}

#[test]
fn sweep_file_round_trips() {
    let spec = SweepSpec::dt_sweep(&[4, 8, 16]);
    let ov: Vec<String> = ["grid.nx=8", "grid.ny=8", "partition.bx=2", "partition.by=2"]
        .map(String::from)
        .to_vec();
    let sw = run_sweep(
        &Config::from_toml_with_overrides("", &ov).unwrap(),
        &spec,
        &|_| {},
    )
    .unwrap();
    let path = tmp("sweep").join("sweep.h5");
    let _ = std::fs::remove_file(&path);
    write_sweep_file(&path, &sw, false).unwrap();
    let f = hdf5::File::open(&path).unwrap();
    assert_eq!(read_attr_str(&f, "kind").unwrap(), "dt_sweep");
    for run in &sw.runs {
        let g = f.group(&format!("runs/{}", run.result.name)).unwrap();
        check_run(&g, &run.problem, &run.result);
    }
    let names: Vec<&str> = sw.runs.iter().map(|r| r.result.name.as_str()).collect();
    assert!(names.contains(&"kernel_projected_N4") && names.contains(&"resolved_baseline_N16"));
    let s = f.group("summary").unwrap();
    let sum = sw.summary.as_ref().unwrap();
    assert_eq!(read_i64(&s, "N").unwrap(), sum.n);
    for (name, want) in [
        ("dt", &sum.dt),
        ("err_l1", &sum.err_l1),
        ("err_kl", &sum.err_kl),
        ("err_split", &sum.err_split),
        ("err_inner", &sum.err_inner),
        ("E_block_final", &sum.e_block_final),
        ("lyapunov_violation", &sum.lyapunov_violation),
    ] {
        assert_eq!(&read_f64(&s, name).unwrap(), want, "summary/{name}");
    }
    // the parts of the kernel error: resolved runs are their own twin (inner 0, split = total),
    // the kernel baseline's error is all inner error (its splitting is exact), and the triangle
    // inequality total ≤ split + inner holds for every kernel run
    for k in 0..sum.n.len() {
        let (tot, split, inner) = (sum.err_l1[k], sum.err_split[k], sum.err_inner[k]);
        if sum.mode[k] == "resolved" {
            assert_eq!((inner, split), (0.0, tot));
        } else {
            assert!(
                tot <= split + inner + 1e-15,
                "{tot:e} > {split:e} + {inner:e}"
            );
            assert!(inner > 0.0);
            if sum.projection[k] == "baseline" {
                assert!((tot - inner).abs() <= split + 1e-12, "{tot:e} vs {inner:e}");
            }
        }
    }
    assert_eq!(read_attr_str_array(&s, "mode").unwrap(), sum.mode);
    assert_eq!(
        read_attr_str_array(&s, "projection").unwrap(),
        sum.projection
    );
    for (key, order, _) in &sum.orders {
        let v = read_attr_f64(&s, key).unwrap();
        assert!(
            v.to_bits() == order.to_bits() || (v.is_nan() && order.is_nan()),
            "{key}"
        );
    }
    for which in ["projected", "baseline"] {
        let (shape, p) = read_f64_nd(&f, &format!("limit/{which}/p")).unwrap();
        assert_eq!(shape, vec![8, 8]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let g = f.group(&format!("limit/{which}")).unwrap();
        assert!(!read_attr_str(&g, "method").unwrap().is_empty());
    }
}
