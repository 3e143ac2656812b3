//! What the ledger's unit tests share: a software audit key standing in for the token's, a
//! vault's first two events, and the edits someone with the file and no token can make
//! (triggers dropped, an event rewritten and rehashed as docs/ledger.md specifies).

use base64::Engine as _;

use super::*;
use crate::keys::{KeyAlg, PublicKey, RawSigner, SignFailure};

/// A software P-256 key standing in for the audit key on the token.
pub(super) struct SoftAuditKey {
    key: rcgen::KeyPair,
    pub(super) public: PublicKey,
}

impl SoftAuditKey {
    pub(super) fn new() -> SoftAuditKey {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let public = PublicKey::new(KeyAlg::EcP256, key.public_key_raw().to_vec());
        SoftAuditKey { key, public }
    }

    /// A checkpoint over `(seq, hash, time)` signed by this key.
    pub(super) fn checkpoint(&self, seq: i64, hash: &str, time: &str) -> Checkpoint {
        let sig = self
            .sign(Checkpoint::message(seq, hash, time).as_bytes())
            .unwrap();
        Checkpoint {
            seq,
            hash: hash.to_owned(),
            time: time.to_owned(),
            key_label: "rootvault-audit".into(),
            signature: base64::engine::general_purpose::STANDARD.encode(sig),
        }
    }
}

impl RawSigner for SoftAuditKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignFailure> {
        rcgen::SigningKey::sign(&self.key, msg).map_err(|e| SignFailure(e.to_string()))
    }
}

/// A `vault_initialised` for the token with serial `token_serial`.
pub(super) fn vault_initialised(token_serial: &str) -> Event {
    Event::VaultInitialised(VaultInitialised {
        module: "/usr/lib/softhsm/libsofthsm2.so".into(),
        token: "unit".into(),
        token_label: "unit".into(),
        token_serial: token_serial.into(),
        token_model: "SoftHSM v2".into(),
        rootvault_version: "0.1.0".into(),
        module_sha256: None,
        trust_domain: None,
        software: None,
    })
}

/// A new ledger holding `vault_initialised` and `audit_key_created`, attested by the key
/// returned (the checkpoint at 2).
pub(super) fn initialised() -> (tempfile::TempDir, Ledger, SoftAuditKey) {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::create(&dir.path().join("ledger.sqlite")).unwrap();
    let key = SoftAuditKey::new();
    let tx = l.begin().unwrap();
    tx.append("ana", &vault_initialised("0123456789abcdef"))
        .unwrap();
    tx.append(
        "ana",
        &Event::AuditKeyCreated(AuditKeyCreated {
            key_label: "rootvault-audit".into(),
            key_id: "01".into(),
            key_type: "ecdsa-p256".into(),
            public_key_der_base64: base64::engine::general_purpose::STANDARD
                .encode(key.public.spki_der()),
            token_serial: "0123456789abcdef".into(),
        }),
    )
    .unwrap();
    tx.commit_attested(&key, "rootvault-audit").unwrap();
    (dir, l, key)
}

/// Appends `events` in one transaction attested by `key`, as a token action does.
pub(super) fn attested(l: &mut Ledger, key: &SoftAuditKey, events: &[Event]) {
    let tx = l.begin().unwrap();
    for e in events {
        tx.append("ana", e).unwrap();
    }
    tx.commit_attested(key, "rootvault-audit").unwrap();
}

/// Runs `sql` with the append-only triggers of the chain dropped, and puts them back as they
/// were (their own SQL, read from the schema); foreign keys are off, as in the `sqlite3`
/// shell an attacker would use.
pub(super) fn tamper(l: &Ledger, sql: &str) {
    let names = [
        "events_append_only_update",
        "events_append_only_delete",
        "checkpoints_append_only_update",
        "checkpoints_append_only_delete",
    ];
    let created: Vec<String> = names
        .iter()
        .map(|n| {
            l.conn
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
                    [n],
                    |r| r.get(0),
                )
                .unwrap()
        })
        .collect();
    let dropped: String = names.iter().map(|n| format!("DROP TRIGGER {n};")).collect();
    l.conn
        .execute_batch(&format!(
            "PRAGMA foreign_keys = OFF; BEGIN; {dropped} {sql} {}; COMMIT; PRAGMA foreign_keys = ON;",
            created.join(";\n")
        ))
        .unwrap();
}

/// The stored event at `seq`.
pub(super) fn event(l: &Ledger, seq: i64) -> StoredEvent {
    let mut found = None;
    l.for_each_event(seq, |e| {
        if e.seq == seq {
            found = Some(e);
        }
        Ok(())
    })
    .unwrap();
    found.unwrap()
}

/// `e` stored at `seq` with `prev_hash`, its hash recomputed as a forger would.
pub(super) fn rehashed(mut e: StoredEvent, seq: i64, prev_hash: &str) -> StoredEvent {
    e.seq = seq;
    e.prev_hash = prev_hash.to_owned();
    e.hash = e.fields().hash_hex();
    e
}

/// The SQL that stores `e`.
pub(super) fn insert_sql(e: &StoredEvent) -> String {
    let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
    format!(
        "INSERT INTO events (seq, time, kind, actor, payload, prev_hash, hash) VALUES ({}, {}, {}, {}, {}, {}, {});",
        e.seq,
        q(&e.time),
        q(&e.kind),
        q(&e.actor),
        q(&e.payload),
        q(&e.prev_hash),
        q(&e.hash)
    )
}

/// Gives the last event the time `time`, rehashed, as someone forging when it happened would
/// (the checkpoint that signed it no longer matches; tests that use this look at other
/// problems).
pub(super) fn retimed_head(l: &Ledger, time: &str) {
    let (seq, _) = l.head().unwrap();
    let mut e = event(l, seq);
    e.time = time.to_owned();
    let e = rehashed(e.clone(), seq, &e.prev_hash);
    tamper(
        l,
        &format!("DELETE FROM events WHERE seq = {seq}; {}", insert_sql(&e)),
    );
}
