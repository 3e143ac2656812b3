//! A write transaction on the ledger: appends under `BEGIN IMMEDIATE`, the rows each event
//! implies in the same transaction, and the commit with a signed checkpoint.

#[allow(unused_imports)]
use super::queries::*;
#[allow(unused_imports)]
use super::*;
#[allow(unused_imports)]
use rusqlite::{params, OptionalExtension};

/// A write transaction on the ledger. Dropped without [`Appender::commit`], it rolls back.
pub struct Appender<'l> {
    pub(super) tx: rusqlite::Transaction<'l>,
    pub(super) path: &'l Path,
    pub(super) first_appended: std::cell::Cell<Option<i64>>,
}

impl Appender<'_> {
    fn err(&self, op: &'static str) -> impl FnOnce(rusqlite::Error) -> LedgerError + '_ {
        move |source| sqlite_error(self.path, op, source)
    }

    /// The vault's active root generation, read inside this transaction.
    pub fn root(&self) -> Result<Option<RootRecord>, LedgerError> {
        root_of(&self.tx).map_err(self.err("reading the root"))
    }

    /// Every root generation, read inside this transaction.
    pub fn generations(&self) -> Result<Vec<GenerationRecord>, LedgerError> {
        generations_of(&self.tx).map_err(self.err("reading the root generations"))
    }

    /// The most recent CRL of `generation`, read inside this transaction.
    pub fn last_crl_of(&self, generation: u32) -> Result<Option<CrlRow>, LedgerError> {
        last_crl_of_generation(&self.tx, generation).map_err(self.err("reading crls"))
    }

    /// Whether a certificate with this serial was ever issued by the vault.
    pub fn serial_exists(&self, serial: &str) -> Result<bool, LedgerError> {
        serial_exists(&self.tx, serial).map_err(self.err("checking serial uniqueness"))
    }

    /// The audit key, read inside this transaction.
    pub fn audit_key(&self) -> Result<Option<AuditKeyCreated>, LedgerError> {
        audit_key_of(&self.tx).map_err(self.err("reading the audit key"))
    }

    /// The head (last seq and hash), read inside this transaction.
    pub fn head(&self) -> Result<(i64, String), LedgerError> {
        head_of(&self.tx).map_err(self.err("reading the head"))
    }

    /// The seq of the first event this transaction appended, if any.
    pub fn first_appended(&self) -> Option<i64> {
        self.first_appended.get()
    }

    /// The events after `seq`, as this transaction sees them.
    pub fn events_after(&self, seq: i64) -> Result<Vec<StoredEvent>, LedgerError> {
        let mut stmt = self
            .tx
            .prepare("SELECT seq, time, kind, actor, payload, prev_hash, hash FROM events WHERE seq > ?1 ORDER BY seq")
            .map_err(self.err("reading events"))?;
        let rows = stmt
            .query_map([seq], stored_event_from_row)
            .map_err(self.err("reading events"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("reading events"))
    }

    /// The rootvault binary that wrote last, as recorded by the newest `software_changed`
    /// event or else by `vault_initialised` (`None` when neither records one: a vault made
    /// before binaries were recorded). Read inside this transaction, through the index on
    /// `kind` (`events_by_kind`, migration 0004; its entries carry the seq), so it costs the same at any ledger size.
    pub fn software(&self) -> Result<Option<Software>, LedgerError> {
        software_of(&self.tx).map_err(self.err("reading the recorded software"))
    }

    /// Whether a checkpoint exists at `seq`.
    pub fn has_checkpoint(&self, seq: i64) -> Result<bool, LedgerError> {
        self.tx
            .query_row(
                "SELECT count(*) > 0 FROM checkpoints WHERE seq = ?1",
                [seq],
                |r| r.get(0),
            )
            .map_err(self.err("reading checkpoints"))
    }

    /// Stores a signed checkpoint.
    pub fn add_checkpoint(&self, cp: &Checkpoint) -> Result<(), LedgerError> {
        self.tx
            .execute(
                "INSERT INTO checkpoints (seq, hash, time, key_label, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![cp.seq, cp.hash, cp.time, cp.key_label, cp.signature],
            )
            .map(drop)
            .map_err(self.err("storing a checkpoint"))
    }

    /// Whether this serial is already revoked, read inside this transaction.
    pub fn is_revoked(&self, serial: &str) -> Result<bool, LedgerError> {
        rows::read::<RevocationRow>(&self.tx, rusqlite::types::Value::Text(serial.to_owned()))
            .map(|r| r.is_some())
            .map_err(self.err("reading revocations"))
    }

    /// The most recent CRL, read inside this transaction.
    pub fn last_crl(&self) -> Result<Option<CrlRow>, LedgerError> {
        last_crl_of(&self.tx).map_err(self.err("reading crls"))
    }

    /// Appends `event` and the rows it implies; returns the stored event.
    pub fn append(&self, actor: &str, event: &Event) -> Result<StoredEvent, LedgerError> {
        // The next seq follows the last one; a gap left by a deleted event is for `verify`
        // to name, not for every append to look for.
        let (last_seq, prev_hash) = head_of(&self.tx).map_err(self.err("reading the head"))?;
        let seq = last_seq + 1;
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let payload = event.payload_json();
        let fields = EventFields {
            seq,
            time: &time,
            kind: event.kind(),
            actor,
            payload: &payload,
            prev_hash: &prev_hash,
        };
        let hash = fields.hash_hex();
        if self.first_appended.get().is_none() {
            self.first_appended.set(Some(seq));
        }
        self.tx
            .execute(
                "INSERT INTO events (seq, time, kind, actor, payload, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![seq, time, event.kind(), actor, payload, prev_hash, hash],
            )
            .map_err(self.err("appending an event"))?;
        let projection = event
            .project(seq)
            .map_err(|e| LedgerError::Integrity(format!("event being appended: {e}")))?;
        projection
            .insert(&self.tx)
            .map_err(self.err("recording the event's derived rows"))?;
        Ok(StoredEvent {
            seq,
            time,
            kind: event.kind().to_owned(),
            actor: actor.to_owned(),
            payload,
            prev_hash,
            hash,
        })
    }

    /// Signs the head reached by this transaction's appends with the audit key and commits
    /// the events and the checkpoint together: a crash leaves both or neither, so every
    /// event that needed the token is covered by a checkpoint.
    pub fn commit_attested(
        self,
        audit_key: &dyn crate::keys::RawSigner,
        key_label: &str,
    ) -> Result<Checkpoint, LedgerError> {
        use base64::Engine as _;
        let (seq, hash) = self.head()?;
        let time = crate::time::rfc3339(chrono::Utc::now());
        let message = Checkpoint::message(seq, &hash, &time);
        let signature = audit_key
            .sign(message.as_bytes())
            .map_err(|e| LedgerError::Signing(e.0))?;
        let cp = Checkpoint {
            seq,
            hash,
            time,
            key_label: key_label.to_owned(),
            signature: base64::engine::general_purpose::STANDARD.encode(signature),
        };
        if !self.has_checkpoint(seq)? {
            self.add_checkpoint(&cp)?;
        }
        crate::fault::point("ledger.before_commit");
        self.commit()?;
        crate::fault::point("ledger.after_commit");
        Ok(cp)
    }

    /// Makes every append of this transaction durable.
    pub fn commit(self) -> Result<(), LedgerError> {
        let path = self.path;
        self.tx
            .commit()
            .map_err(|e| sqlite_error(path, "committing", e))
    }
}
