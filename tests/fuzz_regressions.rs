//! Regression tests from fuzzing the config parser (`fuzz/`, targets `config_parser` and
//! `config_roundtrip`). Every stored case goes through the fuzz targets' own code path
//! (`fuzz/fuzz_targets/harness.rs`: parse with overrides → validate → generator, and the
//! `to_toml` round trip), which panics on a multi-line or empty error message and on a round
//! trip that changes the config.
//!
//! Cases: the files in `tests/fuzz_cases/` (crashes the fuzzer found, minimised; the file name
//! says what broke), the fuzz seed corpus `fuzz/corpus/config_parser/`, and the hand-written
//! nasty inputs below. An input is a TOML text, then `--set` overrides each after a NUL byte.
//!
//! The file-loader targets (`image_loader`, `score_field_loader`; shared code
//! `fuzz/fuzz_targets/loaders.rs`) are replayed from `tests/fuzz_cases/image_loader/` and
//! `tests/fuzz_cases/score_field_loader/` (hand-made seeds `seed-*` and inputs the fuzzer
//! reached, `fuzz-*`, each with its expected outcome in a table below) and from their corpora
//! `fuzz/corpus/{image_loader,score_field_loader}/`. The `open/` subfolders hold inputs that
//! still break the checks (bugs not fixed yet); `open_loader_bugs_still_reproduce` pins them,
//! and fails once one is fixed: then move the file up one folder and give it a table entry.
//! Inputs that crash libhdf5 itself are kept in `fuzz/hdf5_crashes/` and are never replayed.

#[path = "../fuzz/fuzz_targets/harness.rs"]
mod harness;

#[path = "../fuzz/fuzz_targets/loaders.rs"]
mod loaders;

use harness::Outcome;
use std::path::Path;

/// Runs one input through both targets; returns the `config_parser` outcome.
fn run(name: &str, data: &[u8]) -> Outcome {
    let out = std::panic::catch_unwind(|| {
        let out = harness::config_parser(data);
        harness::config_roundtrip(data);
        out
    });
    match out {
        Ok(out) => out,
        Err(_) => panic!(
            "case {name} panicked (input {:?})",
            String::from_utf8_lossy(data)
        ),
    }
}

fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn found_cases_do_not_panic() {
    let cases = files("tests/fuzz_cases");
    assert!(!cases.is_empty());
    for (name, data) in cases {
        run(&name, &data);
    }
}

#[test]
fn seed_corpus_does_not_panic() {
    let cases = files("fuzz/corpus/config_parser");
    assert!(!cases.is_empty());
    let mut built = 0;
    for (name, data) in &cases {
        if run(name, data) == Outcome::Built {
            built += 1;
        }
    }
    // the corpus must keep reaching the generator, not only the parser's error paths
    assert!(
        built >= 10,
        "only {built} of {} cases built a generator",
        cases.len()
    );
}

fn ov(toml: &str, overrides: &[&str]) -> Vec<u8> {
    let mut s = toml.to_string();
    for o in overrides {
        s.push('\0');
        s.push_str(o);
    }
    s.into_bytes()
}

/// A small valid base: 8×8 grid, 2×2 tiles, 4 steps.
const SMALL: &str =
    "[grid]\nnx = 8\nny = 8\n[partition]\nbx = 2\nby = 2\n[schedule]\nn_steps = 4\n";

fn parse_error(name: &str, data: &[u8], needle: &str) {
    match run(name, data) {
        Outcome::ParseError(e) => assert!(e.contains(needle), "{name}: {e}"),
        other => panic!("{name}: expected a parse error, got {other:?}"),
    }
}

/// A validation error; inputs the harness skips as too large are validated here directly
/// (these must fail on the sizes, before any oracle is built).
fn invalid(name: &str, data: &[u8], needle: &str) {
    match run(name, data) {
        Outcome::Invalid(e) => assert!(e.contains(needle), "{name}: {e}"),
        Outcome::TooLarge => {
            let (toml, overrides) = harness::split_input(std::str::from_utf8(data).unwrap());
            let cfg = cgkl::config::Config::from_toml_with_overrides(toml, &overrides).unwrap();
            let e = cfg.validate().expect_err(name).to_string();
            assert!(e.contains(needle) && !e.contains('\n'), "{name}: {e}");
        }
        other => panic!("{name}: expected a validation error, got {other:?}"),
    }
}

#[test]
fn the_small_base_builds() {
    assert_eq!(run("small", SMALL.as_bytes()), Outcome::Built);
}

