//! Thin, error-reporting layer over the `hdf5` crate (package `hdf5-metno`).
//!
//! * [`AtomicH5`]: an output file that appears at its final path only when
//!   [`AtomicH5::commit`] succeeds (temp file + rename).
//! * `write_*`: create datasets from slices (1-D, 2-D row-major, 3-D chunked and
//!   compressed). A `name` may contain `/`; missing intermediate groups are created.
//! * `attr_*` / [`describe`]: scalar and string-array attributes (strings are
//!   variable-length UTF-8, which h5py reads as `str`).
//! * `read_*`: readers, mainly for round-trip tests.
//!
//! Every failure is an [`H5Error`] naming the file, the object path and the
//! operation that failed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hdf5::file::FileCloseDegree;
use hdf5::types::{VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, File, Group, H5Type, Location};
use ndarray::{ArrayView1, ArrayView2, ArrayView3};

/// Largest chunk (in bytes) used by [`write_f64_3d_compressed`].
pub const MAX_CHUNK_BYTES: usize = 1 << 20;

/// Deflate level used by [`write_f64_3d_compressed`].
pub const DEFLATE_LEVEL: u8 = 4;

/// Errors from this module. Every variant says which file/object was involved.
#[derive(Debug, thiserror::Error)]
pub enum H5Error {
    /// An HDF5 library call failed.
    #[error("HDF5 error while trying to {op} '{path}': {msg}")]
    Hdf5 {
        /// `file:/object/path` (or just the file) the operation was about.
        path: String,
        /// What was being done, e.g. "create dataset".
        op: String,
        /// The HDF5 library's message.
        msg: String,
    },
    /// The folder that should contain the output file does not exist.
    #[error(
        "cannot create '{path}': folder '{folder}' does not exist; create it first (e.g. `mkdir -p {folder}`)"
    )]
    MissingParent {
        /// The requested output file.
        path: PathBuf,
        /// Its missing parent folder.
        folder: PathBuf,
    },
    /// The output file exists and overwriting was not requested.
    #[error(
        "output file '{path}' already exists; pass --force to overwrite it or choose another path"
    )]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// A filesystem operation (outside HDF5) failed.
    #[error("I/O error while trying to {op} '{path}': {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// What was being done, e.g. "rename temp file onto".
        op: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The data length does not match the requested shape.
    #[error("'{path}': shape {shape:?} needs {expected} values but {got} were given")]
    Shape {
        /// `file:/object/path`.
        path: String,
        /// Requested shape.
        shape: Vec<usize>,
        /// Product of the shape (`usize::MAX` if it overflows).
        expected: usize,
        /// Number of values supplied.
        got: usize,
    },
    /// A dataset or attribute has a different rank than the reader expects.
    #[error("'{path}': expected a {expected}-D object but it has shape {shape:?}")]
    Rank {
        /// `file:/object/path` (attribute paths end in `@name`).
        path: String,
        /// Rank the reader expects.
        expected: usize,
        /// Shape actually found.
        shape: Vec<usize>,
    },
    /// A string cannot be stored as an HDF5 variable-length string
    /// (it contains a NUL byte).
    #[error("'{path}': invalid string value {value:?}: {msg}")]
    InvalidString {
        /// `file:/object/path@attribute`.
        path: String,
        /// The offending value.
        value: String,
        /// Why it was rejected.
        msg: String,
    },
}

/// Result alias for this module.
pub type Result<T, E = H5Error> = std::result::Result<T, E>;

/// Silences the HDF5 C library's automatic error-stack printing to stderr.
///
/// `hdf5-metno` already does this when the library is first used and once on
/// every thread that calls into it (its `sync()` wrapper calls
/// `H5Eset_auto2(H5E_DEFAULT, NULL, NULL)`), so calling this is normally
/// redundant; it is provided to be explicit (e.g. at program start, or after
/// other code re-enabled printing). Errors are still returned as [`H5Error`].
pub fn quiet() {
    hdf5::silence_errors(true);
}

// ---------------------------------------------------------------------------
// helpers

fn loc_path(loc: &Location) -> String {
    format!("{}:{}", loc.filename(), loc.name())
}

fn child_path(loc: &Location, name: &str) -> String {
    let base = loc.name();
    let sep = if base.ends_with('/') { "" } else { "/" };
    format!("{}:{}{}{}", loc.filename(), base, sep, name)
}

fn attr_path(loc: &Location, name: &str) -> String {
    format!("{}@{}", loc_path(loc), name)
}

fn h5err(path: impl Into<String>, op: &str) -> impl FnOnce(hdf5::Error) -> H5Error {
    let path = path.into();
    let op = op.to_owned();
    move |e| H5Error::Hdf5 {
        path,
        op,
        msg: e.to_string(),
    }
}

fn check_len(path: &str, shape: &[usize], got: usize) -> Result<()> {
    let expected = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .unwrap_or(usize::MAX);
    if expected == got {
        Ok(())
    } else {
        Err(H5Error::Shape {
            path: path.to_owned(),
            shape: shape.to_vec(),
            expected,
            got,
        })
    }
}

/// Splits `"a/b/ds"` into (group `a/b`, created as needed, `"ds"`).
fn split_parent<'n>(parent: &Group, name: &'n str) -> Result<(Group, &'n str)> {
    match name.trim_end_matches('/').rsplit_once('/') {
        Some((dir, leaf)) if !dir.trim_matches('/').is_empty() => Ok((group(parent, dir)?, leaf)),
        Some((_, leaf)) => Ok((parent.clone(), leaf)),
        None => Ok((parent.clone(), name)),
    }
}

