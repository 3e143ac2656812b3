//! The vault directory: its configuration file, its ledger and its token lock. Files are
//! written through [`crate::fsio`].
//!
//! ```text
//! VAULT/
//!   vault.toml      which module and token the vault is bound to (and later, its policy)
//!   ledger.sqlite   the hash-chained ledger and its derived tables
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, VaultError};
use crate::hsm::{Module, Token, TokenSelector};
use crate::ledger::Ledger;
use crate::policy::Policy;

/// The configuration file's name inside the vault.
pub const CONFIG_FILE: &str = "vault.toml";
/// The ledger's file name inside the vault.
pub const LEDGER_FILE: &str = "ledger.sqlite";
/// The configuration format this build writes and reads.
pub const CONFIG_FORMAT: u32 = 1;

/// The lock file rootvault processes take turns on before using the token.
pub const TOKEN_LOCK_FILE: &str = ".token.lock";
/// How long a process waits for another to finish with the token.
pub const TOKEN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The vault's token, loaded and found, and this process's turn at it.
pub struct OpenToken {
    /// The token.
    pub token: Token,
    /// The module it was found on (kept loaded while the token is in use).
    pub module: Module,
    _lock: fs::File,
}

/// `vault.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Configuration format version.
    pub format: u32,
    /// The token the vault is bound to.
    pub token: TokenConfig,
    /// What may be signed for which cluster (docs/policy.md).
    #[serde(default)]
    pub policy: Policy,
}

/// The `[token]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Path of the PKCS#11 module.
    pub module: PathBuf,
    /// The token's label or a `pkcs11:` URI, as given to `init`.
    pub selector: String,
    /// The token's serial number, recorded at `init`; a token with another serial is refused.
    pub serial: String,
}

/// An existing vault.
#[derive(Debug)]
pub struct Vault {
    dir: PathBuf,
    config: Config,
}

impl Vault {
    /// Opens the vault at `dir`, reading and checking its configuration.
    pub fn open(dir: &Path) -> Result<Vault> {
        let path = dir.join(CONFIG_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VaultError::Missing(dir.to_owned()).into())
            }
            Err(e) => return Err(Error::io("cannot read", path, e)),
        };
        let config = parse_config(&text).map_err(|why| VaultError::BadConfig { path, why })?;
        Ok(Vault {
            dir: dir.to_owned(),
            config,
        })
    }

    /// The vault directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Refuses to start a token action that could not be recorded: the vault on a read-only
    /// filesystem, not writable by this user, or on a filesystem with less than
    /// [`crate::fsio::MIN_FREE_BYTES`] free. Checked before the token is touched, so nothing is
    /// signed. (A disk that fills up later still fails cleanly: the ledger transaction rolls
    /// back.)
    pub fn check_writable(&self) -> Result<()> {
        let dir = &self.dir;
        match crate::fsio::write_obstacle(dir) {
            Ok(None) => Ok(()),
            Ok(Some(obstacle)) => Err(VaultError::CannotRecord {
                dir: dir.clone(),
                obstacle,
            }
            .into()),
            Err(e) => Err(Error::io("cannot inspect the filesystem of", dir, e)),
        }
    }

    /// Opens the ledger.
    pub fn ledger(&self) -> Result<Ledger> {
        let path = self.dir.join(LEDGER_FILE);
        if !path.is_file() {
            return Err(VaultError::NoLedger(self.dir.clone()).into());
        }
        Ok(Ledger::open(&path)?)
    }

    /// Loads the module and finds the vault's own token (checked by serial), holding the
    /// vault's token lock until the returned handle is dropped.
    ///
    /// SoftHSM2's file store fails (CKR_GENERAL_ERROR) when several processes use one token at
    /// once, and an HSM ceremony has one operator anyway: rootvault processes on one vault take
    /// turns at the token, waiting at most [`TOKEN_LOCK_WAIT`].
    pub fn token(&self) -> Result<OpenToken> {
        self.token_approving(None)
    }

    /// [`Vault::token`], loading the module only if its path and SHA-256 are approved in the
    /// ledger, or its SHA-256 is `approving` (which the operator has just confirmed, to be
    /// recorded by `token approve-module`).
    pub(crate) fn token_approving(&self, approving: Option<&str>) -> Result<OpenToken> {
        let file = self.module_file()?;
        let approved = self.ledger()?.approved_modules()?;
        let path = self.config.token.module.display().to_string();
        let known = approved
            .iter()
            .any(|(p, sha)| *p == path && *sha == file.sha256);
        if !known && approving != Some(file.sha256.as_str()) {
            return Err(VaultError::ModuleNotApproved {
                path: self.config.token.module.clone(),
                sha256: file.sha256,
                approved,
            }
            .into());
        }
        let lock = self.lock_token()?;
        let module = Module::load(&self.config.token.module)?;
        let selector = TokenSelector::parse(&self.config.token.selector)?;
        let token = module.open_token(&selector)?;
        token.require_serial(&self.config.token.serial)?;
        Ok(OpenToken {
            token,
            module,
            _lock: lock,
        })
    }

    /// The module `vault.toml` names, inspected (permissions, SHA-256) but not loaded.
    pub fn module_file(&self) -> Result<crate::hsm::ModuleFile> {
        Ok(crate::hsm::ModuleFile::inspect(&self.config.token.module)?)
    }

    fn lock_token(&self) -> Result<fs::File> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.dir.join(TOKEN_LOCK_FILE);
        // Made here in a restored vault (a backup does not carry it): private, like the rest.
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(crate::fsio::PRIVATE_FILE_MODE)
            .open(&path)
            .map_err(|e| Error::io("cannot open the token lock", &path, e))?;
        let start = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < TOKEN_LOCK_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(VaultError::TokenBusy(TOKEN_LOCK_WAIT.as_secs()).into())
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(Error::io("cannot take the token lock", &path, e))
                }
            }
        }
    }
}

