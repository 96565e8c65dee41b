//! The paper's regime (SPEC §8 paper_toy: checkerboard data, ε_fwd = ε_score = 0, ε_rev = 0.05,
//! noise start, N = 40, δ = 0.01, L = 128): the projected run keeps E_inf ≤ δ after every step,
//! the baseline exceeds δ; the Lyapunov violation is computed for both. Reference values from an
//! independent implementation (SPEC §8, seeds 0–2): baseline E_inf ≈ 0.039 at s = 0 and
//! 0.018–0.019 at s = T; MSE ≈ 0.011 projected vs 0.020 baseline.

use cgkl::config::Config;
use cgkl::problem::Projection;

#[test]
fn projected_run_keeps_block_masses_in_tolerance_and_baseline_does_not() {
    for seed in 0..3u64 {
        let mut c = Config::default();
        if let cgkl::config::StartConfig::Noise { seed: s, .. } = &mut c.start {
            *s = seed;
        }
        let pb = c.validate().unwrap();
        let delta = c.projection.delta;
        let proj = pb.run(Projection::Projected).unwrap();
        let base = pb.run(Projection::Baseline).unwrap();
        let (rp, rb) = (&proj.output.records, &base.output.records);
        assert_eq!(rp.len(), 41);
        for r in &rp[1..] {
            assert!(
                r.e_inf <= delta + 1e-14,
                "seed {seed}: projected E_inf {} at s = {}",
                r.e_inf,
                r.s
            );
            assert!(r.e_block <= 16.0 * delta + 1e-14);
            assert!(r.min_p >= 0.0 && (r.mass - 1.0).abs() < 1e-12);
        }
        let worst_base = rb[1..].iter().map(|r| r.e_inf).fold(0.0, f64::max);
        assert!(
            worst_base > delta,
            "seed {seed}: baseline never leaves the box ({worst_base})"
        );
        let (b0, bt) = (rb[0].e_inf, rb[40].e_inf);
        println!(
            "seed {seed}: baseline E_inf {b0:.4} → {bt:.4}; MSE projected {:.4} baseline {:.4}; Lyapunov violation projected {:.3e} baseline {:.3e}",
            rp[40].mse, rb[40].mse, proj.lyapunov_violation, base.lyapunov_violation
        );
        assert!((b0 - 0.039).abs() < 0.004, "baseline E_inf at s = 0: {b0}");
        assert!(
            (0.016..0.021).contains(&bt),
            "baseline E_inf at s = T: {bt}"
        );
        assert!(
            (rp[40].mse - 0.011).abs() < 0.0015,
            "projected MSE {}",
            rp[40].mse
        );
        assert!(
            (rb[40].mse - 0.020).abs() < 0.0025,
            "baseline MSE {}",
            rb[40].mse
        );
        assert!(proj.lyapunov_violation.is_finite() && base.lyapunov_violation.is_finite());
        assert!(proj.lyapunov_violation >= 0.0 && base.lyapunov_violation >= 0.0);
    }
}
