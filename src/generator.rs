//! Master-equation generator G(s) on the grid (SPEC §5): `G[k,i]` = rate i→k for neighbours,
//! `G[i,i] = −Σ_k rate i→k` (columns sum to 0), stored in sprs CSC with a fixed 5-point pattern;
//! [`Generator::refresh`] rewrites the rates in place, `rate = flux(scale(s)·κ_ik/h², φ_k − φ_i)`.

use crate::drive::Drive;
use crate::error::Result;
use crate::flux::Flux;
use crate::grid::Grid;
use crate::partition::Partition;
use sprs::CsMat;

#[derive(Debug, Clone, Copy)]
struct FaceSlot {
    i: usize,
    k: usize,
    kappa: f64,
    /// position of G[k,i] (rate i→k) in the value array
    pos_ki: usize,
    /// position of G[i,k] (rate k→i)
    pos_ik: usize,
}

/// The generator G(s) with its drive, flux and face conductances.
pub struct Generator {
    mat: CsMat<f64>,
    faces: Vec<FaceSlot>,
    diag_pos: Vec<usize>,
    col_ptr: Vec<usize>,
    flux: Flux,
    drive: Box<dyn Drive>,
    phi: Vec<f64>,
    built_at: Option<f64>,
    version: u64,
    max_exit: f64,
    grid: Grid,
}

/// The 5-point pattern of an `nx × ny` grid in CSC, built directly: column i holds the rows
/// i−nx, i−1, i, i+1, i+nx that lie inside the grid, sorted. Returns
/// `(col_ptr, row_idx, diag_pos)`, `diag_pos[i]` the position of entry (i, i).
pub fn five_point_pattern(grid: Grid) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (nx, ny) = (grid.nx, grid.ny);
    let n = grid.n();
    let mut indptr = Vec::with_capacity(n + 1);
    let mut indices = Vec::with_capacity(5 * n);
    let mut diag_pos = Vec::with_capacity(n);
    indptr.push(0);
    for i in 0..n {
        let (ix, iy) = (i % nx, i / nx);
        if iy > 0 {
            indices.push(i - nx);
        }
        if ix > 0 {
            indices.push(i - 1);
        }
        diag_pos.push(indices.len());
        indices.push(i);
        if ix + 1 < nx {
            indices.push(i + 1);
        }
        if iy + 1 < ny {
            indices.push(i + nx);
        }
        indptr.push(indices.len());
    }
    (indptr, indices, diag_pos)
}

impl Generator {
    /// Pattern and conductances: `κ_ik/h²` with κ = 1 inside a block and `eps` across blocks.
    pub fn new(part: &Partition, eps: f64, flux: Flux, drive: Box<dyn Drive>) -> Self {
        let grid: Grid = part.grid();
        let n = grid.n();
        let h2 = grid.h() * grid.h();
        let pairs = grid.faces();
        let (indptr, indices, diag_pos) = five_point_pattern(grid);
        let data = vec![0.0; indices.len()];
        let mat: CsMat<f64> = CsMat::new_csc((n, n), indptr, indices, data);
        let pos = |row: usize, col: usize| -> usize {
            let (start, end) = (
                mat.indptr().raw_storage()[col],
                mat.indptr().raw_storage()[col + 1],
            );
            let idx = &mat.indices()[start..end];
            start
                + idx
                    .binary_search(&row)
                    .unwrap_or_else(|_| unreachable!("5-point pattern holds ({row},{col})"))
        };
        let faces = pairs
            .iter()
            .map(|&(i, k)| FaceSlot {
                i,
                k,
                kappa: if part.same_block(i, k) { 1.0 } else { eps } / h2,
                pos_ki: pos(k, i),
                pos_ik: pos(i, k),
            })
            .collect();
        let col_ptr = mat.indptr().raw_storage().to_vec();
        Self {
            mat,
            faces,
            diag_pos,
            col_ptr,
            flux,
            drive,
            phi: vec![0.0; n],
            built_at: None,
            version: 0,
            max_exit: 0.0,
            grid,
        }
    }

    /// Number of cells n.
    pub fn n(&self) -> usize {
        self.phi.len()
    }

    /// Rewrites the rates for time s (a no-op for a static drive once built). Each change of
    /// the values increments [`Generator::version`], which keys factorisation reuse.
    pub fn refresh(&mut self, s: f64) -> Result<()> {
        if self.built_at == Some(s) || (self.built_at.is_some() && self.drive.is_static()) {
            return Ok(());
        }
        let scale = self.drive.eval(s, &mut self.phi)?;
        let vals = self.mat.data_mut();
        for f in &self.faces {
            let c = scale * f.kappa;
            let d = self.phi[f.k] - self.phi[f.i];
            vals[f.pos_ki] = self.flux.rate(c, d);
            vals[f.pos_ik] = self.flux.rate(c, -d);
        }
        let indptr = &self.col_ptr;
        let mut max_exit: f64 = 0.0;
        for (col, &dp) in self.diag_pos.iter().enumerate() {
            vals[dp] = 0.0;
            let out: f64 = vals[indptr[col]..indptr[col + 1]].iter().sum();
            vals[dp] = -out;
            max_exit = max_exit.max(out);
        }
        if !max_exit.is_finite() {
            return Err(crate::error::CgklError::Invariant {
                step: 0,
                s,
                msg: "the generator has a non-finite rate (overflow of e^d or a non-finite field); check the score/potential".into(),
            });
        }
        self.max_exit = max_exit;
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
        self.max_exit
    }

    /// `out = G p` (sprs CSC matrix–vector product).
    pub fn apply(&self, p: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        sprs::prod::mul_acc_mat_vec_csc(self.mat.view(), p, &mut *out);
    }

    /// Net probability current through every interior face at the last refresh, in the face order
    /// of [`Grid::faces`] (x-faces row by row, then y-faces): `J_ik = G[k,i] p_i − G[i,k] p_k`
    /// (mass per unit time from cell i to its +x or +y neighbour k), so that
    /// `(G p)_i = −Σ_faces ±J` (the discrete divergence). Appends `faces` values to `out`.
    pub fn face_currents(&self, p: &[f64], out: &mut Vec<f64>) {
        let vals = self.mat.data();
        out.extend(
            self.faces
                .iter()
                .map(|f| vals[f.pos_ki] * p[f.i] - vals[f.pos_ik] * p[f.k]),
        );
    }

    /// Number of interior faces.
    pub fn n_faces(&self) -> usize {
        self.faces.len()
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
        self.grid
    }

    /// The face flux.
    pub fn flux(&self) -> Flux {
        self.flux
    }

    /// The cell field φ of the last refresh (the rates depend on its differences).
    pub fn phi(&self) -> &[f64] {
        &self.phi
    }

    /// True when the drive is time independent.
    pub fn is_static(&self) -> bool {
        self.drive.is_static()
    }
}
