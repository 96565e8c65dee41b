//! Input files named by a config (`data.file`, `partition.file`, `score.file`): what kind of
//! file may be read, standard input read once, and the content hash stored with every run so
//! that `--resume` and `merge` refuse runs made from other inputs (issue 17).

use crate::error::{one_line, CgklError, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

/// True for the names of standard input: `-` and `/dev/stdin`.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-" || path.as_os_str() == "/dev/stdin"
}

/// Checks that `path` is a regular file (following links), or standard input (see
/// [`is_stdin`]); a FIFO, socket or device would block or never end. `what` names the input in
/// the message, e.g. "image".
pub fn check_regular(path: &Path, what: &str) -> Result<()> {
    if is_stdin(path) {
        return Ok(());
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        // the caller's own open reports a missing or unreadable file
        Err(_) => return Ok(()),
    };
    let t = meta.file_type();
    if t.is_file() || t.is_dir() {
        return Ok(());
    }
    #[cfg(unix)]
    let kind = {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            "a FIFO (named pipe)"
        } else if t.is_socket() {
            "a socket"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        }
    };
    #[cfg(not(unix))]
    let kind = "not a regular file";
    Err(CgklError::Io {
        path: path.display().to_string(),
        msg: format!(
            "is {kind}, not a regular file; save the {what} to a file and give its path (an image may also come on standard input as `-` or /dev/stdin)"
        ),
    })
}

/// Standard input, read to its end once per process (a sweep validates every run, and each
/// reads its inputs).
fn stdin_bytes() -> Result<&'static [u8]> {
    static STDIN: OnceLock<std::result::Result<Vec<u8>, String>> = OnceLock::new();
    let got = STDIN.get_or_init(|| {
        let mut v = Vec::new();
        std::io::stdin()
            .lock()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut v)
            .map(|_| v)
            .map_err(one_line)
    });
    match got {
        Ok(v) if v.len() as u64 > MAX_INPUT_BYTES => Err(CgklError::Io {
            path: "/dev/stdin".into(),
            msg: format!(
                "holds more than {MAX_INPUT_BYTES} bytes; save the input to a file and give its path"
            ),
        }),
        Ok(v) => Ok(v),
        Err(e) => Err(CgklError::Io {
            path: "/dev/stdin".into(),
            msg: format!("cannot read standard input ({e})"),
        }),
    }
}

/// Largest input read into memory whole (4 GiB): more than any image within the pixel limits.
pub const MAX_INPUT_BYTES: u64 = 4 << 30;

/// The whole content of an input: a regular file ([`check_regular`]) or standard input.
pub fn read_input(path: &Path, what: &str) -> Result<Vec<u8>> {
    if is_stdin(path) {
        return Ok(stdin_bytes()?.to_vec());
    }
    check_regular(path, what)?;
    let cannot = |e: std::io::Error| CgklError::Io {
        path: path.display().to_string(),
        msg: format!(
            "cannot read the {what}: {}; check the path and the file permissions",
            one_line(e)
        ),
    };
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if meta.is_dir() {
        return Err(CgklError::Io {
            path: path.display().to_string(),
            msg: format!("is a folder, not a file; give the path of the {what} itself"),
        });
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(CgklError::Io {
            path: path.display().to_string(),
            msg: format!(
                "is {} bytes, more than the {MAX_INPUT_BYTES} cgkl reads; give a smaller {what}",
                meta.len()
            ),
        });
    }
    std::fs::read(path).map_err(cannot)
}

/// (canonical path, length, modification time) → hash, for [`InputFile::hash`].
type HashCache =
    std::collections::HashMap<(std::path::PathBuf, u64, std::time::SystemTime), String>;

fn hash_cache() -> &'static std::sync::Mutex<HashCache> {
    static CACHE: OnceLock<std::sync::Mutex<HashCache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// One input file of a run: the config key naming it, its path and the SHA-256 of its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The config key, e.g. `data.file`.
    pub key: String,
    /// The path as the config gives it.
    pub path: String,
    /// `sha256:<64 hex digits>` of the file's bytes.
    pub hash: String,
}

