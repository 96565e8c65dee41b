//! Claim (SPEC §5, STYLE §3): every flux is a Markov generator and every integrator keeps it so:
//! mass is conserved to 1e-12 and min p ≥ −1e-15 after every interval of a long run, for every
//! flux × integrator, on a reverse-diffusion problem whose score moves in time and from a start
//! with a large dynamic range (log-normal σ = 1.5, a few pixels at 1e-14 relative and one at 0).
//! Data contrast 1e4 and β up to 20 make the intervals stiff (TR-BDF2's trapezoidal stage goes
//! negative and must be rejected); a self-test shows explicit Euler at cfl 1.9 and a 1e-11 mass
//! leak are caught by this harness. A third test checks that the splitting driver turns a breach (a mass leak, a negative entry,
//! a NaN generator) into an `Err` instead of carrying on.

use cgkl::beta::BetaSchedule;
use cgkl::data::{lognormal_noise, normalise, textured_checkerboard};
use cgkl::diagnostics::Diagnostics;
use cgkl::flux::Flux;
use cgkl::generator::Generator;
use cgkl::grid::Grid;
use cgkl::integrator::{IntegratorKind, StepStats};
use cgkl::kl::{Reference, ToleranceBox};
use cgkl::observe::Collect;
use cgkl::oracle::ForwardOracle;
use cgkl::partition::Partition;
use cgkl::post_step::{PostRecord, PostStep};
use cgkl::score::{Drive, PotentialDrive, ReverseDrive};
use cgkl::splitting::{run_splitting, SplitPlan};
use cgkl::CgklError;
use std::sync::Arc;
use std::time::Instant;

const L: usize = 24;
const TILES: usize = 4;
const EPS: f64 = 0.3;
const T_REV: f64 = 0.05;
const BETA: BetaSchedule = BetaSchedule::Linear {
    min: 0.1,
    max: 20.0,
};
const CONTRAST: f64 = 1e4;
const INTERVALS: usize = 200;
const MASS_TOL: f64 = 1e-12;
const MIN_P_TOL: f64 = -1e-15;

/// Neumaier-compensated sum, so the measured drift is the state's, not the summation's.
fn sum(p: &[f64]) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for &x in p {
        let t = s + x;
        c += if s.abs() >= x.abs() {
            (s - t) + x
        } else {
            (x - t) + s
        };
        s = t;
    }
    s + c
}

fn partition() -> Partition {
    Partition::tiles(Grid::new(L, L).unwrap(), TILES, TILES).unwrap()
}

/// Log-normal noise (σ = 1.5) on the uniform image, with a few pixels pushed to 1e-14 of their
/// value and one set to exactly 0: about 20 decades of dynamic range.
fn noisy_start() -> Vec<f64> {
    let n = L * L;
    let mut p = lognormal_noise(&vec![1.0 / n as f64; n], 1.5, 7).unwrap();
    for i in (5..n).step_by(97) {
        p[i] *= 1e-14;
    }
    p[L * L / 2 + 3] = 0.0;
    normalise(&mut p).unwrap();
    p
}

/// Reverse-diffusion drive: oracle of the textured checkerboard with ε_fwd = ε_score = 0.3 and a
/// linear β, so q_{T−s} moves over the run and the generator is rebuilt at every refresh.
fn reverse_drive(part: &Partition) -> Box<dyn Drive> {
    let q0 = textured_checkerboard(part.grid(), TILES, TILES, CONTRAST, 0.6, 1).unwrap();
    let oracle = ForwardOracle::new(part, &q0, EPS, BETA, T_REV).unwrap();
    Box::new(ReverseDrive::new(oracle, BETA, None))
}

/// B-relax-like potential U = −ln q whose two bumps drift with s (time-dependent generator).
fn moving_brelax_drive(part: &Partition) -> Box<dyn Drive> {
    let grid = part.grid();
    // the SPEC §8 target with its bumps moving by ~0.2 over s ∈ [0, 1]
    let u = move |x: f64, y: f64, s: f64| {
        let (cx, cy) = (0.3 + 0.2 * s, 0.3 + 0.1 * s);
        let g1 = (-((x - cx).powi(2) + (y - cy).powi(2)) / (2.0 * 0.08 * 0.08)).exp();
        let g2 = (-((x - 0.7).powi(2) + (y - 0.65 + 0.2 * s).powi(2)) / (2.0 * 0.12 * 0.12)).exp();
        -(0.05 + 0.6 * g1 + 0.35 * g2).ln()
    };
    Box::new(PotentialDrive::new(grid, Box::new(u), 0.2, true))
}

/// The fluxes under test with their drive builder and the time span [0, s_end] of the run.
type Case = (String, Flux, fn(&Partition) -> Box<dyn Drive>, f64);

fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = [1.0, 0.5, 0.1]
        .iter()
        .map(|&eta| {
            (
                format!("sg(eta={eta})"),
                Flux::Sg { eta },
                reverse_drive as fn(&Partition) -> Box<dyn Drive>,
                T_REV,
            )
        })
        .collect();
    v.push(("upwind".into(), Flux::Upwind, reverse_drive, T_REV));
    v.push((
        "chain_reversal".into(),
        Flux::ChainReversal,
        reverse_drive,
        T_REV,
    ));
    v.push((
        "potential_sg".into(),
        Flux::PotentialSg,
        moving_brelax_drive,
        1.0,
    ));
    v
}

fn integrators() -> Vec<IntegratorKind> {
    vec![
        IntegratorKind::ExplicitEuler {
            cfl: 1.0,
            substeps: 1,
        },
        IntegratorKind::ImplicitEuler { substeps: 1 },
        IntegratorKind::Trbdf2Fixed { substeps: 1 },
        IntegratorKind::Trbdf2Adaptive {
            rtol: 1e-6,
            atol: 1e-12,
        },
    ]
}

/// Worst values over one run.
struct Worst {
    mass: f64,
    min_p: f64,
    stats: StepStats,
    /// First breach or error, with its interval.
    failure: Option<String>,
}

/// Runs `INTERVALS` equal intervals over [0, s_end], checking both invariants after each;
/// `tamper` is applied after every interval (the identity except in the harness self-test).
fn run(
    flux: Flux,
    drive: fn(&Partition) -> Box<dyn Drive>,
    s_end: f64,
    kind: IntegratorKind,
    tamper: fn(&mut [f64]),
) -> Worst {
    let part = partition();
    let mut g = Generator::new(&part, EPS, flux, drive(&part));
    let mut integ = kind.build(&g).unwrap();
    let mut p = noisy_start();
    let mass0 = sum(&p);
    let mut w = Worst {
        mass: 0.0,
        min_p: f64::INFINITY,
        stats: StepStats::default(),
        failure: None,
    };
    for n in 0..INTERVALS {
        let s0 = s_end * n as f64 / INTERVALS as f64;
        let s1 = s_end * (n + 1) as f64 / INTERVALS as f64;
        match integ.advance(&mut g, &mut p, s0, s1) {
            Ok(st) => w.stats += st,
            Err(e) => {
                w.failure = Some(format!("interval {n}: Err({e})"));
                return w;
            }
        }
        tamper(&mut p);
        let drift = (sum(&p) - mass0).abs();
        let min = p.iter().cloned().fold(f64::INFINITY, f64::min);
        // NaN must not slip through the comparisons below
        let drift = if drift.is_nan() { f64::INFINITY } else { drift };
        let min = if p.iter().any(|x| x.is_nan()) {
            f64::NEG_INFINITY
        } else {
            min
        };
        w.mass = w.mass.max(drift);
        w.min_p = w.min_p.min(min);
        if drift > MASS_TOL || min < MIN_P_TOL {
            w.failure = Some(format!(
                "interval {n} (s = {s1:.4e}): |Σp − Σp0| = {drift:.3e}, min p = {min:.3e}"
            ));
            return w;
        }
    }
    w
}

#[test]
fn mass_and_positivity_for_every_flux_and_integrator() {
    let start = Instant::now();
    let p0 = noisy_start();
    let pos_min = p0
        .iter()
        .cloned()
        .filter(|&x| x > 0.0)
        .fold(f64::INFINITY, f64::min);
    let pmax = p0.iter().cloned().fold(0.0, f64::max);
    println!(
        "start: {L}×{L}, {INTERVALS} intervals, min positive p0 = {pos_min:.2e}, max p0 = {pmax:.2e}"
    );
    let mut table = String::from(
        "flux            integrator        worst |Σp−Σp0|  worst min p   steps  rejected  LU\n",
    );
    let mut failures = Vec::new();
    for (name, flux, drive, s_end) in cases() {
        for kind in integrators() {
            let iname = format!("{kind:?}");
            let iname = iname.split_whitespace().next().unwrap_or("").to_string();
            let w = run(flux, drive, s_end, kind, |_| {});
            table += &format!(
                "{name:<15} {iname:<17} {:>14.3e}  {:>11.3e}  {:>6}  {:>8}  {:>4}\n",
                w.mass, w.min_p, w.stats.steps, w.stats.rejected, w.stats.factorizations
            );
            if let Some(f) = w.failure {
                failures.push(format!("{name} × {iname}: {f}"));
            }
        }
    }
    println!("{table}wall time {:.2} s", start.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "invariants broken (|Σp−Σp0| ≤ {MASS_TOL:e}, min p ≥ {MIN_P_TOL:e}):\n{}\n{table}",
        failures.join("\n")
    );
}

