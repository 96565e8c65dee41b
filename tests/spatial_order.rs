//! Claims: (1) the SG finite-volume scheme for B-relax (SPEC §8) is second order in space, measured
//! against a fine-grid solution restricted onto the coarse cells; (2) SG with a frozen potential
//! has π ∝ e^{−U} (cell values) as its exact discrete stationary state (SPEC §5), to 1e-12.

use cgkl::data::{brelax_density, smooth_field};
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

/// L = 16…128 against L = 256, TR-BDF2 adaptive at rtol 1e-9 (time error checked to be < 1% of
/// the smallest spatial error). The reference carries its own O(h_ref²) error, so with
/// err_L ≈ C(h_L² − h_ref²) the last EOC reads ln 5/ln 2 ≈ 2.32 and the bias adds ≈ +0.13 to the
/// least-squares slope over the four grids (≈ +0.04 over L ≤ 64 only; both slopes are printed). L = 512 as the reference would cost ~4 min, so 256 it is; the tolerance (1.9, 2.2)
/// of STYLE §6 still separates order 2 from a first-order defect (a half-cell shift of U gives 1.4).
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
        "reference L = {l_ref}: |Σp−1| {:.1e}, {} steps, {} rejected, {} LU, {wall:.1} s",
        (p_ref.iter().sum::<f64>() - 1.0).abs(),
        st.steps,
        st.rejected,
        st.factorizations
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
    // the time error must be negligible: L = 64 at rtol against rtol/10
    let (p_tight, _, _) = solve(64, rtol / 10.0);
    let (p_loose, _, _) = solve(64, rtol);
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
        "least-squares order {order:.3} (L ≤ 64 only: {:.3}); time error at L = 64: {time_err:.2e} \
         ({:.1e} of the smallest spatial error)",
        observed_order(&hs[..3], &errs[..3]),
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

/// Frozen random smooth potential on a rectangular 40×24 grid with 4×2 tiles and ε = 0.3 (the
/// conductance jumps must not matter: detailed balance holds face by face), RMS(U) = 2.
fn random_potential_generator() -> (Generator, Vec<f64>) {
    let grid = Grid::new(40, 24).unwrap();
    let part = Partition::tiles(grid, 4, 2).unwrap();
    let u: Vec<f64> = smooth_field(grid, 3.0, 11)
        .unwrap()
        .iter()
        .map(|x| 2.0 * x)
        .collect();
    let (h, nx, ny) = (grid.h(), grid.nx, grid.ny);
    let field = u.clone();
    let potential = move |x: f64, y: f64, _t: f64| {
        let ix = ((x / h).floor() as usize).min(nx - 1);
        let iy = ((y / h).floor() as usize).min(ny - 1);
        field[iy * nx + ix]
    };
    let drive = PotentialDrive::new(grid, Box::new(potential), 1.0, false);
    let g = Generator::new(&part, 0.3, Flux::PotentialSg, Box::new(drive));
    // π_i ∝ e^{−U_i}, normalised (shifted by min U against overflow)
    let umin = u.iter().cloned().fold(f64::INFINITY, f64::min);
    let mut pi: Vec<f64> = u.iter().map(|x| (-(x - umin)).exp()).collect();
    let z: f64 = pi.iter().sum();
    pi.iter_mut().for_each(|x| *x /= z);
    (g, pi)
}

#[test]
fn sg_stationary_state_is_exp_minus_u() {
    let (mut g, pi) = random_potential_generator();
    g.refresh(0.0).unwrap();
    let spread = pi.iter().cloned().fold(0.0, f64::max) / pi.iter().cloned().fold(1.0, f64::min);
    // ‖Gπ‖₁ relative to the total outflow Σ_i |G_ii| π_i
    let mut gpi = vec![0.0; pi.len()];
    g.apply(&pi, &mut gpi);
    let diag = g.diag_positions();
    let vals = g.matrix().data();
    let outflow: f64 = pi.iter().zip(diag).map(|(p, &d)| p * vals[d].abs()).sum();
    let residual: f64 = gpi.iter().map(|x| x.abs()).sum::<f64>() / outflow;
    println!("π spread max/min = {spread:.2e}; ‖Gπ‖₁ / Σ|G_ii|π_i = {residual:.2e}");
    assert!(
        residual <= 1e-12,
        "e^(−U) is not stationary: relative ‖Gπ‖₁ = {residual:e}"
    );
    // evolve the uniform image to large s with big implicit-Euler steps (Δt = 5, i.e.
    // Δt·max|G_ii| ≈ 6e4): the shape p/Σp must reach π. The mass is printed, not asserted here:
    // at this Δt·‖G‖ each solve moves Σp by ~1e-14 (the rounding of I − Δt G, see the report;
    // mass is asserted in tests/conservation.rs).
    let n = pi.len();
    let mut p = vec![1.0 / n as f64; n];
    let mut integ = IntegratorKind::ImplicitEuler { substeps: 25 }
        .build(&g)
        .unwrap();
    let mut history = Vec::new();
    let mut shape = f64::NAN;
    for k in 0..4 {
        integ
            .advance(&mut g, &mut p, 125.0 * k as f64, 125.0 * (k + 1) as f64)
            .unwrap();
        let mass: f64 = p.iter().sum();
        shape = p.iter().zip(&pi).map(|(a, b)| (a / mass - b).abs()).sum();
        history.push(format!("{shape:.1e}"));
    }
    let mass_err = p.iter().sum::<f64>() - 1.0;
    println!("‖p/Σp − π‖₁ at s = 125, 250, 375, 500: {history:?}; Σp − 1 = {mass_err:.1e}");
    assert!(
        shape <= 1e-12,
        "implicit Euler to s = 500 ends {shape:e} (L1) from π; history {history:?}"
    );
}