impl InputFile {
    /// Hashes the input `path` named by config key `key` (standard input: the bytes read). A
    /// file already hashed by this process with the same length and modification time is not
    /// read again (a sweep validates every run, and each names the same files).
    pub fn hash(key: &str, path: &str) -> Result<Self> {
        let p = Path::new(path);
        let stamp = (!is_stdin(p))
            .then(|| std::fs::metadata(p).ok())
            .flatten()
            .filter(|m| m.is_file())
            .and_then(|m| Some((std::fs::canonicalize(p).ok()?, m.len(), m.modified().ok()?)));
        if let Some(st) = &stamp {
            if let Some(hash) = hash_cache()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(st)
            {
                return Ok(Self {
                    key: key.into(),
                    path: path.into(),
                    hash: hash.clone(),
                });
            }
        }
        let mut h = Sha256::new();
        if is_stdin(p) {
            h.update(stdin_bytes()?);
        } else {
            check_regular(p, "input")?;
            let mut f = std::fs::File::open(p).map_err(|e| CgklError::Io {
                path: path.into(),
                msg: format!(
                    "cannot read the file {key} names: {}; check the path",
                    one_line(e)
                ),
            })?;
            std::io::copy(&mut f, &mut h).map_err(|e| CgklError::Io {
                path: path.into(),
                msg: format!("cannot read the file {key} names: {}", one_line(e)),
            })?;
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let hash = format!("sha256:{hex}");
        if let Some(st) = stamp {
            hash_cache()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(st, hash.clone());
        }
        Ok(Self {
            key: key.into(),
            path: path.into(),
            hash,
        })
    }

    /// One line `<key> <hash> <path>` of the run attribute `inputs`.
    pub fn line(&self) -> String {
        format!("{} {} {}", self.key, self.hash, self.path)
    }

    /// Parses the run attribute `inputs` (one [`InputFile::line`] per input).
    pub fn parse_lines(text: &str) -> Option<Vec<Self>> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut it = l.splitn(3, ' ');
                Some(Self {
                    key: it.next()?.into(),
                    hash: it.next()?.into(),
                    path: it.next()?.into(),
                })
            })
            .collect()
    }
}

/// The first difference between the inputs a run was made from and those planned now, as
/// `<key> (<path>): …`, or `None` when they agree (same keys, same hashes; paths may differ).
pub fn inputs_differ(stored: &[InputFile], now: &[InputFile]) -> Option<String> {
    for n in now {
        match stored.iter().find(|s| s.key == n.key) {
            None => {
                return Some(format!(
                    "{} ({}): not among the run's inputs",
                    n.key, n.path
                ))
            }
            Some(s) if s.hash != n.hash => {
                return Some(format!(
                    "{} ({}): its content changed since the run (stored {}, now {})",
                    n.key,
                    n.path,
                    short(&s.hash),
                    short(&n.hash)
                ))
            }
            Some(_) => {}
        }
    }
    stored
        .iter()
        .find(|s| !now.iter().any(|n| n.key == s.key))
        .map(|s| format!("{} ({}): no longer an input", s.key, s.path))
}

fn short(h: &str) -> &str {
    &h[..h.len().min(19)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_known_text() {
        let d = std::env::temp_dir().join(format!("cgkl_input_{}", std::process::id()));
        std::fs::write(&d, b"abc").unwrap();
        let f = InputFile::hash("data.file", d.to_str().unwrap()).unwrap();
        // FIPS 180-2 test vector
        assert_eq!(
            f.hash,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(InputFile::parse_lines(&f.line()).unwrap(), vec![f.clone()]);
        let mut g = f.clone();
        g.hash = "sha256:00".into();
        assert!(inputs_differ(std::slice::from_ref(&f), &[g])
            .unwrap()
            .contains("changed"));
        assert!(inputs_differ(std::slice::from_ref(&f), std::slice::from_ref(&f)).is_none());
        let _ = std::fs::remove_file(d);
    }
}
