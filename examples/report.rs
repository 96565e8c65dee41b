//! The results report (issue 4, item 5): runs the Δt sweep, the Lyapunov study and the schedule
//! study with their standard settings and writes `docs/results.md` with every table, the plots
//! (copied to `docs/results/`) and the exact configs used, so every number can be regenerated.
//! The HDF5 files go to `out/report/`.
//!
//! `cargo run --release --example report -- [--config FILE] [--set key=value]... [--out DIR] [--quick]`
//!
//! `--quick` (small grids, few steps; for testing) writes the report to `out/report/results.md`
//! instead of `docs/`, so the committed report always comes from a full run.

mod common;
use anyhow::Context;
use cgkl::sweep::{run_sweep, SweepEvent, SweepSpec};
use common::app::summary::{orders_table, summary_table};
use common::app::support::{exit_on_error, progress_for, ExampleArgs};
use common::app::table::Table;
use common::lyapunov::{run_lyapunov_study, LyapunovPlan, DELTA_FIT_MAX};
use common::schedule_study::{run_schedule_study, SchedulePlan, SCHEDULES};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    exit_on_error(run());
}

/// Copies the PNGs into `dir` (named `<prefix>_<file>`) and returns Markdown image links
/// relative to the report.
fn embed(files: &[PathBuf], dir: &Path, prefix: &str, rel: &str) -> anyhow::Result<String> {
    let mut md = String::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
    {
        let name = format!(
            "{prefix}_{}",
            f.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("figure.png")
        );
        std::fs::copy(f, dir.join(&name))
            .with_context(|| format!("copying {} into {}", f.display(), dir.display()))?;
        writeln!(md, "![{name}]({rel}/{name})\n")?;
    }
    Ok(md)
}

fn details(summary: &str, body: &str) -> String {
    format!("<details><summary>{summary}</summary>\n\n{body}\n</details>\n\n")
}

fn toml_block(text: &str) -> String {
    format!("```toml\n{}\n```\n", text.trim_end())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{cpu}, {cores} cores available, {} rayon threads",
        rayon::current_num_threads()
    )
}

fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown date".into(), |s| s.trim().to_string())
}

