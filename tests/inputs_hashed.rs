//! Issue 17 item 2: every run stores the SHA-256 of each input file its config names
//! (`inputs`), and `--resume` and `merge` refuse runs made from other contents, naming the key
//! and the file. Before the fix only the config text was compared, so a `data.file` changed
//! between the kill and the resume (or between the shards and the merge) mixed old and new runs
//! silently.

mod common;

use cgkl::sweep::resume::{checkpoint_dir, save_run};
use common::{cgkl, fork_guard, ok, refused};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    common::scratch(&format!("inputs_{name}"))
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The overrides: a 16² image problem reading `<d>/img.png` (absolute, so that this process
/// and the `cgkl` it starts plan the same runs).
fn set(d: &Path) -> Vec<String> {
    vec![
        "grid.nx=16".into(),
        "grid.ny=16".into(),
        "data.kind=image".into(),
        format!("data.file={:?}", d.join("img.png").display().to_string()),
        "schedule.n_steps=3".into(),
    ]
}

fn sweep(d: &Path, out: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "sweep",
        "--param",
        "projection.delta",
        "--values",
        "0.01,0.02",
    ]
    .map(String::from)
    .to_vec();
    for s in set(d) {
        v.extend(["--set".to_string(), s]);
    }
    v.extend(["--modes", "kernel", "--out", out].map(String::from));
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn resume_refuses_a_checkpoint_made_from_another_data_file() {
    let d = scratch("resume");
    std::fs::copy(repo("data/camera.png"), d.join("img.png")).unwrap();
    // one finished run in the checkpoint folder, made from img.png as it is now
    let ov = set(&d);
    let spec = cgkl::sweep::SweepSpec {
        param: "projection.delta".into(),
        values: vec!["0.01".into(), "0.02".into()],
        modes: vec![cgkl::FlowMode::Kernel],
        projections: cgkl::Projection::ALL.to_vec(),
    };
    let jobs = cgkl::sweep::plan(
        &cgkl::Config::from_toml_with_overrides("", &ov).unwrap(),
        &spec,
    )
    .unwrap();
    let (value, mode, projection, pb) = &jobs[0];
    assert_eq!(pb.inputs.len(), 1);
    let mut r = pb.run(*projection).unwrap();
    r.name = cgkl::sweep::run_name(&spec, *mode, *projection, value);
    let ckpt = checkpoint_dir(&d.join("s.h5"));
    std::fs::create_dir(&ckpt).unwrap();
    {
        let _g = fork_guard();
        save_run(&ckpt, pb, &r).unwrap();
    }
    // the image changes (same name, same config text), then --resume
    std::fs::copy(repo("data/camera_labels.png"), d.join("img.png")).unwrap();
    let o = cgkl(&sweep(&d, "s.h5", &["--resume"]), &d);
    refused(
        &o,
        &["data.file", "img.png", "content changed", "s.h5.partial"],
    );
    assert!(!d.join("s.h5").exists());
    // the same image again: resumes
    std::fs::copy(repo("data/camera.png"), d.join("img.png")).unwrap();
    ok(&cgkl(&sweep(&d, "s.h5", &["--resume"]), &d));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn merge_refuses_shards_made_from_another_data_file() {
    let d = scratch("merge");
    std::fs::copy(repo("data/camera.png"), d.join("img.png")).unwrap();
    ok(&cgkl(&sweep(&d, "a.h5", &["--shard", "1/2"]), &d));
    ok(&cgkl(&sweep(&d, "b.h5", &["--shard", "2/2"]), &d));
    std::fs::copy(repo("data/camera_labels.png"), d.join("img.png")).unwrap();
    let merge: Vec<String> = ["merge", "a.h5", "b.h5", "--out", "m.h5"]
        .map(String::from)
        .to_vec();
    let o = cgkl(&merge, &d);
    refused(&o, &["data.file", "img.png", "content changed"]);
    assert!(!d.join("m.h5").exists());
    std::fs::copy(repo("data/camera.png"), d.join("img.png")).unwrap();
    ok(&cgkl(&merge, &d));
    let _ = std::fs::remove_dir_all(&d);
}
