//! Lyapunov study (issue 4, item 3): does V_δ behave like a Lyapunov function of the projected
//! reverse diffusion? For δ over three decades, several leakages ε_rev and step counts N (kernel
//! mode) and for the continuous limit, it measures
//! - the Lyapunov violation of SPEC §7, `max_n (V_δ(p_{n+1}) − V_δ(p_n))⁺` (largest single rise),
//! - the positive variation `Σ_n (V_δ(p_{n+1}) − V_δ(p_n))⁺` (total rise; for the limit, over its
//!   integration steps), which does not vanish with Δt when V_δ genuinely rises,
//! - the final V_δ
//!
//! (for the continuous limit the "violation" is per Lawson step, h = T/200, so only its positive
//! variation and final V_δ are step-independent),
//! fits the violation's scaling in δ (least squares over δ ≤ 1e-2; the paper predicts O(δ²)
//! under small leakage), prints the table, writes `out/lyapunov.h5` and plots in `out/lyapunov/`.
//! Default grid 64×64 (`--set grid.nx=128 --set grid.ny=128` for the paper's size).
//!
//! `cargo run --release --example lyapunov -- [--config FILE] [--set key=value]... [--out DIR] [--quick]`
use cgkl::cli_support::{exit_on_error, ExampleArgs};
use cgkl::config::Config;
use cgkl::io::h5util;
use cgkl::io::layout::{put_f64, put_i64};
use cgkl::order::observed_order;
use cgkl::plot::{line_plot, LinePlot, Scale, Series, SeriesStyle};
use clap::Parser;
use rayon::prelude::*;

#[derive(Debug, Clone)]
struct Row {
    eps_rev: f64,
    delta: f64,
    /// 0 for the continuous limit
    n: usize,
    violation: f64,
    positive_variation: f64,
    v_delta_final: f64,
}

fn rises(v: &[f64]) -> (f64, f64) {
    let d = v.windows(2).map(|w| (w[1] - w[0]).max(0.0));
    let (mut max, mut sum) = (0.0f64, 0.0);
    for x in d {
        max = max.max(x);
        sum += x;
    }
    (max, sum)
}

fn main() {
    exit_on_error(run());
}

