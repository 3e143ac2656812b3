//! The kinds of event the ledger records, their payloads, and the derived rows each one
//! implies. The projection lives here once: `append` writes it, `verify` re-derives it.

use serde::{Deserialize, Serialize};

pub use super::payloads::*;

/// One ledger event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The vault was created on a token.
    VaultInitialised(VaultInitialised),
    /// The root key was generated on the token and the root certificate self-signed.
    RootCreated(RootCreated),
    /// An intermediate CA certificate was signed for a cluster.
    CertificateIssued(CertificateIssued),
    /// A signing request was refused (intake or policy); nothing was signed or consumed.
    SigningRejected(SigningRejected),
    /// An intermediate certificate was revoked.
    CertificateRevoked(CertificateRevoked),
    /// A CRL was signed by the root.
    CrlIssued(CrlIssued),
    /// A cluster's intermediate was exported.
    BundleExported(BundleExported),
    /// The audit key pair was generated on the token.
    AuditKeyCreated(AuditKeyCreated),
    /// The operator approved a PKCS#11 module (its path and SHA-256) for this vault.
    ModuleApproved(ModuleApproved),
    /// The operator recorded that the ledger's tail after some event is lost for good (the
    /// token had attested more than the ledger holds).
    LedgerRecovered(LedgerRecovered),
    /// A witness's SSH public key was registered.
    WitnessAdded(WitnessAdded),
    /// A witness was removed from the registry.
    WitnessRemoved(WitnessRemoved),
    /// The number of witnesses every trust-changing action needs was set.
    WitnessesRequired(WitnessesRequired),
    /// The statement of the action whose events follow in the same transaction, and the
    /// witnesses' signatures of it.
    ActionWitnessed(ActionWitnessed),
    /// A new root key was generated on the token and self-signed as the next generation, and
    /// certified by the active generation (a cross-certificate); the new one became active,
    /// the one before it trusted.
    RootRotated(RootRotated),
    /// A trusted root generation left every trust bundle; it signs only its own CRLs.
    RootRetired(RootRetired),
    /// A retired generation's key was destroyed on the token.
    RootKeyDestroyed(RootKeyDestroyed),
    /// A root key was generated on the token for a certificate an enterprise root will issue
    /// (`root csr`): a pending generation.
    RootKeyGenerated(RootKeyGenerated),
    /// The certificate an enterprise root issued for the pending generation's key was
    /// imported with its chain; the generation became active, the one before it trusted.
    RootImported(RootImported),
    /// A rootvault binary other than the last one recorded used the token for this vault;
    /// recorded before that action's own events, under the same checkpoint.
    SoftwareChanged(Software),
}

/// The generation of events recorded before generations existed.
pub fn first_generation() -> u32 {
    1
}

/// Payload of `audit_key_created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditKeyCreated {
    /// CKA_LABEL of the key pair.
    pub key_label: String,
    /// CKA_ID, hex.
    pub key_id: String,
    /// Always `ecdsa-p256`.
    pub key_type: String,
    /// The public key's DER SubjectPublicKeyInfo, base64.
    pub public_key_der_base64: String,
    /// Serial number of the token holding it.
    pub token_serial: String,
}

impl AuditKeyCreated {
    /// The public key's DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Result<Vec<u8>, super::LedgerError> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&self.public_key_der_base64)
            .map_err(|e| super::LedgerError::malformed("the audit key", e))
    }

    /// CKA_ID, bytes.
    pub fn key_id_bytes(&self) -> Result<Vec<u8>, super::LedgerError> {
        hex::decode(&self.key_id).map_err(|e| super::LedgerError::malformed("the audit key id", e))
    }
}

/// Payload of `certificate_revoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRevoked {
    /// Serial of the revoked certificate.
    pub serial: String,
    /// Its cluster.
    pub cluster: String,
    /// RFC 5280 CRLReason name.
    pub reason: String,
    /// Revocation time, RFC 3339 (whole seconds, as the CRL carries it).
    pub revoked_at: String,
}

/// Payload of `crl_issued`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrlIssued {
    /// The root generation that signed it (1 in events recorded before generations).
    #[serde(default = "first_generation")]
    pub generation: u32,
    /// CRL number, counted per generation.
    pub number: i64,
    /// RFC 3339.
    pub this_update: String,
    /// RFC 3339.
    pub next_update: String,
    /// Serials listed.
    pub serials: Vec<String>,
    /// SHA-256 of the DER CRL.
    pub sha256: String,
    /// The DER CRL, base64.
    pub der_base64: String,
}

