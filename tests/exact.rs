//! Exact solutions (SPEC §4–§5): the exact chain reversal driven by the oracle, started from
//! q_T, returns q0 (`p_s = q_{T−s}` for the semi-discrete system), at the advertised order of
//! each integrator; and the forward oracle agrees with a numerically integrated heat flow.

use cgkl::beta::BetaSchedule;
use cgkl::data::textured_checkerboard;
use cgkl::flux::Flux;
use cgkl::generator::Generator;
use cgkl::grid::Grid;
use cgkl::integrator::IntegratorKind;
use cgkl::oracle::ForwardOracle;
use cgkl::order::{observed_order, pairwise_orders};
use cgkl::partition::Partition;
use cgkl::score::{HeatDrive, ReverseDrive};

const EPS: f64 = 0.4;
const T: f64 = 0.004;

fn setup() -> (Partition, Vec<f64>) {
    let grid = Grid::new(16, 12).unwrap();
    let part = Partition::tiles(grid, 4, 3).unwrap();
    let q0 = textured_checkerboard(grid, 4, 3, 3.0, 0.6, 1).unwrap();
    (part, q0)
}

fn l1(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

/// Error |p_T − q0|_1 of the chain reversal from q_T with `steps` equal steps of `kind`.
fn reversal_error(beta: BetaSchedule, kind: &dyn Fn(usize) -> IntegratorKind, steps: usize) -> f64 {
    let (part, q0) = setup();
    let mut oracle = ForwardOracle::new(&part, &q0, EPS, beta, T).unwrap();
    let mut p = vec![0.0; q0.len()];
    oracle.q_at(T, &mut p);
    let drive = ReverseDrive::new(oracle, beta, None);
    assert!(
        !cgkl::score::Drive::is_static(&drive),
        "the test needs a moving score"
    );
    let mut g = Generator::new(&part, EPS, Flux::ChainReversal, Box::new(drive));
    let mut integ = kind(steps).build(&g).unwrap();
    integ.advance(&mut g, &mut p, 0.0, T).unwrap();
    l1(&p, &q0)
}

fn check_order(
    name: &str,
    kind: &dyn Fn(usize) -> IntegratorKind,
    expected: u32,
    beta: BetaSchedule,
) {
    let ns = [8usize, 16, 32, 64, 128];
    let dts: Vec<f64> = ns.iter().map(|&n| T / n as f64).collect();
    let errs: Vec<f64> = ns.iter().map(|&n| reversal_error(beta, kind, n)).collect();
    let eoc = pairwise_orders(&dts, &errs);
    let order = observed_order(&dts, &errs);
    println!("{name} ({beta:?}):\n  N   | Δt        | err_l1    | EOC");
    for (k, n) in ns.iter().enumerate() {
        let e = if k == 0 {
            String::from("-")
        } else {
            format!("{:.3}", eoc[k - 1])
        };
        println!("  {n:<3} | {:.3e} | {:.3e} | {e}", dts[k], errs[k]);
    }
    println!("  least-squares order {order:.3}");
    let p = expected as f64;
    assert!(
        order > p - 0.1 && order < p + 0.2,
        "{name}: observed order {order:.3}, expected {p}; errors {errs:?}"
    );
    // 16× smaller steps gain at least the factor 16^p / 2 (no stalled error floor)
    let gain = errs[0] / errs[errs.len() - 1];
    assert!(
        gain > 0.5 * 16f64.powi(expected as i32),
        "{name}: error fell only by {gain:.1}"
    );
}

#[test]
fn chain_reversal_implicit_euler_is_first_order() {
    let ie = |n| IntegratorKind::ImplicitEuler { substeps: n };
    assert_eq!(
        IntegratorKind::ImplicitEuler { substeps: 1 }
            .build(&dummy_generator())
            .unwrap()
            .order(),
        1
    );
    check_order(
        "implicit Euler",
        &ie,
        1,
        BetaSchedule::Constant { value: 1.0 },
    );
    check_order(
        "implicit Euler",
        &ie,
        1,
        BetaSchedule::Linear { min: 0.2, max: 1.8 },
    );
}

#[test]
fn chain_reversal_trbdf2_is_second_order() {
    let tr = |n| IntegratorKind::Trbdf2Fixed { substeps: n };
    assert_eq!(
        IntegratorKind::Trbdf2Fixed { substeps: 1 }
            .build(&dummy_generator())
            .unwrap()
            .order(),
        2
    );
    check_order("TR-BDF2", &tr, 2, BetaSchedule::Constant { value: 1.0 });
    check_order(
        "TR-BDF2",
        &tr,
        2,
        BetaSchedule::Linear { min: 0.2, max: 1.8 },
    );
}

#[test]
fn chain_reversal_adaptive_meets_its_tolerance() {
    let beta = BetaSchedule::Linear { min: 0.2, max: 1.8 };
    let loose = reversal_error(
        beta,
        &|_| IntegratorKind::Trbdf2Adaptive {
            rtol: 1e-5,
            atol: 1e-9,
        },
        1,
    );
    let tight = reversal_error(
        beta,
        &|_| IntegratorKind::Trbdf2Adaptive {
            rtol: 1e-9,
            atol: 1e-13,
        },
        1,
    );
    println!("adaptive TR-BDF2: rtol 1e-5 → {loose:.3e}, rtol 1e-9 → {tight:.3e}");
    assert!(tight < 1e-6, "rtol 1e-9 gives |p_T − q0|_1 = {tight:e}");
    assert!(
        tight < 1e-2 * loose,
        "tightening rtol by 1e4 gained only {loose:e} → {tight:e}"
    );
}

fn dummy_generator() -> Generator {
    let (part, _) = setup();
    Generator::new(
        &part,
        1.0,
        Flux::ChainReversal,
        Box::new(HeatDrive {
            beta: BetaSchedule::Constant { value: 1.0 },
            horizon: 1.0,
        }),
    )
}

#[test]
fn oracle_matches_integrated_heat_flow() {
    for beta in [
        BetaSchedule::Constant { value: 1.0 },
        BetaSchedule::Linear { min: 0.1, max: 3.0 },
    ] {
        let (part, q0) = setup();
        let mut oracle = ForwardOracle::new(&part, &q0, EPS, beta, T).unwrap();
        // the forward generator A: rate c = β(t)κ/h² with φ ≡ 0 under the chain-reversal flux
        let mut g = Generator::new(
            &part,
            EPS,
            Flux::ChainReversal,
            Box::new(HeatDrive { beta, horizon: T }),
        );
        let mut integ = IntegratorKind::Trbdf2Adaptive {
            rtol: 1e-11,
            atol: 1e-15,
        }
        .build(&g)
        .unwrap();
        let mut p = q0.clone();
        let mut q = vec![0.0; q0.len()];
        let mut t0 = 0.0;
        for k in 1..=4 {
            let t1 = T * k as f64 / 4.0;
            integ.advance(&mut g, &mut p, t0, t1).unwrap();
            oracle.q_at(t1, &mut q);
            let err = l1(&p, &q);
            assert!(
                err < 1e-8,
                "{beta:?}: |numerical − oracle|_1 = {err:e} at t = {t1}"
            );
            assert!(
                l1(&q, &q0) > 1e-2,
                "the flow must move the data for this check to mean anything"
            );
            t0 = t1;
        }
    }
}

#[test]
fn oracle_is_exact_on_a_single_mode() {
    // 1-D cosine mode on an nx × 1 grid with ε = 1: A v = λ v with λ = −(4/h²) sin²(πk/(2n))
    let grid = Grid::new(10, 1).unwrap();
    let part = Partition::tiles(grid, 1, 1).unwrap();
    let (n, k) = (10usize, 3usize);
    let h = grid.h();
    let v: Vec<f64> = (0..n)
        .map(|i| (std::f64::consts::PI * k as f64 * (i as f64 + 0.5) / n as f64).cos())
        .collect();
    let q0: Vec<f64> = v.iter().map(|x| 0.1 + 0.05 * x).collect();
    let beta = BetaSchedule::Constant { value: 1.0 };
    let mut oracle = ForwardOracle::new(&part, &q0, 1.0, beta, 1.0).unwrap();
    let lam = -(4.0 / (h * h))
        * (std::f64::consts::PI * k as f64 / (2.0 * n as f64))
            .sin()
            .powi(2);
    let t = 0.003;
    let mut q = vec![0.0; n];
    oracle.q_at(t, &mut q);
    for i in 0..n {
        let exact = 0.1 + 0.05 * v[i] * (lam * t).exp();
        assert!(
            (q[i] - exact).abs() < 1e-15,
            "cell {i}: {} vs {exact}",
            q[i]
        );
    }
}

#[test]
fn uniformization_is_exact_for_the_heat_flow() {
    let beta = BetaSchedule::Constant { value: 1.0 };
    let (part, q0) = setup();
    let mut oracle = ForwardOracle::new(&part, &q0, EPS, beta, T).unwrap();
    let mut g = Generator::new(
        &part,
        EPS,
        Flux::ChainReversal,
        Box::new(HeatDrive { beta, horizon: T }),
    );
    let mut integ = IntegratorKind::Uniformization { tol: 1e-14 }
        .build(&g)
        .unwrap();
    let mut p = q0.clone();
    let mut q = vec![0.0; q0.len()];
    // one long interval (several substeps of λ ≤ 400) and many short ones
    integ.advance(&mut g, &mut p, 0.0, 0.5 * T).unwrap();
    for k in 0..50 {
        let t0 = 0.5 * T + k as f64 * 0.01 * T;
        integ.advance(&mut g, &mut p, t0, t0 + 0.01 * T).unwrap();
    }
    oracle.q_at(T, &mut q);
    let err = l1(&p, &q);
    let mass: f64 = p.iter().sum();
    println!(
        "uniformization vs oracle: |p − q_T|_1 = {err:.3e}, mass − 1 = {:.1e}",
        mass - 1.0
    );
    assert!(err < 1e-12, "|uniformization − oracle|_1 = {err:e}");
    assert!((mass - 1.0).abs() < 1e-14 && p.iter().all(|&x| x >= 0.0));
    // a time-dependent generator is refused rather than integrated wrongly
    let lin = BetaSchedule::Linear { min: 0.5, max: 1.5 };
    let mut g2 = Generator::new(
        &part,
        EPS,
        Flux::ChainReversal,
        Box::new(HeatDrive {
            beta: lin,
            horizon: T,
        }),
    );
    let mut u2 = IntegratorKind::Uniformization { tol: 1e-14 }
        .build(&g2)
        .unwrap();
    assert!(u2.advance(&mut g2, &mut p, 0.0, T).is_err());
}

/// Label-image partitions take the numerical (uniformization) path of the oracle; on a label
/// image that is exactly the tiles, it agrees with the exact separable formula, with a linear β,
/// at several times; a genuinely non-rectangular label image conserves mass and stays ≥ 0.
#[test]
fn numerical_oracle_matches_the_separable_one_on_a_rectangular_label_image() {
    let (tiles, q0) = setup();
    let labels = Partition::from_labels(tiles.grid(), tiles.labels().to_vec()).unwrap();
    let beta = BetaSchedule::Linear { min: 0.5, max: 2.0 };
    let mut exact = ForwardOracle::new(&tiles, &q0, EPS, beta, T).unwrap();
    let mut numerical = ForwardOracle::new(&labels, &q0, EPS, beta, T).unwrap();
    assert!(exact.is_exact() && !numerical.is_exact());
    let (mut a, mut b) = (vec![0.0; q0.len()], vec![0.0; q0.len()]);
    let mut worst: f64 = 0.0;
    for t in [0.0, 1e-5, 3e-4, 0.002, T] {
        exact.q_at(t, &mut a);
        numerical.q_at(t, &mut b);
        let d = l1(&a, &b);
        println!("t = {t:.1e}: |q_exact − q_numerical|_1 = {d:.2e}");
        worst = worst.max(d);
        assert!((b.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        assert!(b.iter().all(|&x| x >= 0.0));
    }
    assert!(worst < 1e-14, "numerical oracle differs by {worst:.2e}");
    // and it has moved: the comparison is not trivially between two copies of q0
    exact.q_at(T, &mut a);
    assert!(l1(&a, &q0) > 1e-2);
    // an L-shaped, disconnected labelling: mass kept, entropy increasing
    let grid = tiles.grid();
    let odd: Vec<u32> = (0..grid.n())
        .map(|i| {
            let (ix, iy) = (i % grid.nx, i / grid.nx);
            u32::from(ix < 5 && iy < 7 || ix >= 12 && iy >= 9)
        })
        .collect();
    let part = Partition::from_labels(grid, odd).unwrap();
    let mut o = ForwardOracle::new(&part, &q0, 0.1, beta, T).unwrap();
    let (h0, h1) = (o.entropy_at(0.0), o.entropy_at(T));
    o.q_at(T, &mut b);
    assert!((b.iter().sum::<f64>() - 1.0).abs() < 1e-14 && b.iter().all(|&x| x >= 0.0));
    assert!(h1 > h0, "entropy {h0} → {h1}");
}

/// The numerical oracle's checkpoints: times asked in any order give the same bits, and a long
/// horizon (many checkpoint segments) still agrees with the exact formula.
#[test]
fn numerical_oracle_checkpoints_are_order_independent_and_accurate() {
    let (tiles, q0) = setup();
    let labels = Partition::from_labels(tiles.grid(), tiles.labels().to_vec()).unwrap();
    let beta = BetaSchedule::Constant { value: 1.0 };
    let horizon = 0.2; // S(T)·rate ≈ 240: several segments
    let times = [0.2, 0.013, 0.17, 1e-4, 0.05, 0.25];
    let mut exact = ForwardOracle::new(&tiles, &q0, EPS, beta, horizon).unwrap();
    let mut down = ForwardOracle::new(&labels, &q0, EPS, beta, horizon).unwrap();
    let (mut a, mut b, mut c) = (
        vec![0.0; q0.len()],
        vec![0.0; q0.len()],
        vec![0.0; q0.len()],
    );
    for &t in &times {
        let mut fresh = ForwardOracle::new(&labels, &q0, EPS, beta, horizon).unwrap();
        fresh.q_at(t, &mut a);
        down.q_at(t, &mut b);
        assert_eq!(a, b, "t = {t}: depends on earlier queries");
        exact.q_at(t, &mut c);
        let d = l1(&b, &c);
        assert!(d < 1e-13, "t = {t}: |numerical − exact|_1 = {d:.2e}");
    }
}
