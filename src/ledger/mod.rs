//! The hash-chained, append-only SQLite ledger and the derived tables kept beside it.
//!
//! Appends run under `BEGIN IMMEDIATE`, so two processes queue instead of forking the chain.
//! Each event and the rows it implies ([`Event::project`]) are written in one transaction.

mod append;
mod canonical;
mod checkpoint;
mod events;
mod migrate;
mod payloads;
mod queries;
mod rows;
mod snapshot;
#[cfg(test)]
mod testkit;
mod verify;
mod witnessed;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

pub use append::Appender;
pub use canonical::{EventFields, DOMAIN, GENESIS};
pub use checkpoint::{Checkpoint, Receipt, CHECKPOINT_DOMAIN, RECEIPT_FORMAT};
pub use events::{
    first_generation, LinkedCertificate, RootImported, RootKeyDestroyed, RootKeyGenerated,
    RootRetired, RootRotated,
};
pub use events::{
    ActionWitnessed, ApprovedProfile, AuditKeyCreated, BundleExported, CertificateIssued,
    CertificateRecord, CertificateRevoked, CrlIssued, Event, ExportedFile, LedgerRecovered,
    ModuleApproved, PayloadError, RootCreated, SigningRejected, Software, VaultInitialised,
    WitnessAdded, WitnessRemoved, WitnessSignature, WitnessesRequired,
};
pub use migrate::{LATEST_VERSION, MIGRATIONS};
use queries::*;
use rows::DerivedRow;
pub use rows::{
    CertificateRow, CrlRow, ExportRow, Projection, RevocationRow, RootLinkRow, RootStatusRow,
    TokenKeyRow,
};

/// How long a writer waits for another process's transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// How many events `verify_with_progress` checks between two reports.
pub const VERIFY_PROGRESS_STEP: u64 = 4096;

/// What went wrong with the ledger database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// SQLite reported an error.
    #[error("ledger database {}: {op}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Another process held the database longer than [`BUSY_TIMEOUT`].
    #[error("ledger database {} is locked by another process; waited {}s. Let the other rootvault finish and try again", path.display(), BUSY_TIMEOUT.as_secs())]
    Busy {
        /// The database file.
        path: PathBuf,
    },
    /// The database was written by a newer rootvault.
    #[error("ledger database {} has schema version {found}, newer than this rootvault understands ({supported}); use a newer rootvault", path.display())]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The filesystem holding the ledger is full; the transaction was rolled back.
    #[error("the disk holding ledger database {} is full, so nothing was recorded. Free space on it and run the command again", path.display())]
    Full {
        /// The database file.
        path: PathBuf,
    },
    /// The ledger cannot be written (read-only filesystem or file).
    #[error("ledger database {} is read-only (a read-only filesystem, or no write permission), so nothing was recorded. Reading and `ledger verify` work; to record, make it writable and run the command again", path.display())]
    ReadOnly {
        /// The database file.
        path: PathBuf,
    },
    /// A ledger on read-only media whose write-ahead log cannot be read there.
    #[error("ledger database {} is on a read-only filesystem with a write-ahead log ({}-wal) but no {}-shm beside it, so its latest events cannot be read there. Copy the whole vault directory to writable storage and open it there", path.display(), path.display(), path.display())]
    UnreadableWal {
        /// The database file.
        path: PathBuf,
    },
    /// The audit key could not sign a checkpoint; nothing was committed.
    #[error("the audit key on the token could not sign the checkpoint, nothing was recorded: {0}")]
    Signing(String),
    /// A value the ledger holds does not parse (exit 4): rootvault wrote it well-formed, so
    /// something else changed it.
    #[error("ledger integrity failure: {what} does not parse ({detail}); run `rootvault ledger verify` for the full report")]
    Malformed {
        /// Which value, e.g. `the root's subject`.
        what: &'static str,
        /// The parser's complaint.
        detail: String,
    },
    /// A stored event or row contradicts the chain (exit 4).
    #[error("ledger integrity failure: {0}; run `rootvault ledger verify` for the full report")]
    Integrity(String),
}

impl LedgerError {
    /// A value the ledger holds that does not parse.
    pub fn malformed(what: &'static str, detail: impl std::fmt::Display) -> LedgerError {
        LedgerError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }

    /// Whether this is an integrity failure (exit code 4).
    pub fn is_integrity_failure(&self) -> bool {
        matches!(
            self,
            LedgerError::Integrity(_) | LedgerError::Malformed { .. }
        )
    }
}

