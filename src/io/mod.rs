//! Output (SPEC §9): the HDF5 layout of runs and sweeps ([`layout`]) over a thin, atomic,
//! error-reporting HDF5 layer ([`h5util`]) and runs read back ([`read_run`]); `io` knows runs and
//! their records, not sweeps or shards (their files: [`crate::sweep::layout`], [`crate::shard`]). Input images and label images are read and resampled
//! onto the grid by [`image`]; [`input`] reads and hashes the files a config names, and [`reader`] lists them with their readers.

#[cfg(feature = "hdf5")]
pub mod h5util;
pub mod image;
pub mod input;
#[cfg(feature = "hdf5")]
pub mod inspect;
#[cfg(feature = "hdf5")]
pub mod layout;
#[cfg(feature = "hdf5")]
pub mod read_run;
pub mod reader;
pub mod score_field;

#[cfg(feature = "hdf5")]
use crate::error::{one_line, CgklError, Result};
#[cfg(feature = "hdf5")]
use h5util::H5Error;
#[cfg(feature = "hdf5")]
use std::path::Path;

/// Opens an existing HDF5 file for reading: the one opener of every reader (run and sweep
/// files, checkpoints, shards, score fields, label images, `inspect`, `plot`). A missing path,
/// or a folder is one [`CgklError::Io`] line `<path>: <what is wrong>; <hint>`, and a file the
/// HDF5 library cannot read one [`CgklError::Data`] line (the file is there, its content is
/// bad); `hint` says what the file should be.
#[cfg(feature = "hdf5")]
pub fn open_h5(path: &Path, hint: &str) -> Result<hdf5::File> {
    let fail = |msg: String| CgklError::Io {
        path: path.display().to_string(),
        msg: format!("{msg}; {hint}"),
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail("no such file (check the path)".into()))
        }
        Err(e) => return Err(fail(format!("cannot read it ({})", one_line(e)))),
        Ok(m) if m.is_dir() => return Err(fail("is a folder, not a file".into())),
        Ok(_) if input::is_stdin(path) => {
            return Err(fail(
                "standard input cannot hold an HDF5 file (the library reads it by seeking); save it to a file and give its path".into(),
            ))
        }
        Ok(m) if !m.is_file() => {
            return Err(fail(
                "is not a regular file (a FIFO, socket or device: reading it would block); give the path of an HDF5 file".into(),
            ))
        }
        Ok(_) => {}
    }
    h5util::quiet();
    hdf5::File::open(path).map_err(|e| {
        CgklError::Data(format!(
            "{}: not a readable HDF5 file, or a truncated one ({}); {hint}",
            path.display(),
            one_line(e)
        ))
    })
}

#[cfg(feature = "hdf5")]
impl From<H5Error> for CgklError {
    fn from(e: H5Error) -> Self {
        match e {
            H5Error::MissingParent { ref path, .. } | H5Error::Exists { ref path } => {
                CgklError::Io {
                    path: path.display().to_string(),
                    msg: e.to_string(),
                }
            }
            other => CgklError::Output(other.to_string()),
        }
    }
}
