//! Signed checkpoints and receipts: the ledger head signed by the audit key on the token.
//!
//! The signed message (docs/audit.md) is ASCII text, four lines each ending in `\n`:
//!
//! ```text
//! rootvault-checkpoint-v1
//! seq=<decimal>
//! hash=<64 lowercase hex>
//! time=<RFC 3339 UTC>
//! ```
//!
//! signed with ECDSA P-256 and SHA-256, the signature DER-encoded (what
//! `openssl dgst -sha256 -verify audit.pem -signature sig.der message.txt` checks).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The first line of every checkpoint message.
pub const CHECKPOINT_DOMAIN: &str = "rootvault-checkpoint-v1";
/// The `format` of a receipt.
pub const RECEIPT_FORMAT: &str = "rootvault-receipt-v1";

/// A signed ledger head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The seq of the event attested (the head when it was signed).
    pub seq: i64,
    /// That event's hash.
    pub hash: String,
    /// When it was signed, RFC 3339 UTC.
    pub time: String,
    /// CKA_LABEL of the audit key, as stored beside the checkpoint. It is not in the signed
    /// message, so it is never serialized: what is exported is only what the signature covers
    /// (seq, hash, time) and the signature.
    #[serde(skip)]
    pub key_label: String,
    /// Base64 of the DER ECDSA signature over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes signed.
    pub fn message(seq: i64, hash: &str, time: &str) -> String {
        format!("{CHECKPOINT_DOMAIN}\nseq={seq}\nhash={hash}\ntime={time}\n")
    }

    /// Whether the signature verifies with the audit key (DER SubjectPublicKeyInfo of a
    /// P-256 key).
    pub fn verify(&self, audit_spki_der: &[u8]) -> Result<(), String> {
        self.verify_message(
            audit_spki_der,
            Self::message(self.seq, &self.hash, &self.time).as_bytes(),
        )
    }

    /// Whether the signature is the audit key's over `message` (for other texts the audit
    /// key signs, such as a backup's manifest).
    pub fn verify_message(&self, audit_spki_der: &[u8], message: &[u8]) -> Result<(), String> {
        let sig = base64::engine::general_purpose::STANDARD
            .decode(&self.signature)
            .map_err(|e| format!("signature is not base64: {e}"))?;
        let point = ec_point_of(audit_spki_der)?;
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, point)
            .verify(message, &sig)
            .map_err(|_| "signature does not verify with the audit key".to_owned())
    }
}

/// The uncompressed point of a P-256 SubjectPublicKeyInfo.
fn ec_point_of(spki_der: &[u8]) -> Result<Vec<u8>, String> {
    use x509_parser::prelude::FromDer;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|e| format!("audit key does not parse: {e}"))?;
    Ok(spki.subject_public_key.data.to_vec())
}

/// What an export carries as `ledger-receipt.json`: a checkpoint and the key to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// The attested head's seq.
    pub seq: i64,
    /// The attested head's hash.
    pub hash: String,
    /// When it was signed.
    pub time: String,
    /// The signed message, exactly (for `openssl dgst -verify`).
    pub message: String,
    /// Base64 DER ECDSA signature.
    pub signature: String,
    /// The audit public key, PEM.
    pub audit_public_key_pem: String,
}

impl Receipt {
    /// A receipt for `checkpoint`, signed by the key `audit_spki_der`.
    pub fn new(checkpoint: &Checkpoint, audit_spki_der: &[u8]) -> Receipt {
        Receipt {
            format: RECEIPT_FORMAT.to_owned(),
            seq: checkpoint.seq,
            hash: checkpoint.hash.clone(),
            time: checkpoint.time.clone(),
            message: Checkpoint::message(checkpoint.seq, &checkpoint.hash, &checkpoint.time),
            signature: checkpoint.signature.clone(),
            audit_public_key_pem: pem::encode_config(
                &pem::Pem::new("PUBLIC KEY", audit_spki_der.to_vec()),
                pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
            ),
        }
    }

    /// Parses a receipt file and checks it is self-consistent (format, message, signature).
    pub fn parse(text: &str) -> Result<Receipt, String> {
        let r: Receipt = serde_json::from_str(text).map_err(|e| format!("not a receipt: {e}"))?;
        if r.format != RECEIPT_FORMAT {
            return Err(format!("format {:?} is not {RECEIPT_FORMAT}", r.format));
        }
        if r.message != Checkpoint::message(r.seq, &r.hash, &r.time) {
            return Err("its message does not match its seq, hash and time".into());
        }
        r.checkpoint().verify(&r.audit_key_der()?)?;
        Ok(r)
    }

    /// The audit key, DER.
    pub fn audit_key_der(&self) -> Result<Vec<u8>, String> {
        let p =
            pem::parse(&self.audit_public_key_pem).map_err(|e| format!("audit key PEM: {e}"))?;
        if p.tag() != "PUBLIC KEY" {
            return Err(format!("audit key PEM is a {}, not a PUBLIC KEY", p.tag()));
        }
        Ok(p.into_contents())
    }

    /// The checkpoint it carries.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            seq: self.seq,
            hash: self.hash.clone(),
            time: self.time.clone(),
            key_label: String::new(),
            signature: self.signature.clone(),
        }
    }
}
