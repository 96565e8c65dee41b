//! Issue 17 item 7: a knob that sets an inner step count cannot ask for a run that never
//! finishes. A value implying more than 10⁷ inner steps (substeps, products or solves with G) is
//! refused before any work, exit 2, one `error:` line naming the knob and the count it implies,
//! nothing written: explicit Euler's cfl (5e-324 used to run forever) and substeps, the fixed
//! substeps of implicit Euler and TR-BDF2, uniformization and Chebyshev over a long horizon,
//! TR-BDF2 tolerances below round-off, the continuous-limit references of a Δt sweep, and
//! `cgkl brelax --steps`. Each case runs under a time limit, so before the fix it fails by
//! running past it (or, for the tolerances, with exit 1 mid-run).

mod common;

use common::refused;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// `cgkl args` in `cwd`, killed (and reported as a failure) after `limit`.
fn cgkl_within(args: &[String], cwd: &Path, limit: Duration) -> Output {
    let mut child = common::spawn_cgkl(args, cwd);
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("cgkl {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn dir(name: &str) -> PathBuf {
    common::scratch(&format!("stepcounts_{name}"))
}

/// `cgkl run` on an 8×8 grid, 2×2 tiles, N = 2, plus `--set` of each of `sets`.
fn run_args(sets: &[&str]) -> Vec<String> {
    common::tiny_run(2, sets)
}

/// Refused within 30 s, naming every needle, and nothing written in the case folder.
fn check(name: &str, args: Vec<String>, needles: &[&str]) {
    let d = dir(name);
    let o = cgkl_within(&args, &d, Duration::from_secs(30));
    let line = refused(&o, needles);
    let left: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().collect();
    assert!(left.is_empty(), "{name}: left {left:?} ({line})");
    let _ = std::fs::remove_dir_all(&d);
}

const RESOLVED: &str = "flow.mode=resolved";

#[test]
fn counts_beyond_the_budget_are_refused_with_the_count() {
    check(
        "cfl_denormal",
        run_args(&[
            RESOLVED,
            "flow.integrator.kind=explicit_euler",
            "flow.integrator.cfl=5e-324",
            "flow.integrator.substeps=1",
        ]),
        &[
            "flow.integrator.cfl = 5e-324",
            "substeps",
            "at most 1e7",
            "raise cfl",
        ],
    );
    check(
        "cfl_small",
        run_args(&[
            RESOLVED,
            "forward.horizon=100",
            "flow.integrator.kind=explicit_euler",
            "flow.integrator.cfl=1e-6",
            "flow.integrator.substeps=1",
        ]),
        &["flow.integrator.cfl", "2.56e10 substeps", "at most 1e7"],
    );
    for kind in ["explicit_euler", "implicit_euler", "trbdf2_fixed"] {
        let set_kind = format!("flow.integrator.kind={kind}");
        let mut sets = vec![
            RESOLVED,
            set_kind.as_str(),
            "flow.integrator.substeps=100000000000",
        ];
        if kind == "explicit_euler" {
            sets.push("flow.integrator.cfl=0.5");
        }
        check(
            kind,
            run_args(&sets),
            &[
                "flow.integrator.substeps = 100000000000",
                "2.00e11",
                "substeps ≤ 5000000",
            ],
        );
    }
    // the exponential methods' count is T·Λ: a long horizon
    check(
        "uniformization_long",
        run_args(&[
            RESOLVED,
            "forward.horizon=1e6",
            "flow.integrator.kind=uniformization",
            "flow.integrator.tol=1e-12",
        ]),
        &[
            "flow.integrator.kind = uniformization",
            "products with G",
            "at most 1e7",
        ],
    );
    check(
        "auto_long",
        run_args(&[RESOLVED, "forward.horizon=1e6"]),
        &["flow.integrator.kind = auto", "3.87e8 products"],
    );
    check(
        "chebyshev_long",
        run_args(&[
            RESOLVED,
            "forward.horizon=1e5",
            "flow.integrator.kind=chebyshev",
            "flow.integrator.tol=1e-9",
        ]),
        &[
            "flow.integrator.kind = chebyshev",
            "c = Δt·Λ",
            "schedule.n_steps ≥ 128",
        ],
    );
    // adaptive TR-BDF2: no count before the solve, so its tolerances are bounded
    for (key, other, needle) in [
        (
            "rtol",
            "flow.integrator.atol=1e-12",
            "flow.integrator.rtol = 5e-324",
        ),
        (
            "atol",
            "flow.integrator.rtol=1e-8",
            "flow.integrator.atol = 5e-324",
        ),
    ] {
        let set = format!("flow.integrator.{key}=5e-324");
        check(
            key,
            run_args(&[
                RESOLVED,
                "flow.integrator.kind=trbdf2_adaptive",
                "score.kind=formula",
                "score.log_q=\"x*t\"",
                other,
                &set,
            ]),
            &[needle, "without bound"],
        );
    }
}

#[test]
fn the_references_of_a_dt_sweep_are_bounded_before_any_run() {
    // kernel runs of N = 100, 200 are cheap (Δt·Λ_diff = 8.2e5), but the continuous-limit
    // reference over T·Λ ≈ 10⁸ would take ~10⁸ products with G on 64×64 cells
    let d = dir("dt_sweep");
    let mut args: Vec<String> = [
        "sweep",
        "--param",
        "schedule.n_steps",
        "--values",
        "100,200",
        "--modes",
        "kernel",
        "--out",
        "s.h5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for s in ["grid.nx=64", "grid.ny=64", "forward.horizon=5000"] {
        args.push("--set".into());
        args.push(s.into());
    }
    let o = cgkl_within(&args, &d, Duration::from_secs(60));
    refused(
        &o,
        &[
            "forward.horizon = 5000",
            "continuous-limit",
            "products with G",
        ],
    );
    let left: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().collect();
    assert!(left.is_empty(), "left {left:?}");
}

#[test]
fn brelax_steps_are_bounded() {
    let args: Vec<String> = [
        "brelax",
        "--n",
        "16",
        "--method",
        "trbdf2",
        "--steps",
        "100000000000",
        "--out",
        "b.h5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let d = dir("brelax");
    let o = cgkl_within(&args, &d, Duration::from_secs(30));
    refused(&o, &["--steps = 100000000000", "at most 1e7"]);
}
