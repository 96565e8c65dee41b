//! Rational exponential with one repeated real pole (a "restricted-denominator" rational
//! approximation, Nørsett 1975; Moret & Novati 2004) for a time-independent generator:
//!
//! ```text
//! exp(τG) p ≈ r_m(τG) p = Σ_{k=1..m} c_k (I − aτG)^{−k} p,   Σ c_k = 1
//! ```
//! `r_m(−x) = Σ c_k (1 + a x)^{−k}` is the best uniform approximation of `e^{−x}` on `[0, ∞)` of
//! this form with `r_m(0) = 1` (mass conservation) and `r_m(∞) = 0` (stiff modes are damped as by
//! the exact flow); `a` and `c_k` for m = 1…12 are tabulated below from a minimax fit
//! (`data/make_rational_table.py`), with `ε_m = max_{x≥0} |e^{−x} − r_m(−x)|`, checked on a dense
//! grid by the unit tests. The cost is **one** sparse factorisation of `I − aτG` and m solves.
//!
//! **A-priori error bound.** For a reversible G (`G = D S D⁻¹`, S symmetric negative
//! semi-definite, `D = diag(√π)`, π the normalised equilibrium) the error of `r_m(τG) p` in
//! the weighted norm `‖v‖_π = (Σ v_i²/π_i)^{1/2}` is at most `ε_m ‖p‖_π`, and `‖v‖₁ ≤ ‖v‖_π`
//! (Cauchy–Schwarz with Σπ = 1), so
//!
//! ```text
//! ‖exp(τG)p − r_m(τG)p‖₁ ≤ ε_m · χ(p),   χ(p) = (Σ_i p_i²/π_i)^{1/2}   (independent of τ)
//! ```
//! [`RationalExp::degree_for`] picks the smallest m meeting a requested L1 tolerance. The bound
//! is uniform over the spectrum, so splitting τ into substeps does not lower it (it adds up).

use super::{Integrator, StepStats};
use crate::error::{CgklError, Result};
use crate::generator::Generator;
use crate::linsolve::{LinearSolver, Solver};
use crate::multigrid::Tolerance;

/// `(a, ε_m, [c_1 … c_m])` for m = 1…12: the pole parameter, the uniform error on `[0, ∞)`
/// and the coefficients (`c_m = 1 − Σ_{k<m} c_k`), from `data/make_rational_table.py`.
#[allow(clippy::excessive_precision)]
const TABLE: [(f64, f64, &[f64]); 12] = [
    (1.88076422789638564e+00, 1.019e-01, &[1.0]),
    (
        4.95299183546452026e-01,
        2.538e-02,
        &[-0.37338633955450246, 1.3733863395545025],
    ),
    (
        2.63330125606457077e-01,
        8.996e-03,
        &[0.2133079346464467, -1.462689360002586, 2.2493814253561393],
    ),
    (
        1.74672258947232956e-01,
        3.678e-03,
        &[
            -0.13034886911842652,
            1.396294066036012,
            -4.2811203384802905,
            4.015175141562705,
        ],
    ),
    (
        2.74336054845010779e-01,
        1.228e-03,
        &[
            -0.06491974269443132,
            1.0465618460825126,
            -5.039232184085911,
            8.614974998674194,
            -3.557384917976364,
        ],
    ),
    (
        1.90814606621648453e-01,
        4.519e-04,
        &[
            0.031364036005375365,
            -0.6745343667699264,
            4.6364426039159925,
            -13.422153450022796,
            16.267350841620093,
            -5.8384696647487395,
        ],
    ),
    (
        1.43925081747998396e-01,
        1.798e-04,
        &[
            -0.015939293120968003,
            0.4415759225310499,
            -4.043128452130559,
            16.761143739605416,
            -34.086919936727526,
            32.01935424369115,
            -10.07608622384856,
        ],
    ),
    (
        1.89732251604720625e-01,
        7.169e-05,
        &[
            -0.008157163938972666,
            0.291030079316513,
            -3.465657234407525,
            19.07175047235712,
            -53.68524254593219,
            77.02614474873963,
            -50.92277212201074,
            12.692903765876167,
        ],
    ),
    (
        1.47050109586918637e-01,
        2.666e-05,
        &[
            0.0036752507658530725,
            -0.1596462099003393,
            2.3526125331272527,
            -16.535417589660767,
            62.83200706333063,
            -134.07830770087446,
            156.60454466828608,
            -90.45671008329731,
            20.437242068223068,
        ],
    ),
    (
        1.18809179953887012e-01,
        1.057e-05,
        &[
            -0.0017275759329198445,
            0.0898931963003974,
            -1.602347387852937,
            13.889166503308445,
            -67.22333165261061,
            192.5785684405151,
            -329.5874908012884,
            324.7108820519149,
            -166.09767333163964,
            34.24406055728568,
        ],
    ),
    (
        9.90518611691359602e-02,
        4.344e-06,
        &[
            0.0008298089058780211,
            -0.050634621174055906,
            1.0728209980069514,
            -11.217767899627923,
            66.88999852100503,
            -243.75176779532717,
            557.7862849021108,
            -796.6537352774349,
            679.6856842042761,
            -311.8438209285792,
            59.08210808783849,
        ],
    ),
    (
        1.19809024182683438e-01,
        1.820e-06,
        &[
            0.0003821220829796891,
            -0.02614122598940572,
            0.6492123058336388,
            -8.122752210375133,
            58.73835789729443,
            -263.32449983060513,
            756.748469991643,
            -1404.096776480792,
            1653.6127632082344,
            -1181.510169977125,
            466.6554023741388,
            -78.32424817434048,
        ],
    ),
];

