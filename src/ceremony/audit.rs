//! The audit key and signed checkpoints: after every ceremony action the ledger head is signed
//! on the token by a key kept for nothing else (the root key signs only certificates and
//! CRLs), so a ledger rewritten without the token no longer verifies.

use base64::Engine as _;

use std::cell::RefCell;

use super::state::{self, TokenState};
use super::{Operator, Output};
use crate::error::{Error, Refusal, Result};
use crate::hsm::{TokenKey, UserSession};
use crate::keys::{KeyType, RawSigner};
use crate::ledger::{Appender, AuditKeyCreated, Checkpoint, Event, Ledger, Receipt, StoredEvent};
use crate::vault::Vault;

/// A write transaction of a token action, made only by [`Attestor::begin`]: its first event,
/// when the running binary is not the one the ledger last recorded, is `software_changed`,
/// so the action's events are attributed to the binary that made them and the record is
/// covered by the action's checkpoint. Only [`Attestor::commit`] ends one.
pub(crate) struct TokenTx<'l>(Appender<'l>);

impl<'l> std::ops::Deref for TokenTx<'l> {
    type Target = Appender<'l>;
    fn deref(&self) -> &Appender<'l> {
        &self.0
    }
}

/// Appends `software_changed` unless the running binary is the last one recorded. Decided
/// inside `tx` (under the write lock), so two processes cannot both record it.
fn record_software(tx: &Appender<'_>, operator: &str) -> Result<()> {
    let current = crate::software::current()?;
    if tx.software()?.as_ref() != Some(current) {
        tx.append(operator, &Event::SoftwareChanged(current.clone()))?;
    }
    Ok(())
}

/// CKA_LABEL of the audit key pair.
pub const AUDIT_KEY_LABEL: &str = "rootvault-audit";

/// The audit key on the token, ready to sign checkpoints, and the ledger state the token
/// holds (`state.rs`), checked against the ledger when the attestor was made.
pub(crate) struct Attestor<'s> {
    key: TokenKey<'s>,
    session: &'s UserSession,
    state: RefCell<TokenState>,
    operator: String,
}

impl Attestor<'_> {
    /// Starts the action's write transaction (`BEGIN IMMEDIATE`), recording first which
    /// binary is acting if it is not the one the ledger last recorded.
    pub(crate) fn begin<'l>(&self, ledger: &'l mut Ledger) -> Result<TokenTx<'l>> {
        let tx = ledger.begin()?;
        record_software(&tx, &self.operator)?;
        Ok(TokenTx(tx))
    }

    /// Takes a transaction another gate began (the witnesses' `Attested::begin`, which
    /// records the witnessed statement first) as this action's, recording which binary acts.
    pub(crate) fn take<'l>(&self, tx: Appender<'l>) -> Result<TokenTx<'l>> {
        record_software(&tx, &self.operator)?;
        Ok(TokenTx(tx))
    }

    /// Commits `tx` together with a checkpoint of the head it reaches, then brings the
    /// token's state up to that head. The events folded in are this transaction's and any
    /// refusal another process recorded since the check (the only events that need no token);
    /// an event that needed the token but is not this transaction's is refused.
    pub(crate) fn commit(&self, tx: TokenTx<'_>) -> Result<Checkpoint> {
        let TokenTx(tx) = tx;
        let mut state = self.state.borrow().clone();
        let required = state.witnesses_required;
        let ours = tx.first_appended();
        let mut own = Vec::new();
        for ev in tx.events_after(state.seq)? {
            let broken = |detail: &str| state::Mismatch::Broken {
                seq: ev.seq,
                detail: detail.to_owned(),
            };
            if ev.prev_hash != state.hash || ev.recomputed_hash() != ev.hash {
                return Err(broken("it does not chain from the head the token attested").into());
            }
            let event = Event::parse(&ev.kind, &ev.payload).map_err(|e| broken(&e.to_string()))?;
            if event.requires_token() && ours.is_none_or(|first| ev.seq < first) {
                return Err(broken(
                    "it needed the token but was appended by another process without it",
                )
                .into());
            }
            if ours.is_some_and(|first| ev.seq >= first) {
                own.push(event.clone());
            }
            state.apply(ev.seq, &ev.hash, &event);
        }
        // Once witnesses are required, a trust-changing event is recorded only behind the
        // gate's `action_witnessed` record, whatever code path appended it.
        super::witness::check_witnessed(&own, required)?;
        let cp = tx.commit_attested(&self.key, self.key.label())?;
        crate::fault::point("state.before_token_write");
        // The action is complete: recorded and attested. Should the token fail to take the new
        // head now (removed, say), the next check finds this tail chained from the head it
        // holds and covered by a checkpoint of its audit key, and folds it in then; so this
        // failure delays the token's state by one action and is not the action's failure.
        if state::write(self.session, &state).is_ok() {
            *self.state.borrow_mut() = state;
        }
        Ok(cp)
    }

    /// The token's state, as of the last check or commit.
    pub(crate) fn state(&self) -> TokenState {
        self.state.borrow().clone()
    }

    /// The audit key's public key (DER SubjectPublicKeyInfo), as the token has it.
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        self.key.public_key().spki_der()
    }

    /// Signs `message` with the audit key (ECDSA, DER).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.key
            .sign(message)
            .map_err(|e| crate::ledger::LedgerError::Signing(e.0).into())
    }
}

