//! `cgkl sweep --shard K/N` + `cgkl merge`: the shards of a sweep, run on other thread counts
//! (one of them resumed from a checkpoint), merge into the file an unsharded sweep writes (every
//! dataset bit for bit, every attribute but wall times), for a Δt sweep (references and summary
//! computed by the merge) and a sweep over δ; bad shards and bad merges are refused with one
//! `error:` line and exit status 2.

mod common;

use cgkl::sweep::resume::{checkpoint_dir, save_run};
use common::{cgkl, compare_groups, fork_guard, ok, refused};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cgkl_shard_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `cgkl --threads T <args…>` in `d`.
fn run(d: &Path, threads: usize, args: &[&str]) -> std::process::Output {
    let mut v = vec!["--threads".to_string(), threads.to_string()];
    v.extend(args.iter().map(|s| s.to_string()));
    cgkl(&v, d)
}

/// A 16×16 grid (the default 4×4 tiles, of 4×4 cells each).
const GRID: [&str; 4] = ["--set", "grid.nx=16", "--set", "grid.ny=16"];

/// A Δt sweep: N = 5, 10, 20 × both modes × projected and baseline = 12 runs.
fn dt_sweep(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<&str> = vec![
        "sweep",
        "--param",
        "schedule.n_steps",
        "--values",
        "5,10,20",
    ];
    v.extend(GRID);
    v.extend(extra);
    v.into_iter().map(String::from).collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(|s| s.as_str()).collect()
}

fn files_equal(a: &Path, b: &Path, runs: usize) {
    let fa = hdf5::File::open(a).unwrap();
    let fb = hdf5::File::open(b).unwrap();
    let n = compare_groups(&fa, &fb);
    assert!(n > runs * 20, "only {n} datasets compared");
}

