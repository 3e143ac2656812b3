//! What policy decides about one request: the verdict, and the profile of the certificate
//! that would be signed, with its two other forms: the extensions a draft carries
//! ([`IntermediateProfile::extensions`]) and the profile a `certificate_issued` event records
//! ([`IntermediateProfile::approved`], whose field names and omissions are the ledger's format
//! and so do not follow this type's).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::ledger::ApprovedProfile;
use crate::x509::{CaProfile, Dn, NameConstraintsSpec};

/// The verdict on one request, and the certificate that would be signed for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// Whether the request may be signed: true exactly when `reasons` is empty.
    pub acceptable: bool,
    /// Every reason for refusal, one sentence each, naming the rule (the config key).
    pub reasons: Vec<String>,
    /// Things the operator should know that are not refusals, e.g. that the validity was
    /// shortened to end with the root's.
    pub notes: Vec<String>,
    /// What would be signed; filled in even when the request is refused.
    pub profile: IntermediateProfile,
}

/// Everything policy decides about an intermediate certificate. The serial, the subject key
/// and the issuer are added when it is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntermediateProfile {
    /// The subject, from `policy.subject_template` (serialized in RFC 4514 order).
    #[serde(serialize_with = "ser_display")]
    pub subject: Dn,
    /// Start of validity: the evaluation time, truncated to whole seconds.
    #[serde(serialize_with = "crate::time::ser_rfc3339")]
    pub not_before: DateTime<Utc>,
    /// End of validity: `not_before` plus the validity, but never after the root's notAfter.
    #[serde(serialize_with = "crate::time::ser_rfc3339")]
    pub not_after: DateTime<Utc>,
    /// The validity in whole days (rounded down when capped by the root).
    pub days: u32,
    /// Whether `not_after` was moved back to the root's notAfter.
    pub not_after_capped_by_root: bool,
    /// basicConstraints pathLenConstraint: always 0, an intermediate issues only leaves.
    pub path_len: u8,
    /// Whether keyUsage carries digitalSignature (keyCertSign and cRLSign always).
    pub digital_signature: bool,
    /// DNS names of the subjectAltName.
    pub san_dns: Vec<String>,
    /// The nameConstraints subtrees (JSON: their seven lists, beside the fields above).
    #[serde(flatten)]
    pub name_constraints: NameConstraintsSpec,
}

fn ser_display<S: Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl IntermediateProfile {
    /// The extensions of the certificate drafted from this profile.
    pub fn extensions(&self) -> CaProfile {
        CaProfile {
            path_len: Some(self.path_len),
            digital_signature: self.digital_signature,
            san_dns: self.san_dns.clone(),
            name_constraints: Some(self.name_constraints.clone()),
        }
    }

    /// The profile as a `certificate_issued` event records it.
    pub fn approved(&self) -> ApprovedProfile {
        let nc = &self.name_constraints;
        ApprovedProfile {
            days: self.days,
            capped_by_root: self.not_after_capped_by_root,
            path_len: self.path_len,
            digital_signature: self.digital_signature,
            san_dns: self.san_dns.clone(),
            permitted_dns: nc.permitted_dns.clone(),
            excluded_dns: nc.excluded_dns.clone(),
            permitted_uri: nc.permitted_uri.clone(),
            excluded_uri: nc.excluded_uri.clone(),
            permitted_email: nc.permitted_email.clone(),
            excluded_email: nc.excluded_email.clone(),
            excluded_ip: nc.excluded_ip.iter().map(ToString::to_string).collect(),
        }
    }
}
