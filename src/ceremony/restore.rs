//! `restore`: a backup becomes a vault only after it has been decrypted, unpacked into a
//! staging directory, matched against its manifest, its ledger verified, its signature
//! checked against the audit key (the token's, when it is here) and its module found approved.
//! See `backup.rs` for the file's format.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::backup::{
    BackupError, BackupManifest, BackupProblem, HashingWriter, BACKUP_ENTRIES, BACKUP_FORMAT,
    BACKUP_FORMAT_V1, MANIFEST_FILE, MAX_SMALL_ENTRY,
};
use crate::error::{Error, Result, VaultError};
use crate::fsio::{self, StagedDir};
use crate::ledger::{Event, Ledger, LedgerError};
use crate::recipients::Identities;
use crate::vault::{self, Vault, CONFIG_FILE, LEDGER_FILE};

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

#[cfg(test)]
mod tests {
    use super::*;

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
