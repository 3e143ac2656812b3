//! Lint before signing, sign the linted bytes, verify after.
//!
//! [`lint`] encodes the draft once and signs it with a throwaway in-memory key of the same
//! signature algorithm, then checks the result against the draft and the RFC 5280 rules
//! below. [`sign`] hands the same draft to the real signer behind a gate that refuses to
//! sign any bytes other than the linted to-be-signed certificate, verifies the signature
//! with the issuer's public key, and lints the signed certificate again.

use std::cell::RefCell;

use rcgen::{Issuer, KeyPair, PublicKeyData, SignatureAlgorithm, SigningKey};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use x509_parser::oid_registry;
use x509_parser::prelude::*;

use super::profile::{Draft, Issuing};
use super::{Attr, CertError};
use crate::keys::{KeyAlg, PublicKey, RawSigner, SignFailure};

/// A draft whose to-be-signed encoding passed every lint. Only [`lint`] makes one.
#[derive(Debug)]
pub struct LintedTbs {
    draft: Draft,
    tbs: Vec<u8>,
}

impl LintedTbs {
    /// The draft that was linted.
    pub fn draft(&self) -> &Draft {
        &self.draft
    }
}

/// A certificate signed by the real key, verified and linted again. Only [`sign`] makes one.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    der: Vec<u8>,
}

impl IssuedCertificate {
    /// The DER certificate.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM certificate.
    pub fn pem(&self) -> String {
        super::certificate_pem(&self.der)
    }
}

/// Encodes `draft`, signs it with a throwaway key, and checks the result.
pub fn lint(draft: Draft) -> Result<LintedTbs, CertError> {
    let throwaway = Throwaway::for_alg(draft.issuer_key().alg())?;
    let (der, tbs) = render(&draft, throwaway, None)?;
    // The throwaway's signature proves nothing about the certificate the token will sign, so
    // it is not verified here; `sign` verifies the token's signature with the issuer's key.
    check(&draft, &der, None)?;
    Ok(LintedTbs { draft, tbs })
}

/// Has `signer` sign exactly the linted bytes, then verifies and lints the result.
pub fn sign(linted: LintedTbs, signer: &impl RawSigner) -> Result<IssuedCertificate, CertError> {
    sign_tbs(linted, signer)?.verify()
}

/// A certificate the real key has signed that is not yet verified. Only [`sign_tbs`] makes
/// one, and only [`SignedTbs::verify`] turns it into an [`IssuedCertificate`]; the split lets
/// a batch verify one certificate while the token signs the next.
#[derive(Debug)]
pub struct SignedTbs {
    linted: LintedTbs,
    der: Vec<u8>,
}

/// Has `signer` sign exactly the linted bytes (and nothing else).
pub fn sign_tbs(linted: LintedTbs, signer: &impl RawSigner) -> Result<SignedTbs, CertError> {
    let draft = &linted.draft;
    if signer.public_key() != draft.issuer_key() {
        return Err(CertError::Signing(
            "the signer's public key is not the issuer key the certificate was drafted for".into(),
        ));
    }
    // No comparison of the bytes signed with the linted ones follows: the `Gate` refuses
    // every call whose bytes are not the linted TBS before the signer sees them, so if
    // `render` returns at all, the last (and only accepted) bytes signed were those. A check
    // here could never fail (cargo-mutants showed it could be deleted unnoticed: issue 17).
    // What the certificate carries is another matter, checked by `SignedTbs::verify`.
    let (der, _signed) = render(draft, signer, Some(&linted.tbs))?;
    Ok(SignedTbs { linted, der })
}

impl SignedTbs {
    /// The draft that was linted and signed.
    pub fn draft(&self) -> &Draft {
        &self.linted.draft
    }

    /// Verifies the signature with the issuer's public key, checks that the certificate
    /// carries exactly the linted TBSCertificate, and lints it again.
    pub fn verify(self) -> Result<IssuedCertificate, CertError> {
        let SignedTbs { linted, der } = self;
        let (_, cert) = X509Certificate::from_der(&der).map_err(|e| {
            CertError::Verification(format!("the signed certificate does not parse: {e}"))
        })?;
        if cert.tbs_certificate.as_ref() != linted.tbs.as_slice() {
            return Err(CertError::Verification(
                "the signed certificate's TBSCertificate differs from the linted one".into(),
            ));
        }
        let draft = &linted.draft;
        check(draft, &der, Some(draft.issuer_key())).map_err(after_signing)?;
        Ok(IssuedCertificate { der })
    }
}

/// A check failed on what the real key signed: a verification failure, named by the rule
/// alone (a lint error's text says "nothing was signed", which is no longer true here).
pub(super) fn after_signing(e: CertError) -> CertError {
    match e {
        CertError::Lint { rule, detail } => CertError::Verification(format!("{rule}: {detail}")),
        other => CertError::Verification(other.to_string()),
    }
}

/// A key that exists only for the length of one lint.
pub(super) struct Throwaway {
    key: KeyPair,
    public: PublicKey,
}