#[test]
fn a_sharded_dt_sweep_merges_into_the_file_of_an_unsharded_one() {
    let d = scratch("dt");
    let full = dt_sweep(&["--out", "full.h5"]);
    ok(&run(&d, 2, &strs(&full)));

    // shard 2/3 was interrupted after saving its first run (job 1); shard 3/3's checkpoint
    // folder holds a run of shard 1 (job 0), which --resume refuses
    let ov: Vec<String> = GRID
        .iter()
        .skip(1)
        .step_by(2)
        .map(|s| s.to_string())
        .collect();
    let spec = cgkl::sweep::SweepSpec::dt_sweep(&[5, 10, 20]);
    let jobs = cgkl::sweep::plan(
        &cgkl::Config::from_toml_with_overrides("", &ov).unwrap(),
        &spec,
    )
    .unwrap();
    for (j, file) in [(1, "s2.h5"), (0, "s3.h5")] {
        let (value, mode, projection, pb) = &jobs[j];
        let mut r = pb.run(*projection).unwrap();
        r.name = cgkl::sweep::run_name(&spec, *mode, *projection, value);
        let ckpt = checkpoint_dir(&d.join(file));
        std::fs::create_dir(&ckpt).unwrap();
        {
            let _g = fork_guard();
            save_run(&ckpt, pb, &r).unwrap();
        }
    }
    let s3 = dt_sweep(&["--shard", "3/3", "--out", "s3.h5", "--resume"]);
    refused(
        &run(&d, 1, &strs(&s3)),
        &["not in shard 3/3", "s3.h5.partial"],
    );
    std::fs::remove_dir_all(checkpoint_dir(&d.join("s3.h5"))).unwrap();

    // the shards on one thread, shard 2 resumed
    for k in 1..=3 {
        let (shard, out) = (format!("{k}/3"), format!("s{k}.h5"));
        let mut args = dt_sweep(&["--shard", &shard, "--out", &out]);
        if k == 2 {
            args.push("--resume".into());
        }
        let o = run(&d, 1, &strs(&args));
        ok(&o);
        let err = String::from_utf8_lossy(&o.stderr);
        let want = if k == 2 {
            "3 of the 12 runs on 1 threads (1 restored"
        } else {
            "4 of the 12 runs"
        };
        assert!(err.contains(want), "{err}");
        assert!(!checkpoint_dir(&d.join(&out)).exists());
    }
    // the merge, shards in any order, on two threads
    let o = run(
        &d,
        2,
        &["merge", "--out", "merged.h5", "s3.h5", "s1.h5", "s2.h5"],
    );
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("observed order"));
    files_equal(&d.join("full.h5"), &d.join("merged.h5"), 12);
    // the shard files hold their runs and what the merge checks
    let f = hdf5::File::open(d.join("s1.h5")).unwrap();
    let attr = |n: &str| cgkl::io::h5util::read_attr_str(&f, n).unwrap();
    let list = |n: &str| cgkl::io::h5util::read_attr_str_array(&f, n).unwrap();
    assert_eq!(attr("kind"), "sweep_shard");
    assert_eq!(list("runs").len(), 4);
    assert_eq!(list("planned_runs").len(), 12);
    assert_eq!(list("overrides"), ov);
    assert_eq!(cgkl::io::h5util::read_attr_i64(&f, "shard_n").unwrap(), 3);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_sharded_delta_sweep_with_default_names_merges_into_the_unsharded_file() {
    let d = scratch("delta");
    std::fs::create_dir(d.join("out")).unwrap();
    let sweep = |extra: &[&str]| {
        let mut v = vec![
            "sweep",
            "--param",
            "projection.delta",
            "--values",
            "0.001,0.01,0.1",
            "--modes",
            "kernel",
        ];
        v.extend(GRID);
        v.extend(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    ok(&run(&d, 2, &strs(&sweep(&["--out", "full.h5"]))));
    // 6 runs in 4 shards of 2, 2, 1 and 1 runs, written to out/sweep.shard<k>of4.h5
    for k in 1..=4 {
        let o = run(
            &d,
            1 + k % 2,
            &strs(&sweep(&["--shard", &format!("{k}/4")])),
        );
        ok(&o);
        let out = format!("out/sweep.shard{k}of4.h5");
        assert!(d.join(&out).is_file(), "{out}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("cgkl merge"));
    }
    let shards: Vec<String> = (1..=4)
        .map(|k| format!("out/sweep.shard{k}of4.h5"))
        .collect();
    let mut args = vec!["merge"];
    args.extend(strs(&shards));
    ok(&run(&d, 1, &args)); // default --out: out/sweep.h5
    files_equal(&d.join("full.h5"), &d.join("out/sweep.h5"), 6);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_shards_and_bad_merges_are_refused() {
    let d = scratch("bad");
    // 4 runs: N = 5, 10 in kernel mode, projected and baseline
    let small = |extra: &[&str]| {
        let mut v = vec![
            "sweep",
            "--param",
            "schedule.n_steps",
            "--values",
            "5,10",
            "--modes",
            "kernel",
        ];
        v.extend(GRID);
        v.extend(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    for (shard, needles) in [
        ("0/3", &["--shard", "counts from 1"][..]),
        ("4/3", &["--shard", "must not exceed N"]),
        ("1/0", &["--shard", "at least 1"]),
        ("abc", &["--shard", "K/N"]),
        ("1/3/2", &["--shard", "K/N"]),
        ("-1/3", &["--shard", "K/N"]),
        ("", &["--shard", "K/N"]),
        ("5/5", &["--shard", "only 4 runs"]),
    ] {
        refused(
            &run(&d, 1, &strs(&small(&["--shard", shard, "--out", "x.h5"]))),
            needles,
        );
    }
    assert!(!d.join("x.h5").exists() && !checkpoint_dir(&d.join("x.h5")).exists());

    // two shards of the sweep, one of another sweep (grid 8×16), one of the same sweep cut in
    // three, a run file, a text file
    for k in 1..=2 {
        let (shard, out) = (format!("{k}/2"), format!("a{k}.h5"));
        ok(&run(
            &d,
            1,
            &strs(&small(&["--shard", &shard, "--out", &out])),
        ));
    }
    let mut other = small(&["--shard", "2/2", "--out", "b2.h5"]);
    other.extend(["--set".into(), "grid.nx=8".into()]);
    ok(&run(&d, 1, &strs(&other)));
    ok(&run(
        &d,
        1,
        &strs(&small(&["--shard", "2/3", "--out", "c2.h5"])),
    ));
    let mut r = vec!["run", "--out", "r.h5"];
    r.extend(GRID);
    ok(&run(&d, 1, &r));
    std::fs::write(d.join("t.h5"), "not HDF5\n").unwrap();

    let merge = |files: &[&str]| {
        let mut v = vec!["merge", "--out", "m.h5"];
        v.extend(files);
        run(&d, 1, &v)
    };
    refused(&merge(&["a1.h5"]), &["shard 2 of 2 missing", "pass all 2"]);
    refused(
        &merge(&["a1.h5", "a2.h5", "a1.h5"]),
        &["a1.h5", "shard 1/2 given twice"],
    );
    refused(
        &merge(&["a1.h5", "b2.h5"]),
        &["b2.h5", "another sweep", "--set"],
    );
    refused(
        &merge(&["a1.h5", "c2.h5"]),
        &["c2.h5", "another sweep", "number of shards"],
    );
    refused(
        &merge(&["a1.h5", "r.h5"]),
        &["r.h5", "`run` file", "not a shard file"],
    );
    refused(
        &merge(&["a1.h5", "t.h5"]),
        &["t.h5", "not a readable HDF5 file"],
    );
    refused(&merge(&["a1.h5", "nope.h5"]), &["nope.h5", "no such file"]);
    refused(
        &run(
            &d,
            1,
            &["merge", "--out", "a1.h5", "--force", "a1.h5", "a2.h5"],
        ),
        &["a1.h5", "one of the shard files"],
    );
    assert!(!d.join("m.h5").exists());
    ok(&merge(&["a2.h5", "a1.h5"]));
    refused(&merge(&["a2.h5", "a1.h5"]), &["m.h5", "already exists"]);
    let _ = std::fs::remove_dir_all(&d);
}

/// Compares two sweep files given by the environment (`CGKL_SAME_A`, `CGKL_SAME_B`): every
/// dataset bit for bit, every attribute but wall times; e.g. a merged sweep from a cluster
/// against an unsharded one (docs/cluster.md):
/// `CGKL_SAME_A=a.h5 CGKL_SAME_B=b.h5 cargo test --test shard -- --ignored same_files`.
#[test]
#[ignore = "compares two files named by CGKL_SAME_A and CGKL_SAME_B"]
fn same_files() {
    let var = |n: &str| std::env::var(n).unwrap_or_else(|_| panic!("set {n} to an HDF5 file"));
    let (a, b) = (var("CGKL_SAME_A"), var("CGKL_SAME_B"));
    let fa = hdf5::File::open(&a).unwrap();
    let fb = hdf5::File::open(&b).unwrap();
    let n = compare_groups(&fa, &fb);
    eprintln!("{a} and {b}: {n} datasets equal bit for bit, attributes equal but wall_s");
}
