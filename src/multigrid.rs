//! Multigrid-preconditioned conjugate gradients for `(I − aG) x = b` with a reversible G
//! (SPEC §5: every flux but upwind), in O(cells) time per iteration and O(cells) memory.
//!
//! **The symmetric system.** Detailed balance `π_i G_ki = π_k G_ik` with `π ∝ e^{κφ}`
//! ([`crate::flux::Flux::reversibility_exponent`]) makes `G = −L Π⁻¹`, `Π = diag(π)`, with L the
//! graph Laplacian of the face conductances `W_ik = √(π_i G_ki · π_k G_ik)` (the geometric mean of
//! the two equal products, so W is symmetric in floating point too). With `x = Π u`:
//!
//! ```text
//! (I − aG) x = b   ⇔   A u = b,   A = Π + aL,   (A u)_i = π_i u_i + a Σ_{k~i} W_ik (u_i − u_k)
//! ```
//! A is symmetric positive definite; it is the symmetrised matrix `I − aS` of [`crate::linsolve`]
//! scaled by `D = √Π` on both sides (`A = D (I − aS) D`), so the two are the same system. This
//! form keeps the Laplacian in difference form (no cancellation of the large diagonal when
//! `a·rate ≫ 1`), its near-null vector is the constant (that of `I − aS` is `√π`, which varies
//! by orders of magnitude), and `1ᵀA u = Σ x`: the residual is measured in masses.
//!
//! **Coarsening.** Geometric 2×2 aggregation of cells (a last column or row of width 1 on odd
//! sides) with piecewise-constant prolongation P and Galerkin coarse operators `Pᵀ A P`,
//! computed exactly in the same form: the coarse mass is the sum of the four masses, the
//! coarse face conductance the sum of the fine conductances across the aggregate face (the
//! faces inside an aggregate drop out). So every level is again "mass + 5-point Laplacian" on a
//! structured grid, the cut conductances `ε·rate` between blocks enter the coarse operators as
//! they are (never averaged away), and rates varying by orders of magnitude (drift, jumps of
//! π) are summed, not interpolated: Galerkin with piecewise constants is the robust choice for
//! jumping coefficients of cell-centred finite volumes (the coarse error of an aggregate that
//! straddles a weak face is a single-cell spike, which the smoother removes). Levels down to at
//! most [`COARSEST_CELLS`] cells, solved there by a dense Cholesky factor.
//!
//! **Cycle.** Unsmoothed aggregation needs a Krylov-accelerated cycle to keep the convergence
//! independent of the number of levels (Notay & Vassilevski 2008; Notay's AGMG; pyamg's
//! `pairwise_aggregation` and `AMLI` cycle do the same): the K-cycle, which on every coarse
//! level where the grid shrank at least 3-fold solves by up to two steps of flexible CG
//! preconditioned by the next level's cycle (the second only if the first left more than a
//! quarter of the residual), else by one cycle. Smoother: one red–black Gauss–Seidel sweep
//! before (red, then black) and one after (black, then red) the coarse correction. Every
//! update of a colour reads only the other colour, and every sum runs over fixed chunks added
//! in order: on levels of at least [`PARALLEL_MIN_CELLS`] cells the rows run in parallel bands
//! (the smoother reading copies of its bands' boundary rows), and the result does not depend
//! on the thread count (tested bit for bit at 1, 2 and 3 threads).
//! Outer iteration: flexible CG (FCG(1), Notay 2000), as the K-cycle is not a fixed linear map.
//!
//! **Stopping rule.** `R = (I − aG)⁻¹` is a Markov kernel, so `‖R‖₁ = 1` and the solve's L1
//! error is at most its residual's: `‖x − x★‖₁ ≤ ‖r‖₁`, `r = b − (I − aG)x` evaluated with G
//! itself (the stencil rates, not the symmetrised copy). A solve stops when `‖r‖₁ ≤ τ‖b‖₁`
//! (for a probability vector, τ times the mass), with τ tied to the calling step's own error
//! ([`Tolerance`]): for implicit Euler `τ = 10⁻³ ê`, clamped to `[τ_min, 10⁻⁸]`, with
//! `ê = ½‖x − b − aGb‖₁/‖b‖₁ ≈ ½a²‖G²b‖₁/‖b‖₁` the step's local error against `e^{aG}b`
//! (measured once the iterate meets 10⁻⁸); for the other methods a fraction of their own
//! tolerance. `τ_min = max(10⁻¹³, 20·ε_mach·(1 + aΛ))` is the level the residual can be
//! evaluated to (Λ the largest exit rate). More than [`MAX_ITERATIONS`] iterations is an error
//! that names the way out (`flow.linear_solver = "direct"`).
//!
//! **Mass and sign.** For `b ≥ 0` the exact solution is ≥ 0, and the iterate differs from it by
//! at most `‖r‖₁` in L1, so any negative entry is bounded by the tolerance. It is removed by
//! one Jacobi step of the original M-matrix from the clipped iterate,
//! `x_i ← (b_i + a Σ_k G_ik x⁺_k)/(1 + a·out_i)`: every term is ≥ 0, so the result is ≥ 0
//! exactly (also in floating point), and its residual `N M⁻¹ r⁺` is checked against τ again
//! (further iterations from it if not met). Then the mass: `1ᵀ(I − aG) = 1ᵀ` makes
//! `Σx − Σb = −Σr`, and as in [`crate::linsolve`] a non-negative solution is rescaled by
//! `Σb/Σx` (keeps the sign; changes x by `|Σr| ≤ ‖r‖₁` in L1), a signed one (stages, error
//! estimates) shifted along π, `x += ((Σb − Σx)/Σπ)·π` (π is G's null vector, so the residual
//! only loses its sum). Either way `Σx = Σb` to round-off, and `‖x − x★‖₁ ≤ 2τ‖b‖₁`. Where
//! faces of conductance 0 (ε = 0) cut the grid into isolated blocks, the exact solve keeps every
//! block's mass, and so does the correction: it is made per connected component of the face
//! graph (labelled at setup, only when some face is 0).
//!
//! **Range.** π is formed as `e^{κ(φ − φ_mid)}`; the solver refuses (and the caller falls back
//! to the direct solve) when `κ(max φ − min φ) > `[`MAX_LOG_RANGE`], where products of π and
//! `u = x/π` could overflow.
//!
//! Own code rather than a crate: no maintained Rust multigrid crate takes a structured
//! 5-point operator with a guarantee of bit-identical results for any thread count (the
//! candidates are generic AMG on their own matrix types, some with hash-map aggregation).
//! Memory: about 22 values per cell in all (18 on the fine level, ≈ 10/3 on the coarse ones;
//! the direct factor grows as n log n: 1.44 GB against 0.59 GB for a whole run at 1024²).

use crate::error::{CgklError, Result};
use crate::generator::Generator;
use crate::grid::Grid;
use rayon::prelude::*;

/// Coarsening stops at a level with at most this many cells (solved by dense Cholesky).
pub const COARSEST_CELLS: usize = 64;

/// Outer iterations after which a solve is an error.
pub const MAX_ITERATIONS: usize = 200;

/// Largest `κ(max φ − min φ)` for which the multigrid path forms π (π within e^{±300}).
pub const MAX_LOG_RANGE: f64 = 600.0;

/// The K-cycle takes a second inner step when the first left more than this fraction of the
/// coarse residual (Notay's t = 0.25).
const K_CYCLE_T: f64 = 0.25;

/// Values per chunk of an ordered sum (sums run chunk by chunk, partials added in order).
const SUM_CHUNK: usize = 4096;

