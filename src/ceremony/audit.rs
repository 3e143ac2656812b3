//! The audit key and signed checkpoints: after every ceremony action the ledger head is signed
//! on the token by a key kept for nothing else (the root key signs only certificates and
//! CRLs), so a ledger rewritten without the token no longer verifies.

use base64::Engine as _;

use super::Operator;
use crate::error::{Error, Result};
use crate::hsm::{TokenKey, UserSession};
use crate::keys::{KeyType, RawSigner};
use crate::ledger::{Appender, AuditKeyCreated, Checkpoint, Event, Ledger, Receipt};
use crate::vault::Vault;

/// CKA_LABEL of the audit key pair.
pub const AUDIT_KEY_LABEL: &str = "rootvault-audit";

/// The audit key on the token, ready to sign checkpoints.
pub(crate) struct Attestor<'s> {
    key: TokenKey<'s>,
}

impl Attestor<'_> {
    /// Commits `tx` together with a checkpoint of the head it reaches.
    pub(crate) fn commit(&self, tx: Appender<'_>) -> Result<Checkpoint> {
        Ok(tx.commit_attested(&self.key, self.key.label())?)
    }
}

/// The vault's audit key on the token, checked against the ledger; for a vault that has none
/// (made before audit keys existed), generates it and records it with its first checkpoint.
pub(crate) fn attestor<'s>(
    vault: &Vault,
    session: &'s UserSession,
    operator: &Operator,
) -> Result<Attestor<'s>> {
    let mut ledger = vault.ledger()?;
    let audit = match ledger.audit_key()? {
        Some(a) => a,
        None => return create_audit_key(vault, &mut ledger, session, operator),
    };
    let id = hex::decode(&audit.key_id).map_err(|_| {
        Error::Config(format!(
            "the ledger's audit key id {:?} is not hex",
            audit.key_id
        ))
    })?;
    let key = session.find_key_pair(KeyType::EcdsaP256, &audit.key_label, &id)?;
    let recorded = base64::engine::general_purpose::STANDARD
        .decode(&audit.public_key_der_base64)
        .map_err(|e| Error::Config(format!("the ledger's audit key is not base64: {e}")))?;
    if key.public_key().spki_der() != recorded {
        return Err(Error::Ledger(crate::ledger::LedgerError::Integrity(format!(
            "the key labelled {:?} on the token is not the audit key the ledger records, so the ledger was altered; refusing to sign checkpoints over it",
            audit.key_label
        ))));
    }
    Ok(Attestor { key })
}

fn create_audit_key<'s>(
    vault: &Vault,
    ledger: &mut Ledger,
    session: &'s UserSession,
    operator: &Operator,
) -> Result<Attestor<'s>> {
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
            return Err(Error::Config(format!(
                "the token created the audit key without the required protection ({protection:?})"
            )));
        }
        let tx = ledger.begin()?;
        if tx.audit_key()?.is_some() {
            return Err(Error::Config(
                "another process created the audit key meanwhile; run the action again".into(),
            ));
        }
        tx.append(&operator.0, &Event::AuditKeyCreated(payload.clone()))?;
        tx.commit_attested(&key, key.label())?;
        Ok(())
    })();
    match recorded {
        Ok(()) => Ok(Attestor { key }),
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
    let der = base64::engine::general_purpose::STANDARD
        .decode(&audit.public_key_der_base64)
        .map_err(|e| Error::Config(format!("the ledger's audit key is not base64: {e}")))?;
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
    let der = base64::engine::general_purpose::STANDARD
        .decode(&audit.public_key_der_base64)
        .map_err(|e| Error::Config(format!("the ledger's audit key is not base64: {e}")))?;
    Ok(Some(pem::encode(&pem::Pem::new("PUBLIC KEY", der))))
}

/// `ledger verify --receipt`: the receipt is genuine and the ledger still contains its head.
pub fn check_receipt(vault: &Vault, text: &str) -> Result<Vec<String>> {
    let receipt = match Receipt::parse(text) {
        Ok(r) => r,
        Err(e) => return Ok(vec![format!("the receipt is not valid: {e}")]),
    };
    Ok(vault.ledger()?.check_receipt(&receipt)?)
}