/// Resolves `name` for a new dataset: creates intermediate groups, returns
/// `(group, leaf, "file:/path")`, and checks that the leaf is non-empty and free.
///
/// The existence check is done here because hdf5-metno 0.15.1 loses the HDF5
/// error stack of a failed `H5Dcreate2` (it reports "unknown library error").
fn new_dataset_target<'n>(parent: &Group, name: &'n str) -> Result<(Group, &'n str, String)> {
    let (g, leaf) = split_parent(parent, name)?;
    let leaf = leaf.trim_matches('/');
    let path = child_path(&g, leaf);
    let fail = |msg: &str| H5Error::Hdf5 {
        path: path.clone(),
        op: "create dataset".into(),
        msg: msg.into(),
    };
    if leaf.is_empty() || leaf == "." {
        return Err(fail("dataset name is empty"));
    }
    if g.link_exists(leaf) {
        return Err(fail("an object with this name already exists"));
    }
    Ok((g, leaf, path))
}

fn write_nd<'d, T, D>(
    parent: &Group,
    name: &str,
    shape: &[usize],
    data: &'d [T],
    view: impl FnOnce(&'d [T]) -> std::result::Result<ndarray::ArrayView<'d, T, D>, ndarray::ShapeError>,
) -> Result<Dataset>
where
    T: H5Type,
    D: ndarray::Dimension,
{
    let (g, leaf, path) = new_dataset_target(parent, name)?;
    check_len(&path, shape, data.len())?;
    let arr = view(data).map_err(|e| H5Error::Shape {
        path: format!("{path} ({e})"),
        shape: shape.to_vec(),
        expected: shape.iter().product(),
        got: data.len(),
    })?;
    g.new_dataset_builder()
        .with_data(arr)
        .create(leaf)
        .map_err(h5err(path, "create dataset"))
}

fn open_dataset(parent: &Group, name: &str) -> Result<(Dataset, String)> {
    let path = child_path(parent, name);
    let ds = parent
        .dataset(name)
        .map_err(h5err(path.clone(), "open dataset"))?;
    Ok((ds, path))
}

fn read_1d<T: H5Type>(parent: &Group, name: &str) -> Result<Vec<T>> {
    let (ds, path) = open_dataset(parent, name)?;
    let shape = ds.shape();
    if shape.len() != 1 {
        return Err(H5Error::Rank {
            path,
            expected: 1,
            shape,
        });
    }
    ds.read_raw::<T>().map_err(h5err(path, "read dataset"))
}

fn read_nd<T: H5Type>(parent: &Group, name: &str) -> Result<(Vec<usize>, Vec<T>)> {
    let (ds, path) = open_dataset(parent, name)?;
    let shape = ds.shape();
    let data = ds.read_raw::<T>().map_err(h5err(path, "read dataset"))?;
    Ok((shape, data))
}

/// Removes attribute `name` from `loc` if it exists, so it can be (re)written.
fn remove_attr_if_exists(loc: &Location, name: &str) -> Result<()> {
    let path = attr_path(loc, name);
    let names = loc
        .attr_names()
        .map_err(h5err(path.clone(), "list attributes of"))?;
    if names.iter().any(|n| n == name) {
        loc.delete_attr(name)
            .map_err(h5err(path, "delete existing attribute"))?;
    }
    Ok(())
}

fn write_scalar_attr<T: H5Type>(loc: &Location, name: &str, v: &T) -> Result<()> {
    remove_attr_if_exists(loc, name)?;
    let path = attr_path(loc, name);
    let attr = loc
        .new_attr::<T>()
        .shape(())
        .create(name)
        .map_err(h5err(path.clone(), "create attribute"))?;
    attr.write_scalar(v).map_err(h5err(path, "write attribute"))
}

fn to_vlu(path: &str, s: &str) -> Result<VarLenUnicode> {
    VarLenUnicode::from_str(s).map_err(|e| H5Error::InvalidString {
        path: path.to_owned(),
        value: s.to_owned(),
        msg: e.to_string(),
    })
}

fn open_attr(loc: &Location, name: &str) -> Result<(hdf5::Attribute, String)> {
    let path = attr_path(loc, name);
    let attr = loc
        .attr(name)
        .map_err(h5err(path.clone(), "open attribute"))?;
    Ok((attr, path))
}

// ---------------------------------------------------------------------------
// AtomicH5

/// Deletes the temp file on drop unless disarmed.
struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// An output file written atomically.
///
/// Created as `<target>.tmp-<pid>-<random>` in the same folder (see [`create_temp_beside`]:
/// exclusively, never through a link) and renamed onto `target` by [`commit`](Self::commit). If
/// dropped without commit (early return on error, or a panic) the file handle is closed and the
/// temp file is deleted, so `target` is never left half-written; the temp files of `target` left
/// by processes that no longer run (e.g. after `kill -9`) are removed by the next `create`.
///
/// The file is opened with HDF5's *strong* close degree: `commit` closes every
/// object of the file, so any `Group`/`Dataset` handle still held by the caller
/// becomes invalid (using it returns an error) after `commit`.
pub struct AtomicH5 {
    // Field order matters: `file` is dropped (closed) before `guard` deletes the temp file.
    file: File,
    guard: TempGuard,
    target: PathBuf,
    overwrite: bool,
}

