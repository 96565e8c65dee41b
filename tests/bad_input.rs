//! Bad input, command by command: `cgkl run`, `sweep`, `plot`, `inspect`, `config` and the
//! `dt_sweep` example. Every case must exit with status 2, say what is wrong on stderr (a
//! specific substring: the key, the value or the file), never panic or print a backtrace, and
//! leave no new file behind (each case runs in a fresh folder that is listed before and after).
//!
//! The example cases need the examples built: `cargo test` builds them; after
//! `cargo test --test bad_input` alone run `cargo build --release --examples` first (the cases
//! are then skipped with a note rather than failing).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Which program a case runs.
#[derive(Clone, Copy, Debug)]
enum Bin {
    Cgkl,
    Example(&'static str),
}

/// One bad input: the arguments (`{dir}` is replaced by the case folder), the substrings the
/// error must contain, and an optional setup of extra files in the case folder.
struct Case {
    name: &'static str,
    bin: Bin,
    args: Vec<String>,
    needles: Vec<&'static str>,
    /// Write the program's stdout to `/dev/full` instead of a pipe.
    stdout_full: bool,
}

fn case(name: &'static str, args: &[&str], needles: &[&'static str]) -> Case {
    Case {
        name,
        bin: Bin::Cgkl,
        args: args.iter().map(|s| s.to_string()).collect(),
        needles: needles.to_vec(),
        stdout_full: false,
    }
}

fn example_case(
    name: &'static str,
    example: &'static str,
    args: &[&str],
    needles: &[&'static str],
) -> Case {
    Case {
        bin: Bin::Example(example),
        ..case(name, args, needles)
    }
}

/// `run` with a tiny problem and an output file in out/, plus `extra`.
fn run_args(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "run",
        "--set",
        "grid.nx=8",
        "--set",
        "grid.ny=8",
        "--set",
        "partition.bx=2",
        "--set",
        "partition.by=2",
        "--set",
        "schedule.n_steps=2",
        "--out",
        "out/r.h5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run_case(name: &'static str, extra: &[&str], needles: &[&'static str]) -> Case {
    Case {
        args: run_args(extra),
        ..case(name, &[], needles)
    }
}

/// `sweep` over projection.delta with a tiny problem, plus `extra` (later flags win).
fn sweep_case(name: &'static str, extra: &[&str], needles: &[&'static str]) -> Case {
    let mut args: Vec<&str> = vec![
        "sweep",
        "--set",
        "grid.nx=8",
        "--set",
        "grid.ny=8",
        "--set",
        "schedule.n_steps=2",
        "--modes",
        "kernel",
    ];
    args.extend(extra);
    if !extra.contains(&"--out") {
        args.extend(["--out", "out/s.h5"]);
    }
    case(name, &args, needles)
}

fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

/// Builds an example binary once (`cargo test --test bad_input` alone does not build the
/// examples; a full `cargo test` does, and then this is not needed).
fn build_example(name: &str) {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // <target>/<profile>/deps/bad_input-…: the profile folder and the target folder
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let target = profile_dir.parent().unwrap();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_DIR", target);
        if profile_dir.file_name().is_some_and(|f| f == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status();
        eprintln!("built example {name}: {status:?}");
    });
}

/// A small valid run file, written once for the whole test binary.
fn good_h5() -> &'static Path {
    static GOOD: OnceLock<PathBuf> = OnceLock::new();
    GOOD.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("cgkl_bad_input_{}_good", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let mut args = run_args(&[]);
        let n = args.len();
        args[n - 1] = "good.h5".into();
        let o = Command::new(env!("CARGO_BIN_EXE_cgkl"))
            .args(&args)
            .current_dir(&d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        d.join("good.h5")
    })
}

/// A fresh case folder with the input fixtures and an `out/` folder holding one existing file.
fn fixture(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cgkl_bad_input_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("out")).unwrap();
    let w = |f: &str, text: &[u8]| std::fs::write(d.join(f), text).unwrap();
    w("broken.toml", b"[grid\nnx = 8\n");
    w("unknown_key.toml", b"[projection]\ndetla = 0.1\n");
    w("unknown_section.toml", b"[projectoin]\ndelta = 0.1\n");
    w("neg_delta.toml", b"[projection]\ndelta = -0.5\n");
    w("binary.toml", &[0xff, 0xfe, 0x00, 0x9f, 0x92, 0x96]);
    w("text.h5", b"this is not an HDF5 file\n");
    w("empty.h5", b"");
    let good = std::fs::read(good_h5()).unwrap();
    w("trunc.h5", &good[..good.len() / 3]);
    w("out/exists.h5", &good);
    // a valid HDF5 file that is not a cgkl file, and one that claims to be a run but is empty
    drop(hdf5::File::create(d.join("plain.h5")).unwrap());
    real_data_fixtures(&d);
    {
        let f = hdf5::File::create(d.join("hollow.h5")).unwrap();
        cgkl::io::h5util::attr_str(&f, "kind", "run").unwrap();
    }
    d
}

