//! Kernel benchmarks (issue 9): generator refresh, matrix–vector product, one implicit step
//! (numeric refactorisation with the symbolic analysis reused + solve, on the Cholesky path and
//! on the bare LU), one solve with a reused factorisation, one V_δ projection, the forward oracle
//! at one time, and a whole `paper_toy` run; at L = 128, 512 and 2048 where it fits. Also the
//! matrix-free product on the 5-point stencil and a whole B-relax solve by the Chebyshev
//! expansion (the default of `cgkl brelax`, in-process: no startup, no file).
//!
//! `cargo bench --bench kernels` (all), or e.g. `cargo bench --bench kernels -- implicit_step`.
//! Numbers, machine and command: `docs/benchmarks.md`.

use cgkl::config::Config;
use cgkl::generator::Generator;
use cgkl::linsolve::SparseLu;
use cgkl::post_step::PostStep;
use cgkl::problem::{Problem, Projection};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Duration;

/// paper_toy on an L×L grid with a moving score (textured data, ε_fwd = ε_score = 0.05) so that
/// the generator really changes with s.
fn moving(l: usize) -> Problem {
    let ov: Vec<String> = [
        format!("grid.nx={l}"),
        format!("grid.ny={l}"),
        "data.kind=textured".into(),
        "forward.eps_fwd=0.05".into(),
    ]
    .into();
    Config::from_toml_with_overrides("", &ov)
        .unwrap()
        .validate()
        .unwrap()
}

fn paper_toy(l: usize) -> Problem {
    let ov = vec![format!("grid.nx={l}"), format!("grid.ny={l}")];
    Config::from_toml_with_overrides("", &ov)
        .unwrap()
        .validate()
        .unwrap()
}

/// Grid sides: `CGKL_BENCH_L=128,512` to choose, default 128, 512, 2048.
fn sizes() -> Vec<usize> {
    match std::env::var("CGKL_BENCH_L") {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) => vec![128, 512, 2048],
    }
}

fn refreshed(pb: &Problem, s: f64) -> Generator {
    let mut g = pb.generator().unwrap();
    g.refresh(s).unwrap();
    g
}

fn bench_generator(c: &mut Criterion) {
    let mut grp = c.benchmark_group("generator_refresh");
    grp.sample_size(10).measurement_time(Duration::from_secs(5));
    for l in sizes() {
        let pb = moving(l);
        let mut g = refreshed(&pb, 0.0);
        let mut k = 0u64;
        grp.bench_function(BenchmarkId::from_parameter(l), |b| {
            b.iter(|| {
                // a new s every time: oracle q_t + rates rewritten in place
                k += 1;
                g.refresh(1e-4 + 1e-9 * k as f64).unwrap();
            })
        });
    }
    grp.finish();
    let mut grp = c.benchmark_group("matvec");
    for l in sizes() {
        let pb = moving(l);
        let g = refreshed(&pb, 0.001);
        let p = pb.p0.clone();
        let mut out = vec![0.0; p.len()];
        grp.bench_function(BenchmarkId::from_parameter(l), |b| {
            b.iter(|| g.apply(black_box(&p), &mut out))
        });
    }
    grp.finish();
    let mut grp = c.benchmark_group("matvec_stencil");
    for l in sizes() {
        let pb = moving(l);
        let g = refreshed(&pb, 0.001).stencil().clone();
        let p = pb.p0.clone();
        let mut out = vec![0.0; p.len()];
        grp.bench_function(BenchmarkId::from_parameter(l), |b| {
            b.iter(|| g.apply(black_box(&p), &mut out))
        });
    }
    grp.finish();
}

fn bench_linear(c: &mut Criterion) {
    for (name, lu_only) in [("implicit_step", false), ("implicit_step_bare_lu", true)] {
        let mut grp = c.benchmark_group(name);
        grp.sample_size(10)
            .measurement_time(Duration::from_secs(10));
        for l in sizes().into_iter().filter(|&l| l <= 1024) {
            let pb = moving(l);
            let g = refreshed(&pb, 0.001);
            let mut lu = if lu_only {
                SparseLu::new_lu(&g).unwrap()
            } else {
                SparseLu::new(&g).unwrap()
            };
            let mut x = pb.p0.clone();
            let mut k = 0u64;
            grp.bench_function(BenchmarkId::from_parameter(l), |b| {
                b.iter(|| {
                    // a new a every time: a numeric refactorisation, symbolic analysis reused
                    k += 1;
                    lu.factor(&g, 5e-4 * (1.0 + 1e-6 * k as f64), 0.0).unwrap();
                    x.copy_from_slice(&pb.p0);
                    lu.solve_in_place(&mut x).unwrap();
                })
            });
        }
        grp.finish();
    }
    let mut grp = c.benchmark_group("solve_reused");
    grp.sample_size(10);
    for l in sizes() {
        let pb = moving(l);
        let g = refreshed(&pb, 0.001);
        let mut lu = SparseLu::new(&g).unwrap();
        lu.factor(&g, 5e-4, 0.0).unwrap();
        let mut x = pb.p0.clone();
        grp.bench_function(BenchmarkId::from_parameter(l), |b| {
            b.iter(|| {
                x.copy_from_slice(&pb.p0);
                lu.solve_in_place(&mut x).unwrap();
            })
        });
    }
    grp.finish();
}

fn bench_projection_and_oracle(c: &mut Criterion) {
    let mut grp = c.benchmark_group("projection");
    for l in sizes() {
        let pb = paper_toy(l);
        let mut proj = pb.projection().unwrap();
        let mut p = pb.p0.clone();
        grp.bench_function(BenchmarkId::from_parameter(l), |b| {
            b.iter(|| {
                p.copy_from_slice(&pb.p0);
                proj.apply(&mut p, 0.0)
            })
        });
    }
    grp.finish();
    let mut grp = c.benchmark_group("oracle_q_at");
    grp.sample_size(10);
    for l in sizes() {
        let pb = moving(l);
        let mut o = pb.forward_oracle().unwrap();
        let mut q = vec![0.0; pb.grid.n()];
        grp.bench_function(BenchmarkId::from_parameter(l), |b| {
            b.iter(|| o.q_at(black_box(0.01), &mut q))
        });
    }
    grp.finish();
}

fn bench_run(c: &mut Criterion) {
    let mut grp = c.benchmark_group("paper_toy_run");
    grp.sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for l in sizes().into_iter().filter(|&l| l <= 256) {
        let pb = paper_toy(l);
        grp.bench_function(BenchmarkId::from_parameter(l), |b| {
            b.iter(|| pb.run(Projection::Projected).unwrap())
        });
    }
    grp.finish();
}

fn bench_brelax(c: &mut Criterion) {
    use cgkl::brelax;
    let mut grp = c.benchmark_group("brelax_chebyshev");
    grp.sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for l in sizes().into_iter().filter(|&l| l <= 512) {
        let m = brelax::for_rtol(l, brelax::DEFAULT_RTOL).unwrap();
        grp.bench_function(BenchmarkId::from_parameter(l), |b| {
            b.iter(|| brelax::solve(l, m).unwrap())
        });
    }
    grp.finish();
}

criterion_group!(
    benches,
    bench_generator,
    bench_linear,
    bench_projection_and_oracle,
    bench_run,
    bench_brelax
);
criterion_main!(benches);
