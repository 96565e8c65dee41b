//! The multigrid linear solver (`flow.linear_solver = "multigrid"`, `cgkl::multigrid`) gives
//! the direct solver's runs within its tolerance: every reversible flux × implicit integrator
//! on a moving score with leaky cuts, and whole projected and baseline runs in both flow modes,
//! with mass conserved to 1e-12 and no negative entry; δ = ∞ still reproduces the baseline bit
//! for bit; upwind refuses it with a config error.

use cgkl::config::{Config, FlowMode};
use cgkl::flux::Flux;
use cgkl::integrator::IntegratorKind;
use cgkl::linsolve::LinearSolver;
use cgkl::problem::Projection;

fn l1(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

/// A textured image on 48 × 40 cells in 4 × 2 tiles, a moving oracle score (ε_fwd = 0.3) and
/// a leaky reverse flow (ε_rev = 0.05): every step needs a new factorisation or setup.
fn moving_config(flux: Flux) -> Config {
    Config::from_toml_with_overrides(
        "",
        &[
            "grid.nx=48",
            "grid.ny=40",
            "partition.bx=4",
            "partition.by=2",
            "data.kind=textured",
            "forward.eps_fwd=0.3",
            "reverse.eps_rev=0.05",
            "schedule.n_steps=8",
        ]
        .map(String::from),
    )
    .map(|mut c| {
        c.reverse.flux = flux;
        c
    })
    .unwrap()
}

/// Integrates p_0 over the schedule's intervals with `kind` and the linear solver `solver`;
/// checks mass and sign after every interval and returns the final state.
fn integrate(c: &Config, kind: IntegratorKind, solver: LinearSolver) -> Vec<f64> {
    let pb = c.validate().unwrap();
    let mut g = pb.generator().unwrap();
    g.refresh(0.0).unwrap();
    let mut integ = kind.build_with(&g, solver).unwrap();
    let mut p = pb.p0.clone();
    for w in pb.times.windows(2) {
        integ.advance(&mut g, &mut p, w[0], w[1]).unwrap();
        let mass = (p.iter().sum::<f64>() - 1.0).abs();
        let min = p.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!(mass <= 1e-12, "{kind:?} {solver}: |Σp − 1| = {mass:.2e}");
        assert!(min >= 0.0, "{kind:?} {solver}: min p = {min:.2e}");
    }
    p
}

#[test]
fn every_implicit_integrator_agrees_with_the_direct_solve() {
    let kinds = [
        (IntegratorKind::ImplicitEuler { substeps: 3 }, 1e-6),
        (IntegratorKind::Trbdf2Fixed { substeps: 2 }, 1e-8),
        (
            IntegratorKind::Trbdf2Adaptive {
                rtol: 1e-6,
                atol: 1e-10,
            },
            1e-6,
        ),
    ];
    for flux in [
        Flux::ChainReversal,
        Flux::Sg { eta: 1.0 },
        Flux::Sg { eta: 0.3 },
    ] {
        let c = moving_config(flux);
        for (kind, tol) in kinds {
            let direct = integrate(&c, kind, LinearSolver::Direct);
            let mg = integrate(&c, kind, LinearSolver::Multigrid);
            let d = l1(&direct, &mg);
            assert!(
                d <= tol,
                "{flux:?} {kind:?}: direct and multigrid differ by {d:.2e}"
            );
            assert!(d > 0.0, "{flux:?} {kind:?}: identical: multigrid not used?");
        }
    }
    // rational needs a static G: the potential SG flux of a static potential
    let c = Config::from_toml_with_overrides(
        "",
        &[
            "grid.nx=40",
            "grid.ny=40",
            "partition.bx=1",
            "partition.by=1",
            "data.kind=brelax",
            "score.kind=potential",
            "score.potential=\"3*sin(6*x)*cos(4*y)\"",
            "score.diffusion=0.02",
            "reverse.flux.kind=potential_sg",
            "forward.horizon=0.5",
            "schedule.n_steps=4",
        ]
        .map(String::from),
    )
    .unwrap();
    let kind = IntegratorKind::Rational { degree: 8 };
    let direct = integrate(&c, kind, LinearSolver::Direct);
    let mg = integrate(&c, kind, LinearSolver::Multigrid);
    let d = l1(&direct, &mg);
    // each interval's solves together within 10⁻³ ε_m (2 × for the mass correction)
    let bound = 2e-3 * cgkl::integrator::RationalExp::uniform_error(8).unwrap() * 4.0;
    assert!(
        d <= bound && d > 0.0,
        "rational: direct and multigrid differ by {d:.2e} (bound {bound:.1e})"
    );
}

/// Whole runs, projected and baseline, kernel and resolved: the same records within the
/// solver's tolerance, and δ = ∞ reproduces the baseline bit for bit on the multigrid path.
#[test]
fn runs_agree_and_delta_infinity_is_the_baseline() {
    for mode in [FlowMode::Kernel, FlowMode::Resolved] {
        let mut c = moving_config(Flux::ChainReversal);
        c.flow.mode = mode;
        let mut mg = c.clone();
        mg.flow.linear_solver = LinearSolver::Multigrid;
        let (pd, pm) = (c.validate().unwrap(), mg.validate().unwrap());
        for projection in [Projection::Projected, Projection::Baseline] {
            let (a, b) = (pd.run(projection).unwrap(), pm.run(projection).unwrap());
            let d = l1(&a.output.final_p, &b.output.final_p);
            assert!(
                d <= 1e-6 && d > 0.0,
                "{mode:?} {projection:?}: final states differ by {d:.2e}"
            );
            for (ra, rb) in a.output.records.iter().zip(&b.output.records) {
                assert!(
                    (ra.e_block - rb.e_block).abs() <= 1e-6,
                    "{mode:?} {projection:?}"
                );
                assert!((ra.v - rb.v).abs() <= 1e-6, "{mode:?} {projection:?}");
                assert!((rb.mass - 1.0).abs() <= 1e-12 && rb.min_p >= 0.0);
            }
        }
        let mut inf = mg.clone();
        inf.projection.delta = f64::INFINITY;
        let pi = inf.validate().unwrap();
        let (p, b) = (
            pi.run(Projection::Projected).unwrap(),
            pi.run(Projection::Baseline).unwrap(),
        );
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p.output.final_p), bits(&b.output.final_p), "{mode:?}");
    }
}

#[test]
fn upwind_refuses_multigrid() {
    let mut c = moving_config(Flux::Upwind);
    c.flow.linear_solver = LinearSolver::Multigrid;
    let e = match c.validate() {
        Ok(_) => panic!("upwind with multigrid must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("flow.linear_solver") && e.contains("upwind"),
        "{e}"
    );
    c.flow.linear_solver = LinearSolver::Auto;
    c.validate().unwrap();
    // the TOML spelling
    let t = Config::from_toml("[flow]\nlinear_solver = \"multigrid\"\n").unwrap();
    assert_eq!(t.flow.linear_solver, LinearSolver::Multigrid);
    assert!(Config::from_toml("[flow]\nlinear_solver = \"mg\"\n").is_err());
}