impl AtomicH5 {
    /// Starts writing `target`.
    ///
    /// Fails with [`H5Error::MissingParent`] if the folder of `target` does not
    /// exist, and with [`H5Error::Exists`] if `target` exists and
    /// `overwrite == false`.
    pub fn create(target: &Path, overwrite: bool) -> Result<Self> {
        let folder = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !folder.is_dir() {
            return Err(H5Error::MissingParent {
                path: target.to_path_buf(),
                folder,
            });
        }
        let file_name = target.file_name().ok_or_else(|| H5Error::Io {
            path: target.to_path_buf(),
            op: "use as an output file name".into(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"),
        })?;
        if !overwrite && exists(target)? {
            return Err(H5Error::Exists {
                path: target.to_path_buf(),
            });
        }
        if target.is_dir() {
            return Err(H5Error::Io {
                path: target.to_path_buf(),
                op: "create output file".into(),
                source: io::Error::new(io::ErrorKind::IsADirectory, "target is a directory"),
            });
        }
        remove_stale_temps(&folder, file_name);
        let (tmp, held) = create_temp_beside(&folder, file_name)?;
        let guard = TempGuard {
            path: tmp,
            armed: true,
        };
        // HDF5 opens by name (truncating the empty file made above): check that the name still
        // is that file, so a link swapped in meanwhile is an error, not a write through it
        let file = File::with_options()
            .with_fapl(|fapl| fapl.fclose_degree(FileCloseDegree::Strong))
            .create(&guard.path)
            .map_err(h5err(guard.path.display().to_string(), "create temp file"))?;
        same_file(&held, &guard.path)?;
        Ok(Self {
            file,
            guard,
            target: target.to_path_buf(),
            overwrite,
        })
    }

    /// Root group of the file being written.
    pub fn root(&self) -> &Group {
        &self.file
    }

    /// The underlying HDF5 file (e.g. for file-level attributes).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Final path the file will have after [`commit`](Self::commit).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Path of the temporary file currently being written.
    pub fn temp_path(&self) -> &Path {
        &self.guard.path
    }

    /// Flushes and closes the file, fsyncs it, then renames it onto the target.
    ///
    /// If `overwrite` was false and the target appeared since `create`, fails
    /// with [`H5Error::Exists`] (the temp file is deleted). On any error the
    /// temp file is deleted and the target is left untouched.
    pub fn commit(self) -> Result<()> {
        let AtomicH5 {
            file,
            mut guard,
            target,
            overwrite,
        } = self;
        let tmp_s = guard.path.display().to_string();
        file.flush().map_err(h5err(tmp_s.clone(), "flush"))?;
        file.close().map_err(h5err(tmp_s, "close"))?;
        fs::File::open(&guard.path)
            .and_then(|f| f.sync_all())
            .map_err(|source| H5Error::Io {
                path: guard.path.clone(),
                op: "fsync".into(),
                source,
            })?;
        if !overwrite && exists(&target)? {
            return Err(H5Error::Exists { path: target });
        }
        fs::rename(&guard.path, &target).map_err(|source| H5Error::Io {
            path: target.clone(),
            op: format!("rename '{}' onto", guard.path.display()),
            source,
        })?;
        guard.armed = false;
        // Best effort: persist the rename itself.
        if let Some(dir) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

/// Creates an empty temporary file for `file_name` in `folder`, named
/// `<file_name>.tmp-<pid>-<random 64 bits>`, exclusively (`create_new`: `O_CREAT | O_EXCL`, which
/// never follows a symbolic link, even a dangling one); retries with a fresh name if one exists.
/// Returns the path and the open handle (which pins the file, so that the caller can check the name still is it).
///
/// The random bits come from std's `RandomState` (seeded from the OS once per process, then
/// stepped per call), so a name cannot be planted in advance. `tempfile` would do the same, but
/// HDF5 must open the file by name afterwards, which its handle types do not help with.
pub fn create_temp_beside(
    folder: &Path,
    file_name: &std::ffi::OsStr,
) -> Result<(PathBuf, fs::File)> {
    use std::hash::{BuildHasher, Hasher};
    let mut last = None;
    for attempt in 0..16u32 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(attempt);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        let mut name = file_name.to_os_string();
        name.push(format!(".tmp-{}-{:016x}", std::process::id(), h.finish()));
        let path = folder.join(name);
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(source) => {
                return Err(H5Error::Io {
                    path,
                    op: "create temp file".into(),
                    source,
                })
            }
        }
    }
    Err(H5Error::Io {
        path: folder.join(file_name),
        op: "find a free temp file name beside".into(),
        source: last.unwrap_or_else(|| io::Error::other("16 names taken")),
    })
}

/// Checks that `path` names (without following links) the regular file `held` is open on.
fn same_file(held: &fs::File, path: &Path) -> Result<()> {
    let bad = |source: io::Error| H5Error::Io {
        path: path.to_path_buf(),
        op: "check the temp file".into(),
        source,
    };
    let want = held.metadata().map_err(bad)?;
    let got = fs::symlink_metadata(path).map_err(bad)?;
    #[cfg(unix)]
    let same = {
        use std::os::unix::fs::MetadataExt;
        got.file_type().is_file() && got.dev() == want.dev() && got.ino() == want.ino()
    };
    #[cfg(not(unix))]
    let same = got.file_type().is_file() && want.is_file();
    if same {
        Ok(())
    } else {
        Err(bad(io::Error::other(
            "another file or a link took its place while cgkl opened it; is another program writing this folder?",
        )))
    }
}

/// Removes the temp files of `file_name` (`<file_name>.tmp-<pid>-…`, also the `.tmp-<pid>` of
/// older cgkl) in `folder` whose process no longer runs (Linux: no `/proc/<pid>`; elsewhere none is
/// removed). A link is removed, never followed. Best effort: errors are ignored.
pub fn remove_stale_temps(folder: &Path, file_name: &std::ffi::OsStr) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!("{}.tmp-", file_name.to_string_lossy());
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        let regular_or_link = e
            .file_type()
            .map(|t| t.is_file() || t.is_symlink())
            .unwrap_or(false);
        if !alive && regular_or_link {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn exists(p: &Path) -> Result<bool> {
    // symlink_metadata: a dangling symlink at the target also counts as "exists".
    match fs::symlink_metadata(p) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(H5Error::Io {
            path: p.to_path_buf(),
            op: "check existence of".into(),
            source,
        }),
    }
}

// ---------------------------------------------------------------------------
// groups

/// Opens group `name` under `parent`, creating it and any missing
/// intermediate groups (`"a/b/c"`). Empty components (leading, trailing or
/// doubled `/`) are ignored, so the path is always relative to `parent`;
/// an empty `name` returns `parent` itself.
pub fn group(parent: &Group, name: &str) -> Result<Group> {
    let mut g = parent.clone();
    for comp in name.split('/').filter(|c| !c.is_empty()) {
        let path = child_path(&g, comp);
        g = if g.link_exists(comp) {
            g.group(comp).map_err(h5err(path, "open group"))?
        } else {
            g.create_group(comp).map_err(h5err(path, "create group"))?
        };
    }
    Ok(g)
}

// ---------------------------------------------------------------------------
// dataset writers

/// Writes a 1-D float64 dataset `name` (contiguous, uncompressed).
pub fn write_f64(parent: &Group, name: &str, data: &[f64]) -> Result<Dataset> {
    write_nd(parent, name, &[data.len()], data, |d| {
        Ok(ArrayView1::from(d))
    })
}

/// Writes a 1-D int64 dataset `name`.
pub fn write_i64(parent: &Group, name: &str, data: &[i64]) -> Result<Dataset> {
    write_nd(parent, name, &[data.len()], data, |d| {
        Ok(ArrayView1::from(d))
    })
}

/// Writes a 1-D int32 dataset `name`.
pub fn write_i32(parent: &Group, name: &str, data: &[i32]) -> Result<Dataset> {
    write_nd(parent, name, &[data.len()], data, |d| {
        Ok(ArrayView1::from(d))
    })
}

/// Writes a 2-D float64 dataset of shape `rows × cols` from row-major `data`.
pub fn write_f64_2d(
    parent: &Group,
    name: &str,
    rows: usize,
    cols: usize,
    data: &[f64],
) -> Result<Dataset> {
    write_nd(parent, name, &[rows, cols], data, |d| {
        ArrayView2::from_shape((rows, cols), d)
    })
}

/// Writes a 2-D int32 dataset of shape `rows × cols` from row-major `data`.
pub fn write_i32_2d(
    parent: &Group,
    name: &str,
    rows: usize,
    cols: usize,
    data: &[i32],
) -> Result<Dataset> {
    write_nd(parent, name, &[rows, cols], data, |d| {
        ArrayView2::from_shape((rows, cols), d)
    })
}

/// Chunk shape used by [`write_f64_3d_compressed`] for a `k × ny × nx` array:
/// `(1, ny, nx)` if one plane fits in [`MAX_CHUNK_BYTES`], otherwise
/// `(1, cy, nx)` with as many whole rows as fit, otherwise `(1, 1, cx)`.
/// All dimensions must be non-zero.
pub fn chunk_shape_3d(ny: usize, nx: usize) -> [usize; 3] {
    let max_elems = MAX_CHUNK_BYTES / std::mem::size_of::<f64>();
    let ny = ny.max(1);
    let nx = nx.max(1);
    if ny.saturating_mul(nx) <= max_elems {
        [1, ny, nx]
    } else if nx <= max_elems {
        [1, (max_elems / nx).clamp(1, ny), nx]
    } else {
        [1, 1, max_elems]
    }
}

/// Writes a 3-D (`k × ny × nx`, row-major `data`) float64 dataset, chunked
/// as [`chunk_shape_3d`] and compressed with shuffle + deflate level
/// [`DEFLATE_LEVEL`]. If any dimension is 0 the (empty) dataset is written
/// contiguous and uncompressed, because HDF5 does not allow a chunk larger
/// than a fixed-size dimension.
pub fn write_f64_3d_compressed(
    parent: &Group,
    name: &str,
    k: usize,
    ny: usize,
    nx: usize,
    data: &[f64],
) -> Result<Dataset> {
    let (g, leaf, path) = new_dataset_target(parent, name)?;
    let shape = [k, ny, nx];
    check_len(&path, &shape, data.len())?;
    let arr = ArrayView3::from_shape((k, ny, nx), data).map_err(|e| H5Error::Shape {
        path: format!("{path} ({e})"),
        shape: shape.to_vec(),
        expected: k * ny * nx,
        got: data.len(),
    })?;
    let builder = g.new_dataset_builder().with_data(arr);
    let builder = if k == 0 || ny == 0 || nx == 0 {
        builder
    } else {
        builder
            .chunk(chunk_shape_3d(ny, nx))
            .shuffle()
            .deflate(DEFLATE_LEVEL)
    };
    builder
        .create(leaf)
        .map_err(h5err(path, "create compressed dataset"))
}

/// A float64 `k × ny × nx` dataset that grows by one `ny × nx` plane per
/// [`append`](Self::append): resizable along its first axis, chunked as
/// [`chunk_shape_3d`] and compressed like [`write_f64_3d_compressed`], so a
/// writer holds one plane at a time whatever `k` becomes. Planes with no cells
/// (`ny` or `nx` = 0) get resizable extents in every axis, since HDF5 allows
/// no chunk larger than a fixed dimension.
pub struct Growing3d {
    ds: Dataset,
    path: String,
    k: usize,
    ny: usize,
    nx: usize,
}

impl Growing3d {
    /// Creates the empty `0 × ny × nx` dataset `name` under `parent`.
    pub fn create(parent: &Group, name: &str, ny: usize, nx: usize) -> Result<Self> {
        let (g, leaf, path) = new_dataset_target(parent, name)?;
        let empty = ny == 0 || nx == 0;
        let builder = g.new_dataset::<f64>();
        let builder = if empty {
            builder
                .chunk([1, 1, 1])
                .shape(hdf5::SimpleExtents::resizable([0, ny, nx]))
        } else {
            builder
                .chunk(chunk_shape_3d(ny, nx))
                .shuffle()
                .deflate(DEFLATE_LEVEL)
                .shape(hdf5::SimpleExtents::new([
                    hdf5::Extent::resizable(0),
                    hdf5::Extent::fixed(ny),
                    hdf5::Extent::fixed(nx),
                ]))
        };
        let ds = builder
            .create(leaf)
            .map_err(h5err(path.clone(), "create growing dataset"))?;
        Ok(Self {
            ds,
            path,
            k: 0,
            ny,
            nx,
        })
    }

