//! Real-data paths (issue 7) checked against the built-in ones: B-relax written as formulas
//! equals the built-in B-relax; an external score field sampled from the oracle converges to the
//! oracle run at second order in the sampling interval (linear interpolation of ln q̂ in t); a
//! label-image partition that is the tiles (read from HDF5) reproduces the tile run; formula data
//! equal the closed form.

use cgkl::config::Config;
use cgkl::data::{brelax_q, brelax_target};
use cgkl::flux::Flux;
use cgkl::generator::Generator;
use cgkl::io::score_field::ScoreField;
use cgkl::order::observed_order;
use cgkl::partition::Partition;
use cgkl::problem::Projection;
use cgkl::score::PotentialDrive;
use std::path::PathBuf;

const BRELAX_Q: &str = "0.05 + 0.6*exp(-((x-0.3)^2 + (y-0.3)^2)/(2*0.08^2)) \
                        + 0.35*exp(-((x-0.7)^2 + (y-0.65)^2)/(2*0.12^2))";

fn l1(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("cgkl_real_data_{tag}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// B-relax (SPEC §8) at L = 24 as a config: uniform start, no projection, resolved flow.
fn brelax_config(score: &str, extra: &[&str]) -> Config {
    let text = format!(
        "[grid]\nnx = 24\nny = 24\n[partition]\nbx = 1\nby = 1\n[data]\nkind = \"brelax\"\n\
         [forward]\nhorizon = 0.5\neps_fwd = 1.0\n{score}\n[reverse]\neps_rev = 1.0\n\
         [reverse.flux]\nkind = \"potential_sg\"\n[start]\nkind = \"uniform\"\n\
         [projection]\ndelta = inf\n[schedule]\nn_steps = 5\n[flow]\nmode = \"resolved\"\n"
    );
    let ov: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    Config::from_toml_with_overrides(&text, &ov).unwrap()
}

#[test]
fn brelax_as_formulas_matches_the_built_in_brelax() {
    const D: f64 = 0.02;
    let by_potential = brelax_config(
        &format!(
            "[score]\nkind = \"potential\"\npotential = \"-ln({BRELAX_Q})\"\ndiffusion = {D}\n"
        ),
        &[],
    );
    // the same as a ln q̂ formula driving the potential-SG flux with β = D
    let by_log_q = brelax_config(
        &format!("[score]\nkind = \"formula\"\nlog_q = \"ln({BRELAX_Q})\"\n[forward.beta]\nkind = \"constant\"\nvalue = {D}\n"),
        &[],
    );
    let problem = by_potential.validate().unwrap();
    let grid = problem.grid;
    // data.kind = "formula" gives the same target
    let mut f = by_potential.clone();
    f.data = cgkl::config::DataConfig::Formula {
        log_q: format!("ln({BRELAX_Q})"),
    };
    let q_formula = f.validate().unwrap().q0;
    let d = l1(&q_formula, &brelax_target(grid));
    assert!(
        d < 1e-14,
        "formula data differ from brelax_target by {d:.2e}"
    );

    // built-in: the closed-form density, as in tests/spatial_order.rs
    let part = Partition::tiles(grid, 1, 1).unwrap();
    let drive = PotentialDrive::new(grid, Box::new(|x, y, _| -brelax_q(x, y).ln()), D, false);
    let mut builtin = Generator::new(&part, 1.0, Flux::PotentialSg, Box::new(drive));
    builtin.refresh(0.0).unwrap();
    let scale = builtin.max_exit_rate();
    for cfg in [&by_potential, &by_log_q] {
        let p = cfg.validate().unwrap();
        let mut g = p.generator().unwrap();
        g.refresh(0.0).unwrap();
        assert!(g.is_static());
        let worst = g
            .matrix()
            .data()
            .iter()
            .zip(builtin.matrix().data())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst <= 1e-13 * scale,
            "generator entries differ by {worst:.2e} (max rate {scale:.2e})"
        );
    }
    // whole runs: ρ(T) of the formula configs against the built-in generator's flow
    let mut p_builtin = problem.p0.clone();
    let mut integ = cgkl::integrator::IntegratorKind::Uniformization { tol: 1e-14 }
        .build(&builtin)
        .unwrap();
    integ
        .advance(&mut builtin, &mut p_builtin, 0.0, 0.5)
        .unwrap();
    for cfg in [&by_potential, &by_log_q] {
        let run = cfg.validate().unwrap().run(Projection::Baseline).unwrap();
        let p = &run.output.final_p;
        let d = l1(p, &p_builtin);
        println!("B-relax L = 24: |ρ_formula − ρ_builtin|_1 / |ρ|_1 = {d:.2e}");
        assert!(d < 1e-11, "{d:.2e}");
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-13);
        assert!(p.iter().all(|&x| x >= 0.0));
        // kl_track has no meaning for a potential problem; the formula score tracks q0's flow
        let last = run.output.records.last().unwrap();
        if matches!(cfg.score, cgkl::config::ScoreConfig::Potential { .. }) {
            assert!(last.kl_track.is_nan());
        }
    }
}

