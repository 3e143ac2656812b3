//! Certificate revocation lists, through the same discipline as certificates:
//! [`CrlDraft`] → [`lint_crl`] (signed by a throwaway key, checked) → [`sign_crl`] (the real
//! signer signs exactly the linted bytes; the result is verified and linted again).
//!
//! The TBSCertList is encoded here with yasna rather than by rcgen: rcgen's
//! issuingDistributionPoint always carries a distribution-point URI, and a CRL carried to
//! offline clusters on removable media has none. With a URI in the IDP, OpenSSL would also
//! demand a matching cRLDistributionPoints extension in every certificate checked against
//! the CRL. This CRL's IDP says only `onlyContainsCACerts` (RFC 5280 §5.2.5).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Utc};
use x509_parser::oid_registry;
use x509_parser::prelude::*;
use yasna::models::{GeneralizedTime, ObjectIdentifier, UTCTime};
use yasna::{DERWriter, Tag};

use super::lint::{after_signing, Throwaway};
use super::CertError;
use crate::keys::{KeyAlg, PublicKey, RawSigner};

/// RFC 5280 §5.3.1 CRLReason values the vault records. `certificateHold` is not offered:
/// revocation of a CA certificate here is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    /// unspecified (0); written as no reasonCode, as RFC 5280 asks.
    Unspecified = 0,
    /// keyCompromise (1).
    KeyCompromise = 1,
    /// cACompromise (2).
    CaCompromise = 2,
    /// affiliationChanged (3).
    AffiliationChanged = 3,
    /// superseded (4).
    Superseded = 4,
    /// cessationOfOperation (5).
    CessationOfOperation = 5,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn = 9,
}

impl RevocationReason {
    /// Every reason, in code order.
    pub const ALL: [RevocationReason; 7] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::PrivilegeWithdrawn,
    ];

    /// The RFC 5280 name.
    pub fn name(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "cACompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RevocationReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RevocationReason::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = RevocationReason::ALL.iter().map(|r| r.name()).collect();
                format!(
                    "unknown revocation reason {s:?}; use one of {}",
                    names.join(", ")
                )
            })
    }
}

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlEntry {
    /// The serial's octets, big-endian.
    pub serial: Vec<u8>,
    /// When it was revoked (whole seconds).
    pub revoked_at: DateTime<Utc>,
    /// Why.
    pub reason: RevocationReason,
}

/// A CRL with every field decided.
#[derive(Debug, Clone)]
pub struct CrlDraft {
    number: u64,
    this_update: DateTime<Utc>,
    next_update: DateTime<Utc>,
    entries: Vec<CrlEntry>,
    issuer_der: Vec<u8>,
    issuer_key: PublicKey,
}

impl CrlDraft {
    /// A draft CRL issued by the CA certificate `issuer_der` with key `issuer_key`.
    pub fn new(
        number: u64,
        this_update: DateTime<Utc>,
        next_update: DateTime<Utc>,
        entries: Vec<CrlEntry>,
        issuer_der: Vec<u8>,
        issuer_key: PublicKey,
    ) -> Result<CrlDraft, CertError> {
        let trunc =
            |t: DateTime<Utc>| DateTime::from_timestamp(t.timestamp(), 0).expect("in range");
        let (this_update, next_update) = (trunc(this_update), trunc(next_update));
        if next_update <= this_update {
            return Err(CertError::Build(
                "nextUpdate must be after thisUpdate".into(),
            ));
        }
        if number == 0 {
            return Err(CertError::Build("CRL numbers start at 1".into()));
        }
        let entries = entries
            .into_iter()
            .map(|e| CrlEntry {
                revoked_at: trunc(e.revoked_at),
                ..e
            })
            .collect();
        Ok(CrlDraft {
            number,
            this_update,
            next_update,
            entries,
            issuer_der,
            issuer_key,
        })
    }

    /// The CRL number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// thisUpdate.
    pub fn this_update(&self) -> DateTime<Utc> {
        self.this_update
    }

    /// nextUpdate.
    pub fn next_update(&self) -> DateTime<Utc> {
        self.next_update
    }
}

