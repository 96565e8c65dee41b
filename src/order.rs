//! Observed convergence order: the least-squares slope of `ln err` against `ln Δt`.

/// Least-squares slope of `ln y` against `ln x` over the pairs with finite positive values;
/// NaN if fewer than two remain.
pub fn observed_order(x: &[f64], y: &[f64]) -> f64 {
    let pts: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite() && **a > 0.0 && **b > 0.0)
        .map(|(a, b)| (a.ln(), b.ln()))
        .collect();
    if pts.len() < 2 {
        return f64::NAN;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        f64::NAN
    } else {
        sxy / sxx
    }
}

/// Pairwise orders `ln(e_k/e_{k+1}) / ln(Δt_k/Δt_{k+1})` (the EOC column of a convergence table).
pub fn pairwise_orders(x: &[f64], y: &[f64]) -> Vec<f64> {
    x.windows(2)
        .zip(y.windows(2))
        .map(|(a, b)| (b[0] / b[1]).ln() / (a[0] / a[1]).ln())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_power_law() {
        let x = [0.1, 0.05, 0.025, 0.0125];
        let y: Vec<f64> = x.iter().map(|h: &f64| 3.0 * h.powi(2)).collect();
        assert!((observed_order(&x, &y) - 2.0).abs() < 1e-12);
        assert!(pairwise_orders(&x, &y)
            .iter()
            .all(|o| (o - 2.0).abs() < 1e-12));
        assert!(observed_order(&[1.0], &[1.0]).is_nan());
    }
}