impl Throwaway {
    /// The process's throwaway key for `alg`'s signature algorithm, made on first use.
    /// It never leaves memory and signs only lint copies; one per process keeps a batch of
    /// a thousand RSA lints from generating a thousand RSA keys.
    pub(super) fn for_alg(alg: KeyAlg) -> Result<&'static Throwaway, CertError> {
        use std::sync::OnceLock;
        static P256: OnceLock<Throwaway> = OnceLock::new();
        static P384: OnceLock<Throwaway> = OnceLock::new();
        static RSA: OnceLock<Throwaway> = OnceLock::new();
        let cell = match alg {
            KeyAlg::EcP256 => &P256,
            KeyAlg::EcP384 => &P384,
            KeyAlg::Rsa { .. } => &RSA,
        };
        if let Some(t) = cell.get() {
            return Ok(t);
        }
        let fresh = Throwaway::generate(alg)?;
        Ok(cell.get_or_init(|| fresh))
    }

    pub(super) fn generate(alg: KeyAlg) -> Result<Throwaway, CertError> {
        let fail = |e: String| CertError::Build(format!("cannot make the throwaway lint key: {e}"));
        let key = match alg {
            KeyAlg::EcP256 | KeyAlg::EcP384 => {
                KeyPair::generate_for(alg.signature_algorithm()).map_err(|e| fail(e.to_string()))?
            }
            KeyAlg::Rsa { .. } => {
                // The signature algorithm (sha256WithRSAEncryption) does not depend on the
                // modulus size, so a 2048-bit throwaway yields the same to-be-signed bytes.
                use rsa::pkcs8::EncodePrivateKey;
                let rsa_key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
                    .map_err(|e| fail(e.to_string()))?;
                let pkcs8 = rsa_key.to_pkcs8_der().map_err(|e| fail(e.to_string()))?;
                KeyPair::from_pkcs8_der_and_sign_algo(
                    &PrivatePkcs8KeyDer::from(pkcs8.as_bytes()),
                    alg.signature_algorithm(),
                )
                .map_err(|e| fail(e.to_string()))?
            }
        };
        let public_alg = match alg {
            KeyAlg::Rsa { .. } => KeyAlg::Rsa { bits: 2048 },
            other => other,
        };
        let public = PublicKey::new(public_alg, key.public_key_raw().to_vec());
        Ok(Throwaway { key, public })
    }
}

impl RawSigner for Throwaway {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignFailure> {
        SigningKey::sign(&self.key, msg).map_err(|e| SignFailure(e.to_string()))
    }
}

/// The key rcgen calls: presents the issuer's algorithm, records the bytes it is asked to
/// sign, and (for the real signer) refuses any bytes but the linted ones.
struct Gate<'a, S: RawSigner> {
    signer: &'a S,
    alg: &'static SignatureAlgorithm,
    issuer_raw: &'a [u8],
    only: Option<&'a [u8]>,
    seen: RefCell<Option<Vec<u8>>>,
    failure: RefCell<Option<String>>,
}

impl<S: RawSigner> PublicKeyData for Gate<'_, S> {
    fn der_bytes(&self) -> &[u8] {
        self.issuer_raw
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

impl<S: RawSigner> SigningKey for Gate<'_, S> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        *self.seen.borrow_mut() = Some(msg.to_vec());
        if let Some(only) = self.only {
            if msg != only {
                *self.failure.borrow_mut() =
                    Some("refused: asked to sign bytes other than the linted certificate".into());
                return Err(rcgen::Error::RemoteKeyError);
            }
        }
        self.signer.sign(msg).map_err(|e| {
            *self.failure.borrow_mut() = Some(e.0);
            rcgen::Error::RemoteKeyError
        })
    }
}

/// Encodes and signs the draft; returns the certificate DER and the TBS bytes signed.
fn render(
    draft: &Draft,
    signer: &impl RawSigner,
    only: Option<&[u8]>,
) -> Result<(Vec<u8>, Vec<u8>), CertError> {
    let params = draft.params()?;
    let issuer_key = draft.issuer_key();
    let gate = Gate {
        signer,
        alg: issuer_key.alg().signature_algorithm(),
        issuer_raw: issuer_key.raw(),
        only,
        seen: RefCell::new(None),
        failure: RefCell::new(None),
    };
    let result = match &draft.issuing {
        Issuing::SelfSigned => {
            let issuer = Issuer::from_params(&params, &gate);
            params.signed_by(draft.subject_key(), &issuer)
        }
        Issuing::ByCa { der, .. } => {
            let ca = CertificateDer::from(der.as_slice());
            let issuer = Issuer::from_ca_cert_der(&ca, &gate)
                .map_err(|e| CertError::Build(format!("the issuer certificate: {e}")))?;
            params.signed_by(draft.subject_key(), &issuer)
        }
    };
    let cert = result.map_err(|e| match gate.failure.borrow_mut().take() {
        Some(why) => CertError::Signing(why),
        None => CertError::Build(e.to_string()),
    })?;
    let tbs = gate
        .seen
        .into_inner()
        .ok_or_else(|| CertError::Build("rcgen produced a certificate without signing".into()))?;
    Ok((cert.der().to_vec(), tbs))
}

