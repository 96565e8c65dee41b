//! External score field (SPEC §5): `ln q̂` on the pixel grid at K forward times, read from an
//! HDF5 file, e.g. a trained model's log-density evaluated at the cell centres.
//!
//! File format (what [`ScoreField::load`] accepts and [`ScoreField::write`] writes):
//! * `t`: 1-D, K ≥ 1 finite, strictly increasing forward times (float; integers are
//!   converted);
//! * `log_q`: K × ny × nx, float64 or float32 (integer types are refused), every value finite,
//!   neighbouring cells (x and y) differing by at most 500 (the rates contain `e^{Δ ln q̂}`);
//!   `log_q[k, iy, ix] = ln q̂(t_k)` at cell `(ix, iy)` (row = y, SPEC §1).
//!
//! Between the given times `ln q̂` is linear in t; before `t_0` it is the first field and after
//! `t_{K−1}` the last one. Only differences of `ln q̂` between neighbouring cells enter the
//! reverse rates (SPEC §5), so the normalisation of the fields is irrelevant: `log_q` need not
//! be a normalised log-density, and adding any function of t alone changes nothing.

#[cfg(feature = "hdf5")]
use super::h5util::{self, AtomicH5};
#[cfg(feature = "hdf5")]
use crate::error::{escape_control, one_line};
use crate::error::{CgklError, Result};
#[cfg(feature = "hdf5")]
use hdf5::types::TypeDescriptor;
#[cfg(feature = "hdf5")]
use hdf5::{Dataset, File};
#[cfg(feature = "hdf5")]
use std::fs;
use std::path::Path;

/// Largest number of times K a score field may have.
pub const MAX_TIMES: usize = 100_000;

/// Largest number of values K·ny·nx a score field may hold (2³¹ float64 = 16 GiB).
pub const MAX_VALUES: usize = 1 << 31;

/// `ln q̂` on an `nx × ny` grid at K times `t_0 < … < t_{K−1}`.
///
/// `ln q̂(t)` is piecewise linear in t through the nodes `(t_k, ln q̂_k)` and constant beyond
/// them: `ln q̂(t) = ln q̂_0` for `t ≤ t_0`, `ln q̂_{K−1}` for `t ≥ t_{K−1}` (see
/// [`log_q_at`](Self::log_q_at)). Only differences of `ln q̂` matter (SPEC §5), so the fields
/// need not be normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreField {
    /// Forward times t_k, finite and strictly increasing.
    t: Vec<f64>,
    /// `ln q̂_k`, K·n values: time k's field row-major (`i = iy·nx + ix`) at `k·n`.
    log_q: Vec<f64>,
    nx: usize,
    ny: usize,
}

/// A one-line `CgklError::Data` about the score field `src`.
fn data_err(src: &str, msg: impl std::fmt::Display) -> CgklError {
    CgklError::Data(format!("score field '{src}': {msg}"))
}

#[cfg(feature = "hdf5")]
const FORMAT_HINT: &str =
    "a score field is an HDF5 file with datasets t (K) and log_q (K × ny × nx)";