/// Largest tabulated degree m.
pub const MAX_DEGREE: usize = TABLE.len();

/// `r_m(τG) p` with one factorisation of `I − aτG` per (G version, τ) and m solves.
pub struct RationalExp {
    degree: usize,
    lu: Solver,
    v: Vec<f64>,
    acc: Vec<f64>,
    times: (f64, f64),
}

impl RationalExp {
    /// The degree-m approximation (1 ≤ m ≤ [`MAX_DEGREE`]) for G's pattern (the direct solve
    /// for the default `auto`: G is static).
    pub fn new(g: &Generator, degree: usize) -> Result<Self> {
        Self::with_linear_solver(g, degree, LinearSolver::Auto)
    }

    /// The same with the solver `choice`; multigrid solves stop at `10⁻³ ε_m / Σ_k |c_k|` (the
    /// m solves enter `Σ c_k v_k`, so their errors add up to a thousandth of the method's
    /// uniform error).
    pub fn with_linear_solver(g: &Generator, degree: usize, choice: LinearSolver) -> Result<Self> {
        let gain: f64 = TABLE
            .get(degree.wrapping_sub(1))
            .map_or(1.0, |t| t.2.iter().map(|c| c.abs()).sum());
        let eps = Self::uniform_error(degree).unwrap_or(1e-7);
        let tol = Tolerance::Relative(1e-3 * eps / gain);
        Self::with_solver(Solver::new(g, choice, tol)?, g.n(), degree)
    }

    /// The same with the solves stopping at `τ = 0.9·budget / (m Σ_k |c_k|)`, so that they add
    /// at most `budget·‖p‖₁` to the L1 error: the k-th solve's error `τ‖v_{k−1}‖₁` reaches every
    /// later `v_j` unamplified (`(I − aτG)⁻¹` is a Markov kernel, an L1 contraction), so
    /// `Σ_k |c_k| ‖v_k − v_k*‖₁ ≤ τ Σ_k k|c_k| ‖p‖₁ ≤ m τ Σ|c_k| ‖p‖₁` (0.9: the ‖v‖₁ of the
    /// computed chain exceed ‖p‖₁ by at most the errors). For a caller with an L1 target
    /// `rtol ≥ ε_m χ(p)`: `budget = rtol − ε_m χ(p)` (`cgkl brelax` on multigrid). Returns the
    /// integrator and τ.
    pub fn with_solve_budget(
        g: &Generator,
        degree: usize,
        choice: LinearSolver,
        budget: f64,
    ) -> Result<(Self, f64)> {
        let gain: f64 = TABLE
            .get(degree.wrapping_sub(1))
            .map_or(1.0, |t| t.2.iter().map(|c| c.abs()).sum());
        let tol = 0.9 * budget / (degree as f64 * gain);
        let r = Self::with_solver(
            Solver::new(g, choice, Tolerance::Relative(tol))?,
            g.n(),
            degree,
        )?;
        Ok((r, tol))
    }