#[test]
fn huge_numbers_are_clean_errors() {
    parse_error(
        "nx i64 overflow",
        b"[grid]\nnx = 99999999999999999999\n",
        "line 2",
    );
    parse_error("nx negative", &ov("", &["grid.nx=-1"]), "grid.nx");
    invalid(
        "nx huge",
        &ov(SMALL, &["grid.nx=9223372036854775807"]),
        "grid.nx",
    );
    // 4096² (2²⁴ cells) is accepted since issue 18; one more column is not
    invalid(
        "nx above 4096",
        &ov(SMALL, &["grid.nx=4097", "grid.ny=4096"]),
        "grid.nx",
    );
    invalid(
        "n_steps huge",
        &ov(SMALL, &["schedule.n_steps=9223372036854775807"]),
        "schedule.n_steps",
    );
    invalid(
        "bx huge",
        &ov(SMALL, &["partition.bx=1000000"]),
        "partition.bx",
    );
    invalid("horizon 1e308", &ov(SMALL, &["forward.horizon=1e308"]), "");
    parse_error("float too big", &ov(SMALL, &["projection.delta=1e999"]), "");
    parse_error(
        "periods u32 overflow",
        &ov(SMALL, &["data.kind=textured", "data.periods=4294967296"]),
        "data.periods",
    );
    parse_error(
        "seed negative",
        &ov(SMALL, &["start.seed=-1"]),
        "start.seed",
    );
}

#[test]
fn nan_and_inf_as_strings_and_values() {
    // quoted: a string where a number is needed
    parse_error(
        "delta \"nan\"",
        b"[projection]\ndelta = \"nan\"\n",
        "projection.delta",
    );
    // bare words are TOML floats
    invalid(
        "delta nan",
        &ov(SMALL, &["projection.delta=nan"]),
        "projection.delta",
    );
    invalid(
        "delta -inf",
        &ov(SMALL, &["projection.delta=-inf"]),
        "projection.delta",
    );
    assert_eq!(
        run("delta inf", &ov(SMALL, &["projection.delta=inf"])),
        Outcome::Built
    );
    invalid(
        "horizon inf",
        &ov(SMALL, &["forward.horizon=inf"]),
        "forward.horizon",
    );
    invalid(
        "eps nan",
        &ov(SMALL, &["reverse.eps_rev=nan"]),
        "reverse.eps_rev",
    );
    invalid(
        "beta nan",
        &ov(SMALL, &["forward.beta.value=+nan"]),
        "forward.beta.value",
    );
    invalid(
        "sigma_min inf",
        &ov(SMALL, &["schedule.sigma_min=inf"]),
        "schedule.sigma_min",
    );
    invalid(
        "cfl nan",
        &ov(
            SMALL,
            &[
                "flow.integrator.kind=explicit_euler",
                "flow.integrator.cfl=nan",
                "flow.integrator.substeps=1",
            ],
        ),
        "flow.integrator.cfl",
    );
    invalid(
        "contrast inf",
        &ov(SMALL, &["data.contrast=inf"]),
        "data.contrast",
    );
    invalid(
        "corr_len nan",
        &ov(
            SMALL,
            &[
                "score.kind=perturbed",
                "score.sigma=0.1",
                "score.corr_len=nan",
                "score.seed=0",
            ],
        ),
        "score.corr_len",
    );
}

#[test]
fn score_corr_len_is_bounded() {
    // ℓ = 1e9 made data::smooth_field allocate a 64 GB kernel (abort); ℓ = 1e-200 gave NaN
    let p = ["score.kind=perturbed", "score.sigma=0.1", "score.seed=1"];
    for (l, ok) in [
        ("1e9", false),
        ("9", false),
        ("1e-200", false),
        ("8", true),
        ("1e-3", true),
    ] {
        let mut o = p.to_vec();
        let set = format!("score.corr_len={l}");
        o.push(&set);
        if ok {
            assert_eq!(run(l, &ov(SMALL, &o)), Outcome::Built, "corr_len = {l}");
        } else {
            invalid(l, &ov(SMALL, &o), "score.corr_len");
        }
    }
}