impl ScoreField {
    /// Loads and validates `path` for an `nx × ny` grid (`grid.nx`, `grid.ny`).
    ///
    /// The file must hold `t` (1-D, K ≥ 1 finite, strictly increasing values; float, or integer
    /// which is converted) and `log_q` (K × ny × nx, float64 or float32, every value finite,
    /// neighbours differing by at most 500); the field at time k is `ln q̂(t_k)`, and only its differences matter (SPEC §5). K is at
    /// most [`MAX_TIMES`] and K·ny·nx at most [`MAX_VALUES`]; both are checked before any data
    /// are read.
    ///
    /// # Errors
    /// [`CgklError::Io`] if the file is missing, a folder or unreadable; otherwise a one-line
    /// [`CgklError::Data`] naming the file, for a file that is empty, not HDF5 or truncated, a
    /// missing `t`/`log_q` (listing what the file has), and every violation of the rules above
    /// (naming the index of the offending time or the time index and cell of a non-finite
    /// value).
    #[cfg(feature = "hdf5")]
    pub fn load(path: &Path, nx: usize, ny: usize) -> Result<Self> {
        h5util::quiet();
        let src = path.display().to_string();
        check_grid(&src, nx, ny)?;
        let io_err = |msg: String| CgklError::Io {
            path: src.clone(),
            msg,
        };
        let meta = fs::metadata(path).map_err(|e| {
            io_err(format!(
                "cannot read the score field ({}); check the path",
                one_line(e)
            ))
        })?;
        if meta.is_dir() {
            return Err(io_err(
                "is a folder, not a score-field file; give the path of the .h5 file".into(),
            ));
        }
        if super::input::is_stdin(path) || !meta.is_file() {
            return Err(io_err(
                "is not a regular file (standard input, a FIFO, socket or device: HDF5 reads files by seeking, and opening a FIFO blocks); save the score field to a file and give its path".into(),
            ));
        }
        fs::File::open(path).map_err(|e| {
            io_err(format!(
                "cannot open the score field ({}); check its permissions",
                one_line(e)
            ))
        })?;
        if meta.len() == 0 {
            return Err(data_err(&src, format!("the file is empty; {FORMAT_HINT}")));
        }
        let file = super::open_h5(
            path,
            &format!("{FORMAT_HINT}, written e.g. by h5py or ScoreField::write"),
        )?;

        // t: rank, size, type, then values.
        let ds = open_dataset(&file, &src, "t")?;
        let shape = ds.shape();
        if shape.len() != 1 {
            return Err(data_err(
                &src,
                format!(
                    "dataset t has shape {shape:?} but must be 1-D (the K forward times); store it as a flat array"
                ),
            ));
        }
        check_k(&src, shape[0])?;
        let k = shape[0];
        match dtype_of(&ds, &src, "t")? {
            TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
            }
            other => {
                return Err(data_err(
                    &src,
                    format!("dataset t has type {other} but must be numeric (float64)"),
                ))
            }
        }
        let t = h5util::read_f64(&file, "t").map_err(|e| read_err(&src, "t", e))?;
        check_times(&src, &t)?;