fn run() -> anyhow::Result<()> {
    let args = ExampleArgs::parse();
    let (text, user_ov) = args.prepare()?;
    let mut ov = vec!["grid.nx=64".to_string(), "grid.ny=64".to_string()];
    ov.extend(user_ov);
    let deltas: Vec<f64> = if args.quick {
        vec![1e-3, 3e-3, 1e-2]
    } else {
        vec![1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
    };
    let eps: Vec<f64> = if args.quick {
        vec![0.05]
    } else {
        vec![0.01, 0.05, 0.2]
    };
    let ns: Vec<usize> = if args.quick {
        vec![20, 80]
    } else {
        vec![40, 160, 640]
    };
    let limit_steps = if args.quick { 50 } else { 200 };
    let mut jobs = Vec::new();
    for &e in &eps {
        for &d in &deltas {
            for &n in ns.iter().chain(std::iter::once(&0)) {
                jobs.push((e, d, n));
            }
        }
    }
    let t0 = std::time::Instant::now();
    eprintln!(
        "lyapunov: {} runs ({} δ × {} ε_rev × (N = {:?} and the continuous limit))",
        jobs.len(),
        deltas.len(),
        eps.len(),
        ns
    );
    let rows: Vec<anyhow::Result<Row>> = jobs
        .par_iter()
        .map(|&(e, d, n)| {
            let mut o = ov.clone();
            o.push(format!("reverse.eps_rev={e}"));
            o.push(format!("projection.delta={d}"));
            o.push(format!("schedule.n_steps={}", n.max(1)));
            let cfg = Config::from_toml_with_overrides(&text, &o)?;
            let pb = cfg.validate()?;
            let v: Vec<f64> = if n == 0 {
                let lim = cgkl::limit::LimitSolver::new(&pb)?.solve(&pb, limit_steps)?;
                lim.v_delta.iter().map(|x| x.1).collect()
            } else {
                pb.run(true)?
                    .output
                    .records
                    .iter()
                    .map(|r| r.v_delta)
                    .collect()
            };
            let (violation, pv) = rises(&v);
            Ok(Row {
                eps_rev: e,
                delta: d,
                n,
                violation,
                positive_variation: pv,
                v_delta_final: *v.last().unwrap_or(&f64::NAN),
            })
        })
        .collect();
    let rows: Vec<Row> = rows.into_iter().collect::<anyhow::Result<_>>()?;
    let name = |n: usize| {
        if n == 0 {
            "limit".to_string()
        } else {
            format!("N={n}")
        }
    };
    println!(
        "{:>8} {:>9} {:>7} {:>12} {:>12} {:>12}",
        "eps_rev", "delta", "N", "violation", "pos_var", "V_delta(T)"
    );
    for r in &rows {
        println!(
            "{:>8} {:>9.1e} {:>7} {:>12.4e} {:>12.4e} {:>12.4e}",
            r.eps_rev,
            r.delta,
            name(r.n),
            r.violation,
            r.positive_variation,
            r.v_delta_final
        );
    }
    println!(
        "(limit rows: violation per Lawson step h = T/{limit_steps}; compare positive variations)"
    );
    println!("\nscaling of the violation in δ (least-squares slope of ln violation against ln δ, δ ≤ 1e-2):");
    for &e in &eps {
        for &n in ns.iter().chain(std::iter::once(&0)) {
            let pts: Vec<&Row> = rows
                .iter()
                .filter(|r| r.eps_rev == e && r.n == n && r.delta <= 1e-2)
                .collect();
            let x: Vec<f64> = pts.iter().map(|r| r.delta).collect();
            let y: Vec<f64> = pts.iter().map(|r| r.violation).collect();
            let z: Vec<f64> = pts.iter().map(|r| r.positive_variation).collect();
            println!(
                "  ε_rev = {e:<5} {:>7}: violation ∝ δ^{:.2}, positive variation ∝ δ^{:.2}",
                name(n),
                observed_order(&x, &y),
                observed_order(&x, &z)
            );
        }
    }
    // HDF5
    let path = args.out.join("lyapunov.h5");
    let f = h5util::AtomicH5::create(&path, true)?;
    let root = f.root();
    h5util::attr_str(root, "kind", "lyapunov_study")?;
    h5util::attr_str(
        root,
        "config",
        &Config::from_toml_with_overrides(&text, &ov)?.to_toml(),
    )?;
    h5util::attr_str(root, "version", env!("CARGO_PKG_VERSION"))?;
    let col = |g: fn(&Row) -> f64| rows.iter().map(g).collect::<Vec<f64>>();
    put_f64(
        root,
        "eps_rev",
        &col(|r| r.eps_rev),
        "reverse leakage ε_rev",
        "1",
    )?;
    put_f64(root, "delta", &col(|r| r.delta), "tolerance δ", "1")?;
    put_i64(
        root,
        "N",
        &rows.iter().map(|r| r.n as i64).collect::<Vec<_>>(),
        "projection steps (0: continuous limit)",
        "1",
    )?;
    put_f64(
        root,
        "violation",
        &col(|r| r.violation),
        "max_n (V_δ(p_{n+1}) − V_δ(p_n))⁺",
        "nats",
    )?;
    put_f64(
        root,
        "positive_variation",
        &col(|r| r.positive_variation),
        "Σ_n (V_δ(p_{n+1}) − V_δ(p_n))⁺",
        "nats",
    )?;
    put_f64(
        root,
        "V_delta_final",
        &col(|r| r.v_delta_final),
        "V_δ(p_N)",
        "nats",
    )?;
    f.commit()?;
    println!("wrote {}", path.display());
    // plots
    let dir = args.out.join("lyapunov");
    std::fs::create_dir_all(&dir)?;
    let e_plot = if eps.contains(&0.05) { 0.05 } else { eps[0] };
    for (stem, title, get) in [
        (
            "violation_vs_delta",
            "Lyapunov violation max (ΔV_δ)⁺ against δ",
            (|r: &Row| r.violation) as fn(&Row) -> f64,
        ),
        (
            "positive_variation_vs_delta",
            "positive variation Σ (ΔV_δ)⁺ against δ",
            |r: &Row| r.positive_variation,
        ),
        (
            "v_delta_final_vs_delta",
            "final V_δ against δ",
            |r: &Row| r.v_delta_final,
        ),
    ] {
        let mut series = Vec::new();
        for (k, &n) in ns.iter().chain(std::iter::once(&0)).enumerate() {
            let pts: Vec<&Row> = rows
                .iter()
                .filter(|r| r.eps_rev == e_plot && r.n == n)
                .collect();
            let mut s = Series::new(
                if n == 0 {
                    "continuous limit".into()
                } else {
                    format!("kernel, N = {n}")
                },
                pts.iter().map(|r| r.delta).collect(),
                pts.iter().map(|r| get(r)).collect(),
                SeriesStyle::LineMarkers,
            );
            s.color = Some(k);
            series.push(s);
        }
        if stem == "violation_vs_delta" {
            // a δ² guide through the smallest-δ point of the coarsest run
            if let Some(first) = rows.iter().find(|r| r.eps_rev == e_plot && r.n == ns[0]) {
                let c = first.violation / (first.delta * first.delta);
                let x: Vec<f64> = deltas.clone();
                let mut g = Series::new(
                    "δ² guide",
                    x.clone(),
                    x.iter().map(|d| 0.5 * c * d * d).collect(),
                    SeriesStyle::Dashed,
                );
                g.color = Some(9);
                series.push(g);
            }
        }
        let plot = LinePlot {
            title: format!("{title} (ε_rev = {e_plot})"),
            x_label: "δ".into(),
            y_label: "nats".into(),
            x_scale: Scale::Log10,
            y_scale: Scale::Log10,
            series,
            ..LinePlot::default()
        };
        let stem_path = dir.join(stem);
        line_plot(&plot, &stem_path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", stem_path.display()))?;
        println!("wrote {}.png and .svg", stem_path.display());
    }
    println!("wall time {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}