#[test]
fn deep_tables_unicode_and_duplicate_keys() {
    let deep = format!("{}x = 1\n", "[a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p]\n");
    parse_error("deep section", deep.as_bytes(), "unknown section `a`");
    let deep_inline = format!("grid = {}1{}\n", "{ a = ".repeat(100), " }".repeat(100));
    parse_error("deep inline table", deep_inline.as_bytes(), "");
    let deep_array = format!("x = {}1{}\n", "[".repeat(200), "]".repeat(200));
    parse_error("deep array", deep_array.as_bytes(), "");
    parse_error("deep override", &ov("", &["grid.a.b.c.d.e.f=1"]), "grid.a");
    parse_error(
        "unicode section",
        "[\"grïd\"]\nnx = 8\n".as_bytes(),
        "unknown section `grïd`",
    );
    parse_error(
        "unquoted unicode",
        "[grïd]\nnx = 8\n".as_bytes(),
        "line 1, column 4",
    );
    parse_error("unicode key", "[grid]\n\"ñx\" = 8\n".as_bytes(), "grid.ñx");
    parse_error(
        "rtl + emoji key",
        &ov("", &["projection.\u{202e}δ🦀=1"]),
        "projection",
    );
    parse_error("newline in key", b"[grid]\n\"n\\nx\" = 8\n", "grid");
    parse_error("duplicate key", b"[grid]\nnx = 8\nnx = 9\n", "duplicate");
    parse_error("duplicate section", b"[grid]\nnx = 8\n[grid]\nny = 8\n", "");
    parse_error(
        "kind twice",
        b"[data]\nkind = \"brelax\"\nkind = \"textured\"\n",
        "",
    );
    parse_error("section is a value", &ov("grid = 3\n", &[]), "grid");
    parse_error(
        "override through a value",
        &ov(SMALL, &["grid.nx.deep=1"]),
        "not a section",
    );
    parse_error("kind is a table", &ov("", &["data.kind.x=1"]), "data");
}

#[test]
fn overrides_with_dots_and_equals_signs() {
    parse_error("no =", &ov("", &["grid.nx"]), "expected key=value");
    parse_error("empty key", &ov("", &["=8"]), "malformed key");
    parse_error("double dot", &ov("", &["grid..nx=8"]), "malformed key");
    parse_error("trailing dot", &ov("", &["grid.=8"]), "malformed key");
    parse_error("leading dot", &ov("", &[".grid.nx=8"]), "malformed key");
    // the value is everything after the first `=`: "8=9" is a bare string
    parse_error("= in value", &ov("", &["grid.nx=8=9"]), "grid.nx");
    parse_error(
        "dotted value",
        &ov("", &["schedule.kind=karras.x"]),
        "schedule.kind",
    );
    parse_error(
        "value is TOML injection",
        &ov("", &["grid.nx=8\nny = 9"]),
        "more than one TOML value",
    );
    parse_error("table value", &ov("", &["grid={nx=8,ny=8,z=1}"]), "grid.z");
    assert_eq!(
        run("table value ok", &ov(SMALL, &["grid={nx=4,ny=4}"])),
        Outcome::Built
    );
    parse_error("quoted key with dot", &ov("", &["\"grid.nx\"=8"]), "");
    assert_eq!(
        run("spaces", &ov(SMALL, &["  grid.nx  =  16  "])),
        Outcome::Built
    );
}

// ---------------------------------------------------------------------------
// file loaders: image_loader and score_field_loader

use loaders::Loaded;

/// Expected outcome: `OK`, or a piece of the error message.
fn expect(name: &str, what: &str, got: &Loaded, want: &str) {
    match (got, want) {
        (Loaded::Ok, "OK") => {}
        (Loaded::Err(e), w) if w != "OK" => {
            assert!(
                e.contains(w),
                "{name}: {what}: expected an error with {w:?}, got {e:?}"
            )
        }
        (got, want) => panic!("{name}: {what}: expected {want:?}, got {got:?}"),
    }
}

fn file_name(path: &str) -> &str {
    Path::new(path).file_name().unwrap().to_str().unwrap()
}

