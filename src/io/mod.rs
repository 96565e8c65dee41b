//! Output (SPEC §9): the HDF5 layout of runs and sweeps ([`layout`]) over a thin, atomic,
//! error-reporting HDF5 layer ([`h5util`]); runs read back ([`read_run`]) and the checkpoints of
//! a resumable sweep ([`checkpoint`]). Input images and label images are read and resampled
//! onto the grid by [`image`].

pub mod checkpoint;
pub mod h5util;
pub mod image;
pub mod inspect;
pub mod layout;
pub mod read_run;
pub mod score_field;

use crate::error::CgklError;
use h5util::H5Error;

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
