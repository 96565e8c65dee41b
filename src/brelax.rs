//! B-relax (SPEC §8), the peer benchmark: `∂_t ρ = ∇·(D(∇ρ − ρ∇ln q))`, D = 0.02, T = 0.5,
//! ρ(0) = 1, no flux, on L×L grids, discretised with Scharfetter–Gummel: `U = −ln q`, rate i→k
//! `(D/h²) B(U_k − U_i)`, on masses `p = ρh²`.
//!
//! Methods: fixed-step TR-BDF2 (second order, L-stable; the generator is static, so one sparse
//! factorisation of `I − (γ/2)Δt G` serves every stage of every step: a Cholesky of the
//! symmetrised matrix, see [`crate::linsolve`]), or uniformization (exact in time up to its
//! truncation tolerance: the reference). The default picks the number of TR-BDF2 steps from
//! the requested relative L1 accuracy with the error model measured in `docs/benchmarks.md`.

use crate::data::brelax_q;
use crate::error::{CgklError, Result};
use crate::flux::Flux;
use crate::generator::Generator;
use crate::grid::Grid;
use crate::integrator::uniformization::Uniformization;
use crate::integrator::IntegratorKind;
use crate::partition::Partition;
use crate::score::PotentialDrive;
use std::time::Instant;

/// Diffusion coefficient D.
pub const D: f64 = 0.02;
/// Horizon T.
pub const T: f64 = 0.5;
/// Default relative L1 accuracy of `cgkl brelax` (against the time-exact solution).
pub const DEFAULT_RTOL: f64 = 1e-3;

/// How to integrate B-relax in time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// `steps` equal TR-BDF2 steps.
    Trbdf2 {
        /// Number of steps on [0, T].
        steps: usize,
    },
    /// Uniformization with Poisson truncation `tol` (exact in time up to tol).
    Uniformization {
        /// L1 truncation tolerance per substep.
        tol: f64,
    },
}

impl Method {
    /// The method that reaches relative L1 error `rtol` against the time-exact solution,
    /// fastest: TR-BDF2 with `N = ⌈√(C/rtol)⌉` steps (at least 2), where `C` is the measured
    /// constant of its error `≈ C/N²` on B-relax (see `docs/benchmarks.md`), with a margin.
    pub fn for_rtol(rtol: f64) -> Result<Self> {
        if !(rtol > 0.0 && rtol < 1.0) {
            return Err(CgklError::config(
                "--rtol",
                rtol,
                "must lie in (0, 1) (default 1e-3)",
            ));
        }
        let steps = (TRBDF2_ERROR_CONSTANT / rtol).sqrt().ceil().max(2.0);
        if steps > 1e6 {
            return Err(CgklError::config(
                "--rtol",
                rtol,
                "needs more than 10⁶ TR-BDF2 steps; use --method exact for tighter accuracy",
            ));
        }
        Ok(Method::Trbdf2 {
            steps: steps as usize,
        })
    }

    /// A short description, e.g. `trbdf2 (N = 6 fixed steps)`.
    pub fn describe(&self) -> String {
        match self {
            Method::Trbdf2 { steps } => {
                format!("trbdf2 (N = {steps} fixed steps, one sparse factorisation)")
            }
            Method::Uniformization { tol } => format!("uniformization (tol = {tol:e})"),
        }
    }
}

/// Error constant C of fixed-step TR-BDF2 on B-relax, `rel. L1 error ≈ C/N²`, with a 1.5× margin
/// over the largest value measured at L = 64…512 (`docs/benchmarks.md`).
pub const TRBDF2_ERROR_CONSTANT: f64 = 0.015;

/// A B-relax solution.
#[derive(Debug, Clone)]
pub struct Solution {
    /// Grid side L.
    pub l: usize,
    /// Density ρ(T) = p/h², row-major ny × nx.
    pub rho: Vec<f64>,
    /// Method used.
    pub method: Method,
    /// Wall time of assembly + time stepping, seconds.
    pub wall_s: f64,
    /// Mass error |Σp − 1|.
    pub mass_err: f64,
    /// min ρ.
    pub min_rho: f64,
}

