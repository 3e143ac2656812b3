//! Embeds the git commit the binary is built from as `ROOTVAULT_GIT_COMMIT` (`rootvault
//! --version`, and the ledger's record of which binary wrote to it).
//!
//! Deterministic: the commit is the only input, so two builds of one commit embed the same
//! text (docs/release.md). Outside a git checkout (a source tarball) it is the value of the
//! environment variable `ROOTVAULT_GIT_COMMIT` if set, else `unknown`; nothing fails.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=ROOTVAULT_GIT_COMMIT");
    let commit = std::env::var("ROOTVAULT_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            // Rebuild when HEAD moves: HEAD itself, the branch it names, and packed refs.
            for path in [
                git(&["rev-parse", "--git-path", "HEAD"]),
                git(&["rev-parse", "--git-path", "packed-refs"]),
                git(&["symbolic-ref", "-q", "HEAD"])
                    .and_then(|r| git(&["rev-parse", "--git-path", &r])),
            ]
            .into_iter()
            .flatten()
            {
                // A path that does not exist would make cargo rebuild every time.
                if PathBuf::from(&path).exists() {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
            git(&["rev-parse", "--verify", "HEAD"])
        })
        .filter(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=ROOTVAULT_GIT_COMMIT={commit}");
}