/// Payload of `bundle_exported`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleExported {
    /// The cluster.
    pub cluster: String,
    /// Serial of the exported intermediate.
    pub serial: String,
    /// Export format.
    pub format: String,
    /// Where it was written.
    pub path: String,
    /// SHA-256 of what was written (for a directory, of its manifest).
    pub sha256: String,
    /// Each file written, `name` and `sha256`.
    pub files: Vec<ExportedFile>,
    /// The age recipients it was encrypted to (empty: not encrypted).
    pub recipients: Vec<String>,
    /// Whether the export carries a private key the vault generated.
    pub contains_generated_key: bool,
    /// SHA-256 of each certificate of the trust bundle it carries (`root-cert.pem`), in order
    /// (absent in events recorded before generations): what "stale for the phase" compares.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust_sha256: Vec<String>,
}

/// One file of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedFile {
    /// File name within the export.
    pub name: String,
    /// SHA-256 of its bytes as written.
    pub sha256: String,
}

/// Payload of `certificate_issued`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateIssued {
    /// The cluster the intermediate is for.
    pub cluster: String,
    /// The root generation that issued it (1 in events recorded before generations).
    #[serde(default = "first_generation")]
    pub generation: u32,
    /// The certificate as issued.
    pub certificate: CertificateRecord,
    /// Where the subject key came from: `csr`, or `generated` by the vault.
    pub key_source: String,
    /// SHA-256 of the CSR's DER, hex (absent for a vault-generated key).
    pub csr_sha256: Option<String>,
    /// The profile the operator approved.
    pub profile: ApprovedProfile,
}

/// The profile recorded with an issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovedProfile {
    /// Validity in days.
    pub days: u32,
    /// Whether the root's notAfter shortened the validity.
    pub capped_by_root: bool,
    /// basicConstraints pathLenConstraint.
    pub path_len: u8,
    /// keyUsage digitalSignature.
    pub digital_signature: bool,
    /// subjectAltName dNSNames.
    pub san_dns: Vec<String>,
    /// nameConstraints permitted dNSName subtrees.
    pub permitted_dns: Vec<String>,
    /// nameConstraints excluded dNSName subtrees.
    pub excluded_dns: Vec<String>,
    /// nameConstraints permitted URI subtrees.
    pub permitted_uri: Vec<String>,
    /// nameConstraints excluded URI subtrees.
    pub excluded_uri: Vec<String>,
    /// nameConstraints permitted rfc822Name subtrees (absent, i.e. empty, in events written
    /// before email constraints existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permitted_email: Vec<String>,
    /// nameConstraints excluded rfc822Name subtrees (absent when empty, as above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_email: Vec<String>,
    /// nameConstraints excluded iPAddress ranges, CIDR (absent when empty, as above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_ip: Vec<String>,
}

/// Payload of `signing_rejected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningRejected {
    /// The cluster named in the request, if any.
    pub cluster: Option<String>,
    /// SHA-256 of the file as received, hex.
    pub input_sha256: String,
    /// Why it was refused.
    pub reasons: Vec<String>,
}

/// Payload of `vault_initialised`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultInitialised {
    /// The PKCS#11 module path.
    pub module: String,
    /// How the token was selected (label or URI), as given.
    pub token: String,
    /// The token's label.
    pub token_label: String,
    /// The token's serial number, which binds the vault to it.
    pub token_serial: String,
    /// The token's model.
    pub token_model: String,
    /// The rootvault version that created the vault.
    pub rootvault_version: String,
    /// SHA-256 of the module file: the module the operator approved by making the vault
    /// (absent in vaults made before modules were checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_sha256: Option<String>,
    /// The SPIFFE trust domain the vault's intermediates are constrained to by default.
    /// Absent in vaults made before trust domains: those constrain nothing by default until
    /// the operator sets `policy.trust_domain` in vault.toml (docs/policy.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_domain: Option<String>,
    /// The binary that created the vault (absent in events written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<Software>,
}

/// Payload of `root_created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootCreated {
    /// The certificate as issued.
    pub certificate: CertificateRecord,
    /// CKA_LABEL of the key pair on the token.
    pub key_label: String,
    /// CKA_ID of the key pair, hex.
    pub key_id: String,
    /// Serial number of the token holding the key.
    pub token_serial: String,
}