        // log_q: rank, type, shape, size, then values.
        let ds = open_dataset(&file, &src, "log_q")?;
        let shape = ds.shape();
        let want = [k, ny, nx];
        if shape.len() != 3 {
            return Err(data_err(
                &src,
                format!(
                    "dataset log_q has shape {shape:?} but must be 3-D, K × ny × nx = {want:?} (K = len(t); the grid is set by grid.nx/grid.ny)"
                ),
            ));
        }
        match dtype_of(&ds, &src, "log_q")? {
            TypeDescriptor::Float(_) => {}
            other => {
                return Err(data_err(
                    &src,
                    format!(
                        "dataset log_q has type {other} but must be float64 or float32 (ln q̂ is real); convert it before writing"
                    ),
                ))
            }
        }
        if shape != want {
            return Err(data_err(
                &src,
                format!(
                    "dataset log_q has shape {shape:?}, expected K × ny × nx = {want:?} (K = {k} = len(t); the grid is set by grid.nx/grid.ny); evaluate the field on this grid at every time of t"
                ),
            ));
        }
        check_size(&src, k, nx, ny)?;
        // read as float64, then held by the field: twice the declared values, before reading
        crate::memory::check_fits(
            "score.file",
            &format!("{src}: its K × ny × nx = {k} × {ny} × {nx} values"),
            crate::memory::f64s(k, nx * ny, 2),
            "use fewer times in the score field or a coarser grid",
        )?;
        let (_, log_q) =
            h5util::read_f64_nd(&file, "log_q").map_err(|e| read_err(&src, "log_q", e))?;
        Self::from_arrays(t, log_q, nx, ny, &src)
    }

    /// Without the `hdf5` feature a score field cannot be read: a config error naming
    /// `score.file` and the fix (rebuild with the default features).
    #[cfg(not(feature = "hdf5"))]
    pub fn load(path: &Path, _nx: usize, _ny: usize) -> Result<Self> {
        Err(CgklError::config(
            "score.file",
            path.display(),
            "this cgkl was built without the `hdf5` feature, so it cannot read score fields; rebuild with the default features",
        ))
    }

    /// Builds a field from `t` (K times) and `log_q` (K·ny·nx values: time k's field row-major
    /// at `k·ny·nx`), with the validation of [`load`](Self::load); `source` names the origin in
    /// error messages.
    ///
    /// # Errors
    /// A one-line [`CgklError::Data`]: empty grid, K = 0 or K > [`MAX_TIMES`], K·ny·nx >
    /// [`MAX_VALUES`], `log_q.len() ≠ K·ny·nx`, a non-finite or non-increasing time, a
    /// non-finite value in `log_q`, or neighbouring cells whose ln q̂ differ by more than 500
    /// (the reverse rates contain `e^{Δ ln q̂}`).
    pub fn from_arrays(
        t: Vec<f64>,
        log_q: Vec<f64>,
        nx: usize,
        ny: usize,
        source: &str,
    ) -> Result<Self> {
        check_grid(source, nx, ny)?;
        check_k(source, t.len())?;
        check_size(source, t.len(), nx, ny)?;
        check_times(source, &t)?;
        let n = nx * ny;
        let want = t.len() * n;
        if log_q.len() != want {
            return Err(data_err(
                source,
                format!(
                    "log_q has {} values, expected K·ny·nx = {}·{ny}·{nx} = {want}; give one ny × nx field per time",
                    log_q.len(),
                    t.len()
                ),
            ));
        }
        if let Some(i) = log_q.iter().position(|v| !v.is_finite()) {
            let (k, c) = (i / n, i % n);
            return Err(data_err(
                source,
                format!(
                    "log_q[{k}] (t = {}) is {} at cell (ix, iy) = ({}, {}); ln q̂ must be finite (q̂ > 0): floor q̂ at a small positive value before taking the log",
                    t[k],
                    log_q[i],
                    c % nx,
                    c / nx
                ),
            ));
        }
        for (k, field) in log_q.chunks_exact(n).enumerate() {
            if let Some(msg) = crate::bounds::log_step_problem(nx, ny, field, "ln q̂") {
                return Err(data_err(
                    source,
                    format!(
                        "log_q[{k}] (t = {}): {msg}; smooth the field or clip ln q̂ to a narrower \
                         range",
                        t[k]
                    ),
                ));
            }
        }
        Ok(Self { t, log_q, nx, ny })
    }

    /// The times `t_0 < … < t_{K−1}` of the fields.
    pub fn times(&self) -> &[f64] {
        &self.t
    }

    /// Number of times K (≥ 1 for a validated field).
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// True when the field has no times (never for a validated field).
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// True when K = 1: `ln q̂(t) = ln q̂_0` for every t (the field does not depend on t).
    pub fn is_static(&self) -> bool {
        self.t.len() == 1
    }

    /// Grid width nx (cells along x).
    pub fn nx(&self) -> usize {
        self.nx
    }

    /// Grid height ny (cells along y).
    pub fn ny(&self) -> usize {
        self.ny
    }

    /// The stored field `ln q̂_k = ln q̂(t_k)`, row-major (`i = iy·nx + ix`).
    ///
    /// # Panics
    /// If `k ≥ K`.
    pub fn field(&self, k: usize) -> &[f64] {
        let n = self.nx * self.ny;
        &self.log_q[k * n..(k + 1) * n]
    }

    /// Writes `ln q̂(t)` into `out` (length nx·ny, row-major):
    /// `(1−θ) ln q̂_k + θ ln q̂_{k+1}` with `θ = (t − t_k)/(t_{k+1} − t_k)` for
    /// `t_k ≤ t < t_{k+1}`; `ln q̂_0` for `t ≤ t_0` (and for NaN), `ln q̂_{K−1}` for
    /// `t ≥ t_{K−1}`.
    ///
    /// Evaluated as `a + θ(b − a)`, so the nodes, and cells where `ln q̂_k = ln q̂_{k+1}`,
    /// are reproduced exactly.
    ///
    /// # Panics
    /// If `out.len() ≠ nx·ny`.
    pub fn log_q_at(&self, t: f64, out: &mut [f64]) {
        let n = self.nx * self.ny;
        assert_eq!(
            out.len(),
            n,
            "ScoreField::log_q_at: out has {} cells, the field has nx·ny = {n}",
            out.len()
        );
        let last = self.t.len() - 1;
        if t.is_nan() || t <= self.t[0] {
            out.copy_from_slice(self.field(0));
            return;
        }
        if t >= self.t[last] {
            out.copy_from_slice(self.field(last));
            return;
        }
        // t_0 < t < t_{K−1}: k = #{t_j ≤ t} − 1 ∈ [0, K−2].
        let k = self.t.partition_point(|&tj| tj <= t) - 1;
        let theta = (t - self.t[k]) / (self.t[k + 1] - self.t[k]);
        let (a, b) = (self.field(k), self.field(k + 1));
        // (1−θ)a + θb, not a + θ(b − a): b − a overflows for finite values near ±f64::MAX
        for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
            *o = if a == b {
                a
            } else {
                (1.0 - theta) * a + theta * b
            };
        }
    }

    /// Writes the field to `path` in the format [`load`](Self::load) reads: `t` (K, float64)
    /// and `log_q` (K × ny × nx, float64, chunked and compressed by
    /// [`h5util::write_f64_3d_compressed`]), each with `description`/`units`, and root
    /// attributes `format`, `description`, `nx`, `ny`, `K`, `interpolation`.
    ///
    /// Atomic ([`AtomicH5`]: temp file + rename); an existing file at `path` is replaced.
    ///
    /// # Errors
    /// [`CgklError::Io`] if the folder of `path` does not exist, [`CgklError::Output`] if HDF5
    /// fails.
    #[cfg(feature = "hdf5")]
    pub fn write(&self, path: &Path) -> Result<()> {
        h5util::quiet();
        let out = AtomicH5::create(path, true)?;
        let root = out.root();
        h5util::attr_str(root, "format", "cgkl score field")?;
        h5util::attr_str(
            root,
            "description",
            "external score field ln q̂(t) on the pixel grid (SPEC §5); only differences of ln q̂ matter",
        )?;
        h5util::attr_i64(root, "nx", self.nx as i64)?;
        h5util::attr_i64(root, "ny", self.ny as i64)?;
        h5util::attr_i64(root, "K", self.t.len() as i64)?;
        h5util::attr_str(
            root,
            "interpolation",
            "linear in t between the given times, constant beyond them",
        )?;
        let ds = h5util::write_f64(root, "t", &self.t)?;
        h5util::describe(
            &ds,
            "forward times t_k of the fields, strictly increasing",
            "time",
        )?;
        let ds = h5util::write_f64_3d_compressed(
            root,
            "log_q",
            self.t.len(),
            self.ny,
            self.nx,
            &self.log_q,
        )?;
        h5util::describe(
            &ds,
            "ln q̂(t_k) per cell, K × ny × nx (row = y); normalisation irrelevant",
            "1",
        )?;
        drop(ds);
        out.commit()?;
        Ok(())
    }
}

