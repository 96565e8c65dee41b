//! Issue 18 item 1: a run's per-step O(cells) reductions (block masses, the §7 diagnostics, the
//! projection, the invariant checks) run chunk by chunk on the `--threads` pool with ordered
//! combination, so a run is bit-identical on 1, 2 and 3 threads. At L = 200 (40 000 cells,
//! three chunks of `par::CHUNK`) the chunked paths are taken. A moving score (textured data,
//! ε_fwd = 0.05) adds the oracle's blocked dense products, the score's logarithms and the
//! generator refresh of every step, on the direct and the multigrid solve.

use cgkl::config::{Config, FlowMode, PartitionConfig};
use cgkl::problem::Projection;

fn run_on(threads: usize, mode: FlowMode, projection: Projection) -> (Vec<u64>, Vec<String>) {
    let mut c = Config::default();
    c.grid.nx = 200;
    c.grid.ny = 200;
    c.partition = PartitionConfig::Tiles { bx: 4, by: 5 };
    c.schedule.n_steps = 6;
    c.flow.mode = mode;
    run_config(threads, c, projection)
}

fn run_config(threads: usize, c: Config, projection: Projection) -> (Vec<u64>, Vec<String>) {
    let pb = c.validate().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let r = pool.install(|| pb.run(projection)).unwrap();
    let p = r.output.final_p.iter().map(|x| x.to_bits()).collect();
    let recs = r
        .output
        .records
        .iter()
        .map(|rec| format!("{:?}", rec))
        .collect();
    (p, recs)
}

#[test]
fn runs_are_bit_identical_on_1_2_and_3_threads() {
    for mode in [FlowMode::Kernel, FlowMode::Resolved] {
        for projection in Projection::ALL {
            let one = run_on(1, mode, projection);
            for t in [2, 3] {
                let other = run_on(t, mode, projection);
                assert!(
                    one.0 == other.0,
                    "{mode} {projection}: final p differs on {t} threads"
                );
                assert_eq!(
                    one.1, other.1,
                    "{mode} {projection}: records differ on {t} threads"
                );
            }
        }
    }
}

#[test]
fn moving_score_runs_are_bit_identical_on_1_2_and_3_threads() {
    for solver in ["direct", "multigrid"] {
        let set: Vec<String> = [
            "grid.nx=200",
            "grid.ny=200",
            "data.kind=textured",
            "forward.eps_fwd=0.05",
            "schedule.n_steps=3",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("flow.linear_solver={solver}")])
        .collect();
        let c = Config::from_toml_with_overrides("", &set).unwrap();
        let one = run_config(1, c.clone(), Projection::Projected);
        for t in [2, 3] {
            let other = run_config(t, c.clone(), Projection::Projected);
            assert!(one.0 == other.0, "{solver}: final p differs on {t} threads");
            assert_eq!(one.1, other.1, "{solver}: records differ on {t} threads");
        }
    }
}