/// `tests/fuzz_cases/image_loader/`: file → (`load_luminance`, `load_labels`).
const IMAGE_CASES: &[(&str, &str, &str)] = &[
    // png 0.17 panicked on these (PLTE length not a multiple of 3); now refused before decoding
    ("png_plte_length_49_adam7.png", "corrupt PNG", "corrupt PNG"),
    ("png_plte_length_4_1x1.png", "corrupt PNG", "corrupt PNG"),
    ("seed-gray8.png", "OK", "OK"),
    ("seed-gray16.png", "OK", "OK"),
    ("seed-gray2.png", "OK", "OK"),
    ("seed-graya8.png", "OK", "got gray+alpha 8-bit"),
    ("seed-rgb16.png", "OK", "got RGB16"),
    ("seed-rgba8.png", "OK", "got RGBA8"),
    ("seed-palette2_trns.png", "OK", "got RGBA8"),
    ("seed-p2_max1000.pgm", "OK", "OK"),
    ("seed-p5_16.pgm", "OK", "OK"),
    ("seed-p5_max64001.pgm", "OK", "maxval 64001"),
    ("seed-p3.ppm", "OK", "got RGB8"),
    ("seed-p4.pbm", "OK", "PBM bitmap cannot be a label image"),
    ("seed-graya.pam", "unsupported PNM", "unsupported PNM"),
    ("seed-gray16_lzw.tif", "OK", "OK"),
    (
        "seed-gray32f.tif",
        "unsupported TIFF variant",
        "unsupported TIFF variant",
    ),
    ("seed-labels_u8.h5", "unknown file format", "OK"),
    (
        "seed-labels_i32_other.h5",
        "unknown file format",
        "has the label -1",
    ),
    ("fuzz-tiny-ok.bin", "OK", "OK"),
    (
        "fuzz-no-pixels.bin",
        "has no pixels (0 × 1)",
        "has no pixels (0 × 1)",
    ),
    (
        "fuzz-too-wide.bin",
        "8388614 × 4 pixels",
        "8388614 × 4 pixels",
    ),
    (
        "fuzz-memory-limit.bin",
        "too large to decode",
        "too large to decode",
    ),
    (
        "fuzz-ico-unsupported.bin",
        "ICO images are not supported",
        "ICO images",
    ),
    ("fuzz-png-truncated.png", "ends too early", "ends too early"),
    ("fuzz-pnm-not-utf8.pnm", "valid UTF-8", "valid UTF-8"),
    ("fuzz-tiff-lzw-invalid-code.tif", "LZW", "LZW"),
    (
        "fuzz-h5-labels-too-large.h5",
        "unknown file format",
        "1095216660227 × 2 pixels",
    ),
    (
        "fuzz-h5-negative-label.h5",
        "unknown file format",
        "has the label -1",
    ),
    (
        "fuzz-h5-no-labels-dataset.h5",
        "unknown file format",
        "no dataset `labels`",
    ),
    (
        "fuzz-h5-read-addr-overflow.h5",
        "unknown file format",
        "addr overflow",
    ),
    (
        "fuzz-h5-unknown-type.h5",
        "unknown file format",
        "Invalid size of integer",
    ),
];

/// `tests/fuzz_cases/score_field_loader/`: file → `ScoreField::load(path, 4, 3)`.
const SCORE_CASES: &[(&str, &str)] = &[
    // finite but extreme ln q̂ (±1.5e308): log_q_at interpolates without overflow
    ("extreme_log_q_k2.h5", "OK"),
    ("extreme_log_q_k3.h5", "OK"),
    // member names with line breaks / control characters: escaped, the message stays one line
    ("newline_in_member_name.h5", "no dataset"),
    ("fuzz_control_chars_in_member_names.h5", "no dataset"),
    ("seed-valid_k1.h5", "OK"),
    ("seed-valid_k2.h5", "OK"),
    ("seed-valid_k3.h5", "OK"),
    ("seed-plain_f32_int_t.h5", "OK"),
    ("seed-int_log_q.h5", "has type int32"),
    (
        "seed-missing_log_q.h5",
        "no dataset `log_q` (the file has: grp/, t)",
    ),
    (
        "seed-nan_log_q.h5",
        "log_q[1] (t = 1) is NaN at cell (ix, iy) = (3, 2)",
    ),
    ("seed-not_hdf5.h5", "not a readable HDF5 file"),
    ("seed-signature_only.h5", "not a readable HDF5 file"),
    ("seed-truncated_k2.h5", "truncated"),
    ("seed-t_2d.h5", "must be 1-D"),
    ("seed-t_is_group.h5", "`t` is not a readable dataset"),
    ("seed-t_not_increasing.h5", "not strictly increasing"),
    (
        "seed-wrong_shape.h5",
        "shape [2, 4, 3], expected K × ny × nx = [2, 3, 4]",
    ),
    ("fuzz-ok.h5", "OK"),
    ("fuzz-not-readable-27-bytes.h5", "not a readable HDF5 file"),
    ("fuzz-t-empty.h5", "t is empty"),
    ("fuzz-t-nan.h5", "t[0] is NaN"),
    ("fuzz-t-too-many-times.h5", "K = 335007449090 times"),
    (
        "fuzz-t-invalid-integer-size.h5",
        "dataset t has an unsupported type",
    ),
    ("fuzz-t-no-conversion-path.h5", "cannot read dataset t"),
    ("fuzz-log_q-scalar.h5", "shape [] but must be 3-D"),
    ("fuzz-log_q-reference-type.h5", "has type reference"),
    (
        "fuzz-log_q-reference-type-unsupported.h5",
        "dataset log_q has an unsupported type",
    ),
    (
        "fuzz-log_q-not-readable.h5",
        "`log_q` is not a readable dataset",
    ),
    ("fuzz-log_q-addr-overflow.h5", "addr overflow"),
    ("fuzz-log_q-nan-tiny-t.h5", "is NaN at cell"),
];