fn check_grid(src: &str, nx: usize, ny: usize) -> Result<()> {
    if nx == 0 || ny == 0 {
        return Err(data_err(
            src,
            format!("the grid is {nx} × {ny}; grid.nx and grid.ny must be ≥ 1"),
        ));
    }
    Ok(())
}

fn check_k(src: &str, k: usize) -> Result<()> {
    if k == 0 {
        return Err(data_err(
            src,
            "t is empty; give at least one time (K ≥ 1; K = 1 is a static field)",
        ));
    }
    if k > MAX_TIMES {
        return Err(data_err(
            src,
            format!("t has K = {k} times, more than the limit {MAX_TIMES}; subsample the times"),
        ));
    }
    Ok(())
}

fn check_size(src: &str, k: usize, nx: usize, ny: usize) -> Result<()> {
    let total = k.checked_mul(nx).and_then(|v| v.checked_mul(ny));
    if total.is_none_or(|v| v > MAX_VALUES) {
        return Err(data_err(
            src,
            format!(
                "K × ny × nx = {k} × {ny} × {nx} values exceed the limit {MAX_VALUES}; use fewer times or a coarser grid"
            ),
        ));
    }
    Ok(())
}

fn check_times(src: &str, t: &[f64]) -> Result<()> {
    if let Some(i) = t.iter().position(|v| !v.is_finite()) {
        return Err(data_err(
            src,
            format!("t[{i}] is {}; every time must be finite", t[i]),
        ));
    }
    if let Some(i) = t.windows(2).position(|w| w[1] <= w[0]) {
        return Err(data_err(
            src,
            format!(
                "t is not strictly increasing: t[{}] = {} ≤ t[{i}] = {}; sort t (and log_q with it) and drop repeated times",
                i + 1,
                t[i + 1],
                t[i]
            ),
        ));
    }
    Ok(())
}

