//! What a certificate will contain, decided before anything is encoded or signed.

use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, IsCa, KeyIdMethod, KeyUsagePurpose, SerialNumber,
};

use super::{CertError, Dn};
use crate::keys::PublicKey;

/// A certificate serial number: 16 octets from the token's RNG, positive, with the second
/// most significant bit set so it always encodes in exactly 16 octets (126 random bits;
/// RFC 5280 §4.1.2.2 allows up to 20 octets, CA/B BR 7.1 asks for at least 64 random bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serial([u8; 16]);

impl Serial {
    /// A serial from 16 random bytes.
    pub fn from_random(mut bytes: [u8; 16]) -> Serial {
        bytes[0] = (bytes[0] & 0x7f) | 0x40;
        Serial(bytes)
    }

    /// The octets, big-endian.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Lowercase hex, as the CLI and ledger show it.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// The CA profile of the certificate: its extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaProfile {
    /// basicConstraints pathLenConstraint; `None` leaves it out.
    pub path_len: Option<u8>,
    /// Whether keyUsage also carries digitalSignature.
    pub digital_signature: bool,
    /// subjectAltName dNSNames; empty leaves the extension out.
    pub san_dns: Vec<String>,
    /// nameConstraints; `None` (or all lists empty) leaves the extension out.
    pub name_constraints: Option<NameConstraintsSpec>,
}

/// The subtrees of a nameConstraints extension (RFC 5280 §4.2.1.10), DNS and URI forms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameConstraintsSpec {
    /// permittedSubtrees dNSName bases.
    pub permitted_dns: Vec<String>,
    /// excludedSubtrees dNSName bases.
    pub excluded_dns: Vec<String>,
    /// permittedSubtrees uniformResourceIdentifier bases (host names, RFC 5280 §4.2.1.10).
    pub permitted_uri: Vec<String>,
    /// excludedSubtrees uniformResourceIdentifier bases.
    pub excluded_uri: Vec<String>,
}

impl NameConstraintsSpec {
    /// Whether no subtree is named (then the extension is omitted).
    pub fn is_empty(&self) -> bool {
        self.permitted_dns.is_empty()
            && self.excluded_dns.is_empty()
            && self.permitted_uri.is_empty()
            && self.excluded_uri.is_empty()
    }

    /// DER of the extension value. Written here rather than by rcgen, whose GeneralSubtree
    /// has no uniformResourceIdentifier form.
    pub(super) fn to_der(&self) -> Vec<u8> {
        use yasna::Tag;
        fn subtrees(w: yasna::DERWriter<'_>, tag: u64, dns: &[String], uri: &[String]) {
            w.write_tagged_implicit(Tag::context(tag), |w| {
                w.write_sequence(|w| {
                    for (name_tag, name) in
                        dns.iter().map(|d| (2, d)).chain(uri.iter().map(|u| (6, u)))
                    {
                        // GeneralSubtree ::= SEQUENCE { base GeneralName } (minimum 0, no maximum)
                        w.next().write_sequence(|w| {
                            w.next().write_tagged_implicit(Tag::context(name_tag), |w| {
                                w.write_ia5_string(name)
                            });
                        });
                    }
                })
            });
        }
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                if !(self.permitted_dns.is_empty() && self.permitted_uri.is_empty()) {
                    subtrees(w.next(), 0, &self.permitted_dns, &self.permitted_uri);
                }
                if !(self.excluded_dns.is_empty() && self.excluded_uri.is_empty()) {
                    subtrees(w.next(), 1, &self.excluded_dns, &self.excluded_uri);
                }
            })
        })
    }
}

/// Who signs the certificate.
#[derive(Debug, Clone)]
pub enum Issuing {
    /// The subject key signs itself: a root.
    SelfSigned,
    /// A CA certificate's key signs.
    ByCa {
        /// The issuer's DER certificate.
        der: Vec<u8>,
        /// The issuer's public key.
        key: PublicKey,
    },
}

