//! Projected reverse diffusion on a real photograph (issue 7): the public-domain (CC0) cameraman
//! photograph of `data/camera.png` as q0, the hand-drawn class regions of
//! `data/camera_labels.png` as blocks, the numerical forward oracle (the regions are not
//! rectangles) as the score, projected and baseline runs from pure noise. Prints E_block, MSE and
//! V_δ of both; writes `out/real_image.h5` (a sweep file with the two runs) and plots in
//! `out/real_image/`: the regions, snapshot rows of both runs, and the standard sweep figures
//! (V_δ trajectories, E_block, block masses, final images).
//!
//! `cargo run --release --example real_image -- [--config FILE] [--set key=value]... [--out DIR] [--quick]`
//!
//! Without `--config` it runs `data/real_image.toml` with its two data paths taken from the
//! repository, so it works from any working directory. `--quick` runs a 32×32 grid.

mod common;
use cgkl::plot::{image_row, ImagePanel};
use cgkl::problem::{Projection, RunResult};
use cgkl::sweep::{format_summary, run_sweep, SweepSpec};
use common::app::support::{exit_on_error, progress_for, ExampleArgs};
use std::path::Path;

const DEFAULT_CONFIG: &str = include_str!("../data/real_image.toml");

fn main() {
    exit_on_error(run());
}

/// The shipped config with `data/…` paths made absolute (repository folder).
fn default_config() -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    DEFAULT_CONFIG.replace(
        "\"data/",
        &format!("\"{}/", data.display().to_string().replace('\\', "/")),
    )
}

fn run() -> anyhow::Result<()> {
    let args = common::app::support::parse_args::<ExampleArgs>();
    let (text, overrides) = args.prepare_with_default(&default_config())?;
    let base = cgkl::config::Config::from_toml_with_overrides(&text, &overrides)?;
    let problem = base.validate()?;
    println!(
        "{}×{} grid, {} regions from the label image, w_ref = [{}]",
        problem.grid.nx,
        problem.grid.ny,
        problem.partition.m(),
        problem
            .reference
            .w_ref
            .iter()
            .map(|w| format!("{w:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // one value of δ: a plain sweep of two runs (a schedule.n_steps sweep would also compute the
    // continuous-limit references of a Δt study, which this example does not need)
    let spec = SweepSpec {
        param: "projection.delta".into(),
        values: vec![format!("{:e}", base.projection.delta)],
        modes: vec![base.flow.mode],
        projections: Projection::ALL.to_vec(),
    };
    let (bar, report) = progress_for(2 * base.schedule.n_steps as u64);
    let sw = run_sweep(&base, &spec, &report)?;
    bar.finish_and_clear();
    println!("{}", format_summary(&sw));
    println!(
        "{:<26} {:>10} {:>10} {:>12} {:>10} {:>8} {:>11} {:>11} {:>11} {:>7}",
        "run",
        "E_block(0)",
        "E_block(T)",
        "max E_inf≥1",
        "MSE(T)",
        "PSNR",
        "V_delta(T)",
        "V(T)",
        "Lyap.viol.",
        "wall s"
    );
    for r in &sw.runs {
        let recs = &r.result.output.records;
        let (first, last) = (&recs[0], recs.last().expect("N ≥ 1"));
        let worst = recs[1..].iter().map(|x| x.e_inf).fold(0.0, f64::max);
        println!(
            "{:<26} {:>10.4} {:>10.4} {:>12.4} {:>10.3e} {:>8.2} {:>11.4e} {:>11.4e} {:>11.3e} {:>7.1}",
            r.result.name,
            first.e_block,
            last.e_block,
            worst,
            last.mse,
            last.psnr,
            last.v_delta,
            last.v,
            r.result.lyapunov_violation,
            r.result.wall_s
        );
    }
    let h5 = args.out.join("real_image.h5");
    cgkl::sweep::write_sweep_file(&h5, &sw, true)?;
    println!("wrote {}", h5.display());
    let dir = args.out.join("real_image");
    for f in cgkl::figures::sweep_figures(&h5, &dir)? {
        println!("wrote {}", f.display());
    }
    let stem = dir.join("regions");
    image_row(&region_panels(&problem), "data and class regions", &stem)?;
    println!("wrote {}.png", stem.display());
    for r in &sw.runs {
        let stem = dir.join(format!("snapshots_{}", r.result.name));
        image_row(
            &snapshot_panels(&problem, &r.result),
            &format!(
                "{}: p after each projection step (cell masses)",
                r.result.name
            ),
            &stem,
        )?;
        println!("wrote {}.png", stem.display());
    }
    Ok(())
}

/// q0, the labels, and q0 with the region boundaries drawn grey (cells with a neighbour in
/// another region set to NaN).
fn region_panels(problem: &cgkl::problem::Problem) -> Vec<ImagePanel> {
    let grid = problem.grid;
    let labels = problem.partition.labels();
    let mut outlined = problem.q0.clone();
    for (i, k) in grid.faces() {
        if labels[i] != labels[k] {
            outlined[i] = f64::NAN;
        }
    }
    let panel = |title: &str, data: Vec<f64>| ImagePanel {
        title: title.into(),
        nx: grid.nx,
        ny: grid.ny,
        data,
        diverging: false,
    };
    vec![
        panel("data q0 (photo on the grid)", problem.q0.clone()),
        panel(
            &format!("labels 0…{}", problem.partition.m() - 1),
            labels.iter().map(|&l| l as f64).collect(),
        ),
        panel("region boundaries (grey)", outlined),
    ]
}

fn snapshot_panels(problem: &cgkl::problem::Problem, run: &RunResult) -> Vec<ImagePanel> {
    let n = problem.grid.n();
    let out = &run.output;
    out.snapshot_steps
        .iter()
        .enumerate()
        .map(|(k, &step)| ImagePanel {
            title: format!("s = {:.4}", run.times[step]),
            nx: problem.grid.nx,
            ny: problem.grid.ny,
            data: out.snapshots[k * n..(k + 1) * n].to_vec(),
            diverging: false,
        })
        .collect()
}