/// Every stored file has a table entry and every entry a file.
fn same_names<'a>(dir: &str, cases: &[(String, Vec<u8>)], table: impl Iterator<Item = &'a str>) {
    let mut stored: Vec<&str> = cases.iter().map(|(n, _)| file_name(n)).collect();
    let mut listed: Vec<&str> = table.collect();
    stored.sort_unstable();
    listed.sort_unstable();
    assert_eq!(stored, listed, "{dir}: files and table entries differ");
}

#[test]
fn image_loader_cases() {
    let dir = "tests/fuzz_cases/image_loader";
    let cases = files(dir);
    same_names(dir, &cases, IMAGE_CASES.iter().map(|c| c.0));
    for (path, data) in &cases {
        let name = file_name(path);
        let out = std::panic::catch_unwind(|| loaders::image_loader(data))
            .unwrap_or_else(|_| panic!("case {name} panicked"));
        let &(_, lum, lab) = IMAGE_CASES.iter().find(|c| c.0 == name).unwrap();
        expect(name, "load_luminance", &out.luminance, lum);
        expect(name, "load_labels", &out.labels, lab);
    }
}

#[test]
fn score_field_loader_cases() {
    let dir = "tests/fuzz_cases/score_field_loader";
    let cases = files(dir);
    same_names(dir, &cases, SCORE_CASES.iter().map(|c| c.0));
    for (path, data) in &cases {
        let name = file_name(path);
        let out = std::panic::catch_unwind(|| loaders::score_field_loader(data))
            .unwrap_or_else(|_| panic!("case {name} panicked"));
        let &(_, want) = SCORE_CASES.iter().find(|c| c.0 == name).unwrap();
        expect(name, "ScoreField::load", &out, want);
    }
}

#[test]
fn loader_corpora_do_not_panic() {
    let images = files("fuzz/corpus/image_loader");
    let scores = files("fuzz/corpus/score_field_loader");
    assert!(images.len() >= 100 && scores.len() >= 20);
    let (mut lum_ok, mut lab_ok, mut score_ok) = (0, 0, 0);
    for (name, data) in &images {
        let out = std::panic::catch_unwind(|| loaders::image_loader(data))
            .unwrap_or_else(|_| panic!("case {name} panicked"));
        lum_ok += usize::from(out.luminance.is_ok());
        lab_ok += usize::from(out.labels.is_ok());
    }
    for (name, data) in &scores {
        let out = std::panic::catch_unwind(|| loaders::score_field_loader(data))
            .unwrap_or_else(|_| panic!("case {name} panicked"));
        score_ok += usize::from(out.is_ok());
    }
    // the corpora must keep reaching the success paths, not only the error paths
    assert!(
        lum_ok >= 50 && lab_ok >= 20,
        "{lum_ok} images, {lab_ok} label images loaded"
    );
    assert!(score_ok >= 5, "{score_ok} score fields loaded");
}

/// Inputs that still break the loader checks (see the module documentation). Each must still
/// panic in the harness with the given message; when one stops panicking the bug is fixed:
/// move the file up to its target's folder and add it to the table.
#[test]
fn open_loader_bugs_still_reproduce() {
    // none open: the png PLTE panic, the multi-line member names and the log_q_at overflow
    // are fixed; their inputs are replayed from the tables above
    let cases: &[(&str, &str)] = &[];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_cases");
    let mut stored: Vec<String> = ["image_loader/open", "score_field_loader/open"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(dir.join(d))
                .into_iter()
                .flatten()
                .map(move |e| format!("{d}/{}", e.unwrap().file_name().to_string_lossy()))
        })
        .collect();
    stored.sort();
    let mut listed: Vec<String> = cases.iter().map(|c| c.0.to_string()).collect();
    listed.sort();
    assert_eq!(stored, listed, "open/ files and the list differ");
    for &(name, needle) in cases {
        let data = std::fs::read(dir.join(name)).unwrap();
        let r = std::panic::catch_unwind(|| {
            if name.starts_with("image_loader/") {
                let _ = loaders::image_loader(&data);
            } else {
                let _ = loaders::score_field_loader(&data);
            }
        });
        let msg = match r {
            Ok(()) => panic!("{name} no longer fails: fixed? move it out of open/ (see above)"),
            Err(p) => p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        };
        assert!(msg.contains(needle), "{name}: panicked differently: {msg}");
    }
}
