//! Master-equation generator G(s) on the grid (SPEC §5): `G[k,i]` = rate i→k for neighbours,
//! `G[i,i] = −Σ_k rate i→k` (columns sum to 0), with
//! `rate i→k = flux(scale(s)·κ_ik/h², φ_k − φ_i)`.
//!
//! One face-rate assembly, two views. [`Generator::refresh`] computes every face's two rates
//! and every exit rate once, by [`FivePoint`]'s assembly (row-parallel, deterministic), into the
//! stencil arrays it keeps ([`Generator::stencil`]: the matrix-free view of the B-relax
//! Chebyshev solver); the pass that sums the exit rates also writes the sprs CSC values with
//! the fixed 5-point pattern ([`Generator::matrix`]: the view faer factorises), reading the
//! rates just computed. No rate is evaluated twice, and the CSC values are written in storage
//! order instead of the scattered writes of a face loop.

use crate::drive::Drive;
use crate::error::Result;
use crate::flux::Flux;
use crate::grid::Grid;
use crate::partition::Partition;
use crate::stencil::{for_each_entry, non_finite_rate, Entry, FivePoint};
use sprs::CsMat;

/// The generator G(s) with its drive, flux and face conductances.
pub struct Generator {
    mat: CsMat<f64>,
    /// The face and exit rates of the last refresh (the assembly both views read).
    stencil: FivePoint,
    /// `κ_ik/h²` of the x-face (i, i+1) and the y-face (i, i+nx) of cell i (0 on the boundary).
    kappa_x: Vec<f64>,
    kappa_y: Vec<f64>,
    diag_pos: Vec<usize>,
    flux: Flux,
    drive: Box<dyn Drive>,
    phi: Vec<f64>,
    built_at: Option<f64>,
    version: u64,
}

/// The 5-point pattern of an `nx × ny` grid in CSC, built directly: column i holds the rows
/// i−nx, i−1, i, i+1, i+nx that lie inside the grid, sorted (the order of
/// `stencil::for_each_entry`). Returns `(col_ptr, row_idx, diag_pos)`, `diag_pos[i]` the
/// position of entry (i, i).
pub fn five_point_pattern(grid: Grid) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let n = grid.n();
    let mut indptr = Vec::with_capacity(n + 1);
    let mut indices = Vec::with_capacity(5 * n);
    let mut diag_pos = Vec::with_capacity(n);
    indptr.push(0);
    for iy in 0..grid.ny {
        for ix in 0..grid.nx {
            for_each_entry(grid, ix, iy, |e, row| {
                if e == Entry::Diagonal {
                    diag_pos.push(indices.len());
                }
                indices.push(row);
            });
            indptr.push(indices.len());
        }
    }
    (indptr, indices, diag_pos)
}

impl Generator {
    /// Pattern and conductances: `κ_ik/h²` with κ = 1 inside a block and `eps` across blocks.
    pub fn new(part: &Partition, eps: f64, flux: Flux, drive: Box<dyn Drive>) -> Self {
        let grid: Grid = part.grid();
        let (nx, ny, n) = (grid.nx, grid.ny, grid.n());
        let h2 = grid.h() * grid.h();
        // κ_ik/h² of the face (i, k) when it lies inside the grid, else 0
        let kappa = |i: usize, k: usize, inside: bool| match inside {
            true => (if part.same_block(i, k) { 1.0 } else { eps }) / h2,
            false => 0.0,
        };
        let kappa_x = (0..n).map(|i| kappa(i, i + 1, i % nx + 1 < nx)).collect();
        let kappa_y = (0..n).map(|i| kappa(i, i + nx, i / nx + 1 < ny)).collect();
        let (indptr, indices, diag_pos) = five_point_pattern(grid);
        let data = vec![0.0; indices.len()];
        let mat: CsMat<f64> = CsMat::new_csc((n, n), indptr, indices, data);
        Self {
            mat,
            stencil: FivePoint::zeros(grid),
            kappa_x,
            kappa_y,
            diag_pos,
            flux,
            drive,
            phi: vec![0.0; n],
            built_at: None,
            version: 0,
        }
    }