/// Levels of at least this many cells run their kernels in parallel bands of rows. A cycle
/// makes some 40 passes over its levels, each a hand-over to the pool and back (tens of µs on
/// the 2-vCPU VM), so the threshold is higher than the stencil's
/// ([`crate::stencil::PARALLEL_MIN_CELLS`]).
pub const PARALLEL_MIN_CELLS: usize = 1 << 18;

/// One chunk of the FCG update `u += αp`, `r −= αq`: `((u, r), (p, q))`.
type UpdateChunks<'a> = ((&'a mut [f64], &'a mut [f64]), (&'a [f64], &'a [f64]));

/// Whether work on `n` cells goes to the pool ([`PARALLEL_MIN_CELLS`], and a pool of more
/// than one thread: the bands give the same bits either way).
fn parallel(n: usize) -> bool {
    n >= PARALLEL_MIN_CELLS && rayon::current_num_threads() > 1
}

/// How a solve's tolerance τ (`‖r‖₁ ≤ τ‖b‖₁`) is tied to the calling step's error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// A fixed relative tolerance τ (a method's own tolerance times a safety factor).
    Relative(f64),
    /// Implicit Euler: `τ = 10⁻³ ê` within `[τ_min, 10⁻⁸]`, ê the step's local error estimate
    /// `½‖x − b − aGb‖₁/‖b‖₁` (module doc).
    ImplicitEuler,
}

/// What the last solve did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SolveStats {
    /// Outer (FCG) iterations.
    pub iterations: usize,
    /// The tolerance τ the solve met.
    pub tol: f64,
    /// `‖r‖₁/‖b‖₁` of the returned x before the mass correction.
    pub residual: f64,
    /// Jacobi steps taken to remove negative entries.
    pub positivity_steps: usize,
}

/// The operator of one level: `A = diag(m) + 5-point Laplacian(wx, wy)` on an `nx × ny`
/// grid. Vectors read at neighbours are padded by `pad = nx + 1` zeros on both sides, so
/// `v[i − 1]`, `v[i + nx]`, … exist for every cell and the boundary faces (weight 0) need no
/// branch; cell i lives at `pad + i`.
struct Op {
    nx: usize,
    ny: usize,
    pad: usize,
    /// Mass (the diagonal part), unpadded.
    m: Vec<f64>,
    /// `a·W` of the x-face (i, i+1), 0 in the last column; padded.
    wx: Vec<f64>,
    /// `a·W` of the y-face (i, i+nx), 0 in the last row; padded.
    wy: Vec<f64>,
    /// `m_i + Σ` of the four face weights, unpadded.
    diag: Vec<f64>,
}

impl Op {
    fn n(&self) -> usize {
        self.nx * self.ny
    }

    /// The cells of a padded vector.
    fn cells(&self) -> std::ops::Range<usize> {
        self.pad..self.pad + self.n()
    }

    /// `diag = m + Σ faces` from m, wx, wy.
    fn finish(&mut self) {
        let (nx, p) = (self.nx, self.pad);
        for i in 0..self.n() {
            let j = p + i;
            self.diag[i] = self.m[i] + self.wx[j - 1] + self.wx[j] + self.wy[j - nx] + self.wy[j];
        }
    }

    /// The slices of row `iy` a 5-point kernel reads: `(j0, wx_left, wx_right, wy_south,
    /// wy_north)`, j0 the padded index of the row's first cell, each slice of length nx.
    #[inline]
    fn row_weights(&self, iy: usize) -> (usize, &[f64], &[f64], &[f64], &[f64]) {
        let nx = self.nx;
        let j0 = self.pad + iy * nx;
        (
            j0,
            &self.wx[j0 - 1..j0 - 1 + nx],
            &self.wx[j0..j0 + nx],
            &self.wy[j0 - nx..j0],
            &self.wy[j0..j0 + nx],
        )
    }

    /// Rows per band of the row-parallel kernels (about 16384 cells; the result does not
    /// depend on it).
    fn band_rows(&self) -> usize {
        (16384 / self.nx).max(4)
    }

    /// Whether this level's kernels run on the pool ([`parallel`]).
    fn parallel(&self) -> bool {
        parallel(self.n())
    }

    /// `out = A v` (padded vectors), the Laplacian in difference form:
    /// `(A v)_i = m_i v_i + Σ_k w_ik (v_i − v_k)`; rows in parallel bands on large levels.
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        let (nx, rows) = (self.nx, self.band_rows());
        let band = |(k, o): (usize, &mut [f64])| {
            crate::simd_state::clear_upper_state();
            for (r, o) in o.chunks_mut(nx).enumerate() {
                self.apply_row(v, k * rows + r, o);
            }
        };
        let cells = self.cells();
        if self.parallel() {
            out[cells]
                .par_chunks_mut(rows * nx)
                .enumerate()
                .for_each(band);
        } else {
            out[cells].chunks_mut(rows * nx).enumerate().for_each(band);
        }
    }

    /// `o = (A v)` on row `iy` (`o.len() = nx`, padded v).
    #[inline]
    fn apply_row(&self, v: &[f64], iy: usize, o: &mut [f64]) {
        let nx = self.nx;
        let (j0, wl, wr, ws, wn) = self.row_weights(iy);
        let m = &self.m[iy * nx..(iy + 1) * nx];
        let (vl, vc, vr) = (
            &v[j0 - 1..j0 - 1 + nx],
            &v[j0..j0 + nx],
            &v[j0 + 1..j0 + 1 + nx],
        );
        let (vs, vn) = (&v[j0 - nx..j0], &v[j0 + nx..j0 + 2 * nx]);
        let o = &mut o[..nx];
        for k in 0..nx {
            let c = vc[k];
            o[k] = m[k] * c
                + wl[k] * (c - vl[k])
                + wr[k] * (c - vr[k])
                + ws[k] * (c - vs[k])
                + wn[k] * (c - vn[k]);
        }
    }

    /// `out = (b − A x)` on row `iy` (`out.len() = nx`; padded x and b).
    #[inline]
    fn residual_row(&self, x: &[f64], b: &[f64], iy: usize, o: &mut [f64]) {
        let nx = self.nx;
        let (j0, wl, wr, ws, wn) = self.row_weights(iy);
        let m = &self.m[iy * nx..(iy + 1) * nx];
        let (vl, vc, vr) = (
            &x[j0 - 1..j0 - 1 + nx],
            &x[j0..j0 + nx],
            &x[j0 + 1..j0 + 1 + nx],
        );
        let (vs, vn) = (&x[j0 - nx..j0], &x[j0 + nx..j0 + 2 * nx]);
        let bb = &b[j0..j0 + nx];
        let o = &mut o[..nx];
        for k in 0..nx {
            let c = vc[k];
            o[k] = bb[k]
                - (m[k] * c
                    + wl[k] * (c - vl[k])
                    + wr[k] * (c - vr[k])
                    + ws[k] * (c - vs[k])
                    + wn[k] * (c - vn[k]));
        }
    }

    /// The first half-sweep from x = 0: `x = b/diag` on colour 0, 0 on colour 1.
    fn relax_from_zero(&self, x: &mut [f64], b: &[f64]) {
        let (nx, rows) = (self.nx, self.band_rows());
        let band = |(k, xs): (usize, &mut [f64])| {
            crate::simd_state::clear_upper_state();
            for (r, row) in xs.chunks_mut(nx).enumerate() {
                let iy = k * rows + r;
                let j0 = self.pad + iy * nx;
                let d = &self.diag[iy * nx..(iy + 1) * nx];
                let bb = &b[j0..j0 + nx];
                for (k, (xk, (&bk, &dk))) in row.iter_mut().zip(bb.iter().zip(d)).enumerate() {
                    *xk = if (k + iy) % 2 == 0 { bk / dk } else { 0.0 };
                }
            }
        };
        let cells = self.cells();
        if self.parallel() {
            x[cells]
                .par_chunks_mut(rows * nx)
                .enumerate()
                .for_each(band);
        } else {
            x[cells].chunks_mut(rows * nx).enumerate().for_each(band);
        }
    }

    /// One half-sweep of Gauss–Seidel on the cells of colour `(ix + iy) mod 2 = colour`:
    /// `x_i = (b_i + Σ_k w_ik x_k)/diag_i`. It reads the other colour only, so the rows are
    /// independent: on large levels they run in parallel bands, each reading its two
    /// neighbouring rows from `halo` (copied before, `2·nx` per band), with the same result.
    fn relax(&self, x: &mut [f64], b: &[f64], colour: usize, halo: &mut [f64]) {
        let (nx, ny, pad) = (self.nx, self.ny, self.pad);
        if !self.parallel() {
            for iy in 0..ny {
                let j0 = pad + iy * nx;
                // the row and its two neighbours: [j0 − nx, j0 + 2nx)
                let (south, rest) = x[j0 - nx..j0 + 2 * nx].split_at_mut(nx);
                let (row, north) = rest.split_at_mut(nx);
                self.relax_row(iy, row, south, north, b, colour);
            }
            return;
        }
        let rows = self.band_rows();
        let cells = &mut x[pad..pad + nx * ny];
        let bands = ny.div_ceil(rows);
        for (k, h) in halo.chunks_mut(2 * nx).take(bands).enumerate() {
            let (r0, r1) = (k * rows, ((k + 1) * rows).min(ny));
            if r0 > 0 {
                h[..nx].copy_from_slice(&cells[(r0 - 1) * nx..r0 * nx]);
            }
            if r1 < ny {
                h[nx..].copy_from_slice(&cells[r1 * nx..(r1 + 1) * nx]);
            }
        }
        cells
            .par_chunks_mut(rows * nx)
            .zip(halo.par_chunks(2 * nx))
            .enumerate()
            .for_each(|(k, (band, h))| {
                crate::simd_state::clear_upper_state();
                let (south_halo, north_halo) = h.split_at(nx);
                let n_rows = band.len() / nx;
                for r in 0..n_rows {
                    let (before, rest) = band.split_at_mut(r * nx);
                    let (row, after) = rest.split_at_mut(nx);
                    let south = if r == 0 {
                        south_halo
                    } else {
                        &before[(r - 1) * nx..]
                    };
                    let north = if r + 1 == n_rows {
                        north_halo
                    } else {
                        &after[..nx]
                    };
                    self.relax_row(k * rows + r, row, south, north, b, colour);
                }
            });
    }

    /// The half-sweep on row `iy` (`row`, and its neighbouring rows `south`, `north`; their
    /// weights are 0 on the boundary).
    #[inline]
    fn relax_row(
        &self,
        iy: usize,
        row: &mut [f64],
        south: &[f64],
        north: &[f64],
        b: &[f64],
        colour: usize,
    ) {
        let nx = self.nx;
        let (j0, wl, wr, ws, wn) = self.row_weights(iy);
        let d = &self.diag[iy * nx..(iy + 1) * nx];
        let bb = &b[j0..j0 + nx];
        let (south, north) = (&south[..nx], &north[..nx]);
        let mut k = (colour + iy) % 2;
        while k < nx {
            let left = if k > 0 { row[k - 1] } else { 0.0 };
            let right = if k + 1 < nx { row[k + 1] } else { 0.0 };
            let s = bb[k] + wl[k] * left + wr[k] * right + ws[k] * south[k] + wn[k] * north[k];
            row[k] = s / d[k];
            k += 2;
        }
    }
}