    /// The same with a solver already made for G's pattern (e.g. [`Solver::direct`] of a
    /// [`crate::linsolve::SparseLu::for_pattern`]).
    pub fn with_solver(lu: Solver, n: usize, degree: usize) -> Result<Self> {
        if !(1..=MAX_DEGREE).contains(&degree) {
            return Err(CgklError::config(
                "degree",
                degree,
                format!("the rational exponential is tabulated for degrees 1..={MAX_DEGREE}"),
            ));
        }
        Ok(Self {
            degree,
            lu,
            v: vec![0.0; n],
            acc: vec![0.0; n],
            times: (0.0, 0.0),
        })
    }

    /// Wall seconds of the last [`Self::apply_exp`]: (numeric factorisation, the m solves).
    pub fn last_times(&self) -> (f64, f64) {
        self.times
    }

    /// The degree m.
    pub fn degree(&self) -> usize {
        self.degree
    }

    /// `ε_m = max_{x≥0} |e^{−x} − Σ c_k (1 + a x)^{−k}|` (None outside 1..=[`MAX_DEGREE`]).
    pub fn uniform_error(degree: usize) -> Option<f64> {
        TABLE.get(degree.checked_sub(1)?).map(|t| t.1)
    }

    /// The smallest degree whose a-priori L1 bound `ε_m · chi` is at most `tol` (None if even
    /// m = [`MAX_DEGREE`] does not reach it).
    pub fn degree_for(tol: f64, chi: f64) -> Option<usize> {
        (1..=MAX_DEGREE).find(|&m| TABLE[m - 1].1 * chi <= tol)
    }

    /// `χ(p) = (Σ p_i²/π_i)^{1/2}` for G's equilibrium `π ∝ e^{κφ}` (κ from the flux); None for a
    /// flux without detailed balance (upwind), where the bound does not apply.
    pub fn chi(g: &Generator, p: &[f64]) -> Option<f64> {
        let kappa = g.flux().reversibility_exponent()?;
        let phi = g.phi();
        let top = phi.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(kappa * x));
        if !top.is_finite() {
            return None;
        }
        // π_i = w_i / Z with w_i = e^{κφ_i − top} ∈ (0, 1]
        let z: f64 = phi.iter().map(|&x| (kappa * x - top).exp()).sum();
        let s: f64 = p
            .iter()
            .zip(phi)
            .map(|(&pi, &x)| pi * pi / (kappa * x - top).exp())
            .sum();
        let chi = (s * z).sqrt();
        chi.is_finite().then_some(chi)
    }

    /// `p ← r_m(τG) p` for the current G (refreshed by the caller): one factorisation of
    /// `I − aτG`, then `v_k = (I − aτG)⁻¹ v_{k−1}`, `p = Σ c_k v_k`.
    pub fn apply_exp(&mut self, g: &Generator, p: &mut [f64], tau: f64) -> Result<()> {
        let (a, _, c) = TABLE[self.degree - 1];
        let t0 = std::time::Instant::now();
        self.lu.factor(g, a * tau, 0.0)?;
        let t1 = std::time::Instant::now();
        self.v.copy_from_slice(p);
        self.acc.iter_mut().for_each(|x| *x = 0.0);
        for &ck in c {
            self.lu.solve_in_place(&mut self.v)?;
            self.acc
                .iter_mut()
                .zip(&self.v)
                .for_each(|(s, &x)| *s += ck * x);
        }
        // Σc_k = 1 and every solve conserves mass, so r_m(τG) does too; what is left is the
        // round-off of the alternating sum (Σ|c_k| reaches 5·10³ at m = 12): a non-negative
        // result is rescaled to p's mass when the defect is round-off sized (the solver's own
        // threshold, [`crate::linsolve::RESCALE_MASS_RTOL`] relative)
        let (m0, m1) = (p.iter().sum::<f64>(), self.acc.iter().sum::<f64>());
        let tol = crate::linsolve::RESCALE_MASS_RTOL * m0;
        if m1 > 0.0 && (m1 - m0).abs() <= tol && self.acc.iter().all(|&x| x >= 0.0) {
            let f = m0 / m1;
            p.iter_mut().zip(&self.acc).for_each(|(pi, &x)| *pi = x * f);
        } else {
            p.copy_from_slice(&self.acc);
        }
        self.times = ((t1 - t0).as_secs_f64(), t1.elapsed().as_secs_f64());
        Ok(())
    }
}

impl Integrator for RationalExp {
    fn order(&self) -> u32 {
        // not a time-stepping order: the error is bounded uniformly by ε_m χ(p)
        0
    }

