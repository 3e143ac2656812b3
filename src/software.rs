//! Which rootvault is running: its version, the git commit it was built from (embedded by
//! `build.rs`) and the SHA-256 of its binary, read while it runs. `rootvault --version` prints
//! them; the ledger records them at `init` and whenever another binary first uses the token
//! for the vault (`software_changed`, docs/ledger.md).

use std::io::Read;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

pub use crate::ledger::Software;

/// The git commit of this build (40 hex digits), or `unknown` for a build outside git.
pub const COMMIT: &str = env!("ROOTVAULT_GIT_COMMIT");

/// The running binary's identity, computed once per process.
pub fn current() -> Result<&'static Software, crate::Error> {
    current_or_why().map_err(|why| crate::Error::Io {
        context: "cannot hash the running rootvault binary",
        path: "/proc/self/exe".into(),
        source: std::io::Error::other(why),
    })
}

fn current_or_why() -> Result<&'static Software, String> {
    static CURRENT: OnceLock<Result<Software, String>> = OnceLock::new();
    CURRENT
        .get_or_init(|| {
            Ok(Software {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                commit: COMMIT.to_owned(),
                sha256: running_binary_sha256()?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// SHA-256 of the executable this process runs. `/proc/self/exe` is the file the kernel
/// mapped, even if its path has since been replaced; elsewhere, `current_exe`.
fn running_binary_sha256() -> Result<String, String> {
    let mut file = std::fs::File::open("/proc/self/exe")
        .or_else(|_| std::env::current_exe().and_then(std::fs::File::open))
        .map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_is_this_binarys_hash_and_a_commit_or_unknown() {
        let s = current().unwrap();
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(s.sha256, hex::encode(Sha256::digest(&exe)));
        assert_eq!(s.version, env!("CARGO_PKG_VERSION"));
        assert!(
            s.commit == "unknown"
                || (s.commit.len() == 40 && s.commit.bytes().all(|b| b.is_ascii_hexdigit())),
            "{}",
            s.commit
        );
    }
}
