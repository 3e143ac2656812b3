//! The kinds of event the ledger records, their payloads, and the derived rows each one
//! implies. The projection lives here once: `append` writes it, `verify` re-derives it.

use serde::{Deserialize, Serialize};

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
}

/// Payload of `certificate_issued`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateIssued {
    /// The cluster the intermediate is for.
    pub cluster: String,
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

/// A row of `certificates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRow {
    /// `root` or `intermediate`.
    pub role: &'static str,
    /// The cluster, for intermediates.
    pub cluster: Option<String>,
    /// The certificate.
    pub record: CertificateRecord,
    /// The DER certificate (decoded `der_base64`).
    pub der: Vec<u8>,
    /// The event that issued it.
    pub event_seq: i64,
}

/// A row of `token_keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKeyRow {
    /// CKA_LABEL.
    pub label: String,
    /// CKA_ID, hex.
    pub id_hex: String,
    /// What the key is for (`root`).
    pub purpose: String,
    /// Key type name.
    pub key_type: String,
    /// The event that created it.
    pub event_seq: i64,
}

/// The derived rows one event implies.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Projection {
    /// Rows of `certificates`.
    pub certificates: Vec<CertificateRow>,
    /// Rows of `token_keys`.
    pub token_keys: Vec<TokenKeyRow>,
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
    /// The `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::VaultInitialised(_) => "vault_initialised",
            Event::RootCreated(_) => "root_created",
            Event::CertificateIssued(_) => "certificate_issued",
            Event::SigningRejected(_) => "signing_rejected",
        }
    }

    /// The `payload` column: compact JSON.
    pub fn payload_json(&self) -> String {
        let value = match self {
            Event::VaultInitialised(p) => serde_json::to_string(p),
            Event::RootCreated(p) => serde_json::to_string(p),
            Event::CertificateIssued(p) => serde_json::to_string(p),
            Event::SigningRejected(p) => serde_json::to_string(p),
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
            other => return Err(PayloadError::UnknownKind(other.to_owned())),
        })
    }

    /// The derived rows this event implies, were it stored at `seq`.
    pub fn project(&self, seq: i64) -> Result<Projection, PayloadError> {
        let mut p = Projection::default();
        match self {
            Event::VaultInitialised(_) | Event::SigningRejected(_) => {}
            Event::CertificateIssued(c) => p.certificates.push(CertificateRow {
                role: "intermediate",
                cluster: Some(c.cluster.clone()),
                der: decode_der(self.kind(), &c.certificate.der_base64)?,
                record: c.certificate.clone(),
                event_seq: seq,
            }),
            Event::RootCreated(r) => {
                p.certificates.push(CertificateRow {
                    role: "root",
                    cluster: None,
                    der: decode_der(self.kind(), &r.certificate.der_base64)?,
                    record: r.certificate.clone(),
                    event_seq: seq,
                });
                p.token_keys.push(TokenKeyRow {
                    label: r.key_label.clone(),
                    id_hex: r.key_id.clone(),
                    purpose: "root".into(),
                    key_type: r.certificate.key_type.clone(),
                    event_seq: seq,
                });
            }
        }
        Ok(p)
    }
}

fn decode_der(kind: &str, b64: &str) -> Result<Vec<u8>, PayloadError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| PayloadError::Malformed {
            kind: kind.to_owned(),
            detail: format!("certificate is not base64: {e}"),
        })
}
