//! Projection-time schedules (SPEC §6): endpoints, monotonicity, the defining property of each
//! schedule, and the equal-entropy fallback for data that do not move.

use cgkl::beta::BetaSchedule;
use cgkl::data::textured_checkerboard;
use cgkl::grid::Grid;
use cgkl::oracle::ForwardOracle;
use cgkl::partition::Partition;
use cgkl::schedule::{projection_times, ScheduleKind, ScheduleSpec};

const T: f64 = 0.02;

fn oracle(eps: f64, beta: BetaSchedule) -> ForwardOracle {
    let grid = Grid::new(16, 16).unwrap();
    let part = Partition::tiles(grid, 4, 4).unwrap();
    let q0 = textured_checkerboard(grid, 4, 4, 4.0, 0.5, 2).unwrap();
    ForwardOracle::new(&part, &q0, eps, beta, T).unwrap()
}

fn spec(kind: ScheduleKind, n: usize) -> ScheduleSpec {
    ScheduleSpec {
        kind,
        n_steps: n,
        sigma_min: 0.01,
        rho: 7.0,
    }
}

#[test]
fn every_schedule_runs_from_0_to_t_strictly_increasing() {
    for beta in [
        BetaSchedule::Constant { value: 1.0 },
        BetaSchedule::Linear { min: 0.1, max: 5.0 },
    ] {
        let mut o = oracle(1.0, beta);
        for kind in [
            ScheduleKind::Uniform,
            ScheduleKind::Geometric,
            ScheduleKind::Karras,
            ScheduleKind::EqualEntropy,
        ] {
            for n in [1, 2, 7, 40] {
                let (s, w) = projection_times(&spec(kind, n), T, &beta, &mut o).unwrap();
                assert!(w.is_none(), "{kind:?}: unexpected warning {w:?}");
                assert_eq!(s.len(), n + 1);
                assert_eq!((s[0], s[n]), (0.0, T), "{kind:?} N={n}");
                assert!(s.windows(2).all(|w| w[1] > w[0]), "{kind:?} N={n}: {s:?}");
            }
        }
    }
}

#[test]
fn sigma_schedules_place_their_noise_levels() {
    let beta = BetaSchedule::Linear { min: 0.1, max: 5.0 };
    let mut o = oracle(1.0, beta);
    let sigma = |s: f64| (2.0 * beta.integral(T - s, T)).sqrt();
    let n = 10;
    let (s, _) = projection_times(&spec(ScheduleKind::Geometric, n), T, &beta, &mut o).unwrap();
    // σ_n geometric from σ_max to σ_min over n = 0..N−1: constant ratio
    let r: Vec<f64> = (0..n - 1).map(|k| sigma(s[k + 1]) / sigma(s[k])).collect();
    assert!(r.iter().all(|x| (x - r[0]).abs() < 1e-9), "{r:?}");
    assert!((sigma(s[n - 1]) - 0.01).abs() < 1e-12);
    let (s, _) = projection_times(&spec(ScheduleKind::Karras, n), T, &beta, &mut o).unwrap();
    // σ_n^{1/ρ} is linear in n
    let z: Vec<f64> = (0..n).map(|k| sigma(s[k]).powf(1.0 / 7.0)).collect();
    let d: Vec<f64> = z.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(d.iter().all(|x| (x - d[0]).abs() < 1e-9), "{d:?}");
    assert!(projection_times(
        &ScheduleSpec {
            sigma_min: 10.0,
            ..spec(ScheduleKind::Karras, n)
        },
        T,
        &beta,
        &mut o
    )
    .is_err());
}

#[test]
fn equal_entropy_schedule_has_equal_entropy_increments() {
    let beta = BetaSchedule::Constant { value: 1.0 };
    let mut o = oracle(0.5, beta);
    let n = 8;
    let (s, _) = projection_times(&spec(ScheduleKind::EqualEntropy, n), T, &beta, &mut o).unwrap();
    let h: Vec<f64> = s.iter().map(|&si| o.entropy_at(T - si)).collect();
    let dh: Vec<f64> = h.windows(2).map(|w| w[0] - w[1]).collect();
    let mean = (h[0] - h[n]) / n as f64;
    assert!(mean > 0.0);
    assert!(
        dh.iter().all(|x| (x - mean).abs() < 1e-9 * h[0].abs()),
        "{dh:?}"
    );
    // and it differs from uniform (entropy is not linear in t)
    let (u, _) = projection_times(&spec(ScheduleKind::Uniform, n), T, &beta, &mut o).unwrap();
    assert!(s.iter().zip(&u).any(|(a, b)| (a - b).abs() > 1e-4 * T));
}

#[test]
fn equal_entropy_falls_back_to_uniform_for_frozen_data() {
    // block-constant data with ε_fwd = 0 do not move: H(q_T) = H(q0)
    let grid = Grid::new(16, 16).unwrap();
    let part = Partition::tiles(grid, 4, 4).unwrap();
    let q0 = cgkl::data::checkerboard(grid, 4, 4, 4.0).unwrap();
    let beta = BetaSchedule::Constant { value: 1.0 };
    let mut o = ForwardOracle::new(&part, &q0, 0.0, beta, T).unwrap();
    let (s, w) = projection_times(&spec(ScheduleKind::EqualEntropy, 5), T, &beta, &mut o).unwrap();
    assert!(w.unwrap().contains("uniform"));
    let (u, _) = projection_times(&spec(ScheduleKind::Uniform, 5), T, &beta, &mut o).unwrap();
    assert_eq!(s, u);
}
