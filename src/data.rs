//! Data images and seeded noise (SPEC §1, §5, §8). Every generator returns a probability
//! vector over the cells (row-major, `Σ p = 1`, all entries > 0).

use crate::bounds::{MAX_CONTRAST, MAX_START_SIGMA};
use crate::error::{CgklError, Result};
use crate::grid::Grid;
use crate::rng::SplitMix64;

/// Normalise `v` to unit sum in place; errors unless every entry is finite and ≥ 0 and the sum is > 0.
pub fn normalise(v: &mut [f64]) -> Result<()> {
    if let Some(i) = v.iter().position(|x| !x.is_finite() || *x < 0.0) {
        return Err(CgklError::Data(format!(
            "pixel {i} is {}; images must be finite and non-negative",
            v[i]
        )));
    }
    let s: f64 = v.iter().sum();
    if s <= 0.0 {
        return Err(CgklError::Data(
            "image has zero total mass; it needs at least one positive pixel".into(),
        ));
    }
    v.iter_mut().for_each(|x| *x /= s);
    Ok(())
}

/// Block-constant checkerboard on `bx × by` tiles: value `contrast` on bright tiles (even block
/// column + block row), 1 on dark ones, normalised. `contrast = 4` is the 4:1 data of `paper_toy`.
pub fn checkerboard(grid: Grid, bx: usize, by: usize, contrast: f64) -> Result<Vec<f64>> {
    textured_checkerboard(grid, bx, by, contrast, 0.0, 1)
}

/// Textured checkerboard: the block checkerboard times the within-tile pattern
/// `1 + a·sin(2π k ξ)·sin(2π k ζ)`, with `(ξ, ζ) ∈ (0,1)²` the cell centre's position inside its
/// tile, `a = amplitude ∈ [0, 1)` and `k = periods` full periods per tile side.
pub fn textured_checkerboard(
    grid: Grid,
    bx: usize,
    by: usize,
    contrast: f64,
    amplitude: f64,
    periods: u32,
) -> Result<Vec<f64>> {
    if !(contrast.is_finite() && contrast > 0.0) {
        return Err(CgklError::config(
            "data.contrast",
            contrast,
            "must be finite and > 0",
        ));
    }
    if !(1.0 / MAX_CONTRAST..=MAX_CONTRAST).contains(&contrast) {
        return Err(CgklError::config(
            "data.contrast",
            format!("{contrast:?}"),
            format!(
                "the bright:dark ratio must lie in [{:e}, {MAX_CONTRAST:e}]: the reverse rates \
                 across a tile edge contain the ratio itself, and the dark tiles' mass must stay \
                 representable (paper_toy: 4)",
                1.0 / MAX_CONTRAST
            ),
        ));
    }
    if !(0.0..1.0).contains(&amplitude) {
        return Err(CgklError::config(
            "data.amplitude",
            amplitude,
            "must lie in [0, 1) so the image stays positive",
        ));
    }
    if bx == 0 || by == 0 || !grid.nx.is_multiple_of(bx) || !grid.ny.is_multiple_of(by) {
        return Err(CgklError::config(
            "partition",
            format!("{bx}x{by}"),
            format!(
                "the checkerboard tiles must divide the {}×{} grid",
                grid.nx, grid.ny
            ),
        ));
    }
    let (tx, ty) = (grid.nx / bx, grid.ny / by);
    let k = std::f64::consts::TAU * periods as f64;
    let mut v: Vec<f64> = (0..grid.n())
        .map(|i| {
            let (ix, iy) = (i % grid.nx, i / grid.nx);
            let bright = (ix / tx + iy / ty) % 2 == 0;
            let xi = ((ix % tx) as f64 + 0.5) / tx as f64;
            let zeta = ((iy % ty) as f64 + 0.5) / ty as f64;
            let base = if bright { contrast } else { 1.0 };
            base * (1.0 + amplitude * (k * xi).sin() * (k * zeta).sin())
        })
        .collect();
    normalise(&mut v)?;
    Ok(v)
}

/// B-relax target density (SPEC §8) at a point:
/// `q = 0.05 + 0.6 exp(−|x−(0.3,0.3)|²/(2·0.08²)) + 0.35 exp(−|x−(0.7,0.65)|²/(2·0.12²))` (not normalised).
pub fn brelax_q(x: f64, y: f64) -> f64 {
    let g1 = (-((x - 0.3).powi(2) + (y - 0.3).powi(2)) / (2.0 * 0.08 * 0.08)).exp();
    let g2 = (-((x - 0.7).powi(2) + (y - 0.65).powi(2)) / (2.0 * 0.12 * 0.12)).exp();
    0.05 + 0.6 * g1 + 0.35 * g2
}