/// Opens dataset `name`, or says what the file holds instead.
#[cfg(feature = "hdf5")]
fn open_dataset(file: &File, src: &str, name: &str) -> Result<Dataset> {
    if !file.link_exists(name) {
        let members = match file.member_names() {
            Ok(m) if m.is_empty() => "nothing".to_string(),
            Ok(m) => m
                .iter()
                .map(|m| match file.group(m) {
                    Ok(_) => format!("{}/", escape_control(m)),
                    Err(_) => escape_control(m),
                })
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("unlisted members ({})", one_line(e)),
        };
        return Err(data_err(
            src,
            format!("no dataset `{name}` (the file has: {members}); {FORMAT_HINT}"),
        ));
    }
    file.dataset(name).map_err(|e| {
        data_err(
            src,
            format!(
                "`{name}` is not a readable dataset ({}); {FORMAT_HINT}",
                one_line(e)
            ),
        )
    })
}

#[cfg(feature = "hdf5")]
fn dtype_of(ds: &Dataset, src: &str, name: &str) -> Result<TypeDescriptor> {
    ds.dtype().and_then(|t| t.to_descriptor()).map_err(|e| {
        data_err(
            src,
            format!(
                "dataset {name} has an unsupported type ({}); store it as float64",
                one_line(e)
            ),
        )
    })
}

