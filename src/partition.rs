//! Partitions of the grid into blocks (SPEC §1): rectangular `bx × by` tiles or an arbitrary
//! integer label image using every label `0…m−1`. Block masses `w_j(p) = Σ_{i∈j} p_i`.

use crate::error::{CgklError, Result};
use crate::grid::Grid;

/// A partition of the cells of a [`Grid`] into `m` blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    grid: Grid,
    labels: Vec<u32>,
    m: usize,
    tiles: Option<(usize, usize)>,
}

impl Partition {
    /// Rectangular tiles: `bx` along x, `by` along y; label `(iy div (ny/by))·bx + ix div (nx/bx)`.
    /// Errors unless `bx | nx` and `by | ny`.
    pub fn tiles(grid: Grid, bx: usize, by: usize) -> Result<Self> {
        for (key, n, b) in [("partition.bx", grid.nx, bx), ("partition.by", grid.ny, by)] {
            if b == 0 || n % b != 0 {
                let divisors: Vec<String> = (1..=n)
                    .filter(|d| n % d == 0 && *d <= 64)
                    .map(|d| d.to_string())
                    .collect();
                return Err(CgklError::config(
                    key,
                    b,
                    format!(
                        "the grid side {n} is not divisible by it; pick one of {}",
                        divisors.join(", ")
                    ),
                ));
            }
        }
        let (tx, ty) = (grid.nx / bx, grid.ny / by);
        let labels = (0..grid.n())
            .map(|i| {
                let (ix, iy) = (i % grid.nx, i / grid.nx);
                ((iy / ty) * bx + ix / tx) as u32
            })
            .collect();
        Ok(Self {
            grid,
            labels,
            m: bx * by,
            tiles: Some((bx, by)),
        })
    }

    /// Any label image (flat, row-major, length `nx·ny`) using every label `0…m−1`.
    pub fn from_labels(grid: Grid, labels: Vec<u32>) -> Result<Self> {
        if labels.len() != grid.n() {
            return Err(CgklError::Data(format!(
                "label image has {} cells but the grid has {}×{} = {}; resample the labels to the grid",
                labels.len(),
                grid.nx,
                grid.ny,
                grid.n()
            )));
        }
        let m = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
        check_dense(&labels)?;
        let mut seen = vec![false; m];
        for &l in &labels {
            seen[l as usize] = true;
        }
        if let Some(j) = seen.iter().position(|s| !s) {
            return Err(CgklError::Data(format!(
                "label image uses labels up to {} but label {j} never occurs; relabel to 0…m−1 without gaps",
                m - 1
            )));
        }
        Ok(Self {
            grid,
            labels,
            m,
            tiles: None,
        })
    }

    /// The grid this partition lives on.
    pub fn grid(&self) -> Grid {
        self.grid
    }

    /// Number of blocks m.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Label of every cell (flat, row-major).
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// `(bx, by)` for a tile partition, `None` for a general label image.
    pub fn tiles_shape(&self) -> Option<(usize, usize)> {
        self.tiles
    }

    /// Block masses `w_j(p) = Σ_{i∈j} p_i` written into `w` (length m), summed in cell order
    /// within each chunk of `par::CHUNK` (2¹⁴) cells and then chunk by chunk (one chunk up to
    /// 128²; with more blocks than `CHUNK / 64` all in cell order, as per-chunk sums of m would
    /// cost more than they save).
    pub fn block_masses_into(&self, p: &[f64], w: &mut [f64]) {
        let add = |r: std::ops::Range<usize>, w: &mut [f64]| {
            for (&l, &pi) in self.labels[r.clone()].iter().zip(&p[r]) {
                w[l as usize] += pi;
            }
        };
        w.fill(0.0);
        let n = self.labels.len().min(p.len());
        if self.m > crate::par::CHUNK / 64 || n <= crate::par::CHUNK {
            add(0..n, w);
            return;
        }
        let parts = crate::par::reduce(
            n,
            |r| {
                let mut v = vec![0.0; self.m];
                add(r, &mut v);
                vec![v]
            },
            |mut a, mut b| {
                a.append(&mut b);
                a
            },
        );
        for v in parts {
            for (wj, vj) in w.iter_mut().zip(v) {
                *wj += vj;
            }
        }
    }

    /// Block masses as a new vector.
    pub fn block_masses(&self, p: &[f64]) -> Vec<f64> {
        let mut w = vec![0.0; self.m];
        self.block_masses_into(p, &mut w);
        w
    }

    /// True when cells `i` and `k` lie in the same block.
    pub fn same_block(&self, i: usize, k: usize) -> bool {
        self.labels[i] == self.labels[k]
    }
}

/// Checks that `labels` uses every label 0…m−1 (m = largest + 1) and returns m, in
/// O(n log n) time and O(n) memory whatever the labels' values: a label beyond the number of
/// cells cannot be dense, and is refused before anything of size m is allocated (one stray
/// label of 2³²−1 would otherwise cost 2³² × cells).
pub fn check_dense(labels: &[u32]) -> Result<usize> {
    let Some(&max) = labels.iter().max() else {
        return Ok(0);
    };
    let m = max as usize + 1;
    let gap = |j: usize| {
        CgklError::Data(format!(
            "label image uses labels up to {max} but label {j} never occurs; relabel to 0…m−1 without gaps"
        ))
    };
    let mut distinct = labels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() == m {
        return Ok(m);
    }
    // the first missing label
    let j = distinct
        .iter()
        .enumerate()
        .find(|&(i, &l)| l as usize != i)
        .map_or(distinct.len(), |(i, _)| i);
    Err(gap(j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_labels_follow_spec_formula() {
        let g = Grid::new(4, 6).unwrap();
        let part = Partition::tiles(g, 2, 3).unwrap();
        assert_eq!(part.m(), 6);
        // cell (ix=3, iy=5): (5 div 2)·2 + 3 div 2 = 5
        assert_eq!(part.labels()[g.index(3, 5)], 5);
        assert_eq!(part.labels()[g.index(1, 2)], 2);
        let w = part.block_masses(&[1.0 / 24.0; 24]);
        assert!(w.iter().all(|&x| (x - 4.0 / 24.0).abs() < 1e-15));
    }

    #[test]
    fn bad_partitions_are_rejected_with_a_fix() {
        let g = Grid::new(100, 100).unwrap();
        let e = Partition::tiles(g, 3, 4).unwrap_err().to_string();
        assert!(e.contains("partition.bx") && e.contains("not divisible") && e.contains("4, 5"));
        let e = Partition::from_labels(Grid::new(2, 1).unwrap(), vec![0, 2]).unwrap_err();
        assert!(e.to_string().contains("label 1 never occurs"));
    }
}