/// Image, label and score-field inputs (issue 7), good and broken, for an 8×8 grid.
fn real_data_fixtures(d: &Path) {
    let photo = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/camera.png")).unwrap();
    std::fs::write(d.join("photo_trunc.png"), &photo[..photo.len() / 3]).unwrap();
    let png = |name: &str, data: &[u8], color: image::ColorType| {
        image::save_buffer(d.join(name), data, 8, 8, color).unwrap()
    };
    let quadrants: Vec<u8> = (0..64u8).map(|i| (i % 8) / 4 + 2 * ((i / 8) / 4)).collect();
    png("labels_ok.png", &quadrants, image::ColorType::L8);
    let gap: Vec<u8> = quadrants.iter().map(|&l| 2 * (l % 2)).collect();
    png("labels_gap.png", &gap, image::ColorType::L8);
    png("labels_rgb.png", &[7u8; 3 * 64], image::ColorType::Rgb8);
    let field = |t: Vec<f64>, q: Vec<f64>, nx, ny| {
        cgkl::io::score_field::ScoreField::from_arrays(t, q, nx, ny, "fixture").unwrap()
    };
    field(vec![0.0, 1.0], vec![0.0; 2 * 12], 4, 3)
        .write(&d.join("field_wrong_grid.h5"))
        .unwrap();
    let f = hdf5::File::create(d.join("field_nan.h5")).unwrap();
    f.new_dataset_builder()
        .with_data(&[0.0f64, 1.0])
        .create("t")
        .unwrap();
    let mut q = ndarray::Array3::<f64>::zeros((2, 8, 8));
    q[(1, 3, 5)] = f64::NAN;
    f.new_dataset_builder()
        .with_data(&q)
        .create("log_q")
        .unwrap();
}

/// `run` on an 8×8 grid with the blocks of a label image and formula data, plus `extra`.
fn labels_case(name: &'static str, labels: &str, extra: &[&str], needles: &[&'static str]) -> Case {
    let file = format!("partition.file={labels}");
    let mut args = vec![
        "run",
        "--set",
        "grid.nx=8",
        "--set",
        "grid.ny=8",
        "--set",
        "partition.kind=labels",
        "--set",
        &file,
        "--set",
        "data.kind=formula",
        "--set",
        "data.log_q=x - y",
        "--set",
        "schedule.n_steps=2",
        "--out",
        "out/r.h5",
    ];
    args.extend(extra);
    case(name, &args, needles)
}

/// Every file under `d`, as paths relative to it, sorted.
fn tree(d: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if p.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(d, d, &mut v);
    v.sort();
    v
}

/// Runs one case; returns a description of what went wrong, if anything.
fn check(c: &Case) -> Option<String> {
    let program = match c.bin {
        Bin::Cgkl => PathBuf::from(env!("CARGO_BIN_EXE_cgkl")),
        Bin::Example(name) => {
            let p = example_path(name);
            if !p.exists() {
                build_example(name);
            }
            if !p.exists() {
                eprintln!(
                    "note: {} not built, case `{}` skipped (cargo build --release --examples)",
                    p.display(),
                    c.name
                );
                return None;
            }
            p
        }
    };
    let d = fixture(c.name);
    let before = tree(&d);
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| a.replace("{dir}", &d.display().to_string()))
        .collect();
    let mut cmd = Command::new(program);
    cmd.args(&args)
        .current_dir(&d)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    if c.stdout_full {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .ok()?;
        cmd.stdout(Stdio::from(full));
    }
    let o: Output = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let mut problems = Vec::new();
    if o.status.code() != Some(2) {
        problems.push(format!("status {:?} (want 2)", o.status));
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") || err.contains("stack backtrace")
    {
        problems.push("panic or backtrace on stderr".into());
    }
    for n in &c.needles {
        if !err.contains(n) {
            problems.push(format!("stderr does not mention {n:?}"));
        }
    }
    let after = tree(&d);
    if after != before {
        let new: Vec<&String> = after.iter().filter(|f| !before.contains(f)).collect();
        problems.push(format!("files changed: new {new:?}"));
    }
    let _ = std::fs::remove_dir_all(&d);
    (!problems.is_empty()).then(|| {
        format!(
            "case `{}` ({:?} {:?}): {}\n    stderr: {}",
            c.name,
            c.bin,
            args,
            problems.join("; "),
            err.trim()
        )
    })
}

