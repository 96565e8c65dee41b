//! The input files a config names, each with what its reader needs (`partition.file`, then
//! `score.file`, in the order [`crate::problem::Problem::from_config`] reads them), to be read
//! before a run on the caller's own terms (module docs of [`InputReader`]).

use crate::config::{Config, PartitionConfig, ScoreConfig};
use crate::error::Result;
use std::path::{Path, PathBuf};

/// One file a config names for a run to read, with what its reader needs: listed so that a
/// caller can read them before a run on its own terms. The `cgkl` binary reads every HDF5 file
/// it did not write in a child process first, because libhdf5 1.10.8 segfaults on some corrupt
/// files (`fuzz/hdf5_crashes/`) and a crash there must become an error message; the library
/// itself spawns nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputReader {
    /// `partition.file`: a label image, read by [`crate::io::image::load_labels`].
    Labels {
        /// The file (relative paths: from the working directory).
        path: PathBuf,
        /// `partition.dataset`, the dataset of an HDF5 label file.
        dataset: String,
    },
    /// `score.file` of `score.kind = "external"`, read by
    /// [`crate::io::score_field::ScoreField::load`] for the grid `nx × ny`.
    ScoreField {
        /// The file (relative paths: from the working directory).
        path: PathBuf,
        /// `grid.nx`.
        nx: usize,
        /// `grid.ny`.
        ny: usize,
    },
}

impl InputReader {
    /// The files `cfg` names, in the order a run reads them (labels, then the score field);
    /// none for tiles and a score without a file.
    pub fn of_config(cfg: &Config) -> Vec<InputReader> {
        let mut v = Vec::new();
        if let PartitionConfig::Labels { file, dataset } = &cfg.partition {
            v.push(InputReader::Labels {
                path: PathBuf::from(file),
                dataset: dataset.clone(),
            });
        }
        if let ScoreConfig::External { file } = &cfg.score {
            v.push(InputReader::ScoreField {
                path: PathBuf::from(file),
                nx: cfg.grid.nx,
                ny: cfg.grid.ny,
            });
        }
        v
    }

    /// The file.
    pub fn path(&self) -> &Path {
        match self {
            InputReader::Labels { path, .. } | InputReader::ScoreField { path, .. } => path,
        }
    }

    /// Reads the file with the reader a run uses, and drops what it read.
    ///
    /// # Errors
    /// Those of [`crate::io::image::load_labels`] or
    /// [`crate::io::score_field::ScoreField::load`], unchanged.
    pub fn read(&self) -> Result<()> {
        match self {
            InputReader::Labels { path, dataset } => {
                crate::io::image::load_labels(path, dataset).map(drop)
            }
            InputReader::ScoreField { path, nx, ny } => {
                crate::io::score_field::ScoreField::load(path, *nx, *ny).map(drop)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_names_its_label_file_then_its_score_field() {
        assert!(InputReader::of_config(&Config::default()).is_empty());
        let ov = [
            "grid.nx=6",
            "grid.ny=4",
            "partition.kind=labels",
            "partition.file=l.png",
            "score.kind=external",
            "score.file=f.h5",
        ]
        .map(String::from);
        let cfg = Config::from_toml_with_overrides("", &ov).unwrap();
        assert_eq!(
            InputReader::of_config(&cfg),
            [
                InputReader::Labels {
                    path: "l.png".into(),
                    dataset: "labels".into()
                },
                InputReader::ScoreField {
                    path: "f.h5".into(),
                    nx: 6,
                    ny: 4
                },
            ]
        );
    }
}
