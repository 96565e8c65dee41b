//! The generator of SPEC §5 in 5-point stencil form, for matrix-free products on the grid:
//!
//! ```text
//! (G p)_i = e_{i−1} p_{i−1} + w_i p_{i+1} + n_{i−nx} p_{i−nx} + s_i p_{i+nx} − out_i p_i
//! ```
//! with, for the x-face between cells i and i+1, `e_i` = rate i→i+1 and `w_i` = rate i+1→i, for
//! the y-face between i and i+nx, `n_i` = rate i→i+nx and `s_i` = rate i+nx→i (zero on the
//! outer boundary), and `out_i = Σ_k rate i→k`. Five numbers per cell and no index arrays: a
//! product reads 48 bytes per cell instead of the ~100 of the CSC matrix, and rows are
//! independent, so rows run in parallel with results that do not depend on the thread count.
//! Every parallel task first clears the upper vector-register state
//! (`simd_state::clear_upper_state`): a thread that ran faer before would otherwise run
//! this SSE2 code and libm's `exp` several times slower (measured: 4× on the whole B-relax solve).
//!
//! The assembly here is the only place the §5 face rates are computed:
//! [`FivePoint::from_potential`] (B-relax) and [`crate::generator::Generator::refresh`] call it, and the
//! generator's CSC values are written by its exit-rate pass from the same face rates, in the
//! layout of the 5-point column (`for_each_entry`: one statement of that order for the pattern,
//! the CSC values and the exit sums).

use crate::error::{CgklError, Result};
use crate::flux::Flux;
use crate::grid::Grid;
use rayon::prelude::*;

/// Cells per parallel task (a task must outweigh rayon's ~µs scheduling).
const BAND_CELLS: usize = 4096;

/// Grids with fewer cells run on the calling thread: no pool thread is started or woken. On the
/// 2-vCPU VM a step of the Chebyshev recurrence then takes ≲ 30 µs, and handing it to a second
/// thread costs as much (L = 128 in a fresh process: products 2.9 ms on one thread, 3–7 ms on two).
pub const PARALLEL_MIN_CELLS: usize = 1 << 15;

/// Whether work on `n` cells is split over the pool ([`PARALLEL_MIN_CELLS`]).
pub fn parallel(n: usize) -> bool {
    n >= PARALLEL_MIN_CELLS
}

/// A Markov generator on a grid in stencil form (face rates and exit rates per cell).
#[derive(Debug, Clone)]
pub struct FivePoint {
    grid: Grid,
    east: Vec<f64>,
    west: Vec<f64>,
    north: Vec<f64>,
    south: Vec<f64>,
    out: Vec<f64>,
    max_exit: f64,
}

impl FivePoint {
    /// The rates `rate a→b = flux.rate(c, φ_b − φ_a)` of one conductance `c` on every face (one
    /// block: `c = scale·(1/h²)`, in that order of operations), by the assembly of
    /// [`crate::generator::Generator::refresh`] (`FivePoint::assemble`), row by row in parallel on large grids
    /// (see [`parallel`]). Errors if a rate is not finite.
    pub fn from_potential(grid: Grid, flux: Flux, c: f64, phi: &[f64]) -> Result<Self> {
        let mut s = Self::zeros(grid);
        s.assemble(flux, |_| c, |_| c, phi, None)
            .map_err(|i| CgklError::Invariant {
                step: 0,
                s: 0.0,
                msg: non_finite_rate(i, "potential"),
            })?;
        Ok(s)
    }

