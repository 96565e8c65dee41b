//! Forward oracle (SPEC §4): the semi-discrete heat flow `q_t = exp(S(t) A) q0`.
//!
//! **Separable (exact)**: for tile partitions (or ε_fwd = 1) `A = I ⊗ A_x + A_y ⊗ I` is a
//! Kronecker sum of 1-D symmetric tridiagonal generators with face conductances `κ/h²` (κ = 1
//! inside a tile, ε_fwd across), so with `A_x = U_x Λ_x U_xᵀ`, `A_y = U_y Λ_y U_yᵀ` (computed once
//! by faer): `Q_t = U_y [ (U_yᵀ Q0 U_x) ⊙ e^{S(λ_y,i + λ_x,j)} ] U_xᵀ`, two dense products per time
//! point.
//!
//! **Numerical (label-image partitions with ε_fwd < 1)**: A is not separable. `exp(S A) q0` is
//! then computed by uniformization on the sparse A ([`crate::integrator::uniformization`]) at
//! the Poisson truncation tolerance [`NUMERICAL_TOL`] per substep (L1 error ≤ 2·tol per substep of
//! Poisson parameter ≤ 400, i.e. ~1e-13 at paper_toy's size; measured against the separable path
//! on a rectangular label image in the tests). Every result is a probability vector (the series
//! has non-negative terms). Checkpoints every ~32 Poisson units of S (at most 2²⁶ stored values)
//! cut the cost of a time point to ≈ 50–100 sparse products after the first pass over [0, S(T)].

use crate::beta::BetaSchedule;
use crate::drive::HeatDrive;
use crate::error::{CgklError, Result};
use crate::flux::Flux;
use crate::generator::Generator;
use crate::grid::Grid;
use crate::integrator::uniformization::Uniformization;
use crate::kl::entropy;
use crate::partition::Partition;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par, Side};
use rayon::prelude::*;
use sprs::CsMat;

/// Poisson truncation tolerance of the numerical (uniformization) path, per substep.
pub const NUMERICAL_TOL: f64 = 1e-15;

/// Forward heat flow on the grid: exact (separable) or numerical (label images).
#[derive(Debug, Clone)]
pub struct ForwardOracle {
    grid: Grid,
    beta: BetaSchedule,
    horizon: f64,
    q0: Vec<f64>,
    backend: Backend,
    frozen: bool,
}

/// The exact path's 1-D eigendecompositions, transformed data and work space.
#[derive(Debug, Clone)]
struct Separable {
    ux: Mat<f64>,
    lx: Vec<f64>,
    uy: Mat<f64>,
    ly: Vec<f64>,
    q0_hat: Mat<f64>,
    work: Mat<f64>,
    work2: Mat<f64>,
}

/// The numerical path: A, its largest exit rate, and checkpoints `c_j = exp(j ΔS A) q0`
/// (computed lazily, each from the previous one, so every value is the same whatever order the
/// times are asked in), from which `q(S) = exp((S − jΔS) A) c_j` with `j = ⌊S/ΔS⌋` costs at most
/// a segment's worth of products instead of a whole horizon's.
#[derive(Debug, Clone)]
struct Numerical {
    a: CsMat<f64>,
    max_exit: f64,
    unif: Uniformization,
    spacing: f64,
    max_checkpoints: usize,
    checkpoints: Vec<Vec<f64>>,
}

/// Columns (first product) and rows (second) per parallel task of the separable path: a fixed
/// block, so that q_t is bit-identical whatever the thread count.
const ORACLE_BLOCK: usize = 64;

/// Poisson parameter (≈ sparse products) per checkpoint segment of the numerical path.
const SEGMENT_POISSON: f64 = 32.0;
/// Memory budget of the numerical path's checkpoints, in f64 values.
const CHECKPOINT_VALUES: usize = 1 << 26;

impl Numerical {
    fn q_at_s(&mut self, q0: &[f64], s_int: f64, out: &mut [f64]) {
        let a = &self.a;
        let apply = |v: &[f64], o: &mut [f64]| {
            o.fill(0.0);
            sprs::prod::mul_acc_mat_vec_csc(a.view(), v, &mut *o);
        };
        let j = if self.spacing > 0.0 {
            ((s_int / self.spacing).floor() as usize).min(self.max_checkpoints)
        } else {
            0
        };
        if self.checkpoints.is_empty() {
            self.checkpoints.push(q0.to_vec());
        }
        while self.checkpoints.len() <= j {
            let mut c = self.checkpoints.last().cloned().unwrap_or_default();
            self.unif
                .apply_exp_op(&apply, self.max_exit, &mut c, self.spacing);
            self.checkpoints.push(c);
        }
        out.copy_from_slice(&self.checkpoints[j]);
        let rest = s_int - j as f64 * self.spacing;
        if rest > 0.0 {
            self.unif.apply_exp_op(&apply, self.max_exit, out, rest);
        }
    }
}

