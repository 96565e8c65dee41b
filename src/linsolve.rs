//! Sparse solves of `M = I − a·G` through faer, with the symbolic analysis computed once per
//! pattern; each new (G version, a) costs one numeric factorisation into preallocated storage,
//! and solves reuse it.
//!
//! **Symmetric path (reversible generators)**: every flux but upwind is in detailed balance with
//! `π ∝ e^{κφ}` ([`crate::flux::Flux::reversibility_exponent`]), so `G = D S D⁻¹` with
//! `D = diag(√π)` and S symmetric, `S_ki = √(G_ki G_ik)`, and `I − aS` is symmetric positive
//! definite. Then `x = D (I − aS)⁻¹ D⁻¹ b` by a sparse Cholesky `LLᵀ` in geometric
//! nested-dissection order ([`nested_dissection`]; `CGKL_ORDERING=amd` in the environment selects
//! faer's AMD instead, for comparisons): faer's symbolic supernodal analysis, of the two halves
//! of the first cut on two threads (0.085 s at 512² with our preparation; one analysis of the
//! whole: 0.10 s; AMD: 0.19 s), then our numeric factorisation and solves on it
//! (module `supernodal`: the two halves on two threads, bit-identical whatever the thread
//! count; 0.11 s and 18 ms per solve at 512², against 0.23 s and 38 ms with faer's sequential
//! ones; the COLAMD LU: ≈ 1 s). The similarity transform leaves a round-off
//! error ≈ ε·a·max rate, visible in the mass (`|Σx − Σb|`): above 1e-15·Σ|b| a solve of a
//! non-negative right side is rescaled to Σb (a change of the same relative size as the
//! round-off), and a larger defect or a signed right side gets one step of iterative refinement
//! against the original G (`r = b − (I − aG)x`, `x += D (I − aS)⁻¹ D⁻¹ r`); either way mass is
//! conserved as by the LU. Used when `κ·(max φ − min φ)/2 ≤ 600`
//! (D representable); otherwise, for upwind, or if the Cholesky fails, the LU below.
//!
//! **LU path**: supernodal LU with COLAMD ordering and partial pivoting (built on first use).
//!
//! **Multigrid path** ([`Solver`] with [`LinearSolver::Multigrid`], or `auto` on large grids):
//! the same symmetric system solved iteratively in O(cells) by [`crate::multigrid`], to a
//! tolerance tied to the calling step's error; the direct solve stays the reference (and the
//! fallback where π is not representable).

use crate::error::{CgklError, Result};
use crate::generator::Generator;
use crate::multigrid::{Multigrid, Tolerance};
use crate::supernodal::{grid_structure, Structure, SupernodalFactor};
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::lu::partial_pivoting::factor::PartialPivLuParams;
use faer::sparse::linalg::cholesky::{
    factorize_symbolic_cholesky, CholeskySymbolicParams, SymbolicCholeskyRaw, SymmetricOrdering,
};
use faer::sparse::linalg::lu::{factorize_symbolic_lu, LuSymbolicParams, NumericLu, SymbolicLu};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};
use faer::{Conj, MatMut, Par, Side, Spec};
use serde::{Deserialize, Serialize};

/// Relative tolerance on `a` under which a factorisation of the same G is reused.
pub const REUSE_RTOL: f64 = 1e-12;

/// The symmetric path refines a solve whose mass differs from the right side's by more than
/// this, relative to `Σ|b|` (the LU conserves mass to a few ulps; so does the refined solve).
const REFINE_MASS_RTOL: f64 = 1e-15;

/// Up to this relative mass defect a solve with a non-negative right side is rescaled to the
/// right side's mass instead of refined (the defect is the similarity transform's round-off,
/// ≈ ε·a·max rate: 1e-13 for B-relax at L = 512); beyond it, or for signed right sides, refined.
pub(crate) const RESCALE_MASS_RTOL: f64 = 1e-10;

/// Largest `κ·(max φ − min φ)/2` for which the symmetric path scales by `D = e^{κφ/2}`.
const MAX_HALF_LOG_RANGE: f64 = 600.0;

/// Reusable sparse factorisation for systems `(I − a G) x = b` with G's fixed pattern.
pub struct SparseLu {
    n: usize,
    nx: usize,
    col_ptr: Vec<usize>,
    row_idx: Vec<usize>,
    diag_pos: Vec<usize>,
    lu: Option<LuPath>,
    chol: Option<CholPath>,
    /// Which path holds the current factorisation.
    active: Option<Path>,
    key: Option<(u64, f64)>,
    factorizations: usize,
}

/// G's square CSC pattern as faer sees it (a free function: the factor methods borrow a path
/// mutably at the same time).
fn pattern<'a>(
    n: usize,
    col_ptr: &'a [usize],
    row_idx: &'a [usize],
) -> SymbolicSparseColMatRef<'a, usize> {
    SymbolicSparseColMatRef::new_checked(n, n, col_ptr, None, row_idx)
}