/// A CRL draft whose to-be-signed encoding passed every lint. Only [`lint_crl`] makes one.
#[derive(Debug)]
pub struct LintedCrl {
    draft: CrlDraft,
    tbs: Vec<u8>,
}

impl LintedCrl {
    /// The draft that was linted.
    pub fn draft(&self) -> &CrlDraft {
        &self.draft
    }
}

/// A CRL signed by the real key, verified and linted again. Only [`sign_crl`] makes one.
#[derive(Debug, Clone)]
pub struct IssuedCrl {
    der: Vec<u8>,
}

impl IssuedCrl {
    /// The DER CRL.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM CRL (`X509 CRL`, as OpenSSL and Istio's `ca-crl.pem` expect).
    pub fn pem(&self) -> String {
        super::to_pem("X509 CRL", &self.der)
    }
}

/// Encodes the draft, signs it with a throwaway key, and checks the result.
pub fn lint_crl(draft: CrlDraft) -> Result<LintedCrl, CertError> {
    let tbs = encode_tbs(&draft)?;
    let throwaway = Throwaway::for_alg(draft.issuer_key.alg())?;
    let der = assemble(&draft, &tbs, throwaway)?;
    // The throwaway's signature is not verified: `sign_crl` verifies the token's.
    check(&draft, &der, None)?;
    Ok(LintedCrl { draft, tbs })
}

/// Has `signer` sign exactly the linted bytes, then verifies and lints the result.
pub fn sign_crl(linted: LintedCrl, signer: &impl RawSigner) -> Result<IssuedCrl, CertError> {
    if signer.public_key() != &linted.draft.issuer_key {
        return Err(CertError::Signing(
            "the signer's public key is not the CRL issuer's".into(),
        ));
    }
    let der = assemble(&linted.draft, &linted.tbs, signer)?;
    let (_, crl) = CertificateRevocationList::from_der(&der)
        .map_err(|e| CertError::Verification(format!("the signed CRL does not parse: {e}")))?;
    if crl.tbs_cert_list.as_ref() != linted.tbs.as_slice() {
        return Err(CertError::Verification(
            "the signed CRL's TBSCertList differs from the linted one".into(),
        ));
    }
    check(&linted.draft, &der, Some(&linted.draft.issuer_key)).map_err(after_signing)?;
    Ok(IssuedCrl { der })
}

const OID_AKI: &[u64] = &[2, 5, 29, 35];
const OID_CRL_NUMBER: &[u64] = &[2, 5, 29, 20];
const OID_IDP: &[u64] = &[2, 5, 29, 28];
const OID_REASON: &[u64] = &[2, 5, 29, 21];

fn write_alg(w: DERWriter<'_>, alg: KeyAlg) {
    w.write_sequence(|w| match alg {
        KeyAlg::EcP256 => w
            .next()
            .write_oid(&ObjectIdentifier::from_slice(&[1, 2, 840, 10045, 4, 3, 2])),
        KeyAlg::EcP384 => w
            .next()
            .write_oid(&ObjectIdentifier::from_slice(&[1, 2, 840, 10045, 4, 3, 3])),
        KeyAlg::Rsa { .. } => {
            w.next().write_oid(&ObjectIdentifier::from_slice(&[
                1, 2, 840, 113549, 1, 1, 11,
            ]));
            w.next().write_null();
        }
    });
}

/// RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050.
fn write_time(w: DERWriter<'_>, t: DateTime<Utc>) -> Result<(), CertError> {
    let odt = ::time::OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|e| CertError::Build(format!("time {t}: {e}")))?;
    if t.year() < 2050 {
        w.write_utctime(&UTCTime::from_datetime(odt));
    } else {
        w.write_generalized_time(&GeneralizedTime::from_datetime(odt));
    }
    Ok(())
}

fn write_extension(w: DERWriter<'_>, oid: &[u64], critical: bool, value: &[u8]) {
    w.write_sequence(|w| {
        w.next().write_oid(&ObjectIdentifier::from_slice(oid));
        if critical {
            w.next().write_bool(true);
        }
        w.next().write_bytes(value);
    });
}