#[cfg(feature = "hdf5")]
fn read_err(src: &str, name: &str, e: h5util::H5Error) -> CgklError {
    data_err(
        src,
        format!(
            "cannot read dataset {name} ({}); the file may be truncated or corrupt: write it again",
            one_line(e)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2 × 1 grid, K = 3 at t = 0, 1, 3.
    fn field3() -> ScoreField {
        ScoreField::from_arrays(
            vec![0.0, 1.0, 3.0],
            vec![0.0, 10.0, 2.0, 12.0, 6.0, 4.0],
            2,
            1,
            "test",
        )
        .unwrap()
    }

    fn at(f: &ScoreField, t: f64) -> Vec<f64> {
        let mut out = vec![f64::NAN; f.nx() * f.ny()];
        f.log_q_at(t, &mut out);
        out
    }

    #[test]
    fn nodes_are_exact() {
        let f = field3();
        assert_eq!(at(&f, 0.0), [0.0, 10.0]);
        assert_eq!(at(&f, 1.0), [2.0, 12.0]);
        assert_eq!(at(&f, 3.0), [6.0, 4.0]);
        assert_eq!(f.len(), 3);
        assert!(!f.is_empty() && !f.is_static());
        assert_eq!(f.times(), [0.0, 1.0, 3.0]);
        assert_eq!(f.field(1), [2.0, 12.0]);
    }

    #[test]
    fn linear_between_nodes() {
        let f = field3();
        assert_eq!(at(&f, 0.5), [1.0, 11.0]);
        assert_eq!(at(&f, 2.0), [4.0, 8.0]);
        let v = at(&f, 0.25);
        assert!((v[0] - 0.5).abs() < 1e-15 && (v[1] - 10.5).abs() < 1e-15);
        let v = at(&f, 2.5);
        assert!((v[0] - 5.0).abs() < 1e-15 && (v[1] - 6.0).abs() < 1e-15);
        // continuous at an interior node from the left
        let v = at(&f, 1.0 - 1e-12);
        assert!((v[0] - 2.0).abs() < 1e-11 && (v[1] - 12.0).abs() < 1e-11);
    }

    #[test]
    fn constant_beyond_the_range() {
        let f = field3();
        assert_eq!(at(&f, -1.0), [0.0, 10.0]);
        assert_eq!(at(&f, f64::NEG_INFINITY), [0.0, 10.0]);
        assert_eq!(at(&f, 3.5), [6.0, 4.0]);
        assert_eq!(at(&f, 1e300), [6.0, 4.0]);
        assert_eq!(at(&f, f64::INFINITY), [6.0, 4.0]);
        assert_eq!(at(&f, f64::NAN), [0.0, 10.0]);
    }

    #[test]
    fn single_time_is_static() {
        let f = ScoreField::from_arrays(vec![0.7], vec![1.0, -2.0, 3.0, 0.5], 2, 2, "s").unwrap();
        assert!(f.is_static());
        for t in [-5.0, 0.0, 0.7, 1.0, 1e9] {
            assert_eq!(at(&f, t), [1.0, -2.0, 3.0, 0.5]);
        }
    }

    #[test]
    fn negative_times_and_two_nodes() {
        let f = ScoreField::from_arrays(vec![-2.0, 2.0], vec![-1.0, 3.0], 1, 1, "n").unwrap();
        assert_eq!(at(&f, 0.0), [1.0]);
        assert_eq!(at(&f, -3.0), [-1.0]);
        assert_eq!(at(&f, 2.0), [3.0]);
    }

    #[test]
    fn from_arrays_validates() {
        let msg = |r: Result<ScoreField>| {
            let e = r.unwrap_err();
            assert!(e.is_input(), "{e}");
            let s = e.to_string();
            assert!(!s.contains('\n') && s.contains("'src'"), "{s}");
            s
        };
        let s = msg(ScoreField::from_arrays(vec![], vec![], 1, 1, "src"));
        assert!(s.contains("empty"), "{s}");
        let s = msg(ScoreField::from_arrays(
            vec![0.0, 0.0],
            vec![0.0; 2],
            1,
            1,
            "src",
        ));
        assert!(
            s.contains("t[1]") && s.contains("strictly increasing"),
            "{s}"
        );
        let s = msg(ScoreField::from_arrays(
            vec![0.0, f64::NAN],
            vec![0.0; 2],
            1,
            1,
            "src",
        ));
        assert!(s.contains("t[1] is NaN"), "{s}");
        let s = msg(ScoreField::from_arrays(
            vec![0.0],
            vec![0.0; 3],
            2,
            2,
            "src",
        ));
        assert!(s.contains("expected K·ny·nx"), "{s}");
        let mut lq = vec![0.0; 12];
        lq[6 + 5] = f64::NEG_INFINITY; // k = 1, cell i = 5 = (ix 2, iy 1) on 3 × 2
        let s = msg(ScoreField::from_arrays(vec![0.0, 1.0], lq, 3, 2, "src"));
        assert!(s.contains("log_q[1]") && s.contains("(2, 1)"), "{s}");
        let s = msg(ScoreField::from_arrays(vec![0.0], vec![], 0, 1, "src"));
        assert!(s.contains("grid.nx"), "{s}");
        let s = msg(ScoreField::from_arrays(
            vec![0.0; MAX_TIMES + 1],
            vec![],
            1,
            1,
            "src",
        ));
        assert!(s.contains("limit"), "{s}");
        let s = msg(ScoreField::from_arrays(
            vec![0.0, 1.0],
            vec![],
            1 << 16,
            1 << 15,
            "src",
        ));
        assert!(s.contains("limit"), "{s}");
    }

    #[test]
    #[should_panic(expected = "out has")]
    fn wrong_out_length_panics() {
        field3().log_q_at(0.0, &mut [0.0; 3]);
    }
}