/// One level: its operator and work vectors (all padded).
struct Level {
    op: Op,
    /// Iterate and right side; row buffers of the restriction (the residual of one row, one
    /// per band of coarse rows) and the halo rows of the parallel smoother (two per band).
    x: Vec<f64>,
    b: Vec<f64>,
    r: Vec<f64>,
    halo: Vec<f64>,
    /// K-cycle work (coarse levels): the level's right side, the first direction and the
    /// operator applied to both directions.
    kb: Vec<f64>,
    c1: Vec<f64>,
    v1: Vec<f64>,
    v2: Vec<f64>,
}

impl Level {
    fn new(nx: usize, ny: usize, coarse: bool) -> Self {
        let n = nx * ny;
        let pad = nx + 1;
        let v = |on: bool| vec![0.0; if on { n + 2 * pad } else { 0 }];
        let op = Op {
            nx,
            ny,
            pad,
            m: vec![0.0; n],
            wx: v(true),
            wy: v(true),
            diag: vec![0.0; n],
        };
        let rows = op.band_rows();
        let coarse_bands = ny.div_ceil(2).div_ceil((rows / 2).max(1));
        let halo = if op.parallel() {
            2 * nx * ny.div_ceil(rows)
        } else {
            0
        };
        Self {
            op,
            x: v(true),
            b: v(true),
            r: vec![0.0; nx * coarse_bands],
            halo: vec![0.0; halo],
            kb: v(coarse),
            c1: v(coarse),
            v1: v(coarse),
            v2: v(coarse),
        }
    }

    fn n(&self) -> usize {
        self.op.n()
    }
}

/// Dense Cholesky factor of the coarsest level.
struct Coarsest {
    n: usize,
    /// Lower triangle, row-major n × n.
    l: Vec<f64>,
    y: Vec<f64>,
}

impl Coarsest {
    fn new(n: usize) -> Self {
        Self {
            n,
            l: vec![0.0; n * n],
            y: vec![0.0; n],
        }
    }

    /// Factorises the level's matrix; false if it is not positive definite.
    fn factor(&mut self, op: &Op) -> bool {
        let (n, nx, p) = (self.n, op.nx, op.pad);
        let l = &mut self.l;
        l.fill(0.0);
        for i in 0..n {
            l[i * n + i] = op.diag[i];
            if i + 1 < n {
                l[(i + 1) * n + i] = -op.wx[p + i];
            }
            if i + nx < n {
                l[(i + nx) * n + i] = -op.wy[p + i];
            }
        }
        for k in 0..n {
            let (head, tail) = l.split_at_mut((k + 1) * n);
            let row_k = &mut head[k * n..];
            let d = row_k[k] - dot(&row_k[..k], &row_k[..k]);
            if d.is_nan() || d <= 0.0 {
                return false;
            }
            let d = d.sqrt();
            row_k[k] = d;
            for row_i in tail.chunks_mut(n) {
                row_i[k] = (row_i[k] - dot(&row_i[..k], &row_k[..k])) / d;
            }
        }
        true
    }

    /// `x = A⁻¹ b` on the level's cells (padded vectors).
    fn solve(&mut self, op: &Op, b: &[f64], x: &mut [f64]) {
        let (n, p) = (self.n, op.pad);
        for i in 0..n {
            let s = b[p + i] - dot(&self.l[i * n..i * n + i], &self.y[..i]);
            self.y[i] = s / self.l[i * n + i];
        }
        for i in (0..n).rev() {
            let mut s = self.y[i];
            for t in i + 1..n {
                s -= self.l[t * n + i] * self.y[t];
            }
            self.y[i] = s / self.l[i * n + i];
        }
        x[p..p + n].copy_from_slice(&self.y);
    }
}

/// `Σ_i a_i b_i` over fixed chunks, partials added in order.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.chunks(SUM_CHUNK)
        .zip(b.chunks(SUM_CHUNK))
        .map(|(x, y)| x.iter().zip(y).map(|(u, v)| u * v).sum::<f64>())
        .fold(0.0, |s, c| s + c)
}

