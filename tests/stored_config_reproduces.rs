//! Issue 17 item 17: the config stored with every run reproduces that run alone (SPEC §9). A
//! baseline's stored config has `projection.delta = inf` (Π_δ with an unbounded box is the
//! identity) and its δ-diagnostics' δ is the attribute `diag_delta`; before the fix it said the
//! paired projected run's δ = 0.01, so rerunning it gave the projected run.

use cgkl::config::Config;
use cgkl::problem::Projection;
use cgkl::sweep::{run_sweep, SweepSpec};

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn every_stored_config_reruns_to_the_same_run() {
    let ov: Vec<String> = [
        "grid.nx=12",
        "grid.ny=8",
        "partition.bx=3",
        "partition.by=2",
    ]
    .map(String::from)
    .to_vec();
    let base = Config::from_toml_with_overrides("", &ov).unwrap();
    let sw = run_sweep(&base, &SweepSpec::dt_sweep(&[3, 6]), &|_| {}).unwrap();
    assert_eq!(sw.runs.len(), 8);
    for r in &sw.runs {
        let stored = Config::from_toml(&r.result.config_toml).unwrap();
        if r.result.projection == Projection::Baseline {
            assert!(stored.projection.delta.is_infinite(), "{}", r.result.name);
            assert_eq!(r.result.delta, base.projection.delta, "diag_delta");
        } else {
            assert_eq!(stored.projection.delta, base.projection.delta);
        }
        // the stored config alone, run as `cgkl run --config` runs it (projected)
        let again = stored
            .validate()
            .unwrap()
            .run(Projection::Projected)
            .unwrap();
        assert_eq!(
            bits(&again.output.final_p),
            bits(&r.result.output.final_p),
            "{}: final p",
            r.result.name
        );
        for (a, b) in again.output.records.iter().zip(&r.result.output.records) {
            assert_eq!(a.mass.to_bits(), b.mass.to_bits(), "{}", r.result.name);
            assert_eq!(
                a.e_block.to_bits(),
                b.e_block.to_bits(),
                "{}",
                r.result.name
            );
            assert_eq!(bits(&a.w), bits(&b.w), "{}", r.result.name);
        }
    }
}
