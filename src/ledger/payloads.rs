//! The payloads of the events added with root generations, witnesses, approved modules,
//! recovery and software identity (the older kinds' payloads are in `events.rs`). Every
//! payload refuses unknown fields; fields added later are optional, so older events verify.

use serde::{Deserialize, Serialize};

use super::events::CertificateRecord;

/// Payload of `root_rotated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootRotated {
    /// The new generation (one above the highest before it).
    pub generation: u32,
    /// The generation that was active and is now trusted; it signed the cross-certificate.
    pub previous: u32,
    /// The new self-signed root certificate.
    pub certificate: CertificateRecord,
    /// CKA_LABEL of the new key pair on the token.
    pub key_label: String,
    /// CKA_ID of the new key pair, hex.
    pub key_id: String,
    /// Serial number of the token holding the key.
    pub token_serial: String,
    /// The cross-certificate: the new root's subject and key, issued by `previous`.
    pub cross: CertificateRecord,
}

/// Payload of `root_retired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootRetired {
    /// The generation retired.
    pub generation: u32,
    /// SHA-256 of its certificate, as the operator confirmed it.
    pub sha256: String,
}

/// Payload of `root_key_destroyed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootKeyDestroyed {
    /// The generation whose key is gone.
    pub generation: u32,
    /// CKA_LABEL of the key pair destroyed.
    pub key_label: String,
    /// CKA_ID of the key pair destroyed, hex.
    pub key_id: String,
    /// SHA-256 of its SubjectPublicKeyInfo.
    pub spki_sha256: String,
}

/// Payload of `root_key_generated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootKeyGenerated {
    /// The pending generation.
    pub generation: u32,
    /// CKA_LABEL of the key pair on the token.
    pub key_label: String,
    /// CKA_ID of the key pair, hex.
    pub key_id: String,
    /// Key type, e.g. `ecdsa-p384`.
    pub key_type: String,
    /// SHA-256 of its SubjectPublicKeyInfo.
    pub spki_sha256: String,
    /// Serial number of the token holding the key.
    pub token_serial: String,
    /// The subject the request asks for.
    pub subject: String,
    /// SHA-256 of the DER request, signed on the token.
    pub csr_sha256: String,
}

/// Payload of `root_imported`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootImported {
    /// The generation that was pending and is now active.
    pub generation: u32,
    /// The generation that was active and is now trusted, if there was one.
    pub previous: Option<u32>,
    /// The certificate the enterprise root issued for the generation's key.
    pub certificate: CertificateRecord,
    /// Its chain: its issuer first, up to and including the self-signed anchor.
    pub chain: Vec<LinkedCertificate>,
}

/// A certificate of an imported chain, or a cross-certificate, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkedCertificate {
    /// Serial number, lowercase hex.
    pub serial: String,
    /// Subject DN.
    pub subject: String,
    /// SHA-256 of the DER certificate, hex.
    pub sha256: String,
    /// The DER certificate, base64.
    pub der_base64: String,
}

/// Payload of `witness_added`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessAdded {
    /// The witness's name.
    pub name: String,
    /// The public key, `TYPE BASE64` (OpenSSH, no comment).
    pub public_key: String,
    /// Its SHA-256 fingerprint, `SHA256:…` as `ssh-keygen -l -E sha256` prints it.
    pub fingerprint: String,
}

/// Payload of `witness_removed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessRemoved {
    /// The witness's name.
    pub name: String,
    /// The fingerprint of the key removed with it.
    pub fingerprint: String,
}

/// Payload of `witnesses_required`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessesRequired {
    /// How many distinct registered witnesses each trust-changing action needs (0: none).
    pub required: u32,
}

/// Payload of `action_witnessed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionWitnessed {
    /// The action, as the statement names it (`sign`, `revoke`, …).
    pub action: String,
    /// The statement, exactly as the witnesses signed it.
    pub statement: String,
    /// SHA-256 of `statement`, hex.
    pub statement_sha256: String,
    /// How many witnesses the vault required when it was recorded.
    pub required: u32,
    /// Each witness's signature, in the order given.
    pub signatures: Vec<WitnessSignature>,
}

/// One witness's signature of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessSignature {
    /// The witness's registered name.
    pub witness: String,
    /// The fingerprint of the key that signed (`SHA256:…`).
    pub fingerprint: String,
    /// The armored SSHSIG, as `ssh-keygen -Y sign` wrote it.
    pub signature: String,
}

/// Payload of `module_approved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleApproved {
    /// The module's path, as `vault.toml` names it.
    pub module: String,
    /// SHA-256 of the module file.
    pub sha256: String,
}

/// Payload of `ledger_recovered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerRecovered {
    /// The first event lost (one past the ledger's head at the time).
    pub lost_from_seq: i64,
    /// The last event the token had attested.
    pub lost_to_seq: i64,
    /// Its hash, as the token held it.
    pub lost_head_hash: String,
    /// How many revocations the token had counted beyond those the ledger holds: they are
    /// gone from the ledger and must be made again.
    pub revocations_lost: u64,
    /// Per root generation (decimal), the last CRL number the token had counted; numbers go
    /// on from there.
    pub crl_numbers: std::collections::BTreeMap<String, i64>,
    /// The witnesses every trust-changing action needs from now on, when the token had
    /// attested another M than the ledger that survived holds (the lost events changed it);
    /// absent otherwise, and in events recorded before witnesses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witnesses_required: Option<u32>,
}

/// Which rootvault wrote to the ledger: payload of `software_changed`, and `software` of
/// `vault_initialised`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Software {
    /// The crate version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// The git commit it was built from (40 hex digits), or `unknown` for a build outside git.
    pub commit: String,
    /// SHA-256 of the running binary, lowercase hex.
    pub sha256: String,
}