/// Makes a vault directory private to its owner: the directory [`fsio::PRIVATE_DIR_MODE`]
/// (0700); the configuration, the ledger, SQLite's `-wal` and `-shm` beside it and the token
/// lock [`fsio::PRIVATE_FILE_MODE`] (0600). SQLite gives a `-wal` or `-shm` it makes later the
/// ledger's own mode. `init` and `restore` call this on the directory they assemble, before
/// it is renamed into place; a symbolic link there is left alone, never followed.
pub(crate) fn make_private(dir: &Path) -> Result<()> {
    use crate::fsio::{self, Existing};
    fsio::set_mode(dir, fsio::PRIVATE_DIR_MODE)?;
    let sidecar = |suffix: &str| format!("{LEDGER_FILE}{suffix}");
    for name in [
        CONFIG_FILE.to_owned(),
        LEDGER_FILE.to_owned(),
        sidecar("-wal"),
        sidecar("-shm"),
        TOKEN_LOCK_FILE.to_owned(),
    ] {
        let path = dir.join(name);
        if Existing::at(&path)? == Existing::File {
            fsio::set_mode(&path, fsio::PRIVATE_FILE_MODE)?;
        }
    }
    Ok(())
}

/// Parses and checks `vault.toml`.
pub fn parse_config(text: &str) -> std::result::Result<Config, String> {
    let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
    if config.format != CONFIG_FORMAT {
        return Err(format!(
            "format = {} is not the format this rootvault reads ({CONFIG_FORMAT})",
            config.format
        ));
    }
    if config.token.serial.is_empty() {
        return Err("token.serial is empty".into());
    }
    TokenSelector::parse(&config.token.selector).map_err(|e| format!("token.selector: {e}"))?;
    config.policy.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rejects_unknown_keys_and_wrong_format() {
        let good = "format = 1\n[token]\nmodule = \"/m.so\"\nselector = \"t\"\nserial = \"s\"\n";
        assert!(parse_config(good).is_ok());
        let e = parse_config(&good.replace("format = 1", "format = 9")).unwrap_err();
        assert!(e.contains("format = 9"), "{e}");
        let e = parse_config(&format!("{good}extra = 1\n")).unwrap_err();
        assert!(e.contains("extra"), "{e}");
        assert!(parse_config("not toml [").is_err());
    }
}
