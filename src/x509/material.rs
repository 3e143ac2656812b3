//! The certificate and key material an export carries, checked before anything is rendered:
//! canonical `CERTIFICATE` PEMs for the intermediate, the chain above it (its issuer first, up
//! to and including a self-signed root) and the trust bundle (every root the mesh trusts now,
//! the chain's root among them), the intermediate a CA certificate issued by the first of the
//! chain and each certificate of the chain issued by the next; and a vault-generated key (only
//! ever written encrypted) one unencrypted PKCS#8 key that belongs to the intermediate.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rsa::pkcs8::PrivateKeyInfo;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedKey;
use zeroize::Zeroizing;

use crate::policy::ClusterName;

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";

/// A certificate, the key or the cluster name given for an export is not usable (exit 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot be exported: {reason}")]
pub struct MaterialError {
    /// Which input: `the intermediate certificate`, `the root chain`, `the trust bundle`,
    /// `the key`, `the cluster name`.
    pub what: &'static str,
    /// What is wrong with it and what to do.
    pub reason: String,
}

impl MaterialError {
    fn new(what: &'static str, reason: impl Into<String>) -> MaterialError {
        MaterialError {
            what,
            reason: reason.into(),
        }
    }
}

/// What is exported: the cluster's intermediate, the chain above it, the trust bundle, and,
/// only when the vault generated it, the intermediate's key.
#[derive(Clone, Copy)]
pub struct Material<'a> {
    /// The cluster's name, as in the ledger; it appears in the README and comments.
    pub cluster: &'a str,
    /// The cluster's intermediate certificate: one `CERTIFICATE` PEM block.
    pub intermediate_pem: &'a str,
    /// The certificates above it, one `CERTIFICATE` PEM block each: its issuer first, up to
    /// and including the self-signed root (for a vault's own root, that root alone; for a
    /// subordinate vault, its CA, the enterprise's intermediates, the enterprise root).
    pub chain_pem: &'a str,
    /// The trust bundle (`root-cert.pem`): the self-signed roots the mesh trusts now, the
    /// chain's root among them; `None` is the chain's root alone.
    pub trust_pem: Option<&'a str>,
    /// The intermediate's private key as one unencrypted PKCS#8 `PRIVATE KEY` PEM block, only
    /// for a key the vault generated (`sign --generate-key`); it is only ever written
    /// encrypted.
    pub key_pem: Option<&'a str>,
}

impl fmt::Debug for Material<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Material")
            .field("cluster", &self.cluster)
            .field("intermediate_pem", &self.intermediate_pem)
            .field("chain_pem", &self.chain_pem)
            .field("trust_pem", &self.trust_pem)
            .field("key_pem", &self.key_pem.map(|_| "[private key elided]"))
            .finish()
    }
}

/// The material, checked: canonical certificate PEMs and the key as written.
pub struct Checked {
    /// The cluster's name.
    pub cluster: String,
    /// The intermediate, canonical PEM.
    pub intermediate: String,
    /// The chain above it, canonical PEM each, its issuer first, the root last.
    pub chain: Vec<String>,
    /// The trust bundle, canonical PEM each.
    pub trust: Vec<String>,
    /// The key as written, only for a key the vault generated.
    pub key: Option<Zeroizing<Vec<u8>>>,
}

impl fmt::Debug for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checked")
            .field("cluster", &self.cluster)
            .field("key", &self.key.as_ref().map(|_| "[private key elided]"))
            .finish_non_exhaustive()
    }
}

