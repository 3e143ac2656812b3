//! The vault directory: its configuration file, its ledger, and safe file writing.
//!
//! ```text
//! VAULT/
//!   vault.toml      which module and token the vault is bound to (and later, its policy)
//!   ledger.sqlite   the hash-chained ledger and its derived tables
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hsm::{Module, Token, TokenSelector};
use crate::ledger::Ledger;
use crate::policy::Policy;

/// The configuration file's name inside the vault.
pub const CONFIG_FILE: &str = "vault.toml";
/// The ledger's file name inside the vault.
pub const LEDGER_FILE: &str = "ledger.sqlite";
/// The configuration format this build writes and reads.
pub const CONFIG_FORMAT: u32 = 1;

/// The least free space on the vault's filesystem a token action starts with (see
/// [`Vault::check_writable`]); one action's ledger transaction takes a few KiB.
pub const MIN_FREE_BYTES: u64 = 1024 * 1024;

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
                return Err(Error::Config(format!(
                    "no vault at {}: {CONFIG_FILE} is missing; create one with `rootvault init`, or point --vault / ROOTVAULT_DIR at an existing vault",
                    dir.display()
                )))
            }
            Err(e) => return Err(Error::io("cannot read", path, e)),
        };
        let config = parse_config(&text).map_err(|why| {
            Error::Config(format!(
                "{} is not a valid vault configuration: {why}",
                path.display()
            ))
        })?;
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
    /// [`MIN_FREE_BYTES`] free. Checked before the token is touched, so nothing is signed.
    /// (A disk that fills up later still fails cleanly: the ledger transaction rolls back.)
    pub fn check_writable(&self) -> Result<()> {
        let dir = &self.dir;
        let obstacle = write_obstacle(dir)
            .map_err(|e| Error::io("cannot inspect the filesystem of", dir, e))?;
        let why = match obstacle {
            None => return Ok(()),
            Some(Obstacle::ReadOnly) => format!(
                "the vault {} is on a read-only filesystem, and every token action is recorded in its ledger, so nothing was done. Reading it works as it is (`list`, `ledger verify`); remount it read-write and run the command again",
                dir.display()
            ),
            Some(Obstacle::NotWritable(_)) => format!(
                "the vault {} is not writable by this user, and every token action is recorded in its ledger, so nothing was done. Run as the vault's owner",
                dir.display()
            ),
            Some(Obstacle::Full { free }) => format!(
                "the vault's filesystem ({}) has {} KiB free, less than the {} KiB a token action needs to be recorded, so nothing was done. Free space and run the command again",
                dir.display(),
                free / 1024,
                MIN_FREE_BYTES / 1024
            ),
        };
        Err(Error::Config(why))
    }

    /// Opens the ledger.
    pub fn ledger(&self) -> Result<Ledger> {
        let path = self.dir.join(LEDGER_FILE);
        if !path.is_file() {
            return Err(Error::Config(format!(
                "the vault at {} has no {LEDGER_FILE}; restore it from a backup",
                self.dir.display()
            )));
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

    fn lock_token(&self) -> Result<fs::File> {
        let path = self.dir.join(TOKEN_LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
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
                    return Err(Error::Config(format!(
                        "another rootvault process has been using the token for over {}s; let it finish and try again",
                        TOKEN_LOCK_WAIT.as_secs()
                    )))
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(Error::io("cannot take the token lock", &path, e))
                }
            }
        }
    }
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

/// Writes `bytes` to `path` without ever leaving a partial file: a temporary file in the same
/// directory, fsynced, then renamed into place and the directory fsynced. An existing `path`
/// is refused unless `force`.
pub fn write_file_atomic(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    ReservedFile::reserve(path, force, 0)?.commit(bytes)
}

/// Refuses an output directory that could not take the output of a token action, before the
/// token is touched: missing, on a read-only filesystem, not writable by this user, or with
/// less than [`MIN_FREE_BYTES`] free. For outputs that cannot be reserved as one file (a
/// directory of files written after the token signed).
pub fn check_output_dir(dir: &Path) -> Result<()> {
    let no_room = |source: std::io::Error| Error::NoRoom {
        path: dir.to_owned(),
        source,
    };
    match write_obstacle(dir).map_err(no_room)? {
        None => Ok(()),
        Some(o) => Err(no_room(o.into_io_error())),
    }
}

/// What would stop a directory from taking a token action's writes.
enum Obstacle {
    /// Its filesystem is mounted read-only.
    ReadOnly,
    /// This user may not write to it.
    NotWritable(std::io::Error),
    /// Less than [`MIN_FREE_BYTES`] are free.
    Full { free: u64 },
}

impl Obstacle {
    /// The error a write would meet.
    fn into_io_error(self) -> std::io::Error {
        use rustix::io::Errno;
        match self {
            Obstacle::ReadOnly => Errno::ROFS.into(),
            Obstacle::NotWritable(e) => e,
            Obstacle::Full { .. } => Errno::NOSPC.into(),
        }
    }
}

/// Checks `dir`'s filesystem (one `statvfs`) and permission (one `access`).
fn write_obstacle(dir: &Path) -> std::io::Result<Option<Obstacle>> {
    let st = rustix::fs::statvfs(dir)?;
    if st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
        return Ok(Some(Obstacle::ReadOnly));
    }
    if let Err(e) = rustix::fs::access(dir, rustix::fs::Access::WRITE_OK) {
        return Ok(Some(Obstacle::NotWritable(e.into())));
    }
    let free = st.f_bavail.saturating_mul(st.f_frsize);
    Ok((free < MIN_FREE_BYTES).then_some(Obstacle::Full { free }))
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Space reserved for one certificate's PEM: a few times what a P-384 or RSA-4096
/// intermediate takes, so the real file never needs more than was reserved.
pub const CERT_RESERVATION: usize = 16 * 1024;