#[derive(Debug, Clone)]
enum Backend {
    /// Kronecker-sum eigendecompositions (exact).
    Separable(Box<Separable>),
    /// Uniformization on the sparse generator A (β = 1), from checkpoints.
    Numerical(Box<Numerical>),
    /// Data that do not move (`A q0 = 0`): `q_t = q0` at every t.
    Frozen,
}

/// 1-D generator of length n with conductance `kappa(f)/h²` on face f (between cells f and f+1).
fn tridiagonal(n: usize, h: f64, kappa: impl Fn(usize) -> f64) -> Mat<f64> {
    let mut a = Mat::<f64>::zeros(n, n);
    for f in 0..n.saturating_sub(1) {
        let c = kappa(f) / (h * h);
        a[(f, f)] -= c;
        a[(f + 1, f + 1)] -= c;
        a[(f, f + 1)] += c;
        a[(f + 1, f)] += c;
    }
    a
}

fn eigen(a: &Mat<f64>, what: &str) -> Result<(Mat<f64>, Vec<f64>)> {
    let evd = a.self_adjoint_eigen(Side::Lower).map_err(|e| {
        CgklError::Output(format!(
            "eigendecomposition of the 1-D {what} generator failed: {e:?}"
        ))
    })?;
    let s = evd.S().column_vector();
    let lam = (0..a.nrows()).map(|i| s[i].min(0.0)).collect();
    Ok((evd.U().to_owned(), lam))
}

impl ForwardOracle {
    /// Builds the oracle for data `q0` (row-major ny×nx), conductance ε_fwd across block
    /// boundaries, rate schedule β on the horizon T: the separable exact path for tile partitions
    /// (or ε_fwd = 1), the numerical path for label-image partitions with ε_fwd < 1.
    pub fn new(
        part: &Partition,
        q0: &[f64],
        eps_fwd: f64,
        beta: BetaSchedule,
        horizon: f64,
    ) -> Result<Self> {
        let grid = part.grid();
        // data that do not move (A q0 = 0, e.g. block-constant data with ε_fwd = 0): every face
        // with a positive conductance joins cells of equal mass (to 4ε·max q0); then use q0 itself
        // (and build no backend: the separable one costs two dense side × side
        // eigendecompositions, ≈ 40 s at 4096²)
        let qmax = q0.iter().cloned().fold(0.0, f64::max);
        let tol = 4.0 * f64::EPSILON * qmax;
        let frozen = grid.faces().iter().all(|&(i, k)| {
            (eps_fwd == 0.0 && !part.same_block(i, k)) || (q0[i] - q0[k]).abs() <= tol
        });
        let backend = match part.tiles_shape() {
            _ if frozen => Backend::Frozen,
            Some((bx, by)) => Self::separable(grid, q0, eps_fwd, bx, by)?,
            None if eps_fwd == 1.0 => Self::separable(grid, q0, eps_fwd, 1, 1)?,
            None => Self::numerical(part, eps_fwd, beta.integral(horizon, horizon))?,
        };
        Ok(Self {
            grid,
            beta,
            horizon,
            q0: q0.to_vec(),
            backend,
            frozen,
        })
    }

    /// True when q_t is exact: the separable formula, or q0 itself for frozen data (false:
    /// uniformization).
    pub fn is_exact(&self) -> bool {
        matches!(self.backend, Backend::Separable(_) | Backend::Frozen)
    }

    /// The numerical path for integrated rates up to `s_max` (beyond it: from the last checkpoint).
    fn numerical(part: &Partition, eps_fwd: f64, s_max: f64) -> Result<Backend> {
        let drive = HeatDrive {
            beta: BetaSchedule::Constant { value: 1.0 },
            horizon: 1.0,
        };
        // chain reversal with φ ≡ 0 gives the rates κ_ik/h² of A (SPEC §4)
        let mut g = Generator::new(part, eps_fwd, Flux::ChainReversal, Box::new(drive));
        g.refresh(0.0)?;
        let n = part.grid().n();
        let max_exit = g.max_exit_rate();
        let max_checkpoints = (CHECKPOINT_VALUES / n).max(1);
        let segments = (1.05 * max_exit * s_max / SEGMENT_POISSON).ceil();
        let segments = if segments.is_finite() {
            (segments as usize).clamp(1, max_checkpoints)
        } else {
            1
        };
        Ok(Backend::Numerical(Box::new(Numerical {
            a: g.matrix().clone(),
            max_exit,
            unif: Uniformization::new(n, NUMERICAL_TOL),
            spacing: s_max / segments as f64,
            max_checkpoints: segments,
            checkpoints: Vec::new(),
        })))
    }

