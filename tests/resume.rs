//! `cgkl sweep --resume`: a sweep killed with SIGKILL mid-way and resumed writes the same file
//! as an uninterrupted sweep (every dataset bit for bit, every attribute but wall times), and a
//! checkpoint that does not match the planned runs is refused with one clear error line.

mod common;

use cgkl::sweep::resume::{checkpoint_dir, finished_files, save_run};
use common::{cgkl, compare_groups, fork_guard, ok, refused};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cgkl_resume_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A 32×32 Δt sweep (24 runs, a few seconds on one thread) writing `out`.
fn sweep_args(out: &str, values: &str, nx: usize, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "sweep",
        "--param",
        "schedule.n_steps",
        "--values",
        values,
        "--set",
        &format!("grid.nx={nx}"),
        "--set",
        "grid.ny=32",
        "--out",
        out,
    ]
    .map(String::from)
    .to_vec();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

const VALUES: &str = "25,50,100,200,400,800";

#[test]
fn a_killed_sweep_resumes_to_the_file_of_an_uninterrupted_one() {
    let t0 = Instant::now();
    let d = scratch("kill");
    // the uninterrupted sweep, on two threads (results do not depend on the thread count)
    let mut full_args = vec!["--threads".to_string(), "2".into()];
    full_args.extend(sweep_args("full.h5", VALUES, 32, &[]));
    ok(&cgkl(&full_args, &d));
    assert!(!checkpoint_dir(&d.join("full.h5")).exists());
    let t_full = t0.elapsed();

    // the same sweep on one thread, killed once a run is saved
    let mut args = vec!["--threads".to_string(), "1".into()];
    args.extend(sweep_args("cut.h5", VALUES, 32, &[]));
    let ckpt = checkpoint_dir(&d.join("cut.h5"));
    let mut child = {
        let _g = fork_guard();
        Command::new(env!("CARGO_BIN_EXE_cgkl"))
            .args(&args)
            .current_dir(&d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while finished_files(&ckpt).unwrap().is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before a checkpoint appeared"
        );
        assert!(Instant::now() < deadline, "no checkpoint after 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let saved = finished_files(&ckpt).unwrap().len();
    assert!(
        !d.join("cut.h5").exists(),
        "the sweep finished before the kill"
    );
    assert!((1..24).contains(&saved), "{saved} runs saved");

    // without --resume the leftover checkpoint is refused
    refused(&cgkl(&args, &d), &["--resume", "--force", "cut.h5.partial"]);

    // --resume runs only the rest
    let mut resume = args.clone();
    resume.push("--resume".into());
    let o = cgkl(&resume, &d);
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("sweep: {} runs", 24 - saved)) && err.contains("restored"),
        "{err}"
    );
    assert!(!ckpt.exists(), "checkpoint folder left behind");

    let a = hdf5::File::open(d.join("full.h5")).unwrap();
    let b = hdf5::File::open(d.join("cut.h5")).unwrap();
    let n = compare_groups(&a, &b);
    assert!(n > 24 * 20, "only {n} datasets compared");
    eprintln!(
        "uninterrupted sweep {:.1} s, {saved} runs saved before the kill, total {:.1} s",
        t_full.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn resume_refuses_a_checkpoint_of_another_sweep() {
    let d = scratch("other");
    let values = "5,10";
    // a checkpoint made with grid.nx = 16 (the first planned run of that sweep)
    let ov: Vec<String> = ["grid.nx=16", "grid.ny=32"].map(String::from).to_vec();
    let spec = cgkl::sweep::SweepSpec::dt_sweep(&[5, 10]);
    let jobs = cgkl::sweep::plan(
        &cgkl::Config::from_toml_with_overrides("", &ov).unwrap(),
        &spec,
    )
    .unwrap();
    let (value, mode, projection, pb) = &jobs[0];
    let mut r = pb.run(*projection).unwrap();
    r.name = cgkl::sweep::run_name(&spec, *mode, *projection, value);
    let ckpt = checkpoint_dir(&d.join("s.h5"));
    std::fs::create_dir(&ckpt).unwrap();
    {
        let _g = fork_guard();
        save_run(&ckpt, pb, &r).unwrap();
    }

    // other config: refused, naming the difference and the way out
    let o = cgkl(&sweep_args("s.h5", values, 8, &["--resume"]), &d);
    refused(
        &o,
        &[
            "different config",
            "nx = 16",
            "nx = 8",
            "s.h5.partial",
            "--force",
        ],
    );
    // other values: the run is not planned
    let o = cgkl(&sweep_args("s.h5", "20,40", 16, &["--resume"]), &d);
    refused(&o, &["does not plan", "s.h5.partial"]);
    // without --resume: refused
    let o = cgkl(&sweep_args("s.h5", values, 8, &[]), &d);
    refused(&o, &["--resume", "--force"]);
    assert!(!d.join("s.h5").exists());
    assert_eq!(finished_files(&ckpt).unwrap().len(), 1);

    // the matching sweep resumes from it; --force without --resume starts over
    ok(&cgkl(&sweep_args("s.h5", values, 16, &["--resume"]), &d));
    assert!(!ckpt.exists());
    std::fs::create_dir(&ckpt).unwrap();
    {
        let _g = fork_guard();
        save_run(&ckpt, pb, &r).unwrap();
    }
    ok(&cgkl(&sweep_args("s2.h5", values, 16, &[]), &d)); // another output: no conflict
    let o = cgkl(&sweep_args("s.h5", values, 8, &["--force"]), &d);
    ok(&o);
    assert!(!ckpt.exists());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_failed_run_keeps_the_finished_ones_and_points_to_resume() {
    let d = scratch("fail");
    // a folder in the way of one run's checkpoint file makes that run fail
    let ckpt = checkpoint_dir(&d.join("s.h5"));
    std::fs::create_dir_all(ckpt.join("kernel_projected_N5.h5")).unwrap();
    let o = cgkl(&sweep_args("s.h5", "5,10", 8, &[]), &d);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("sweep stopped") && err.contains("--resume") && err.contains("7 of 8 runs"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(finished_files(&ckpt).unwrap().len(), 7);
    // after fixing the cause, --resume runs only the failed run
    std::fs::remove_dir(ckpt.join("kernel_projected_N5.h5")).unwrap();
    let o = cgkl(&sweep_args("s.h5", "5,10", 8, &["--resume"]), &d);
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("sweep: 1 runs"), "{err}");
    assert!(d.join("s.h5").exists() && !ckpt.exists());
    let _ = std::fs::remove_dir_all(&d);
}