/// A certificate as approved: every field decided, nothing encoded yet.
#[derive(Debug, Clone)]
pub struct Draft {
    pub(super) serial: Serial,
    pub(super) subject: Dn,
    pub(super) subject_key: PublicKey,
    pub(super) issuing: Issuing,
    pub(super) not_before: DateTime<Utc>,
    pub(super) not_after: DateTime<Utc>,
    pub(super) profile: CaProfile,
}

impl Draft {
    /// A draft certificate. Times are truncated to whole seconds, as X.509 encodes them.
    pub fn new(
        serial: Serial,
        subject: Dn,
        subject_key: PublicKey,
        issuing: Issuing,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        profile: CaProfile,
    ) -> Result<Draft, CertError> {
        let trunc = |t: DateTime<Utc>| {
            DateTime::from_timestamp(t.timestamp(), 0).expect("a whole-second time is in range")
        };
        let (not_before, not_after) = (trunc(not_before), trunc(not_after));
        if not_after <= not_before {
            return Err(CertError::Build(format!(
                "notAfter {not_after} is not after notBefore {not_before}"
            )));
        }
        Ok(Draft {
            serial,
            subject,
            subject_key,
            issuing,
            not_before,
            not_after,
            profile,
        })
    }

    /// The serial number.
    pub fn serial(&self) -> &Serial {
        &self.serial
    }

    /// The subject name.
    pub fn subject(&self) -> &Dn {
        &self.subject
    }

    /// The subject's public key.
    pub fn subject_key(&self) -> &PublicKey {
        &self.subject_key
    }

    /// Start of validity.
    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// End of validity.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// The key that will sign: the subject key for a root, else the issuer's.
    pub fn issuer_key(&self) -> &PublicKey {
        match &self.issuing {
            Issuing::SelfSigned => &self.subject_key,
            Issuing::ByCa { key, .. } => key,
        }
    }

    /// rcgen parameters for this draft. Everything is set explicitly: serial, validity, SKI
    /// (RFC 7093 method 1), AKI on, key usages; nothing is left to rcgen's defaults.
    pub(super) fn params(&self) -> Result<CertificateParams, CertError> {
        let mut p = CertificateParams::default();
        p.serial_number = Some(SerialNumber::from_slice(self.serial.bytes()));
        p.not_before = to_offset(self.not_before)?;
        p.not_after = to_offset(self.not_after)?;
        p.distinguished_name = self.subject.to_rcgen().map_err(CertError::Build)?;
        p.is_ca = IsCa::Ca(match self.profile.path_len {
            Some(n) => BasicConstraints::Constrained(n),
            None => BasicConstraints::Unconstrained,
        });
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        if self.profile.digital_signature {
            p.key_usages.push(KeyUsagePurpose::DigitalSignature);
        }
        p.extended_key_usages = Vec::new();
        p.subject_alt_names = self
            .profile
            .san_dns
            .iter()
            .map(|d| {
                rcgen::string::Ia5String::try_from(d.as_str())
                    .map(rcgen::SanType::DnsName)
                    .map_err(|e| CertError::Build(format!("subjectAltName {d:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        if let Some(nc) = self
            .profile
            .name_constraints
            .as_ref()
            .filter(|nc| !nc.is_empty())
        {
            let mut ext = rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 30], nc.to_der());
            // RFC 5280 §4.2.1.10: conforming CAs MUST mark this extension as critical.
            ext.set_criticality(true);
            p.custom_extensions = vec![ext];
        }
        p.use_authority_key_identifier_extension = true;
        p.key_identifier_method = KeyIdMethod::PreSpecified(self.subject_key.key_identifier());
        Ok(p)
    }
}

fn to_offset(t: DateTime<Utc>) -> Result<time::OffsetDateTime, CertError> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|e| CertError::Build(format!("time {t} out of range: {e}")))
}
