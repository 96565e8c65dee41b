//! Chebyshev expansion of the exponential (Tal-Ezer & Kosloff 1984; Bergamaschi & Vianello
//! 2000) for a time-independent reversible generator, matrix-free on the 5-point stencil:
//!
//! ```text
//! exp(τG) = e^{−c} e^{cS} = Σ_{k≥0} a_k T_k(S),   S = I + G/Λ,   c = τΛ,   Λ = max_i |G_ii|,
//! a_0 = e^{−c} I_0(c),   a_k = 2 e^{−c} I_k(c)   (k ≥ 1; I_k the modified Bessel functions)
//! ```
//! For a reversible G the spectrum of S is real and lies in [−1, 1] (Gershgorin on the columns),
//! where |T_k| ≤ 1. The a_k are positive and sum to 1 (the series at S = 1). The truncation after
//! degree m is renormalised, `P_m = Σ_{k≤m} a_k T_k / Σ_{k≤m} a_k`, so `P_m(S)` conserves mass
//! (1ᵀS = 1ᵀ; in floating point the mass drifts by ≈ 4·10⁻¹⁸ c, see [`roundoff`]), and with
//! the tail `t_m = Σ_{k>m} a_k` its uniform error on [−1, 1] is
//!
//! ```text
//! max |P_m(s) − e^{c(s−1)}| ≤ ε_m = 2 t_m / (1 − t_m).
//! ```
//! As for [`super::RationalExp`], the L1 error is then at most `ε · χ(p)`, `χ(p)² = Σ p_i²/π_i`,
//! with `ε = ε_m + r(c)` and r(c) the round-off allowance of [`roundoff`].
//! The degree needed grows like `√(2c ln(1/ε))`, against ≈ c products for uniformization (the
//! Taylor series of the same `e^{cS}`): a stiff generator costs the square root. Each degree is
//! one product with G in the three-term recurrence `T_{k+1}(S)p = 2S T_k(S)p − T_{k−1}(S)p`,
//! fused with the update of the sum, row by row in parallel (bit-identical on any thread count).
//! The result is not sign-preserving in general (a polynomial); its negative part is at most
//! the error bound.

use super::{Integrator, RationalExp, StepStats};
use crate::error::{CgklError, Result};
use crate::generator::Generator;
use crate::stencil::{band_rows, parallel, FivePoint};
use rayon::prelude::*;

/// Smallest uniform tolerance at any c (twice [`roundoff`] at c = 0).
pub const MIN_TOL: f64 = 1e-13;

/// Largest c = τΛ of one interval in a run (config kind `chebyshev`): the mass drifts by
/// ≈ 4·10⁻¹⁸·c ([`roundoff`]), within the splitting's mass tolerance of 10⁻¹² up to here.
pub const MAX_CHEBYSHEV_C: f64 = 2e5;

/// Below this c, `P_0 = 1` with `ε = 2c` (|1 − e^{c(s−1)}| ≤ 2c), and Miller's recurrence, whose
/// growth factor 2k/c would overflow, is not run.
const TINY_C: f64 = 1e-30;

/// Bound on the coefficients beyond the recurrence's start (each `< 10⁻²⁰`, falling faster than
/// geometrically), counted in every tail.
const BEYOND_TOP: f64 = 1e-18;

/// Round-off allowance r(c) in the uniform error of the recurrence: `5·10⁻¹⁴ + 10⁻¹⁷·c`. The
/// mass drift of `P_m(S)p` measured at equilibrium grows like ≈ 3–4·10⁻¹⁸·c (the degree grows
/// like √c and each step's error is amplified by the recurrence up to ~m); the bound carries 2.5×
/// that, and a tolerance below 2r(c) is refused.
pub fn roundoff(c: f64) -> f64 {
    5e-14 + 1e-17 * c
}

/// `exp(τG)p` by a Chebyshev expansion with uniform error at most `tol` on the spectrum.
pub struct ChebyshevExp {
    tol: f64,
    /// An L1 tolerance per [`Integrator::advance`]: each interval uses `tol = l1 / χ(p)`.
    l1: Option<f64>,
    w: Vec<f64>,
    w_old: Vec<f64>,
    /// one row of G·src per parallel band
    rows: Vec<f64>,
    last: (usize, f64),
}