/// [`dot`] with the chunks' partial sums computed on the pool for long vectors (into
/// `partials`, capacity made before): the same sums in the same order, so the same bits.
fn pdot(a: &[f64], b: &[f64], partials: &mut Vec<f64>) -> f64 {
    if !parallel(a.len()) {
        return dot(a, b);
    }
    a.par_chunks(SUM_CHUNK)
        .zip(b.par_chunks(SUM_CHUNK))
        .map(|(x, y)| x.iter().zip(y).map(|(u, v)| u * v).sum::<f64>())
        .collect_into_vec(partials);
    partials.iter().fold(0.0, |s, c| s + c)
}

/// [`norm1`] with the chunks on the pool for long vectors (as [`pdot`]).
fn pnorm1(a: &[f64], partials: &mut Vec<f64>) -> f64 {
    if !parallel(a.len()) {
        return norm1(a);
    }
    a.par_chunks(SUM_CHUNK)
        .map(|x| x.iter().map(|u| u.abs()).sum::<f64>())
        .collect_into_vec(partials);
    partials.iter().fold(0.0, |s, c| s + c)
}

/// `Σ_i |a_i|` over fixed chunks.
fn norm1(a: &[f64]) -> f64 {
    a.chunks(SUM_CHUNK)
        .map(|x| x.iter().map(|u| u.abs()).sum::<f64>())
        .fold(0.0, |s, c| s + c)
}

/// `Σ_i a_i` over fixed chunks.
fn sum(a: &[f64]) -> f64 {
    a.chunks(SUM_CHUNK)
        .map(|x| x.iter().sum::<f64>())
        .fold(0.0, |s, c| s + c)
}

/// The fine residual `b − A x` restricted by `Pᵀ` (sums over the 2×2 aggregates) into the
/// coarse right side, coarse row by coarse row through a row buffer of `row` (`nx` values per
/// band of coarse rows; the residual is not stored); bands in parallel on large levels.
fn residual_restrict(f: &Op, x: &[f64], b: &[f64], row: &mut [f64], c: &Op, bc: &mut [f64]) {
    let rows = (f.band_rows() / 2).max(1);
    let band = |(k, (out, buf)): (usize, (&mut [f64], &mut [f64]))| {
        crate::simd_state::clear_upper_state();
        for (r, out) in out.chunks_mut(c.nx).enumerate() {
            let cy = k * rows + r;
            out.fill(0.0);
            for iy in 2 * cy..(2 * cy + 2).min(f.ny) {
                f.residual_row(x, b, iy, buf);
                for (o, pair) in out.iter_mut().zip(buf[..f.nx].chunks(2)) {
                    *o += pair.iter().sum::<f64>();
                }
            }
        }
    };
    let cells = c.cells();
    if f.parallel() {
        let it = bc[cells]
            .par_chunks_mut(rows * c.nx)
            .zip(row.par_chunks_mut(f.nx));
        it.enumerate().for_each(band);
    } else {
        let it = bc[cells].chunks_mut(rows * c.nx).zip(row.chunks_mut(f.nx));
        it.enumerate().for_each(band);
    }
}

/// Prolongation P (piecewise constant) of the coarse x, added to the fine x; bands of fine
/// rows in parallel on large levels.
fn prolong_add(c: &Op, xc: &[f64], f: &Op, x: &mut [f64]) {
    let (pc, rows) = (c.pad, f.band_rows());
    let band = |(k, xs): (usize, &mut [f64])| {
        crate::simd_state::clear_upper_state();
        for (r, fine) in xs.chunks_mut(f.nx).enumerate() {
            let iy = k * rows + r;
            let from = &xc[pc + (iy / 2) * c.nx..pc + (iy / 2 + 1) * c.nx];
            for (pair, &v) in fine.chunks_mut(2).zip(from) {
                for e in pair {
                    *e += v;
                }
            }
        }
    };
    let cells = f.cells();
    if f.parallel() {
        x[cells]
            .par_chunks_mut(rows * f.nx)
            .enumerate()
            .for_each(band);
    } else {
        x[cells].chunks_mut(rows * f.nx).enumerate().for_each(band);
    }
}

/// The Galerkin operator `Pᵀ A P` of `f` into `c` (sums of masses and of crossing faces).
fn galerkin(f: &Op, c: &mut Op) {
    let (pf, pc) = (f.pad, c.pad);
    c.m.fill(0.0);
    c.wx.fill(0.0);
    c.wy.fill(0.0);
    for iy in 0..f.ny {
        let (cy, odd_y) = (iy / 2, iy % 2 == 1);
        for ix in 0..f.nx {
            let (cx, odd_x) = (ix / 2, ix % 2 == 1);
            let (i, ci) = (iy * f.nx + ix, cy * c.nx + cx);
            c.m[ci] += f.m[i];
            // a face leaving the aggregate eastwards starts at an odd column, northwards at
            // an odd row (the last column's and row's weights are 0)
            if odd_x {
                c.wx[pc + ci] += f.wx[pf + i];
            }
            if odd_y {
                c.wy[pc + ci] += f.wy[pf + i];
            }
        }
    }
    c.finish();
}

/// One cycle on `lv[0]` (right side `b`, result `x`): pre-smoothing, coarse correction (a
/// K-cycle step where the next level is at least 3× smaller and not the coarsest, else one
/// cycle there), and post-smoothing in the reverse colour order.
fn cycle(lv: &mut [Level], cs: &mut Coarsest) {
    let Some((f, rest)) = lv.split_first_mut() else {
        return;
    };
    if rest.is_empty() {
        cs.solve(&f.op, &f.b, &mut f.x);
        return;
    }
    let n = f.n();
    f.op.relax_from_zero(&mut f.x, &f.b);
    f.op.relax(&mut f.x, &f.b, 1, &mut f.halo);
    {
        let c = &mut rest[0];
        residual_restrict(&f.op, &f.x, &f.b, &mut f.r, &c.op, &mut c.b);
    }
    if rest.len() > 1 && 3 * rest[0].n() <= n {
        k_step(rest, cs);
    } else {
        cycle(rest, cs);
    }
    prolong_add(&rest[0].op, &rest[0].x, &f.op, &mut f.x);
    f.op.relax(&mut f.x, &f.b, 1, &mut f.halo);
    f.op.relax(&mut f.x, &f.b, 0, &mut f.halo);
}

/// Up to two flexible-CG steps on `lv[0]` (right side `b`, result `x`) from 0, preconditioned
/// by [`cycle`] (Notay's K-cycle).
fn k_step(lv: &mut [Level], cs: &mut Coarsest) {
    {
        let c = &mut lv[0];
        c.kb.copy_from_slice(&c.b);
    }
    cycle(lv, cs);
    let c = &mut lv[0];
    let r = c.op.cells();
    c.c1.copy_from_slice(&c.x);
    c.op.apply(&c.c1, &mut c.v1);
    let rho1 = dot(&c.c1[r.clone()], &c.v1[r.clone()]);
    let alpha1 = dot(&c.c1[r.clone()], &c.kb[r.clone()]);
    if rho1.is_nan() || rho1 <= 0.0 {
        return;
    }
    let s1 = alpha1 / rho1;
    for j in r.clone() {
        c.b[j] = c.kb[j] - s1 * c.v1[j];
    }
    let rt = dot(&c.b[r.clone()], &c.b[r.clone()]);
    let r0 = dot(&c.kb[r.clone()], &c.kb[r.clone()]);
    if rt <= K_CYCLE_T * K_CYCLE_T * r0 {
        for j in r {
            c.x[j] = s1 * c.c1[j];
        }
        return;
    }
    cycle(lv, cs);
    let c = &mut lv[0];
    c.op.apply(&c.x, &mut c.v2);
    let gamma = dot(&c.x[r.clone()], &c.v1[r.clone()]);
    let beta = dot(&c.x[r.clone()], &c.v2[r.clone()]);
    let alpha2 = dot(&c.x[r.clone()], &c.b[r.clone()]);
    let rho2 = beta - gamma * gamma / rho1;
    if rho2.is_nan() || rho2 <= 0.0 {
        for j in r {
            c.x[j] = s1 * c.c1[j];
        }
        return;
    }
    let (k1, k2) = (s1 - gamma * alpha2 / (rho1 * rho2), alpha2 / rho2);
    for j in r {
        c.x[j] = k1 * c.c1[j] + k2 * c.x[j];
    }
}