/// Geometric nested dissection of an `nx × ny` grid (row-major cells): split the longer side
/// by a one-cell-wide separator line, order both halves recursively, the separator last; blocks of
/// at most 16 cells in natural order. Returns `(fwd, inv)`: `fwd[k]` is the cell eliminated k-th.
pub fn nested_dissection(nx: usize, ny: usize) -> (Vec<usize>, Vec<usize>) {
    fn rec(x0: usize, x1: usize, y0: usize, y1: usize, nx: usize, out: &mut Vec<usize>) {
        let (w, h) = (x1 - x0, y1 - y0);
        if w == 0 || h == 0 {
            return;
        }
        if w * h <= 16 || (w < 3 && h < 3) {
            for y in y0..y1 {
                for x in x0..x1 {
                    out.push(y * nx + x);
                }
            }
            return;
        }
        if w >= h {
            let xm = x0 + w / 2;
            rec(x0, xm, y0, y1, nx, out);
            rec(xm + 1, x1, y0, y1, nx, out);
            for y in y0..y1 {
                out.push(y * nx + xm);
            }
        } else {
            let ym = y0 + h / 2;
            rec(x0, x1, y0, ym, nx, out);
            rec(x0, x1, ym + 1, y1, nx, out);
            for x in x0..x1 {
                out.push(ym * nx + x);
            }
        }
    }
    let mut fwd = Vec::with_capacity(nx * ny);
    rec(0, nx, 0, ny, nx, &mut fwd);
    let mut inv = vec![0; fwd.len()];
    for (k, &c) in fwd.iter().enumerate() {
        inv[c] = k;
    }
    (fwd, inv)
}