impl ChebyshevExp {
    /// Uniform error `tol` in [[`MIN_TOL`], 1) (so L1 error ≤ `tol · χ(p)`), for n cells.
    pub fn new(n: usize, tol: f64) -> Result<Self> {
        if !(MIN_TOL..1.0).contains(&tol) {
            return Err(CgklError::config(
                "tol",
                tol,
                format!("the Chebyshev tolerance must lie in [{MIN_TOL:e}, 1) (round-off)"),
            ));
        }
        Ok(Self {
            tol,
            l1: None,
            w: vec![0.0; n],
            w_old: vec![0.0; n],
            rows: Vec::new(),
            last: (0, 0.0),
        })
    }

    /// For [`Integrator::advance`] (config kind `chebyshev`): L1 error at most `tol` on every
    /// interval, i.e. the uniform tolerance `tol / χ(p)` with χ(p) of the interval's start
    /// (`χ ≥ 1` for unit mass, so the uniform tolerance is at most `tol`); `tol` in
    /// [[`MIN_TOL`], 1). [`Self::apply_exp`] uses the uniform tolerance last set.
    pub fn with_l1_tolerance(n: usize, tol: f64) -> Result<Self> {
        Ok(Self {
            l1: Some(tol),
            ..Self::new(n, tol)?
        })
    }

    /// The renormalised coefficients `a_k / Σ_{j≤m} a_j`, k = 0…m, of the smallest degree m whose
    /// bound `ε_m = 2t_m/(1 − t_m)` is at most `tol`, and that ε_m. `e^{−c} I_k(c)` comes from
    /// Miller's backward recurrence `I_{k−1} = (2k/c) I_k + I_{k+1}`, started where
    /// `e^{−c}I_k(c) < 10⁻²⁰` (the terms beyond count as 10⁻¹⁸ in every tail) and normalised by
    /// `I_0 + 2Σ I_k = e^c`. Below c = 10⁻³⁰ (c = 0: no motion) the identity, with ε = 2c; c must
    /// be finite and ≥ 0. Round-off is not included (see [`roundoff`]).
    pub fn series(c: f64, tol: f64) -> (Vec<f64>, f64) {
        assert!(
            c.is_finite() && c >= 0.0,
            "c = τΛ must be finite and ≥ 0, not {c}"
        );
        if c < TINY_C {
            return (vec![1.0], 2.0 * c);
        }
        // e^{−c}I_k(c) ≈ e^{−k²/2c} for k ≪ c and falls faster beyond: 10√c + 30 reaches 1e-20
        let top = (10.0 * c.sqrt() + 30.0).ceil() as usize;
        let mut v = vec![0.0; top + 2];
        v[top] = 1e-280;
        for k in (1..=top).rev() {
            v[k - 1] = (2.0 * k as f64 / c) * v[k] + v[k + 1];
            if v[k - 1] > 1e200 {
                v[k - 1..].iter_mut().for_each(|x| *x *= 1e-200);
            }
        }
        let total = v[0] + 2.0 * v[1..].iter().sum::<f64>();
        let a: Vec<f64> = (0..=top)
            .map(|k| if k == 0 { 1.0 } else { 2.0 } * v[k] / total)
            .collect();
        // tails t_m = Σ_{k>m} a_k, summed from the small end
        let mut tail = BEYOND_TOP;
        let mut m = top;
        while m > 0 {
            let next = tail + a[m];
            if 2.0 * next / (1.0 - next) > tol {
                break;
            }
            tail = next;
            m -= 1;
        }
        let kept: f64 = a[..=m].iter().sum();
        let eps = 2.0 * tail / (1.0 - tail);
        (a[..=m].iter().map(|x| x / kept).collect(), eps)
    }

    /// Sets the uniform tolerance of the next [`Self::apply_exp`] (in [[`MIN_TOL`], 1): the
    /// caller checks it).
    pub(crate) fn set_uniform_tolerance(&mut self, tol: f64) {
        debug_assert!((MIN_TOL..1.0).contains(&tol));
        self.tol = tol;
    }

    /// The degree m and the uniform bound `ε = ε_m + r(c)` of the last [`Self::apply_exp`].
    pub fn last_degree_and_bound(&self) -> (usize, f64) {
        self.last
    }

