//! A token that signs wrongly must never yield a certificate or a CRL (issue 17): a module
//! that reports the issuer's public key but signs with another key, and one that returns a
//! corrupted signature, each refused by the check after signing with the exact error. The
//! honest path through the same code is judged by `openssl`.

mod common;

use chrono::{Duration, Utc};
use common::{openssl, run};
use rcgen::SigningKey;
use rootvault::keys::{KeyAlg, PublicKey, RawSigner, SignFailure};
use rootvault::x509::{
    lint, lint_crl, sign, sign_crl, sign_tbs, CaProfile, CertError, CrlDraft, CrlEntry, Dn, Draft,
    IssuedCertificate, Issuing, RevocationReason, Serial,
};

/// A software key standing in for a token key.
struct SoftKey {
    key: rcgen::KeyPair,
    public: PublicKey,
}

impl SoftKey {
    fn new(alg: KeyAlg) -> SoftKey {
        let rc = match alg {
            KeyAlg::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlg::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyAlg::Rsa { .. } => unreachable!("EC keys only here"),
        };
        let key = rcgen::KeyPair::generate_for(rc).unwrap();
        let public = PublicKey::new(alg, key.public_key_raw().to_vec());
        SoftKey { key, public }
    }
}

impl RawSigner for SoftKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignFailure> {
        SigningKey::sign(&self.key, msg).map_err(|e| SignFailure(e.to_string()))
    }
}

/// Reports one key, signs with another.
struct Impostor<'a> {
    reports: &'a PublicKey,
    signs_with: SoftKey,
}

impl RawSigner for Impostor<'_> {
    fn public_key(&self) -> &PublicKey {
        self.reports
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignFailure> {
        self.signs_with.sign(msg)
    }
}

/// The right key, the signature's last byte flipped.
struct Flipping<'a>(&'a SoftKey);

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

fn root(key: &SoftKey) -> IssuedCertificate {
    let now = Utc::now();
    let draft = Draft::new(
        Serial::from_random([3; 16]),
        Dn::parse("CN=Bad Signer Test Root,O=Example,C=GB").unwrap(),
        key.public_key().clone(),
        Issuing::SelfSigned,
        now,
        now + Duration::days(30),
        CaProfile {
            path_len: Some(1),
            ..CaProfile::default()
        },
    )
    .unwrap();
    sign(lint(draft).unwrap(), key).unwrap()
}

fn intermediate_draft(root_key: &SoftKey, root: &IssuedCertificate) -> Draft {
    let now = Utc::now();
    Draft::new(
        Serial::from_random([4; 16]),
        Dn::parse("CN=east,O=Example").unwrap(),
        SoftKey::new(KeyAlg::EcP256).public_key().clone(),
        Issuing::ByCa {
            der: root.der().to_vec(),
            key: root_key.public_key().clone(),
        },
        now,
        now + Duration::days(10),
        CaProfile {
            path_len: Some(0),
            ..CaProfile::default()
        },
    )
    .unwrap()
}

fn crl_draft(root_key: &SoftKey, root: &IssuedCertificate) -> CrlDraft {
    let now = Utc::now();
    CrlDraft::new(
        7,
        now,
        now + Duration::days(7),
        vec![CrlEntry {
            serial: Serial::from_random([5; 16]).bytes().to_vec(),
            revoked_at: now,
            reason: RevocationReason::KeyCompromise,
        }],
        root.der().to_vec(),
        root_key.public_key().clone(),
    )
    .unwrap()
}

#[track_caller]
fn badly_signed(e: CertError, what: &str) {
    assert!(
        matches!(e, CertError::Verification(ref why)
            if why.starts_with("signature: does not verify with the signing key: ")),
        "{what}: {e:?}"
    );
}

