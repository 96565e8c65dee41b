//! The accuracy behind `cgkl brelax --rtol`, against the time-exact solution (uniformization at
//! 1e-14) of B-relax (SPEC §8):
//! - the Chebyshev expansion (the default) for rtol = 1e-2 … 1e-8: the degree m that `--rtol`
//!   picks, the relative L1 error next to the a-priori bound ε_m·χ(p₀) (the bound must hold; the
//!   ratio shows how conservative it is);
//! - the rational exponential (`--method rational`) for degrees m = 1…12, the same columns;
//! - fixed-step TR-BDF2 for N = 2…16 steps: error and C = error·N² (≈ 0.0093, independent of L;
//!   `brelax::TRBDF2_ERROR_CONSTANT` keeps a 1.6× margin).
//!
//! `cargo run --release --example brelax_calib -- [L ...]` (default 64 128 256; 512 takes ~25 s
//! for its reference).

mod common;
use cgkl::brelax::{error_bound, for_rtol, reference, rel_l1, solve};
use cgkl::integrator::IntegratorKind;

fn main() {
    common::app::support::exit_on_error(run());
}

fn run() -> anyhow::Result<()> {
    let mut sides = Vec::new();
    for a in std::env::args().skip(1) {
        sides.push(a.parse::<usize>().map_err(|_| {
            cgkl::CgklError::config(
                "L",
                &a,
                "a grid side is a whole number, e.g. brelax_calib 64 128",
            )
        })?);
    }
    if sides.is_empty() {
        sides = vec![64, 128, 256];
    }
    for l in sides {
        let t0 = std::time::Instant::now();
        let r = reference(l)?;
        println!(
            "L = {l}: time-exact reference in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        for rtol in [1e-2, 1e-3, 1e-4, 1e-6, 1e-8] {
            let s = solve(l, for_rtol(l, rtol)?)?;
            let e = rel_l1(&s.rho, &r);
            let bound = s.error_bound.unwrap_or(f64::NAN);
            println!(
                "  chebyshev rtol {rtol:.0e}: m = {:>4}  error {e:.3e}  bound {bound:.3e}  error/bound {:.2}{}  wall {:.3} s  mass error {:.1e}  min ρ {:.3}",
                s.degree.unwrap_or(0),
                e / bound,
                if e <= bound { "" } else { "  BOUND VIOLATED" },
                s.wall_s,
                s.mass_err,
                s.min_rho
            );
        }
        for degree in 1..=cgkl::integrator::rational::MAX_DEGREE {
            let m = IntegratorKind::Rational { degree };
            let s = solve(l, m)?;
            let e = rel_l1(&s.rho, &r);
            let bound = error_bound(&m, l).unwrap_or(f64::NAN);
            println!(
                "  rational m = {degree:>2}: error {e:.3e}  bound {bound:.3e}  error/bound {:.2}{}  wall {:.3} s  mass error {:.1e}  min ρ {:.3}",
                e / bound,
                if e <= bound { "" } else { "  BOUND VIOLATED" },
                s.wall_s,
                s.mass_err,
                s.min_rho
            );
        }
        for steps in [2usize, 3, 4, 6, 8, 12, 16] {
            let s = solve(l, IntegratorKind::Trbdf2Fixed { substeps: steps })?;
            let e = rel_l1(&s.rho, &r);
            println!(
                "  TR-BDF2 N = {steps:>2}: error {e:.3e}  C = error·N² = {:.4}  wall {:.3} s  mass error {:.1e}  min ρ {:.3}",
                e * (steps * steps) as f64,
                s.wall_s,
                s.mass_err,
                s.min_rho
            );
        }
    }
    Ok(())
}
