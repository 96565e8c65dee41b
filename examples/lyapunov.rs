//! Lyapunov study (issue 4, item 3): the Lyapunov violation of SPEC §7, the positive variation
//! and the final V_δ against δ (1e-4 … 1e-1), ε_rev (0.01, 0.05, 0.2) and N (40, 160, 640,
//! kernel mode) and for the continuous limit, with power-law fits against δ, Δt and ε_rev (see
//! `examples/common/lyapunov.rs`). Prints the tables, writes `out/lyapunov.h5` and the plots in
//! `out/lyapunov/`. Default grid 64×64 (`--set grid.nx=128 --set grid.ny=128` for the paper's).
//!
//! `cargo run --release --example lyapunov -- [--config FILE] [--set key=value]... [--out DIR] [--quick]`

mod common;
use cgkl::sweep::SweepEvent;
use common::app::support::{exit_on_error, progress_for, ExampleArgs};
use common::lyapunov::{run_lyapunov_study, LyapunovPlan};

fn main() {
    exit_on_error(run());
}

fn run() -> anyhow::Result<()> {
    let args = common::app::support::parse_args::<ExampleArgs>();
    let (text, overrides) = args.prepare()?;
    let plan = LyapunovPlan::standard(args.quick);
    let runs = plan.deltas.len() * plan.eps_rev.len() * (plan.ns.len() + 1);
    eprintln!(
        "lyapunov: {runs} runs ({} δ × {} ε_rev × (N = {:?} and the continuous limit))",
        plan.deltas.len(),
        plan.eps_rev.len(),
        plan.ns
    );
    let (bar, report) = progress_for(runs as u64);
    let study = run_lyapunov_study(&text, &overrides, &plan, &|| report(SweepEvent::Step))?;
    bar.finish_and_clear();
    println!("{}", study.runs_table().to_text());
    println!(
        "(limit rows: violation per Lawson step h = T/{}; compare positive variations)\n",
        plan.limit_steps
    );
    for what in ["vs δ", "vs Δt", "vs ε_rev"] {
        let t = study.fits_table(what);
        if !t.rows.is_empty() {
            println!("{}", t.to_text());
        }
    }
    let path = args.out.join("lyapunov.h5");
    study.write_h5(&path)?;
    println!("wrote {}", path.display());
    for f in study.figures(&args.out.join("lyapunov"))? {
        println!("wrote {}", f.display());
    }
    println!("wall time {:.1} s", study.wall_s);
    Ok(())
}