#[test]
fn an_intermediate_signed_by_another_key_than_the_token_reports_is_refused() {
    for alg in [KeyAlg::EcP256, KeyAlg::EcP384] {
        let key = SoftKey::new(alg);
        let root = root(&key);
        let impostor = Impostor {
            reports: key.public_key(),
            signs_with: SoftKey::new(alg),
        };
        let signed = sign_tbs(lint(intermediate_draft(&key, &root)).unwrap(), &impostor).unwrap();
        badly_signed(signed.verify().unwrap_err(), "sign_tbs + verify");
        badly_signed(
            sign(lint(intermediate_draft(&key, &root)).unwrap(), &impostor).unwrap_err(),
            "sign",
        );
        let e = sign(
            lint(intermediate_draft(&key, &root)).unwrap(),
            &Flipping(&key),
        )
        .unwrap_err();
        badly_signed(e, "flipped signature");
    }
}

#[test]
fn a_crl_signed_by_another_key_than_the_token_reports_is_refused() {
    for alg in [KeyAlg::EcP256, KeyAlg::EcP384] {
        let key = SoftKey::new(alg);
        let root = root(&key);
        let impostor = Impostor {
            reports: key.public_key(),
            signs_with: SoftKey::new(alg),
        };
        let e = sign_crl(lint_crl(crl_draft(&key, &root)).unwrap(), &impostor).unwrap_err();
        badly_signed(e, "CRL by an impostor");
    }
}

#[test]
fn a_crl_with_a_corrupted_signature_is_refused() {
    let key = SoftKey::new(KeyAlg::EcP256);
    let root = root(&key);
    let e = sign_crl(lint_crl(crl_draft(&key, &root)).unwrap(), &Flipping(&key)).unwrap_err();
    badly_signed(e, "CRL with a flipped byte");
}

#[test]
fn a_crl_signer_whose_key_is_not_the_issuers_is_refused_before_signing() {
    let key = SoftKey::new(KeyAlg::EcP256);
    let root = root(&key);
    let other = SoftKey::new(KeyAlg::EcP256);
    let e = sign_crl(lint_crl(crl_draft(&key, &root)).unwrap(), &other).unwrap_err();
    assert!(
        matches!(e, CertError::Signing(ref why) if why == "the signer's public key is not the CRL issuer's"),
        "{e:?}"
    );
}

#[test]
fn the_honest_path_gives_a_certificate_and_a_crl_that_openssl_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let key = SoftKey::new(KeyAlg::EcP384);
    let root = root(&key);
    std::fs::write(p("root.pem"), root.pem()).unwrap();
    let issued = sign(lint(intermediate_draft(&key, &root)).unwrap(), &key).unwrap();
    std::fs::write(p("east.pem"), issued.pem()).unwrap();
    let r = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        &p("root.pem"),
        &p("east.pem"),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.trim(), format!("{}: OK", p("east.pem")));
    let crl = sign_crl(lint_crl(crl_draft(&key, &root)).unwrap(), &key).unwrap();
    std::fs::write(p("root.crl"), crl.pem()).unwrap();
    let r = run(std::process::Command::new("openssl").args([
        "crl",
        "-in",
        &p("root.crl"),
        "-CAfile",
        &p("root.pem"),
        "-noout",
    ]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("verify OK"), "{}", r.stderr);
}

#[test]
fn an_issued_crl_carries_its_number_its_der_and_its_reasons_by_their_rfc_names() {
    // What the ceremony records of a CRL (number, DER, reasons), judged by openssl.
    let dir = tempfile::tempdir().unwrap();
    let key = SoftKey::new(KeyAlg::EcP256);
    let root = root(&key);
    let linted = lint_crl(crl_draft(&key, &root)).unwrap();
    assert_eq!(linted.draft().number(), 7);
    let crl = sign_crl(linted, &key).unwrap();
    let path = dir.path().join("root.crl");
    std::fs::write(&path, crl.der()).unwrap();
    let r = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        path.to_str().unwrap(),
        "-noout",
        "-text",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("X509v3 CRL Number: \n                7"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Key Compromise"), "{}", r.stdout);
    assert_eq!(RevocationReason::KeyCompromise.to_string(), "keyCompromise");
    assert_eq!(RevocationReason::CaCompromise.to_string(), "cACompromise");
}