impl Checked {
    /// Checks `m`: the intermediate one CA certificate issued by the first of the chain, each
    /// of the chain issued by the next, the last a self-signed root found in the trust bundle,
    /// the key (if any) one unencrypted PKCS#8 key of the intermediate.
    pub fn new(m: &Material) -> Result<Checked, MaterialError> {
        const CHAIN: &str = "the root chain";
        const TRUST: &str = "the trust bundle";
        let cluster = m
            .cluster
            .parse::<ClusterName>()
            .map_err(|e| MaterialError::new("the cluster name", e))?;
        let (intermediate, int_der) =
            one_certificate("the intermediate certificate", m.intermediate_pem)?;
        let chain = certificates(CHAIN, m.chain_pem)?;
        let root_der = chain[0].1.clone();
        let int_cert = parse_certificate("the intermediate certificate", &int_der)?;
        let root_cert = parse_certificate(CHAIN, &root_der)?;
        if int_der == root_der {
            return Err(MaterialError::new(
                "the intermediate certificate",
                "it is the root certificate itself; pass the cluster's intermediate",
            ));
        }
        if int_cert.issuer().as_raw() != root_cert.subject().as_raw()
            || int_cert
                .verify_signature(Some(root_cert.public_key()))
                .is_err()
        {
            return Err(MaterialError::new(
                "the intermediate certificate",
                format!(
                    "it was not issued by the root given (its issuer is {}, the root is {}); pass the root that signed it",
                    int_cert.issuer(),
                    root_cert.subject()
                ),
            ));
        }
        match int_cert.basic_constraints() {
            Ok(Some(bc)) if bc.value.ca => {}
            _ => {
                return Err(MaterialError::new(
                    "the intermediate certificate",
                    "it is not a CA certificate (no basicConstraints CA:TRUE), so istiod would refuse it; pass the cluster's intermediate CA certificate",
                ))
            }
        }
        // Each certificate of the chain is issued by the next; the last is self-signed.
        let parsed: Vec<X509Certificate> = chain
            .iter()
            .map(|(_, der)| parse_certificate(CHAIN, der))
            .collect::<Result<_, _>>()?;
        for (i, cert) in parsed.iter().enumerate() {
            let issuer = parsed.get(i + 1).unwrap_or(cert);
            if cert.issuer().as_raw() != issuer.subject().as_raw()
                || cert.verify_signature(Some(issuer.public_key())).is_err()
            {
                let why = if i + 1 == parsed.len() {
                    format!("its last certificate ({}) is not a self-signed root; pass the chain up to and including the root", cert.subject())
                } else {
                    format!("certificate {} ({}) was not issued by the one after it ({}); pass the chain in order, issuer after subject", i + 1, cert.subject(), issuer.subject())
                };
                return Err(MaterialError::new(CHAIN, why));
            }
        }
        let anchor = chain
            .last()
            .expect("a chain holds one certificate at least");
        let trust = match m.trust_pem {
            None => vec![anchor.clone()],
            Some(text) => certificates(TRUST, text)?,
        };
        for (_, der) in &trust {
            let cert = parse_certificate(TRUST, der)?;
            if cert.issuer().as_raw() != cert.subject().as_raw()
                || cert.verify_signature(None).is_err()
            {
                return Err(MaterialError::new(
                    TRUST,
                    format!(
                        "{} is not a self-signed root; a trust bundle holds roots only",
                        cert.subject()
                    ),
                ));
            }
        }
        if !trust.iter().any(|(_, der)| *der == anchor.1) {
            return Err(MaterialError::new(
                TRUST,
                "it does not hold the root the chain ends in, so the intermediate would not verify to it; pass the bundle of the vault's current phase",
            ));
        }
        let key = match m.key_pem {
            None => None,
            Some(text) => Some(check_key(text, &int_cert)?),
        };
        Ok(Checked {
            cluster: cluster.as_str().to_owned(),
            intermediate,
            chain: chain.into_iter().map(|(pem, _)| pem).collect(),
            trust: trust.into_iter().map(|(pem, _)| pem).collect(),
            key,
        })
    }
}