/// The B-relax generator on an L×L grid: SG with U = −ln q, scale D (one block, ε irrelevant).
pub fn generator(l: usize) -> Result<Generator> {
    let grid = Grid::new(l, l)?;
    let part = Partition::tiles(grid, 1, 1)?;
    let drive = PotentialDrive::new(grid, Box::new(|x, y, _| -brelax_q(x, y).ln()), D, false);
    Ok(Generator::new(
        &part,
        1.0,
        Flux::PotentialSg,
        Box::new(drive),
    ))
}

/// Solves B-relax on an L×L grid with `method`; ρ(0) = 1, i.e. p_0 = h² in every cell.
pub fn solve(l: usize, method: Method) -> Result<Solution> {
    if !(2..=4096).contains(&l) {
        return Err(CgklError::config("--n", l, "L must lie in 2..=4096"));
    }
    let start = Instant::now();
    let mut g = generator(l)?;
    let n = l * l;
    let mut p = vec![1.0 / n as f64; n];
    match method {
        Method::Trbdf2 { steps } => {
            let mut integ = IntegratorKind::Trbdf2Fixed { substeps: steps }.build(&g)?;
            integ.advance(&mut g, &mut p, 0.0, T)?;
        }
        Method::Uniformization { tol } => {
            g.refresh(0.0)?;
            Uniformization::new(n, tol).apply_exp(&g, &mut p, T);
        }
    }
    let wall_s = start.elapsed().as_secs_f64();
    let mass_err = (p.iter().sum::<f64>() - 1.0).abs();
    let h2 = 1.0 / n as f64;
    let rho: Vec<f64> = p.iter().map(|x| x / h2).collect();
    let min_rho = rho.iter().cloned().fold(f64::INFINITY, f64::min);
    Ok(Solution {
        l,
        rho,
        method,
        wall_s,
        mass_err,
        min_rho,
    })
}

/// Relative L1 distance `‖a − b‖₁ / ‖b‖₁`.
pub fn rel_l1(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum();
    let den: f64 = b.iter().map(|y| y.abs()).sum();
    num / den
}

/// The time-exact solution of the SG discretisation (uniformization at tol 1e-14).
pub fn reference(l: usize) -> Result<Vec<f64>> {
    Ok(solve(l, Method::Uniformization { tol: 1e-14 })?.rho)
}

/// Writes `rho` (L × L, float64) with attributes `L`, `T`, `D`, `wall_s`, `method`,
/// `mass_err`, `min_rho`, `version` and `kind = "brelax"`, atomically (temp file + rename).
pub fn write_h5(path: &std::path::Path, sol: &Solution, overwrite: bool) -> Result<()> {
    use crate::io::h5util;
    let f = h5util::AtomicH5::create(path, overwrite)?;
    let root = f.root();
    h5util::attr_str(root, "kind", "brelax")?;
    h5util::attr_str(root, "version", env!("CARGO_PKG_VERSION"))?;
    h5util::attr_i64(root, "L", sol.l as i64)?;
    h5util::attr_f64(root, "T", T)?;
    h5util::attr_f64(root, "D", D)?;
    h5util::attr_f64(root, "wall_s", sol.wall_s)?;
    h5util::attr_str(root, "method", &sol.method.describe())?;
    h5util::attr_f64(root, "mass_err", sol.mass_err)?;
    h5util::attr_f64(root, "min_rho", sol.min_rho)?;
    let ds = h5util::write_f64_2d(root, "rho", sol.l, sol.l, &sol.rho)?;
    h5util::describe(&ds, "density ρ(T) = p/h² of B-relax (SPEC §8)", "1")?;
    f.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_method_meets_its_accuracy_and_keeps_the_invariants() {
        let l = 32;
        let reference = reference(l).unwrap();
        for rtol in [1e-3, 1e-4] {
            let m = Method::for_rtol(rtol).unwrap();
            let s = solve(l, m).unwrap();
            let e = rel_l1(&s.rho, &reference);
            assert!(e <= rtol, "{}: error {e:.2e} > {rtol:e}", m.describe());
            // and not wastefully: within 4× of the target
            assert!(e > rtol / 4.0, "{}: error {e:.2e} ≪ {rtol:e}", m.describe());
            assert!(s.mass_err < 1e-13 && s.min_rho > 0.0);
        }
        assert!(Method::for_rtol(0.0).is_err() && Method::for_rtol(f64::NAN).is_err());
    }
}