/// An event as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredEvent {
    /// Position in the chain.
    pub seq: i64,
    /// RFC 3339 UTC.
    pub time: String,
    /// Event kind.
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// JSON payload, exactly as hashed.
    pub payload: String,
    /// Previous event's hash, hex.
    pub prev_hash: String,
    /// This event's hash, hex.
    pub hash: String,
}

impl StoredEvent {
    /// The hash its fields give (what `hash` must be).
    pub fn recomputed_hash(&self) -> String {
        self.fields().hash_hex()
    }

    fn fields(&self) -> EventFields<'_> {
        EventFields {
            seq: self.seq,
            time: &self.time,
            kind: &self.kind,
            actor: &self.actor,
            payload: &self.payload,
            prev_hash: &self.prev_hash,
        }
    }
}

/// The result of `ledger verify`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    /// Whether everything checked out.
    pub ok: bool,
    /// Number of events read.
    pub events: i64,
    /// Hash of the last event (the genesis value for an empty ledger).
    pub head: String,
    /// The first event found wrong, if any.
    pub first_bad_seq: Option<i64>,
    /// Every problem found, in order.
    pub problems: Vec<String>,
    /// Number of signed checkpoints checked.
    pub checkpoints: i64,
    /// The seq of the newest checkpoint, if any.
    pub attested_seq: Option<i64>,
    /// Things worth knowing that are not failures (e.g. refusals recorded after the last
    /// checkpoint).
    pub notes: Vec<String>,
    /// The head the token attested, when the token was asked (`ledger verify --with-token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_head: Option<AttestedHead>,
}

/// A head the token attested.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttestedHead {
    /// Its seq.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}

impl VerifyReport {
    fn problem(&mut self, seq: Option<i64>, text: String) {
        self.ok = false;
        if self.first_bad_seq.is_none() {
            self.first_bad_seq = seq;
        }
        self.problems.push(text);
    }
}

/// The vault's root, as the ledger records it.
#[derive(Debug, Clone)]
pub struct RootRecord {
    /// The certificate.
    pub certificate: CertificateRecord,
    /// The DER certificate.
    pub der: Vec<u8>,
    /// CKA_LABEL of the key pair.
    pub key_label: String,
    /// CKA_ID of the key pair, hex.
    pub key_id: String,
    /// Its generation.
    pub generation: u32,
}

/// A root generation as the ledger's derived tables describe it (read, not proven: what a
/// signature or export is built from is proven against the token in `ceremony`).
#[derive(Debug, Clone)]
pub struct GenerationRecord {
    /// The generation, 1, 2, ...
    pub generation: u32,
    /// `pending`, `active`, `trusted` or `retired`.
    pub status: String,
    /// Whether its key was destroyed on the token.
    pub key_destroyed: bool,
    /// CKA_LABEL of its key pair.
    pub key_label: String,
    /// CKA_ID of its key pair, hex.
    pub key_id: String,
    /// Its key type.
    pub key_type: String,
    /// Its certificate (none while pending).
    pub certificate: Option<CertificateRow>,
    /// The event that gave it its status.
    pub status_seq: i64,
}

impl GenerationRecord {
    /// The generation as a [`RootRecord`], if it has a certificate.
    pub fn root_record(&self) -> Option<RootRecord> {
        self.certificate.as_ref().map(|c| RootRecord {
            certificate: c.record.clone(),
            der: c.der.clone(),
            key_label: self.key_label.clone(),
            key_id: self.key_id.clone(),
            generation: self.generation,
        })
    }
}

/// An intermediate certificate and its revocation, if it was revoked.
pub type KeyHolder = (CertificateRow, Option<RevocationRow>);

/// An open ledger.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

