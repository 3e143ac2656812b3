//! The PKCS#11 module as a file: its SHA-256 and whether others could have changed it. The
//! module is the code that receives the PIN, so a vault loads only a module whose path and
//! SHA-256 the operator approved (`vault::Vault::token`), and never one that someone other
//! than root or the vault's owner could have written.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::HsmError;

/// A module file, inspected before it is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFile {
    /// Its path, as given (not resolved: the path is what is approved).
    pub path: PathBuf,
    /// Lowercase hex SHA-256 of its bytes.
    pub sha256: String,
}

impl ModuleFile {
    /// Hashes the module at `path` after checking that neither it nor its directory can be
    /// written by anyone but root and this user.
    pub fn inspect(path: &Path) -> Result<ModuleFile, HsmError> {
        let resolved = std::fs::canonicalize(path).map_err(|e| HsmError::ModuleLoad {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        let uid = rustix::process::geteuid().as_raw();
        let loose = |p: &Path| -> Result<Option<String>, HsmError> {
            let m = std::fs::metadata(p).map_err(|e| HsmError::ModuleLoad {
                path: path.to_owned(),
                detail: format!("{}: {e}", p.display()),
            })?;
            let mode = m.permissions().mode();
            let sticky_dir = m.is_dir() && mode & 0o1000 != 0;
            if mode & 0o022 != 0 && !sticky_dir {
                return Ok(Some(format!(
                    "{} is writable by {} (mode {:o})",
                    p.display(),
                    if mode & 0o002 != 0 {
                        "everyone"
                    } else {
                        "its group"
                    },
                    mode & 0o7777
                )));
            }
            if m.uid() != 0 && m.uid() != uid {
                return Ok(Some(format!(
                    "{} belongs to user {}, neither root nor this user",
                    p.display(),
                    m.uid()
                )));
            }
            Ok(None)
        };
        for p in [Some(resolved.as_path()), resolved.parent()]
            .into_iter()
            .flatten()
        {
            if let Some(why) = loose(p)? {
                return Err(HsmError::ModuleUnsafe {
                    path: path.to_owned(),
                    why,
                });
            }
        }
        let mut file = std::fs::File::open(&resolved).map_err(|e| HsmError::ModuleLoad {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(|e| HsmError::ModuleLoad {
                path: path.to_owned(),
                detail: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(ModuleFile {
            path: path.to_owned(),
            sha256: hex::encode(hasher.finalize()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_others_can_write_is_refused_and_a_private_one_hashed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let m = dir.path().join("lib.so");
        std::fs::write(&m, b"not really a module").unwrap();
        std::fs::set_permissions(&m, std::fs::Permissions::from_mode(0o644)).unwrap();
        let f = ModuleFile::inspect(&m).unwrap();
        assert_eq!(
            f.sha256,
            hex::encode(Sha256::digest(b"not really a module"))
        );
        std::fs::set_permissions(&m, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = ModuleFile::inspect(&m).unwrap_err();
        assert!(matches!(e, HsmError::ModuleUnsafe { .. }), "{e}");
        assert!(e.to_string().contains("writable by everyone"), "{e}");
        std::fs::set_permissions(&m, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o775)).unwrap();
        let e = ModuleFile::inspect(&m).unwrap_err();
        assert!(e.to_string().contains("writable by its group"), "{e}");
    }
}
