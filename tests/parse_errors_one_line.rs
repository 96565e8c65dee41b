//! Issue 17 item 15: a command-line mistake clap catches (a missing value, a bad number, an
//! unknown flag) is one `error:` line and exit status 2, not clap's two or three lines with a
//! usage block; `--help` and `--version` still print as before, with exit 0.

mod common;

use common::{cgkl, refused};

#[test]
fn parse_errors_are_one_line() {
    let d = std::env::temp_dir();
    for (args, needle) in [
        (vec!["run", "--out"], "a value is required for '--out"),
        (vec!["--threads", "-1", "run"], "'-1'"),
        (
            vec!["--threads", "99999999999999999999", "run"],
            "number too large",
        ),
        (vec!["run", "--bogus"], "unexpected argument '--bogus'"),
        (vec!["sweep", "--values"], "--values"),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ] {
        let a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let line = refused(&cgkl(&a, &d), &[needle, "see --help"]);
        assert!(!line.contains("Usage:"), "{args:?}: {line}");
    }
    for args in [vec!["--help"], vec!["--version"], vec!["run", "--help"]] {
        let a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let o = cgkl(&a, &d);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(!o.stdout.is_empty());
    }
}