    /// The one face-rate assembly of SPEC §5, in place: for the x-face (i, i+1) with face
    /// coefficient `c = cx(i)` and `d = φ_{i+1} − φ_i`, `e_i = flux.rate(c, d)` (i→i+1) and
    /// `w_i = flux.rate(c, −d)` (i+1→i); for the y-face (i, i+nx) with `c = cy(i)`,
    /// `n_i = flux.rate(c, φ_{i+nx} − φ_i)` and `s_i = flux.rate(c, φ_i − φ_{i+nx})`; then the
    /// exit rates `out_i = Σ_k rate i→k`, summed in the row order of the CSC column
    /// (k = i−nx, i−1, i+1, i+nx), and `Λ = max_i out_i`. Given `csc`, the value array of the
    /// 5-point CSC matrix ([`crate::generator::five_point_pattern`]), it also writes G there in
    /// the same pass over the exit rates: `G[k,i]` = rate i→k, `G[i,i] = −out_i`. Rows run in
    /// bands of fixed size, in parallel on large grids ([`parallel`]); every value is a function
    /// of φ alone, so the result does not depend on the thread count. `cx`, `cy` are read only
    /// for interior faces. Errors with the first cell whose exit rate is not finite.
    pub(crate) fn assemble(
        &mut self,
        flux: Flux,
        cx: impl Fn(usize) -> f64 + Sync,
        cy: impl Fn(usize) -> f64 + Sync,
        phi: &[f64],
        csc: Option<&mut [f64]>,
    ) -> std::result::Result<(), usize> {
        let grid = self.grid;
        let (nx, ny) = (grid.nx, grid.ny);
        assert_eq!(phi.len(), grid.n(), "φ has one value per cell");
        let chunk = band_rows(nx) * nx;
        type Faces<'a> = (
            usize,
            (
                ((&'a mut [f64], &'a mut [f64]), &'a mut [f64]),
                &'a mut [f64],
            ),
        );
        let faces = |(b, (((e, w), nn), ss)): Faces| {
            crate::simd_state::clear_upper_state();
            let rows = e.chunks_mut(nx).zip(w.chunks_mut(nx));
            let rows = rows.zip(nn.chunks_mut(nx)).zip(ss.chunks_mut(nx));
            for (r, (((e, w), nn), ss)) in rows.enumerate() {
                let i0 = b * chunk + r * nx;
                let here = &phi[i0..i0 + nx];
                let d = here.windows(2).map(|q| q[1] - q[0]);
                for (ix, ((e, w), d)) in e.iter_mut().zip(w.iter_mut()).zip(d).enumerate() {
                    let c = cx(i0 + ix);
                    *e = flux.rate(c, d);
                    *w = flux.rate(c, -d);
                }
                if i0 / nx + 1 < ny {
                    let above = &phi[i0 + nx..i0 + 2 * nx];
                    let d = here.iter().zip(above).map(|(&a, &b)| b - a);
                    for (ix, ((n, s), d)) in nn.iter_mut().zip(ss.iter_mut()).zip(d).enumerate() {
                        let c = cy(i0 + ix);
                        *n = flux.rate(c, d);
                        *s = flux.rate(c, -d);
                    }
                }
            }
        };
        let (e, w, nn, ss) = (
            &mut self.east,
            &mut self.west,
            &mut self.north,
            &mut self.south,
        );
        if parallel(grid.n()) {
            let it = e.par_chunks_mut(chunk).zip(w.par_chunks_mut(chunk));
            let it = it
                .zip(nn.par_chunks_mut(chunk))
                .zip(ss.par_chunks_mut(chunk));
            it.enumerate().for_each(faces);
        } else {
            let it = e.chunks_mut(chunk).zip(w.chunks_mut(chunk));
            let it = it.zip(nn.chunks_mut(chunk)).zip(ss.chunks_mut(chunk));
            it.enumerate().for_each(faces);
        }
        let faces: [&[f64]; 4] = [&self.east, &self.west, &self.north, &self.south];
        let rows = band_rows(nx);
        // the exit rates of one band of rows and, given its slice of the CSC values, the band's
        // columns of G (the diagonal −out_i once the column's sum is complete)
        let exits = |b: usize, o: &mut [f64], mut vals: Option<&mut [f64]>| {
            crate::simd_state::clear_upper_state();
            let mut pos = 0;
            for (r, o) in o.chunks_mut(nx).enumerate() {
                let iy = b * rows + r;
                for (ix, o) in o.iter_mut().enumerate() {
                    // in the row order of column i in the CSC matrix
                    let (i, mut sum, mut diag) = (iy * nx + ix, 0.0, 0);
                    for_each_entry(grid, ix, iy, |e, _| {
                        if e == Entry::Diagonal {
                            diag = pos;
                        } else {
                            let rate = face_rate(faces, nx, i, e);
                            sum += rate;
                            if let Some(v) = vals.as_deref_mut() {
                                v[pos] = rate;
                            }
                        }
                        pos += 1;
                    });
                    *o = sum;
                    if let Some(v) = vals.as_deref_mut() {
                        v[diag] = -sum;
                    }
                }
            }
        };
        let out = &mut self.out;
        match csc {
            None => for_each_band(out, chunk, |(b, o)| exits(b, o, None)),
            Some(vals) => {
                // band 0's columns, then bands of `rows` interior rows (5nx − 2 entries each)
                // and the last band's
                let first = (0..rows.min(ny)).map(|iy| row_entries(grid, iy)).sum();
                let stride = rows * (5 * nx - 2);
                let (v0, rest) = vals.split_at_mut(first);
                let bands = grid.n().div_ceil(chunk);
                assert_eq!(
                    1 + rest.len().div_ceil(stride),
                    bands,
                    "the 5-point CSC layout"
                );
                let band = |(b, (o, v)): (usize, (&mut [f64], &mut [f64]))| exits(b, o, Some(v));
                if parallel(grid.n()) {
                    let v = rayon::iter::once(v0).chain(rest.par_chunks_mut(stride));
                    out.par_chunks_mut(chunk).zip(v).enumerate().for_each(band);
                } else {
                    let v = std::iter::once(v0).chain(rest.chunks_mut(stride));
                    out.chunks_mut(chunk).zip(v).enumerate().for_each(band);
                }
            }
        }
        if let Some(i) = self.out.iter().position(|x| !x.is_finite()) {
            return Err(i);
        }
        self.max_exit = self.out.iter().fold(0.0, |m: f64, &x| m.max(x));
        Ok(())
    }