/// An output file whose space is taken *before* a token action, so that a full or read-only
/// disk stops the action before anything is signed or recorded. It is a temporary file in the
/// target's directory, filled with zeros (which makes the filesystem allocate the blocks now);
/// [`ReservedFile::commit`] overwrites it with the real bytes, syncs and renames it into place.
/// Dropped without a commit, it leaves nothing behind.
#[derive(Debug)]
pub struct ReservedFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    dir: PathBuf,
    force: bool,
}

impl ReservedFile {
    /// Reserves `size` bytes for `path`. An existing `path` is refused unless `force`; a
    /// directory that cannot be written or has no room is an error naming it.
    pub fn reserve(path: &Path, force: bool, size: usize) -> Result<ReservedFile> {
        if !force && path.exists() {
            return Err(Error::OutputExists(path.to_owned()));
        }
        let dir = parent_dir(path);
        // tempfile wraps OS errors with the temporary path; report the plain OS error.
        let no_room = |e: std::io::Error| Error::NoRoom {
            path: path.to_owned(),
            source: match e.raw_os_error() {
                Some(code) => std::io::Error::from_raw_os_error(code),
                None => std::io::Error::from(e.kind()),
            },
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".rootvault-")
            .tempfile_in(&dir)
            .map_err(no_room)?;
        if size > 0 {
            let file = tmp.as_file_mut();
            file.write_all(&vec![0; size]).map_err(no_room)?;
        }
        Ok(ReservedFile {
            tmp,
            path: path.to_owned(),
            dir,
            force,
        })
    }

    /// Where the file will be.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the reserved zeros with `bytes` (not yet synced).
    fn fill(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        let file = self.tmp.as_file_mut();
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(bytes))
            .and_then(|()| file.set_len(bytes.len() as u64))
            .map_err(|e| Error::io("cannot write", self.tmp.path().to_owned(), e))
    }

    /// Renames the (synced) file into place; returns its directory, still to be synced.
    fn persist(self) -> Result<PathBuf> {
        crate::fault::point("file.before_rename");
        let ReservedFile {
            tmp,
            path,
            dir,
            force,
        } = self;
        if force {
            tmp.persist(&path)
                .map_err(|e| Error::io("cannot write", &path, e.error))?;
        } else {
            tmp.persist_noclobber(&path).map_err(|e| {
                if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::OutputExists(path.clone())
                } else {
                    Error::io("cannot write", &path, e.error)
                }
            })?;
        }
        Ok(dir)
    }

    /// Writes `bytes` in place of the reservation: overwritten, fsynced, renamed into place,
    /// and the directory fsynced.
    pub fn commit(mut self, bytes: &[u8]) -> Result<()> {
        self.fill(bytes)?;
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|e| Error::io("cannot write", self.tmp.path().to_owned(), e))?;
        let dir = self.persist()?;
        sync_dir(&dir)?;
        crate::fault::point("file.after_rename");
        Ok(())
    }
}

/// Commits several reserved files with as few flushes as the platform allows: each is
/// overwritten with its bytes, their filesystems are flushed once (`syncfs` on Linux, one
/// fsync per file elsewhere), then every file is renamed into place and each directory is
/// fsynced once. A crash leaves each file either absent or complete, never partial.
pub fn commit_all(files: Vec<(ReservedFile, &[u8])>) -> Result<()> {
    let mut filled = Vec::with_capacity(files.len());
    for (mut file, bytes) in files {
        file.fill(bytes)?;
        filled.push(file);
    }
    sync_contents(&filled)?;
    let mut dirs = std::collections::BTreeSet::new();
    for file in filled {
        dirs.insert(file.persist()?);
    }
    for dir in &dirs {
        sync_dir(dir)?;
    }
    crate::fault::point("file.after_rename");
    Ok(())
}

/// Makes the contents of `files` durable: one `syncfs` per directory they are in.
#[cfg(target_os = "linux")]
fn sync_contents(files: &[ReservedFile]) -> Result<()> {
    let mut synced = std::collections::BTreeSet::new();
    for f in files {
        if synced.insert(f.dir.clone()) {
            rustix::fs::syncfs(f.tmp.as_file())
                .map_err(|e| Error::io("cannot sync the filesystem of", &f.dir, e.into()))?;
        }
    }
    Ok(())
}

/// Makes the contents of `files` durable: one fsync each.
#[cfg(not(target_os = "linux"))]
fn sync_contents(files: &[ReservedFile]) -> Result<()> {
    for f in files {
        f.tmp
            .as_file()
            .sync_all()
            .map_err(|e| Error::io("cannot write", f.tmp.path().to_owned(), e))?;
    }
    Ok(())
}

/// fsyncs a directory so that a rename inside it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("cannot sync directory", dir, e))
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

    #[test]
    fn atomic_write_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.pem");
        write_file_atomic(&p, b"one", false).unwrap();
        assert!(matches!(
            write_file_atomic(&p, b"two", false),
            Err(Error::OutputExists(_))
        ));
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_file_atomic(&p, b"two", true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
