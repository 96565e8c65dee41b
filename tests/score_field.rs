//! External score-field files (SPEC §5): good files round-trip through `ScoreField::write` /
//! `ScoreField::load`, broken ones give a one-line input error naming the file.

use cgkl::io::score_field::ScoreField;
use cgkl::CgklError;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const NX: usize = 5;
const NY: usize = 3;
const K: usize = 4;
const N: usize = NX * NY;

/// A unique temp folder, removed on drop.
struct TmpDir(PathBuf);

impl TmpDir {
    fn new(tag: &str) -> Self {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "cgkl-score-field-{}-{tag}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TmpDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn times() -> Vec<f64> {
    vec![0.0, 0.005, 0.0125, 0.02]
}

fn values() -> Vec<f64> {
    (0..K * N)
        .map(|i| -1.0 - 0.37 * (i as f64 * 0.7).sin())
        .collect()
}

fn good() -> ScoreField {
    ScoreField::from_arrays(times(), values(), NX, NY, "memory").unwrap()
}

/// Writes `t` and `log_q` with the hdf5 crate directly (any type and shape).
fn write_raw<T: hdf5::H5Type, U: hdf5::H5Type>(
    path: &Path,
    t: Option<(&[T], &[usize])>,
    log_q: Option<(&[U], &[usize])>,
) {
    let f = hdf5::File::create(path).unwrap();
    if let Some((v, shape)) = t {
        f.new_dataset::<T>()
            .shape(shape)
            .create("t")
            .unwrap()
            .write_raw(v)
            .unwrap();
    }
    if let Some((v, shape)) = log_q {
        f.new_dataset::<U>()
            .shape(shape)
            .create("log_q")
            .unwrap()
            .write_raw(v)
            .unwrap();
    }
}

/// Loads `path`, expects a one-line input error naming the file that contains every `needle`.
fn expect_err(path: &Path, needles: &[&str]) -> CgklError {
    let e = ScoreField::load(path, NX, NY).expect_err("load should fail");
    let msg = e.to_string();
    assert!(e.is_input(), "not an input error: {msg}");
    assert!(!msg.contains('\n'), "not one line: {msg}");
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(msg.contains(name), "does not name the file: {msg}");
    for n in needles {
        assert!(msg.contains(n), "'{n}' missing from: {msg}");
    }
    e
}

#[test]
fn float64_roundtrip() {
    let dir = TmpDir::new("f64");
    let f = good();
    let p = dir.path("field.h5");
    f.write(&p).unwrap();
    let g = ScoreField::load(&p, NX, NY).unwrap();
    assert_eq!(g, f);
    assert_eq!(g.times(), times());
    assert!(!g.is_static());
    let (mut a, mut b) = (vec![0.0; N], vec![0.0; N]);
    for t in [-1.0, 0.0, 0.003, 0.0125, 0.019, 1.0] {
        f.log_q_at(t, &mut a);
        g.log_q_at(t, &mut b);
        assert_eq!(a, b);
    }
    // overwrite in place, and only the target remains (no temp file)
    let s = ScoreField::from_arrays(vec![2.0], vec![0.5; N], NX, NY, "static").unwrap();
    s.write(&p).unwrap();
    let g = ScoreField::load(&p, NX, NY).unwrap();
    assert!(g.is_static() && g == s);
    assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 1);
    // the writer's layout
    let h = hdf5::File::open(&p).unwrap();
    let ds = h.dataset("log_q").unwrap();
    assert_eq!(ds.shape(), vec![1, NY, NX]);
    assert!(ds.chunk().is_some());
    assert_eq!(
        cgkl::io::h5util::read_attr_str(&h, "format").unwrap(),
        "cgkl score field"
    );
    assert_eq!(
        cgkl::io::h5util::read_attr_i64(&h, "nx").unwrap(),
        NX as i64
    );
}

#[test]
fn float32_roundtrip_and_integer_times() {
    let dir = TmpDir::new("f32");
    let p = dir.path("f32.h5");
    let v32: Vec<f32> = values().iter().map(|&v| v as f32).collect();
    let t32: Vec<f32> = vec![0.0, 0.5, 1.25, 2.0];
    write_raw(&p, Some((&t32, &[K])), Some((&v32, &[K, NY, NX])));
    let g = ScoreField::load(&p, NX, NY).unwrap();
    assert_eq!(g.times(), [0.0, 0.5, 1.25, 2.0]);
    for k in 0..K {
        let want: Vec<f64> = v32[k * N..(k + 1) * N].iter().map(|&v| v as f64).collect();
        assert_eq!(g.field(k), want);
    }
    // re-written as float64, identical on reload
    let p2 = dir.path("f64.h5");
    g.write(&p2).unwrap();
    assert_eq!(ScoreField::load(&p2, NX, NY).unwrap(), g);

    // integer times are converted
    let p3 = dir.path("int_t.h5");
    write_raw(
        &p3,
        Some((&[0i32, 1, 5, 9], &[K])),
        Some((&v32, &[K, NY, NX])),
    );
    assert_eq!(
        ScoreField::load(&p3, NX, NY).unwrap().times(),
        [0.0, 1.0, 5.0, 9.0]
    );
}