    /// Number of cells n.
    pub fn n(&self) -> usize {
        self.phi.len()
    }

    /// Rewrites the rates for time s (a no-op for a static drive once built): the face rates
    /// `flux(scale(s)·κ_ik/h², φ_k − φ_i)` by the stencil assembly, then the CSC values from
    /// them (`G[k,i]` = rate i→k, `G[i,i] = −out_i`). Each change of the values increments
    /// [`Generator::version`], which keys factorisation reuse. Errors if a rate is not finite.
    pub fn refresh(&mut self, s: f64) -> Result<()> {
        if self.built_at == Some(s) || (self.built_at.is_some() && self.drive.is_static()) {
            return Ok(());
        }
        let scale = self.drive.eval(s, &mut self.phi)?;
        let (kx, ky) = (&self.kappa_x, &self.kappa_y);
        self.stencil
            .assemble(
                self.flux,
                |i| scale * kx[i],
                |i| scale * ky[i],
                &self.phi,
                Some(self.mat.data_mut()),
            )
            .map_err(|i| crate::error::CgklError::Invariant {
                step: 0,
                s,
                msg: non_finite_rate(i, "score/potential"),
            })?;
        self.built_at = Some(s);
        self.version += 1;
        Ok(())
    }

    /// Counter that changes whenever the values change.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Largest exit rate `max_i |G_ii|` at the last refresh.
    pub fn max_exit_rate(&self) -> f64 {
        self.stencil.max_exit_rate()
    }

    /// `out = G p`, row by row on the stencil ([`FivePoint::apply`]: each row's five terms in a
    /// fixed order, rows in parallel on large grids, bit-identical whatever the thread count).
    /// It replaced sprs's CSC product (a scatter over columns, one thread), which took 43 % of
    /// `dt_sweep`'s time inside uniformization (`docs/benchmarks.md`, tenth sitting).
    pub fn apply(&self, p: &[f64], out: &mut [f64]) {
        self.stencil.apply(p, out);
    }

    /// Net probability current through every interior face at the last refresh, in the face order
    /// of [`Grid::faces`] (x-faces row by row, then y-faces): `J_ik = G[k,i] p_i − G[i,k] p_k`
    /// (mass per unit time from cell i to its +x or +y neighbour k), so that
    /// `(G p)_i = −Σ_faces ±J` (the discrete divergence). Appends `faces` values to `out`.
    pub fn face_currents(&self, p: &[f64], out: &mut Vec<f64>) {
        self.stencil.face_currents(p, out);
    }

    /// Number of interior faces.
    pub fn n_faces(&self) -> usize {
        self.stencil.n_faces()
    }

    /// The stencil view of the rates of the last refresh (the arrays the CSC values are
    /// copied from).
    pub fn stencil(&self) -> &FivePoint {
        &self.stencil
    }

    /// The CSC matrix (column pointers, row indices and values shared with faer).
    pub fn matrix(&self) -> &CsMat<f64> {
        &self.mat
    }

    /// Positions of the diagonal entries in the value array.
    pub fn diag_positions(&self) -> &[usize] {
        &self.diag_pos
    }

    /// The grid.
    pub fn grid(&self) -> Grid {
        self.stencil.grid()
    }

    /// The face flux.
    pub fn flux(&self) -> Flux {
        self.flux
    }

    /// The cell field φ of the last refresh (the rates depend on its differences).
    pub fn phi(&self) -> &[f64] {
        &self.phi
    }

    /// `(min φ, max φ)` of the last refresh, or `None` if some φ is not finite: the range the
    /// symmetric solves scale by `e^{κφ/2}` (direct) or `e^{κφ}` (multigrid).
    pub fn phi_range(&self) -> Option<(f64, f64)> {
        let (lo, hi) = self
            .phi
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                (l.min(x), h.max(x))
            });
        (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
    }

    /// True when the drive is time independent.
    pub fn is_static(&self) -> bool {
        self.drive.is_static()
    }
}
