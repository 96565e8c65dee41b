//! Pixel grid (SPEC §1): `nx × ny` square cells of side `h = 1/max(nx, ny)`, no-flux outer
//! boundary; cell `(ix, iy)` has flat index `i = iy·nx + ix` and centre `((ix+½)h, (iy+½)h)`.

use crate::error::{CgklError, Result};

/// A rectangular pixel grid on the unit square (the longer side has length 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    /// Cells along x (columns).
    pub nx: usize,
    /// Cells along y (rows).
    pub ny: usize,
}

impl Grid {
    /// A grid of `nx × ny` cells; both must be ≥ 1.
    pub fn new(nx: usize, ny: usize) -> Result<Self> {
        if nx == 0 || ny == 0 {
            return Err(CgklError::config(
                "grid",
                format!("{nx}x{ny}"),
                "nx and ny must be at least 1",
            ));
        }
        Ok(Self { nx, ny })
    }

    /// Number of cells `n = nx·ny`.
    pub fn n(&self) -> usize {
        self.nx * self.ny
    }

    /// Cell side `h = 1/max(nx, ny)`.
    pub fn h(&self) -> f64 {
        1.0 / self.nx.max(self.ny) as f64
    }

    /// Flat index `i = iy·nx + ix`.
    pub fn index(&self, ix: usize, iy: usize) -> usize {
        iy * self.nx + ix
    }

    /// Centre `((ix+½)h, (iy+½)h)` of cell `i`.
    pub fn centre(&self, i: usize) -> (f64, f64) {
        let h = self.h();
        let (ix, iy) = (i % self.nx, i / self.nx);
        ((ix as f64 + 0.5) * h, (iy as f64 + 0.5) * h)
    }

    /// Interior faces as cell pairs `(i, k)` with `i < k`: first all x-faces row by row,
    /// then all y-faces; `(nx−1)·ny + nx·(ny−1)` in total.
    pub fn faces(&self) -> Vec<(usize, usize)> {
        let mut f = Vec::with_capacity((self.nx - 1) * self.ny + self.nx * (self.ny - 1));
        for iy in 0..self.ny {
            for ix in 0..self.nx - 1 {
                f.push((self.index(ix, iy), self.index(ix + 1, iy)));
            }
        }
        for iy in 0..self.ny - 1 {
            for ix in 0..self.nx {
                f.push((self.index(ix, iy), self.index(ix, iy + 1)));
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_count_and_spacing() {
        let g = Grid::new(5, 3).unwrap();
        assert_eq!(g.faces().len(), 4 * 3 + 5 * 2);
        assert_eq!(g.h(), 0.2);
        assert_eq!(g.centre(g.index(1, 2)), (0.30000000000000004, 0.5));
        let one = Grid::new(1, 1).unwrap();
        assert!(one.faces().is_empty());
        assert!(Grid::new(0, 3).is_err());
    }
}
