//! The Bernoulli function `B(z) = z/(eᶻ − 1)`, `B(0) = 1`, evaluated stably for all z.
//!
//! Regimes: |z| < 1e-4: Taylor `1 − z/2 + z²/12 − z⁴/720`; otherwise `z / expm1(z)` (accurate
//! to a few ulp: expm1 has no cancellation), which tends to 0 for z → +∞ (expm1 overflows to ∞)
//! and to −z for z → −∞ (expm1 → −1). Identity: `B(−z) = B(z) + z`.

/// Stable Bernoulli function `B(z) = z/(eᶻ − 1)`.
pub fn bernoulli(z: f64) -> f64 {
    if z.abs() < 1e-4 {
        let z2 = z * z;
        1.0 - 0.5 * z + z2 / 12.0 - z2 * z2 / 720.0
    } else {
        z / z.exp_m1()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetry_identity_and_limits() {
        for i in -2000..=2000 {
            let z = i as f64 * 0.05 + 1e-3 * (i as f64).sin();
            let lhs = bernoulli(-z);
            let rhs = bernoulli(z) + z;
            assert!(
                (lhs - rhs).abs() <= 1e-14 * lhs.abs().max(1.0),
                "z = {z}: {lhs} vs {rhs}"
            );
        }
        assert_eq!(bernoulli(0.0), 1.0);
        assert_eq!(bernoulli(800.0), 0.0);
        assert_eq!(bernoulli(-800.0), 800.0);
        // across the regime switch at 1e-4 the two formulas agree to round-off
        let (a, b) = (bernoulli(0.99999e-4), bernoulli(1.00001e-4));
        assert!((a - b).abs() < 1e-9 && a > b);
    }

    #[test]
    fn matches_high_precision_values() {
        // B(1) = 1/(e−1), B(−1) = e/(e−1), B(1e-6) = 1 − 5e-7 + 1e-12/12
        let e = std::f64::consts::E;
        assert!((bernoulli(1.0) - 1.0 / (e - 1.0)).abs() < 1e-16);
        assert!((bernoulli(-1.0) - e / (e - 1.0)).abs() < 2e-16);
        assert!((bernoulli(1e-6) - (1.0 - 5e-7 + 1e-12 / 12.0)).abs() < 1e-16);
        assert!((bernoulli(50.0) - 50.0 * (-50f64).exp()).abs() < 1e-30);
    }
}
