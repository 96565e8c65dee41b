//! The continuous limit of the projected dynamics (SPEC §6): with δ = ∞ it is the unprojected
//! flow; without leakage it keeps every block mass; its blocks never leave their boxes; the
//! Lawson–RK4 solver converges at high order (static and moving scores); and both splittings
//! converge to it at order 1.

use cgkl::config::{Config, FlowMode};
use cgkl::limit::LimitSolver;
use cgkl::problem::Projection;

fn small() -> Config {
    let mut c = Config::default();
    c.grid.nx = 32;
    c.grid.ny = 32;
    c
}

/// Textured checkerboard on an n×n grid with ε_fwd = ε_rev = eps: a score that moves in time.
fn textured(n: usize, eps: f64) -> Config {
    let mut c = Config::default();
    c.grid.nx = n;
    c.grid.ny = n;
    c.data = cgkl::config::DataConfig::Textured {
        contrast: 4.0,
        amplitude: 0.5,
        periods: 2,
    };
    c.forward.eps_fwd = eps;
    c.reverse.eps_rev = eps;
    c
}

fn l1(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

#[test]
fn delta_infinity_gives_the_unprojected_flow() {
    let mut c = small();
    c.projection.delta = f64::INFINITY;
    let pb = c.validate().unwrap();
    let lim = LimitSolver::new(&pb).unwrap().solve(&pb, 50).unwrap();
    let mut c2 = c.clone();
    c2.flow.mode = FlowMode::Resolved;
    let flow = c2.validate().unwrap().run(Projection::Baseline).unwrap();
    let d = l1(&lim.p, &flow.output.final_p);
    println!("δ = ∞: |limit − unprojected flow|_1 = {d:.2e}");
    assert!(d < 1e-11, "{d:e}");
    assert!(lim.events.is_empty());
}

#[test]
fn without_leakage_block_masses_stay_constant() {
    let mut c = small();
    c.reverse.eps_rev = 0.0;
    let pb = c.validate().unwrap();
    let lim = LimitSolver::new(&pb).unwrap().solve(&pb, 40).unwrap();
    let mut p0 = pb.p0.clone();
    pb.projection().unwrap().project(&mut p0);
    let w0 = pb.partition.block_masses(&p0);
    let worst = lim
        .trajectory
        .iter()
        .flat_map(|(_, w)| w.iter().zip(&w0).map(|(a, b)| (a - b).abs()))
        .fold(0.0, f64::max);
    println!("no leakage: max |w_j(s) − w_j(0)| = {worst:.2e}");
    assert!(worst < 1e-14, "{worst:e}");
    // and the within-block flow did move the state
    assert!(l1(&lim.p, &p0) > 1e-2);
}

#[test]
fn limit_is_high_order_stays_in_the_box_and_conserves_mass() {
    let pb = small().validate().unwrap();
    let solve = |k: usize| LimitSolver::new(&pb).unwrap().solve(&pb, k).unwrap();
    let (a, b, c) = (solve(100), solve(200), solve(400));
    let (d1, d2) = (l1(&a.p, &b.p), l1(&b.p, &c.p));
    println!("Lawson–RK4 self-convergence: |p_100 − p_200| = {d1:.2e}, |p_200 − p_400| = {d2:.2e}, ratio {:.1}", d1 / d2);
    assert!(
        d1 / d2 > 8.0,
        "expected at least third order (ratio ≥ 8 per halving), ratio {}",
        d1 / d2
    );
    assert!(
        !c.events.is_empty(),
        "this problem has blocks reaching their bounds"
    );
    let bounds = cgkl::kl::ToleranceBox::new(&pb.reference.w_ref, 0.01).unwrap();
    for (s, w) in &c.trajectory {
        for (j, (&wj, (&l, &u))) in w.iter().zip(bounds.l.iter().zip(&bounds.u)).enumerate() {
            assert!(
                wj >= l - 1e-12 && wj <= u + 1e-12,
                "block {j} out of its box at s = {s}"
            );
        }
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    assert!(c.p.iter().all(|&x| x >= 0.0));
}

#[test]
fn both_splittings_converge_to_the_limit_at_order_one() {
    let pb = small().validate().unwrap();
    let lim = LimitSolver::new(&pb).unwrap().solve(&pb, 200).unwrap();
    for mode in [FlowMode::Kernel, FlowMode::Resolved] {
        let err = |n: usize| {
            let mut c = small();
            c.flow.mode = mode;
            c.schedule.n_steps = n;
            l1(
                &c.validate()
                    .unwrap()
                    .run(Projection::Projected)
                    .unwrap()
                    .output
                    .final_p,
                &lim.p,
            )
        };
        let (e640, e2560) = (err(640), err(2560));
        let factor = e640 / e2560;
        println!("{mode:?}: err(N=640) = {e640:.3e}, err(N=2560) = {e2560:.3e}, factor {factor:.2} (order 1 predicts 4)");
        assert!(
            (factor - 4.0).abs() <= 0.3 * 4.0,
            "{mode:?}: factor {factor}"
        );
    }
}

#[test]
fn limit_with_a_moving_score_converges_and_splittings_approach_it() {
    // a time-dependent generator (textured data, ε_fwd = ε_rev = 0.3): the Lawson scheme freezes
    // the linear part at each step's midpoint and carries (G(s) − L) p in the RK4 part; it must
    // still converge at high order
    let mut c = textured(16, 0.3);
    c.partition = cgkl::config::PartitionConfig::Tiles { bx: 2, by: 2 };
    c.projection.delta = 0.05;
    let pb = c.validate().unwrap();
    assert!(!pb.generator().unwrap().is_static());
    let solve = |k: usize| LimitSolver::new(&pb).unwrap().solve(&pb, k).unwrap();
    let (a, b, r) = (solve(80), solve(160), solve(320));
    let (d1, d2) = (l1(&a.p, &b.p), l1(&b.p, &r.p));
    println!(
        "moving score: |p★_80 − p★_160|_1 = {d1:.2e}, |p★_160 − p★_320|_1 = {d2:.2e}, ratio {:.1}",
        d1 / d2
    );
    // measured: 1.0e-4, 6.8e-6, 6.8e-7, 3.6e-8 for K = 40→80 … 320→640 (ratios 10–19)
    assert!(d2 < 2e-6, "{d2:e}");
    assert!(
        d1 / d2 > 6.0,
        "self-convergence ratio {} (order < 2.6)",
        d1 / d2
    );
    let b = r;
    let err = |n: usize| {
        let mut c2 = c.clone();
        c2.schedule.n_steps = n;
        l1(
            &c2.validate()
                .unwrap()
                .run(Projection::Projected)
                .unwrap()
                .output
                .final_p,
            &b.p,
        )
    };
    let (e1, e2) = (err(40), err(160));
    println!("kernel: err(N=40) = {e1:.3e}, err(N=160) = {e2:.3e}");
    assert!(
        e2 < 0.4 * e1,
        "kernel splitting does not approach the limit: {e1:e} → {e2:e}"
    );
}

#[test]
fn moving_score_baseline_reference_is_the_exact_reversal() {
    // textured data under plain heat flow, oracle score, ε_rev = ε_fwd, p_0 = q_T: the exact
    // chain reversal brings q_T back to q0 exactly, so the unprojected reference must be q0
    let mut c = textured(32, 1.0);
    c.start = cgkl::config::StartConfig::ForwardEnd;
    let lim = cgkl::sweep::baseline_limit(&c).unwrap();
    let q0 = c.validate().unwrap().q0;
    let d = l1(&lim.p, &q0);
    println!(
        "moving-score baseline reference: |p★ − q0|_1 = {d:.2e}; {}",
        lim.method
    );
    assert!(d < 1e-8, "{d:e}");
    assert!(lim.atol < 1e-7, "{}", lim.atol);
}