    /// `p ← P_m(S) p ≈ exp(τG) p` for the generator `g` (m products with G), with uniform error
    /// `ε_m + r(c) ≤ tol`; refuses a tol below `2r(c)`, `c = τΛ` ([`roundoff`]).
    pub fn apply_exp(&mut self, g: &FivePoint, p: &mut [f64], tau: f64) -> Result<StepStats> {
        let lambda = g.max_exit_rate();
        let c = tau * lambda;
        if !(c.is_finite() && c >= 0.0) {
            return Err(CgklError::config(
                "tau",
                tau,
                format!("τΛ must be finite and ≥ 0 (Λ = {lambda:e}): the expansion runs forward"),
            ));
        }
        let r = roundoff(c);
        if self.tol < 2.0 * r {
            return Err(CgklError::config(
                "tol",
                self.tol,
                format!(
                    "is below the Chebyshev expansion's round-off at c = τΛ = {c:.3e} (2r(c) = \
                     {:.1e}); use uniformization",
                    2.0 * r
                ),
            ));
        }
        let (a, eps) = Self::series(c, self.tol - r);
        let m = a.len() - 1;
        self.last = (m, eps + r);
        if m == 0 {
            return Ok(StepStats::default());
        }
        let inv = 1.0 / lambda;
        let grid = g.grid();
        let par = parallel(g.n());
        let band = if par { band_rows(grid.nx) } else { grid.ny };
        self.rows.resize(grid.ny.div_ceil(band) * grid.nx, 0.0);
        let (w, w_old, rows) = (&mut self.w, &mut self.w_old, &mut self.rows);
        let mut recurrence = || {
            // T_0 p = p (kept in w_old), T_1 p = S p (into w); p accumulates the sum; w is
            // cleared so that nothing of an earlier call (0·NaN) leaks into the first step
            w_old.copy_from_slice(p);
            w.iter_mut().for_each(|x| *x = 0.0);
            chebyshev_step(g, par, band, w_old, w, p, rows, inv, [1.0, 0.0, a[0], a[1]]);
            for &ak in &a[2..] {
                // T_{k+1} p = 2S T_k p − T_{k−1} p, written over T_{k−1} p
                chebyshev_step(g, par, band, w, w_old, p, rows, inv, [2.0, 1.0, 1.0, ak]);
                std::mem::swap(w, w_old);
            }
        };
        if par {
            // on a pool thread, so that the m parallel steps are not each injected from outside
            // the pool (a sleeping caller woken per step costs ~30 µs)
            rayon::scope(|_| recurrence());
        } else {
            recurrence();
        }
        Ok(StepStats {
            steps: m,
            ..StepStats::default()
        })
    }
}