/// [`brelax_q`] at the cell centres of §1.
pub fn brelax_density(grid: Grid) -> Vec<f64> {
    (0..grid.n())
        .map(|i| {
            let (x, y) = grid.centre(i);
            brelax_q(x, y)
        })
        .collect()
}

/// The B-relax target as an image: [`brelax_density`] normalised to unit mass.
pub fn brelax_target(grid: Grid) -> Vec<f64> {
    let mut v = brelax_density(grid);
    let s: f64 = v.iter().sum();
    v.iter_mut().for_each(|x| *x /= s);
    v
}

/// A photograph as data (issue 7): the luminance L of the image file (PNG, PGM or TIFF; colour
/// as Rec. 709 luma, see [`crate::io::image`]), area-averaged onto the grid, floored and
/// normalised: `q0_i ∝ max(L_i, f · max_k L_k)` with the relative floor `f = floor ∈ [0, 1)`.
/// With f = 0 a zero cell is an error (its ln q0 would be −∞).
pub fn image_data(grid: Grid, file: &str, floor: f64) -> Result<Vec<f64>> {
    if !(0.0..1.0).contains(&floor) {
        return Err(CgklError::config(
            "data.floor",
            floor,
            "the relative floor must lie in [0, 1) (default 1e-3)",
        ));
    }
    let img = crate::io::image::load_luminance(std::path::Path::new(file))?;
    let mut v = crate::io::image::resample_area(&img, grid.nx, grid.ny);
    let max = v.iter().cloned().fold(0.0, f64::max);
    if max <= 0.0 {
        return Err(CgklError::Data(format!(
            "{file}: the image is black (all luminance 0); it needs at least one bright pixel"
        )));
    }
    let lo = floor * max;
    for (i, x) in v.iter_mut().enumerate() {
        if *x <= 0.0 && lo == 0.0 {
            return Err(CgklError::Data(format!(
                "{file}: cell (ix = {}, iy = {}) is black after resampling to {}×{}; \
                 set data.floor > 0 (default 1e-3) to give black pixels a small mass",
                i % grid.nx,
                i / grid.nx,
                grid.nx,
                grid.ny
            )));
        }
        *x = x.max(lo);
    }
    normalise(&mut v)?;
    Ok(v)
}

/// Data from a formula: `q0_i ∝ exp(f(x_i, y_i))` at the cell centres, f in x and y only
/// (module `expr`); computed as `exp(f − max f)` so large values do not overflow.
pub fn formula_data(grid: Grid, log_q: &str) -> Result<Vec<f64>> {
    let f = crate::expr::Formula::parse("data.log_q", log_q)?;
    if f.uses_t() {
        return Err(CgklError::config(
            "data.log_q",
            format!("\"{}\"", f.text()),
            "the data are fixed: use x and y only (t is for score.log_q and score.potential)",
        ));
    }
    let mut v = vec![0.0; grid.n()];
    f.eval_cells(grid, 0.0, &mut v)?;
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    v.iter_mut().for_each(|x| *x = (*x - max).exp());
    normalise(&mut v)?;
    if let Some(i) = v.iter().position(|&x| x <= 0.0) {
        return Err(CgklError::config(
            "data.log_q",
            format!("\"{}\"", f.text()),
            format!(
                "exp(f) underflows to 0 at cell (ix = {}, iy = {}): the formula spans more than \
                 ~700 in ln q; flatten it",
                i % grid.nx,
                i / grid.nx
            ),
        ));
    }
    Ok(v)
}

/// Seeded noise image `p_i ∝ base_i · exp(σ z_i)`, z_i i.i.d. standard normal (stream 1 of `seed`),
/// renormalised. `base` is the uniform image or q0 (SPEC §8: σ = 0.5 on the uniform image).
pub fn lognormal_noise(base: &[f64], sigma: f64, seed: u64) -> Result<Vec<f64>> {
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(CgklError::config(
            "start.sigma",
            sigma,
            "must be finite and ≥ 0",
        ));
    }
    if sigma > MAX_START_SIGMA {
        return Err(CgklError::config(
            "start.sigma",
            format!("{sigma:?}"),
            format!(
                "must be ≤ {MAX_START_SIGMA}: the noise exp(σ z) overflows beyond (paper_toy: 0.5)"
            ),
        ));
    }
    let mut g = SplitMix64::new(seed, 1);
    let mut v: Vec<f64> = base
        .iter()
        .map(|b| b * (sigma * g.normal()).exp())
        .collect();
    normalise(&mut v)?;
    Ok(v)
}