/// The first cut of [`nested_dissection`]: `(n1, n_sep)`, the cells of the first half and of
/// the separator (ordered last), or None if the grid is too small to be cut.
fn nested_dissection_top(nx: usize, ny: usize) -> Option<(usize, usize)> {
    if nx * ny <= 16 || (nx < 3 && ny < 3) {
        return None;
    }
    Some(if nx >= ny {
        ((nx / 2) * ny, ny)
    } else {
        (nx * (ny / 2), nx)
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Path {
    Lu,
    Chol,
}

struct LuPath {
    symbolic: SymbolicLu<usize>,
    numeric: NumericLu<usize, f64>,
    mem: MemBuffer,
    values: Vec<f64>,
}

struct CholPath {
    /// `I − aS` on G's pattern.
    values: Vec<f64>,
    /// Position of G[i,k] for the entry G[k,i] at each position.
    transpose: Vec<usize>,
    kappa: f64,
    /// `D = diag(e^{κ(φ − φ_mid)/2})` of the current factorisation.
    scale: Vec<f64>,
    /// `a` and G's values of the current factorisation (for the refinement residual).
    a: f64,
    g_values: Vec<f64>,
    work: Vec<f64>,
    /// The fill-reducing permutation (`perm[k]` = cell eliminated k-th) and, in that order,
    /// the scale `D` and a work vector, for [`SupernodalFactor`].
    perm: Vec<usize>,
    scale_perm: Vec<f64>,
    xperm: Vec<f64>,
    /// The supernodal factor (two threads when the ordering splits in two halves).
    fac: SupernodalFactor,
}

impl CholPath {
    /// `v ← D (LLᵀ)⁻¹ D⁻¹ v` with the current factor, in the elimination order.
    fn apply_inverse(&mut self, v: &mut [f64]) {
        for ((x, &cell), &d) in self.xperm.iter_mut().zip(&self.perm).zip(&self.scale_perm) {
            *x = v[cell] / d;
        }
        self.fac.solve_in_place(&mut self.xperm);
        for ((&x, &cell), &d) in self.xperm.iter().zip(&self.perm).zip(&self.scale_perm) {
            v[cell] = x * d;
        }
    }
}

impl SparseLu {
    /// Symbolic analysis of G's pattern (done once): Cholesky for a reversible flux, otherwise LU.
    pub fn new(g: &Generator) -> Result<Self> {
        let m = g.matrix();
        Self::for_pattern(
            g.grid().nx,
            m.indptr().raw_storage(),
            m.indices(),
            g.diag_positions(),
            g.flux(),
        )
    }

    /// The same analysis from the pattern alone (CSC `col_ptr`, `row_idx`, the diagonal's
    /// positions, a grid row length `nx` for the ordering) and the flux, before any rate is
    /// known: the analysis can run while the rates are computed. The generators factorised later
    /// must have exactly this pattern.
    pub fn for_pattern(
        nx: usize,
        col_ptr: &[usize],
        row_idx: &[usize],
        diag_pos: &[usize],
        flux: crate::flux::Flux,
    ) -> Result<Self> {
        let n = col_ptr.len().saturating_sub(1);
        let mut s = Self {
            n,
            nx,
            col_ptr: col_ptr.to_vec(),
            row_idx: row_idx.to_vec(),
            diag_pos: diag_pos.to_vec(),
            lu: None,
            chol: None,
            active: None,
            key: None,
            factorizations: 0,
        };
        match flux.reversibility_exponent() {
            Some(kappa) => s.chol = Some(s.chol_path(kappa)?),
            None => s.lu = Some(s.lu_path()?),
        }
        Ok(s)
    }

    /// LU only, whatever the flux (to compare the two paths, and for benchmarks).
    pub fn new_lu(g: &Generator) -> Result<Self> {
        let mut s = Self::new(g)?;
        s.chol = None;
        if s.lu.is_none() {
            s.lu = Some(s.lu_path()?);
        }
        Ok(s)
    }

    fn pattern(&self) -> SymbolicSparseColMatRef<'_, usize> {
        pattern(self.n, &self.col_ptr, &self.row_idx)
    }

    fn lu_path(&self) -> Result<LuPath> {
        let symbolic = factorize_symbolic_lu(
            self.pattern(),
            LuSymbolicParams {
                supernodal_flop_ratio_threshold:
                    faer::sparse::linalg::SupernodalThreshold::FORCE_SUPERNODAL,
                ..Default::default()
            },
        )
        .map_err(|e| CgklError::Output(format!("symbolic LU failed: {e:?}")))?;
        let par = Par::Seq;
        let req = StackReq::any_of(&[
            symbolic.factorize_numeric_lu_scratch::<f64>(
                par,
                Spec::<PartialPivLuParams, f64>::default(),
            ),
            symbolic.solve_in_place_scratch::<f64>(1, par),
        ]);
        Ok(LuPath {
            symbolic,
            numeric: NumericLu::new(),
            mem: MemBuffer::new(req),
            values: vec![0.0; self.row_idx.len()],
        })
    }

    fn chol_path(&self, kappa: f64) -> Result<CholPath> {
        let (cp, ri) = (&self.col_ptr, &self.row_idx);
        // position of (col, row) for each (row, col): columns visited in order fill each
        // column's sorted rows in order (a CSC transpose; the pattern is symmetric, checked)
        let mut transpose = vec![0; ri.len()];
        let mut cursor: Vec<usize> = cp[..self.n].to_vec();
        for col in 0..self.n {
            for pos in cp[col]..cp[col + 1] {
                let row = ri[pos];
                let at = cursor[row];
                if at >= cp[row + 1] || ri[at] != col {
                    return Err(CgklError::Output(
                        "generator pattern is not symmetric".into(),
                    ));
                }
                transpose[pos] = at;
                cursor[row] += 1;
            }
        }
        let (nx, ny) = (self.nx, self.n / self.nx.max(1));
        let (fwd, inv) = nested_dissection(nx, ny);
        let amd = std::env::var_os("CGKL_ORDERING").is_some_and(|v| v == "amd");
        let top = nested_dissection_top(nx, ny).filter(|_| !amd);
        // a grid cut in two: faer's analysis of the two halves on two threads; otherwise (AMD,
        // tiny grids) one analysis of the whole matrix
        let grid = top.and_then(|(n1, n_sep)| {
            grid_structure(&self.col_ptr, &self.row_idx, &fwd, &inv, n1, n_sep)
        });
        let (perm, structure) = match grid {
            Some(st) => (fwd.clone(), st),
            None => {
                let order = if amd {
                    SymmetricOrdering::Amd
                } else {
                    SymmetricOrdering::Custom(faer::perm::PermRef::new_checked(&fwd, &inv, self.n))
                };
                let symbolic = factorize_symbolic_cholesky(
                    self.pattern(),
                    Side::Lower,
                    order,
                    CholeskySymbolicParams {
                        supernodal_flop_ratio_threshold:
                            faer::sparse::linalg::SupernodalThreshold::FORCE_SUPERNODAL,
                        ..Default::default()
                    },
                )
                .map_err(|e| CgklError::Output(format!("symbolic Cholesky failed: {e:?}")))?;
                let SymbolicCholeskyRaw::Supernodal(sn) = symbolic.raw() else {
                    return Err(CgklError::Output(
                        "faer returned a simplicial Cholesky structure where a supernodal one \
                         was forced"
                            .into(),
                    ));
                };
                let perm = match symbolic.perm() {
                    Some(p) => p.arrays().0.to_vec(),
                    None => (0..self.n).collect(),
                };
                (perm, Structure::from_faer(sn))
            }
        };
        let mut pinv = vec![0; self.n];
        perm.iter().enumerate().for_each(|(k, &c)| pinv[c] = k);
        // the split at the first cut holds when the elimination order is ours
        let n1 = top.map(|t| t.0).filter(|_| perm == fwd);
        let fac = SupernodalFactor::new(structure, cp, ri, &pinv, n1);
        Ok(CholPath {
            perm,
            scale_perm: vec![0.0; self.n],
            xperm: vec![0.0; self.n],
            fac,
            values: vec![0.0; ri.len()],
            transpose,
            kappa,
            scale: vec![0.0; self.n],
            a: 0.0,
            g_values: vec![0.0; ri.len()],
            work: vec![0.0; self.n],
        })
    }

    /// Factorises `I − a G` unless the same G version with the same `a` to a relative 1e-12 is
    /// already factorised (uniform schedules give Δt_n = s_{n+1} − s_n that differ by round-off
    /// of s; solving with Δt off by 1e-12 relative changes the step by far less than its error).
    /// `s` only labels a failure.
    pub fn factor(&mut self, g: &Generator, a: f64, s: f64) -> Result<()> {
        if let Some((v, a_old)) = self.key {
            if v == g.version() && (a - a_old).abs() <= REUSE_RTOL * a.abs() {
                return Ok(());
            }
        }
        let key = (g.version(), a);
        self.key = None;
        self.active = None;
        if self.chol.is_some() && self.factor_chol(g, a) {
            self.active = Some(Path::Chol);
        } else {
            self.factor_lu(g, a, s)?;
            self.active = Some(Path::Lu);
        }
        crate::simd_state::clear_upper_state();
        self.key = Some(key);
        self.factorizations += 1;
        Ok(())
    }

    /// The symmetric factorisation; false if D is not representable or LLᵀ fails.
    fn factor_chol(&mut self, g: &Generator, a: f64) -> bool {
        let Some(c) = self.chol.as_mut() else {
            return false;
        };
        let phi = g.phi();
        let Some((lo, hi)) = g.phi_range() else {
            return false;
        };
        if c.kappa * (hi - lo) / 2.0 > MAX_HALF_LOG_RANGE {
            return false;
        }
        let mid = 0.5 * (lo + hi);
        for (d, &p) in c.scale.iter_mut().zip(phi) {
            *d = (0.5 * c.kappa * (p - mid)).exp();
        }
        for (d, &cell) in c.scale_perm.iter_mut().zip(&c.perm) {
            *d = c.scale[cell];
        }
        let gv = g.matrix().data();
        for (pos, v) in c.values.iter_mut().enumerate() {
            *v = -a * (gv[pos] * gv[c.transpose[pos]]).sqrt();
        }
        for &d in &self.diag_pos {
            c.values[d] = 1.0 - a * gv[d];
        }
        c.g_values.copy_from_slice(gv);
        c.a = a;
        c.fac.factorize(&c.values)
    }

    fn factor_lu(&mut self, g: &Generator, a: f64, s: f64) -> Result<()> {
        if self.lu.is_none() {
            self.lu = Some(self.lu_path()?);
        }
        let sym = pattern(self.n, &self.col_ptr, &self.row_idx);
        let Some(lu) = self.lu.as_mut() else {
            unreachable!("built above")
        };
        for (v, &gv) in lu.values.iter_mut().zip(g.matrix().data()) {
            *v = -a * gv;
        }
        for &d in &self.diag_pos {
            lu.values[d] += 1.0;
        }
        let mat = SparseColMatRef::new(sym, &lu.values);
        lu.symbolic
            .factorize_numeric_lu(
                &mut lu.numeric,
                mat,
                Par::Seq,
                MemStack::new(&mut lu.mem),
                Spec::<PartialPivLuParams, f64>::default(),
            )
            .map_err(|e| CgklError::Singular {
                s,
                dt: a,
                msg: format!("{e:?}"),
            })?;
        Ok(())
    }

    /// Solves `(I − a G) x = b` in place with the current factorisation; errors if none.
    pub fn solve_in_place(&mut self, b: &mut [f64]) -> Result<()> {
        match (self.key.is_some(), self.active) {
            (true, Some(Path::Lu)) => {
                let Some(lu) = self.lu.as_mut() else {
                    unreachable!("active LU path exists")
                };
                let n = b.len();
                let lu_ref =
                    faer::sparse::linalg::lu::LuRef::new_unchecked(&lu.symbolic, &lu.numeric);
                lu_ref.solve_in_place_with_conj(
                    Conj::No,
                    MatMut::from_column_major_slice_mut(b, n, 1),
                    Par::Seq,
                    MemStack::new(&mut lu.mem),
                );
            }
            (true, Some(Path::Chol)) => self.solve_chol(b),
            _ => {
                return Err(CgklError::Singular {
                    s: f64::NAN,
                    dt: f64::NAN,
                    msg: "no valid factorisation (the last one failed)".into(),
                })
            }
        }
        crate::simd_state::clear_upper_state();
        Ok(())
    }

    /// `x = D (I − aS)⁻¹ D⁻¹ b`, then one refinement step against `I − aG`.
    fn solve_chol(&mut self, b: &mut [f64]) {
        let (cp, ri) = (&self.col_ptr, &self.row_idx);
        let Some(c) = self.chol.as_mut() else {
            unreachable!("active Cholesky path exists")
        };
        let n = self.n;
        // x from the first solve; refine only if the similarity round-off shows in the mass
        // (1ᵀ(I − aG)x = 1ᵀx for the exact G), i.e. when a·max rate is large
        let mut x = std::mem::take(&mut c.work);
        x.copy_from_slice(b);
        c.apply_inverse(&mut x);
        let (sum_b, abs_b): (f64, f64) =
            b.iter().fold((0.0, 0.0), |(s, a), &v| (s + v, a + v.abs()));
        let sum_x: f64 = x.iter().sum();
        let defect = (sum_x - sum_b).abs();
        if defect <= REFINE_MASS_RTOL * abs_b {
            b.copy_from_slice(&x);
        } else if defect <= RESCALE_MASS_RTOL * abs_b && sum_x > 0.0 && b.iter().all(|&v| v >= 0.0)
        {
            // a non-negative right side (a probability vector) with a round-off-sized defect:
            // rescaling x by Σb/Σx changes it by the same relative round-off the transform left
            let f = sum_b / sum_x;
            b.iter_mut().zip(&x).for_each(|(bi, &xi)| *bi = xi * f);
        } else {
            // r = b − (I − aG) x, x += D (I − aS)⁻¹ D⁻¹ r
            let r = b;
            for (ri_, &xi) in r.iter_mut().zip(x.iter()) {
                *ri_ -= xi;
            }
            for col in 0..n {
                let xc = c.a * x[col];
                for pos in cp[col]..cp[col + 1] {
                    r[ri[pos]] += c.g_values[pos] * xc;
                }
            }
            c.apply_inverse(r);
            for (ri_, &xi) in r.iter_mut().zip(x.iter()) {
                *ri_ += xi;
            }
        }
        c.work = x;
    }

    /// Numeric factorisations performed so far.
    pub fn factorizations(&self) -> usize {
        self.factorizations
    }

    /// `"cholesky"` or `"lu"`: the path of the current factorisation (`None` before the first).
    pub fn path(&self) -> Option<&'static str> {
        self.active.map(|p| match p {
            Path::Lu => "lu",
            Path::Chol => "cholesky",
        })
    }
}

/// Grids with at least this many cells take the multigrid path under `auto` when G moves with
/// s (reversible fluxes only); below it, and for a static G at any size, the direct solve.
/// Measured (`examples/mg_crossover.rs`, `docs/benchmarks.md`, eighth sitting, one thread): a
/// new (G, a) per solve costs the direct path 1.0 / 5.3 / 37 / 178 / 1000 ms at
/// 64² / 128² / 256² / 512² / 1024² and multigrid 0.64 / 3.3 / 18 / 91 / 441 ms; with the
/// factorisation reused (a static G), a direct solve costs 0.28 / 1.1 / 7.0 / 35 / 157 ms
/// against 0.55 / 3.1 / 16 / 83 / 428 ms. `auto` switches where multigrid is at least twice
/// as fast per step (256²), since the direct solve is exact to round-off and multigrid stops
/// at its tolerance.
pub const MULTIGRID_MIN_CELLS: usize = 256 * 256;

/// Grids with more cells than this take the multigrid path under `auto` for a static G too
/// (reversible fluxes): above 2048² the direct factor no longer fits a machine of this
/// project's size ([`direct_factor_values`]: 1.43·10⁹ values, 11.4 GB, at 4096², against
/// ≈ 38 numbers per cell for multigrid). A fixed size, not the machine's free memory, so that a
/// config gives the same numbers on every machine.
pub const DIRECT_MAX_CELLS: usize = 1 << 22;

/// Estimated number of values of the supernodal Cholesky factor of a 5-point grid of `n`
/// cells in the nested-dissection order ([`nested_dissection`]):
/// `n · (8.35 log₂ √n − 14.5)`, a fit to the structure's exact count (`grid_structure`) at
/// 256² … 4096², within 1 % there (−5 % at 64²; a 4:1 rectangle of the same n has 4 % fewer),
/// checked by a unit test. Nested dissection's fill grows like n log n (George 1973).
pub fn direct_factor_values(n: usize) -> f64 {
    let n = n as f64;
    if n < 2.0 {
        return n;
    }
    n * (8.35 * 0.5 * n.log2() - 14.5).max(5.0)
}

/// Float64 values per cell that a multigrid solver holds (hierarchy, CG and K-cycle vectors,
/// with a margin): measured as the peak-RSS difference to a solver-free run, 17 per cell in a
/// kernel run at 1024² and 37 in B-relax's rational method at 2048² and 4096²
/// (`docs/benchmarks.md`, tenth sitting); the larger is taken.
pub const MULTIGRID_F64_PER_CELL: usize = 38;

/// Peak bytes of the direct path per value of the factor: the factor itself, plus the value
/// map, the two threads' update scratch and faer's symbolic analysis while it runs (measured
/// 1.86 / 1.76 / 1.37 × the factor's bytes at 512² / 1024² / 2048²: tenth sitting).
const DIRECT_BYTES_PER_VALUE: f64 = 8.0 * 1.9;

/// Which solver takes the implicit systems `(I − aG) x = b` (config `flow.linear_solver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinearSolver {
    /// Multigrid for a reversible flux when G moves with s on at least
    /// [`MULTIGRID_MIN_CELLS`] cells, or on more than [`DIRECT_MAX_CELLS`] cells whatever G;
    /// the direct solve otherwise (and always for upwind).
    #[default]
    Auto,
    /// [`SparseLu`]: supernodal Cholesky of the symmetrised system (LU for upwind); exact to
    /// round-off, memory O(n log n).
    Direct,
    /// [`crate::multigrid::Multigrid`]: K-cycle preconditioned CG, O(cells) time per iteration
    /// and memory; reversible fluxes only (not upwind).
    Multigrid,
}