/// `out = G v` from G's rates `[out, east, west, north, south]` (the stencil layout of
/// [`crate::stencil::FivePoint`]), unpadded vectors; with `diagonal = false` only the
/// off-diagonal part (the inflow `Σ_k G_ik v_k`).
fn apply_g(grid: Grid, rates: &[Vec<f64>; 5], v: &[f64], out: &mut [f64], diagonal: bool) {
    let (nx, ny) = (grid.nx, grid.ny);
    let [o, e, w, nn, s] = rates;
    for iy in 0..ny {
        for ix in 0..nx {
            let i = iy * nx + ix;
            let mut acc = if diagonal { -o[i] * v[i] } else { 0.0 };
            if ix > 0 {
                acc += e[i - 1] * v[i - 1];
            }
            if ix + 1 < nx {
                acc += w[i] * v[i + 1];
            }
            if iy > 0 {
                acc += nn[i - nx] * v[i - nx];
            }
            if iy + 1 < ny {
                acc += s[i] * v[i + nx];
            }
            out[i] = acc;
        }
    }
}

/// The multigrid solver for `(I − aG) x = b` on a fixed grid (module doc): levels sized once
/// by [`Multigrid::new`], values set per (G, a) by [`Multigrid::setup`], solves by
/// [`Multigrid::solve_in_place`].
pub struct Multigrid {
    grid: Grid,
    kappa: f64,
    levels: Vec<Level>,
    coarse: Coarsest,
    /// G's rates `[out, east, west, north, south]` (the stencil layout) of the last setup.
    rates: [Vec<f64>; 5],
    /// π of the last setup.
    pi: Vec<f64>,
    a: f64,
    max_exit: f64,
    /// Outer work (unpadded): u, r, the direction p (padded, read at neighbours), q = A p,
    /// x = Π u, and aGb.
    u: Vec<f64>,
    r: Vec<f64>,
    p: Vec<f64>,
    q: Vec<f64>,
    x: Vec<f64>,
    gb: Vec<f64>,
    /// Connected components of the face graph (faces with W > 0; several where ε = 0 cuts
    /// the grid into isolated blocks): the label of each cell (empty for one component) and
    /// the per-component sums of the mass correction; the DFS stack.
    comp: Vec<u32>,
    comp_sums: Vec<[f64; 3]>,
    stack: Vec<u32>,
    /// Partial sums of the parallel dot products (one per [`SUM_CHUNK`] cells).
    partials: Vec<f64>,
    ready: bool,
    last: SolveStats,
}

impl Multigrid {
    /// The level hierarchy of an `nx × ny` grid for a reversible flux with exponent κ:
    /// 2×2 aggregation until at most [`COARSEST_CELLS`] cells (or one cell). Allocates all
    /// work arrays (about 22 values per cell).
    pub fn new(grid: Grid, kappa: f64) -> Self {
        let (mut nx, mut ny) = (grid.nx, grid.ny);
        let mut levels = vec![Level::new(nx, ny, false)];
        while nx * ny > COARSEST_CELLS && (nx > 1 || ny > 1) {
            nx = nx.div_ceil(2);
            ny = ny.div_ceil(2);
            levels.push(Level::new(nx, ny, true));
        }
        let n = grid.n();
        let pad = levels[0].op.pad;
        Self {
            grid,
            kappa,
            levels,
            coarse: Coarsest::new(nx * ny),
            rates: std::array::from_fn(|_| vec![0.0; n]),
            pi: vec![0.0; n],
            a: 0.0,
            max_exit: 0.0,
            u: vec![0.0; n],
            r: vec![0.0; n],
            p: vec![0.0; n + 2 * pad],
            q: vec![0.0; n + 2 * pad],
            x: vec![0.0; n],
            gb: vec![0.0; n],
            comp: Vec::new(),
            comp_sums: Vec::new(),
            stack: Vec::new(),
            partials: Vec::with_capacity(n.div_ceil(SUM_CHUNK)),
            ready: false,
            last: SolveStats::default(),
        }
    }

    /// Number of levels (the fine grid included).
    pub fn n_levels(&self) -> usize {
        self.levels.len()
    }

    /// The statistics of the last solve.
    pub fn last_solve(&self) -> SolveStats {
        self.last
    }

    /// Sets the levels for `I − aG` from G's stencil rates and φ. Returns false (no solve is
    /// possible until a setup succeeds) when π is not representable
    /// (`κ·(max φ − min φ) >` [`MAX_LOG_RANGE`]), φ or a weight is not finite, or the coarsest
    /// matrix is not positive definite.
    pub fn setup(&mut self, g: &Generator, a: f64) -> bool {
        self.ready = false;
        let st = g.stencil();
        if st.grid() != self.grid {
            return false;
        }
        let phi = g.phi();
        let Some((lo, hi)) = g.phi_range() else {
            return false;
        };
        if self.kappa * (hi - lo) > MAX_LOG_RANGE {
            return false;
        }
        let mid = 0.5 * (lo + hi);
        let kappa = self.kappa;
        for (src, dst) in st.rates().iter().zip(self.rates.iter_mut()) {
            dst.copy_from_slice(src);
        }
        // √π_i = e^{κ(φ_i − φ_mid)/2} (in x, scratch), π_i = (√π_i)²
        for ((p, d), &f) in self.pi.iter_mut().zip(self.x.iter_mut()).zip(phi) {
            *d = (0.5 * kappa * (f - mid)).exp();
            *p = *d * *d;
        }
        self.a = a;
        self.max_exit = st.max_exit_rate();
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        let [_, east, west, north, south] = &self.rates;
        let d = &self.x;
        let op = &mut self.levels[0].op;
        let pad = op.pad;
        op.m.copy_from_slice(&self.pi);
        for iy in 0..ny {
            for ix in 0..nx {
                let i = iy * nx + ix;
                // W = √(π_i π_k)·√(G_ki G_ik)
                op.wx[pad + i] = if ix + 1 < nx {
                    a * (d[i] * d[i + 1]) * (east[i] * west[i]).sqrt()
                } else {
                    0.0
                };
                op.wy[pad + i] = if iy + 1 < ny {
                    a * (d[i] * d[i + nx]) * (north[i] * south[i]).sqrt()
                } else {
                    0.0
                };
            }
        }
        op.finish();
        if !op.diag.iter().all(|d| d.is_finite() && *d > 0.0) {
            return false;
        }
        for k in 1..self.levels.len() {
            let (f, c) = self.levels.split_at_mut(k);
            galerkin(&f[k - 1].op, &mut c[0].op);
        }
        let last = &self.levels[self.levels.len() - 1].op;
        self.ready = self.coarse.factor(last);
        self.label_components();
        self.ready
    }

