//! Timing of the hot paths at L = 128, 256, 512 (release build): one implicit-Euler step
//! (numeric LU with the symbolic analysis reused + solve), one solve with a reused
//! factorisation, one generator refresh, one G·p, one V_δ projection, one oracle evaluation.
//! `cargo run --release --example timings [-- L ...]`
use cgkl::config::Config;
use cgkl::linsolve::SparseLu;
use std::time::Instant;

fn time<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed().as_secs_f64() / reps as f64
}

fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![128, 256, 512]
    } else {
        sizes
    };
    println!(
        "{:>5} | {:>12} | {:>12} | {:>12} | {:>12} | {:>12} | {:>12}",
        "L", "IE step", "LU numeric", "solve", "refresh", "G·p", "projection"
    );
    for l in sizes {
        let mut c = Config::default();
        c.grid.nx = l;
        c.grid.ny = l;
        c.forward.eps_fwd = 0.05; // a moving score: the refresh really recomputes
        let pb = c.validate()?;
        let mut g = pb.generator()?;
        g.refresh(0.0)?;
        let mut lu = SparseLu::new(&g)?;
        let p0 = pb.p0.clone();
        let mut p = p0.clone();
        let reps = (4 * 128 * 128 / (l * l)).max(2);
        let mut a = 1e-4;
        let t_step = time(reps, || {
            a *= 1.000001; // a new Δt: forces a numeric refactorisation
            lu.factor(&g, a, 0.0).unwrap();
            p.copy_from_slice(&p0);
            lu.solve_in_place(&mut p).unwrap();
        });
        let t_lu = time(reps, || {
            a *= 1.000001;
            lu.factor(&g, a, 0.0).unwrap();
        });
        let t_solve = time(4 * reps, || {
            p.copy_from_slice(&p0);
            lu.solve_in_place(&mut p).unwrap();
        });
        let mut s = 0.0;
        let t_refresh = time(reps, || {
            s += 1e-5;
            g.refresh(s).unwrap();
        });
        let mut out = vec![0.0; p.len()];
        let t_mv = time(8 * reps, || g.apply(&p0, &mut out));
        let mut proj = pb.projection()?;
        let t_proj = time(8 * reps, || {
            p.copy_from_slice(&p0);
            proj.project(&mut p);
        });
        let ms = |x: f64| format!("{:.3} ms", 1e3 * x);
        println!(
            "{l:>5} | {:>12} | {:>12} | {:>12} | {:>12} | {:>12} | {:>12}",
            ms(t_step),
            ms(t_lu),
            ms(t_solve),
            ms(t_refresh),
            ms(t_mv),
            ms(t_proj)
        );
    }
    Ok(())
}