/// A certificate as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRecord {
    /// Serial number, lowercase hex.
    pub serial: String,
    /// Subject DN, RFC 4514 string.
    pub subject: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// Subject key type, e.g. `ecdsa-p384`.
    pub key_type: String,
    /// SHA-256 of the SubjectPublicKeyInfo, hex.
    pub spki_sha256: String,
    /// SHA-256 of the DER certificate, hex.
    pub sha256: String,
    /// The DER certificate, base64.
    pub der_base64: String,
}

/// Why a stored payload could not be read back as an event.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The kind is not one this version knows.
    #[error("unknown event kind {0:?}")]
    UnknownKind(String),
    /// The payload does not match the kind's schema.
    #[error("payload of {kind} does not parse: {detail}")]
    Malformed {
        /// The event kind.
        kind: String,
        /// The parser's explanation.
        detail: String,
    },
}

impl Event {
    /// Whether recording this event needs the token (and so is covered by a checkpoint).
    /// Only refusals are recorded without it.
    pub fn requires_token(&self) -> bool {
        !matches!(self, Event::SigningRejected(_))
    }

    /// Whether this event changes what the vault trusts, so that once witnesses are required
    /// it is recorded only after an `action_witnessed` event in the same transaction (shared
    /// cli.md, "Witnesses"): every root generation step, signing, revocation, the witnesses
    /// themselves, the module that receives the PIN, and a recorded loss of history (which
    /// takes back the revocations and root steps it lost). CRLs, exports, refusals and
    /// bookkeeping need none.
    pub fn is_trust_changing(&self) -> bool {
        matches!(
            self,
            Event::RootCreated(_)
                | Event::RootRotated(_)
                | Event::RootRetired(_)
                | Event::RootKeyGenerated(_)
                | Event::RootImported(_)
                | Event::RootKeyDestroyed(_)
                | Event::CertificateIssued(_)
                | Event::CertificateRevoked(_)
                | Event::WitnessAdded(_)
                | Event::WitnessRemoved(_)
                | Event::WitnessesRequired(_)
                | Event::ModuleApproved(_)
                | Event::LedgerRecovered(_)
        )
    }