/// One fused recurrence step on every cell, bands of `band` rows (in parallel if `par`):
/// `s = src + (G src)/Λ`, `dst ← α s − β dst`, `acc ← γ acc + a·dst`, with `[α, β, γ, a]`;
/// `rows` holds one grid row of scratch per band.
#[allow(clippy::too_many_arguments)]
fn chebyshev_step(
    g: &FivePoint,
    par: bool,
    band: usize,
    src: &[f64],
    dst: &mut [f64],
    acc: &mut [f64],
    rows: &mut [f64],
    inv_lambda: f64,
    [alpha, beta, gamma, a]: [f64; 4],
) {
    let (nx, ny) = (g.grid().nx, g.grid().ny);
    let update = move |d: &mut f64, y: &mut f64, x: f64, gx: f64| {
        let s = x + gx * inv_lambda;
        *d = alpha * s - beta * *d;
        *y = gamma * *y + a * *d;
    };
    type Band<'a> = (usize, ((&'a mut [f64], &'a mut [f64]), &'a mut [f64]));
    let step = |(b, ((dst, acc), gs)): Band| {
        // a thread that ran faer before leaves the upper register state dirty (simd_state)
        crate::simd_state::clear_upper_state();
        let (r0, c0) = (b * band, b * band * nx);
        let r1 = r0 + dst.len() / nx;
        // the outer rows with the bounds-checked row product, the interior rows of the band
        // (all four neighbours inside the grid) in one fused pass over their cells
        for iy in (r0..r1).filter(|&iy| iy == 0 || iy + 1 == ny) {
            g.row_product(src, iy, gs);
            let r = iy * nx - c0..(iy + 1) * nx - c0;
            let row = &src[iy * nx..(iy + 1) * nx];
            for (((d, y), &x), &gx) in dst[r.clone()]
                .iter_mut()
                .zip(&mut acc[r])
                .zip(row)
                .zip(gs.iter())
            {
                update(d, y, x, gx);
            }
        }
        let (i0, i1) = (r0.max(1) * nx, r1.min(ny.saturating_sub(1)) * nx);
        if i0 < i1 {
            let [out, east, west, north, south] = g.rates();
            let (x, xw, xe) = (&src[i0..i1], &src[i0 - 1..i1 - 1], &src[i0 + 1..i1 + 1]);
            let (xs, xn) = (&src[i0 - nx..i1 - nx], &src[i0 + nx..i1 + nx]);
            let (out, east, west) = (&out[i0..i1], &east[i0 - 1..i1 - 1], &west[i0..i1]);
            let (north, south) = (&north[i0 - nx..i1 - nx], &south[i0..i1]);
            let (d, y) = (&mut dst[i0 - c0..i1 - c0], &mut acc[i0 - c0..i1 - c0]);
            let cells = d.iter_mut().zip(y).zip(x).zip(xw).zip(xe).zip(xs).zip(xn);
            let rates = out.iter().zip(east).zip(west).zip(north).zip(south);
            for (((((((d, y), &x), &xw), &xe), &xs), &xn), ((((&o, &e), &w), &n), &s)) in
                cells.zip(rates)
            {
                // the order of FivePoint::row_product
                let gx = -o * x + e * xw + w * xe + n * xs + s * xn;
                update(d, y, x, gx);
            }
        }
    };
    let chunk = band * nx;
    if par {
        let it = dst.par_chunks_mut(chunk).zip(acc.par_chunks_mut(chunk));
        it.zip(rows.par_chunks_mut(nx)).enumerate().for_each(step);
    } else {
        let it = dst.chunks_mut(chunk).zip(acc.chunks_mut(chunk));
        it.zip(rows.chunks_mut(nx)).enumerate().for_each(step);
    }
}

impl Integrator for ChebyshevExp {
    fn order(&self) -> u32 {
        // not a time-stepping order: the error is bounded uniformly by ε_m χ(p)
        0
    }