/// The canonical PEM and the DER of each `CERTIFICATE` block in `text` (one at least).
fn certificates(what: &'static str, text: &str) -> Result<Vec<(String, Vec<u8>)>, MaterialError> {
    let blocks = pem::parse_many(text).map_err(|e| {
        MaterialError::new(
            what,
            format!(
                "its PEM cannot be decoded ({e}); pass the certificates as the vault wrote them"
            ),
        )
    })?;
    if blocks.len() != text.matches("-----BEGIN ").count() {
        return Err(MaterialError::new(
            what,
            "it holds a damaged PEM block; pass the certificates as the vault wrote them",
        ));
    }
    if blocks.is_empty() {
        return Err(MaterialError::new(
            what,
            "it holds no PEM block; pass -----BEGIN CERTIFICATE----- blocks",
        ));
    }
    blocks
        .iter()
        .map(|b| {
            if b.tag() != "CERTIFICATE" {
                return Err(MaterialError::new(
                    what,
                    format!(
                        "it holds a {} block, not a CERTIFICATE; pass -----BEGIN CERTIFICATE----- blocks only",
                        b.tag()
                    ),
                ));
            }
            let der = b.contents().to_vec();
            parse_certificate(what, &der)?;
            Ok((super::certificate_pem(&der), der))
        })
        .collect()
}

/// The canonical PEM and the DER of the one `CERTIFICATE` block in `text`.
fn one_certificate(what: &'static str, text: &str) -> Result<(String, Vec<u8>), MaterialError> {
    let blocks = pem::parse_many(text).map_err(|e| {
        MaterialError::new(
            what,
            format!("its PEM cannot be decoded ({e}); pass the certificate as the vault wrote it"),
        )
    })?;
    let begins = text.matches("-----BEGIN ").count();
    if blocks.len() != begins {
        return Err(MaterialError::new(
            what,
            "it holds a damaged PEM block; pass the certificate as the vault wrote it",
        ));
    }
    match blocks.as_slice() {
        [] => Err(MaterialError::new(
            what,
            "it holds no PEM block; pass one -----BEGIN CERTIFICATE----- block",
        )),
        [one] if one.tag() == "CERTIFICATE" => {
            let der = one.contents().to_vec();
            let canonical = super::certificate_pem(&der);
            Ok((canonical, der))
        }
        [one] => Err(MaterialError::new(
            what,
            format!(
                "it is a {} block, not a CERTIFICATE; pass one -----BEGIN CERTIFICATE----- block",
                one.tag()
            ),
        )),
        many => Err(MaterialError::new(
            what,
            format!(
                "it holds {} PEM blocks; pass exactly one CERTIFICATE block",
                many.len()
            ),
        )),
    }
}

fn parse_certificate<'a>(
    what: &'static str,
    der: &'a [u8],
) -> Result<X509Certificate<'a>, MaterialError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(MaterialError::new(
            what,
            "the certificate has trailing bytes; pass the certificate as the vault wrote it",
        )),
        Err(e) => Err(MaterialError::new(
            what,
            format!("it is not a well-formed X.509 certificate ({e}); pass the certificate as the vault wrote it"),
        )),
    }
}

/// Checks that `text` is one unencrypted PKCS#8 key that belongs to `cert`, and returns the
/// bytes to write: the block without surrounding whitespace, and a final newline.
fn check_key(text: &str, cert: &X509Certificate) -> Result<Zeroizing<Vec<u8>>, MaterialError> {
    const WHAT: &str = "the key";
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let trimmed = text.trim();
    if trimmed.matches("-----BEGIN ").count() > 1 {
        return Err(MaterialError::new(
            WHAT,
            "it holds more than one PEM block; pass exactly one PRIVATE KEY block",
        ));
    }
    if !trimmed.starts_with(BEGIN) || !trimmed.ends_with(END) {
        let reason = if trimmed.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            "it is encrypted, and istiod needs it unencrypted (the export encrypts it with age); pass the unencrypted PKCS#8 key"
        } else if trimmed.starts_with("-----BEGIN EC PRIVATE KEY-----")
            || trimmed.starts_with("-----BEGIN RSA PRIVATE KEY-----")
        {
            "it is in the older SEC1/PKCS#1 form; pass it as PKCS#8 (-----BEGIN PRIVATE KEY-----, openssl pkcs8 -topk8 -nocrypt)"
        } else {
            "it is not one -----BEGIN PRIVATE KEY----- (PKCS#8) PEM block with nothing around it"
        };
        return Err(MaterialError::new(WHAT, reason));
    }
    let body = &trimmed[BEGIN.len()..trimmed.len() - END.len()];
    let mut b64 = Zeroizing::new(String::with_capacity(body.len()));
    b64.extend(body.chars().filter(|c| !c.is_ascii_whitespace()));
    let mut der = Zeroizing::new(Vec::with_capacity(b64.len().div_ceil(4) * 3 + 3));
    STANDARD.decode_vec(b64.as_bytes(), &mut der).map_err(|_| {
        MaterialError::new(
            WHAT,
            "its base64 is damaged; pass the key as it was generated",
        )
    })?;
    key_matches(&der, cert)?;
    let mut out = Zeroizing::new(Vec::with_capacity(trimmed.len() + 1));
    out.extend_from_slice(trimmed.as_bytes());
    out.push(b'\n');
    Ok(out)
}

