//! `backup` and `restore`: a consistent, age-encrypted copy of the vault, and a restore that
//! keeps nothing until the copy has been verified.
//!
//! # The backup file
//! An age file (binary format, encrypted to one or more recipients) whose plaintext is an
//! uncompressed POSIX (ustar) tar archive of exactly three regular files, in this order:
//!
//! | entry | content |
//! |---|---|
//! | `backup.json` | the manifest ([`BackupManifest`]): format, time, source, ledger head, and the size and SHA-256 of each other entry |
//! | `vault.toml` | the vault's configuration, byte for byte |
//! | `ledger.sqlite` | the ledger database as of one moment, copied with SQLite's online backup API |
//!
//! So an auditor can look inside with public tools alone:
//! `age -d -i KEY backup.age | tar tv`, or `age -d -i KEY backup.age | tar x -C DIR` and then
//! `sqlite3 DIR/ledger.sqlite` or `rootvault --vault DIR ledger verify`.
//!
//! A backup never holds a private key: the root and audit keys are generated on the token,
//! non-extractable, and the ledger records only public keys, certificates and digests. As a
//! second line of defence, a backup whose files show PEM private-key armour or an age secret
//! key is refused.
//!
//! Backups are not recorded in the ledger: a ledger event needs the token (every event is
//! covered by a checkpoint signed there), and a backup must be possible without the PIN.
//!
//! # Restoring
//! `restore` decrypts with an age identity file (or an unencrypted SSH private key), unpacks
//! into a hidden staging directory beside the target (`.NAME.restore-XXXXXX`), checks the
//! manifest, parses the configuration, opens the ledger and verifies it (hash chain, derived
//! tables, checkpoint signatures) and that it belongs to the configuration's token, and only
//! then renames the staging directory to the target. On any failure the staging directory is
//! removed and the target never appears. Age encryption is not a signature (whoever holds the
//! recipient's public key can make a file that decrypts), which is why the ledger's own
//! signed checkpoints are checked; `ledger verify --receipt` against a receipt a cluster holds
//! then proves it is the ledger that was, and the first ceremony action refuses a token whose
//! audit key is not the one the ledger records.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{rfc3339, Ctx};
use crate::error::{Error, Result, VaultError};
use crate::fsio::{self, ReservedFile, StagedDir};
use crate::ledger::{Event, Ledger, LedgerError};
use crate::recipients::{Identities, Recipients};
use crate::vault::{self, Vault, CONFIG_FILE, LEDGER_FILE};

/// The `format` of a backup's manifest: v2 is signed by the vault's audit key.
pub const BACKUP_FORMAT: &str = "rootvault-backup-v2";
/// The format of backups made before they were signed, still restored (with a note).
pub const BACKUP_FORMAT_V1: &str = "rootvault-backup-v1";
/// The manifest's name inside the archive.
pub const MANIFEST_FILE: &str = "backup.json";
/// The archive's entries, in the order they are written.
pub const BACKUP_ENTRIES: [&str; 3] = [MANIFEST_FILE, CONFIG_FILE, LEDGER_FILE];

/// Largest manifest or configuration restore accepts.
const MAX_SMALL_ENTRY: u64 = 1 << 20;
/// What a private key looks like in the clear: PEM armour, an age secret key.
const SECRET_MARKERS: [&[u8]; 2] = [b"PRIVATE KEY-----", b"AGE-SECRET-KEY-1"];

