//! The code path shared by the file-loader fuzz targets `image_loader` and `score_field_loader`
//! (`fuzz/fuzz_targets/*.rs`) and the regression test `tests/fuzz_regressions.rs` (which
//! includes this file with `#[path]`): it depends on `cgkl` and `std` only.
//!
//! An input is the content of a file. It is written to a temp file (one per thread, reused
//! for every input, in `std::env::temp_dir()`) and handed to the loaders. Every loader result
//! is checked, and any violation panics:
//! * an error must be a one-line, non-empty message that names the file, and
//!   `CgklError::is_input()` must be true (bad input, never an internal or output error);
//! * a loaded image/label image/score field must be consistent (sizes, finite values), and
//!   what is computed from it (`resample_area`, `resample_labels`, `log_q_at`) must be finite,
//!   the right size, and mean-preserving / taken from the input labels.

#![allow(dead_code)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use cgkl::io::image::{load_labels, load_luminance, resample_area, resample_labels};
use cgkl::io::image::{GrayImage, LabelImage};
use cgkl::io::score_field::ScoreField;
use cgkl::CgklError;

/// Grid the images are resampled onto (`nx × ny`).
pub const RESAMPLE: (usize, usize) = (7, 5);
/// Grid the score fields are loaded for (`nx × ny`).
pub const SCORE_GRID: (usize, usize) = (4, 3);
/// Dataset `load_labels` reads from an HDF5 label file.
pub const LABEL_DATASET: &str = "labels";
/// Relative tolerance of the mean preservation of `resample_area`.
pub const MEAN_RTOL: f64 = 1e-9;

/// What a loader call gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// Loaded, and everything computed from it passed the checks.
    Ok,
    /// A clean error (the message).
    Err(String),
}

impl Loaded {
    pub fn is_ok(&self) -> bool {
        matches!(self, Loaded::Ok)
    }
}

/// What `image_loader` did with one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOutcome {
    /// `load_luminance`.
    pub luminance: Loaded,
    /// `load_labels(path, "labels")`.
    pub labels: Loaded,
}

/// Silences libhdf5's error-stack printing (once per process).
pub fn quiet_hdf5() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(cgkl::io::h5util::quiet);
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A temp file name unique to this process and thread (so parallel tests do not collide),
/// reused for every input of that thread.
fn temp_path(tag: &str, ext: &str) -> PathBuf {
    thread_local! {
        static ID: usize = COUNTER.fetch_add(1, Ordering::Relaxed);
    }
    let id = ID.with(|id| *id);
    std::env::temp_dir().join(format!("cgkl-fuzz-{tag}-{}-{id}.{ext}", std::process::id()))
}