/// Smooth random field ξ (SPEC §5): white noise (stream 2 of `seed`) smoothed by a Gaussian of
/// standard deviation `corr_len` cells (truncated at 4σ, reflecting boundaries, separable),
/// then shifted to zero mean and scaled to unit RMS.
pub fn smooth_field(grid: Grid, corr_len: f64, seed: u64) -> Result<Vec<f64>> {
    if !(corr_len.is_finite() && corr_len > 0.0) {
        return Err(CgklError::config(
            "score.corr_len",
            corr_len,
            "must be finite and > 0 (cells)",
        ));
    }
    let mut g = SplitMix64::new(seed, 2);
    let mut v: Vec<f64> = (0..grid.n()).map(|_| g.normal()).collect();
    let r = (4.0 * corr_len).ceil() as isize;
    let kern: Vec<f64> = (-r..=r)
        .map(|d| (-(d as f64).powi(2) / (2.0 * corr_len * corr_len)).exp())
        .collect();
    let reflect = |j: isize, n: usize| -> usize {
        let n = n as isize;
        let mut j = j;
        // reflect repeatedly so kernels wider than the grid stay in range
        loop {
            if j < 0 {
                j = -j - 1;
            } else if j >= n {
                j = 2 * n - 1 - j;
            } else {
                return j as usize;
            }
        }
    };
    let (nx, ny) = (grid.nx, grid.ny);
    let mut tmp = vec![0.0; v.len()];
    for iy in 0..ny {
        for ix in 0..nx {
            let mut acc = 0.0;
            for (t, w) in kern.iter().enumerate() {
                acc += w * v[iy * nx + reflect(ix as isize + t as isize - r, nx)];
            }
            tmp[iy * nx + ix] = acc;
        }
    }
    for iy in 0..ny {
        for ix in 0..nx {
            let mut acc = 0.0;
            for (t, w) in kern.iter().enumerate() {
                acc += w * tmp[reflect(iy as isize + t as isize - r, ny) * nx + ix];
            }
            v[iy * nx + ix] = acc;
        }
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    v.iter_mut().for_each(|x| *x -= mean);
    let rms = (v.iter().map(|x| x * x).sum::<f64>() / n).sqrt();
    if rms > 0.0 {
        v.iter_mut().for_each(|x| *x /= rms);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkerboard_has_4_to_1_contrast_and_unit_mass() {
        let g = Grid::new(8, 8).unwrap();
        let q = checkerboard(g, 4, 4, 4.0).unwrap();
        assert!((q.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // cell (0,0) is in block (0,0): bright; cell (2,0) in block (1,0): dark
        assert!((q[0] / q[2] - 4.0).abs() < 1e-12);
    }

    #[test]
    fn smooth_field_is_centred_unit_rms_and_correlated() {
        let g = Grid::new(64, 48).unwrap();
        let f = smooth_field(g, 4.0, 3).unwrap();
        let n = f.len() as f64;
        assert!(f.iter().sum::<f64>().abs() / n < 1e-12);
        assert!(((f.iter().map(|x| x * x).sum::<f64>() / n) - 1.0).abs() < 1e-12);
        // neighbours of a field with correlation length 4 cells are strongly correlated
        let c: f64 = (0..g.n() - 1)
            .filter(|i| (i + 1) % 64 != 0)
            .map(|i| f[i] * f[i + 1])
            .sum::<f64>()
            / n;
        assert!(c > 0.8, "lag-1 correlation {c}");
    }

    #[test]
    fn noise_is_seeded() {
        let u = vec![0.25; 4];
        assert_eq!(
            lognormal_noise(&u, 0.5, 1).unwrap(),
            lognormal_noise(&u, 0.5, 1).unwrap()
        );
        assert_ne!(
            lognormal_noise(&u, 0.5, 1).unwrap(),
            lognormal_noise(&u, 0.5, 2).unwrap()
        );
        assert!(normalise(&mut [0.0, f64::NAN]).is_err());
    }
}
