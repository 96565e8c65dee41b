//! Issue 17 item 9: values the numerics cannot handle are refused when the config is validated
//! (or the score field loaded), exit 2 with one `error:` line naming the key and the value and
//! saying what fits, instead of passing validation and stopping mid-run with exit 1 and
//! "invariant broken…": a horizon whose implicit steps break the mass (1e300, also 1e6 on an
//! 8×8 grid), η = 5e-324, β = 1e300, σ = 1e300 for the perturbed score, D = 1e308, a ln q̂
//! formula with a coefficient of 1e20, an external field whose neighbouring cells differ by
//! 1400 in ln q̂ (|ln q̂| = 700), and a start noise σ = 1e300 (shown as 1e300, not 301 digits).
//! The bounds leave room: values at them run to the end and conserve mass.

mod common;

use common::{cgkl, ok, refused};
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    common::scratch(&format!("numrange_{name}"))
}

/// `cgkl run` on an 8×8 grid, 2×2 tiles, N = 2, kernel mode, plus `--set` of each of `sets`.
fn run_args(sets: &[&str]) -> Vec<String> {
    common::tiny_run(2, sets)
}

/// A score field on the 8×8 grid with ln q̂ = ±700 in a checkerboard of cells.
fn steep_field(d: &std::path::Path) {
    let f = hdf5::File::create(d.join("steep.h5")).unwrap();
    f.new_dataset_builder()
        .with_data(&[0.0f64])
        .create("t")
        .unwrap();
    let q = ndarray::Array3::<f64>::from_shape_fn((1, 8, 8), |(_, iy, ix)| {
        if (ix + iy) % 2 == 0 {
            700.0
        } else {
            -700.0
        }
    });
    f.new_dataset_builder()
        .with_data(&q)
        .create("log_q")
        .unwrap();
}

#[test]
fn values_beyond_the_numerics_are_refused_naming_the_key() {
    let potential = [
        "score.kind=potential",
        "reverse.flux.kind=potential_sg",
        "score.potential=\"x\"",
    ];
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        (
            "horizon_1e300",
            vec!["forward.horizon=1e300"],
            vec!["forward.horizon = 1e300", "Δt·Λ_diff", "use T ≤"],
        ),
        (
            "horizon_1e6",
            vec!["forward.horizon=1e6"],
            vec!["forward.horizon = 1000000.0", "≤ 1e6", "use T ≤ 7.81e3"],
        ),
        (
            "eta",
            vec!["reverse.flux.kind=sg", "reverse.flux.eta=5e-324"],
            vec!["reverse.flux.eta = 5e-324", "≥ 1e-6", "upwind"],
        ),
        (
            "beta",
            vec!["forward.beta.value=1e300"],
            vec!["forward.beta.value = 1e300", "≤ 1e30"],
        ),
        (
            "beta_linear",
            vec![
                "forward.beta.kind=linear",
                "forward.beta.min=0.1",
                "forward.beta.max=1e300",
            ],
            vec!["forward.beta.max = 1e300", "≤ 1e30"],
        ),
        (
            "score_sigma",
            vec![
                "score.kind=perturbed",
                "score.sigma=1e300",
                "score.corr_len=2",
                "score.seed=1",
            ],
            vec!["score.sigma = 1e300", "at most 500", "smaller σ"],
        ),
        (
            "diffusion",
            [potential.as_slice(), &["score.diffusion=1e308"]].concat(),
            vec!["score.diffusion = 1e308", "≤ 1e30"],
        ),
        (
            "log_q_coefficient",
            vec![
                "score.kind=formula",
                "score.log_q=\"100000000000000000000*x\"",
            ],
            vec!["score.log_q", "ln q̂ changes by 1.250e19", "at most 500"],
        ),
        (
            "external_700",
            vec!["score.kind=external", "score.file=steep.h5"],
            vec!["steep.h5", "ln q̂ changes by 1.400e3", "at most 500"],
        ),
        (
            "start_sigma",
            vec!["start.sigma=1e300"],
            vec!["start.sigma = 1e300", "≤ 100"],
        ),
    ];
    for (name, sets, needles) in cases {
        let d = dir(name);
        steep_field(&d);
        let o = cgkl(&run_args(&sets), &d);
        let line = refused(&o, &needles);
        assert!(!d.join("r.h5").exists(), "{name}: wrote r.h5 ({line})");
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn values_at_the_bounds_run_to_the_end() {
    // Δt·Λ_diff = 3906.25·4·64 = 1e6 exactly; η = 1e-6; |Δ ln q̂| = 500 between the outer cells
    for (name, sets) in [
        ("stiffness_1e6", vec!["forward.horizon=7812.5"]),
        (
            "eta_1e-6",
            vec!["reverse.flux.kind=sg", "reverse.flux.eta=1e-6"],
        ),
        (
            "log_step_500",
            vec!["score.kind=formula", "score.log_q=\"4000*x\""],
        ),
        ("contrast_1e100", vec!["data.contrast=1e100"]),
    ] {
        let d = dir(name);
        let o = cgkl(&run_args(&sets), &d);
        ok(&o);
        let f = hdf5::File::open(d.join("r.h5")).unwrap();
        let mass: Vec<f64> = f.dataset("trajectory/mass").unwrap().read_raw().unwrap();
        assert!(
            mass.iter().all(|m| (m - 1.0).abs() < 1e-11),
            "{name}: mass {mass:?}"
        );
        drop(f);
        let _ = std::fs::remove_dir_all(&d);
    }
}