/// The problem is hard enough for the check to bite: explicit Euler past its positivity limit
/// (Δt·max|G_ii| = 1.9) goes negative, and a 1e-11 relative mass leak per interval is caught.
#[test]
fn harness_catches_broken_integrators() {
    let past_limit = IntegratorKind::ExplicitEuler {
        cfl: 1.9,
        substeps: 1,
    };
    for (name, flux) in [
        ("sg(eta=1)", Flux::Sg { eta: 1.0 }),
        ("chain", Flux::ChainReversal),
    ] {
        let w = run(flux, reverse_drive, T_REV, past_limit, |_| {});
        assert!(
            w.failure.is_some() && w.min_p < MIN_P_TOL,
            "{name}: cfl = 1.9 not caught (min p {:e})",
            w.min_p
        );
    }
    let ie = IntegratorKind::ImplicitEuler { substeps: 1 };
    let leak = |p: &mut [f64]| p.iter_mut().for_each(|x| *x *= 1.0 + 1e-11);
    let w = run(Flux::Upwind, reverse_drive, T_REV, ie, leak);
    assert!(
        w.failure.is_some() && w.mass > MASS_TOL,
        "a leak of 1e-11 per interval was not caught (drift {:e})",
        w.mass
    );
}

/// A post-step that moves mass or makes an entry negative, to prove the driver notices.
struct Breach {
    scale: f64,
    negative: f64,
}

impl PostStep for Breach {
    fn apply(&mut self, p: &mut [f64], _s: f64) -> PostRecord {
        p.iter_mut().for_each(|x| *x *= self.scale);
        p[0] = p[0].min(self.negative);
        PostRecord::identity()
    }
    fn name(&self) -> &'static str {
        "breach"
    }
}

/// A drive whose field is NaN from s ≥ 0.5 T on: a broken score model.
struct NanDrive;

impl Drive for NanDrive {
    fn eval(&mut self, s: f64, phi: &mut [f64]) -> cgkl::Result<f64> {
        phi.iter_mut().enumerate().for_each(|(i, x)| {
            *x = if s >= 0.5 * T_REV {
                f64::NAN
            } else {
                0.01 * i as f64
            }
        });
        Ok(1.0)
    }
    fn is_static(&self) -> bool {
        false
    }
}

fn driver_run(
    drive: Box<dyn Drive>,
    post: Vec<Box<dyn PostStep>>,
    kind: IntegratorKind,
) -> cgkl::Result<usize> {
    let part = partition();
    let q0 = textured_checkerboard(part.grid(), TILES, TILES, 4.0, 0.6, 1).unwrap();
    let reference = Reference::new(&part, q0.clone()).unwrap();
    let bounds = ToleranceBox::new(&reference.w_ref, f64::INFINITY).unwrap();
    let mut diag = Diagnostics::new(
        Arc::new(part.clone()),
        Arc::new(reference),
        bounds,
        q0,
        None,
        T_REV,
    );
    let mut g = Generator::new(&part, EPS, Flux::Sg { eta: 1.0 }, drive);
    let mut integ = kind.build(&g).unwrap();
    let mut post = post;
    let times: Vec<f64> = (0..=20).map(|n| T_REV * n as f64 / 20.0).collect();
    let mut collect = Collect::records_only();
    run_splitting(
        &mut g,
        integ.as_mut(),
        &mut post,
        &mut diag,
        SplitPlan {
            times: &times,
            p0: &noisy_start(),
            snapshot_at: &[],
            store_currents: false,
        },
        &mut [&mut collect],
    )?;
    Ok(collect.records.len())
}

#[test]
fn driver_reports_breaches_as_errors() {
    let part = partition();
    let ie = IntegratorKind::ImplicitEuler { substeps: 1 };
    // control: the same run without a breach succeeds (so the failures below are the breaches')
    assert_eq!(driver_run(reverse_drive(&part), vec![], ie).unwrap(), 21);
    let leak = Breach {
        scale: 1.0 + 1e-11,
        negative: f64::INFINITY,
    };
    let neg = Breach {
        scale: 1.0,
        negative: -1e-14,
    };
    for (what, post, key) in [
        ("mass leak 1e-11", leak, "mass"),
        ("entry −1e-14", neg, "min p"),
    ] {
        match driver_run(reverse_drive(&part), vec![Box::new(post)], ie) {
            Err(CgklError::Invariant { step, msg, .. }) => {
                assert_eq!(step, 1, "{what}: caught late");
                assert!(msg.contains(key), "{what}: wrong diagnosis {msg}");
            }
            other => panic!("{what}: expected Err(Invariant), got {other:?}"),
        }
    }
    // a NaN score must stop the run with an error (from the integrator or the driver), for
    // every integrator, never finish with garbage
    for kind in integrators() {
        let r = driver_run(Box::new(NanDrive), vec![], kind);
        assert!(r.is_err(), "{kind:?}: NaN generator ran to the end: {r:?}");
        println!("{kind:?} with a NaN field: {}", r.unwrap_err());
    }
}