fn run() -> anyhow::Result<()> {
    let args = common::app::support::parse_args::<ExampleArgs>();
    let (text, overrides) = args.prepare()?;
    let t0 = std::time::Instant::now();
    let data_dir = args.out.join("report");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let (md_path, fig_dir) = if args.quick {
        (data_dir.join("results.md"), data_dir.join("results"))
    } else {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        (docs.join("results.md"), docs.join("results"))
    };
    std::fs::create_dir_all(&fig_dir)
        .with_context(|| format!("cannot create {}", fig_dir.display()))?;
    let rel = "results";
    let quick_flag = if args.quick { " -- --quick" } else { "" };

    // 1. Δt sweep
    let ns = SweepSpec::standard_ns(args.quick);
    let spec = SweepSpec::dt_sweep(&ns);
    eprintln!("report 1/3: Δt sweep, N = {ns:?}");
    let total: u64 = 4 * ns.iter().map(|&n| n as u64).sum::<u64>();
    let (bar, rep) = progress_for(total);
    let base = cgkl::config::Config::from_toml_with_overrides(&text, &overrides)?;
    let sweep = run_sweep(&base, &spec, &rep)?;
    bar.finish_and_clear();
    let h5 = data_dir.join("dt_sweep.h5");
    cgkl::sweep::write_sweep_file(&h5, &sweep, true)?;
    let figs = cgkl::figures::sweep_figures(&h5, &data_dir.join("dt_sweep"))?;
    let summary = sweep
        .summary
        .as_ref()
        .context("the Δt sweep produced no summary")?;

    // 2. Lyapunov study
    let lplan = LyapunovPlan::standard(args.quick);
    let runs = lplan.deltas.len() * lplan.eps_rev.len() * (lplan.ns.len() + 1);
    eprintln!("report 2/3: Lyapunov study, {runs} runs");
    let (bar, rep) = progress_for(runs as u64);
    let lyap = run_lyapunov_study(&text, &overrides, &lplan, &|| rep(SweepEvent::Step))?;
    bar.finish_and_clear();
    lyap.write_h5(&data_dir.join("lyapunov.h5"))?;
    let lfigs = lyap.figures(&data_dir.join("lyapunov"))?;

    // 3. schedule study
    let splan = SchedulePlan::standard(args.quick);
    let steps: u64 = splan.ks.iter().map(|&k| k as u64).sum::<u64>()
        * 2
        * (SCHEDULES.len() * splan.problems.len()) as u64;
    eprintln!("report 3/3: schedule study, K = {:?}", splan.ks);
    let (bar, rep) = progress_for(steps);
    let sched = run_schedule_study(&text, &overrides, &splan, &|k| {
        for _ in 0..k {
            rep(SweepEvent::Step)
        }
    })?;
    bar.finish_and_clear();
    sched.write_h5(&data_dir.join("schedule_study.h5"))?;
    let sfigs = sched.figures(&data_dir.join("schedule_study"))?;
    let wall = t0.elapsed().as_secs_f64();

    // the report
    let mut md = String::new();
    writeln!(md, "# cgkl results\n")?;
    writeln!(
        md,
        "Generated by `cargo run --release --example report{quick_flag}` on {} ({}); \
         wall time of the whole report **{wall:.0} s** (Δt sweep {:.0} s, Lyapunov study {:.0} s, \
         schedule study {:.0} s). Do not edit by hand: rerun the command. The HDF5 files with every \
         number below are written to `out/report/` (layout: SPEC §9 and the module docs of \
         `examples/common/`).\n",
        today(),
        machine(),
        sweep.wall_s,
        lyap.wall_s,
        sched.wall_s
    )?;
    if !args.set.is_empty() || args.config.is_some() {
        writeln!(
            md,
            "Run with user settings: config {}, overrides `{}`.\n",
            args.config
                .as_ref()
                .map_or("(built-in paper_toy)".into(), |p| p.display().to_string()),
            args.set.join(" ")
        )?;
    }
    if args.quick {
        writeln!(
            md,
            "**Quick mode**: 32×32 grids and few steps; not the reported results.\n"
        )?;
    }

    // section 1
    writeln!(
        md,
        "## 1. Convergence of the projected scheme to its continuous limit\n"
    )?;
    writeln!(
        md,
        "The `paper_toy` problem (SPEC §8) for N = {ns:?} projection steps, kernel mode (one \
         implicit-Euler step per Δt) and resolved mode (the flow integrated to tolerance), \
         projected and baseline. Errors are L1 distances of p_N to the Δt → 0 reference p★(T): \
         for projected runs the continuous limit of SPEC §6 ({}), for baselines the unprojected \
         flow ({}). The kernel error is split into its **splitting** part `err_split` (the resolved \
         run with the same N: what remains when the flow between projections is exact) and its \
         **inner integration** part `err_inner = |p_N^kernel − p_N^resolved|₁`; \
         err_l1 ≤ err_split + err_inner.\n",
        sweep
            .limit_projected
            .as_ref()
            .map_or("none".into(), |l| l.method.clone()),
        sweep
            .limit_baseline
            .as_ref()
            .map_or("none".into(), |l| l.method.clone())
    )?;
    writeln!(
        md,
        "### Observed orders (least squares over the finest runs above round-off)\n"
    )?;
    writeln!(md, "{}", orders_table(summary).to_markdown())?;
    writeln!(md, "### All runs\n")?;
    writeln!(md, "{}", summary_table(summary).to_markdown())?;
    md += &embed(&figs, &fig_dir, "dt_sweep", rel)?;
    md += &details(
        "config of the Δt sweep",
        &(toml_block(&sweep.base.to_toml())
            + &format!(
                "\nswept: `schedule.n_steps` ∈ {ns:?}, `flow.mode` ∈ {{kernel, resolved}}, projected and baseline.\n"
            )),
    );

    // section 2
    writeln!(
        md,
        "## 2. Is V_δ a Lyapunov function of the projected dynamics?\n"
    )?;
    writeln!(
        md,
        "Kernel mode for N = {:?} and the continuous limit ({} Lawson steps), δ = {:?}, \
         ε_rev = {:?}. *Violation* = max_n (V_δ(p_(n+1)) − V_δ(p_n))⁺ (SPEC §7), *positive \
         variation* = Σ_n (V_δ(p_(n+1)) − V_δ(p_n))⁺. The paper predicts a violation of O(δ²) \
         under small leakage. Slopes are least-squares slopes of ln y against ln x (fits in δ \
         over δ ≤ {DELTA_FIT_MAX}). For the limit the violation is per Lawson step, so compare \
         its positive variation.\n",
        lplan.ns, lplan.limit_steps, lplan.deltas, lplan.eps_rev
    )?;
    for (what, title) in [
        ("vs δ", "Scaling in δ"),
        ("vs Δt", "Scaling in Δt = T/N"),
        ("vs ε_rev", "Scaling in the leakage ε_rev"),
    ] {
        let t: Table = lyap.fits_table(what);
        if !t.rows.is_empty() {
            writeln!(md, "### {title}\n\n{}", t.to_markdown())?;
        }
    }
    md += &details(
        "all runs of the Lyapunov study",
        &lyap.runs_table().to_markdown(),
    );
    md += &embed(&lfigs, &fig_dir, "lyapunov", rel)?;
    md += &details(
        "config of the Lyapunov study",
        &(toml_block(&lyap.config_toml)
            + "\nswept: `projection.delta`, `reverse.eps_rev`, `schedule.n_steps` as listed.\n"),
    );

    // section 3
    writeln!(md, "## 3. Projection schedules\n")?;
    writeln!(
        md,
        "Final KL(q0 ‖ p_K) of the kernel-mode reverse diffusion for the {} schedules of SPEC §6 \
         and K = {:?}, projected and baseline. KL★ = KL(q0 ‖ p★(T)) is the K → ∞ value (same \
         references as in section 1); the observed rate r is the least-squares slope in \
         |KL − KL★| ∝ K^(−r) over the largest K. H is the entropy of the data: the bound of \
         arXiv 2601.21943 is KL = O(H²/K).\n",
        SCHEDULES.len(),
        splan.ks
    )?;
    writeln!(md, "{}", sched.problems_table().to_markdown())?;
    for p in &sched.problems {
        writeln!(
            md,
            "- `{}` references: projected — {}; baseline — {}.",
            p.problem.name, p.limit_methods[0], p.limit_methods[1]
        )?;
    }
    writeln!(md)?;
    for p in &sched.problems {
        for w in &p.warnings {
            writeln!(md, "Note ({}): {w}\n", p.problem.name)?;
        }
    }
    let at: Vec<usize> = [20, 160]
        .into_iter()
        .filter(|k| splan.ks.contains(k))
        .collect();
    writeln!(
        md,
        "### Which schedule wins (KL at K = {at:?}; last column: the winner and how many times larger the runner-up's KL is)\n\n{}",
        sched.comparison_table(&at).to_markdown()
    )?;
    writeln!(
        md,
        "### Which schedule is most accurate (|p_K − p★(T)|₁, the distance to the K → ∞ dynamics, at K = {at:?})\n\n\
         Where KL(q0 ‖ p_K) < KL★ the discretisation error happens to move p_K towards the data \
         (coarse implicit-Euler steps mix faster than the exact flow reaches q0 within T), so a \
         lower KL is not a better solve; this table ranks the schedules by accuracy.\n\n{}",
        sched.accuracy_table(&at).to_markdown()
    )?;
    writeln!(
        md,
        "### Observed rates in K\n\n{}",
        sched.rates_table().to_markdown()
    )?;
    md += &details(
        "all runs of the schedule study",
        &sched.runs_table().to_markdown(),
    );
    md += &embed(&sfigs, &fig_dir, "schedule", rel)?;
    for p in &sched.problems {
        md += &details(
            &format!("config of the schedule study, problem `{}`", p.problem.name),
            &(toml_block(&p.config_toml)
                + "\nswept: `schedule.kind`, `schedule.n_steps` as listed; projected and baseline.\n"),
        );
    }
    writeln!(
        md,
        "## Reproduce\n\n```sh\ncargo run --release --example report{quick_flag}\n# or one study at a time\ncargo run --release --example dt_sweep\ncargo run --release --example lyapunov\ncargo run --release --example schedule_study\n```"
    )?;
    // atomically: temporary file in the same folder, then rename
    let tmp = md_path.with_extension("md.tmp");
    std::fs::write(&tmp, md).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &md_path)
        .with_context(|| format!("cannot move {} into place", tmp.display()))?;
    println!("wrote {} (wall time {wall:.1} s)", md_path.display());
    Ok(())
}