    fn name(&self) -> &'static str {
        "chebyshev"
    }

    fn advance(&mut self, g: &mut Generator, p: &mut [f64], s0: f64, s1: f64) -> Result<StepStats> {
        super::refresh_static(g, s0, "chebyshev")?;
        let kind = super::IntegratorKind::Chebyshev { tol: self.tol };
        kind.check_generator(g)?;
        // the generator's own stencil view, borrowed (no copy)
        let st = g.stencil();
        if let Some(l1) = self.l1 {
            let chi = RationalExp::chi(g, p).ok_or_else(|| {
                CgklError::config(
                    "flow.integrator.kind",
                    "chebyshev",
                    "χ(p) of the state is not finite (an equilibrium weight underflows); use \
                     trbdf2_adaptive",
                )
            })?;
            let c = (s1 - s0) * st.max_exit_rate();
            let reach = 2.0 * roundoff(c);
            if c.is_finite() && l1 / chi < reach {
                return Err(CgklError::config(
                    "flow.integrator.tol",
                    l1,
                    format!(
                        "is below the Chebyshev expansion's round-off on this interval (τΛ = \
                         {c:.2e}, χ(p) = {chi:.3}: at least {:.1e}); raise it or use \
                         uniformization",
                        reach * chi
                    ),
                ));
            }
            self.tol = l1 / chi;
        }
        self.apply_exp(st, p, s1 - s0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flux::Flux;
    use crate::grid::Grid;
    use crate::integrator::Uniformization;
    use crate::partition::Partition;
    use crate::score::PotentialDrive;

    fn generator(nx: usize, ny: usize, flux: Flux, eps: f64, time_dependent: bool) -> Generator {
        let grid = Grid::new(nx, ny).unwrap();
        let part = Partition::tiles(grid, 2, 1).unwrap();
        let drive = PotentialDrive::new(
            grid,
            Box::new(|x, y, s| 2.0 * (3.0 * x - y * y).sin() + s),
            0.05,
            time_dependent,
        );
        Generator::new(&part, eps, flux, Box::new(drive))
    }

    /// At the equilibrium π (exp(τG)π = π exactly, χ(π) = 1) and the smallest tolerance allowed,
    /// 2r(c), the bound ε_m + r(c) holds up to c = 10⁶, where round-off, not truncation, is the
    /// error; a tolerance just below 2r(c) is refused; a NaN left by an earlier call does not
    /// leak into the next; tiny c gives the identity with ε = 2c.
    #[test]
    fn the_bound_covers_round_off_at_large_c() {
        let mut g = generator(8, 8, Flux::PotentialSg, 1.0, false);
        g.refresh(0.0).unwrap();
        let st = g.stencil().clone();
        let w: Vec<f64> = g.phi().iter().map(|x| x.exp()).collect();
        let z: f64 = w.iter().sum();
        let pi: Vec<f64> = w.iter().map(|x| x / z).collect();
        for c in [1e2, 1e4, 1e5, 1e6] {
            let tau = c / st.max_exit_rate();
            let tol = 2.0 * roundoff(c) * (1.0 + 1e-12);
            let mut p = pi.clone();
            let mut e = ChebyshevExp::new(64, tol).unwrap();
            e.apply_exp(&st, &mut p, tau).unwrap();
            let (m, eps) = e.last_degree_and_bound();
            let err: f64 = p.iter().zip(&pi).map(|(a, b)| (a - b).abs()).sum();
            assert!(
                eps <= tol && err <= eps,
                "c {c:e}: m {m}, error {err:.2e} > {eps:.2e}"
            );
            let mut low = ChebyshevExp::new(64, tol * 0.99).unwrap();
            assert!(low.apply_exp(&st, &mut p, tau).is_err(), "c {c:e}");
        }
        let mut e = ChebyshevExp::new(64, 1e-6).unwrap();
        let mut bad = vec![f64::NAN; 64];
        e.apply_exp(&st, &mut bad, 0.01).unwrap();
        let mut p = pi.clone();
        e.apply_exp(&st, &mut p, 0.01).unwrap();
        assert!(p.iter().all(|x| x.is_finite()));
        assert!(e.apply_exp(&st, &mut p, -0.01).is_err());
        for c in [1e-300, 1e-112, 1e-40] {
            assert_eq!(ChebyshevExp::series(c, 1e-3), (vec![1.0], 2.0 * c));
        }
    }

    /// As an [`Integrator`] on a generator with blocks (ε < 1) and both reversible fluxes: within
    /// ε_m χ(p) of uniformization in L1, mass to round-off; refuses upwind and a moving G.
    #[test]
    fn integrator_meets_the_bound_against_uniformization() {
        for flux in [Flux::PotentialSg, Flux::ChainReversal] {
            let mut g = generator(30, 18, flux, 0.2, false);
            let n = g.n();
            let p0: Vec<f64> = (0..n).map(|i| 1.0 + (i as f64).sin().powi(2)).collect();
            let total: f64 = p0.iter().sum();
            let p0: Vec<f64> = p0.iter().map(|x| x / total).collect();
            let mut exact = p0.clone();
            g.refresh(0.0).unwrap();
            Uniformization::new(n, 1e-15).apply_exp(&g, &mut exact, 0.4);
            let chi = crate::integrator::RationalExp::chi(&g, &p0).unwrap();
            for tol in [1e-3, 1e-7] {
                let mut c = ChebyshevExp::new(n, tol).unwrap();
                let mut p = p0.clone();
                let stats = c.advance(&mut g, &mut p, 0.0, 0.4).unwrap();
                let (m, eps) = c.last_degree_and_bound();
                assert!(eps <= tol && stats.steps == m && m > 3);
                let err: f64 = p.iter().zip(&exact).map(|(a, b)| (a - b).abs()).sum();
                assert!(
                    err <= eps * chi,
                    "{flux:?} tol {tol:e}: {err:.2e} > {:.2e}",
                    eps * chi
                );
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-14);
            }
        }
        let mut up = generator(8, 8, Flux::Upwind, 1.0, false);
        let mut p = vec![1.0 / 64.0; 64];
        assert!(ChebyshevExp::new(64, 1e-3)
            .unwrap()
            .advance(&mut up, &mut p, 0.0, 0.1)
            .is_err());
        let mut moving = generator(8, 8, Flux::PotentialSg, 1.0, true);
        assert!(ChebyshevExp::new(64, 1e-3)
            .unwrap()
            .advance(&mut moving, &mut p, 0.0, 0.1)
            .is_err());
        assert!(ChebyshevExp::new(64, 1e-14).is_err() && ChebyshevExp::new(64, 1.0).is_err());
    }

    /// e^{−c}I_k(c) against reference values, the series' identities (Σa = 1 before truncation;
    /// at s = −1 it gives e^{−2c}), and the bound ε_m is met, sharp and minimal.
    #[test]
    fn coefficients_are_the_scaled_bessel_values() {
        // e^{-1} I_0(1), e^{-1} I_1(1) (Abramowitz & Stegun table 9.8)
        let (a, eps) = ChebyshevExp::series(1.0, 1e-17);
        assert!(eps <= 1e-17);
        assert!((a[0] - 0.465_759_607_593_640_4).abs() < 1e-15, "{}", a[0]);
        assert!((a[1] / 2.0 - 0.207_910_415_349_708_1).abs() < 1e-15);
        // e^{-c}I_0(c) ~ (2πc)^{-1/2} Σ_j ((2j−1)!!)²/(j! (8c)^j) for large c (A&S 9.7.1)
        let c = 400.0_f64;
        let (a, _) = ChebyshevExp::series(c, 1e-16);
        let asym = (1.0
            + 1.0 / (8.0 * c)
            + 9.0 / (128.0 * c.powi(2))
            + 225.0 / (3072.0 * c.powi(3))
            + 11025.0 / (98304.0 * c.powi(4)))
            / (2.0 * std::f64::consts::PI * c).sqrt();
        assert!((a[0] - asym).abs() < 1e-12 * asym, "{} vs {asym}", a[0]);
        for c in [0.3, 7.0, 150.0, 4000.0, 60000.0] {
            for tol in [1e-3, 1e-8] {
                let (a, eps) = ChebyshevExp::series(c, tol);
                assert!(eps <= tol && eps > 0.0);
                assert!((a.iter().sum::<f64>() - 1.0).abs() < 1e-14);
                assert!(a.iter().all(|&x| x > 0.0));
                // measured uniform error on [−1, 1]: within the bound, and the bound is not loose
                let m = a.len() - 1;
                let worst = (0..=4000)
                    .map(|j| {
                        let s = (std::f64::consts::PI * j as f64 / 4000.0).cos();
                        let p: f64 = a
                            .iter()
                            .enumerate()
                            .map(|(k, ak)| ak * (k as f64 * s.acos()).cos())
                            .sum();
                        (p - (c * (s - 1.0)).exp()).abs()
                    })
                    .fold(0.0, f64::max);
                assert!(worst <= eps, "c {c} tol {tol}: {worst:.2e} > {eps:.2e}");
                assert!(
                    worst >= eps / 10.0,
                    "c {c} tol {tol}: {worst:.2e} ≪ {eps:.2e}"
                );
                // minimal: the bound of degree m − 1, from the full series, misses tol
                let (full, _) = ChebyshevExp::series(c, 1e-30);
                let t: f64 = full[m..].iter().sum();
                assert!(
                    2.0 * t / (1.0 - t) > tol,
                    "c {c} tol {tol}: degree {m} not minimal"
                );
            }
        }
        // the untruncated series at s = −1 is e^{−2c}
        let c = 30.0_f64;
        let (a, _) = ChebyshevExp::series(c, 1e-30);
        let at_minus_one: f64 = a
            .iter()
            .enumerate()
            .map(|(k, x)| if k % 2 == 0 { *x } else { -x })
            .sum();
        assert!((at_minus_one - (-2.0 * c).exp()).abs() < 1e-15);
        assert_eq!(ChebyshevExp::series(0.0, 1e-3), (vec![1.0], 0.0));
    }
}
