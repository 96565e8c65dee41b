//! Links the HDF5 C library statically when its static archive is installed next to the shared
//! one (Debian's `libhdf5-dev` ships both), and dynamically otherwise.
//!
//! Why: the shared `libhdf5` pulls in libcurl and with it 30 more libraries (GnuTLS, Kerberos,
//! LDAP, …) for a remote-file driver cgkl never uses. Loading and initialising them costs
//! ~3 ms and ~450 page faults per process (`cgkl --version`: 4.7 ms → 1.5 ms), which dominates
//! small runs such as `cgkl brelax --n 128` (docs/benchmarks.md). The static archive only
//! contributes the objects cgkl calls, so libcurl is never needed.
//!
//! How: `hdf5-metno-sys` asks the linker for `-lhdf5`. This script writes a linker script named
//! `libhdf5.so` into its output folder and puts that folder first on the search path; the script
//! names the archive and the libraries it depends on (from `libhdf5.settings`), so every binary,
//! test and doctest links the same way. Set `CGKL_HDF5_DYNAMIC=1` to keep the shared library.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CGKL_HDF5_DYNAMIC");
    println!("cargo::rerun-if-env-changed=HDF5_DIR");
    if std::env::var_os("CGKL_HDF5_DYNAMIC").is_some_and(|v| v == "1")
        || std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux")
    {
        return;
    }
    let Some(dir) = hdf5_lib_dir() else { return };
    let archive = dir.join("libhdf5.a");
    if !archive.is_file() {
        return;
    }
    let libs = extra_libs(&dir.join("libhdf5.settings"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("hdf5");
    std::fs::create_dir_all(&out).expect("create the linker-script folder in OUT_DIR");
    let script = format!("INPUT ( {} {} )\n", archive.display(), libs.join(" "));
    std::fs::write(out.join("libhdf5.so"), script).expect("write the HDF5 linker script");
    println!("cargo::rustc-link-search=native={}", out.display());
    println!("cargo::rerun-if-changed={}", archive.display());
}

/// The folder `hdf5-metno-sys` links from: `$HDF5_DIR/lib`, pkg-config's `libdir`, or Debian's
/// default place.
fn hdf5_lib_dir() -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("HDF5_DIR") {
        return Some(Path::new(&root).join("lib"));
    }
    let pkg = Command::new("pkg-config")
        .args(["--variable=libdir", "hdf5"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty());
    let dir = pkg.unwrap_or_else(|| "/usr/lib/x86_64-linux-gnu/hdf5/serial".into());
    Some(PathBuf::from(dir))
}

/// The `-l` flags of the line "Extra libraries:" of `libhdf5.settings` (what the static archive
/// may need), or the usual ones if the file is missing. Unused ones are dropped by the linker.
fn extra_libs(settings: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(settings).unwrap_or_default();
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Extra libraries:"))
        .unwrap_or("-lsz -lz -ldl -lm");
    line.split_whitespace()
        .filter(|f| f.starts_with("-l"))
        .map(str::to_string)
        .collect()
}