/// Why a backup was not written, or not restored. Nothing was left behind in any case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// `--out` names a directory (exit 1).
    #[error("{} is a directory; name the backup file to create, such as {}", .0.display(), .0.join("vault-backup.age").display())]
    OutIsDirectory(PathBuf),
    /// The vault holds what looks like a private key in the clear (exit 1).
    #[error("the vault's {0} holds what looks like a private key in the clear; rootvault never stores one, so the vault was changed by something else. Nothing was written: investigate before taking a backup")]
    SecretInVault(&'static str),
    /// The identity file cannot decrypt (exit 3).
    #[error(transparent)]
    Identity(#[from] crate::recipients::IdentityError),
    /// The backup cannot be decrypted or unpacked, or does not match its manifest (exit 3).
    #[error("{}: {why}; nothing was restored", from.display())]
    Refused {
        /// The backup file.
        from: PathBuf,
        /// What is wrong with it.
        why: BackupProblem,
    },
}

impl BackupError {
    /// The exit code of the contract: a bad backup or identity is rejected input (3).
    pub fn exit_code(&self) -> crate::ExitCode {
        match self {
            BackupError::OutIsDirectory(_) | BackupError::SecretInVault(_) => {
                crate::ExitCode::Failed
            }
            BackupError::Identity(_) | BackupError::Refused { .. } => crate::ExitCode::Rejected,
        }
    }
}

/// What is wrong with a backup file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupProblem {
    /// It cannot be read.
    #[error("cannot be read: {0}")]
    Unreadable(#[source] io::Error),
    /// The identity is not among its recipients.
    #[error("the identity in {} cannot decrypt it: it was encrypted to other recipients (or its header was altered)", .0.display())]
    NotForThisIdentity(PathBuf),
    /// Not an age file.
    #[error("it is not an age-encrypted backup, or its header is damaged")]
    NotAge,
    /// Its authentication fails.
    #[error("it was altered or damaged: its authentication fails")]
    Altered,
    /// The identity could not be unlocked.
    #[error("the identity in {} could not be unlocked", .0.display())]
    IdentityLocked(PathBuf),
    /// Passphrase-encrypted rather than to recipients.
    #[error("it is passphrase-encrypted, but rootvault backups are encrypted to recipients")]
    Passphrase,
    /// Cut short or damaged.
    #[error("it is cut short, altered or damaged ({0})")]
    Damaged(#[source] io::Error),
    /// An entry that is not one of the three.
    #[error("it holds an unexpected entry {0:?}; a backup holds only backup.json, vault.toml, ledger.sqlite")]
    UnexpectedEntry(String),
    /// An entry that is not a regular file.
    #[error("entry {0} is not a regular file")]
    NotRegular(&'static str),
    /// An entry twice.
    #[error("entry {0} appears twice")]
    Duplicate(&'static str),
    /// An entry far larger than it can be.
    #[error("entry {0} is {1} bytes, far larger than it can be")]
    Oversized(&'static str, u64),
    /// An entry is missing.
    #[error("it has no {0}; it is not a complete rootvault backup")]
    Missing(&'static str),
    /// The manifest does not parse (the parser's message).
    #[error("its backup.json does not parse ({0})")]
    BadManifest(String),
    /// Another backup format.
    #[error("backup format {0:?} is not {BACKUP_FORMAT}, the one this rootvault reads")]
    Format(String),
    /// The files do not match the manifest.
    #[error("its files do not match the sizes and SHA-256 digests its backup.json lists; the backup was altered")]
    FilesMismatch,
    /// The ledger inside does not match the manifest.
    #[error("its manifest names a ledger of {listed_events} events with head {listed_head}, but the ledger inside has {events} events with head {head}; the backup was altered")]
    HeadMismatch {
        /// Events the manifest lists.
        listed_events: i64,
        /// Head the manifest lists.
        listed_head: String,
        /// Events found.
        events: i64,
        /// Head found.
        head: String,
    },
    /// The configuration inside does not parse (the parser's message).
    #[error("its vault.toml is not a valid vault configuration: {0}")]
    BadConfig(String),
    /// The manifest's signature does not verify with the audit key the ledger records.
    #[error("its signature does not verify with the vault's audit key ({0}): it was not made by this vault's token, so it was forged or altered")]
    BadSignature(String),
    /// The configuration names a module the ledger never approved.
    #[error("its vault.toml names the PKCS#11 module {module}, which the backup's own ledger never approved (approved: {approved}); a backup that would load another module is refused")]
    ModuleNotApproved {
        /// The module (path, and SHA-256 if the file is here).
        module: String,
        /// What the ledger approved.
        approved: String,
    },
}

/// `backup.json`: what the archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// Always [`BACKUP_FORMAT`].
    pub format: String,
    /// When the snapshot was taken, RFC 3339 UTC.
    pub created: String,
    /// The rootvault version that made it.
    pub rootvault_version: String,
    /// The vault directory it was taken from.
    pub source: String,
    /// The serial of the token the vault is bound to.
    pub token_serial: String,
    /// Number of events in the ledger copy.
    pub events: i64,
    /// Hash of its last event.
    pub head: String,
    /// Seq of its newest signed checkpoint.
    pub attested_seq: Option<i64>,
    /// The other entries.
    pub files: Vec<BackupFile>,
    /// The PKCS#11 module its configuration names (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// SHA-256 of the audit public key (DER SubjectPublicKeyInfo) that signed it (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_key_sha256: Option<String>,
    /// Base64 of the DER ECDSA signature by the audit key over [`BackupManifest::signed_message`]
    /// (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl BackupManifest {
    /// The exact text the audit key signs (ASCII, each line ending in `\n`): the format, the
    /// time, the token, the ledger's size and head, and the SHA-256 of each other entry, so
    /// that a backup with another configuration or ledger cannot carry the signature. Checked
    /// with `openssl dgst -sha256 -verify audit.pem -signature sig.der message.txt`.
    pub fn signed_message(&self) -> String {
        let mut m = format!(
            "{BACKUP_FORMAT}\ncreated={}\ntoken_serial={}\nevents={}\nhead={}\n",
            self.created, self.token_serial, self.events, self.head
        );
        for f in &self.files {
            m += &format!("{}={}\n", f.name, f.sha256);
        }
        m
    }
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    /// Entry name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// What `backup` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// The backup file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file as written (ciphertext), what `sha256sum FILE` prints.
    pub sha256: String,
    /// The age recipients it is encrypted to.
    pub recipients: Vec<String>,
    /// The archive's entries, in order.
    pub entries: Vec<String>,
    /// The manifest inside.
    pub manifest: BackupManifest,
}

/// What `restore` restored.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The new vault directory.
    pub vault: PathBuf,
    /// The backup it came from.
    pub from: PathBuf,
    /// The backup's manifest.
    pub manifest: BackupManifest,
    /// Events in the restored ledger.
    pub events: i64,
    /// Its head hash.
    pub head: String,
    /// Signed checkpoints checked.
    pub checkpoints: i64,
    /// Seq of the newest checkpoint.
    pub attested_seq: Option<i64>,
    /// The token serial the vault is bound to.
    pub token_serial: String,
    /// SHA-256 of the root certificate, if the vault has a root.
    pub root_sha256: Option<String>,
    /// SHA-256 of the audit public key (DER SubjectPublicKeyInfo), if the vault has one.
    pub audit_key_sha256: Option<String>,
    /// Remarks from the verification that are not failures.
    pub notes: Vec<String>,
    /// How the backup's signature was checked: `token` (against the audit key on the token
    /// itself), `ledger` (against the audit key its own ledger records; the token was not
    /// there), or `unsigned` (a v1 backup).
    pub signature: &'static str,
}

/// Writes an age-encrypted backup of `vault` (its configuration and a consistent snapshot of
/// its ledger) to `out`, which is never overwritten unless `force`. The ledger copy is
/// verified before anything is written; a ledger that fails verification is not backed up
/// (exit 4), because such a backup could not be restored.
pub fn backup(
    ctx: &Ctx<'_>,
    out: &Path,
    recipients: &Recipients,
    force: bool,
) -> Result<BackupReport> {
    let vault = ctx.vault;
    if fsio::Existing::at(out)? == fsio::Existing::Dir {
        return Err(BackupError::OutIsDirectory(out.to_owned()).into());
    }
    // Reserved before anything else: an existing output is refused here, and the file is
    // filled (streamed) only once everything checked out.
    let mut reserved = ReservedFile::reserve(out, force, 0)?;
    let config_path = vault.dir().join(CONFIG_FILE);
    let config = fs::read(&config_path).map_err(|e| Error::io("cannot read", &config_path, e))?;
    std::str::from_utf8(&config)
        .map_err(|e| e.to_string())
        .and_then(vault::parse_config)
        .map_err(|why| VaultError::BadConfig {
            path: config_path.clone(),
            why,
        })?;

    // The snapshot is plaintext: it is made inside the vault directory, where the ledger
    // already is, never beside the (perhaps removable) output.
    let scratch = tempfile::Builder::new()
        .prefix(".rootvault-backup-")
        .tempdir_in(vault.dir())
        .map_err(|e| Error::io("cannot create a scratch directory in", vault.dir(), e))?;
    let snapshot = scratch.path().join(LEDGER_FILE);
    vault.ledger()?.snapshot_to(&snapshot)?;
    let created = rfc3339(Utc::now());
    let verified = Ledger::open(&snapshot)?.verify()?;
    if !verified.ok {
        return Err(Error::Ledger(LedgerError::Integrity(format!(
            "the ledger does not verify ({}), so a backup of it could not be restored; nothing was written",
            verified.problems.first().map_or("", String::as_str)
        ))));
    }
    crate::fault::point("backup.after_snapshot");
    refuse_secrets(CONFIG_FILE, &mut &config[..])?;
    let ledger_file = |p: &Path| fs::File::open(p).map_err(|e| Error::io("cannot read", p, e));
    refuse_secrets(LEDGER_FILE, &mut ledger_file(&snapshot)?)?;
    let (ledger_size, ledger_sha256) = {
        let mut hashing = HashingWriter::new(io::sink());
        io::copy(&mut ledger_file(&snapshot)?, &mut hashing)
            .map_err(|e| Error::io("cannot read", &snapshot, e))?;
        let (_, sha, size) = hashing.finish();
        (size, sha)
    };
    let manifest = BackupManifest {
        format: BACKUP_FORMAT.to_owned(),
        created,
        rootvault_version: env!("CARGO_PKG_VERSION").to_owned(),
        source: fs::canonicalize(vault.dir())
            .unwrap_or_else(|_| vault.dir().to_owned())
            .display()
            .to_string(),
        token_serial: vault.config().token.serial.clone(),
        events: verified.events,
        head: verified.head.clone(),
        attested_seq: verified.attested_seq,
        module: Some(vault.config().token.module.display().to_string()),
        audit_key_sha256: None,
        signature: None,
        files: vec![
            BackupFile {
                name: CONFIG_FILE.to_owned(),
                size: config.len() as u64,
                sha256: hex::encode(Sha256::digest(&config)),
            },
            BackupFile {
                name: LEDGER_FILE.to_owned(),
                size: ledger_size,
                sha256: ledger_sha256,
            },
        ],
    };
    // Signed by the audit key on the token, after the token's check of the ledger: a backup
    // is the vault's only if its token says so.
    let manifest = ctx.with_session(|_session, attestor| {
        use base64::Engine as _;
        let signature = attestor.sign(manifest.signed_message().as_bytes())?;
        Ok(BackupManifest {
            audit_key_sha256: Some(hex::encode(Sha256::digest(attestor.public_key_der()))),
            signature: Some(base64::engine::general_purpose::STANDARD.encode(signature)),
            ..manifest.clone()
        })
    })?;
    let mut manifest_json = serde_json::to_vec_pretty(&manifest).expect("the manifest serializes");
    manifest_json.push(b'\n');

    let write_err = |e: io::Error| Error::io("cannot write", out, e);
    let (sha256, bytes) = {
        let hashing = HashingWriter::new(BufWriter::new(reserved.writer()?));
        let mut archive = tar::Builder::new(recipients.wrap_output(hashing)?);
        let mtime = Utc::now().timestamp().max(0) as u64;
        append(
            &mut archive,
            MANIFEST_FILE,
            &manifest_json[..],
            manifest_json.len() as u64,
            mtime,
        )
        .map_err(write_err)?;
        append(
            &mut archive,
            CONFIG_FILE,
            &config[..],
            config.len() as u64,
            mtime,
        )
        .map_err(write_err)?;
        append(
            &mut archive,
            LEDGER_FILE,
            ledger_file(&snapshot)?,
            ledger_size,
            mtime,
        )
        .map_err(write_err)?;
        let encrypted = archive.into_inner().map_err(write_err)?;
        let (buffered, sha256, bytes) = encrypted.finish().map_err(write_err)?.finish();
        buffered
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?;
        (sha256, bytes)
    };
    reserved.commit_written()?;
    Ok(BackupReport {
        path: out.to_owned(),
        bytes,
        sha256,
        recipients: recipients.describe(),
        entries: BACKUP_ENTRIES.iter().map(|e| (*e).to_owned()).collect(),
        manifest,
    })
}

/// One regular file into the archive, with a fixed owner and mode.
fn append<W: Write>(
    archive: &mut tar::Builder<W>,
    name: &str,
    data: impl Read,
    size: u64,
    mtime: u64,
) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name)?;
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header.set_cksum();
    archive.append(&header, data)
}

/// Refuses to back up anything that shows a private key in the clear. Nothing rootvault
/// writes ever holds one; this guards against that changing unnoticed.
fn refuse_secrets(name: &'static str, data: &mut impl Read) -> Result<()> {
    let longest = SECRET_MARKERS.iter().map(|m| m.len()).max().unwrap_or(0);
    let mut window: Vec<u8> = Vec::with_capacity(64 * 1024 + longest);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = data
            .read(&mut buf)
            .map_err(|e| Error::io("cannot read", name, e))?;
        if n == 0 {
            return Ok(());
        }
        window.extend_from_slice(&buf[..n]);
        if SECRET_MARKERS
            .iter()
            .any(|m| window.windows(m.len()).any(|w| w == *m))
        {
            return Err(BackupError::SecretInVault(name).into());
        }
        let keep = window.len().saturating_sub(longest - 1);
        window.drain(..keep);
    }
}

/// Restores the backup `from`, decrypted with the identity in `identity_file`, into the new
/// directory `into` (which must not exist: exit 1). Nothing is left behind unless the
/// restored vault verifies: a wrong identity, a cut, altered or malformed backup is exit 3,
/// a ledger that fails verification exit 4.
pub fn restore(from: &Path, identities: &Identities, into: &Path) -> Result<RestoreReport> {
    refuse_existing_target(into)?;
    let parent = fsio::parent_dir(into);
    if !parent.is_dir() {
        return Err(VaultError::NoParent(parent).into());
    }
    let refused = |why| BackupError::Refused {
        from: from.to_owned(),
        why,
    };
    let file = fs::File::open(from).map_err(|e| refused(BackupProblem::Unreadable(e)))?;

    // Dropped on any early return, which removes it and everything in it.
    let staging = StagedDir::new(into, "restore", fsio::PRIVATE_DIR_MODE)?;
    let manifest = unpack(file, identities, staging.path(), from)?;
    crate::fault::point("restore.after_unpack");
    let checked = check_restored(staging.path(), from)?;
    if manifest.events != checked.events || manifest.head != checked.head {
        return Err(refused(BackupProblem::HeadMismatch {
            listed_events: manifest.events,
            listed_head: manifest.head.clone(),
            events: checked.events,
            head: checked.head.clone(),
        })
        .into());
    }
    let (signature, mut notes) = authenticate(staging.path(), &manifest, from)?;
    notes.extend(checked.notes);
    crate::fault::point("restore.before_rename");
    vault::make_private(staging.path())?;
    refuse_existing_target(into)?;
    staging.commit()?;
    Ok(RestoreReport {
        vault: into.to_owned(),
        from: from.to_owned(),
        manifest,
        events: checked.events,
        head: checked.head,
        checkpoints: checked.checkpoints,
        attested_seq: checked.attested_seq,
        token_serial: checked.token_serial,
        root_sha256: checked.root_sha256,
        audit_key_sha256: checked.audit_key_sha256,
        notes,
        signature,
    })
}

/// A restored vault is the vault its token made: the manifest's signature verifies with the
/// audit key the (verified) ledger records, the configuration names a module that ledger
/// approved, and, when the token is here, the token's own audit key is that key. Returns how
/// far the signature could be checked (`token`, `ledger` or `unsigned`) and notes saying so.
fn authenticate(
    dir: &Path,
    manifest: &BackupManifest,
    from: &Path,
) -> Result<(&'static str, Vec<String>)> {
    let refused = |why| -> Error {
        BackupError::Refused {
            from: from.to_owned(),
            why,
        }
        .into()
    };
    let vault = Vault::open(dir)?;
    let ledger = vault.ledger()?;
    let mut notes = Vec::new();

    // The module: approved by the ledger, and (if it is on this machine) the same file.
    let config = &vault.config().token;
    let path = config.module.display().to_string();
    let approved = ledger.approved_modules()?;
    let list = || {
        approved
            .iter()
            .map(|(p, s)| format!("{p} (SHA-256 {s})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let here = match crate::hsm::ModuleFile::inspect(&config.module) {
        Ok(f) => Some(f.sha256),
        Err(crate::hsm::HsmError::ModuleLoad { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let approved_here = match &here {
        Some(sha) => approved.iter().any(|(p, s)| *p == path && s == sha),
        None => approved.iter().any(|(p, _)| *p == path),
    };
    if !approved.is_empty() && !approved_here {
        return Err(refused(BackupProblem::ModuleNotApproved {
            module: match &here {
                Some(sha) => format!("{path} (SHA-256 {sha})"),
                None => path.clone(),
            },
            approved: list(),
        }));
    }
    notes.push(format!(
        "the vault's token: serial {}, through the module {path}{}",
        config.serial,
        match &here {
            Some(sha) => format!(" (SHA-256 {sha})"),
            None => " (not on this machine)".to_owned(),
        }
    ));

    let Some(signature) = &manifest.signature else {
        notes.push(
            "this backup was made before backups were signed (rootvault-backup-v1): nothing proves it was made by this vault's token; compare its ledger with a receipt (`ledger verify --receipt`) and with the token (`ledger verify --with-token`) before using it".into(),
        );
        return Ok(("unsigned", notes));
    };
    let audit = ledger.audit_key()?.ok_or_else(|| {
        refused(BackupProblem::BadSignature(
            "its ledger records no audit key".into(),
        ))
    })?;
    let audit_der = audit.public_key_der()?;
    let checkpoint = crate::ledger::Checkpoint {
        seq: 0,
        hash: String::new(),
        time: String::new(),
        key_label: String::new(),
        signature: signature.clone(),
    };
    checkpoint
        .verify_message(&audit_der, manifest.signed_message().as_bytes())
        .map_err(|e| refused(BackupProblem::BadSignature(e)))?;

    // The token, if it is here and its module is one this ledger approved: its audit key
    // (a public object, read without the PIN) must be the ledger's.
    if here.is_none() || approved.is_empty() {
        notes.push("the signature verifies with the audit key the backup's own ledger records; the token's module is not here to confirm that key is the token's: run `rootvault ledger verify --with-token` once it is".into());
        return Ok(("ledger", notes));
    }
    let on_token = (|| -> Result<Option<Vec<u8>>> {
        let module = crate::hsm::Module::load(&config.module)?;
        let selector = crate::hsm::TokenSelector::parse(&config.selector)?;
        let token = match module.open_token(&selector) {
            Ok(t) => t,
            Err(crate::hsm::HsmError::TokenNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        token.require_serial(&config.serial)?;
        let key = token.public_session()?.public_key(
            crate::keys::KeyType::EcdsaP256,
            &audit.key_label,
            &audit.key_id_bytes()?,
        )?;
        Ok(Some(key.spki_der()))
    })()?;
    match on_token {
        None => {
            notes.push("the signature verifies with the audit key the backup's own ledger records; the token is not attached, so that key could not be compared with the token's: run `rootvault ledger verify --with-token` once it is".into());
            Ok(("ledger", notes))
        }
        Some(der) if der == audit_der => Ok(("token", notes)),
        Some(_) => Err(refused(BackupProblem::BadSignature(
            "the audit key on the token is not the one the backup's ledger records".into(),
        ))),
    }
}

fn refuse_existing_target(into: &Path) -> Result<()> {
    match fsio::Existing::at(into)? {
        fsio::Existing::Nothing => Ok(()),
        _ => Err(VaultError::RestoreTargetExists(into.to_owned()).into()),
    }
}

fn decrypt_error(from: &Path, identity: &Path, e: age::DecryptError) -> Error {
    use age::DecryptError as D;
    let why = match e {
        D::NoMatchingKeys => BackupProblem::NotForThisIdentity(identity.to_owned()),
        D::InvalidHeader | D::UnknownFormat => BackupProblem::NotAge,
        D::InvalidMac | D::DecryptionFailed => BackupProblem::Altered,
        D::KeyDecryptionFailed => BackupProblem::IdentityLocked(identity.to_owned()),
        D::ExcessiveWork { .. } => BackupProblem::Passphrase,
        D::Io(e) => BackupProblem::Damaged(e),
    };
    BackupError::Refused {
        from: from.to_owned(),
        why,
    }
    .into()
}

/// Decrypts and unpacks the three expected entries into `dest`, refusing anything else.
/// Returns the manifest after checking every file against it.
fn unpack(
    file: fs::File,
    identities: &Identities,
    dest: &Path,
    from: &Path,
) -> Result<BackupManifest> {
    let refused = |why| -> Error {
        BackupError::Refused {
            from: from.to_owned(),
            why,
        }
        .into()
    };
    let rejected = |e: io::Error| refused(BackupProblem::Damaged(e));
    let decryptor = age::Decryptor::new_buffered(BufReader::new(file))
        .map_err(|e| decrypt_error(from, identities.path(), e))?;
    let reader = decryptor
        .decrypt(identities.iter())
        .map_err(|e| decrypt_error(from, identities.path(), e))?;
    let mut archive = tar::Archive::new(reader);
    let mut found: BTreeMap<&'static str, (u64, String)> = BTreeMap::new();
    let mut manifest_bytes = Vec::new();
    for entry in archive.entries().map_err(rejected)? {
        let mut entry = entry.map_err(rejected)?;
        let path = entry.path_bytes().into_owned();
        let Some(name) = BACKUP_ENTRIES
            .into_iter()
            .find(|n| n.as_bytes() == path.as_slice())
        else {
            return Err(refused(BackupProblem::UnexpectedEntry(
                String::from_utf8_lossy(&path).into_owned(),
            )));
        };
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(refused(BackupProblem::NotRegular(name)));
        }
        if found.contains_key(name) {
            return Err(refused(BackupProblem::Duplicate(name)));
        }
        let size = entry.header().size().map_err(rejected)?;
        if name != LEDGER_FILE && size > MAX_SMALL_ENTRY {
            return Err(refused(BackupProblem::Oversized(name, size)));
        }
        let digest = if name == MANIFEST_FILE {
            entry.read_to_end(&mut manifest_bytes).map_err(rejected)?;
            (
                manifest_bytes.len() as u64,
                hex::encode(Sha256::digest(&manifest_bytes)),
            )
        } else {
            use std::os::unix::fs::OpenOptionsExt as _;
            let path = dest.join(name);
            let out = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(fsio::PRIVATE_FILE_MODE)
                .open(&path)
                .map_err(|e| Error::io("cannot create", &path, e))?;
            let mut hashing = HashingWriter::new(BufWriter::new(&out));
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = entry.read(&mut buf).map_err(rejected)?;
                if n == 0 {
                    break;
                }
                hashing
                    .write_all(&buf[..n])
                    .map_err(|e| Error::io("cannot write", &path, e))?;
            }
            let (buffered, sha, written) = hashing.finish();
            buffered
                .into_inner()
                .map_err(|e| Error::io("cannot write", &path, e.into_error()))?;
            out.sync_all()
                .map_err(|e| Error::io("cannot write", &path, e))?;
            (written, sha)
        };
        found.insert(name, digest);
    }
    // The age stream authenticates its end only when read to the end: a backup cut after
    // the archive's last entry is caught here.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(rejected)?;

    for name in BACKUP_ENTRIES {
        if !found.contains_key(name) {
            return Err(refused(BackupProblem::Missing(name)));
        }
    }
    let manifest: BackupManifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| refused(BackupProblem::BadManifest(e.to_string())))?;
    if manifest.format != BACKUP_FORMAT && manifest.format != BACKUP_FORMAT_V1 {
        return Err(refused(BackupProblem::Format(manifest.format)));
    }
    let listed: BTreeMap<&str, (u64, String)> = manifest
        .files
        .iter()
        .map(|f| (f.name.as_str(), (f.size, f.sha256.clone())))
        .collect();
    let unpacked: BTreeMap<&str, (u64, String)> = found
        .into_iter()
        .filter(|(n, _)| *n != MANIFEST_FILE)
        .collect();
    if listed != unpacked || listed.len() != manifest.files.len() {
        return Err(refused(BackupProblem::FilesMismatch));
    }
    Ok(manifest)
}

/// What the restored vault holds, once it checked out.
struct Checked {
    events: i64,
    head: String,
    checkpoints: i64,
    attested_seq: Option<i64>,
    token_serial: String,
    root_sha256: Option<String>,
    audit_key_sha256: Option<String>,
    notes: Vec<String>,
}

/// The configuration parses, the ledger opens and verifies, and it was made for the token
/// the configuration names.
fn check_restored(dir: &Path, from: &Path) -> Result<Checked> {
    let config_path = dir.join(CONFIG_FILE);
    let text = fs::read(&config_path).map_err(|e| Error::io("cannot read", &config_path, e))?;
    let config = std::str::from_utf8(&text)
        .map_err(|e| e.to_string())
        .and_then(vault::parse_config)
        .map_err(|why| BackupError::Refused {
            from: from.to_owned(),
            why: BackupProblem::BadConfig(why),
        })?;
    let integrity = |why: String| Error::Ledger(LedgerError::Integrity(why));
    let ledger = match Ledger::open(&dir.join(LEDGER_FILE)) {
        Ok(l) => l,
        Err(LedgerError::Sqlite { source, .. }) => {
            return Err(integrity(format!(
                "the backup's ledger is not a usable database ({source}); nothing was restored"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let report = ledger.verify()?;
    if !report.ok {
        return Err(integrity(format!(
            "the backup's ledger does not verify{}: {}; nothing was restored",
            report
                .first_bad_seq
                .map(|s| format!(" (first bad event {s})"))
                .unwrap_or_default(),
            report.problems.join("; ")
        )));
    }
    let mut first = None;
    ledger.for_each_event(1, |e| {
        if first.is_none() {
            first = Some(e);
        }
        Ok(())
    })?;
    let bound = first
        .as_ref()
        .and_then(|e| match Event::parse(&e.kind, &e.payload) {
            Ok(Event::VaultInitialised(v)) => Some(v.token_serial),
            _ => None,
        });
    match bound {
        None => {
            return Err(integrity(
                "the backup's ledger does not begin with the vault's creation; nothing was restored"
                    .into(),
            ))
        }
        Some(serial) if serial != config.token.serial => {
            return Err(integrity(format!(
                "the backup's ledger was created on token serial {serial}, but its {CONFIG_FILE} names token serial {}; nothing was restored",
                config.token.serial
            )))
        }
        Some(_) => {}
    }
    let root_sha256 = ledger.root()?.map(|r| r.certificate.sha256);
    let audit_key_sha256 = ledger.audit_key()?.and_then(|a| {
        base64::engine::general_purpose::STANDARD
            .decode(&a.public_key_der_base64)
            .ok()
            .map(|der| hex::encode(Sha256::digest(der)))
    });
    // Closed here, so SQLite folds its write-ahead log back before the directory moves.
    drop(ledger);
    Ok(Checked {
        events: report.events,
        head: report.head,
        checkpoints: report.checkpoints,
        attested_seq: report.attested_seq,
        token_serial: config.token.serial,
        root_sha256,
        audit_key_sha256,
        notes: report.notes,
    })
}

/// Passes writes through, counting them and hashing them with SHA-256.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The inner writer, the SHA-256 (hex) and the count of what was written.
    fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_across_read_boundaries() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let key = b"junk -----BEGIN EC PRIVATE KEY----- more";
        assert!(refuse_secrets("x", &mut Trickle(key)).is_err());
        assert!(refuse_secrets("x", &mut &key[..]).is_err());
        assert!(refuse_secrets("x", &mut Trickle(b"AGE-SECRET-KEY-1QQQ")).is_err());
        // A refusal reason that names the PEM label, without armour, is fine.
        assert!(refuse_secrets("x", &mut Trickle(b"label PRIVATE KEY found")).is_ok());
        assert!(refuse_secrets("x", &mut &b""[..]).is_ok());
    }

    #[test]
    fn refuses_an_existing_target_of_any_kind() {
        let dir = tempfile::tempdir().unwrap();
        let e = refuse_existing_target(dir.path()).unwrap_err();
        assert_eq!(e.exit_code(), crate::ExitCode::Failed, "{e}");
        let f = dir.path().join("file");
        fs::write(&f, b"").unwrap();
        assert!(refuse_existing_target(&f).is_err());
        assert!(refuse_existing_target(&dir.path().join("new")).is_ok());
    }
}