/// The vault's audit key on the token, checked against the ledger, and the ledger checked
/// against the state the token holds ([`state::check`]); for a vault that has no audit key
/// (made before audit keys existed), generates it and records it with its first checkpoint.
pub(crate) fn attestor<'s>(
    vault: &Vault,
    session: &'s UserSession,
    operator: &Operator,
) -> Result<Attestor<'s>> {
    let key = audit_key(vault, session, operator)?;
    let checked = state::check(&vault.ledger()?, session, &key.public_key().spki_der())?;
    Ok(Attestor {
        key,
        session,
        state: RefCell::new(checked.state),
        operator: operator.0.clone(),
    })
}

fn audit_key<'s>(
    vault: &Vault,
    session: &'s UserSession,
    operator: &Operator,
) -> Result<TokenKey<'s>> {
    let mut ledger = vault.ledger()?;
    let audit = match ledger.audit_key()? {
        Some(a) => a,
        None => return create_audit_key(vault, &mut ledger, session, operator),
    };
    let id = audit.key_id_bytes()?;
    let key = session.find_key_pair(KeyType::EcdsaP256, &audit.key_label, &id)?;
    let recorded = audit.public_key_der()?;
    if key.public_key().spki_der() != recorded {
        return Err(Error::Ledger(crate::ledger::LedgerError::Integrity(format!(
            "the key labelled {:?} on the token is not the audit key the ledger records, so the ledger was altered; refusing to sign checkpoints over it",
            audit.key_label
        ))));
    }
    Ok(key)
}

fn create_audit_key<'s>(
    vault: &Vault,
    ledger: &mut Ledger,
    session: &'s UserSession,
    operator: &Operator,
) -> Result<TokenKey<'s>> {
    let key = match session.generate_key_pair(KeyType::EcdsaP256, AUDIT_KEY_LABEL) {
        Ok(k) => k,
        // The ledger records no audit key, yet the token holds one: the ledger was stripped
        // of it. Never make a second key (it would sign the altered history), and never
        // suggest deleting the real one.
        Err(crate::hsm::HsmError::LabelExists(_)) => {
            return Err(Error::Ledger(crate::ledger::LedgerError::Integrity(format!(
                "the token holds an audit key ({AUDIT_KEY_LABEL:?}) that the ledger does not record, so the ledger was altered; do not delete the key: restore the vault from a backup and check it with `ledger verify --receipt`"
            ))))
        }
        Err(e) => return Err(e.into()),
    };
    let payload = AuditKeyCreated {
        key_label: key.label().to_owned(),
        key_id: hex::encode(key.id()),
        key_type: KeyType::EcdsaP256.name().to_owned(),
        public_key_der_base64: base64::engine::general_purpose::STANDARD
            .encode(key.public_key().spki_der()),
        token_serial: vault.config().token.serial.clone(),
    };
    let recorded = (|| -> Result<()> {
        let protection = session.protection(&key)?;
        if !protection.is_locked_in() {
            return Err(Error::KeyNotLockedIn {
                what: "audit key",
                protection,
            });
        }
        let tx = ledger.begin()?;
        if tx.audit_key()?.is_some() {
            return Err(Error::Raced(
                "another process created the audit key meanwhile",
            ));
        }
        record_software(&tx, &operator.0)?;
        tx.append(&operator.0, &Event::AuditKeyCreated(payload.clone()))?;
        tx.commit_attested(&key, key.label())?;
        Ok(())
    })();
    match recorded {
        Ok(()) => Ok(key),
        Err(e) => {
            let _ = session.destroy_key_pair(key);
            Err(e)
        }
    }
}