    /// Net current through every interior face, `J = (rate i→k) p_i − (rate k→i) p_k` from
    /// cell i to its +x or +y neighbour k, in the face order of [`Grid::faces`] (x-faces row by
    /// row, then y-faces), appended to `out`.
    pub fn face_currents(&self, p: &[f64], out: &mut Vec<f64>) {
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        for iy in 0..ny {
            let r = iy * nx..(iy + 1) * nx - 1;
            out.extend(r.map(|i| self.east[i] * p[i] - self.west[i] * p[i + 1]));
        }
        for i in 0..nx * ny.saturating_sub(1) {
            out.push(self.north[i] * p[i] - self.south[i] * p[i + nx]);
        }
    }

    /// Number of interior faces, `(nx − 1)·ny + nx·(ny − 1)`.
    pub fn n_faces(&self) -> usize {
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        (nx - 1) * ny + nx * (ny - 1)
    }

    /// All rates zero (an assembly target).
    pub(crate) fn zeros(grid: Grid) -> Self {
        let n = grid.n();
        Self {
            grid,
            east: vec![0.0; n],
            west: vec![0.0; n],
            north: vec![0.0; n],
            south: vec![0.0; n],
            out: vec![0.0; n],
            max_exit: 0.0,
        }
    }

    /// The grid.
    pub fn grid(&self) -> Grid {
        self.grid
    }

    /// Number of cells n.
    pub fn n(&self) -> usize {
        self.out.len()
    }

    /// Largest exit rate `Λ = max_i out_i`; the spectrum of G lies in `[−2Λ, 0]` (Gershgorin on
    /// the columns).
    pub fn max_exit_rate(&self) -> f64 {
        self.max_exit
    }

    /// The rate arrays `[out, east, west, north, south]` of the module doc, one value per cell.
    pub fn rates(&self) -> [&[f64]; 5] {
        [&self.out, &self.east, &self.west, &self.north, &self.south]
    }

    /// `acc = (G p)` on row `iy` (`acc.len() = nx`), as a sum in a fixed order.
    #[inline]
    pub fn row_product(&self, p: &[f64], iy: usize, acc: &mut [f64]) {
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        let r = iy * nx..(iy + 1) * nx;
        for ((a, &o), &x) in acc.iter_mut().zip(&self.out[r.clone()]).zip(&p[r.clone()]) {
            *a = -o * x;
        }
        // from the west neighbour (its east rate) and from the east neighbour (its west rate)
        let (s, e) = (r.start, r.end);
        for ((a, &rate), &x) in acc[1..]
            .iter_mut()
            .zip(&self.east[s..e - 1])
            .zip(&p[s..e - 1])
        {
            *a += rate * x;
        }
        for ((a, &rate), &x) in acc[..nx - 1]
            .iter_mut()
            .zip(&self.west[s..e - 1])
            .zip(&p[s + 1..e])
        {
            *a += rate * x;
        }
        if iy > 0 {
            let b = s - nx..s;
            for ((a, &rate), &x) in acc.iter_mut().zip(&self.north[b.clone()]).zip(&p[b]) {
                *a += rate * x;
            }
        }
        if iy + 1 < ny {
            let b = s + nx..e + nx;
            for ((a, &rate), &x) in acc.iter_mut().zip(&self.south[r.clone()]).zip(&p[b]) {
                *a += rate * x;
            }
        }
    }

