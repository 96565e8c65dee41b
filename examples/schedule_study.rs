//! Schedule study (issue 4, item 4): final KL(q0 ‖ p_K) of the kernel-mode reverse diffusion for
//! the uniform, geometric, EDM/Karras and equal-entropy projection schedules, K = 5 … 640, on
//! `paper_toy` (static score) and on a textured checkerboard under plain heat flow (ε_fwd =
//! ε_rev = 1, p_0 = q_T: a score that changes in time), projected and baseline, on 64×64 grids
//! (`--set grid.nx=128 --set grid.ny=128` for the paper's size). Reports
//! the observed rate in K and K·KL/H² (see `examples/common/schedule_study.rs`); writes
//! `out/schedule_study.h5` and the plots in `out/schedule_study/`.
//!
//! `cargo run --release --example schedule_study -- [--config FILE] [--set key=value]... [--out DIR] [--quick]`

mod common;
use cgkl::sweep::SweepEvent;
use common::app::support::{exit_on_error, progress_for, ExampleArgs};
use common::schedule_study::{run_schedule_study, SchedulePlan, SCHEDULES};

fn main() {
    exit_on_error(run());
}

fn run() -> anyhow::Result<()> {
    let args = common::app::support::parse_args::<ExampleArgs>();
    let (text, overrides) = args.prepare()?;
    let plan = SchedulePlan::standard(args.quick);
    let per_series: u64 = plan.ks.iter().map(|&k| k as u64).sum();
    let total = per_series * 2 * (SCHEDULES.len() * plan.problems.len()) as u64;
    eprintln!(
        "schedule_study: K = {:?}, {} schedules × {} problems × projected/baseline",
        plan.ks,
        SCHEDULES.len(),
        plan.problems.len()
    );
    let (bar, report) = progress_for(total);
    let study = run_schedule_study(&text, &overrides, &plan, &|k| {
        for _ in 0..k {
            report(SweepEvent::Step)
        }
    })?;
    bar.finish_and_clear();
    println!("{}", study.problems_table().to_text());
    for p in &study.problems {
        for w in &p.warnings {
            println!("note ({}): {w}", p.problem.name);
        }
    }
    println!("{}", study.runs_table().to_text());
    println!("{}", study.rates_table().to_text());
    println!("{}", study.comparison_table(&[20, 160]).to_text());
    println!("{}", study.accuracy_table(&[20, 160]).to_text());
    let path = args.out.join("schedule_study.h5");
    study.write_h5(&path)?;
    println!("wrote {}", path.display());
    for f in study.figures(&args.out.join("schedule_study"))? {
        println!("wrote {}", f.display());
    }
    println!("wall time {:.1} s", study.wall_s);
    Ok(())
}