    /// Appends one plane (row-major `ny × nx`).
    pub fn append(&mut self, plane: &[f64]) -> Result<()> {
        let (ny, nx) = (self.ny, self.nx);
        check_len(&self.path, &[ny, nx], plane.len())?;
        self.ds
            .resize([self.k + 1, ny, nx])
            .map_err(h5err(self.path.clone(), "grow dataset"))?;
        if !plane.is_empty() {
            let view = ArrayView2::from_shape((ny, nx), plane).map_err(|e| H5Error::Shape {
                path: format!("{} ({e})", self.path),
                shape: vec![ny, nx],
                expected: ny * nx,
                got: plane.len(),
            })?;
            self.ds
                .write_slice(view, ndarray::s![self.k, .., ..])
                .map_err(h5err(self.path.clone(), "append plane to"))?;
        }
        self.k += 1;
        Ok(())
    }

    /// Planes written so far.
    pub fn len(&self) -> usize {
        self.k
    }

    /// True before the first [`append`](Self::append).
    pub fn is_empty(&self) -> bool {
        self.k == 0
    }

    /// The dataset (e.g. to [`describe`] it).
    pub fn dataset(&self) -> &Dataset {
        &self.ds
    }
}

// ---------------------------------------------------------------------------
// attribute writers
//
// `loc: &Location` accepts `&Group`, `&File` and `&Dataset` by deref coercion.
// Writing an attribute that already exists replaces it.

/// Sets scalar attribute `name` to a variable-length UTF-8 string
/// (h5py reads it as `str`). Fails if `value` contains a NUL byte.
pub fn attr_str(loc: &Location, name: &str, value: &str) -> Result<()> {
    let v = to_vlu(&attr_path(loc, name), value)?;
    write_scalar_attr(loc, name, &v)
}

/// Sets scalar float64 attribute `name`.
pub fn attr_f64(loc: &Location, name: &str, v: f64) -> Result<()> {
    write_scalar_attr(loc, name, &v)
}

/// Sets scalar int64 attribute `name`.
pub fn attr_i64(loc: &Location, name: &str, v: i64) -> Result<()> {
    write_scalar_attr(loc, name, &v)
}

/// Sets attribute `name` to a 1-D array of variable-length UTF-8 strings
/// (h5py reads it as a numpy object array of `str`). An empty slice gives a
/// zero-length array.
pub fn attr_str_array<S: AsRef<str>>(loc: &Location, name: &str, values: &[S]) -> Result<()> {
    let path = attr_path(loc, name);
    let v = values
        .iter()
        .map(|s| to_vlu(&path, s.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    remove_attr_if_exists(loc, name)?;
    let attr = loc
        .new_attr::<VarLenUnicode>()
        .shape(v.len())
        .create(name)
        .map_err(h5err(path.clone(), "create attribute"))?;
    attr.write_raw(&v).map_err(h5err(path, "write attribute"))
}

/// Sets the string attributes `description` and `units` on `loc`
/// (a dataset or group). Use `units = "1"` for dimensionless quantities.
pub fn describe(loc: &Location, description: &str, units: &str) -> Result<()> {
    attr_str(loc, "description", description)?;
    attr_str(loc, "units", units)
}

// ---------------------------------------------------------------------------
// readers

/// True when every component of the slash-separated `path` exists below `g` (a dataset or a
/// group), without opening anything.
pub fn has(g: &Group, path: &str) -> bool {
    let mut prefix = String::new();
    for part in path.split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        if !g.link_exists(&prefix) {
            return false;
        }
    }
    true
}

/// Reads 1-D float64 dataset `path` if it exists ([`has`]), `None` if it does not.
pub fn read_f64_opt(g: &Group, path: &str) -> Result<Option<Vec<f64>>> {
    if has(g, path) {
        read_f64(g, path).map(Some)
    } else {
        Ok(None)
    }
}

/// True when `loc` has an attribute `name` (checked by listing, so a missing one is no error).
pub fn has_attr(loc: &Location, name: &str) -> bool {
    loc.attr_names()
        .unwrap_or_default()
        .iter()
        .any(|n| n == name)
}

/// Float64 attribute `name` if it exists and reads as one, else `None`.
pub fn read_attr_f64_opt(loc: &Location, name: &str) -> Option<f64> {
    has_attr(loc, name).then(|| read_attr_f64(loc, name).ok())?
}

/// String attribute `name` if it exists and reads as one, else `None`.
pub fn read_attr_str_opt(loc: &Location, name: &str) -> Option<String> {
    has_attr(loc, name).then(|| read_attr_str(loc, name).ok())?
}

/// Reads 1-D dataset `name` as float64 (fails with [`H5Error::Rank`] if not 1-D).
pub fn read_f64(parent: &Group, name: &str) -> Result<Vec<f64>> {
    read_1d(parent, name)
}

/// Reads 1-D dataset `name` as int64 (fails with [`H5Error::Rank`] if not 1-D).
pub fn read_i64(parent: &Group, name: &str) -> Result<Vec<i64>> {
    read_1d(parent, name)
}

/// Reads 1-D dataset `name` as int32 (fails with [`H5Error::Rank`] if not 1-D).
pub fn read_i32(parent: &Group, name: &str) -> Result<Vec<i32>> {
    read_1d(parent, name)
}

/// Reads dataset `name` of any rank as float64: `(shape, row-major data)`.
pub fn read_f64_nd(parent: &Group, name: &str) -> Result<(Vec<usize>, Vec<f64>)> {
    read_nd(parent, name)
}

/// Reads dataset `name` of any rank as int32: `(shape, row-major data)`.
pub fn read_i32_nd(parent: &Group, name: &str) -> Result<(Vec<usize>, Vec<i32>)> {
    read_nd(parent, name)
}

/// Reads scalar string attribute `name`. Accepts variable-length and
/// fixed-length (up to [`MAX_FIXED_STR`] bytes) UTF-8 or ASCII strings.
pub fn read_attr_str(loc: &Location, name: &str) -> Result<String> {
    let (attr, path) = open_attr(loc, name)?;
    if !attr.is_scalar() {
        return Err(H5Error::Rank {
            path,
            expected: 0,
            shape: attr.shape(),
        });
    }
    let mut v = read_strings(&attr, &path)?;
    v.pop().ok_or_else(|| H5Error::Hdf5 {
        path,
        op: "read string attribute".into(),
        msg: "no value read".into(),
    })
}

/// Reads scalar attribute `name` as float64.
pub fn read_attr_f64(loc: &Location, name: &str) -> Result<f64> {
    let (attr, path) = open_attr(loc, name)?;
    attr.read_scalar::<f64>()
        .map_err(h5err(path, "read attribute"))
}

/// Reads scalar attribute `name` as int64.
pub fn read_attr_i64(loc: &Location, name: &str) -> Result<i64> {
    let (attr, path) = open_attr(loc, name)?;
    attr.read_scalar::<i64>()
        .map_err(h5err(path, "read attribute"))
}

/// Reads 1-D string-array attribute `name` (string types as for [`read_attr_str`]).
pub fn read_attr_str_array(loc: &Location, name: &str) -> Result<Vec<String>> {
    let (attr, path) = open_attr(loc, name)?;
    let shape = attr.shape();
    if shape.len() != 1 {
        return Err(H5Error::Rank {
            path,
            expected: 1,
            shape,
        });
    }
    read_strings(&attr, &path)
}

/// Longest fixed-length string (in bytes) the string readers accept.
pub const MAX_FIXED_STR: usize = 4096;

/// Reads all elements of a string attribute, whatever its HDF5 string type.
fn read_strings(attr: &hdf5::Attribute, path: &str) -> Result<Vec<String>> {
    use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor as TD};
    let op = "read string attribute";
    let desc = attr
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(h5err(path, op))?;
    let r = match desc {
        TD::VarLenUnicode => attr
            .read_raw::<VarLenUnicode>()
            .map(|v| v.iter().map(|s| s.as_str().to_owned()).collect()),
        TD::VarLenAscii => attr
            .read_raw::<VarLenAscii>()
            .map(|v| v.iter().map(|s| s.as_str().to_owned()).collect()),
        TD::FixedAscii(n) if n <= MAX_FIXED_STR => attr
            .read_raw::<FixedAscii<MAX_FIXED_STR>>()
            .map(|v| v.iter().map(|s| s.as_str().to_owned()).collect()),
        TD::FixedUnicode(n) if n <= MAX_FIXED_STR => attr
            .read_raw::<FixedUnicode<MAX_FIXED_STR>>()
            .map(|v| v.iter().map(|s| s.as_str().to_owned()).collect()),
        other => {
            return Err(H5Error::Hdf5 {
                path: path.to_owned(),
                op: op.into(),
                msg: format!("not a supported string type: {other:?}"),
            });
        }
    };
    r.map_err(h5err(path, op))
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A unique, self-deleting temp folder.
    struct TmpDir(PathBuf);

    impl TmpDir {
        fn new(tag: &str) -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!(
                "h5util-test-{}-{}-{}",
                std::process::id(),
                tag,
                n
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TmpDir(p)
        }
        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
        fn entries(&self) -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
    }

    impl Drop for TmpDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn roundtrip_datasets_and_attributes() {
        let dir = TmpDir::new("rt");
        let target = dir.path("out.h5");
        let out = AtomicH5::create(&target, false).unwrap();
        let root = out.root();

        let g = group(root, "grid/axes").unwrap();
        let x: Vec<f64> = (0..10).map(|i| i as f64 * 0.5).collect();
        let ds = write_f64(&g, "x", &x).unwrap();
        describe(&ds, "cell centres in x", "m").unwrap();
        write_i64(root, "steps", &[1, 2, i64::MAX]).unwrap();
        write_i32(root, "flags", &[-1, 0, 1]).unwrap();
        let m: Vec<f64> = (0..6).map(f64::from).collect();
        write_f64_2d(root, "m", 2, 3, &m).unwrap();
        write_i32_2d(root, "mi", 3, 2, &[1, 2, 3, 4, 5, 6]).unwrap();
        // nested name creates intermediate groups
        write_f64(root, "deep/er/v", &[1.5]).unwrap();

        attr_str(root, "title", "Fokker–Planck ∂f/∂t run").unwrap();
        attr_f64(root, "dt", 1e-3).unwrap();
        attr_i64(root, "seed", -42).unwrap();
        let names = vec!["ρ".to_string(), "u".into(), "".into()];
        attr_str_array(root, "fields", &names).unwrap();
        attr_str_array::<String>(root, "none", &[]).unwrap();
        // overwriting an attribute replaces it (even with another type)
        attr_str(root, "dt", "replaced").unwrap();
        attr_str(out.file(), "title", "Fokker–Planck ∂f/∂t").unwrap();
        out.commit().unwrap();

        assert_eq!(dir.entries(), vec!["out.h5".to_string()]);
        let f = File::open(&target).unwrap();
        let g = f.group("grid/axes").unwrap();
        assert_eq!(read_f64(&g, "x").unwrap(), x);
        assert_eq!(read_f64(&f, "grid/axes/x").unwrap(), x);
        let ds = g.dataset("x").unwrap();
        assert_eq!(read_attr_str(&ds, "units").unwrap(), "m");
        assert_eq!(
            read_attr_str(&ds, "description").unwrap(),
            "cell centres in x"
        );
        assert_eq!(read_i64(&f, "steps").unwrap(), vec![1, 2, i64::MAX]);
        assert_eq!(read_i32(&f, "flags").unwrap(), vec![-1, 0, 1]);
        assert_eq!(read_f64_nd(&f, "m").unwrap(), (vec![2, 3], m));
        assert_eq!(
            read_i32_nd(&f, "mi").unwrap(),
            (vec![3, 2], vec![1, 2, 3, 4, 5, 6])
        );
        assert_eq!(read_f64(&f, "deep/er/v").unwrap(), vec![1.5]);
        assert_eq!(read_attr_str(&f, "title").unwrap(), "Fokker–Planck ∂f/∂t");
        assert_eq!(read_attr_str(&f, "dt").unwrap(), "replaced");
        assert_eq!(read_attr_i64(&f, "seed").unwrap(), -42);
        assert_eq!(read_attr_str_array(&f, "fields").unwrap(), names);
        assert!(read_attr_str_array(&f, "none").unwrap().is_empty());
        // group() opens existing groups
        drop((ds, g, f));
        let f2 = File::open_rw(&target).unwrap();
        let again = group(&f2, "/grid//axes/").unwrap();
        assert_eq!(again.name(), "/grid/axes");
        attr_f64(&again, "scale", 2.5).unwrap();
        assert_eq!(read_attr_f64(&again, "scale").unwrap(), 2.5);
    }

    #[test]
    fn reads_fixed_length_and_ascii_strings() {
        use hdf5::types::{FixedAscii, FixedUnicode, VarLenAscii};
        let dir = TmpDir::new("fixed");
        let out = AtomicH5::create(&dir.path("s.h5"), false).unwrap();
        let r = out.root();
        let a = r
            .new_attr::<FixedAscii<8>>()
            .shape(())
            .create("fa")
            .unwrap();
        a.write_scalar(&FixedAscii::<8>::from_ascii("abc").unwrap())
            .unwrap();
        let a = r
            .new_attr::<FixedUnicode<8>>()
            .shape(2)
            .create("fu")
            .unwrap();
        let fu = [
            FixedUnicode::<8>::from_str("ß").unwrap(),
            FixedUnicode::<8>::from_str("x").unwrap(),
        ];
        a.write_raw(&fu).unwrap();
        let a = r.new_attr::<VarLenAscii>().shape(()).create("va").unwrap();
        a.write_scalar(&VarLenAscii::from_ascii("plain").unwrap())
            .unwrap();
        assert_eq!(read_attr_str(r, "fa").unwrap(), "abc");
        assert_eq!(read_attr_str_array(r, "fu").unwrap(), vec!["ß", "x"]);
        assert_eq!(read_attr_str(r, "va").unwrap(), "plain");
        attr_f64(r, "num", 1.0).unwrap();
        let e = read_attr_str(r, "num").unwrap_err();
        assert!(e.to_string().contains("not a supported string type"), "{e}");
        let e = read_attr_str(r, "fu").unwrap_err();
        assert!(matches!(e, H5Error::Rank { expected: 0, .. }), "{e}");
    }

    #[test]
    fn compressed_3d_roundtrip_and_layout() {
        let dir = TmpDir::new("c3");
        let target = dir.path("c.h5");
        let out = AtomicH5::create(&target, false).unwrap();
        let (k, ny, nx) = (3, 20, 30);
        let data: Vec<f64> = (0..k * ny * nx).map(|i| (i as f64).sin()).collect();
        let ds = write_f64_3d_compressed(out.root(), "f", k, ny, nx, &data).unwrap();
        assert_eq!(ds.chunk(), Some(vec![1, ny, nx]));
        let filters = ds.filters();
        assert_eq!(
            filters,
            vec![
                hdf5::filters::Filter::Shuffle,
                hdf5::filters::Filter::Deflate(DEFLATE_LEVEL)
            ]
        );
        // highly compressible data must shrink
        let zeros = vec![0.0; k * ny * nx];
        let dz = write_f64_3d_compressed(out.root(), "z", k, ny, nx, &zeros).unwrap();
        assert!(dz.storage_size() < (zeros.len() * 8 / 10) as u64);
        write_f64_3d_compressed(out.root(), "empty", 0, ny, nx, &[]).unwrap();
        // a plane larger than 1 MiB is tiled in whole rows
        let big = vec![1.25; 600 * 300];
        let db = write_f64_3d_compressed(out.root(), "big", 1, 600, 300, &big).unwrap();
        assert_eq!(db.chunk(), Some(vec![1, 436, 300]));
        assert_eq!(db.read_raw::<f64>().unwrap(), big);
        drop(db);
        drop((ds, dz));
        out.commit().unwrap();

        let f = File::open(&target).unwrap();
        assert_eq!(read_f64_nd(&f, "f").unwrap(), (vec![k, ny, nx], data));
        assert_eq!(read_f64_nd(&f, "empty").unwrap(), (vec![0, ny, nx], vec![]));
        assert!(matches!(
            read_f64(&f, "f"),
            Err(H5Error::Rank { expected: 1, .. })
        ));
    }

    #[test]
    fn chunk_shapes_stay_under_1mib() {
        assert_eq!(chunk_shape_3d(100, 100), [1, 100, 100]);
        assert_eq!(chunk_shape_3d(512, 256), [1, 512, 256]); // exactly 1 MiB
        assert_eq!(chunk_shape_3d(1024, 1024), [1, 128, 1024]);
        assert_eq!(chunk_shape_3d(3, 1 << 20), [1, 1, 131072]);
        for (ny, nx) in [(1000, 1000), (7, 300_000), (131_073, 1), (1, 1)] {
            let c = chunk_shape_3d(ny, nx);
            assert!(c.iter().product::<usize>() * 8 <= MAX_CHUNK_BYTES);
            assert!(c[1] <= ny && c[2] <= nx && c.iter().all(|&d| d >= 1));
        }
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let dir = TmpDir::new("shape");
        let out = AtomicH5::create(&dir.path("s.h5"), false).unwrap();
        let e = write_f64_2d(out.root(), "m", 2, 3, &[1.0; 5]).unwrap_err();
        assert!(
            matches!(
                e,
                H5Error::Shape {
                    expected: 6,
                    got: 5,
                    ..
                }
            ),
            "{e}"
        );
        let e = write_f64_3d_compressed(out.root(), "c", 2, 2, 2, &[1.0; 9]).unwrap_err();
        assert!(e.to_string().contains("/c"), "{e}");
        let e = write_f64_3d_compressed(out.root(), "o", usize::MAX, 2, 2, &[]).unwrap_err();
        assert!(matches!(e, H5Error::Shape { .. }), "{e}");
    }

    #[test]
    fn hdf5_errors_name_the_object_and_operation() {
        quiet();
        let dir = TmpDir::new("err");
        let out = AtomicH5::create(&dir.path("e.h5"), false).unwrap();
        write_f64(out.root(), "x", &[1.0]).unwrap();
        let e = write_f64(out.root(), "x", &[2.0]).unwrap_err();
        match &e {
            H5Error::Hdf5 { path, op, msg } => {
                assert!(path.ends_with(":/x"), "{path}");
                assert!(path.contains("e.h5.tmp-"), "{path}");
                assert_eq!(op, "create dataset");
                assert!(msg.contains("already exists"), "{msg}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let e = read_f64(out.root(), "missing").unwrap_err();
        assert!(e.to_string().contains("open dataset"), "{e}");
        let e = read_attr_str(out.root(), "nope").unwrap_err();
        assert!(e.to_string().contains("@nope"), "{e}");
        // a dataset in the way of a group
        let e = group(out.root(), "x/y").unwrap_err();
        assert!(e.to_string().contains("open group"), "{e}");
        let e = write_f64(out.root(), "", &[1.0]).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = attr_str(out.root(), "nul", "a\0b").unwrap_err();
        assert!(matches!(e, H5Error::InvalidString { .. }), "{e}");
    }

    #[test]
    fn drop_without_commit_leaves_nothing() {
        let dir = TmpDir::new("drop");
        let target = dir.path("out.h5");
        {
            let out = AtomicH5::create(&target, false).unwrap();
            let ds = write_f64(out.root(), "x", &[1.0, 2.0]).unwrap();
            assert!(out.temp_path().exists());
            assert!(!target.exists());
            // an outstanding handle must not keep the temp file alive
            std::mem::forget(ds.clone());
        }
        assert!(dir.entries().is_empty(), "{:?}", dir.entries());
    }

    #[test]
    fn panic_without_commit_leaves_nothing() {
        let dir = TmpDir::new("panic");
        let target = dir.path("out.h5");
        let t2 = target.clone();
        let r = std::panic::catch_unwind(move || {
            let out = AtomicH5::create(&t2, false).unwrap();
            write_f64(out.root(), "x", &[1.0]).unwrap();
            panic!("simulated failure");
        });
        assert!(r.is_err());
        assert!(dir.entries().is_empty(), "{:?}", dir.entries());
    }

    #[test]
    fn overwrite_true_replaces_existing() {
        let dir = TmpDir::new("ow");
        let target = dir.path("out.h5");
        let out = AtomicH5::create(&target, false).unwrap();
        write_f64(out.root(), "old", &[1.0]).unwrap();
        out.commit().unwrap();

        let out = AtomicH5::create(&target, true).unwrap();
        write_f64(out.root(), "new", &[2.0]).unwrap();
        // before commit the old file is intact
        assert_eq!(
            read_f64(&File::open(&target).unwrap(), "old").unwrap(),
            [1.0]
        );
        out.commit().unwrap();

        let f = File::open(&target).unwrap();
        assert_eq!(read_f64(&f, "new").unwrap(), vec![2.0]);
        assert!(!f.link_exists("old"));
        assert_eq!(dir.entries(), vec!["out.h5".to_string()]);
    }

    #[test]
    fn overwrite_false_refuses_existing() {
        let dir = TmpDir::new("noow");
        let target = dir.path("out.h5");
        fs::write(&target, b"precious").unwrap();
        let e = AtomicH5::create(&target, false).err().unwrap();
        assert!(matches!(e, H5Error::Exists { .. }));
        let msg = e.to_string();
        assert!(msg.contains("--force") && msg.contains("out.h5"), "{msg}");
        assert_eq!(fs::read(&target).unwrap(), b"precious");

        // the target appearing between create and commit is also refused
        let late = dir.path("late.h5");
        let out = AtomicH5::create(&late, false).unwrap();
        fs::write(&late, b"other").unwrap();
        assert!(matches!(out.commit(), Err(H5Error::Exists { .. })));
        assert_eq!(fs::read(&late).unwrap(), b"other");
        assert_eq!(dir.entries(), vec!["late.h5".to_string(), "out.h5".into()]);
    }

    #[test]
    fn missing_parent_is_a_clear_error() {
        let dir = TmpDir::new("nodir");
        let target = dir.path("no/such/dir/out.h5");
        let e = AtomicH5::create(&target, true).err().unwrap();
        let msg = e.to_string();
        assert!(matches!(e, H5Error::MissingParent { .. }));
        assert!(msg.contains("no/such/dir"), "{msg}");
        assert!(
            msg.contains("does not exist") && msg.contains("create it"),
            "{msg}"
        );
        assert!(dir.entries().is_empty());
    }

    #[test]
    fn handles_are_invalid_after_commit() {
        let dir = TmpDir::new("inval");
        let out = AtomicH5::create(&dir.path("h.h5"), false).unwrap();
        let g = group(out.root(), "g").unwrap();
        out.commit().unwrap();
        assert!(write_f64(&g, "x", &[1.0]).is_err());
    }
}