impl LinearSolver {
    /// Every choice.
    pub const ALL: [LinearSolver; 3] = [
        LinearSolver::Auto,
        LinearSolver::Direct,
        LinearSolver::Multigrid,
    ];

    /// `auto`, `direct` or `multigrid`: the serde spelling (a unit test holds them equal).
    pub fn name(&self) -> &'static str {
        match self {
            LinearSolver::Auto => "auto",
            LinearSolver::Direct => "direct",
            LinearSolver::Multigrid => "multigrid",
        }
    }

    /// The choice for a grid of `n` cells, the flux and whether G is time independent
    /// (`auto`: multigrid for a moving G on at least [`MULTIGRID_MIN_CELLS`] cells, where every
    /// step needs a new factorisation, and for any G on more than [`DIRECT_MAX_CELLS`], where
    /// the direct factor would not fit in memory); `multigrid` with a non-reversible flux is a
    /// config error on `flow.linear_solver`.
    pub fn resolve(
        &self,
        n: usize,
        flux: crate::flux::Flux,
        is_static: bool,
    ) -> Result<LinearSolver> {
        let reversible = flux.reversibility_exponent().is_some();
        match self {
            LinearSolver::Auto
                if reversible
                    && ((!is_static && n >= MULTIGRID_MIN_CELLS) || n > DIRECT_MAX_CELLS) =>
            {
                Ok(LinearSolver::Multigrid)
            }
            LinearSolver::Auto | LinearSolver::Direct => Ok(LinearSolver::Direct),
            LinearSolver::Multigrid if reversible => Ok(LinearSolver::Multigrid),
            LinearSolver::Multigrid => Err(CgklError::config(
                "flow.linear_solver",
                "multigrid",
                format!(
                    "multigrid solves the symmetrised system of a reversible flux, and \
                     reverse.flux = {} is not; use direct (or auto)",
                    flux.name()
                ),
            )),
        }
    }
}