    /// Labels the connected components of the fine face graph (faces with W > 0) when some
    /// interior face has W = 0 (ε = 0 between blocks, or an underflowing rate); otherwise one
    /// component and no labels. Each component's mass is invariant under `(I − aG)⁻¹`.
    fn label_components(&mut self) {
        let op = &self.levels[0].op;
        let (nx, ny, pad) = (op.nx, op.ny, op.pad);
        let cut = (0..nx * ny).any(|i| {
            (i % nx + 1 < nx && op.wx[pad + i] == 0.0) || (i / nx + 1 < ny && op.wy[pad + i] == 0.0)
        });
        self.comp.clear();
        self.comp_sums.clear();
        if !cut {
            return;
        }
        self.comp.resize(nx * ny, u32::MAX);
        let mut count = 0u32;
        for start in 0..nx * ny {
            if self.comp[start] != u32::MAX {
                continue;
            }
            self.comp[start] = count;
            self.stack.push(start as u32);
            while let Some(i) = self.stack.pop() {
                let i = i as usize;
                let j = pad + i;
                let (ix, iy) = (i % nx, i / nx);
                let neighbours = [
                    (ix > 0 && op.wx[j - 1] > 0.0, i.wrapping_sub(1)),
                    (ix + 1 < nx && op.wx[j] > 0.0, i + 1),
                    (iy > 0 && op.wy[j - nx] > 0.0, i.wrapping_sub(nx)),
                    (iy + 1 < ny && op.wy[j] > 0.0, i + nx),
                ];
                for (linked, k) in neighbours {
                    if linked && self.comp[k] == u32::MAX {
                        self.comp[k] = count;
                        self.stack.push(k as u32);
                    }
                }
            }
            count += 1;
        }
        self.comp_sums.resize(count as usize, [0.0; 3]);
    }

    /// The mass correction of the module doc, per connected component (one for a connected
    /// grid): `b ← x·Σb/Σx` on a component for a non-negative b with Σx > 0 there, else
    /// `b ← x + ((Σb − Σx)/Σπ)·π` there.
    fn correct_mass(&mut self, b: &mut [f64], nonneg: bool) {
        if self.comp.is_empty() {
            let (sb, sx) = (sum(b), sum(&self.x));
            if nonneg && sx > 0.0 {
                let f = sb / sx;
                for (bi, &x) in b.iter_mut().zip(&self.x) {
                    *bi = x * f;
                }
            } else {
                let c = (sb - sx) / sum(&self.pi);
                for ((bi, &x), &p) in b.iter_mut().zip(&self.x).zip(&self.pi) {
                    *bi = x + c * p;
                }
            }
            return;
        }
        self.comp_sums.fill([0.0; 3]);
        for ((&c, &bi), (&x, &p)) in self
            .comp
            .iter()
            .zip(b.iter())
            .zip(self.x.iter().zip(&self.pi))
        {
            let s = &mut self.comp_sums[c as usize];
            s[0] += bi;
            s[1] += x;
            s[2] += p;
        }
        // in place of the sums: the component's factor (non-negative b, Σx > 0; flag 1) or
        // shift along π (flag 0)
        for s in self.comp_sums.iter_mut() {
            let [sb, sx, sp] = *s;
            *s = if nonneg && sx > 0.0 {
                [sb / sx, 0.0, 1.0]
            } else {
                [0.0, (sb - sx) / sp, 0.0]
            };
        }
        for ((bi, &c), (&x, &p)) in b
            .iter_mut()
            .zip(&self.comp)
            .zip(self.x.iter().zip(&self.pi))
        {
            let [f, shift, scaled] = self.comp_sums[c as usize];
            *bi = if scaled == 1.0 { x * f } else { x + shift * p };
        }
    }

    /// `out = b − x + a·G x` with G's own rates.
    fn true_residual(&mut self, b: &[f64]) {
        apply_g(self.grid, &self.rates, &self.x, &mut self.r, true);
        for ((o, &bi), &xi) in self.r.iter_mut().zip(b).zip(&self.x) {
            *o = bi - xi + self.a * *o;
        }
    }

    /// One Jacobi step of the M-matrix `I − aG` from `x⁺ = max(x, 0)`, in place:
    /// `x_i = (b_i + a Σ_k G_ik x⁺_k)/(1 + a·out_i)`, ≥ 0 when b ≥ 0.
    fn positive_jacobi(&mut self, b: &[f64]) {
        // x⁺ into u (scratch), the inflow into r (scratch)
        for (u, &x) in self.u.iter_mut().zip(&self.x) {
            *u = x.max(0.0);
        }
        apply_g(self.grid, &self.rates, &self.u, &mut self.r, false);
        let a = self.a;
        for ((x, &inflow), (&bi, &o)) in self
            .x
            .iter_mut()
            .zip(&self.r)
            .zip(b.iter().zip(&self.rates[0]))
        {
            *x = (bi + a * inflow) / (1.0 + a * o);
        }
    }

    /// FCG(1) from the current u with its residual r, until `‖r‖₁ ≤ target` or the iteration
    /// budget is spent. Returns whether the target was met.
    fn fcg(&mut self, target: f64, iters: &mut usize) -> bool {
        let cells = self.levels[0].op.cells();
        let par = parallel(cells.len());
        let chunk = SUM_CHUNK;
        if pnorm1(&self.r, &mut self.partials) <= target {
            return true;
        }
        let mut pq_old = 0.0;
        let mut first = true;
        while *iters < MAX_ITERATIONS {
            // z = M⁻¹ r into level 0's x
            let l0 = &mut self.levels[0];
            l0.b[cells.clone()].copy_from_slice(&self.r);
            cycle(&mut self.levels, &mut self.coarse);
            let z = &self.levels[0].x[cells.clone()];
            if first {
                self.p[cells.clone()].copy_from_slice(z);
                first = false;
            } else {
                // p = z − (zᵀq/pᵀq) p: A-orthogonal to the previous direction
                let beta = pdot(z, &self.q[cells.clone()], &mut self.partials) / pq_old;
                let update = |(p, z): (&mut [f64], &[f64])| {
                    crate::simd_state::clear_upper_state();
                    for (pi, &zi) in p.iter_mut().zip(z) {
                        *pi = zi - beta * *pi;
                    }
                };
                let pv = &mut self.p[cells.clone()];
                if par {
                    pv.par_chunks_mut(chunk)
                        .zip(z.par_chunks(chunk))
                        .for_each(update);
                } else {
                    pv.chunks_mut(chunk).zip(z.chunks(chunk)).for_each(update);
                }
            }
            self.levels[0].op.apply(&self.p, &mut self.q);
            let (pv, qv) = (&self.p[cells.clone()], &self.q[cells.clone()]);
            let pq = pdot(pv, qv, &mut self.partials);
            if pq.is_nan() || pq <= 0.0 {
                return false;
            }
            let alpha = pdot(pv, &self.r, &mut self.partials) / pq;
            let update = |((u, r), (p, q)): UpdateChunks| {
                crate::simd_state::clear_upper_state();
                for ((u, r), (&pi, &qi)) in u.iter_mut().zip(r.iter_mut()).zip(p.iter().zip(q)) {
                    *u += alpha * pi;
                    *r -= alpha * qi;
                }
            };
            if par {
                let ur = self
                    .u
                    .par_chunks_mut(chunk)
                    .zip(self.r.par_chunks_mut(chunk));
                ur.zip(pv.par_chunks(chunk).zip(qv.par_chunks(chunk)))
                    .for_each(update);
            } else {
                let ur = self.u.chunks_mut(chunk).zip(self.r.chunks_mut(chunk));
                ur.zip(pv.chunks(chunk).zip(qv.chunks(chunk)))
                    .for_each(update);
            }
            pq_old = pq;
            *iters += 1;
            if pnorm1(&self.r, &mut self.partials) <= target {
                return true;
            }
        }
        false
    }

    /// `x = Π u`.
    fn set_masses(&mut self) {
        for ((x, &u), &p) in self.x.iter_mut().zip(&self.u).zip(&self.pi) {
            *x = p * u;
        }
    }