fn check_all(cases: &[Case]) {
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
    let failures: Vec<String> = cases.iter().filter_map(check).collect();
    eprintln!("{} bad inputs checked", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn run_rejects_bad_config_values() {
    check_all(&[
        run_case(
            "delta_negative",
            &["--set", "projection.delta=-0.1"],
            &["projection.delta", "-0.1"],
        ),
        run_case(
            "delta_nan",
            &["--set", "projection.delta=nan"],
            &["projection.delta", "NaN"],
        ),
        run_case(
            "eps_rev_above_1",
            &["--set", "reverse.eps_rev=1.5"],
            &["reverse.eps_rev", "1.5", "[0, 1]"],
        ),
        run_case(
            "eps_fwd_negative",
            &["--set", "forward.eps_fwd=-0.1"],
            &["forward.eps_fwd", "-0.1"],
        ),
        run_case(
            "eps_score_above_1",
            &[
                "--set",
                "score.kind=misspecified",
                "--set",
                "score.eps_score=2",
            ],
            &["score.eps_score", "2"],
        ),
        run_case(
            "sg_eta_zero",
            &[
                "--set",
                "reverse.flux.kind=sg",
                "--set",
                "reverse.flux.eta=0",
            ],
            &["reverse.flux.eta", "upwind"],
        ),
        run_case(
            "sg_eta_above_1",
            &[
                "--set",
                "reverse.flux.kind=sg",
                "--set",
                "reverse.flux.eta=1.5",
            ],
            &["reverse.flux.eta", "1.5"],
        ),
        run_case(
            "horizon_zero",
            &["--set", "forward.horizon=0"],
            &["forward.horizon", "> 0"],
        ),
        run_case(
            "horizon_negative",
            &["--set", "forward.horizon=-1"],
            &["forward.horizon", "-1"],
        ),
        run_case(
            "horizon_inf",
            &["--set", "forward.horizon=inf"],
            &["forward.horizon", "finite"],
        ),
        run_case(
            "beta_negative",
            &["--set", "forward.beta.value=-1"],
            &["forward.beta.value", "-1"],
        ),
        run_case(
            "beta_linear_min_negative",
            &[
                "--set",
                "forward.beta.kind=linear",
                "--set",
                "forward.beta.min=-0.5",
                "--set",
                "forward.beta.max=1",
            ],
            &["forward.beta.min", "-0.5"],
        ),
        run_case(
            "n_steps_zero",
            &["--set", "schedule.n_steps=0"],
            &["schedule.n_steps", "0"],
        ),
        run_case(
            "n_steps_huge",
            &["--set", "schedule.n_steps=100000000000"],
            &["schedule.n_steps"],
        ),
        run_case("nx_zero", &["--set", "grid.nx=0"], &["grid.nx", "0"]),
        run_case(
            "nx_huge",
            &["--set", "grid.nx=1000000"],
            &["grid.nx", "1000000"],
        ),
        run_case(
            "nx_not_a_number",
            &["--set", "grid.nx=\"abc\""],
            &["grid.nx", "abc"],
        ),
        run_case("nx_negative", &["--set", "grid.nx=-8"], &["grid.nx", "-8"]),
        run_case(
            "grid_not_divisible",
            &["--set", "partition.bx=3"],
            &["partition.bx", "not divisible"],
        ),
        run_case(
            "blocks_zero",
            &["--set", "partition.by=0"],
            &["partition.by", "0"],
        ),
        run_case(
            "score_sigma_negative",
            &[
                "--set",
                "score.kind=perturbed",
                "--set",
                "score.sigma=-0.1",
                "--set",
                "score.corr_len=2",
                "--set",
                "score.seed=0",
            ],
            &["score.sigma", "-0.1"],
        ),
        run_case(
            "score_corr_len_zero",
            &[
                "--set",
                "score.kind=perturbed",
                "--set",
                "score.sigma=0.1",
                "--set",
                "score.corr_len=0",
                "--set",
                "score.seed=0",
            ],
            &["score.corr_len", "0"],
        ),
        run_case(
            "start_sigma_negative",
            &["--set", "start.sigma=-1"],
            &["start.sigma", "-1"],
        ),
        run_case(
            "start_sigma_overflow",
            &["--set", "start.sigma=1e3"],
            &["start.sigma", "1000"],
        ),
        run_case(
            "amplitude_one",
            &["--set", "data.kind=textured", "--set", "data.amplitude=1"],
            &["data.amplitude", "[0, 1)"],
        ),
        run_case(
            "contrast_zero",
            &["--set", "data.contrast=0"],
            &["data.contrast", "> 0"],
        ),
        run_case(
            "schedule_kind_unknown",
            &["--set", "schedule.kind=cubic"],
            &["schedule.kind", "cubic", "karras"],
        ),
        run_case(
            "sigma_min_too_large",
            &[
                "--set",
                "schedule.kind=geometric",
                "--set",
                "schedule.sigma_min=10",
            ],
            &["schedule.sigma_min", "σ_max"],
        ),
        run_case(
            "sigma_min_nan",
            &["--set", "schedule.sigma_min=nan"],
            &["schedule.sigma_min", "NaN"],
        ),
        run_case(
            "karras_rho_zero",
            &["--set", "schedule.kind=karras", "--set", "schedule.rho=0"],
            &["schedule.rho", "0"],
        ),
        run_case(
            "flux_kind_typo",
            &["--set", "reverse.flux.kind=upwnd"],
            &["reverse.flux.kind", "upwnd", "did you mean \"upwind\"?"],
        ),
        run_case(
            "flux_key_the_kind_ignores",
            &[
                "--set",
                "reverse.flux.kind=upwind",
                "--set",
                "reverse.flux.eta=0.5",
            ],
            &["unknown key `reverse.flux.eta`", "upwind"],
        ),
        run_case(
            "missing_variant_key",
            &["--set", "reverse.flux.kind=sg"],
            &["missing key `reverse.flux.eta`"],
        ),
        run_case(
            "rtol_zero",
            &["--set", "flow.integrator.rtol=0"],
            &["flow.integrator.rtol", "0"],
        ),
        run_case(
            "atol_negative",
            &["--set", "flow.integrator.atol=-1e-9"],
            &["flow.integrator.atol"],
        ),
        run_case(
            "substeps_zero",
            &[
                "--set",
                "flow.integrator.kind=implicit_euler",
                "--set",
                "flow.integrator.substeps=0",
            ],
            &["flow.integrator.substeps", "0"],
        ),
        run_case(
            "uniformization_tol_too_large",
            &[
                "--set",
                "flow.integrator.kind=uniformization",
                "--set",
                "flow.integrator.tol=0.5",
            ],
            &["flow.integrator.tol", "0.5"],
        ),
        run_case(
            "chebyshev_tol_too_small",
            &[
                "--set",
                "flow.integrator.kind=chebyshev",
                "--set",
                "flow.integrator.tol=1e-15",
            ],
            &["flow.integrator.tol", "1e-15", "uniformization"],
        ),
        run_case(
            "rational_degree_too_big",
            &[
                "--set",
                "flow.integrator.kind=rational",
                "--set",
                "flow.integrator.degree=13",
            ],
            &["flow.integrator.degree", "13", "1..=12"],
        ),
        // textured data with ε_fwd > 0: the oracle score moves with s, and the exponential
        // methods refuse it
        run_case(
            "chebyshev_moving_generator",
            &[
                "--set",
                "data.kind=textured",
                "--set",
                "forward.eps_fwd=0.3",
                "--set",
                "flow.mode=resolved",
                "--set",
                "flow.integrator.kind=chebyshev",
                "--set",
                "flow.integrator.tol=1e-6",
            ],
            &[
                "flow.integrator.kind",
                "chebyshev",
                "time-independent",
                "trbdf2_adaptive",
            ],
        ),
        run_case(
            "rational_moving_generator",
            &[
                "--set",
                "data.kind=textured",
                "--set",
                "forward.eps_fwd=0.3",
                "--set",
                "flow.mode=resolved",
                "--set",
                "flow.integrator.kind=rational",
                "--set",
                "flow.integrator.degree=6",
            ],
            &[
                "flow.integrator.kind",
                "rational",
                "time-independent",
                "trbdf2_adaptive",
            ],
        ),
        // the default problem's generator is static (block-constant data, ε = 0), but upwind
        // is not reversible
        run_case(
            "chebyshev_upwind",
            &[
                "--set",
                "reverse.flux.kind=upwind",
                "--set",
                "flow.mode=resolved",
                "--set",
                "flow.integrator.kind=chebyshev",
                "--set",
                "flow.integrator.tol=1e-6",
            ],
            &["flow.integrator.kind", "chebyshev", "reversible", "upwind"],
        ),
        run_case(
            "snapshots_one",
            &["--set", "output.snapshots=1"],
            &["output.snapshots", "1"],
        ),
        run_case(
            "flow_mode_unknown",
            &["--set", "flow.mode=fast"],
            &["flow.mode", "fast", "kernel"],
        ),
    ]);
}

#[test]
fn run_rejects_bad_keys_files_and_flags() {
    check_all(&[
        run_case(
            "set_key_typo",
            &["--set", "projection.detla=0.1"],
            &[
                "unknown key `projection.detla`",
                "did you mean `projection.delta`?",
            ],
        ),
        run_case(
            "set_section_typo",
            &["--set", "projectoin.delta=0.1"],
            &["unknown section `projectoin`", "did you mean `projection`?"],
        ),
        run_case(
            "set_key_in_wrong_section",
            &["--set", "schedule.delta=0.1"],
            &[
                "unknown key `schedule.delta`",
                "did you mean `projection.delta`?",
            ],
        ),
        run_case(
            "set_without_equals",
            &["--set", "projection.delta"],
            &["projection.delta", "key=value"],
        ),
        run_case("set_empty_key", &["--set", "=0.1"], &["malformed key"]),
        run_case(
            "set_empty_segment",
            &["--set", "projection..delta=0.1"],
            &["malformed key"],
        ),
        run_case(
            "set_into_a_value",
            &["--set", "grid.nx.y=3"],
            &["grid.nx", "not a section"],
        ),
        run_case(
            "set_section_to_a_value",
            &["--set", "projection=3"],
            &["projection"],
        ),
        run_case(
            "config_malformed",
            &["--config", "broken.toml"],
            &["broken.toml", "line 1"],
        ),
        run_case(
            "config_unknown_key",
            &["--config", "unknown_key.toml"],
            &["projection.detla", "did you mean `projection.delta`?"],
        ),
        run_case(
            "config_unknown_section",
            &["--config", "unknown_section.toml"],
            &["unknown section `projectoin`", "did you mean `projection`?"],
        ),
        run_case(
            "config_negative_delta",
            &["--config", "neg_delta.toml"],
            &["projection.delta", "-0.5"],
        ),
        run_case(
            "config_missing",
            &["--config", "missing.toml"],
            &["missing.toml", "cannot read"],
        ),
        run_case(
            "config_unreadable",
            &["--config", "binary.toml"],
            &["binary.toml", "cannot read"],
        ),
        run_case("config_is_a_folder", &["--config", "out"], &["is a folder"]),
        case(
            "out_folder_missing",
            &[
                "run",
                "--set",
                "grid.nx=8",
                "--set",
                "grid.ny=8",
                "--out",
                "nowhere/r.h5",
            ],
            &["nowhere", "does not exist"],
        ),
        case(
            "out_exists_without_force",
            &[
                "run",
                "--set",
                "grid.nx=8",
                "--set",
                "grid.ny=8",
                "--out",
                "out/exists.h5",
            ],
            &["out/exists.h5", "--force"],
        ),
        case(
            "out_is_a_folder",
            &[
                "run",
                "--set",
                "grid.nx=8",
                "--set",
                "grid.ny=8",
                "--out",
                "out",
                "--force",
            ],
            &["out", "is a folder"],
        ),
        run_case("threads_zero", &["--threads", "0"], &["--threads", "0"]),
        run_case(
            "threads_not_a_number",
            &["--threads", "many"],
            &["--threads", "many"],
        ),
        run_case("unknown_flag", &["--bogus"], &["--bogus"]),
    ]);
}

#[test]
fn run_rejects_bad_images_labels_score_fields_and_formulas() {
    check_all(&[
        run_case(
            "image_missing",
            &["--set", "data.kind=image", "--set", "data.file=nope.png"],
            &["nope.png"],
        ),
        run_case(
            "image_truncated",
            &[
                "--set",
                "data.kind=image",
                "--set",
                "data.file=photo_trunc.png",
            ],
            &["photo_trunc.png"],
        ),
        run_case(
            "image_not_an_image",
            &["--set", "data.kind=image", "--set", "data.file=text.h5"],
            &["text.h5"],
        ),
        run_case(
            "image_floor",
            &[
                "--set",
                "data.kind=image",
                "--set",
                "data.file=labels_ok.png",
                "--set",
                "data.floor=1.5",
            ],
            &["data.floor", "[0, 1)"],
        ),
        run_case(
            "image_without_file",
            &["--set", "data.kind=image"],
            &["missing key `data.file`"],
        ),
        labels_case("labels_missing", "nope.png", &[], &["nope.png"]),
        labels_case("labels_rgb", "labels_rgb.png", &[], &["labels_rgb.png"]),
        labels_case(
            "labels_gap",
            "labels_gap.png",
            &[],
            &["labels_gap.png", "label 1 never occurs"],
        ),
        labels_case("labels_truncated_h5", "trunc.h5", &[], &["trunc.h5"]),
        labels_case(
            "labels_h5_no_dataset",
            "plain.h5",
            &[],
            &["plain.h5", "labels"],
        ),
        case(
            "labels_with_checkerboard",
            &[
                "run",
                "--set",
                "partition.kind=labels",
                "--set",
                "partition.file=labels_ok.png",
                "--set",
                "grid.nx=8",
                "--set",
                "grid.ny=8",
                "--out",
                "out/r.h5",
            ],
            &["data.kind", "tiles"],
        ),
        labels_case(
            "labels_with_tile_key",
            "labels_ok.png",
            &["--set", "partition.bx=2"],
            &["unknown key `partition.bx`"],
        ),
        labels_case(
            "labels_too_coarse",
            "labels_ok.png",
            &["--set", "grid.nx=1", "--set", "grid.ny=1"],
            &["labels_ok.png", "label(s) 1, 2, 3 vanish", "finer grid"],
        ),
        run_case(
            "field_missing",
            &[
                "--set",
                "score.kind=external",
                "--set",
                "score.file=nope.h5",
            ],
            &["nope.h5"],
        ),
        run_case(
            "field_text",
            &[
                "--set",
                "score.kind=external",
                "--set",
                "score.file=text.h5",
            ],
            &["text.h5"],
        ),
        run_case(
            "field_empty",
            &[
                "--set",
                "score.kind=external",
                "--set",
                "score.file=empty.h5",
            ],
            &["empty.h5"],
        ),
        run_case(
            "field_wrong_grid",
            &[
                "--set",
                "score.kind=external",
                "--set",
                "score.file=field_wrong_grid.h5",
            ],
            &["field_wrong_grid.h5", "grid"],
        ),
        run_case(
            "field_nan",
            &[
                "--set",
                "score.kind=external",
                "--set",
                "score.file=field_nan.h5",
            ],
            &["field_nan.h5", "NaN"],
        ),
        run_case(
            "field_no_datasets",
            &[
                "--set",
                "score.kind=external",
                "--set",
                "score.file=plain.h5",
            ],
            &["plain.h5"],
        ),
        run_case(
            "formula_syntax",
            &["--set", "score.kind=formula", "--set", "score.log_q=x +* y"],
            &["score.log_q", "cannot parse"],
        ),
        run_case(
            "formula_unknown_name",
            &["--set", "score.kind=formula", "--set", "score.log_q=x + z"],
            &["score.log_q", "unknown name `z`"],
        ),
        run_case(
            "formula_nan_at_a_cell",
            &[
                "--set",
                "score.kind=formula",
                "--set",
                "score.log_q=ln(x - 0.5)",
            ],
            &["score.log_q", "cell (ix = 0, iy = 0)"],
        ),
        run_case(
            "formula_data_with_t",
            &["--set", "data.kind=formula", "--set", "data.log_q=x*t"],
            &["data.log_q", "x and y only"],
        ),
        run_case(
            "potential_needs_potential_sg",
            &[
                "--set",
                "score.kind=potential",
                "--set",
                "score.potential=x^2",
                "--set",
                "score.diffusion=1",
            ],
            &["reverse.flux.kind", "potential_sg"],
        ),
        run_case(
            "potential_diffusion",
            &[
                "--set",
                "score.kind=potential",
                "--set",
                "score.potential=x^2",
                "--set",
                "score.diffusion=0",
                "--set",
                "reverse.flux.kind=potential_sg",
            ],
            &["score.diffusion"],
        ),
    ]);
}

#[test]
fn sweep_rejects_bad_input() {
    check_all(&[
        // refused before the first run: the resolved runs' integrator cannot take a moving G
        sweep_case(
            "sweep_chebyshev_moving_generator",
            &[
                "--set",
                "data.kind=textured",
                "--set",
                "forward.eps_fwd=0.3",
                "--set",
                "flow.integrator.kind=chebyshev",
                "--set",
                "flow.integrator.tol=1e-6",
                "--modes",
                "resolved",
                "--param",
                "projection.delta",
                "--values",
                "0.01,0.1",
            ],
            &["flow.integrator.kind", "chebyshev", "time-independent"],
        ),
        sweep_case(
            "sweep_param_typo",
            &["--param", "projection.detla", "--values", "0.1"],
            &["projection.detla", "did you mean `projection.delta`?"],
        ),
        sweep_case(
            "sweep_bad_value",
            &["--param", "projection.delta", "--values", "0.1,-2"],
            &["projection.delta", "-2"],
        ),
        sweep_case(
            "sweep_wrong_type",
            &["--param", "schedule.n_steps", "--values", "10,ten"],
            &["schedule.n_steps", "ten"],
        ),
        sweep_case(
            "sweep_duplicate_values",
            &["--param", "projection.delta", "--values", "0.1,0.1"],
            &["--values", "twice"],
        ),
        sweep_case(
            "sweep_empty_value",
            &["--param", "projection.delta", "--values", "0.1,,0.2"],
            &["--values", "empty"],
        ),
        sweep_case(
            "sweep_empty_param",
            &["--param", "", "--values", "0.1"],
            &["--param"],
        ),
        sweep_case(
            "sweep_bad_mode",
            &[
                "--param",
                "projection.delta",
                "--values",
                "0.1",
                "--modes",
                "kernl",
            ],
            &["--modes", "kernl", "did you mean kernel?"],
        ),
        sweep_case(
            "sweep_bad_projection",
            &[
                "--param",
                "projection.delta",
                "--values",
                "0.1",
                "--projections",
                "both",
            ],
            &["--projections", "both"],
        ),
        sweep_case(
            "sweep_out_folder_missing",
            &[
                "--param",
                "projection.delta",
                "--values",
                "0.1",
                "--out",
                "nowhere/s.h5",
            ],
            &["nowhere", "does not exist"],
        ),
        sweep_case(
            "sweep_out_exists",
            &[
                "--param",
                "projection.delta",
                "--values",
                "0.1",
                "--out",
                "out/exists.h5",
            ],
            &["already exists", "--force"],
        ),
        sweep_case(
            "sweep_bad_base_config",
            &[
                "--param",
                "projection.delta",
                "--values",
                "0.1",
                "--config",
                "broken.toml",
            ],
            &["broken.toml", "line 1"],
        ),
        case(
            "sweep_missing_param",
            &["sweep", "--values", "0.1"],
            &["--param"],
        ),
    ]);
}

#[test]
fn plot_and_inspect_reject_bad_files() {
    check_all(&[
        case(
            "plot_missing_file",
            &["plot", "out/none.h5"],
            &["none.h5", "no such file"],
        ),
        case("plot_text_file", &["plot", "text.h5"], &["text.h5", "HDF5"]),
        case(
            "plot_empty_file",
            &["plot", "empty.h5"],
            &["empty.h5", "HDF5"],
        ),
        case(
            "plot_truncated_file",
            &["plot", "trunc.h5"],
            &["trunc.h5", "truncated"],
        ),
        case(
            "plot_plain_hdf5",
            &["plot", "plain.h5"],
            &["plain.h5", "kind"],
        ),
        case(
            "plot_hollow_run_file",
            &["plot", "hollow.h5"],
            &["hollow.h5"],
        ),
        case("plot_a_folder", &["plot", "out"], &["out", "is a folder"]),
        case(
            "plot_out_is_a_file",
            &["plot", "out/exists.h5", "--out", "text.h5"],
            &["text.h5", "not a folder"],
        ),
        case(
            "inspect_missing_file",
            &["inspect", "out/none.h5"],
            &["none.h5", "no such file"],
        ),
        case(
            "inspect_text_file",
            &["inspect", "text.h5"],
            &["text.h5", "HDF5"],
        ),
        case(
            "inspect_empty_file",
            &["inspect", "empty.h5"],
            &["empty.h5", "HDF5"],
        ),
        case(
            "inspect_truncated_file",
            &["inspect", "trunc.h5"],
            &["trunc.h5", "truncated"],
        ),
        case(
            "inspect_a_folder",
            &["inspect", "out"],
            &["out", "is a folder"],
        ),
        case("inspect_no_file", &["inspect"], &["<FILE>"]),
    ]);
}

#[test]
fn config_rejects_bad_input() {
    let mut cases = vec![
        case("config_extra_argument", &["config", "extra"], &["extra"]),
        case(
            "config_unknown_flag",
            &["config", "--set", "grid.nx=8"],
            &["--set"],
        ),
        case("unknown_command", &["rn"], &["rn"]),
    ];
    if Path::new("/dev/full").exists() {
        cases.push(Case {
            stdout_full: true,
            ..case(
                "config_to_a_full_disk",
                &["config"],
                &["stdout", "No space left"],
            )
        });
    }
    check_all(&cases);
}

#[test]
fn dt_sweep_example_rejects_bad_input() {
    let ex = |name, args: &[&str], needles: &[&'static str]| {
        let mut a = vec!["--quick", "--out", "out/ex"];
        a.extend(args);
        example_case(name, "dt_sweep", &a, needles)
    };
    check_all(&[
        ex(
            "ex_key_typo",
            &["--set", "projection.detla=0.1"],
            &["projection.detla", "did you mean `projection.delta`?"],
        ),
        ex(
            "ex_delta_negative",
            &["--set", "projection.delta=-1"],
            &["projection.delta", "-1"],
        ),
        ex(
            "ex_grid_not_divisible",
            &["--set", "partition.bx=5"],
            &["partition.bx", "5"],
        ),
        ex(
            "ex_config_malformed",
            &["--config", "broken.toml"],
            &["broken.toml", "line 1"],
        ),
        ex(
            "ex_config_missing",
            &["--config", "missing.toml"],
            &["missing.toml"],
        ),
        ex("ex_threads_zero", &["--threads", "0"], &["--threads"]),
        example_case(
            "ex_out_is_a_file",
            "dt_sweep",
            &["--quick", "--out", "out/exists.h5"],
            &["out/exists.h5", "not a folder"],
        ),
        ex("ex_unknown_flag", &["--bogus"], &["--bogus"]),
    ]);
}

#[test]
fn brelax_rejects_bad_input() {
    let b = |name: &'static str, extra: &[&str], needles: &[&'static str]| {
        let mut args = vec!["brelax", "--n", "32", "--out", "out.h5"];
        args.extend_from_slice(extra);
        case(name, &args, needles)
    };
    check_all(&[
        b(
            "brelax_degree_zero",
            &["--degree", "0"],
            &["--degree", "≥ 1"],
        ),
        b(
            "brelax_degree_too_big",
            &["--method", "rational", "--degree", "13"],
            &["--degree", "1..=12"],
        ),
        b(
            "brelax_degree_with_trbdf2",
            &["--method", "trbdf2", "--degree", "3"],
            &["--method", "--degree only with rational"],
        ),
        b(
            "brelax_steps_with_rational",
            &["--method", "rational", "--steps", "3"],
            &["--method", "--steps only with trbdf2"],
        ),
        b(
            "brelax_degree_with_chebyshev",
            &["--degree", "3"],
            &["--method", "--degree only with rational"],
        ),
        b(
            "brelax_steps_zero",
            &["--method", "trbdf2", "--steps", "0"],
            &["--steps"],
        ),
        b(
            "brelax_unknown_method",
            &["--method", "rationl"],
            &["--method", "rationl", "a similar value exists: 'rational'"],
        ),
        b("brelax_rtol_zero", &["--rtol", "0"], &["--rtol", "(0, 1)"]),
        b(
            "brelax_rtol_out_of_reach",
            &["--method", "rational", "--rtol", "1e-9"],
            &["--rtol", "--method exact"],
        ),
        b(
            "brelax_rtol_below_round_off",
            &["--rtol", "1e-15"],
            &["--rtol", "round-off", "--method exact"],
        ),
        case(
            "brelax_l_too_small",
            &["brelax", "--n", "1", "--out", "out.h5"],
            &["--n", "2..=4096"],
        ),
        case(
            "brelax_missing_folder",
            &["brelax", "--n", "8", "--out", "no/such/dir/out.h5"],
            &["no/such/dir", "mkdir -p"],
        ),
    ]);
}