/// A receipt for the newest checkpoint, as JSON, if the vault has one.
pub(crate) fn receipt_json(ledger: &Ledger) -> Result<Option<String>> {
    let (Some(cp), Some(audit)) = (ledger.latest_checkpoint()?, ledger.audit_key()?) else {
        return Ok(None);
    };
    let der = audit.public_key_der()?;
    let receipt = Receipt::new(&cp, &der);
    Ok(Some(
        serde_json::to_string_pretty(&receipt).expect("receipts serialize") + "\n",
    ))
}

/// The audit public key, PEM, if the vault has one.
pub fn audit_public_key_pem(vault: &Vault) -> Result<Option<String>> {
    let Some(audit) = vault.ledger()?.audit_key()? else {
        return Ok(None);
    };
    let der = audit.public_key_der()?;
    Ok(Some(crate::x509::to_pem("PUBLIC KEY", &der)))
}

/// `ledger verify --receipt`: the receipt is genuine and the ledger still contains its head.
pub fn check_receipt(vault: &Vault, text: &str) -> Result<Vec<String>> {
    let receipt = match Receipt::parse(text) {
        Ok(r) => r,
        Err(e) => return Ok(vec![format!("the receipt is not valid: {e}")]),
    };
    Ok(vault.ledger()?.check_receipt(&receipt)?)
}

/// `ledger verify --receipt FILE`: [`check_receipt`] on a receipt file; an unreadable file is
/// a rejected input (exit 3).
pub fn check_receipt_file(vault: &Vault, path: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|source| Refusal::Unreadable {
        what: "receipt",
        path: path.to_owned(),
        source,
    })?;
    Ok(check_receipt(vault, &text)?
        .into_iter()
        .map(|p| format!("receipt {}: {p}", path.display()))
        .collect())
}

/// The events from `since` on, as stored.
pub fn ledger_events(vault: &Vault, since: i64) -> Result<Vec<StoredEvent>> {
    let mut events = Vec::new();
    vault.ledger()?.for_each_event(since, |e| {
        events.push(e);
        Ok(())
    })?;
    Ok(events)
}

/// `ledger export`: every event as a JSON line with its hashes, then every checkpoint (one per
/// line under a `checkpoint` key), then the audit key (so an auditor can check the
/// checkpoints; pin it out of band: `root show` and the ceremony transcript print it).
/// Returns the number of events written.
pub fn export_ledger(vault: &Vault, out: &Output) -> Result<i64> {
    let ledger = vault.ledger()?;
    let mut lines = Vec::new();
    let mut count = 0;
    ledger.for_each_event(1, |e| {
        serde_json::to_writer(&mut lines, &e).expect("events serialize");
        lines.push(b'\n');
        count += 1;
        Ok(())
    })?;
    for cp in ledger.checkpoints()? {
        serde_json::to_writer(&mut lines, &serde_json::json!({ "checkpoint": cp }))
            .expect("checkpoints serialize");
        lines.push(b'\n');
    }
    if let Some(pem) = audit_public_key_pem(vault)? {
        serde_json::to_writer(
            &mut lines,
            &serde_json::json!({ "audit_public_key_pem": pem }),
        )
        .expect("strings serialize");
        lines.push(b'\n');
    }
    crate::fsio::write_file(&out.path, &lines, out.force)?;
    Ok(count)
}