    /// The `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::VaultInitialised(_) => "vault_initialised",
            Event::RootCreated(_) => "root_created",
            Event::CertificateIssued(_) => "certificate_issued",
            Event::SigningRejected(_) => "signing_rejected",
            Event::CertificateRevoked(_) => "certificate_revoked",
            Event::CrlIssued(_) => "crl_issued",
            Event::BundleExported(_) => "bundle_exported",
            Event::AuditKeyCreated(_) => "audit_key_created",
            Event::ModuleApproved(_) => "module_approved",
            Event::LedgerRecovered(_) => "ledger_recovered",
            Event::WitnessAdded(_) => "witness_added",
            Event::WitnessRemoved(_) => "witness_removed",
            Event::WitnessesRequired(_) => "witnesses_required",
            Event::ActionWitnessed(_) => "action_witnessed",
            Event::RootRotated(_) => "root_rotated",
            Event::RootRetired(_) => "root_retired",
            Event::RootKeyDestroyed(_) => "root_key_destroyed",
            Event::RootKeyGenerated(_) => "root_key_generated",
            Event::RootImported(_) => "root_imported",
            Event::SoftwareChanged(_) => "software_changed",
        }
    }

    /// The `payload` column: compact JSON.
    pub fn payload_json(&self) -> String {
        let value = match self {
            Event::VaultInitialised(p) => serde_json::to_string(p),
            Event::RootCreated(p) => serde_json::to_string(p),
            Event::CertificateIssued(p) => serde_json::to_string(p),
            Event::SigningRejected(p) => serde_json::to_string(p),
            Event::CertificateRevoked(p) => serde_json::to_string(p),
            Event::CrlIssued(p) => serde_json::to_string(p),
            Event::BundleExported(p) => serde_json::to_string(p),
            Event::AuditKeyCreated(p) => serde_json::to_string(p),
            Event::ModuleApproved(p) => serde_json::to_string(p),
            Event::LedgerRecovered(p) => serde_json::to_string(p),
            Event::WitnessAdded(p) => serde_json::to_string(p),
            Event::WitnessRemoved(p) => serde_json::to_string(p),
            Event::WitnessesRequired(p) => serde_json::to_string(p),
            Event::ActionWitnessed(p) => serde_json::to_string(p),
            Event::RootRotated(p) => serde_json::to_string(p),
            Event::RootRetired(p) => serde_json::to_string(p),
            Event::RootKeyDestroyed(p) => serde_json::to_string(p),
            Event::RootKeyGenerated(p) => serde_json::to_string(p),
            Event::RootImported(p) => serde_json::to_string(p),
            Event::SoftwareChanged(p) => serde_json::to_string(p),
        };
        value.expect("event payloads are plain data and always serialize")
    }

    /// Reads a stored event back.
    pub fn parse(kind: &str, payload: &str) -> Result<Event, PayloadError> {
        fn de<T: for<'a> Deserialize<'a>>(kind: &str, payload: &str) -> Result<T, PayloadError> {
            serde_json::from_str(payload).map_err(|e| PayloadError::Malformed {
                kind: kind.to_owned(),
                detail: e.to_string(),
            })
        }
        Ok(match kind {
            "vault_initialised" => Event::VaultInitialised(de(kind, payload)?),
            "root_created" => Event::RootCreated(de(kind, payload)?),
            "certificate_issued" => Event::CertificateIssued(de(kind, payload)?),
            "signing_rejected" => Event::SigningRejected(de(kind, payload)?),
            "certificate_revoked" => Event::CertificateRevoked(de(kind, payload)?),
            "crl_issued" => Event::CrlIssued(de(kind, payload)?),
            "bundle_exported" => Event::BundleExported(de(kind, payload)?),
            "audit_key_created" => Event::AuditKeyCreated(de(kind, payload)?),
            "module_approved" => Event::ModuleApproved(de(kind, payload)?),
            "ledger_recovered" => Event::LedgerRecovered(de(kind, payload)?),
            "witness_added" => Event::WitnessAdded(de(kind, payload)?),
            "witness_removed" => Event::WitnessRemoved(de(kind, payload)?),
            "witnesses_required" => Event::WitnessesRequired(de(kind, payload)?),
            "action_witnessed" => Event::ActionWitnessed(de(kind, payload)?),
            "root_rotated" => Event::RootRotated(de(kind, payload)?),
            "root_retired" => Event::RootRetired(de(kind, payload)?),
            "root_key_destroyed" => Event::RootKeyDestroyed(de(kind, payload)?),
            "root_key_generated" => Event::RootKeyGenerated(de(kind, payload)?),
            "root_imported" => Event::RootImported(de(kind, payload)?),
            "software_changed" => Event::SoftwareChanged(de(kind, payload)?),
            other => return Err(PayloadError::UnknownKind(other.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_written_before_trust_domains_and_email_or_ip_constraints_read_back_unchanged() {
        // Payloads exactly as older versions stored them (and hashed them).
        let init = r#"{"module":"/usr/lib/softhsm/libsofthsm2.so","token":"t","token_label":"t","token_serial":"s","token_model":"SoftHSM v2","rootvault_version":"0.1.0"}"#;
        let Event::VaultInitialised(v) = Event::parse("vault_initialised", init).unwrap() else {
            panic!("not vault_initialised")
        };
        assert_eq!(v.trust_domain, None);
        assert_eq!(Event::VaultInitialised(v).payload_json(), init);

        let profile = r#"{"days":365,"capped_by_root":false,"path_len":0,"digital_signature":true,"san_dns":["istiod.istio-system.svc"],"permitted_dns":[],"excluded_dns":[],"permitted_uri":[],"excluded_uri":[]}"#;
        let old: ApprovedProfile = serde_json::from_str(profile).unwrap();
        assert!(old.permitted_email.is_empty() && old.excluded_ip.is_empty());
        assert_eq!(serde_json::to_string(&old).unwrap(), profile);

        // New ones carry the fields, and read back the same.
        let new = ApprovedProfile {
            permitted_uri: vec!["cluster.local".into()],
            permitted_email: vec!["no-email.invalid".into()],
            excluded_email: vec![".".into()],
            excluded_ip: vec!["0.0.0.0/0".into(), "::/0".into()],
            ..old
        };
        let text = serde_json::to_string(&new).unwrap();
        assert!(
            text.contains(r#""excluded_ip":["0.0.0.0/0","::/0"]"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<ApprovedProfile>(&text).unwrap(), new);
    }
}