impl LinearSolver {
    /// Estimated peak bytes of this (resolved) solver on `n` cells: the direct factor
    /// ([`direct_factor_values`], × 1.9 for its scratch) or [`MULTIGRID_F64_PER_CELL`] values
    /// per cell; `auto` is resolved first by the caller ([`LinearSolver::resolve`]).
    pub fn memory_bytes(&self, n: usize) -> u64 {
        match self {
            LinearSolver::Multigrid => crate::memory::f64s(MULTIGRID_F64_PER_CELL, n, 1),
            LinearSolver::Auto | LinearSolver::Direct => {
                let b = direct_factor_values(n) * DIRECT_BYTES_PER_VALUE;
                if b >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    b as u64
                }
            }
        }
    }
}

impl std::fmt::Display for LinearSolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The implicit integrators' solver for `(I − aG) x = b`: the direct [`SparseLu`] or the
/// multigrid path ([`crate::multigrid`]), with the interface of [`SparseLu`]: `factor` once
/// per (G version, a), then solves.
pub struct Solver {
    kind: SolverKind,
    /// Tolerance of the multigrid solves (the direct solve ignores it).
    tol: Tolerance,
    key: Option<(u64, f64)>,
    factorizations: usize,
}

enum SolverKind {
    Direct(SparseLu),
    /// The multigrid solver, and the direct one built on first need (π not representable).
    Multigrid {
        mg: Box<Multigrid>,
        fallback: Option<SparseLu>,
        on_fallback: bool,
    },
}

