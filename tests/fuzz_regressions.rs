//! Regression tests from fuzzing the config parser (`fuzz/`, targets `config_parser` and
//! `config_roundtrip`). Every stored case goes through the fuzz targets' own code path
//! (`fuzz/fuzz_targets/harness.rs`: parse with overrides → validate → generator, and the
//! `to_toml` round trip), which panics on a multi-line or empty error message and on a round
//! trip that changes the config.
//!
//! Cases: the files in `tests/fuzz_cases/` (crashes the fuzzer found, minimised; the file name
//! says what broke), the fuzz seed corpus `fuzz/corpus/config_parser/`, and the hand-written
//! nasty inputs below. An input is a TOML text, then `--set` overrides each after a NUL byte.

#[path = "../fuzz/fuzz_targets/harness.rs"]
mod harness;

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
    invalid(
        "nx*ny huge",
        &ov(SMALL, &["grid.nx=4096", "grid.ny=4096"]),
        "grid",
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