fn fail(rule: &'static str, detail: impl Into<String>) -> CertError {
    CertError::Lint {
        rule,
        detail: detail.into(),
    }
}

/// Checks an encoded certificate against its draft and RFC 5280. `signer_key`, when given, is
/// the key whose signature the certificate must carry (the lint copy's throwaway signature
/// is not checked).
fn check(draft: &Draft, der: &[u8], signer_key: Option<&PublicKey>) -> Result<(), CertError> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| fail("RFC 5280 §4.1 structure", format!("does not parse: {e}")))?;
    if !rest.is_empty() {
        return Err(fail(
            "RFC 5280 §4.1 structure",
            "trailing bytes after the certificate",
        ));
    }
    let tbs = &cert.tbs_certificate;

    // §4.1.2.1: extensions require v3.
    if tbs.version != X509Version::V3 {
        return Err(fail(
            "RFC 5280 §4.1.2.1 version",
            format!("{:?}, expected v3", tbs.version),
        ));
    }
    // §4.1.2.2: positive, at most 20 octets; ours is the drafted one.
    let serial = tbs.raw_serial();
    if serial.len() > 20 || serial.first().is_none_or(|b| b & 0x80 != 0) {
        return Err(fail(
            "RFC 5280 §4.1.2.2 serialNumber",
            "not a positive integer of at most 20 octets",
        ));
    }
    if serial != draft.serial().bytes() {
        return Err(fail(
            "profile serial",
            "the encoded serial differs from the drafted one",
        ));
    }
    // §4.1.1.2: the outer and inner signature algorithms match; the issuer's algorithm.
    if cert.signature_algorithm != tbs.signature {
        return Err(fail(
            "RFC 5280 §4.1.1.2 signatureAlgorithm",
            "outer and TBS algorithms differ",
        ));
    }
    let expected_oid = match draft.issuer_key().alg() {
        KeyAlg::EcP256 => oid_registry::OID_SIG_ECDSA_WITH_SHA256,
        KeyAlg::EcP384 => oid_registry::OID_SIG_ECDSA_WITH_SHA384,
        KeyAlg::Rsa { .. } => oid_registry::OID_PKCS1_SHA256WITHRSA,
    };
    if tbs.signature.algorithm != expected_oid {
        return Err(fail(
            "profile signature algorithm",
            format!("{}", tbs.signature.algorithm),
        ));
    }
    // The signature verifies with the signer's key.
    if let Some(signer_key) = signer_key {
        let signer_spki_der = signer_key.spki_der();
        let (_, signer_spki) = SubjectPublicKeyInfo::from_der(&signer_spki_der)
            .map_err(|e| fail("signature", format!("signer key does not parse: {e}")))?;
        cert.verify_signature(Some(&signer_spki)).map_err(|e| {
            fail(
                "signature",
                format!("does not verify with the signing key: {e}"),
            )
        })?;
    }
    // §4.1.2.5: validity as drafted.
    if tbs.validity.not_before.timestamp() != draft.not_before().timestamp()
        || tbs.validity.not_after.timestamp() != draft.not_after().timestamp()
    {
        return Err(fail(
            "profile validity",
            "encoded validity differs from the drafted one",
        ));
    }
    // §4.1.2.6 / §4.1.2.4: subject as drafted, countryName a two-letter PrintableString.
    check_subject(draft, tbs)?;
    // Issuer name: the subject for a root, the CA's subject otherwise (§4.1.2.4).
    let issuer_ok = match &draft.issuing {
        Issuing::SelfSigned => tbs.issuer.as_raw() == tbs.subject.as_raw(),
        Issuing::ByCa { der, .. } => {
            let (_, ca) = X509Certificate::from_der(der)
                .map_err(|e| fail("issuer", format!("CA certificate does not parse: {e}")))?;
            ca.subject().as_raw() == tbs.issuer.as_raw()
        }
    };
    if !issuer_ok {
        return Err(fail(
            "RFC 5280 §4.1.2.4 issuer",
            "issuer name is not the issuing CA's subject",
        ));
    }
    // §4.1.2.7: the subject key as drafted.
    if tbs.subject_pki.raw != draft.subject_key().spki_der().as_slice() {
        return Err(fail(
            "profile subjectPublicKeyInfo",
            "the encoded key differs from the drafted one",
        ));
    }
    check_extensions(draft, &cert)
}