    fn separable(grid: Grid, q0: &[f64], eps_fwd: f64, bx: usize, by: usize) -> Result<Backend> {
        let h = grid.h();
        let (tx, ty) = (grid.nx / bx, grid.ny / by);
        let ax = tridiagonal(
            grid.nx,
            h,
            |f| if (f + 1) % tx == 0 { eps_fwd } else { 1.0 },
        );
        let ay = tridiagonal(
            grid.ny,
            h,
            |f| if (f + 1) % ty == 0 { eps_fwd } else { 1.0 },
        );
        let (ux, lx) = eigen(&ax, "x")?;
        let (uy, ly) = eigen(&ay, "y")?;
        let q = Mat::from_fn(grid.ny, grid.nx, |iy, ix| q0[iy * grid.nx + ix]);
        let mut tmp = Mat::<f64>::zeros(grid.ny, grid.nx);
        matmul(
            tmp.as_mut(),
            Accum::Replace,
            uy.transpose(),
            q.as_ref(),
            1.0,
            Par::Seq,
        );
        let mut q0_hat = Mat::<f64>::zeros(grid.ny, grid.nx);
        matmul(
            q0_hat.as_mut(),
            Accum::Replace,
            tmp.as_ref(),
            ux.as_ref(),
            1.0,
            Par::Seq,
        );
        crate::simd_state::clear_upper_state();
        Ok(Backend::Separable(Box::new(Separable {
            ux,
            lx,
            uy,
            ly,
            q0_hat,
            work: Mat::zeros(grid.ny, grid.nx),
            work2: Mat::zeros(grid.ny, grid.nx),
        })))
    }

    /// True when `A q0 = 0`: every face with a positive conductance joins cells whose masses agree
    /// to 4ε·max q0 (block-constant data with ε_fwd = 0); then `q_t = q0` for every t and
    /// [`ForwardOracle::q_at`] returns q0 itself.
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// The data q0.
    pub fn q0(&self) -> &[f64] {
        &self.q0
    }

    /// The horizon T.
    pub fn horizon(&self) -> f64 {
        self.horizon
    }

    /// `q_t` written into `out` (row-major). At t = 0, or for frozen data, returns q0 itself.
    pub fn q_at(&mut self, t: f64, out: &mut [f64]) {
        if t <= 0.0 || self.frozen {
            out.copy_from_slice(&self.q0);
            return;
        }
        self.q_at_s(self.beta.integral(t, self.horizon), out);
    }

    /// `exp(S A) q0` for a given integrated rate S ≥ 0.
    pub fn q_at_s(&mut self, s_int: f64, out: &mut [f64]) {
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        match &mut self.backend {
            Backend::Frozen => out.copy_from_slice(&self.q0),
            Backend::Numerical(num) => num.q_at_s(&self.q0, s_int, out),
            Backend::Separable(sep) => {
                let Separable {
                    ux,
                    lx,
                    uy,
                    ly,
                    q0_hat,
                    work,
                    work2,
                } = &mut **sep;
                // q̂ ∘ e^{S(λ_y + λ_x)}, then U_y · (·) · U_xᵀ, on the pool in fixed blocks of
                // ORACLE_BLOCK columns (first product) and rows (second): each block is one
                // sequential faer product, so the result does not depend on the thread count
                let lx = &*lx;
                let ly = &*ly;
                work.as_mut()
                    .par_col_chunks_mut(ORACLE_BLOCK)
                    .zip(q0_hat.as_ref().par_col_chunks(ORACLE_BLOCK))
                    .enumerate()
                    .for_each(|(b, (mut w, q))| {
                        crate::simd_state::clear_upper_state();
                        for j in 0..w.ncols() {
                            let lxj = lx[b * ORACLE_BLOCK + j];
                            for iy in 0..ny {
                                w[(iy, j)] = q[(iy, j)] * (s_int * (ly[iy] + lxj)).exp();
                            }
                        }
                    });
                work2
                    .as_mut()
                    .par_col_chunks_mut(ORACLE_BLOCK)
                    .zip(work.as_ref().par_col_chunks(ORACLE_BLOCK))
                    .for_each(|(dst, src)| {
                        matmul(dst, Accum::Replace, uy.as_ref(), src, 1.0, Par::Seq);
                        // faer's SIMD kernels leave the upper vector state dirty (simd_state)
                        crate::simd_state::clear_upper_state();
                    });
                work.as_mut()
                    .par_row_chunks_mut(ORACLE_BLOCK)
                    .zip(work2.as_ref().par_row_chunks(ORACLE_BLOCK))
                    .for_each(|(dst, src)| {
                        matmul(dst, Accum::Replace, src, ux.transpose(), 1.0, Par::Seq);
                        crate::simd_state::clear_upper_state();
                    });
                crate::simd_state::clear_upper_state();
                let work = &*work;
                out.par_chunks_mut(nx).enumerate().for_each(|(iy, row)| {
                    for (ix, o) in row.iter_mut().enumerate() {
                        *o = work[(iy, ix)];
                    }
                });
            }
        }
    }

    /// Forward entropy `H(q_t) = −Σ q ln q` (non-decreasing in t).
    pub fn entropy_at(&mut self, t: f64) -> f64 {
        let mut q = vec![0.0; self.grid.n()];
        self.q_at(t, &mut q);
        entropy(&q)
    }
}
