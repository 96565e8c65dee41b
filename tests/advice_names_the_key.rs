//! Issue 17 item 10: the advice of a refusal names the key that is wrong and a fix that exists.
//! `forward.horizon = 5e-324` used to blame σ_min ("use fewer steps or a smaller σ_min"), and
//! `data.contrast = 1e308` to suggest "raise the data floor", a key the checkerboard does not
//! have. Their neighbours: a geometric schedule whose last σ_n round to s = T needs a *larger*
//! σ_min (the old text said smaller), Karras steps that coincide name ρ, a σ_min above σ_max
//! names the horizon and β that set σ_max.

mod common;

use common::{cgkl, refused};
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    common::scratch(&format!("advice_{name}"))
}

/// `cgkl run` on an 8×8 grid, 2×2 tiles, N = 4, plus `--set` of each of `sets`; the refusal
/// must mention every needle and none of `wrong`.
fn advice(name: &str, sets: &[&str], needles: &[&str], wrong: &[&str]) {
    let args = common::tiny_run(4, sets);
    let d = dir(name);
    let line = refused(&cgkl(&args, &d), needles);
    for w in wrong {
        assert!(!line.contains(w), "{name}: {line:?} mentions {w:?}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn refusals_name_the_key_at_fault() {
    advice(
        "horizon_denormal",
        &["forward.horizon=5e-324"],
        &["forward.horizon = 5e-324", "use T ≥"],
        &["σ_min", "sigma_min"],
    );
    advice(
        "contrast_huge",
        &["data.contrast=1e308"],
        &["data.contrast = 1e308", "1e100"],
        &["floor"],
    );
    advice(
        "contrast_tiny",
        &["data.kind=textured", "data.contrast=1e-308"],
        &["data.contrast = 1e-308", "1e-100"],
        &["floor"],
    );
    advice(
        "geometric_collapse",
        &["schedule.kind=geometric", "schedule.sigma_min=1e-10"],
        &["schedule.sigma_min = 1e-10", "raise σ_min"],
        &["smaller σ_min"],
    );
    advice(
        "karras_rho",
        &["schedule.kind=karras", "schedule.rho=1e300"],
        &["schedule.rho = 1e300", "ρ nearer 7"],
        &[],
    );
    advice(
        "sigma_min_above_max",
        &["schedule.kind=geometric", "schedule.sigma_min=10"],
        &["schedule.sigma_min = 10", "forward.horizon", "larger β"],
        &[],
    );
}
