//! Issue 17 item 3: a run restored from a checkpoint (`--resume`) or a shard (`merge`) is
//! checked like a fresh one (finite, non-negative, mass conserved, snapshots and records
//! consistent with `final/p`). Before the fix a NaN planted in a checkpoint's `final/p` went
//! into the final file with exit 0.

mod common;

use cgkl::sweep::resume::{checkpoint_dir, save_run};
use common::{cgkl, fork_guard, ok, refused};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    common::scratch(&format!("restored_{name}"))
}

const SET: [&str; 3] = ["grid.nx=12", "grid.ny=12", "schedule.n_steps=3"];

fn sweep(out: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "sweep",
        "--param",
        "projection.delta",
        "--values",
        "0.01,0.02",
    ]
    .map(String::from)
    .to_vec();
    for s in SET {
        v.extend(["--set".to_string(), s.to_string()]);
    }
    v.extend(["--modes", "kernel", "--out", out].map(String::from));
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Overwrites element `i` of dataset `path` in the HDF5 file `file` with `x`.
fn plant(file: &Path, path: &str, i: usize, x: f64) {
    let _g = fork_guard();
    let f = hdf5::File::open_rw(file).unwrap();
    let ds = f.dataset(path).unwrap();
    let mut v = ds.read_raw::<f64>().unwrap();
    v[i] = x;
    let shape = ds.shape();
    ds.write_raw(&v).unwrap();
    assert_eq!(ds.shape(), shape);
}

#[test]
fn a_damaged_checkpoint_is_refused_on_resume() {
    let ov: Vec<String> = SET.iter().map(|s| s.to_string()).collect();
    let spec = cgkl::sweep::SweepSpec {
        param: "projection.delta".into(),
        values: vec!["0.01".into(), "0.02".into()],
        modes: vec![cgkl::FlowMode::Kernel],
        projections: cgkl::Projection::ALL.to_vec(),
    };
    let base = cgkl::Config::from_toml_with_overrides("", &ov).unwrap();
    let jobs = cgkl::sweep::plan(&base, &spec).unwrap();
    let (value, mode, projection, pb) = &jobs[0];
    let mut r = pb.run(*projection).unwrap();
    r.name = cgkl::sweep::run_name(&spec, *mode, *projection, value);
    for (what, path, i, x, needle) in [
        ("nan", "final/p", 5, f64::NAN, "final/p"),
        ("negative", "final/p", 0, -0.5, "final/p"),
        ("mass", "final/p", 7, 0.5, "mass"),
        ("snapshot", "snapshots/p", 3, f64::NAN, "snapshots/p"),
        ("record", "trajectory/mass", 2, 0.9, "trajectory/mass"),
    ] {
        let d = scratch(what);
        let ckpt = checkpoint_dir(&d.join("s.h5"));
        std::fs::create_dir(&ckpt).unwrap();
        {
            let _g = fork_guard();
            save_run(&ckpt, pb, &r).unwrap();
        }
        let file = std::fs::read_dir(&ckpt)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        plant(&file, path, i, x);
        let o = cgkl(&sweep("s.h5", &["--resume"]), &d);
        refused(&o, &["damaged", needle, "delete this file"]);
        assert!(!d.join("s.h5").exists(), "{what}");
        let _ = std::fs::remove_dir_all(&d);
    }
    // the undamaged checkpoint resumes
    let d = scratch("good");
    let ckpt = checkpoint_dir(&d.join("s.h5"));
    std::fs::create_dir(&ckpt).unwrap();
    {
        let _g = fork_guard();
        save_run(&ckpt, pb, &r).unwrap();
    }
    ok(&cgkl(&sweep("s.h5", &["--resume"]), &d));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_damaged_shard_is_refused_by_merge() {
    let d = scratch("shard");
    ok(&cgkl(&sweep("a.h5", &["--shard", "1/2"]), &d));
    ok(&cgkl(&sweep("b.h5", &["--shard", "2/2"]), &d));
    let name = {
        let _g = fork_guard();
        let f = hdf5::File::open(d.join("a.h5")).unwrap();
        f.group("runs").unwrap().member_names().unwrap()[0].clone()
    };
    plant(
        &d.join("a.h5"),
        &format!("runs/{name}/final/p"),
        4,
        f64::NAN,
    );
    let merge: Vec<String> = ["merge", "a.h5", "b.h5", "--out", "m.h5"]
        .map(String::from)
        .to_vec();
    let o = cgkl(&merge, &d);
    refused(&o, &["damaged", "final/p", "not finite"]);
    assert!(!d.join("m.h5").exists());
    let _ = std::fs::remove_dir_all(&d);
}
