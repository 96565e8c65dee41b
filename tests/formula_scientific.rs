//! Issue 17, item 11: numbers in scientific notation inside formulas (`1e-3*x` used to fail
//! with exmex's "we have 2 ops and 4 node…"). A formula with `1e-3`, `2.5E+2` and `1e5`
//! validates and gives the same data, bit for bit, as the same numbers written out; `e` alone
//! stays the constant e.

use cgkl::config::Config;

fn q0(log_q: &str) -> Vec<f64> {
    let cfg = Config::from_toml_with_overrides(
        "",
        &[
            "grid.nx=8".into(),
            "grid.ny=8".into(),
            "partition.bx=2".into(),
            "partition.by=2".into(),
            "schedule.n_steps=2".into(),
            "data.kind=formula".into(),
            format!("data.log_q={log_q:?}"),
        ],
    )
    .unwrap();
    cfg.validate().unwrap_or_else(|e| panic!("{log_q}: {e}")).q0
}

#[test]
fn scientific_notation_reads_as_the_number_it_writes() {
    let sci = q0("-2.5E+2*((x-0.5)^2 + (y-0.5)^2)*1e-3 + 1e5*0 + x/e");
    let plain = q0("-250*((x-0.5)^2 + (y-0.5)^2)*0.001 + 100000*0 + x/2.718281828459045");
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&sci), bits(&plain));
    // and the data really depend on the formula (not a constant image)
    assert!(sci.iter().any(|&v| (v - sci[0]).abs() > 1e-6));
}