impl Solver {
    /// The solver `choice` for G (resolved by [`LinearSolver::resolve`]); `tol` is the
    /// multigrid stopping rule ([`crate::multigrid`]: tied to the calling step's error).
    pub fn new(g: &Generator, choice: LinearSolver, tol: Tolerance) -> Result<Self> {
        let kind = match choice.resolve(g.n(), g.flux(), g.is_static())? {
            LinearSolver::Multigrid => {
                let Some(kappa) = g.flux().reversibility_exponent() else {
                    unreachable!("resolve allows multigrid for reversible fluxes only")
                };
                SolverKind::Multigrid {
                    mg: Box::new(Multigrid::new(g.grid(), kappa)),
                    fallback: None,
                    on_fallback: false,
                }
            }
            _ => SolverKind::Direct(SparseLu::new(g)?),
        };
        Ok(Self {
            kind,
            tol,
            key: None,
            factorizations: 0,
        })
    }

    /// A direct solver already analysed ([`SparseLu::for_pattern`]).
    pub fn direct(lu: SparseLu) -> Self {
        Self {
            kind: SolverKind::Direct(lu),
            tol: Tolerance::Relative(0.0),
            key: None,
            factorizations: 0,
        }
    }

    /// Prepares `I − aG` (a numeric factorisation, or a multigrid setup) unless the same G
    /// version with the same `a` to [`REUSE_RTOL`] is prepared. The multigrid path falls back
    /// to the direct solve for this G when π is not representable ([`crate::multigrid`]).
    pub fn factor(&mut self, g: &Generator, a: f64, s: f64) -> Result<()> {
        match &mut self.kind {
            SolverKind::Direct(lu) => {
                let before = lu.factorizations();
                lu.factor(g, a, s)?;
                self.factorizations += lu.factorizations() - before;
                Ok(())
            }
            SolverKind::Multigrid {
                mg,
                fallback,
                on_fallback,
            } => {
                if let Some((v, a_old)) = self.key {
                    if v == g.version() && (a - a_old).abs() <= REUSE_RTOL * a.abs() {
                        return Ok(());
                    }
                }
                self.key = None;
                if mg.setup(g, a) {
                    *on_fallback = false;
                } else {
                    if fallback.is_none() {
                        *fallback = Some(SparseLu::new(g)?);
                    }
                    let Some(lu) = fallback.as_mut() else {
                        unreachable!("built above")
                    };
                    lu.factor(g, a, s)?;
                    *on_fallback = true;
                }
                self.key = Some((g.version(), a));
                self.factorizations += 1;
                Ok(())
            }
        }
    }

    /// Solves `(I − aG) x = b` in place with the current preparation.
    pub fn solve_in_place(&mut self, b: &mut [f64]) -> Result<()> {
        match &mut self.kind {
            SolverKind::Direct(lu) => lu.solve_in_place(b),
            SolverKind::Multigrid {
                mg,
                fallback,
                on_fallback,
            } => match (self.key.is_some(), *on_fallback, fallback.as_mut()) {
                (true, true, Some(lu)) => lu.solve_in_place(b),
                (true, false, _) => mg.solve_in_place(b, self.tol).map(|_| ()),
                _ => Err(CgklError::Singular {
                    s: f64::NAN,
                    dt: f64::NAN,
                    msg: "no valid preparation (the last one failed)".into(),
                }),
            },
        }
    }

    /// Numeric factorisations and multigrid setups performed so far.
    pub fn factorizations(&self) -> usize {
        self.factorizations
    }

