//! Links the HDF5 C library statically when its static archive is installed next to the shared
//! one (Debian's `libhdf5-dev` ships both), and dynamically otherwise.
//!
//! Why: the shared `libhdf5` pulls in libcurl and with it 30 more libraries (GnuTLS, Kerberos,
//! LDAP, …) for a remote-file driver cgkl never uses. Loading and initialising them costs
//! ~3 ms and ~450 page faults per process (`cgkl --version`: 4.7 ms → 1.6 ms), which dominates
//! small runs such as `cgkl brelax --n 128` (docs/benchmarks.md). The static archive only
//! contributes the objects cgkl calls, so libcurl is never needed.
//!
//! How: `hdf5-metno-sys` asks the linker for `-lhdf5` in the folder it found (`$HDF5_DIR/lib`,
//! pkg-config's `-L` folders, or Debian's default place). This script looks for `libhdf5.a` in
//! the same folders, writes a linker script named `libhdf5.so` into its output folder and puts
//! that folder first on the search path; the script names the archive and the libraries it
//! depends on (the "Extra libraries" of `libhdf5.settings`), so every binary, test and doctest
//! links the same way. It keeps the shared library — with a `cargo:warning` where something is
//! off — when `CGKL_HDF5_DYNAMIC=1`, when cross-compiling, off Linux, without the archive or its
//! settings file, or when a library the archive needs is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    for var in [
        "CGKL_HDF5_DYNAMIC",
        "HDF5_DIR",
        "PKG_CONFIG_PATH",
        "LIBRARY_PATH",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=build.rs");
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    // nothing to link without the `hdf5` feature
    if std::env::var_os("CARGO_FEATURE_HDF5").is_none()
        || env("CGKL_HDF5_DYNAMIC") == "1"
        || env("CARGO_CFG_TARGET_OS") != "linux"
        || env("TARGET") != env("HOST")
    {
        return;
    }
    let Some(dir) = hdf5_lib_dirs()
        .into_iter()
        .find(|d| d.join("libhdf5.a").is_file())
    else {
        return;
    };
    let (archive, settings) = (dir.join("libhdf5.a"), dir.join("libhdf5.settings"));
    println!("cargo::rerun-if-changed={}", archive.display());
    println!("cargo::rerun-if-changed={}", settings.display());
    let deps = match extra_libs(&settings) {
        Ok(deps) => deps,
        Err(why) => {
            println!("cargo::warning=linking the shared HDF5 library: {why}");
            return;
        }
    };
    let mut dirs = deps.search.clone();
    dirs.extend(system_lib_dirs(&env("CARGO_CFG_TARGET_ARCH")));
    let mut inputs = vec![archive.display().to_string()];
    for lib in &deps.libs {
        let found = dirs.iter().any(|d| {
            d.join(format!("lib{lib}.so")).exists() || d.join(format!("lib{lib}.a")).exists()
        });
        if !found {
            println!(
                "cargo::warning=linking the shared HDF5 library: the static one needs -l{lib}, \
                 which is not installed"
            );
            return;
        }
        inputs.push(format!("-l{lib}"));
    }
    inputs.extend(deps.files.iter().map(|f| f.display().to_string()));
    let out = PathBuf::from(env("OUT_DIR")).join("hdf5");
    std::fs::create_dir_all(&out).expect("create the linker-script folder in OUT_DIR");
    let script = format!("INPUT ( {} )\n", inputs.join(" "));
    std::fs::write(out.join("libhdf5.so"), script).expect("write the HDF5 linker script");
    println!("cargo::rustc-link-search=native={}", out.display());
    for d in &deps.search {
        println!("cargo::rustc-link-search=native={}", d.display());
    }
}

/// The folders `hdf5-metno-sys` links from, in its order: `$HDF5_DIR/lib`; else pkg-config's
/// `-L` folders for `hdf5`; else the library folder of the first of its default header places
/// that exists.
fn hdf5_lib_dirs() -> Vec<PathBuf> {
    if let Some(root) = std::env::var_os("HDF5_DIR") {
        return vec![Path::new(&root).join("lib")];
    }
    let pkg = Command::new("pkg-config")
        .args(["--libs-only-L", "hdf5"])
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(o) = pkg {
        return String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .filter_map(|f| f.strip_prefix("-L"))
            .map(PathBuf::from)
            .collect();
    }
    [
        (
            "/usr/include/hdf5/serial",
            "/usr/lib/x86_64-linux-gnu/hdf5/serial",
        ),
        ("/usr/include", "/usr/lib/x86_64-linux-gnu"),
        ("/usr/include", "/usr/lib64"),
    ]
    .iter()
    .find(|(inc, _)| Path::new(inc).join("H5pubconf.h").is_file())
    .map(|(_, lib)| vec![PathBuf::from(lib)])
    .unwrap_or_default()
}

/// Where the linker looks by default on a Linux target with this CPU architecture, and
/// `$LIBRARY_PATH`.
fn system_lib_dirs(arch: &str) -> Vec<PathBuf> {
    let triple = format!("{arch}-linux-gnu");
    let mut dirs: Vec<PathBuf> = std::env::var("LIBRARY_PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect();
    for d in [
        format!("/usr/local/lib/{triple}"),
        "/usr/local/lib".into(),
        format!("/lib/{triple}"),
        format!("/usr/lib/{triple}"),
        "/usr/lib64".into(),
        "/lib64".into(),
        "/usr/lib".into(),
        "/lib".into(),
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// What the static archive depends on.
struct Deps {
    /// `-L` folders.
    search: Vec<PathBuf>,
    /// Library names (`-lz` → `z`).
    libs: Vec<String>,
    /// Libraries given as paths.
    files: Vec<PathBuf>,
}

/// The line "Extra libraries:" of `libhdf5.settings`: `-lname`, `-Lfolder`, a bare name (CMake
/// builds list `m;dl;z`) or an absolute path, separated by blanks or `;`. Anything else, or no
/// such line, is an error (the shared library is then used).
fn extra_libs(settings: &Path) -> Result<Deps, String> {
    let text = std::fs::read_to_string(settings)
        .map_err(|e| format!("cannot read {}: {e}", settings.display()))?;
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Extra libraries:"))
        .ok_or_else(|| format!("no \"Extra libraries:\" line in {}", settings.display()))?;
    let mut deps = Deps {
        search: Vec::new(),
        libs: Vec::new(),
        files: Vec::new(),
    };
    for tok in line.split(|c: char| c.is_whitespace() || c == ';') {
        if tok.is_empty() {
            continue;
        } else if let Some(lib) = tok.strip_prefix("-l") {
            deps.libs.push(lib.to_string());
        } else if let Some(dir) = tok.strip_prefix("-L") {
            deps.search.push(PathBuf::from(dir));
        } else if tok.starts_with('/') && Path::new(tok).is_file() {
            deps.files.push(PathBuf::from(tok));
        } else if !tok.starts_with('-')
            && tok
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+.-".contains(c))
        {
            deps.libs.push(tok.to_string());
        } else {
            return Err(format!(
                "cannot read \"{tok}\" in the extra libraries of {}",
                settings.display()
            ));
        }
    }
    Ok(deps)
}