thread_local! {
    static IMAGE_PATH: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
    static SCORE_PATH: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// Writes `data` to the thread's temp file for `tag`, runs `f` on it, then removes the file.
fn with_file<R>(
    slot: &'static std::thread::LocalKey<RefCell<Option<PathBuf>>>,
    tag: &str,
    ext: &str,
    data: &[u8],
    f: impl FnOnce(&Path) -> R,
) -> R {
    quiet_hdf5();
    let path = slot.with(|s| {
        s.borrow_mut()
            .get_or_insert_with(|| temp_path(tag, ext))
            .clone()
    });
    /// Removes the file also when a check panics (the regression test catches panics).
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    std::fs::write(&path, data)
        .unwrap_or_else(|e| panic!("harness: cannot write {}: {e}", path.display()));
    let guard = Remove(path);
    f(&guard.0)
}

/// An error must be bad input, one non-empty line, and name the file.
fn check_error(what: &str, path: &Path, e: &CgklError) -> String {
    let msg = e.to_string();
    assert!(
        e.is_input(),
        "{what}: error is not an input error: {e:?} ({msg})"
    );
    assert!(!msg.trim().is_empty(), "{what}: empty error message");
    assert!(
        !msg.contains('\n') && !msg.contains('\r'),
        "{what}: multi-line error message: {msg:?}"
    );
    let shown = path.display().to_string();
    assert!(
        msg.contains(&shown),
        "{what}: error message does not name the file {shown}: {msg}"
    );
    msg
}

/// A loaded luminance image and its 7 × 5 area resampling.
pub fn check_gray(img: &GrayImage) {
    let (w, h) = (img.width, img.height);
    assert!(w >= 1 && h >= 1, "empty image {w} × {h} loaded");
    assert_eq!(img.values.len(), w * h, "values.len() ≠ width·height");
    if let Some(k) = img.values.iter().position(|v| !v.is_finite() || *v < 0.0) {
        panic!("pixel {k} of a loaded image is {}", img.values[k]);
    }
    let (nx, ny) = RESAMPLE;
    let out = resample_area(img, nx, ny);
    assert_eq!(out.len(), nx * ny, "resample_area: wrong output length");
    if let Some(k) = out.iter().position(|v| !v.is_finite()) {
        panic!("resample_area: cell {k} is {} ({w} × {h} image)", out[k]);
    }
    let mean_in = img.values.iter().sum::<f64>() / (w * h) as f64;
    let mean_out = out.iter().sum::<f64>() / (nx * ny) as f64;
    assert!(
        (mean_out - mean_in).abs() <= MEAN_RTOL * mean_in.abs(),
        "resample_area does not keep the mean: {mean_in:e} → {mean_out:e} ({w} × {h} image)"
    );
    // Each cell is a convex combination of pixels.
    let lo = img.values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = img.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tol = 1e-12 * hi.abs().max(lo.abs());
    if let Some(k) = out.iter().position(|&v| v < lo - tol || v > hi + tol) {
        panic!(
            "resample_area: cell {k} = {:e} outside the pixel range [{lo:e}, {hi:e}]",
            out[k]
        );
    }
}

/// A loaded label image and its 7 × 5 majority resampling.
pub fn check_labels(lab: &LabelImage) {
    let (w, h) = (lab.width, lab.height);
    assert!(w >= 1 && h >= 1, "empty label image {w} × {h} loaded");
    assert_eq!(lab.labels.len(), w * h, "labels.len() ≠ width·height");
    let (nx, ny) = RESAMPLE;
    let out = resample_labels(lab, nx, ny);
    assert_eq!(out.len(), nx * ny, "resample_labels: wrong output length");
    let mut present = lab.labels.clone();
    present.sort_unstable();
    present.dedup();
    if let Some(k) = out.iter().position(|l| present.binary_search(l).is_err()) {
        panic!(
            "resample_labels: cell {k} has label {}, which is not in the input",
            out[k]
        );
    }
}

/// A single-channel integer image loads with the same sample scaling both ways:
/// `luminance = label / M` with one `M` for all pixels.
fn check_same_scaling(img: &GrayImage, lab: &LabelImage) {
    if (img.width, img.height) != (lab.width, lab.height) {
        return; // e.g. the labels came from another reader; nothing to compare
    }
    let mut m: Option<f64> = None;
    for (k, (&v, &l)) in img.values.iter().zip(&lab.labels).enumerate() {
        if l == 0 || v == 0.0 {
            assert!(
                l == 0 && v == 0.0,
                "pixel {k}: luminance {v} but label {l} (a zero must be zero both ways)"
            );
            continue;
        }
        let r = f64::from(l) / v;
        match m {
            None => m = Some(r),
            Some(m) => assert!(
                (r - m).abs() <= 1e-9 * m,
                "pixel {k}: label/luminance = {r}, other pixels {m} (luminance {v}, label {l})"
            ),
        }
    }
}

/// Target `image_loader`: `load_luminance` and `load_labels(path, "labels")` on the input as a
/// file; resampling onto 7 × 5 on success, message checks on error.
pub fn image_loader(data: &[u8]) -> ImageOutcome {
    with_file(&IMAGE_PATH, "image", "img", data, |path| {
        let lum = load_luminance(path);
        let lab = load_labels(path, LABEL_DATASET);
        let luminance = match &lum {
            Ok(img) => {
                check_gray(img);
                Loaded::Ok
            }
            Err(e) => Loaded::Err(check_error("load_luminance", path, e)),
        };
        let labels = match &lab {
            Ok(l) => {
                check_labels(l);
                Loaded::Ok
            }
            Err(e) => Loaded::Err(check_error("load_labels", path, e)),
        };
        if let (Ok(img), Ok(l)) = (&lum, &lab) {
            check_same_scaling(img, l);
        }
        ImageOutcome { luminance, labels }
    })
}

/// A loaded score field: its shape, and `log_q_at` at the nodes, between them and beyond them.
pub fn check_score_field(f: &ScoreField) {
    let (nx, ny) = SCORE_GRID;
    assert_eq!((f.nx(), f.ny()), (nx, ny), "score field has the wrong grid");
    let k = f.len();
    assert!(k >= 1 && !f.is_empty(), "score field with no times");
    let t = f.times();
    assert_eq!(t.len(), k);
    assert!(t.iter().all(|v| v.is_finite()), "non-finite time {t:?}");
    assert!(
        t.windows(2).all(|w| w[0] < w[1]),
        "times not increasing {t:?}"
    );
    let mut probe = vec![
        t[0] - 1.0,
        t[k - 1] + 1.0,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NAN,
    ];
    for w in t.windows(2) {
        probe.push(0.5 * w[0] + 0.5 * w[1]);
        probe.push(0.9 * w[0] + 0.1 * w[1]);
    }
    let mut out = vec![0.0; nx * ny];
    for (i, &ti) in t.iter().enumerate() {
        let field = f.field(i);
        assert!(field.iter().all(|v| v.is_finite()), "field {i} not finite");
        f.log_q_at(ti, &mut out);
        assert_eq!(out, field, "log_q_at(t[{i}] = {ti}) is not field {i}");
    }
    for &ti in &probe {
        f.log_q_at(ti, &mut out);
        if let Some(c) = out.iter().position(|v| !v.is_finite()) {
            panic!("log_q_at({ti:e}) is {} at cell {c} (times {t:?})", out[c]);
        }
    }
}

/// Target `score_field_loader`: `ScoreField::load(path, 4, 3)` on the input as a `.h5` file;
/// `log_q_at` checks on success, message checks on error.
pub fn score_field_loader(data: &[u8]) -> Loaded {
    with_file(&SCORE_PATH, "score", "h5", data, |path| {
        let (nx, ny) = SCORE_GRID;
        match ScoreField::load(path, nx, ny) {
            Ok(f) => {
                check_score_field(&f);
                Loaded::Ok
            }
            Err(e) => Loaded::Err(check_error("ScoreField::load", path, &e)),
        }
    })
}