    /// `"cholesky"`, `"lu"` or `"multigrid"`: the path of the current preparation.
    pub fn path(&self) -> Option<&'static str> {
        match &self.kind {
            SolverKind::Direct(lu) => lu.path(),
            SolverKind::Multigrid {
                fallback,
                on_fallback,
                ..
            } => match (self.key.is_some(), *on_fallback) {
                (false, _) => None,
                (true, false) => Some("multigrid"),
                (true, true) => fallback.as_ref().and_then(|lu| lu.path()),
            },
        }
    }

    /// The multigrid solver's statistics of the last solve (None on the direct path).
    pub fn multigrid_stats(&self) -> Option<crate::multigrid::SolveStats> {
        match &self.kind {
            SolverKind::Multigrid {
                mg,
                on_fallback: false,
                ..
            } => Some(mg.last_solve()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l1(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
    }

    /// The problem of `overrides`, its generator refreshed at `s`, and the Cholesky-first and
    /// the LU-only solvers for it.
    fn both_paths(
        overrides: &[String],
        s: f64,
    ) -> (crate::problem::Problem, Generator, SparseLu, SparseLu) {
        let (pb, g) = crate::problem::refreshed_for_tests(overrides, s);
        let fast = SparseLu::new(&g).unwrap();
        let lu = SparseLu::new_lu(&g).unwrap();
        (pb, g, fast, lu)
    }

    #[test]
    fn nested_dissection_is_a_permutation_with_the_separator_last() {
        for (nx, ny) in [(1, 1), (7, 3), (24, 16), (33, 50)] {
            let (fwd, inv) = nested_dissection(nx, ny);
            let mut seen = fwd.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..nx * ny).collect::<Vec<_>>());
            assert!(fwd.iter().enumerate().all(|(k, &c)| inv[c] == k));
        }
        // 24 × 16: the first cut is the column x = 12, eliminated last
        let (fwd, _) = nested_dissection(24, 16);
        assert!(fwd[fwd.len() - 16..].iter().all(|&c| c % 24 == 12));
    }

    /// The Cholesky path solves the same systems as the LU, conserves mass to round-off also
    /// where a·max rate is large (refinement), and upwind takes the LU.
    #[test]
    fn cholesky_path_agrees_with_lu_for_every_reversible_flux() {
        let base = [
            "grid.nx=24",
            "grid.ny=16",
            "partition.bx=4",
            "partition.by=2",
            "data.kind=textured",
            "forward.eps_fwd=0.3",
            "reverse.eps_rev=0.1",
        ];
        for flux in [
            vec!["reverse.flux.kind=chain_reversal"],
            vec!["reverse.flux.kind=sg", "reverse.flux.eta=0.3"],
            vec!["reverse.flux.kind=potential_sg"],
            vec!["reverse.flux.kind=upwind"],
        ] {
            let ov: Vec<String> = base.iter().chain(&flux).map(|s| s.to_string()).collect();
            let (pb, g, mut fast, mut lu) = both_paths(&ov, 0.004);
            for a in [1e-6, 1e-3, 0.5] {
                fast.factor(&g, a, 0.0).unwrap();
                lu.factor(&g, a, 0.0).unwrap();
                let want = if flux[0].ends_with("upwind") {
                    "lu"
                } else {
                    "cholesky"
                };
                assert_eq!(fast.path(), Some(want), "{flux:?}");
                let (mut x, mut y) = (pb.p0.clone(), pb.p0.clone());
                fast.solve_in_place(&mut x).unwrap();
                lu.solve_in_place(&mut y).unwrap();
                let d = l1(&x, &y);
                assert!(d < 1e-12, "{flux:?} a = {a}: paths differ by {d:.2e}");
                assert!(
                    (x.iter().sum::<f64>() - 1.0).abs() < 1e-14,
                    "{flux:?} a = {a}"
                );
                assert!(x.iter().all(|&v| v >= -1e-15));
                // a signed right side summing to 0 (stages, error estimates): the refined branch
                let n = pb.p0.len() as f64;
                let mut x: Vec<f64> = pb.p0.iter().map(|p| p - 1.0 / n).collect();
                let mut y = x.clone();
                fast.solve_in_place(&mut x).unwrap();
                lu.solve_in_place(&mut y).unwrap();
                let d = l1(&x, &y);
                assert!(
                    d < 1e-12,
                    "{flux:?} a = {a}, signed: paths differ by {d:.2e}"
                );
                assert!(
                    x.iter().sum::<f64>().abs() < 1e-14,
                    "{flux:?} a = {a}, signed"
                );
            }
        }
    }

    /// Thin, odd and tiny grids (where the nested dissection has no cut, or the split of
    /// [`crate::supernodal`] does not apply) solve the same systems as the LU.
    #[test]
    fn odd_grid_shapes_agree_with_lu() {
        for (nx, ny) in [
            (1, 7),
            (7, 1),
            (2, 2),
            (3, 50),
            (50, 3),
            (17, 5),
            (5, 17),
            (31, 33),
        ] {
            let ov: Vec<String> = [
                format!("grid.nx={nx}"),
                format!("grid.ny={ny}"),
                "partition.bx=1".into(),
                "partition.by=1".into(),
                "data.kind=textured".into(),
                "forward.eps_fwd=0.3".into(),
            ]
            .to_vec();
            let (pb, g, mut fast, mut lu) = both_paths(&ov, 0.01);
            for a in [1e-4, 0.3] {
                fast.factor(&g, a, 0.0).unwrap();
                lu.factor(&g, a, 0.0).unwrap();
                assert_eq!(fast.path(), Some("cholesky"), "{nx}×{ny}");
                let (mut x, mut y) = (pb.p0.clone(), pb.p0.clone());
                fast.solve_in_place(&mut x).unwrap();
                lu.solve_in_place(&mut y).unwrap();
                let d = l1(&x, &y);
                assert!(d < 1e-12, "{nx}×{ny}, a = {a}: paths differ by {d:.2e}");
                assert!((x.iter().sum::<f64>() - 1.0).abs() < 1e-14, "{nx}×{ny}");
            }
        }
    }

    /// The spellings are serde's, `auto` picks multigrid only for a moving G on grids of at
    /// least [`MULTIGRID_MIN_CELLS`] cells and a reversible flux, and multigrid with upwind is
    /// a config error.
    #[test]
    fn linear_solver_choices() {
        for c in LinearSolver::ALL {
            let text = toml::to_string(
                &[("s", c)]
                    .into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>(),
            )
            .unwrap();
            assert!(text.contains(&format!("\"{}\"", c.name())), "{text}");
            assert_eq!(c.name().parse::<LinearSolver>().unwrap(), c);
        }
        let (cr, up) = (crate::flux::Flux::ChainReversal, crate::flux::Flux::Upwind);
        let big = MULTIGRID_MIN_CELLS;
        let auto = LinearSolver::Auto;
        assert_eq!(
            auto.resolve(big, cr, false).unwrap(),
            LinearSolver::Multigrid
        );
        assert_eq!(
            auto.resolve(big - 1, cr, false).unwrap(),
            LinearSolver::Direct
        );
        assert_eq!(auto.resolve(big, cr, true).unwrap(), LinearSolver::Direct);
        let huge = DIRECT_MAX_CELLS;
        assert_eq!(auto.resolve(huge, cr, true).unwrap(), LinearSolver::Direct);
        assert_eq!(
            auto.resolve(huge + 1, cr, true).unwrap(),
            LinearSolver::Multigrid
        );
        assert_eq!(
            auto.resolve(4 * huge, up, true).unwrap(),
            LinearSolver::Direct
        );
        assert_eq!(auto.resolve(big, up, false).unwrap(), LinearSolver::Direct);
        let e = LinearSolver::Multigrid.resolve(10, up, true).unwrap_err();
        assert!(
            e.is_input() && e.to_string().contains("flow.linear_solver"),
            "{e}"
        );
        assert!("mg".parse::<LinearSolver>().is_err());
    }

    /// [`direct_factor_values`] is within 6 % of the factor's exact size (the nested-dissection
    /// structure's value count) on squares and a 4:1 rectangle.
    #[test]
    fn factor_size_model_matches_the_structure() {
        for (nx, ny) in [(64, 64), (256, 256), (400, 400), (512, 128)] {
            let g = crate::grid::Grid { nx, ny };
            let (cp, ri, _) = crate::generator::five_point_pattern(g);
            let (fwd, inv) = nested_dissection(nx, ny);
            let (n1, ns) = nested_dissection_top(nx, ny).unwrap();
            let st = grid_structure(&cp, &ri, &fwd, &inv, n1, ns).unwrap();
            let model = direct_factor_values(nx * ny);
            let ratio = model / st.len_val() as f64;
            assert!((0.94..1.06).contains(&ratio), "{nx}x{ny}: {ratio}");
        }
        assert_eq!(direct_factor_values(1), 1.0);
        assert!(LinearSolver::Direct.memory_bytes(1 << 24) > 20 << 30);
        assert_eq!(
            LinearSolver::Multigrid.memory_bytes(1 << 20),
            (8 * 38) << 20
        );
    }

    /// The multigrid [`Solver`] solves the direct solver's systems, counts its setups as
    /// factorisations (reusing one for the same G and a), and falls back to the direct solve
    /// where π is not representable.
    #[test]
    fn multigrid_solver_and_its_fallback() {
        let ov: Vec<String> = [
            "grid.nx=40",
            "grid.ny=30",
            "partition.bx=4",
            "partition.by=3",
            "data.kind=textured",
            "forward.eps_fwd=0.3",
        ]
        .map(String::from)
        .to_vec();
        let (pb, g, _, mut lu) = both_paths(&ov, 0.004);
        let mut mg = Solver::new(&g, LinearSolver::Multigrid, Tolerance::Relative(1e-12)).unwrap();
        for a in [1e-4, 1e-2, 1e-2] {
            mg.factor(&g, a, 0.0).unwrap();
            lu.factor(&g, a, 0.0).unwrap();
            let (mut x, mut y) = (pb.p0.clone(), pb.p0.clone());
            mg.solve_in_place(&mut x).unwrap();
            lu.solve_in_place(&mut y).unwrap();
            assert_eq!(mg.path(), Some("multigrid"));
            assert!(mg.multigrid_stats().unwrap().iterations > 0);
            let d = l1(&x, &y);
            assert!(d < 3e-12, "a = {a}: multigrid and direct differ by {d:.2e}");
        }
        assert_eq!(mg.factorizations(), 2);
        // 600·x over the unit square: κ(max φ − min φ) ≈ 600·(1 − 1/L) ≤ 600 passes; 700 does not
        for (pot, path) in [("590*x", "multigrid"), ("700*x", "cholesky")] {
            let ov: Vec<String> = [
                "grid.nx=16",
                "grid.ny=16",
                "partition.bx=1",
                "partition.by=1",
                "data.kind=brelax",
                "score.kind=potential",
                &format!("score.potential=\"{pot}\""),
                "score.diffusion=1",
                "reverse.flux.kind=potential_sg",
            ]
            .map(String::from)
            .to_vec();
            let (pb, g, _, mut lu) = both_paths(&ov, 0.0);
            let mut s =
                Solver::new(&g, LinearSolver::Multigrid, Tolerance::Relative(1e-11)).unwrap();
            s.factor(&g, 1e-4, 0.0).unwrap();
            lu.factor(&g, 1e-4, 0.0).unwrap();
            assert_eq!(s.path(), Some(path), "{pot}");
            let (mut x, mut y) = (pb.p0.clone(), pb.p0.clone());
            s.solve_in_place(&mut x).unwrap();
            lu.solve_in_place(&mut y).unwrap();
            let d = l1(&x, &y);
            assert!(d < 1e-10, "{pot}: {d:.2e}");
        }
    }
}