#[test]
fn unreadable_files() {
    let dir = TmpDir::new("files");
    // missing file: an I/O error
    let e = expect_err(&dir.path("missing.h5"), &["check the path"]);
    assert!(matches!(e, CgklError::Io { .. }), "{e}");
    // a folder
    let sub = dir.path("folder.h5");
    fs::create_dir(&sub).unwrap();
    let e = expect_err(&sub, &["folder"]);
    assert!(matches!(e, CgklError::Io { .. }), "{e}");
    // empty file
    let p = dir.path("empty.h5");
    fs::write(&p, b"").unwrap();
    let e = expect_err(&p, &["empty"]);
    assert!(matches!(e, CgklError::Data(_)), "{e}");
    // a text file named .h5
    let p = dir.path("text.h5");
    fs::write(&p, "t,log_q\n0,1\n1,2\n").unwrap();
    expect_err(&p, &["not a readable HDF5 file"]);
    // a valid file cut in half
    let good_p = dir.path("good.h5");
    good().write(&good_p).unwrap();
    let bytes = fs::read(&good_p).unwrap();
    let p = dir.path("truncated.h5");
    fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = expect_err(&p, &[]);
    assert!(matches!(e, CgklError::Data(_)), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn missing_datasets_list_the_file() {
    let dir = TmpDir::new("missing");
    let v = values();
    let p = dir.path("no_t.h5");
    write_raw::<f64, f64>(&p, None, Some((&v, &[K, NY, NX])));
    expect_err(&p, &["no dataset `t`", "the file has: log_q"]);

    let p = dir.path("no_log_q.h5");
    {
        write_raw::<f64, f64>(&p, Some((&times(), &[K])), None);
        let f = hdf5::File::open_rw(&p).unwrap();
        f.create_group("model").unwrap();
    }
    expect_err(&p, &["no dataset `log_q`", "model/", "t"]);

    let p = dir.path("nothing.h5");
    write_raw::<f64, f64>(&p, None, None);
    expect_err(&p, &["no dataset `t`", "the file has: nothing"]);
}

#[test]
fn bad_times() {
    let dir = TmpDir::new("t");
    let v = values();
    let lq = Some((&v[..], &[K, NY, NX][..]));

    let p = dir.path("decreasing.h5");
    write_raw(&p, Some((&[0.0, 0.5, 0.4, 1.0][..], &[K][..])), lq);
    expect_err(&p, &["strictly increasing", "t[2] = 0.4", "t[1] = 0.5"]);

    let p = dir.path("nan_t.h5");
    write_raw(&p, Some((&[0.0, f64::NAN, 0.4, 1.0][..], &[K][..])), lq);
    expect_err(&p, &["t[1] is NaN", "finite"]);

    let p = dir.path("t_2d.h5");
    write_raw(&p, Some((&[0.0, 1.0, 2.0, 3.0][..], &[2, 2][..])), lq);
    expect_err(&p, &["[2, 2]", "1-D"]);

    let p = dir.path("t_empty.h5");
    write_raw::<f64, f64>(&p, Some((&[], &[0])), Some((&[], &[0, NY, NX])));
    expect_err(&p, &["t is empty"]);
}

#[test]
fn bad_log_q() {
    let dir = TmpDir::new("lq");
    let t = times();
    let tt = Some((&t[..], &[K][..]));

    let p = dir.path("k_mismatch.h5");
    let v = vec![0.0; (K - 1) * N];
    write_raw(&p, tt, Some((&v[..], &[K - 1, NY, NX][..])));
    expect_err(&p, &["[3, 3, 5]", "[4, 3, 5]", "grid.nx/grid.ny"]);

    let p = dir.path("grid_mismatch.h5");
    let v = vec![0.0; K * NX * NX];
    write_raw(&p, tt, Some((&v[..], &[K, NX, NX][..])));
    expect_err(
        &p,
        &["[4, 5, 5]", "expected", "[4, 3, 5]", "grid.nx/grid.ny"],
    );

    let p = dir.path("lq_2d.h5");
    let v = vec![0.0; K * N];
    write_raw(&p, tt, Some((&v[..], &[K, N][..])));
    expect_err(&p, &["[4, 15]", "3-D"]);

    let p = dir.path("nan_lq.h5");
    let mut v = values();
    v[2 * N + NX + 3] = f64::NAN; // k = 2, iy = 1, ix = 3
    write_raw(&p, tt, Some((&v[..], &[K, NY, NX][..])));
    expect_err(&p, &["log_q[2]", "NaN", "(ix, iy) = (3, 1)"]);

    let p = dir.path("inf_lq32.h5");
    let mut v: Vec<f32> = vec![0.0; K * N];
    v[N - 1] = f32::INFINITY; // k = 0, last cell
    write_raw(&p, tt, Some((&v[..], &[K, NY, NX][..])));
    expect_err(&p, &["log_q[0]", "inf", "(4, 2)"]);

    let p = dir.path("int_lq.h5");
    let v = vec![1i64; K * N];
    write_raw(&p, tt, Some((&v[..], &[K, NY, NX][..])));
    expect_err(&p, &["log_q", "float64 or float32"]);
}
