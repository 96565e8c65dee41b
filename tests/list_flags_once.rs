//! Issue 17 item 13: a mode or projection kind given twice (`--modes kernel,kernel`,
//! `--projections projected,projected`) is refused up front with one `error:` line and exit 2,
//! like a value given twice. Before the fix the sweep ran the same runs twice.

mod common;

use common::{cgkl, refused};

#[test]
fn a_mode_or_projection_given_twice_is_refused() {
    let d = std::env::temp_dir().join(format!("cgkl_once_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for (flag, list, needle) in [
        (
            "--modes",
            "kernel,kernel",
            "--modes = kernel: appears twice",
        ),
        (
            "--modes",
            "resolved,kernel,resolved",
            "--modes = resolved: appears twice",
        ),
        (
            "--projections",
            "projected,projected",
            "--projections = projected: appears twice",
        ),
        (
            "--projections",
            "baseline,projected,baseline",
            "appears twice",
        ),
    ] {
        let args: Vec<String> = [
            "sweep",
            "--param",
            "projection.delta",
            "--values",
            "0.01",
            "--set",
            "grid.nx=8",
            "--set",
            "grid.ny=8",
            flag,
            list,
            "--out",
            "s.h5",
        ]
        .map(String::from)
        .to_vec();
        refused(&cgkl(&args, &d), &[needle]);
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            0,
            "{flag} {list}: files written"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}