/// Checks that the PKCS#8 key `der` holds the public key of `cert`, by comparing the public
/// parts the key carries: an RSA key's modulus and exponent, an EC key's curve and point.
fn key_matches(der: &[u8], cert: &X509Certificate) -> Result<(), MaterialError> {
    const WHAT: &str = "the key";
    let info = PrivateKeyInfo::try_from(der).map_err(|e| {
        MaterialError::new(WHAT, format!("it is not a well-formed PKCS#8 private key ({e}); pass the key as it was generated"))
    })?;
    let spki = cert.public_key();
    let mismatch = || {
        MaterialError::new(
            WHAT,
            "it does not belong to the intermediate certificate (their public keys differ), so istiod would refuse both; pass the key the certificate was issued for",
        )
    };
    let key_alg = info.algorithm.oid.to_string();
    if key_alg != spki.algorithm.algorithm.to_id_string() {
        return Err(mismatch());
    }
    match key_alg.as_str() {
        OID_RSA_ENCRYPTION => {
            let key = rsa::pkcs1::RsaPrivateKey::try_from(info.private_key).map_err(|e| {
                MaterialError::new(
                    WHAT,
                    format!("its RSA key is malformed ({e}); pass the key as it was generated"),
                )
            })?;
            let Ok(ParsedKey::RSA(public)) = spki.parsed() else {
                return Err(mismatch());
            };
            let same = strip_zeros(key.modulus.as_bytes()) == strip_zeros(public.modulus)
                && strip_zeros(key.public_exponent.as_bytes()) == strip_zeros(public.exponent);
            if same {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
        OID_EC_PUBLIC_KEY => {
            let curve = info.algorithm.parameters_oid().map_err(|_| {
                MaterialError::new(
                    WHAT,
                    "its EC key names no curve; pass the key as it was generated",
                )
            })?;
            let cert_curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            if cert_curve.as_deref() != Some(curve.to_string().as_str()) {
                return Err(mismatch());
            }
            let point = ec_public_point(info.private_key)
                .map_err(|reason| MaterialError::new(WHAT, reason))?;
            if point.as_slice() == spki.subject_public_key.data.as_ref() {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
        other => Err(MaterialError::new(
            WHAT,
            format!("its algorithm {other} is not RSA or ECDSA, which istiod needs"),
        )),
    }
}

/// The public point an RFC 5915 `ECPrivateKey` carries in its optional `publicKey` field.
fn ec_public_point(ec_private_key: &[u8]) -> Result<Vec<u8>, String> {
    let parsed = yasna::parse_der(ec_private_key, |r| {
        r.read_sequence(|r| {
            let _version = r.next().read_u8()?;
            let _secret = Zeroizing::new(r.next().read_bytes()?);
            let _params =
                r.read_optional(|r| r.read_tagged(yasna::Tag::context(0), |r| r.read_der()))?;
            r.read_optional(|r| r.read_tagged(yasna::Tag::context(1), |r| r.read_bitvec_bytes()))
        })
    });
    match parsed {
        Ok(Some((point, _bits))) => Ok(point),
        Ok(None) => Err("the EC key does not carry its public key, so it cannot be checked against the certificate; re-encode it with openssl pkey, which adds it".into()),
        Err(_) => Err("its EC key is malformed; pass the key as it was generated".into()),
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

// ---------------------------------------------------------------------------------------