fn check_subject(draft: &Draft, tbs: &TbsCertificate<'_>) -> Result<(), CertError> {
    let rule = "RFC 5280 §4.1.2.6 subject";
    let encoded: Vec<_> = tbs.subject.iter_attributes().collect();
    let drafted = draft.subject().attrs();
    if encoded.len() != drafted.len() {
        return Err(fail(rule, "attribute count differs from the drafted name"));
    }
    for (attr, (kind, value)) in encoded.iter().zip(drafted) {
        if attr.attr_type().to_id_string() != kind.oid() {
            return Err(fail(
                rule,
                format!("{} is not in the drafted position", kind.short()),
            ));
        }
        let tag = attr.attr_value().header.tag();
        if *kind == Attr::Country && tag != x509_parser::der_parser::asn1_rs::Tag::PrintableString {
            return Err(fail(
                "RFC 5280 appendix A countryName",
                "must be a PrintableString",
            ));
        }
        if attr.as_str().ok() != Some(value.as_str()) {
            return Err(fail(
                rule,
                format!("{}= value differs from the drafted one", kind.short()),
            ));
        }
    }
    Ok(())
}

fn check_extensions(draft: &Draft, cert: &X509Certificate<'_>) -> Result<(), CertError> {
    let mut seen = std::collections::HashSet::new();
    for ext in cert.extensions() {
        if !seen.insert(ext.oid.to_id_string()) {
            return Err(fail(
                "RFC 5280 §4.2 extensions",
                format!("{} appears twice", ext.oid),
            ));
        }
    }
    // §4.2.1.9: CA certificates carry a critical basicConstraints with cA TRUE.
    let bc = cert
        .basic_constraints()
        .map_err(|e| fail("RFC 5280 §4.2.1.9 basicConstraints", e.to_string()))?
        .ok_or_else(|| fail("RFC 5280 §4.2.1.9 basicConstraints", "missing"))?;
    if !bc.critical || !bc.value.ca {
        return Err(fail(
            "RFC 5280 §4.2.1.9 basicConstraints",
            "must be critical with cA TRUE",
        ));
    }
    if bc.value.path_len_constraint != draft.profile.path_len.map(u32::from) {
        return Err(fail(
            "profile pathLenConstraint",
            format!("{:?}", bc.value.path_len_constraint),
        ));
    }
    // §4.2.1.3: keyUsage critical, keyCertSign (and cRLSign for a CRL issuer).
    let ku = cert
        .key_usage()
        .map_err(|e| fail("RFC 5280 §4.2.1.3 keyUsage", e.to_string()))?
        .ok_or_else(|| fail("RFC 5280 §4.2.1.3 keyUsage", "missing"))?;
    if !ku.critical || !ku.value.key_cert_sign() || !ku.value.crl_sign() {
        return Err(fail(
            "RFC 5280 §4.2.1.3 keyUsage",
            "must be critical with keyCertSign and cRLSign",
        ));
    }
    let mut expected_flags = 0b0110_0000u16; // keyCertSign (5) | cRLSign (6), bit 0 = LSB
    if draft.profile.digital_signature {
        expected_flags |= 1;
    }
    if ku.value.flags != expected_flags {
        return Err(fail(
            "profile keyUsage",
            format!(
                "flags {:#06b}, expected {:#06b}",
                ku.value.flags, expected_flags
            ),
        ));
    }
    // No EKU on CA certificates of this profile.
    if cert
        .extended_key_usage()
        .map_err(|e| fail("extendedKeyUsage", e.to_string()))?
        .is_some()
    {
        return Err(fail(
            "profile extendedKeyUsage",
            "present, but the profile has none",
        ));
    }
    // §4.2.1.2: SKI non-critical, RFC 7093 method 1.
    let ski = cert
        .get_extension_unique(&oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
        .map_err(|e| fail("RFC 5280 §4.2.1.2 subjectKeyIdentifier", e.to_string()))?
        .ok_or_else(|| fail("RFC 5280 §4.2.1.2 subjectKeyIdentifier", "missing"))?;
    let ParsedExtension::SubjectKeyIdentifier(ski_value) = ski.parsed_extension() else {
        return Err(fail(
            "RFC 5280 §4.2.1.2 subjectKeyIdentifier",
            "does not parse",
        ));
    };
    if ski.critical || ski_value.0 != draft.subject_key().key_identifier().as_slice() {
        return Err(fail(
            "RFC 7093 §2 subjectKeyIdentifier",
            "not the method-1 identifier of the subject key, or critical",
        ));
    }
    // §4.2.1.1: AKI non-critical, keyIdentifier = the issuer key's identifier.
    let aki = cert
        .get_extension_unique(&oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER)
        .map_err(|e| fail("RFC 5280 §4.2.1.1 authorityKeyIdentifier", e.to_string()))?
        .ok_or_else(|| fail("RFC 5280 §4.2.1.1 authorityKeyIdentifier", "missing"))?;
    let ParsedExtension::AuthorityKeyIdentifier(aki_value) = aki.parsed_extension() else {
        return Err(fail(
            "RFC 5280 §4.2.1.1 authorityKeyIdentifier",
            "does not parse",
        ));
    };
    // The issuer's own subjectKeyIdentifier when its certificate has one (an enterprise CA's,
    // made by another method), else the RFC 7093 identifier of its key (a root this vault
    // made, or drafted self-signed).
    let issuer_id = match &draft.issuing {
        Issuing::ByCa { der, .. } => X509Certificate::from_der(der)
            .ok()
            .and_then(|(_, ca)| {
                ca.get_extension_unique(&oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
                    .ok()
                    .flatten()
                    .and_then(|e| match e.parsed_extension() {
                        ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                        _ => None,
                    })
            })
            .unwrap_or_else(|| draft.issuer_key().key_identifier()),
        Issuing::SelfSigned => draft.issuer_key().key_identifier(),
    };
    if aki.critical || aki_value.key_identifier.as_ref().map(|k| k.0) != Some(issuer_id.as_slice())
    {
        return Err(fail(
            "RFC 5280 §4.2.1.1 authorityKeyIdentifier",
            "keyIdentifier is not the issuer's key identifier, or critical",
        ));
    }
    check_san(draft, cert)?;
    check_name_constraints(draft, cert)?;
    let known = [
        oid_registry::OID_X509_EXT_BASIC_CONSTRAINTS,
        oid_registry::OID_X509_EXT_KEY_USAGE,
        oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
        oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER,
        oid_registry::OID_X509_EXT_SUBJECT_ALT_NAME,
        oid_registry::OID_X509_EXT_NAME_CONSTRAINTS,
    ];
    for ext in cert.extensions() {
        if !known.contains(&ext.oid) {
            return Err(fail(
                "profile extensions",
                format!("unexpected extension {}", ext.oid),
            ));
        }
    }
    Ok(())
}

fn check_san(draft: &Draft, cert: &X509Certificate<'_>) -> Result<(), CertError> {
    let rule = "RFC 5280 §4.2.1.6 subjectAltName";
    let san = cert
        .subject_alternative_name()
        .map_err(|e| fail(rule, e.to_string()))?;
    let found: Vec<&str> = match &san {
        Some(ext) => {
            // Critical only when the subject is empty, which ours never is.
            if ext.critical {
                return Err(fail(rule, "critical although the subject is not empty"));
            }
            let mut names = Vec::new();
            for n in &ext.value.general_names {
                match n {
                    GeneralName::DNSName(d) => names.push(*d),
                    other => {
                        return Err(fail(
                            "profile subjectAltName",
                            format!("unexpected name {other:?}"),
                        ))
                    }
                }
            }
            names
        }
        None => Vec::new(),
    };
    let expected: Vec<&str> = draft.profile.san_dns.iter().map(String::as_str).collect();
    if found != expected {
        return Err(fail(
            "profile subjectAltName",
            format!("{found:?}, drafted {expected:?}"),
        ));
    }
    Ok(())
}

fn check_name_constraints(draft: &Draft, cert: &X509Certificate<'_>) -> Result<(), CertError> {
    let rule = "RFC 5280 §4.2.1.10 nameConstraints";
    let nc = cert
        .name_constraints()
        .map_err(|e| fail(rule, e.to_string()))?;
    let expected = draft
        .profile
        .name_constraints
        .clone()
        .filter(|nc| !nc.is_empty());
    match (nc, expected) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(fail(
            "profile nameConstraints",
            "present, but none were drafted",
        )),
        (None, Some(_)) => Err(fail("profile nameConstraints", "drafted, but missing")),
        (Some(ext), Some(spec)) => {
            if !ext.critical {
                return Err(fail(rule, "conforming CAs MUST mark it critical"));
            }
            let permitted = Subtrees::split(&ext.value.permitted_subtrees)?;
            let excluded = Subtrees::split(&ext.value.excluded_subtrees)?;
            // §4.2.1.10: "Conforming CAs MUST NOT issue certificates where name constraints
            // is an empty sequence": at least one of the two lists.
            if ext.value.permitted_subtrees.is_none() && ext.value.excluded_subtrees.is_none() {
                return Err(fail(rule, "neither permittedSubtrees nor excludedSubtrees"));
            }
            if permitted.other + excluded.other > 0
                || !permitted.ip.is_empty()
                || permitted.dns != spec.permitted_dns
                || permitted.uri != spec.permitted_uri
                || permitted.email != spec.permitted_email
                || excluded.dns != spec.excluded_dns
                || excluded.uri != spec.excluded_uri
                || excluded.email != spec.excluded_email
                || excluded.ip != spec.excluded_ip
            {
                return Err(fail(
                    "profile nameConstraints",
                    "encoded subtrees differ from the drafted ones",
                ));
            }
            Ok(())
        }
    }
}

/// The bases of one list of subtrees, by form.
#[derive(Default)]
struct Subtrees {
    dns: Vec<String>,
    uri: Vec<String>,
    email: Vec<String>,
    ip: Vec<super::IpRange>,
    other: usize,
}

impl Subtrees {
    fn split(
        trees: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>,
    ) -> Result<Subtrees, CertError> {
        let mut s = Subtrees::default();
        for t in trees.iter().flatten() {
            match t.base {
                GeneralName::DNSName(d) => s.dns.push(d.to_owned()),
                GeneralName::URI(u) => s.uri.push(u.to_owned()),
                GeneralName::RFC822Name(e) => s.email.push(e.to_owned()),
                // §4.2.1.10: an iPAddress constraint is an address and a mask, 8 octets for
                // IPv4 and 32 for IPv6 (a range in CIDR form).
                GeneralName::IPAddress(octets) => s.ip.push(
                    super::IpRange::from_octets(octets)
                        .map_err(|e| fail("RFC 5280 §4.2.1.10 nameConstraints iPAddress", e))?,
                ),
                _ => s.other += 1,
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;
    use crate::x509::{CaProfile, Dn, Serial};

    fn self_signed_draft(alg: KeyAlg) -> (Throwaway, Draft) {
        let key = Throwaway::generate(alg).unwrap();
        let now = Utc::now();
        let draft = Draft::new(
            Serial::from_random([7; 16]),
            Dn::parse("CN=Test Root,O=Example,C=GB").unwrap(),
            key.public_key().clone(),
            Issuing::SelfSigned,
            now,
            now + Duration::days(10),
            CaProfile {
                path_len: Some(1),
                ..CaProfile::default()
            },
        )
        .unwrap();
        (key, draft)
    }

    #[test]
    fn a_root_draft_lints_and_signs_with_the_same_tbs() {
        for alg in [KeyAlg::EcP256, KeyAlg::EcP384] {
            let (key, draft) = self_signed_draft(alg);
            let linted = lint(draft).unwrap();
            let tbs = linted.tbs.clone();
            let issued = sign(linted, &key).unwrap();
            let (_, cert) = X509Certificate::from_der(issued.der()).unwrap();
            assert_eq!(cert.tbs_certificate.as_ref(), tbs.as_slice());
        }
    }

    #[test]
    fn the_gate_refuses_to_sign_anything_but_the_linted_bytes() {
        let (key, draft) = self_signed_draft(KeyAlg::EcP256);
        let mut linted = lint(draft).unwrap();
        linted.tbs[10] ^= 1;
        let e = sign(linted, &key).unwrap_err();
        assert!(
            matches!(e, CertError::Signing(ref why) if why.contains("other than the linted")),
            "{e}"
        );
    }

    #[test]
    fn a_signer_with_another_key_is_refused_before_it_signs() {
        let (_, draft) = self_signed_draft(KeyAlg::EcP256);
        let other = Counting::new(Throwaway::generate(KeyAlg::EcP256).unwrap());
        let e = sign_tbs(lint(draft).unwrap(), &other).unwrap_err();
        assert!(
            matches!(e, CertError::Signing(ref why)
                if why == "the signer's public key is not the issuer key the certificate was drafted for"),
            "{e}"
        );
        assert_eq!(other.calls.get(), 0, "the token was asked to sign");
    }

    /// Counts the signatures asked of the key it wraps.
    struct Counting {
        key: Throwaway,
        calls: std::cell::Cell<usize>,
    }

    impl Counting {
        fn new(key: Throwaway) -> Counting {
            Counting {
                key,
                calls: std::cell::Cell::new(0),
            }
        }
    }

    impl RawSigner for Counting {
        fn public_key(&self) -> &PublicKey {
            self.key.public_key()
        }
        fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignFailure> {
            self.calls.set(self.calls.get() + 1);
            self.key.sign(msg)
        }
    }

    /// A module that reports the issuer's public key but signs with another key (a wrong
    /// object handle, a swapped key).
    struct Impostor<'a> {
        reports: &'a PublicKey,
        signs_with: Throwaway,
    }

    impl RawSigner for Impostor<'_> {
        fn public_key(&self) -> &PublicKey {
            self.reports
        }
        fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignFailure> {
            self.signs_with.sign(msg)
        }
    }

    /// A module that signs with the right key and returns the signature with its last byte
    /// flipped (the DER stays well-formed; `s` is wrong).
    struct Flipping<'a>(&'a Throwaway);

    impl RawSigner for Flipping<'_> {
        fn public_key(&self) -> &PublicKey {
            self.0.public_key()
        }
        fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignFailure> {
            let mut sig = self.0.sign(msg)?;
            *sig.last_mut().unwrap() ^= 0x01;
            Ok(sig)
        }
    }

    /// The error `verify` must give for a certificate whose signature is not the issuer's.
    #[track_caller]
    fn refused_as_badly_signed(e: CertError) {
        assert!(
            matches!(e, CertError::Verification(ref why)
                if why.starts_with("signature: does not verify with the signing key: ")),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with(
                "the signed certificate failed verification, it was not recorded or written: signature: does not verify"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_module_that_signs_with_another_key_than_it_reports_is_refused_by_verify() {
        for alg in [KeyAlg::EcP256, KeyAlg::EcP384] {
            let (issuer, draft) = self_signed_draft(alg);
            let impostor = Impostor {
                reports: issuer.public_key(),
                signs_with: Throwaway::generate(alg).unwrap(),
            };
            // The key it reports passes the signer-key check and the gate: only the
            // signature check after signing can notice.
            let signed = sign_tbs(lint(draft.clone()).unwrap(), &impostor).unwrap();
            refused_as_badly_signed(signed.verify().unwrap_err());
            refused_as_badly_signed(sign(lint(draft).unwrap(), &impostor).unwrap_err());
        }
    }

    #[test]
    fn a_module_that_returns_a_corrupted_signature_is_refused_by_verify() {
        for alg in [KeyAlg::EcP256, KeyAlg::EcP384] {
            let (issuer, draft) = self_signed_draft(alg);
            let signed = sign_tbs(lint(draft.clone()).unwrap(), &Flipping(&issuer)).unwrap();
            refused_as_badly_signed(signed.verify().unwrap_err());
            refused_as_badly_signed(sign(lint(draft).unwrap(), &Flipping(&issuer)).unwrap_err());
        }
    }

    #[test]
    fn verify_refuses_a_certificate_that_is_not_the_linted_one_even_if_well_signed() {
        let (issuer, draft) = self_signed_draft(KeyAlg::EcP256);
        let linted = lint(draft.clone()).unwrap();
        // The issuer's genuine signature over another certificate (another serial).
        let mut other = draft;
        other.serial = Serial::from_random([9; 16]);
        let (other_der, _) = render(&other, &issuer, None).unwrap();
        let e = SignedTbs {
            linted,
            der: other_der,
        }
        .verify()
        .unwrap_err();
        assert!(
            matches!(e, CertError::Verification(ref why)
                if why == "the signed certificate's TBSCertificate differs from the linted one"),
            "{e:?}"
        );
    }

    #[test]
    fn an_honest_signer_passes_the_same_path_and_its_signature_checks_with_its_own_key() {
        // The positive twin of the refusals above: the same path with an honest signer
        // returns the certificate, and its signature checks with the issuer key alone.
        let (issuer, draft) = self_signed_draft(KeyAlg::EcP256);
        let issued = sign_tbs(lint(draft).unwrap(), &issuer)
            .unwrap()
            .verify()
            .unwrap();
        let (_, cert) = X509Certificate::from_der(issued.der()).unwrap();
        cert.verify_signature(None).unwrap();
        // The PEM the CLI prints and writes is that certificate.
        let pem = issued.pem();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
        let parsed = ::pem::parse(&pem).unwrap();
        assert_eq!(parsed.tag(), "CERTIFICATE");
        assert_eq!(parsed.contents(), issued.der());
    }

    /// `render`s `draft` with `key` and checks the result against `other`, which differs from
    /// `draft` in one field: the rule named must refuse it.
    #[track_caller]
    fn refused_against(draft: &Draft, key: &Throwaway, other: &Draft, rule: &str) {
        let (der, _) = render(draft, key, None).unwrap();
        check(draft, &der, Some(key.public_key())).unwrap();
        let e = check(other, &der, Some(key.public_key())).unwrap_err();
        assert!(
            matches!(e, CertError::Lint { rule: r, .. } if r == rule),
            "expected {rule}: {e}"
        );
    }

    #[test]
    fn a_certificate_whose_not_after_alone_differs_from_its_draft_fails_the_lint() {
        let (key, draft) = self_signed_draft(KeyAlg::EcP256);
        let mut other = draft.clone();
        other.not_after += Duration::days(1);
        refused_against(&draft, &key, &other, "profile validity");
    }

    #[test]
    fn a_certificate_whose_subject_differs_from_its_draft_fails_the_lint() {
        let (key, draft) = self_signed_draft(KeyAlg::EcP256);
        let mut other = draft.clone();
        other.subject = Dn::parse("CN=Other Root,O=Example,C=GB").unwrap();
        refused_against(&draft, &key, &other, "RFC 5280 §4.1.2.6 subject");
    }

    /// An intermediate under a root made by [`self_signed_draft`], with SANs, name
    /// constraints and digitalSignature: every optional part of the profile.
    fn intermediate_draft(root_key: &Throwaway, root_der: &[u8]) -> Draft {
        let now = Utc::now();
        Draft::new(
            Serial::from_random([8; 16]),
            Dn::parse("CN=east,O=Example").unwrap(),
            Throwaway::generate(KeyAlg::EcP256)
                .unwrap()
                .public_key()
                .clone(),
            Issuing::ByCa {
                der: root_der.to_vec(),
                key: root_key.public_key().clone(),
            },
            now,
            now + Duration::days(5),
            CaProfile {
                path_len: Some(0),
                digital_signature: true,
                san_dns: vec!["istiod.istio-system.svc".into()],
                name_constraints: Some(crate::x509::NameConstraintsSpec {
                    permitted_dns: vec!["east.example".into()],
                    excluded_dns: vec!["bad.east.example".into()],
                    permitted_uri: vec!["east.example".into()],
                    excluded_uri: vec![],
                    ..Default::default()
                }),
            },
        )
        .unwrap()
    }

    #[test]
    fn an_intermediate_with_every_profile_option_lints_signs_and_names_a_wrong_issuer() {
        let (root_key, root_draft) = self_signed_draft(KeyAlg::EcP384);
        let root = sign(lint(root_draft).unwrap(), &root_key).unwrap();
        let draft = intermediate_draft(&root_key, root.der());
        let issued = sign(lint(draft.clone()).unwrap(), &root_key).unwrap();
        let (_, cert) = X509Certificate::from_der(issued.der()).unwrap();
        assert_eq!(
            cert.issuer().as_raw(),
            X509Certificate::from_der(root.der())
                .unwrap()
                .1
                .subject()
                .as_raw()
        );
        assert!(cert.key_usage().unwrap().unwrap().value.digital_signature());
        // The same certificate checked against a draft naming another CA as its issuer.
        let (other_key, other_root) = self_signed_draft(KeyAlg::EcP384);
        let mut other_root = other_root;
        other_root.subject = Dn::parse("CN=Another Root,O=Example,C=GB").unwrap();
        let other_root = sign(lint(other_root).unwrap(), &other_key).unwrap();
        let mut other = draft.clone();
        other.issuing = Issuing::ByCa {
            der: other_root.der().to_vec(),
            key: root_key.public_key().clone(),
        };
        let e = check(&other, issued.der(), None).unwrap_err();
        assert!(
            matches!(
                e,
                CertError::Lint {
                    rule: "RFC 5280 §4.1.2.4 issuer",
                    ..
                }
            ),
            "{e}"
        );
        // ... and against drafts differing in one optional part each.
        let mut no_ds = draft.clone();
        no_ds.profile.digital_signature = false;
        let e = check(&no_ds, issued.der(), None).unwrap_err();
        assert!(
            matches!(
                e,
                CertError::Lint {
                    rule: "profile keyUsage",
                    ..
                }
            ),
            "{e}"
        );
        let mut no_san = draft.clone();
        no_san.profile.san_dns.clear();
        let e = check(&no_san, issued.der(), None).unwrap_err();
        assert!(
            matches!(
                e,
                CertError::Lint {
                    rule: "profile subjectAltName",
                    ..
                }
            ),
            "{e}"
        );
        // Each list of subtrees differing alone.
        type Field = fn(&mut crate::x509::NameConstraintsSpec) -> &mut Vec<String>;
        let fields: [Field; 4] = [
            |nc| &mut nc.permitted_dns,
            |nc| &mut nc.excluded_dns,
            |nc| &mut nc.permitted_uri,
            |nc| &mut nc.excluded_uri,
        ];
        for field in fields {
            let mut other_nc = draft.clone();
            field(other_nc.profile.name_constraints.as_mut().unwrap()).push("x.example".into());
            let e = check(&other_nc, issued.der(), None).unwrap_err();
            assert!(
                matches!(
                    e,
                    CertError::Lint {
                        rule: "profile nameConstraints",
                        ..
                    }
                ),
                "{e}"
            );
        }
        let mut no_nc = draft;
        no_nc.profile.name_constraints = None;
        let e = check(&no_nc, issued.der(), None).unwrap_err();
        assert!(
            matches!(
                e,
                CertError::Lint {
                    rule: "profile nameConstraints",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_lint_rule_catches_a_certificate_that_differs_from_its_draft() {
        let (key, draft) = self_signed_draft(KeyAlg::EcP256);
        let (der, _) = render(&draft, &key, None).unwrap();
        let mut other = draft.clone();
        other.profile.path_len = Some(0);
        let e = check(&other, &der, Some(key.public_key())).unwrap_err();
        assert!(
            matches!(
                e,
                CertError::Lint {
                    rule: "profile pathLenConstraint",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn name_constraints_of_every_form_lint_and_a_changed_subtree_is_caught() {
        use crate::x509::{IpRange, NameConstraintsSpec};
        let (key, mut draft) = self_signed_draft(KeyAlg::EcP256);
        draft.profile.name_constraints = Some(NameConstraintsSpec {
            permitted_dns: vec!["istio-system.svc".into()],
            excluded_dns: vec!["admin.example".into()],
            permitted_uri: vec!["cluster.local".into()],
            excluded_uri: vec![".evil.example".into()],
            permitted_email: vec!["no-email.invalid".into()],
            excluded_email: vec![".".into()],
            excluded_ip: vec![IpRange::ALL_V4, IpRange::ALL_V6],
        });
        let linted = lint(draft.clone()).unwrap();
        sign(linted, &key).unwrap();
        let (der, _) = render(&draft, &key, None).unwrap();
        let mut other = draft.clone();
        if let Some(nc) = other.profile.name_constraints.as_mut() {
            nc.excluded_ip.pop();
        }
        let e = check(&other, &der, Some(key.public_key())).unwrap_err();
        assert!(
            matches!(
                e,
                CertError::Lint {
                    rule: "profile nameConstraints",
                    ..
                }
            ),
            "{e}"
        );
    }
}