    /// Solves `(I − aG) x = b` in place with the levels of the last [`Self::setup`], to the
    /// tolerance `tol` (module doc: stopping rule, sign and mass), starting from x = b.
    /// Errors when no setup is valid or the iteration does not converge within
    /// [`MAX_ITERATIONS`].
    pub fn solve_in_place(&mut self, b: &mut [f64], tol: Tolerance) -> Result<SolveStats> {
        if !self.ready {
            return Err(CgklError::Singular {
                s: f64::NAN,
                dt: self.a,
                msg: "multigrid: no valid setup (the last one failed)".into(),
            });
        }
        assert_eq!(b.len(), self.grid.n(), "one right-side value per cell");
        let bnorm = norm1(b);
        let nonneg = b.iter().all(|&v| v >= 0.0);
        if bnorm == 0.0 || !bnorm.is_finite() {
            if bnorm == 0.0 {
                b.fill(0.0);
                self.last = SolveStats::default();
                return Ok(self.last);
            }
            return Err(self.no_convergence(f64::NAN, f64::NAN, 0));
        }
        let tau_min = (1e-13f64).max(20.0 * f64::EPSILON * (1.0 + self.a * self.max_exit));
        let mut tau = match tol {
            Tolerance::Relative(t) => t.max(tau_min),
            Tolerance::ImplicitEuler => 1e-8f64.max(tau_min),
        };
        // start from x = b: u = Π⁻¹b, r = aGb
        apply_g(self.grid, &self.rates, b, &mut self.gb, true);
        for ((g, u), (&bi, &p)) in self
            .gb
            .iter_mut()
            .zip(self.u.iter_mut())
            .zip(b.iter().zip(&self.pi))
        {
            *g *= self.a;
            *u = bi / p;
        }
        // start from x = b (r = aGb) when that residual is the smaller, else from x = 0 (r = b)
        if norm1(&self.gb) <= bnorm {
            self.r.copy_from_slice(&self.gb);
        } else {
            self.u.fill(0.0);
            self.r.copy_from_slice(b);
        }
        let mut iters = 0;
        let mut estimated = !matches!(tol, Tolerance::ImplicitEuler);
        let mut positivity_steps = 0;
        let mut target = tau * bnorm;
        let res = loop {
            let met = self.fcg(target, &mut iters);
            self.set_masses();
            self.true_residual(b);
            let res = norm1(&self.r);
            if !met && res > tau * bnorm {
                return Err(self.no_convergence(res / bnorm, tau, iters));
            }
            if !estimated {
                // the implicit-Euler step's local error ê = ½‖x − b − aGb‖₁/‖b‖₁
                let e: f64 = self
                    .x
                    .iter()
                    .zip(b.iter())
                    .zip(&self.gb)
                    .map(|((&x, &bi), &g)| (x - bi - g).abs())
                    .sum();
                tau = (1e-3 * 0.5 * e / bnorm).clamp(tau_min, 1e-8f64.max(tau_min));
                target = tau * bnorm;
                estimated = true;
            }
            if res > tau * bnorm {
                continue;
            }
            if !(nonneg && self.x.iter().any(|&v| v < 0.0)) {
                break res;
            }
            if positivity_steps >= 3 {
                return Err(self.no_convergence(res / bnorm, tau, iters));
            }
            positivity_steps += 1;
            self.positive_jacobi(b);
            self.true_residual(b);
            let res = norm1(&self.r);
            if res <= tau * bnorm {
                break res;
            }
            // iterate on from the non-negative point, to a tighter target
            for ((u, &x), &p) in self.u.iter_mut().zip(&self.x).zip(&self.pi) {
                *u = x / p;
            }
            target = 0.1 * tau * bnorm;
        };
        // the mass: Σx = Σb, on every connected component
        self.correct_mass(b, nonneg);
        self.last = SolveStats {
            iterations: iters,
            tol: tau,
            residual: res / bnorm,
            positivity_steps,
        };
        Ok(self.last)
    }

