//! Time per implicit solve `(I − aG)x = b`, direct (supernodal Cholesky) against multigrid
//! (`cgkl::multigrid`), on paper_toy-like problems at L = 128 … 1024: a new (G, a) per solve
//! (factorisation or setup + solve) and a solve with the preparation reused. Run single-threaded
//! for the crossover of `flow.linear_solver = "auto"`:
//! `RAYON_NUM_THREADS=1 cargo run --release --example mg_crossover [-- L ...]`
use cgkl::config::Config;
use cgkl::linsolve::{LinearSolver, Solver};
use cgkl::multigrid::Tolerance;
use std::time::Instant;

/// Median of `reps` timings of `f` (after one warm-up call).
fn time<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![128, 256, 512, 1024]
    } else {
        sizes
    };
    println!(
        "{:>5} | {:>9} | {:>14} | {:>14} | {:>14} | {:>14} | {:>6} | {:>8} | {:>10}",
        "L", "aΛ", "direct new", "mg new", "direct reused", "mg reused", "iters", "τ", "‖Δx‖₁"
    );
    for l in sizes {
        let mut c = Config::default();
        c.grid.nx = l;
        c.grid.ny = l;
        c.forward.eps_fwd = 0.05;
        c.data = toml::from_str("kind = \"textured\"")?;
        let pb = c.validate()?;
        let mut g = pb.generator()?;
        g.refresh(0.01)?;
        let a0 = c.forward.horizon / c.schedule.n_steps as f64;
        let reps = (8 * 256 * 256 / (l * l)).clamp(3, 15);
        let p0 = pb.p0.clone();
        let mut p = p0.clone();
        let mut row = Vec::new();
        let (mut iters, mut tau) = (0, 0.0);
        let mut solutions = Vec::new();
        for reuse in [false, true] {
            for choice in [LinearSolver::Direct, LinearSolver::Multigrid] {
                let mut s = Solver::new(&g, choice, Tolerance::ImplicitEuler)?;
                let mut a = a0;
                let t = time(reps, || {
                    if !reuse {
                        a *= 1.000001; // a new Δt: a new factorisation or setup
                    }
                    s.factor(&g, a, 0.0).unwrap();
                    p.copy_from_slice(&p0);
                    s.solve_in_place(&mut p).unwrap();
                });
                if let Some(st) = s.multigrid_stats() {
                    (iters, tau) = (st.iterations, st.tol);
                }
                if !reuse {
                    solutions.push(p.clone());
                }
                row.push(t);
            }
        }
        let ms = |x: f64| format!("{:.2} ms", 1e3 * x);
        let dx: f64 = solutions[0]
            .iter()
            .zip(&solutions[1])
            .map(|(x, y)| (x - y).abs())
            .sum();
        println!(
            "{l:>5} | {:>9.1e} | {:>14} | {:>14} | {:>14} | {:>14} | {iters:>6} | {tau:>8.1e} | {dx:>10.1e}",
            a0 * g.max_exit_rate(),
            ms(row[0]),
            ms(row[1]),
            ms(row[2]),
            ms(row[3]),
        );
    }
    Ok(())
}