    /// `out = G p`, rows in parallel (on large grids).
    pub fn apply(&self, p: &[f64], out: &mut [f64]) {
        let nx = self.grid.nx;
        let rows = band_rows(nx);
        let band = |(b, o): (usize, &mut [f64])| {
            crate::simd_state::clear_upper_state();
            for (r, acc) in o.chunks_mut(nx).enumerate() {
                self.row_product(p, b * rows + r, acc);
            }
        };
        for_each_band(out, rows * nx, band);
    }
}

/// An entry of column i of G in the 5-point pattern, in storage (row) order: rows i−nx
/// (`South`), i−1 (`West`), i (`Diagonal`), i+1 (`East`), i+nx (`North`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    South,
    West,
    Diagonal,
    East,
    North,
}

/// `f(entry, row)` for every entry of column `i = iy·nx + ix` inside the grid, in row order:
/// the one statement of the 5-point pattern's layout ([`crate::generator::five_point_pattern`],
/// the CSC fill and the exit sums follow it). On a one-column grid i±1 lie outside and i±nx are
/// the neighbours.
#[inline]
pub(crate) fn for_each_entry(grid: Grid, ix: usize, iy: usize, mut f: impl FnMut(Entry, usize)) {
    let (nx, ny) = (grid.nx, grid.ny);
    let i = iy * nx + ix;
    if iy > 0 {
        f(Entry::South, i - nx);
    }
    if ix > 0 {
        f(Entry::West, i - 1);
    }
    f(Entry::Diagonal, i);
    if ix + 1 < nx {
        f(Entry::East, i + 1);
    }
    if iy + 1 < ny {
        f(Entry::North, i + nx);
    }
}

/// The number of entries of the row `iy` of columns in the 5-point pattern ([`for_each_entry`]):
/// `nx` diagonals, `2(nx − 1)` x-neighbours, `nx` for each y-neighbour row inside the grid.
fn row_entries(grid: Grid, iy: usize) -> usize {
    let (nx, ny) = (grid.nx, grid.ny);
    3 * nx - 2 + if iy > 0 { nx } else { 0 } + if iy + 1 < ny { nx } else { 0 }
}

/// The rate i→k of the off-diagonal entry `e` (row k) of column i, from the face arrays
/// `[east, west, north, south]`: `s_{i−nx}`, `w_{i−1}`, `e_i` or `n_i`.
#[inline]
fn face_rate(faces: [&[f64]; 4], nx: usize, i: usize, e: Entry) -> f64 {
    let [east, west, north, south] = faces;
    match e {
        Entry::South => south[i - nx],
        Entry::West => west[i - 1],
        Entry::East => east[i],
        Entry::North => north[i],
        Entry::Diagonal => unreachable!("the diagonal is not a face rate"),
    }
}

/// The message of a non-finite exit rate at cell `i`; `field` names what φ came from.
pub(crate) fn non_finite_rate(i: usize, field: &str) -> String {
    format!(
        "the generator has a non-finite rate at cell {i} (overflow of e^d or a non-finite \
         field); check the {field}"
    )
}

/// `f((b, band))` for the consecutive bands of `chunk` values of `data` (a cell array),
/// b = 0, 1, …, on the pool when `data` is large ([`parallel`]), else on the calling thread.
pub(crate) fn for_each_band(
    data: &mut [f64],
    chunk: usize,
    f: impl Fn((usize, &mut [f64])) + Sync + Send,
) {
    if parallel(data.len()) {
        data.par_chunks_mut(chunk).enumerate().for_each(f);
    } else {
        data.chunks_mut(chunk).enumerate().for_each(f);
    }
}