    fn no_convergence(&self, res: f64, tau: f64, iters: usize) -> CgklError {
        CgklError::Singular {
            s: f64::NAN,
            dt: self.a,
            msg: format!(
                "multigrid: relative L1 residual {res:.2e} above the tolerance {tau:.1e} after \
                 {iters} iterations; set flow.linear_solver = \"direct\""
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linsolve::SparseLu;

    fn l1(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
    }

    /// The problem of `overrides` (TOML `key=value`) with its generator refreshed at `s`.
    fn problem(overrides: &[String], s: f64) -> (crate::problem::Problem, Generator) {
        crate::problem::refreshed_for_tests(overrides, s)
    }

    fn grid_ov(nx: usize, ny: usize, extra: &[&str]) -> Vec<String> {
        let mut o = vec![format!("grid.nx={nx}"), format!("grid.ny={ny}")];
        o.extend(extra.iter().map(|s| s.to_string()));
        o
    }

    fn multigrid(g: &Generator, a: f64) -> Multigrid {
        let kappa = g.flux().reversibility_exponent().unwrap();
        let mut mg = Multigrid::new(g.grid(), kappa);
        assert!(mg.setup(g, a), "setup refused");
        mg
    }

    fn direct(g: &Generator, a: f64, b: &[f64]) -> Vec<f64> {
        let mut lu = SparseLu::new(g).unwrap();
        lu.factor(g, a, 0.0).unwrap();
        let mut y = b.to_vec();
        lu.solve_in_place(&mut y).unwrap();
        y
    }

    /// Multigrid against the direct solve on one system: the L1 distance within the solve's
    /// bound `2τ‖b‖₁` (plus the direct solve's own round-off), the mass of b to round-off, and
    /// x ≥ 0 for b ≥ 0. Returns the statistics.
    fn check(g: &Generator, a: f64, b: &[f64], tol: Tolerance, what: &str) -> SolveStats {
        let mut mg = multigrid(g, a);
        let mut x = b.to_vec();
        let st = mg.solve_in_place(&mut x, tol).unwrap();
        let y = direct(g, a, b);
        let bn: f64 = b.iter().map(|v| v.abs()).sum();
        let d = l1(&x, &y);
        assert!(
            d <= 2.0 * st.tol * bn + 1e-13 * bn,
            "{what}, a = {a:e}: multigrid and direct differ by {d:.2e} (τ = {:.1e})",
            st.tol
        );
        let (sx, sb) = (x.iter().sum::<f64>(), b.iter().sum::<f64>());
        // Σx = Σb up to the round-off of the sums themselves
        let sum_err = 4.0 * (b.len() as f64).sqrt() * f64::EPSILON * bn;
        assert!(
            (sx - sb).abs() <= sum_err.max(1e-15),
            "{what}, a = {a:e}: mass {sx} vs {sb}"
        );
        if b.iter().all(|&v| v >= 0.0) {
            let min = x.iter().fold(f64::INFINITY, |m: f64, &v| m.min(v));
            assert!(min >= 0.0, "{what}, a = {a:e}: min x = {min:e}");
        }
        st
    }

    /// Square grids 16² … 256², odd and thin shapes, for every reversible flux, tiles with
    /// small and zero ε, a label partition and a time-dependent score, at a from a kernel
    /// step to far beyond it: the solutions agree with the direct solve within the bound.
    #[test]
    fn agrees_with_the_direct_solve() {
        let cases: Vec<(Vec<String>, &str)> = vec![
            (grid_ov(16, 16, &[]), "paper_toy 16²"),
            (grid_ov(64, 64, &[]), "paper_toy 64²"),
            (grid_ov(256, 256, &[]), "paper_toy 256²"),
            (
                grid_ov(37, 23, &["partition.bx=1", "partition.by=1", "data.kind=textured"]),
                "37×23",
            ),
            (grid_ov(1, 7, &["partition.bx=1", "partition.by=1", "data.kind=textured"]), "1×7"),
            (grid_ov(70, 1, &["partition.bx=7", "partition.by=1", "data.kind=textured"]), "70×1"),
            (grid_ov(3, 50, &["partition.bx=1", "partition.by=5", "data.kind=textured"]), "3×50"),
            (grid_ov(2, 2, &["partition.bx=2", "partition.by=2"]), "2×2"),
            (grid_ov(1, 1, &["partition.bx=1", "partition.by=1"]), "1×1"),
            (
                grid_ov(
                    96,
                    64,
                    &[
                        "partition.bx=3",
                        "partition.by=4",
                        "data.kind=textured",
                        "forward.eps_fwd=0.3",
                        "reverse.eps_rev=0.001",
                        "reverse.flux.kind=sg",
                        "reverse.flux.eta=0.3",
                    ],
                ),
                "sg η = 0.3, ε = 0.001",
            ),
            (
                grid_ov(
                    64,
                    64,
                    &[
                        "data.kind=textured",
                        "forward.eps_fwd=0.2",
                        "reverse.eps_rev=0",
                        "reverse.flux.kind=sg",
                        "reverse.flux.eta=0.1",
                    ],
                ),
                "sg η = 0.1, ε = 0",
            ),
            (
                grid_ov(
                    90,
                    70,
                    &[
                        "partition.kind=labels",
                        "partition.file=data/camera_labels.png",
                        "data.kind=image",
                        "data.file=data/camera.png",
                        "forward.eps_fwd=0.1",
                        "reverse.eps_rev=0.01",
                    ],
                ),
                "labels, ε = 0.01",
            ),
            (
                grid_ov(
                    128,
                    128,
                    &[
                        "partition.bx=1",
                        "partition.by=1",
                        "data.kind=brelax",
                        "score.kind=potential",
                        "score.potential=\"-ln(0.05 + 0.6*exp(-((x-0.3)^2+(y-0.3)^2)/(2*0.08^2)) + 0.35*exp(-((x-0.7)^2+(y-0.65)^2)/(2*0.12^2)))\"",
                        "score.diffusion=0.02",
                        "reverse.flux.kind=potential_sg",
                    ],
                ),
                "B-relax 128²",
            ),
        ];
        for (o, what) in &cases {
            let (pb, g) = problem(o, 0.007);
            let n = pb.p0.len() as f64;
            for a in [1e-6, 5e-4, 0.05, 5.0] {
                check(&g, a, &pb.p0, Tolerance::Relative(1e-10), what);
                check(&g, a, &pb.p0, Tolerance::ImplicitEuler, what);
                // a signed right side of sum 0 (TR-BDF2's stages and error estimates)
                let signed: Vec<f64> = pb.p0.iter().map(|p| p - 1.0 / n).collect();
                if signed.iter().any(|&v| v != 0.0) {
                    check(&g, a, &signed, Tolerance::Relative(1e-10), what);
                }
            }
        }
    }

    /// The outer iteration count stays bounded as the grid is refined (paper_toy's kernel
    /// step a = T/N, so aΛ grows as L²: 33 at 128², 520 at 512²), and so does the count for
    /// a fixed stiffness: the coarse operators carry the whole problem.
    #[test]
    fn iterations_bounded_independent_of_grid_size() {
        let mut counts = Vec::new();
        for l in [64, 128, 256, 512] {
            let (pb, g) = problem(
                &grid_ov(l, l, &["data.kind=textured", "forward.eps_fwd=0.05"]),
                0.01,
            );
            for a in [5e-4, 50.0 / (l * l) as f64] {
                let mut mg = multigrid(&g, a);
                let mut x = pb.p0.clone();
                let st = mg
                    .solve_in_place(&mut x, Tolerance::Relative(1e-10))
                    .unwrap();
                counts.push((l, a * g.max_exit_rate(), st.iterations, mg.n_levels()));
            }
        }
        eprintln!("(L, aΛ, iterations, levels): {counts:?}");
        for &(l, al, it, _) in &counts {
            assert!(it <= 16, "{l}², aΛ = {al:.1}: {it} iterations");
        }
    }

    /// A point mass: the exact solution is positive everywhere but astronomically small far
    /// away, so the iterate's error makes some entries negative; the Jacobi step of the
    /// M-matrix removes them with a verified residual.
    #[test]
    fn no_negative_mass() {
        let (_, g) = problem(
            &grid_ov(64, 64, &["data.kind=textured", "forward.eps_fwd=0.3"]),
            0.01,
        );
        let mut b = vec![0.0; g.n()];
        b[64 * 20 + 17] = 1.0;
        let mut steps = 0;
        for a in [1e-4, 1e-3, 1e-2] {
            let st = check(&g, a, &b, Tolerance::Relative(1e-10), "point mass");
            steps += st.positivity_steps;
        }
        assert!(
            steps > 0,
            "no negative entry to remove: the test checks nothing"
        );
    }

    /// One solve gives the same bits on a pool of one thread (the serial kernels) and of two
    /// and three (730 × 721 ≥ [`PARALLEL_MIN_CELLS`]: the fine level's kernels, its
    /// restriction and prolongation and the outer iteration's sums run in parallel bands).
    #[test]
    fn thread_count_independent() {
        let o = grid_ov(
            730,
            721,
            &["partition.bx=1", "partition.by=1", "data.kind=textured"],
        );
        let (pb, g) = problem(&o, 0.0);
        assert!(g.n() >= PARALLEL_MIN_CELLS);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut mg = multigrid(&g, 1e-3);
            let mut x = pb.p0.clone();
            pool.install(|| mg.solve_in_place(&mut x, Tolerance::ImplicitEuler).unwrap());
            x
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    /// A potential whose range makes π unrepresentable is refused by the setup (the caller
    /// falls back to the direct solve); a failed setup refuses to solve.
    #[test]
    fn refuses_an_unrepresentable_pi() {
        let o = grid_ov(
            16,
            16,
            &[
                "partition.bx=1",
                "partition.by=1",
                "data.kind=brelax",
                "score.kind=potential",
                "score.potential=\"700*x\"",
                "score.diffusion=1",
                "reverse.flux.kind=potential_sg",
            ],
        );
        let (pb, g) = problem(&o, 0.0);
        let mut mg = Multigrid::new(g.grid(), 1.0);
        assert!(!mg.setup(&g, 1e-3));
        let mut x = pb.p0.clone();
        assert!(mg.solve_in_place(&mut x, Tolerance::ImplicitEuler).is_err());
    }

    /// With ε = 0 the blocks are isolated: the exact solve keeps every block's mass, and so
    /// does the multigrid solve (its mass correction runs per connected component), for
    /// non-negative and signed right sides; a leaky ε has a single component.
    #[test]
    fn isolated_blocks_keep_their_masses() {
        let o = grid_ov(
            45,
            30,
            &[
                "partition.bx=3",
                "partition.by=2",
                "data.kind=textured",
                "forward.eps_fwd=0.2",
                "reverse.eps_rev=0",
            ],
        );
        let (pb, g) = problem(&o, 0.01);
        let masses = |v: &[f64]| pb.partition.block_masses(v);
        let n = pb.p0.len() as f64;
        let signed: Vec<f64> = pb
            .p0
            .iter()
            .enumerate()
            .map(|(i, p)| p - (i % 3) as f64 / n)
            .collect();
        for b in [pb.p0.clone(), signed] {
            let mut mg = multigrid(&g, 0.05);
            assert_eq!(mg.comp_sums.len(), 6, "one component per block");
            let mut x = b.clone();
            mg.solve_in_place(&mut x, Tolerance::Relative(1e-9))
                .unwrap();
            for (j, (u, v)) in masses(&x).into_iter().zip(masses(&b)).enumerate() {
                assert!((u - v).abs() <= 1e-15, "block {j}: {u} vs {v}");
            }
        }
        let (_, g) = problem(&grid_ov(45, 30, &["partition.bx=3", "partition.by=2"]), 0.0);
        assert!(multigrid(&g, 0.05).comp.is_empty());
    }
}