impl Ledger {
    /// Creates a new ledger file (which must not exist) with the full schema.
    pub fn create(path: &Path) -> Result<Ledger, LedgerError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut ledger = Self::open_with(path, flags)?;
        migrate::apply(&mut ledger.conn, path)?;
        Ok(ledger)
    }

    /// Opens an existing ledger, upgrading an older schema in one transaction.
    ///
    /// A ledger on a read-only filesystem (an auditor's copy on write-protected media, a vault
    /// mounted read-only) is opened read-only: reading and verifying work, and any write fails
    /// with [`LedgerError::ReadOnly`]. SQLite cannot open a WAL database there on its own (it
    /// would create the `-shm` file), so such a ledger is opened `immutable` when it has no
    /// write-ahead log beside it (a cleanly closed ledger has none, so the main file is all of
    /// it), and read-only through its existing `-wal` and `-shm` otherwise.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        if on_read_only_fs(path) {
            return Self::open_read_only(path);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut ledger = Self::open_with(path, flags)?;
        migrate::apply(&mut ledger.conn, path)?;
        Ok(ledger)
    }

    fn open_read_only(path: &Path) -> Result<Ledger, LedgerError> {
        let sidecar = |suffix: &str| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            PathBuf::from(p)
        };
        let wal_has_frames = std::fs::metadata(sidecar("-wal")).is_ok_and(|m| m.len() > 0);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let err = |op| move |e| sqlite_error(path, op, e);
        let conn = if !wal_has_frames {
            Connection::open_with_flags(
                format!("file:{}?immutable=1", uri_path(path)),
                flags | OpenFlags::SQLITE_OPEN_URI,
            )
        } else if sidecar("-shm").exists() {
            Connection::open_with_flags(path, flags)
        } else {
            return Err(LedgerError::UnreadableWal {
                path: path.to_owned(),
            });
        }
        .map_err(err("opening read-only"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(err("setting the busy timeout"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err("enabling foreign keys"))?;
        let conn = if migrate::needs_upgrade_in_memory(&conn) {
            upgraded_in_memory(&conn, path)?
        } else {
            conn
        };
        let mut ledger = Ledger {
            conn,
            path: path.to_owned(),
        };
        migrate::apply(&mut ledger.conn, path)?;
        Ok(ledger)
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<Ledger, LedgerError> {
        let err = |op| {
            let path = path.to_owned();
            move |source| sqlite_error(&path, op, source)
        };
        let conn = Connection::open_with_flags(path, flags).map_err(err("opening"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(err("setting the busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err("enabling WAL"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err("setting synchronous=FULL"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err("enabling foreign keys"))?;
        Ok(Ledger {
            conn,
            path: path.to_owned(),
        })
    }

    fn err(&self, op: &'static str) -> impl FnOnce(rusqlite::Error) -> LedgerError + '_ {
        move |source| sqlite_error(&self.path, op, source)
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`): checks made inside it see the state the
    /// appends will extend, and no other process can append in between.
    pub fn begin(&mut self) -> Result<Appender<'_>, LedgerError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sqlite_error(path, "starting a write transaction", e))?;
        Ok(Appender {
            tx,
            path,
            first_appended: std::cell::Cell::new(None),
        })
    }

    /// The last event's seq (the event count of an intact ledger) and its hash.
    pub fn head(&self) -> Result<(i64, String), LedgerError> {
        head_of(&self.conn).map_err(self.err("reading the head"))
    }

    /// The PKCS#11 modules the operator approved, `(path, sha256)`, oldest first: the one the
    /// vault was made with, then each `module_approved`.
    pub fn approved_modules(&self) -> Result<Vec<(String, String)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, payload FROM events WHERE kind IN ('vault_initialised', 'module_approved') ORDER BY seq")
            .map_err(self.err("reading events"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.err("reading events"))?;
        let mut approved = Vec::new();
        for row in rows {
            let (kind, payload) = row.map_err(self.err("reading events"))?;
            match Event::parse(&kind, &payload) {
                Ok(Event::VaultInitialised(v)) => {
                    if let Some(sha) = v.module_sha256 {
                        approved.push((v.module, sha));
                    }
                }
                Ok(Event::ModuleApproved(m)) => approved.push((m.module, m.sha256)),
                _ => {}
            }
        }
        Ok(approved)
    }

    /// The events of these kinds, oldest first, found through the `events_by_kind` index
    /// (the witness registry and the witnessed actions: a few events in a large ledger).
    pub fn events_of_kinds(&self, kinds: &[&str]) -> Result<Vec<StoredEvent>, LedgerError> {
        let marks = vec!["?"; kinds.len()].join(", ");
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT seq, time, kind, actor, payload, prev_hash, hash FROM events WHERE kind IN ({marks}) ORDER BY seq"))
            .map_err(self.err("reading events"))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(kinds), stored_event_from_row)
            .map_err(self.err("reading events"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("reading events"))
    }

    /// The stored hash of the event at `seq`, if the ledger has it.
    pub fn event_hash(&self, seq: i64) -> Result<Option<String>, LedgerError> {
        self.conn
            .query_row("SELECT hash FROM events WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err("reading events"))
    }

    /// The vault's active root generation, if it has one.
    pub fn root(&self) -> Result<Option<RootRecord>, LedgerError> {
        root_of(&self.conn).map_err(self.err("reading the root"))
    }

    /// The event at `seq`, parsed, if the ledger has it and it parses.
    pub fn event(&self, seq: i64) -> Result<Option<Event>, LedgerError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT kind, payload FROM events WHERE seq = ?1",
                [seq],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err("reading events"))?;
        Ok(row.and_then(|(k, p)| Event::parse(&k, &p).ok()))
    }

    /// Each cluster's latest export: its event's seq and payload, by cluster.
    pub fn latest_exports(&self) -> Result<Vec<(i64, BundleExported)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT e.seq, e.kind, e.payload FROM exports x JOIN events e ON e.seq = x.event_seq
                 WHERE x.event_seq = (SELECT max(event_seq) FROM exports WHERE cluster = x.cluster)
                 ORDER BY x.cluster",
            )
            .map_err(self.err("reading exports"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(self.err("reading exports"))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, kind, payload) = row.map_err(self.err("reading exports"))?;
            if let Ok(Event::BundleExported(b)) = Event::parse(&kind, &payload) {
                out.push((seq, b));
            }
        }
        Ok(out)
    }

    /// Every root generation, oldest first, with its newest status.
    pub fn generations(&self) -> Result<Vec<GenerationRecord>, LedgerError> {
        generations_of(&self.conn).map_err(self.err("reading the root generations"))
    }

    /// Root generation `generation`, if the vault has it.
    pub fn generation(&self, generation: u32) -> Result<Option<GenerationRecord>, LedgerError> {
        Ok(self
            .generations()?
            .into_iter()
            .find(|g| g.generation == generation))
    }

    /// The cross-certificate (`cross`) or the imported chain (`chain`, issuer first) recorded
    /// for `generation`.
    pub fn root_links(&self, generation: u32, role: &str) -> Result<Vec<RootLinkRow>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM root_links WHERE generation = ?1 AND role = ?2 ORDER BY position",
                RootLinkRow::COLUMNS
            ))
            .map_err(self.err("reading root links"))?;
        let rows = stmt
            .query_map(params![generation, role], RootLinkRow::from_row)
            .map_err(self.err("reading root links"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("reading root links"))
    }

    /// The most recent CRL of root generation `generation`, if it issued any.
    pub fn last_crl_of(&self, generation: u32) -> Result<Option<CrlRow>, LedgerError> {
        last_crl_of_generation(&self.conn, generation).map_err(self.err("reading crls"))
    }

    /// Intermediate certificates issued by root generation `generation`, oldest first.
    pub fn intermediates_of(&self, generation: u32) -> Result<Vec<CertificateRow>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM certificates WHERE role = 'intermediate' AND generation = ?1 ORDER BY event_seq",
                CertificateRow::COLUMNS
            ))
            .map_err(self.err("reading certificates"))?;
        let rows = stmt
            .query_map([generation], CertificateRow::from_row)
            .map_err(self.err("reading certificates"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("reading certificates"))
    }

    /// Whether a certificate with this serial was ever issued by the vault.
    pub fn serial_issued(&self, serial: &str) -> Result<bool, LedgerError> {
        serial_exists(&self.conn, serial).map_err(self.err("checking serial uniqueness"))
    }

    /// The certificate with this serial, if the vault issued it.
    pub fn certificate(&self, serial: &str) -> Result<Option<CertificateRow>, LedgerError> {
        rows::read(&self.conn, rusqlite::types::Value::Text(serial.to_owned()))
            .map_err(self.err("reading certificates"))
    }

    /// The revocation of this serial, if it was revoked.
    pub fn revocation(&self, serial: &str) -> Result<Option<RevocationRow>, LedgerError> {
        rows::read(&self.conn, rusqlite::types::Value::Text(serial.to_owned()))
            .map_err(self.err("reading revocations"))
    }

    /// Every revocation, in the order they were recorded.
    pub fn revocations(&self) -> Result<Vec<RevocationRow>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM revocations ORDER BY event_seq, serial",
                RevocationRow::COLUMNS
            ))
            .map_err(self.err("reading revocations"))?;
        let rows = stmt
            .query_map([], RevocationRow::from_row)
            .map_err(self.err("reading revocations"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("reading revocations"))
    }

    /// The most recent CRL of any generation, if any was issued.
    pub fn last_crl(&self) -> Result<Option<CrlRow>, LedgerError> {
        last_crl_of(&self.conn).map_err(self.err("reading crls"))
    }

    /// Intermediate certificates, optionally of one cluster, oldest first.
    pub fn intermediates(&self, cluster: Option<&str>) -> Result<Vec<CertificateRow>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM certificates WHERE role = 'intermediate' AND (?1 IS NULL OR cluster = ?1) ORDER BY event_seq",
                CertificateRow::COLUMNS
            ))
            .map_err(self.err("reading certificates"))?;
        let rows = stmt
            .query_map([cluster], CertificateRow::from_row)
            .map_err(self.err("reading certificates"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("reading certificates"))
    }

    /// Intermediate certificates whose subject key has this SPKI SHA-256, oldest first, each
    /// with its revocation if it was revoked.
    pub fn key_holders(&self, spki_sha256: &str) -> Result<Vec<KeyHolder>, LedgerError> {
        key_holders_of(&self.conn, spki_sha256).map_err(self.err("reading certificates"))
    }

    /// Calls `f` for every event with `seq >= since`, in order, without loading them all.
    pub fn for_each_event(
        &self,
        since: i64,
        mut f: impl FnMut(StoredEvent) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, time, kind, actor, payload, prev_hash, hash FROM events WHERE seq >= ?1 ORDER BY seq")
            .map_err(self.err("reading events"))?;
        let rows = stmt
            .query_map([since], stored_event_from_row)
            .map_err(self.err("reading events"))?;
        for row in rows {
            f(row.map_err(self.err("reading an event"))?)?;
        }
        Ok(())
    }

    /// The checkpoints after `seq`, oldest first.
    pub fn checkpoints_after(&self, seq: i64) -> Result<Vec<Checkpoint>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, hash, time, key_label, signature FROM checkpoints WHERE seq > ?1 ORDER BY seq")
            .map_err(self.err("reading checkpoints"))?;
        let rows = stmt
            .query_map([seq], checkpoint_from_row)
            .map_err(self.err("reading checkpoints"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("reading checkpoints"))
    }

    /// Every checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, hash, time, key_label, signature FROM checkpoints ORDER BY seq")
            .map_err(self.err("reading checkpoints"))?;
        let rows = stmt
            .query_map([], checkpoint_from_row)
            .map_err(self.err("reading checkpoints"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("reading checkpoints"))
    }

    /// The newest checkpoint.
    pub fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, LedgerError> {
        self.conn
            .query_row(
                "SELECT seq, hash, time, key_label, signature FROM checkpoints ORDER BY seq DESC LIMIT 1",
                [],
                checkpoint_from_row,
            )
            .optional()
            .map_err(self.err("reading checkpoints"))
    }

    /// The audit key: its event payload, if the vault has one.
    pub fn audit_key(&self) -> Result<Option<AuditKeyCreated>, LedgerError> {
        audit_key_of(&self.conn).map_err(self.err("reading the audit key"))
    }

    /// Checks a receipt against this ledger: its signature, its key (the ledger's audit
    /// key), and that the event at its seq still has its hash. Returns the problems found.
    pub fn check_receipt(&self, receipt: &Receipt) -> Result<Vec<String>, LedgerError> {
        use base64::Engine as _;
        let mut problems = Vec::new();
        match (self.audit_key()?, receipt.audit_key_der()) {
            (Some(a), Ok(der)) => {
                if base64::engine::general_purpose::STANDARD
                    .decode(&a.public_key_der_base64)
                    .ok()
                    != Some(der)
                {
                    problems
                        .push("the receipt's audit key is not this ledger's audit key".to_owned());
                }
            }
            (None, _) => problems
                .push("this ledger has no audit key, but the receipt was signed by one".to_owned()),
            (_, Err(e)) => problems.push(format!("receipt: {e}")),
        }
        let stored: Option<String> = self
            .conn
            .query_row(
                "SELECT hash FROM events WHERE seq = ?1",
                [receipt.seq],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("reading events"))?;
        match stored {
            None => problems.push(format!(
                "the receipt attests event {}, which the ledger no longer contains (truncated)",
                receipt.seq
            )),
            Some(h) if h != receipt.hash => problems.push(format!(
                "event {} no longer has the hash the receipt attests (rewritten)",
                receipt.seq
            )),
            Some(_) => {}
        }
        Ok(problems)
    }
}

#[cfg(test)]
mod tests {
    //! `verify` against ledgers edited the way someone with the file and no token would:
    //! an edited, reordered, inserted or deleted event, a broken link in the chain, and
    //! checkpoints whose signatures are corrupted or made by another key (issue 17).

    use base64::Engine as _;

    use super::testkit::{
        event, initialised, insert_sql, rehashed, tamper, vault_initialised, SoftAuditKey,
    };
    use super::*;

    fn rejected(n: u32) -> Event {
        Event::SigningRejected(SigningRejected {
            cluster: Some(format!("cluster-{n}")),
            input_sha256: format!("{n:064x}"),
            reasons: vec![format!("reason {n}")],
        })
    }

    /// A ledger of six events: 1 vault_initialised and 2 audit_key_created (checkpoint at 2),
    /// 3-5 refusals attested together (checkpoint at 5), 6 a refusal after the last
    /// checkpoint, as a refusal recorded without the token is.
    fn ledger() -> (tempfile::TempDir, Ledger, SoftAuditKey) {
        let (dir, mut l, key) = initialised();
        let tx = l.begin().unwrap();
        for n in 3..=5 {
            tx.append("ana", &rejected(n)).unwrap();
        }
        tx.commit_attested(&key, "rootvault-audit").unwrap();
        let tx = l.begin().unwrap();
        tx.append("bob", &rejected(6)).unwrap();
        tx.commit().unwrap();
        (dir, l, key)
    }

    #[track_caller]
    fn failed(l: &Ledger, first_bad: i64, problems: &[&str]) -> VerifyReport {
        let r = l.verify().unwrap();
        assert!(!r.ok, "{r:#?}");
        assert_eq!(r.problems, problems, "{r:#?}");
        assert_eq!(r.first_bad_seq, Some(first_bad), "{r:#?}");
        r
    }

    #[test]
    fn an_untouched_ledger_verifies_with_its_checkpoints_and_names_the_uncovered_refusal() {
        let (_d, l, _) = ledger();
        let r = l.verify().unwrap();
        assert!(r.ok, "{r:#?}");
        assert_eq!(r.events, 6);
        assert_eq!(r.head, event(&l, 6).hash);
        assert_eq!(r.checkpoints, 2);
        assert_eq!(r.attested_seq, Some(5));
        assert_eq!(
            r.notes,
            ["events 6..6 (refusals recorded without the token) come after the last checkpoint"]
        );
    }

    #[test]
    fn an_edited_event_is_named_by_its_own_hash() {
        let (_d, l, _) = ledger();
        tamper(
            &l,
            "UPDATE events SET payload = replace(payload, 'reason 4', 'reason X') WHERE seq = 4;",
        );
        failed(
            &l,
            4,
            &["event 4 (signing_rejected): stored hash does not match its contents (edited?)"],
        );
    }

    #[test]
    fn an_edited_event_whose_hash_was_recomputed_breaks_the_link_to_the_next() {
        let (_d, l, _) = ledger();
        let mut e = event(&l, 4);
        e.actor = "mallory".into();
        let e = rehashed(e.clone(), 4, &e.prev_hash);
        tamper(
            &l,
            &format!("DELETE FROM events WHERE seq = 4; {}", insert_sql(&e)),
        );
        failed(
            &l,
            5,
            &["event 5: prev_hash does not match the hash of the event before it"],
        );
    }

    #[test]
    fn an_edited_event_rehashed_to_the_end_fails_on_the_checkpoint_that_signed_it() {
        let (_d, l, _) = ledger();
        let mut events: Vec<StoredEvent> = (1..=6).map(|s| event(&l, s)).collect();
        events[3].actor = "mallory".into();
        let mut prev = events[2].hash.clone();
        let mut sql = String::from("DELETE FROM events WHERE seq >= 4;");
        for e in &mut events[3..] {
            *e = rehashed(e.clone(), e.seq, &prev);
            prev = e.hash.clone();
            sql += &insert_sql(e);
        }
        tamper(&l, &sql);
        failed(
            &l,
            5,
            &["checkpoint at seq 5: event 5 no longer has the hash that was signed (rewritten?)"],
        );
    }

    #[test]
    fn two_reordered_events_are_named_on_both() {
        let (_d, l, _) = ledger();
        // Events 3 and 4 swap places, each keeping its stored hashes.
        tamper(
            &l,
            "UPDATE events SET seq = -3 WHERE seq = 3;
             UPDATE events SET seq = 3 WHERE seq = 4;
             UPDATE events SET seq = 4 WHERE seq = -3;",
        );
        failed(
            &l,
            3,
            &[
                "event 3: prev_hash does not match the hash of the event before it",
                "event 3 (signing_rejected): stored hash does not match its contents (edited?)",
                "event 4: prev_hash does not match the hash of the event before it",
                "event 4 (signing_rejected): stored hash does not match its contents (edited?)",
                "event 5: prev_hash does not match the hash of the event before it",
            ],
        );
    }

    #[test]
    fn an_inserted_event_chained_to_the_one_before_is_named_where_the_chain_moved() {
        let (_d, l, _) = ledger();
        let mut forged = event(&l, 4);
        forged.payload = forged.payload.replace("reason 4", "forged");
        let forged = rehashed(forged, 4, &event(&l, 3).hash);
        tamper(
            &l,
            &format!(
                "UPDATE events SET seq = seq + 100 WHERE seq >= 4;
                 UPDATE events SET seq = seq - 99 WHERE seq >= 100;
                 {}",
                insert_sql(&forged)
            ),
        );
        // The old 4..6 now sit at 5..7: event 5 (the old 4) no longer chains from event 4, and
        // its hash covered seq 4; the checkpoint at 5 signed the old event 5.
        failed(
            &l,
            5,
            &[
                "event 5: prev_hash does not match the hash of the event before it",
                "event 5 (signing_rejected): stored hash does not match its contents (edited?)",
                "event 6 (signing_rejected): stored hash does not match its contents (edited?)",
                "event 7 (signing_rejected): stored hash does not match its contents (edited?)",
                "checkpoint at seq 5: event 5 no longer has the hash that was signed (rewritten?)",
            ],
        );
    }

    #[test]
    fn a_deleted_event_is_named_as_missing() {
        let (_d, l, _) = ledger();
        tamper(&l, "DELETE FROM events WHERE seq = 6;");
        let r = l.verify().unwrap();
        assert!(
            r.ok,
            "cutting the uncovered tail is what only a receipt can catch: {r:#?}"
        );
        tamper(&l, "DELETE FROM events WHERE seq = 3;");
        failed(
            &l,
            3,
            &[
                "event 3 is missing: event 4 follows event 2",
                "event 4: prev_hash does not match the hash of the event before it",
            ],
        );
    }

    #[test]
    fn a_checkpoint_with_a_corrupted_signature_is_named() {
        let (_d, l, _) = ledger();
        let cp = l.latest_checkpoint().unwrap().unwrap();
        let mut sig = base64::engine::general_purpose::STANDARD
            .decode(&cp.signature)
            .unwrap();
        *sig.last_mut().unwrap() ^= 0x01;
        let sig = base64::engine::general_purpose::STANDARD.encode(sig);
        tamper(
            &l,
            &format!("UPDATE checkpoints SET signature = '{sig}' WHERE seq = 5;"),
        );
        failed(
            &l,
            5,
            &["checkpoint at seq 5: signature does not verify with the audit key"],
        );
    }

    #[test]
    fn a_checkpoint_signed_by_another_key_is_named_while_the_real_key_stays_recorded() {
        let (_d, l, _) = ledger();
        let cp = l.latest_checkpoint().unwrap().unwrap();
        let sig = SoftAuditKey::new()
            .checkpoint(cp.seq, &cp.hash, &cp.time)
            .signature;
        tamper(
            &l,
            &format!("UPDATE checkpoints SET signature = '{sig}' WHERE seq = 5;"),
        );
        failed(
            &l,
            5,
            &["checkpoint at seq 5: signature does not verify with the audit key"],
        );
    }

    #[test]
    fn an_event_that_needed_the_token_after_the_last_checkpoint_is_named() {
        let (_d, mut l, _) = ledger();
        // Appended and committed without a checkpoint, as by someone without the token.
        let tx = l.begin().unwrap();
        tx.append("mallory", &vault_initialised("s")).unwrap();
        tx.commit().unwrap();
        failed(
            &l,
            7,
            &["event 7 needed the token but no signed checkpoint covers it (checkpoints removed, or events appended without the token)"],
        );
    }

    #[test]
    fn a_checkpoint_older_than_the_audit_key_is_named() {
        let (_d, l, key) = ledger();
        let (seq, hash) = (1, event(&l, 1).hash);
        let time = "2026-01-01T00:00:00Z";
        let sig = key.checkpoint(seq, &hash, time).signature;
        tamper(
            &l,
            &format!("INSERT INTO checkpoints (seq, hash, time, key_label, signature) VALUES (1, '{hash}', '{time}', 'rootvault-audit', '{sig}');"),
        );
        failed(
            &l,
            1,
            &["checkpoint at seq 1 predates the audit key (event 2)"],
        );
    }

    #[test]
    fn the_head_is_the_last_events_seq_and_hash_and_checkpoints_after_a_seq_are_the_newer_ones() {
        let (_d, l, _) = ledger();
        assert_eq!(l.head().unwrap(), (6, event(&l, 6).hash));
        let seqs = |after| -> Vec<i64> {
            l.checkpoints_after(after)
                .unwrap()
                .iter()
                .map(|c| c.seq)
                .collect()
        };
        assert_eq!(seqs(0), [2, 5]);
        assert_eq!(seqs(2), [5]);
        assert_eq!(seqs(5), Vec::<i64>::new());
        let empty = tempfile::tempdir().unwrap();
        let fresh = Ledger::create(&empty.path().join("l.sqlite")).unwrap();
        assert_eq!(fresh.head().unwrap(), (0, GENESIS.to_owned()));
    }

    #[test]
    fn the_signed_message_is_the_four_documented_lines() {
        assert_eq!(
            Checkpoint::message(5, "ab12", "2026-12-05T10:00:00Z"),
            "rootvault-checkpoint-v1\nseq=5\nhash=ab12\ntime=2026-12-05T10:00:00Z\n"
        );
    }

    /// The receipt an export of this ledger carries for the checkpoint at 5, as JSON.
    fn receipt_json(l: &Ledger, key: &SoftAuditKey) -> serde_json::Value {
        let cp = l.latest_checkpoint().unwrap().unwrap();
        serde_json::to_value(Receipt::new(&cp, &key.public.spki_der())).unwrap()
    }

    #[test]
    fn a_receipt_parses_only_when_its_format_message_and_signature_agree() {
        let (_d, l, key) = ledger();
        let good = receipt_json(&l, &key);
        let parsed = Receipt::parse(&good.to_string()).unwrap();
        assert_eq!((parsed.seq, &parsed.hash), (5, &event(&l, 5).hash));
        assert_eq!(parsed.audit_key_der().unwrap(), key.public.spki_der());
        let edited = |field: &str, value: serde_json::Value| {
            let mut r = good.clone();
            r[field] = value;
            Receipt::parse(&r.to_string()).unwrap_err()
        };
        assert_eq!(
            edited("format", "rootvault-receipt-v0".into()),
            "format \"rootvault-receipt-v0\" is not rootvault-receipt-v1"
        );
        assert_eq!(
            edited("seq", 4.into()),
            "its message does not match its seq, hash and time"
        );
        // The message edited along with the seq: only the signature notices.
        let mut moved = good.clone();
        moved["seq"] = 4.into();
        moved["message"] = Checkpoint::message(4, &parsed.hash, &parsed.time).into();
        assert_eq!(
            Receipt::parse(&moved.to_string()).unwrap_err(),
            "signature does not verify with the audit key"
        );
        let cert = pem::encode(&pem::Pem::new("CERTIFICATE", key.public.spki_der()));
        assert_eq!(
            edited("audit_public_key_pem", cert.into()),
            "audit key PEM is a CERTIFICATE, not a PUBLIC KEY"
        );
    }

    #[test]
    fn a_receipt_is_checked_against_the_ledgers_audit_key_and_the_event_it_attests() {
        let (_d, l, key) = ledger();
        let receipt = |cp: &Checkpoint, k: &SoftAuditKey| Receipt::new(cp, &k.public.spki_der());
        let cp = l.latest_checkpoint().unwrap().unwrap();
        assert_eq!(
            l.check_receipt(&receipt(&cp, &key)).unwrap(),
            Vec::<String>::new()
        );
        let other = SoftAuditKey::new();
        let by_other = other.checkpoint(cp.seq, &cp.hash, &cp.time);
        assert_eq!(
            l.check_receipt(&receipt(&by_other, &other)).unwrap(),
            ["the receipt's audit key is not this ledger's audit key"]
        );
        let rewritten = key.checkpoint(4, &"0".repeat(64), &cp.time);
        assert_eq!(
            l.check_receipt(&receipt(&rewritten, &key)).unwrap(),
            ["event 4 no longer has the hash the receipt attests (rewritten)"]
        );
        let beyond = key.checkpoint(9, &cp.hash, &cp.time);
        assert_eq!(
            l.check_receipt(&receipt(&beyond, &key)).unwrap(),
            ["the receipt attests event 9, which the ledger no longer contains (truncated)"]
        );
        let empty = tempfile::tempdir().unwrap();
        let keyless = Ledger::create(&empty.path().join("l.sqlite")).unwrap();
        assert_eq!(
            keyless.check_receipt(&receipt(&cp, &key)).unwrap(),
            [
                "this ledger has no audit key, but the receipt was signed by one",
                "the receipt attests event 5, which the ledger no longer contains (truncated)"
            ]
        );
    }
}