fn issuer_subject_raw(draft: &CrlDraft) -> Result<Vec<u8>, CertError> {
    let (_, issuer) = X509Certificate::from_der(&draft.issuer_der).map_err(|e| {
        CertError::Build(format!("the CRL issuer's certificate does not parse: {e}"))
    })?;
    Ok(issuer.subject().as_raw().to_vec())
}

fn encode_tbs(draft: &CrlDraft) -> Result<Vec<u8>, CertError> {
    let issuer = issuer_subject_raw(draft)?;
    let key_id = draft.issuer_key.key_identifier();
    let aki = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next()
                .write_tagged_implicit(Tag::context(0), |w| w.write_bytes(&key_id))
        })
    });
    let number = yasna::construct_der(|w| w.write_u64(draft.number));
    let idp = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next()
                .write_tagged_implicit(Tag::context(2), |w| w.write_bool(true))
        })
    });
    let mut failure = None;
    let mut time = |w: DERWriter<'_>, t| {
        if let Err(e) = write_time(w, t) {
            failure = Some(e);
        }
    };
    let tbs = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(1); // v2 (RFC 5280 §5.1.2.1)
            write_alg(w.next(), draft.issuer_key.alg());
            w.next().write_der(&issuer);
            time(w.next(), draft.this_update);
            time(w.next(), draft.next_update);
            // §5.1.2.6: absent, not empty, when nothing is revoked.
            if !draft.entries.is_empty() {
                w.next().write_sequence(|w| {
                    for e in &draft.entries {
                        w.next().write_sequence(|w| {
                            w.next().write_bigint_bytes(&e.serial, true);
                            time(w.next(), e.revoked_at);
                            // §5.3.1: reasonCode absent rather than unspecified.
                            if e.reason != RevocationReason::Unspecified {
                                let code = yasna::construct_der(|w| w.write_enum(e.reason as i64));
                                w.next().write_sequence(|w| {
                                    write_extension(w.next(), OID_REASON, false, &code)
                                });
                            }
                        });
                    }
                });
            }
            w.next().write_tagged(Tag::context(0), |w| {
                w.write_sequence(|w| {
                    write_extension(w.next(), OID_AKI, false, &aki);
                    write_extension(w.next(), OID_CRL_NUMBER, false, &number);
                    write_extension(w.next(), OID_IDP, true, &idp);
                })
            });
        })
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(tbs),
    }
}

fn assemble(draft: &CrlDraft, tbs: &[u8], signer: &impl RawSigner) -> Result<Vec<u8>, CertError> {
    let signature = signer.sign(tbs).map_err(|e| CertError::Signing(e.0))?;
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(tbs);
            write_alg(w.next(), draft.issuer_key.alg());
            w.next().write_bitvec_bytes(&signature, signature.len() * 8);
        })
    }))
}

fn fail(rule: &'static str, detail: impl Into<String>) -> CertError {
    CertError::Lint {
        rule,
        detail: detail.into(),
    }
}