    fn name(&self) -> &'static str {
        "rational"
    }

    fn advance(&mut self, g: &mut Generator, p: &mut [f64], s0: f64, s1: f64) -> Result<StepStats> {
        super::refresh_static(g, s0, "rational")?;
        let before = self.lu.factorizations();
        self.apply_exp(g, p, s1 - s0)?;
        Ok(StepStats {
            steps: self.degree,
            rejected: 0,
            factorizations: self.lu.factorizations() - before,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(m: usize, x: f64) -> f64 {
        let (a, _, c) = TABLE[m - 1];
        let u = 1.0 / (1.0 + a * x);
        let mut uk = 1.0;
        c.iter()
            .map(|&ck| {
                uk *= u;
                ck * uk
            })
            .sum()
    }

    /// The tabulated ε_m really bound |e^{−x} − r_m(−x)| on [0, ∞) (dense grid in u = 1/(1+ax),
    /// which covers x → ∞), within 1 % (the table rounds ε to 4 digits), and are nearly sharp.
    #[test]
    fn tabulated_errors_bound_the_approximation() {
        for m in 1..=MAX_DEGREE {
            let (a, eps, c) = TABLE[m - 1];
            assert_eq!(c.len(), m);
            assert!(
                (c.iter().sum::<f64>() - 1.0).abs() < 1e-13,
                "m = {m}: Σc ≠ 1"
            );
            let n = 200_000;
            let mut worst = 0.0f64;
            for j in 0..=n {
                // u on (0, 1], refined near both ends
                let t = j as f64 / n as f64;
                for u in [t, t * t * t, 1.0 - t * t * t] {
                    if u <= 0.0 {
                        continue;
                    }
                    let x = (1.0 / u - 1.0) / a;
                    worst = worst.max(((-x).exp() - r(m, x)).abs());
                }
            }
            assert!(
                worst <= eps * 1.01,
                "m = {m}: max error {worst:.4e} > ε {eps:.3e}"
            );
            assert!(
                worst >= eps * 0.9,
                "m = {m}: ε {eps:.3e} is loose ({worst:.4e})"
            );
        }
        // the error falls with m, by ≥ 2× per degree
        for m in 2..=MAX_DEGREE {
            assert!(TABLE[m - 1].1 < TABLE[m - 2].1 / 2.0);
        }
    }

    #[test]
    fn degree_for_picks_the_smallest_sufficient_degree() {
        assert_eq!(RationalExp::degree_for(1e-3, 1.0), Some(6));
        assert_eq!(RationalExp::degree_for(1e-3, 2.0), Some(6));
        assert_eq!(RationalExp::degree_for(1e-3, 3.0), Some(7));
        assert_eq!(RationalExp::degree_for(0.2, 1.0), Some(1));
        assert_eq!(RationalExp::degree_for(1e-9, 1.0), None);
    }

    /// As an [`Integrator`]: a static G gives the same p as [`RationalExp::apply_exp`] with one
    /// factorisation; a moving one is refused with a hint.
    #[test]
    fn advance_matches_apply_and_refuses_a_moving_generator() {
        let mut g = crate::brelax::generator(16).unwrap();
        let mut r = RationalExp::new(&g, 6).unwrap();
        let p0 = vec![1.0 / 256.0; 256];
        let mut p = p0.clone();
        let stats = r.advance(&mut g, &mut p, 0.0, 0.5).unwrap();
        assert_eq!((stats.steps, stats.factorizations), (6, 1));
        let mut q = p0.clone();
        RationalExp::new(&g, 6)
            .unwrap()
            .apply_exp(&g, &mut q, 0.5)
            .unwrap();
        assert_eq!(p, q);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-14);

        let ov: Vec<String> = [
            "grid.nx=16",
            "grid.ny=16",
            "data.kind=textured",
            "forward.eps_fwd=0.3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let pb = crate::config::Config::from_toml_with_overrides("", &ov)
            .unwrap()
            .validate()
            .unwrap();
        let mut g = pb.generator().unwrap();
        g.refresh(0.1).unwrap();
        assert!(!g.is_static());
        let mut r = RationalExp::new(&g, 3).unwrap();
        let mut p = pb.p0.clone();
        let e = r.advance(&mut g, &mut p, 0.1, 0.2).unwrap_err().to_string();
        assert!(e.contains("time-independent"), "{e}");
        assert!(RationalExp::new(&g, 0).is_err() && RationalExp::new(&g, 13).is_err());
    }
}