/// The textured exact-reversal problem at 16², moving score (ε = 0.3), resolved flow.
fn textured(extra: &[&str]) -> Config {
    let mut ov = vec![
        "grid.nx=16",
        "grid.ny=16",
        "partition.bx=4",
        "partition.by=4",
        "data.kind=textured",
        "forward.eps_fwd=0.3",
        "reverse.eps_rev=0.3",
        "start.kind=forward_end",
        "schedule.n_steps=4",
        "flow.mode=resolved",
        "flow.integrator.kind=trbdf2_adaptive",
        "flow.integrator.rtol=1e-11",
        "flow.integrator.atol=1e-14",
        "projection.delta=0.01",
    ];
    ov.extend_from_slice(extra);
    let ov: Vec<String> = ov.iter().map(|s| s.to_string()).collect();
    Config::from_toml_with_overrides("", &ov).unwrap()
}

#[test]
fn external_field_from_the_oracle_converges_at_second_order_in_its_time_step() {
    let dir = TempDir::new("field");
    let base = textured(&[]);
    let problem = base.validate().unwrap();
    let t_end = base.forward.horizon;
    let reference = problem.run(Projection::Projected).unwrap().output.final_p;
    let mut oracle = problem.forward_oracle().unwrap();
    let n = problem.grid.n();
    let (mut dts, mut errs) = (Vec::new(), Vec::new());
    for k in [65usize, 129, 257] {
        // K samples of ln q_t on [0, T] (t_0 = 0, t_{K−1} = T)
        let t: Vec<f64> = (0..k).map(|j| t_end * j as f64 / (k - 1) as f64).collect();
        let mut log_q = Vec::with_capacity(k * n);
        let mut q = vec![0.0; n];
        for &tj in &t {
            oracle.q_at(tj, &mut q);
            log_q.extend(q.iter().map(|x| x.ln()));
        }
        let field = ScoreField::from_arrays(t, log_q, 16, 16, "test").unwrap();
        let path = dir.0.join(format!("field_{k}.h5"));
        field.write(&path).unwrap();
        let cfg = textured(&[
            "score.kind=external",
            &format!("score.file={}", path.display()),
        ]);
        let run = cfg.validate().unwrap().run(Projection::Projected).unwrap();
        let e = l1(&run.output.final_p, &reference);
        println!("K = {k:>2}: |p_external − p_oracle|_1 = {e:.3e}");
        dts.push(t_end / (k - 1) as f64);
        errs.push(e);
    }
    let order = observed_order(&dts, &errs);
    println!("observed order in the field's time step: {order:.3}");
    assert!((order - 2.0).abs() < 0.15, "order {order}");
}

#[test]
fn a_label_image_equal_to_the_tiles_reproduces_the_tile_run() {
    let dir = TempDir::new("labels");
    let labels_path = dir.0.join("labels.h5");
    let tiles = Partition::tiles(cgkl::grid::Grid::new(16, 12).unwrap(), 4, 3).unwrap();
    {
        let f = hdf5::File::create(&labels_path).unwrap();
        let lab: Vec<i32> = tiles.labels().iter().map(|&l| l as i32).collect();
        let arr = ndarray::Array2::from_shape_vec((12, 16), lab).unwrap();
        f.new_dataset_builder()
            .with_data(&arr)
            .create("labels")
            .unwrap();
    }
    let common = [
        "grid.nx=16",
        "grid.ny=12",
        "data.kind=formula",
        "data.log_q=sin(7*x)*cos(5*y) + 2*x",
        "forward.eps_fwd=0.2",
        "reverse.eps_rev=0.2",
        "reverse.flux.kind=sg",
        "reverse.flux.eta=0.5",
        "schedule.n_steps=6",
        "projection.delta=0.002",
    ];
    let mut with_tiles: Vec<&str> = common.to_vec();
    with_tiles.extend(["partition.bx=4", "partition.by=3"]);
    let file_set = format!("partition.file={}", labels_path.display());
    let mut with_labels: Vec<&str> = common.to_vec();
    with_labels.extend(["partition.kind=labels", &file_set]);
    let cfg = |ov: &[&str]| {
        let ov: Vec<String> = ov.iter().map(|s| s.to_string()).collect();
        Config::from_toml_with_overrides("", &ov).unwrap()
    };
    let a = cfg(&with_tiles).validate().unwrap();
    let b = cfg(&with_labels).validate().unwrap();
    assert_eq!(a.partition.labels(), b.partition.labels());
    assert!(b.partition.tiles_shape().is_none());
    assert!(a.forward_oracle().unwrap().is_exact() && !b.forward_oracle().unwrap().is_exact());
    let (ra, rb) = (
        a.run(Projection::Projected).unwrap(),
        b.run(Projection::Projected).unwrap(),
    );
    let d = l1(&ra.output.final_p, &rb.output.final_p);
    println!("tiles vs label image: |p_N difference|_1 = {d:.2e}");
    assert!(d < 1e-13, "{d:.2e}");
    let (ta, tb) = (
        ra.output.records.last().unwrap(),
        rb.output.records.last().unwrap(),
    );
    assert!((ta.kl_track - tb.kl_track).abs() < 1e-12);
    assert!(tb.e_inf <= 0.002 + 1e-14);
}
