//! Issue 17 item 1: a temporary output file is created exclusively under an unpredictable name,
//! never through a link. Before the fix the name was `<out>.tmp-<pid>`, opened with HDF5's
//! truncating create: a link planted at that name made cgkl overwrite the link's target.
//! Every writer of cgkl (run files, the streaming sink, checkpoints, shards, sweep files) goes
//! through `AtomicH5::create`, tested here.

use cgkl::io::h5util::{self, AtomicH5};
use std::fs;
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cgkl_excl_{}_{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[cfg(unix)]
#[test]
fn a_link_planted_at_the_old_temp_name_is_not_written_through() {
    let dir = tmp("link");
    let victim = dir.join("victim.txt");
    fs::write(&victim, b"precious").unwrap();
    let out = dir.join("out.h5");
    // the name the old code used, for this very process
    let planted = dir.join(format!("out.h5.tmp-{}", std::process::id()));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let f = AtomicH5::create(&out, false).unwrap();
    assert_ne!(f.temp_path(), planted.as_path());
    h5util::write_f64(f.root(), "x", &[1.0, 2.0]).unwrap();
    f.commit().unwrap();
    assert_eq!(
        fs::read(&victim).unwrap(),
        b"precious",
        "the link's target was written"
    );
    assert!(hdf5::File::open(&out).is_ok());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn temp_names_are_unpredictable_and_created_exclusively() {
    let dir = tmp("names");
    let name = std::ffi::OsStr::new("out.h5");
    let (a, _fa) = h5util::create_temp_beside(&dir, name).unwrap();
    let (b, _fb) = h5util::create_temp_beside(&dir, name).unwrap();
    assert_ne!(a, b);
    let prefix = format!("out.h5.tmp-{}-", std::process::id());
    for p in [&a, &b] {
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        let rest = n.strip_prefix(&prefix).unwrap_or_else(|| panic!("{n}"));
        assert_eq!(rest.len(), 16, "{n}: 64 random bits in hex");
        assert!(fs::symlink_metadata(p).unwrap().file_type().is_file());
    }
    let _ = fs::remove_dir_all(&dir);
}