/// Rows per parallel band on a grid with `nx` columns.
pub(crate) fn band_rows(nx: usize) -> usize {
    (BAND_CELLS / nx).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::Generator;
    use crate::partition::Partition;
    use crate::score::PotentialDrive;

    fn generator(nx: usize, ny: usize, bx: usize) -> Generator {
        let grid = Grid::new(nx, ny).unwrap();
        let part = Partition::tiles(grid, bx, 1).unwrap();
        let drive = PotentialDrive::new(
            grid,
            Box::new(|x, y, _| 3.0 * (x * x - 0.7 * y).sin() + x * y),
            0.3,
            false,
        );
        let mut g = Generator::new(&part, 0.05, Flux::PotentialSg, Box::new(drive));
        g.refresh(0.0).unwrap();
        g
    }

    /// The CSC values of the face loop the generator used before it read the stencil: for each
    /// face (i, k) of [`Grid::faces`], `G[k,i] = rate(c, d)`, `G[i,k] = rate(c, −d)` with
    /// `c = scale·κ_ik/h²`, `d = φ_k − φ_i`, then `G[i,i] = −Σ` of column i in storage order.
    fn face_loop_values(g: &Generator, part: &Partition, eps: f64, scale: f64) -> Vec<f64> {
        let m = g.matrix();
        let (ptr, idx) = (m.indptr().raw_storage().to_vec(), m.indices());
        let pos = |row: usize, col: usize| {
            ptr[col] + idx[ptr[col]..ptr[col + 1]].binary_search(&row).unwrap()
        };
        let h2 = g.grid().h() * g.grid().h();
        let mut vals = vec![0.0; idx.len()];
        for (i, k) in g.grid().faces() {
            let kappa = if part.same_block(i, k) { 1.0 } else { eps } / h2;
            let (c, d) = (scale * kappa, g.phi()[k] - g.phi()[i]);
            vals[pos(k, i)] = g.flux().rate(c, d);
            vals[pos(i, k)] = g.flux().rate(c, -d);
        }
        for col in 0..g.n() {
            let out: f64 = vals[ptr[col]..ptr[col + 1]].iter().sum();
            vals[pos(col, col)] = -out;
        }
        vals
    }

    /// The two views of the one assembly agree bit for bit: the CSC values equal those of the
    /// former face loop (conductances ε across blocks included), the stencil assembled from φ
    /// holds exactly the generator's rates (one block), and its product equals the CSC product
    /// to round-off, with column sums 0 (mass).
    #[test]
    fn matches_the_generator() {
        // one band of rows, several (150 × 70: 27-row bands), several on the pool (200 × 170)
        for (nx, ny) in [
            (1, 1),
            (1, 7),
            (6, 1),
            (17, 9),
            (40, 33),
            (150, 70),
            (200, 170),
        ] {
            for bx in [1, nx] {
                let g = generator(nx, ny, bx);
                let part = Partition::tiles(g.grid(), bx, 1).unwrap();
                let want = face_loop_values(&g, &part, 0.05, 0.3);
                assert_eq!(g.matrix().data(), &want[..], "{nx}x{ny}, {bx} blocks");
                let max_exit = want.iter().fold(0.0, |m: f64, &v| m.max(-v));
                assert_eq!(g.max_exit_rate(), max_exit, "{nx}x{ny}, {bx} blocks");
            }
            let g = generator(nx, ny, 1);
            let a = g.stencil().clone();
            let h = g.grid().h();
            let b = FivePoint::from_potential(g.grid(), g.flux(), 0.3 * (1.0 / (h * h)), g.phi())
                .unwrap();
            for (u, v) in a.rates().iter().zip(b.rates()) {
                assert_eq!(*u, v, "{nx}x{ny}");
            }
            assert_eq!(a.max_exit_rate(), b.max_exit_rate());
            assert_eq!(a.max_exit_rate(), g.max_exit_rate());
            let n = nx * ny;
            let p: Vec<f64> = (0..n).map(|i| 1.0 + (i as f64 * 0.37).sin()).collect();
            let (mut x, mut y) = (vec![0.0; n], vec![0.0; n]);
            g.apply(&p, &mut x);
            b.apply(&p, &mut y);
            let scale = g.max_exit_rate() * p.iter().sum::<f64>();
            for (u, v) in x.iter().zip(&y) {
                assert!((u - v).abs() <= 1e-14 * scale, "{nx}x{ny}: {u} vs {v}");
            }
            assert!(y.iter().sum::<f64>().abs() <= 1e-13 * scale);
            // the currents: J = G[k,i] p_i − G[i,k] p_k per face of Grid::faces
            let mut cur = Vec::new();
            g.face_currents(&p, &mut cur);
            let (m, faces) = (g.matrix(), g.grid().faces());
            assert_eq!((cur.len(), g.n_faces()), (faces.len(), faces.len()));
            for (&(i, k), &j) in faces.iter().zip(&cur) {
                let at = |r, c| *m.get(r, c).unwrap();
                assert_eq!(j, at(k, i) * p[i] - at(i, k) * p[k]);
            }
        }
    }

    #[test]
    fn refuses_a_non_finite_potential() {
        let grid = Grid::new(3, 3).unwrap();
        let mut phi = vec![0.0; 9];
        phi[4] = f64::NAN;
        assert!(FivePoint::from_potential(grid, Flux::PotentialSg, 1.0, &phi).is_err());
    }
}