/// Checks an encoded CRL against its draft and RFC 5280; `signer_key`, when given, must have
/// made its signature.
fn check(draft: &CrlDraft, der: &[u8], signer_key: Option<&PublicKey>) -> Result<(), CertError> {
    let (rest, crl) = CertificateRevocationList::from_der(der)
        .map_err(|e| fail("RFC 5280 §5.1 structure", format!("does not parse: {e}")))?;
    if !rest.is_empty() {
        return Err(fail(
            "RFC 5280 §5.1 structure",
            "trailing bytes after the CRL",
        ));
    }
    let tbs = &crl.tbs_cert_list;
    if tbs.version != Some(X509Version::V2) {
        return Err(fail("RFC 5280 §5.1.2.1 version", "must be v2"));
    }
    if crl.signature_algorithm != tbs.signature {
        return Err(fail(
            "RFC 5280 §5.1.1.2 signatureAlgorithm",
            "outer and TBS algorithms differ",
        ));
    }
    if let Some(signer_key) = signer_key {
        let spki_der = signer_key.spki_der();
        let (_, spki) = SubjectPublicKeyInfo::from_der(&spki_der)
            .map_err(|e| fail("signature", format!("signer key does not parse: {e}")))?;
        crl.verify_signature(&spki).map_err(|e| {
            fail(
                "signature",
                format!("does not verify with the signing key: {e}"),
            )
        })?;
    }
    if tbs.issuer.as_raw() != issuer_subject_raw(draft)?.as_slice() {
        return Err(fail(
            "RFC 5280 §5.1.2.3 issuer",
            "not the issuing CA's subject",
        ));
    }
    if tbs.this_update.timestamp() != draft.this_update.timestamp()
        || tbs.next_update.map(|t| t.timestamp()) != Some(draft.next_update.timestamp())
    {
        return Err(fail(
            "RFC 5280 §5.1.2.4-5 thisUpdate/nextUpdate",
            "differ from the draft, or nextUpdate is missing",
        ));
    }
    if tbs.revoked_certificates.len() != draft.entries.len() {
        return Err(fail(
            "profile revokedCertificates",
            "entry count differs from the draft",
        ));
    }
    for (got, want) in tbs.revoked_certificates.iter().zip(&draft.entries) {
        if got.raw_serial() != want.serial.as_slice()
            || got.revocation_date.timestamp() != want.revoked_at.timestamp()
        {
            return Err(fail(
                "profile revokedCertificates",
                "an entry differs from the draft",
            ));
        }
        let reason = got.reason_code().map(|(_, r)| r.0);
        let expected = (want.reason != RevocationReason::Unspecified).then_some(want.reason as u8);
        if reason != expected {
            return Err(fail("RFC 5280 §5.3.1 reasonCode", "differs from the draft"));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for ext in crl.extensions() {
        if !seen.insert(ext.oid.to_id_string()) {
            return Err(fail(
                "RFC 5280 §5.2 extensions",
                format!("{} appears twice", ext.oid),
            ));
        }
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                if ext.critical
                    || aki.key_identifier.as_ref().map(|k| k.0)
                        != Some(draft.issuer_key.key_identifier().as_slice())
                {
                    return Err(fail(
                        "RFC 5280 §5.2.1 authorityKeyIdentifier",
                        "must be non-critical and name the root's key",
                    ));
                }
            }
            ParsedExtension::CRLNumber(n) => {
                if ext.critical || n.to_u64_digits() != vec![draft.number] {
                    return Err(fail(
                        "RFC 5280 §5.2.3 cRLNumber",
                        "must be non-critical and the drafted number",
                    ));
                }
            }
            ParsedExtension::IssuingDistributionPoint(idp) => {
                if !ext.critical
                    || !idp.only_contains_ca_certs
                    || idp.only_contains_user_certs
                    || idp.only_contains_attribute_certs
                    || idp.indirect_crl
                    || idp.distribution_point.is_some()
                    || idp.only_some_reasons.is_some()
                {
                    return Err(fail(
                        "RFC 5280 §5.2.5 issuingDistributionPoint",
                        "must be critical and say only onlyContainsCACerts",
                    ));
                }
            }
            _ => {
                return Err(fail(
                    "profile CRL extensions",
                    format!("unexpected extension {}", ext.oid),
                ))
            }
        }
    }
    for needed in [
        oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER,
        oid_registry::OID_X509_EXT_CRL_NUMBER,
        oid_registry::OID_X509_EXT_ISSUER_DISTRIBUTION_POINT,
    ] {
        if !seen.contains(&needed.to_id_string()) {
            return Err(fail(
                "RFC 5280 §5.2 extensions",
                format!("{needed} is missing"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_parse_by_their_rfc_names() {
        assert_eq!(
            "keyCompromise".parse::<RevocationReason>().unwrap(),
            RevocationReason::KeyCompromise
        );
        assert_eq!(
            "cacompromise".parse::<RevocationReason>().unwrap(),
            RevocationReason::CaCompromise
        );
        let e = "certificateHold".parse::<RevocationReason>().unwrap_err();
        assert!(e.contains("superseded"), "{e}");
    }

    /// A root (self-signed with a throwaway key) and a one-entry CRL draft it issues.
    fn issuer_and_draft() -> (&'static Throwaway, CrlDraft) {
        use crate::x509::{lint, sign, CaProfile, Dn, Draft, Issuing, Serial};
        let key = Throwaway::for_alg(KeyAlg::EcP256).unwrap();
        let now = Utc::now();
        let root = Draft::new(
            Serial::from_random([1; 16]),
            Dn::parse("CN=CRL Test Root").unwrap(),
            key.public_key().clone(),
            Issuing::SelfSigned,
            now,
            now + chrono::Duration::days(30),
            CaProfile::default(),
        )
        .unwrap();
        let root = sign(lint(root).unwrap(), key).unwrap();
        let draft = CrlDraft::new(
            1,
            now,
            now + chrono::Duration::days(7),
            vec![CrlEntry {
                serial: vec![0x42; 16],
                revoked_at: now,
                reason: RevocationReason::Superseded,
            }],
            root.der().to_vec(),
            key.public_key().clone(),
        )
        .unwrap();
        (key, draft)
    }

    #[track_caller]
    fn lint_fails(e: CertError, rule: &str, detail: &str) {
        assert!(
            matches!(&e, CertError::Lint { rule: r, detail: d } if *r == rule && d == detail),
            "{e:?}"
        );
    }

    #[test]
    fn a_crl_whose_next_update_alone_differs_from_the_draft_fails_the_lint() {
        let (key, draft) = issuer_and_draft();
        let der = assemble(&draft, &encode_tbs(&draft).unwrap(), key).unwrap();
        let mut other = draft.clone();
        other.next_update += chrono::Duration::days(1);
        lint_fails(
            check(&other, &der, None).unwrap_err(),
            "RFC 5280 §5.1.2.4-5 thisUpdate/nextUpdate",
            "differ from the draft, or nextUpdate is missing",
        );
    }

    #[test]
    fn a_crl_entry_whose_revocation_date_alone_differs_from_the_draft_fails_the_lint() {
        let (key, draft) = issuer_and_draft();
        let der = assemble(&draft, &encode_tbs(&draft).unwrap(), key).unwrap();
        let mut other = draft.clone();
        other.entries[0].revoked_at -= chrono::Duration::seconds(1);
        lint_fails(
            check(&other, &der, None).unwrap_err(),
            "profile revokedCertificates",
            "an entry differs from the draft",
        );
    }

    #[test]
    fn a_crl_whose_number_or_issuer_key_alone_differs_from_the_draft_fails_the_lint() {
        let (key, draft) = issuer_and_draft();
        let der = assemble(&draft, &encode_tbs(&draft).unwrap(), key).unwrap();
        check(&draft, &der, Some(key.public_key())).unwrap();
        let mut other = draft.clone();
        other.number = 2;
        lint_fails(
            check(&other, &der, None).unwrap_err(),
            "RFC 5280 §5.2.3 cRLNumber",
            "must be non-critical and the drafted number",
        );
        let mut other = draft.clone();
        other.issuer_key = Throwaway::generate(KeyAlg::EcP256)
            .unwrap()
            .public_key()
            .clone();
        lint_fails(
            check(&other, &der, None).unwrap_err(),
            "RFC 5280 §5.2.1 authorityKeyIdentifier",
            "must be non-critical and name the root's key",
        );
    }

    /// The DER tag of the first time in an encoding (thisUpdate, after version, algorithm
    /// and issuer): 0x17 UTCTime, 0x18 GeneralizedTime.
    fn time_tags(tbs: &[u8]) -> Vec<u8> {
        use x509_parser::der_parser::der::parse_der;
        let (_, seq) = parse_der(tbs).unwrap();
        let items = seq.as_sequence().unwrap();
        items[3..5].iter().map(|o| o.header.tag().0 as u8).collect()
    }

    #[test]
    fn times_are_utctime_through_2049_and_generalizedtime_from_2050() {
        let (_, draft) = issuer_and_draft();
        assert_eq!(time_tags(&encode_tbs(&draft).unwrap()), [0x17, 0x17]);
        let at = |y: i32| {
            chrono::NaiveDate::from_ymd_opt(y, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
        };
        let mut late = draft.clone();
        late.this_update = at(2049);
        late.next_update = at(2050);
        assert_eq!(time_tags(&encode_tbs(&late).unwrap()), [0x17, 0x18]);
    }
}
