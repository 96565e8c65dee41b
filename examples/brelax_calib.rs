//! The error model behind `cgkl brelax --rtol`: fixed-step TR-BDF2 on B-relax (SPEC §8) against
//! the time-exact solution (uniformization at 1e-14) for N = 2…16 steps; prints the relative L1
//! error and C = error·N² (≈ 0.0093, independent of L; `brelax::TRBDF2_ERROR_CONSTANT` keeps a
//! 1.6× margin).
//!
//! `cargo run --release --example brelax_calib -- [L ...]` (default 64 128 256; 512 takes ~25 s
//! for its reference).
use cgkl::brelax::{reference, rel_l1, solve, Method};

fn main() {
    cgkl::cli_support::exit_on_error(run());
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
        for steps in [2usize, 3, 4, 6, 8, 12, 16] {
            let s = solve(l, Method::Trbdf2 { steps })?;
            let e = rel_l1(&s.rho, &r);
            println!(
                "  N = {steps:>2}: error {e:.3e}  C = error·N² = {:.4}  wall {:.3} s  mass error {:.1e}  min ρ {:.3}",
                e * (steps * steps) as f64,
                s.wall_s,
                s.mass_err,
                s.min_rho
            );
        }
    }
    Ok(())
}
