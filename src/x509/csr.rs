//! Intake of certificate signing requests: the first gate a cluster's file passes.
//!
//! [`Csr::intake`] takes the bytes of a file exactly as the cluster team sent them and either
//! returns a [`Csr`] whose self-signature has been verified and whose key has been identified,
//! or a [`CsrError`] that names what is wrong with the file and what to do about it.
//!
//! The checks run in this order, so the first problem found is the one reported:
//! 1. size: at most [`MAX_CSR_BYTES`], not empty (before anything is parsed);
//! 2. framing: DER (first byte `0x30`) or PEM; a PEM file holds exactly one
//!    `CERTIFICATE REQUEST` (or `NEW CERTIFICATE REQUEST`) block and no block of another type;
//! 3. structure: exactly one PKCS#10 request, version 1, no trailing bytes (a certificate
//!    given in place of a request is recognised as such);
//! 4. subject key: ECDSA P-256, ECDSA P-384 or RSA, taken from the request's own
//!    SubjectPublicKeyInfo, never from its signature algorithm;
//! 5. signature algorithm: nothing with SHA-1, MD5 or older;
//! 6. the self-signature verifies with the request's own key.
//!
//! Intake identifies the key but does not judge its size: that is policy's job
//! ([`crate::policy`]). Nothing else from the request (subject, requested extensions) is ever
//! copied into a certificate; [`Csr::subject`] and [`Csr::requested_extensions`] exist only
//! so the operator can see what was asked for.

use std::net::{Ipv4Addr, Ipv6Addr};

use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_parser::asn1_rs::Tag;
use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::der_parser::error::BerError;
use x509_parser::error::X509Error;
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::nom;
use x509_parser::objects::{oid2sn, oid_registry};
use x509_parser::oid_registry::Oid;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedKey;
use x509_parser::signature_algorithm::RsaSsaPssParams;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use crate::keys::{KeyAlg, PublicKey};

/// The largest file [`Csr::intake`] reads. A request with an RSA-4096 key and a generous
/// subject is under 2 KiB; anything near this size is not a request.
pub const MAX_CSR_BYTES: usize = 64 * 1024;

/// The PEM labels of a PKCS#10 request (RFC 7468 section 7, and the older Netscape form).
const REQUEST_LABELS: [&str; 2] = ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"];

/// Smallest and largest RSA modulus the verifier of `x509-parser` (ring) accepts for PKCS#1
/// signatures; keys outside this range are verified with the `rsa` crate instead, so that
/// intake identifies them and policy, not the verifier, decides whether they are acceptable.
const RING_RSA_BITS: std::ops::RangeInclusive<u32> = 2048..=8192;

const TRUNCATED: &str = "the data ends before the request does (truncated)";

/// Why a file was not accepted as a certificate signing request. Every variant is a refusal
/// of the input (exit code 3): the fix is always a different or regenerated file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrError {
    /// The file is larger than [`MAX_CSR_BYTES`]; checked before anything is parsed.
    #[error("the file is larger than 64 KiB ({MAX_CSR_BYTES} bytes), the most a certificate signing request may be; check that you passed the .csr file")]
    TooLarge {
        /// Bytes read (reading may stop just past the limit).
        len: usize,
    },
    /// The file is empty, or holds only whitespace.
    #[error("the file is empty; pass the certificate signing request the cluster team sent (PEM or DER)")]
    Empty,
    /// The file is neither DER nor PEM.
    #[error("this is not a certificate signing request: it is neither PEM (-----BEGIN CERTIFICATE REQUEST-----) nor DER; pass the .csr file the cluster team sent")]
    NotACsr,
    /// A PEM block could not be decoded (bad base64, a missing or mismatched END line).
    #[error("the PEM data cannot be decoded ({0}); the file was damaged in transit or edited, ask the cluster team to send it again")]
    BadPem(String),
    /// The file holds a PEM block that is not a request, such as a certificate or a key.
    #[error("this is a {label}, not a certificate signing request{hint}", hint = wrong_type_hint(label))]
    WrongPemType {
        /// The PEM label found, e.g. `CERTIFICATE` or `PRIVATE KEY`.
        label: String,
    },
    /// The file holds more than one request.
    #[error("the file holds {count} certificate signing requests; pass one request per file (sign-batch takes several files)")]
    MultipleRequests {
        /// How many requests were found.
        count: usize,
    },
    /// The DER is an X.509 certificate, not a request.
    #[error("this is an X.509 certificate, not a certificate signing request; ask the cluster team for the request (.csr) made with the intermediate key")]
    Certificate,
    /// The DER is not a well-formed PKCS#10 request (truncated, trailing bytes, bad fields).
    #[error("the certificate signing request is malformed: {0}; ask the cluster team to generate it again")]
    Malformed(String),
    /// The request's key is of a type rootvault does not sign (P-521, Ed25519, DSA, …).
    #[error("the request's key is {0}, which rootvault does not issue intermediates for; generate the intermediate key as ECDSA P-256, ECDSA P-384 or RSA (Istio accepts only these)")]
    UnsupportedKey(String),
    /// The request is signed with a broken hash (SHA-1, MD5, MD2, MD4).
    #[error("the request is signed with {0}, a broken hash; generate it again with SHA-256 or stronger (openssl req -sha256)")]
    WeakSignatureAlgorithm(String),
    /// The request is signed with an algorithm rootvault cannot verify.
    #[error("the request is signed with {0}, which rootvault cannot verify; generate it again with ecdsa-with-SHA256, ecdsa-with-SHA384 or sha256WithRSAEncryption")]
    UnsupportedSignatureAlgorithm(String),
    /// The self-signature does not verify with the request's own key.
    #[error("the request's signature does not verify with its own public key, so the file was altered or damaged; ask the cluster team to send it again")]
    BadSignature,
}

impl CsrError {
    /// Whether this is a refusal of the caller's input (exit code 3). Always true: a request
    /// that cannot be taken in is bad input, never a failure of the vault.
    pub fn is_input_rejection(&self) -> bool {
        true
    }
}

fn wrong_type_hint(label: &str) -> &'static str {
    if label.contains("PRIVATE KEY") {
        "; a private key must never leave the cluster: treat this key as exposed, make a new key and request there, and send only the request"
    } else if label.contains("CERTIFICATE") || label.contains("X509 CRL") {
        "; ask the cluster team for the request (.csr) made with the intermediate key"
    } else {
        "; pass the file that starts with -----BEGIN CERTIFICATE REQUEST-----"
    }
}

/// An extension the request asks for, shown to the operator and never copied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RequestedExtension {
    /// The extension's OID, dotted.
    pub oid: String,
    /// Its short name (`basicConstraints`), or the dotted OID when the name is not known.
    pub name: String,
    /// Whether the request marks it critical.
    pub critical: bool,
    /// A short rendering of the value, e.g. `CA:TRUE, pathlen:5` or `codeSigning`.
    pub value: String,
}

/// A certificate signing request that passed intake: one well-formed PKCS#10 request with a
/// supported key and a valid self-signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    der: Vec<u8>,
    public_key: PublicKey,
    subject: String,
    signature_algorithm: String,
    extensions: Vec<RequestedExtension>,
}

impl Csr {
    /// Takes in the bytes of a request file, PEM or DER, and checks it (see the module
    /// documentation for the checks and their order).
    pub fn intake(bytes: &[u8]) -> Result<Csr, CsrError> {
        if bytes.len() > MAX_CSR_BYTES {
            return Err(CsrError::TooLarge { len: bytes.len() });
        }
        let der = decode(bytes)?;
        let checked = check(&der)?;
        Ok(Csr { der, ..checked })
    }

    /// The request's DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the request's DER, lowercase hex.
    pub fn sha256_hex(&self) -> String {
        crate::keys::sha256_hex(&self.der)
    }

    /// The subject public key, from the request's own SubjectPublicKeyInfo.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The subject the request asks for, as `x509-parser` displays names (most significant
    /// attribute first, e.g. `C=GB, O=Example, CN=x`), or `""` when it is empty. For display
    /// only: the vault's policy decides the subject of what it signs.
    pub fn subject(&self) -> String {
        self.subject.clone()
    }

    /// The request's signature algorithm by name (`ecdsa-with-SHA256`), or its dotted OID.
    pub fn signature_algorithm(&self) -> String {
        self.signature_algorithm.clone()
    }

    /// The extensions the request asks for, in the order it lists them. For display only:
    /// none of them is ever copied into a certificate.
    pub fn requested_extensions(&self) -> Vec<RequestedExtension> {
        self.extensions.clone()
    }
}

/// Parses and checks the request in `der`; the result's `der` is left empty for the caller.
fn check(der: &[u8]) -> Result<Csr, CsrError> {
    let req = parse_one(der)?;
    let info = &req.certification_request_info;
    if info.version.0 != 0 {
        return Err(CsrError::Malformed(format!(
            "it has version {}, but PKCS#10 (RFC 2986) defines only version 1, encoded as 0",
            info.version.0
        )));
    }
    let public_key = identify_key(&info.subject_pki)?;
    let signature_algorithm = algorithm_name(&req.signature_algorithm.algorithm);
    if let Some(weak) = weak_hash(&req.signature_algorithm) {
        return Err(CsrError::WeakSignatureAlgorithm(weak));
    }
    verify(&req, &public_key, &signature_algorithm)?;
    Ok(Csr {
        der: Vec::new(),
        public_key,
        subject: info.subject.to_string(),
        signature_algorithm,
        extensions: requested_extensions(&req),
    })
}

/// The DER of the one request in `bytes`, from DER or PEM framing.
fn decode(bytes: &[u8]) -> Result<Vec<u8>, CsrError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CsrError::Empty);
    }
    if bytes[0] == 0x30 {
        return Ok(bytes.to_vec());
    }
    const BEGIN: &[u8] = b"-----BEGIN ";
    let begins = bytes.windows(BEGIN.len()).filter(|w| *w == BEGIN).count();
    if begins == 0 {
        return Err(CsrError::NotACsr);
    }
    let blocks = pem::parse_many(bytes).map_err(|e| CsrError::BadPem(e.to_string()))?;
    if blocks.len() < begins {
        return Err(CsrError::BadPem(
            "a -----BEGIN line has no matching -----END line".into(),
        ));
    }
    if let Some(other) = blocks.iter().find(|b| !REQUEST_LABELS.contains(&b.tag())) {
        return Err(CsrError::WrongPemType {
            label: other.tag().to_owned(),
        });
    }
    match blocks.len() {
        1 => Ok(blocks[0].contents().to_vec()),
        count => Err(CsrError::MultipleRequests { count }),
    }
}

/// Parses exactly one request from `der`; a certificate or a second request is named.
fn parse_one(der: &[u8]) -> Result<X509CertificationRequest<'_>, CsrError> {
    match X509CertificationRequest::from_der(der) {
        Ok(([], req)) => Ok(req),
        Ok((mut rest, _)) => {
            let trailing = rest.len();
            let mut count = 1;
            while let Ok((more, _)) = X509CertificationRequest::from_der(rest) {
                count += 1;
                rest = more;
            }
            if count > 1 {
                Err(CsrError::MultipleRequests { count })
            } else {
                Err(CsrError::Malformed(format!(
                    "{trailing} bytes follow the end of the request"
                )))
            }
        }
        Err(e) => {
            if X509Certificate::from_der(der).is_ok() {
                return Err(CsrError::Certificate);
            }
            Err(CsrError::Malformed(match e {
                nom::Err::Incomplete(_) => TRUNCATED.into(),
                nom::Err::Error(e) | nom::Err::Failure(e) => describe_parse_error(&e),
            }))
        }
    }
}

fn describe_parse_error(e: &X509Error) -> String {
    match e {
        // x509-parser reports truncation inside the outer SEQUENCE this way.
        X509Error::Der(BerError::Incomplete(_))
        | X509Error::NomError(nom::error::ErrorKind::Eof) => TRUNCATED.into(),
        other => format!("not a PKCS#10 request ({other})"),
    }
}

/// The subject key of a DER certificate (the root's, to lint a draft before the token is
/// opened), identified as a request's key is.
pub fn certificate_public_key(der: &[u8]) -> Result<PublicKey, CsrError> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| CsrError::Malformed(format!("the certificate does not parse ({e})")))?;
    identify_key(cert.public_key())
}

/// The key from a SubjectPublicKeyInfo, if it is one rootvault issues intermediates for.
fn identify_key(spki: &SubjectPublicKeyInfo<'_>) -> Result<PublicKey, CsrError> {
    let bits = &spki.subject_public_key;
    if bits.unused_bits != 0 {
        return Err(CsrError::Malformed(
            "the subjectPublicKey BIT STRING has unused bits".into(),
        ));
    }
    let raw: &[u8] = &bits.data;
    let alg_oid = spki.algorithm.algorithm.to_id_string();
    match alg_oid.as_str() {
        // id-ecPublicKey (RFC 5480)
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .filter(|p| p.tag() == Tag::Oid)
                .and_then(|p| p.as_oid().ok())
                .ok_or_else(|| {
                    CsrError::UnsupportedKey(
                        "an EC key with explicit curve parameters instead of a named curve".into(),
                    )
                })?;
            let (alg, name, field) = match curve.to_id_string().as_str() {
                "1.2.840.10045.3.1.7" => (KeyAlg::EcP256, "P-256", 32),
                "1.3.132.0.34" => (KeyAlg::EcP384, "P-384", 48),
                "1.3.132.0.35" => return Err(CsrError::UnsupportedKey("P-521".into())),
                "1.3.132.0.10" => return Err(CsrError::UnsupportedKey("secp256k1".into())),
                // The registry names no other curve (P-521 is its only other one), so the
                // OID is what there is to show.
                other => {
                    return Err(CsrError::UnsupportedKey(format!(
                        "an EC key on curve {other}"
                    )))
                }
            };
            match raw.first() {
                Some(0x04) if raw.len() == 1 + 2 * field => Ok(PublicKey::new(alg, raw.to_vec())),
                Some(0x02 | 0x03) if raw.len() == 1 + field => Err(CsrError::UnsupportedKey(
                    format!("{name} in compressed form (regenerate the request with the point uncompressed, OpenSSL's default)"),
                )),
                _ => Err(CsrError::Malformed(format!(
                    "the {name} public key is {} bytes, but an uncompressed {name} point is 0x04 followed by {} bytes",
                    raw.len(),
                    2 * field
                ))),
            }
        }
        // rsaEncryption (RFC 3279)
        "1.2.840.113549.1.1.1" => match spki.parsed() {
            Ok(ParsedKey::RSA(key)) => {
                let bits = modulus_bits(key.modulus)?;
                Ok(PublicKey::new(KeyAlg::Rsa { bits }, raw.to_vec()))
            }
            _ => Err(CsrError::Malformed(
                "the RSA public key is not a valid RSAPublicKey".into(),
            )),
        },
        "1.3.101.112" => Err(CsrError::UnsupportedKey("Ed25519".into())),
        "1.3.101.113" => Err(CsrError::UnsupportedKey("Ed448".into())),
        "1.3.101.110" => Err(CsrError::UnsupportedKey("X25519".into())),
        "1.3.101.111" => Err(CsrError::UnsupportedKey("X448".into())),
        "1.2.840.10040.4.1" => Err(CsrError::UnsupportedKey("DSA".into())),
        "1.2.840.113549.1.1.10" => Err(CsrError::UnsupportedKey(
            "an RSASSA-PSS key (an RSA key restricted to PSS; make a plain RSA key)".into(),
        )),
        other => Err(CsrError::UnsupportedKey(format!(
            "a key of algorithm {other}"
        ))),
    }
}

/// Significant bits of a DER INTEGER modulus.
fn modulus_bits(modulus: &[u8]) -> Result<u32, CsrError> {
    if modulus.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(CsrError::Malformed("the RSA modulus is negative".into()));
    }
    let significant = match modulus.iter().position(|&b| b != 0) {
        Some(i) => &modulus[i..],
        None => return Err(CsrError::Malformed("the RSA modulus is zero".into())),
    };
    let bits = significant.len() * 8 - significant[0].leading_zeros() as usize;
    u32::try_from(bits).map_err(|_| CsrError::Malformed("the RSA modulus is absurdly large".into()))
}

/// The name of a broken hash the signature algorithm uses, if it uses one.
fn weak_hash(alg: &AlgorithmIdentifier<'_>) -> Option<String> {
    let oid = alg.algorithm.to_id_string();
    let weak = matches!(
        oid.as_str(),
        "1.2.840.113549.1.1.2" // md2WithRSAEncryption
            | "1.2.840.113549.1.1.3" // md4WithRSAEncryption
            | "1.2.840.113549.1.1.4" // md5WithRSAEncryption
            | "1.2.840.113549.1.1.5" // sha1WithRSAEncryption
            | "1.3.14.3.2.25" // md5WithRSASignature
            | "1.3.14.3.2.29" // sha1WithRSASignature (OIW)
            | "1.2.840.10045.4.1" // ecdsa-with-SHA1
            | "1.2.840.10040.4.3" // dsa-with-sha1
    );
    if weak {
        return Some(algorithm_name(&alg.algorithm));
    }
    if oid == "1.2.840.113549.1.1.10" {
        // RSASSA-PSS: absent parameters mean SHA-1 (RFC 4055 section 3.1).
        let sha1 = match alg.parameters.as_ref() {
            None => true,
            Some(p) => RsaSsaPssParams::try_from(p)
                .map(|p| p.hash_algorithm_oid().to_id_string() == "1.3.14.3.2.26")
                .unwrap_or(false),
        };
        if sha1 {
            return Some("RSASSA-PSS with SHA-1".into());
        }
    }
    None
}

/// Verifies the request's self-signature with its own key.
fn verify(
    req: &X509CertificationRequest<'_>,
    key: &PublicKey,
    alg_name: &str,
) -> Result<(), CsrError> {
    if let KeyAlg::Rsa { bits } = key.alg() {
        if !RING_RSA_BITS.contains(&bits) {
            return verify_rsa_any_size(req, bits, alg_name);
        }
    }
    if req.signature_algorithm.algorithm.to_id_string() == "1.2.840.113549.1.1.10" {
        check_pss_parameters(&req.signature_algorithm)?;
    }
    match req.verify_signature() {
        Ok(()) => Ok(()),
        Err(X509Error::SignatureUnsupportedAlgorithm) => {
            Err(CsrError::UnsupportedSignatureAlgorithm(format!(
                "{alg_name} with an {} key",
                key.alg()
            )))
        }
        Err(_) => Err(CsrError::BadSignature),
    }
}

/// PKCS#1 v1.5 verification for RSA keys outside the range ring accepts (RSA-1024, say), so
/// that such a request is identified and refused by policy, with the reason, rather than
/// reported as a bad signature.
fn verify_rsa_any_size(
    req: &X509CertificationRequest<'_>,
    bits: u32,
    alg_name: &str,
) -> Result<(), CsrError> {
    let tbs = req.certification_request_info.raw;
    let (scheme, hashed) = match req.signature_algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.11" => (
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            Sha256::digest(tbs).to_vec(),
        ),
        "1.2.840.113549.1.1.12" => (
            rsa::Pkcs1v15Sign::new::<Sha384>(),
            Sha384::digest(tbs).to_vec(),
        ),
        "1.2.840.113549.1.1.13" => (
            rsa::Pkcs1v15Sign::new::<Sha512>(),
            Sha512::digest(tbs).to_vec(),
        ),
        _ => {
            return Err(CsrError::UnsupportedSignatureAlgorithm(format!(
                "{alg_name} with an rsa-{bits} key"
            )))
        }
    };
    let Ok(ParsedKey::RSA(parsed)) = req.certification_request_info.subject_pki.parsed() else {
        return Err(CsrError::Malformed(
            "the RSA public key is not a valid RSAPublicKey".into(),
        ));
    };
    let key = rsa::RsaPublicKey::new_with_max_size(
        rsa::BigUint::from_bytes_be(parsed.modulus),
        rsa::BigUint::from_bytes_be(parsed.exponent),
        bits as usize,
    )
    .map_err(|e| CsrError::Malformed(format!("the RSA public key is unusable: {e}")))?;
    key.verify(scheme, &hashed, &req.signature_value.data)
        .map_err(|_| CsrError::BadSignature)
}

/// The registry's short name of an OID (or OpenSSL's, for a few the registry lacks), or
/// the dotted OID.
fn algorithm_name(oid: &Oid<'_>) -> String {
    if let Ok(sn) = oid2sn(oid, oid_registry()) {
        return sn.to_owned();
    }
    let dotted = oid.to_id_string();
    match dotted.as_str() {
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "2.16.840.1.101.3.4.3.1" => "dsa_with_SHA224",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        _ => return dotted,
    }
    .to_owned()
}

/// Refuses RSASSA-PSS parameters that ring cannot verify: it needs MGF1 with the signing
/// hash and a salt as long as the hash.
fn check_pss_parameters(alg: &AlgorithmIdentifier<'_>) -> Result<(), CsrError> {
    let params = alg
        .parameters
        .as_ref()
        .and_then(|p| RsaSsaPssParams::try_from(p).ok())
        .ok_or_else(|| CsrError::Malformed("its RSASSA-PSS parameters are invalid".into()))?;
    let hash = params.hash_algorithm_oid().to_id_string();
    let (hash_name, hash_len) = match hash.as_str() {
        "2.16.840.1.101.3.4.2.1" => ("SHA-256", 32),
        "2.16.840.1.101.3.4.2.2" => ("SHA-384", 48),
        "2.16.840.1.101.3.4.2.3" => ("SHA-512", 64),
        other => {
            return Err(CsrError::UnsupportedSignatureAlgorithm(format!(
                "RSASSA-PSS with hash {other}"
            )))
        }
    };
    let mgf_hash = params
        .mask_gen_algorithm()
        .map(|m| m.hash.to_id_string())
        .map_err(|_| {
            CsrError::Malformed("its RSASSA-PSS mask generation parameters are invalid".into())
        })?;
    if mgf_hash != hash {
        return Err(CsrError::UnsupportedSignatureAlgorithm(format!(
            "RSASSA-PSS with {hash_name} but a mask generation function with hash {mgf_hash}"
        )));
    }
    if params.salt_length() != hash_len {
        return Err(CsrError::UnsupportedSignatureAlgorithm(format!(
            "RSASSA-PSS with {hash_name} and a {}-byte salt (rootvault verifies PSS only with a salt as long as the hash: openssl -sigopt rsa_pss_saltlen:digest)",
            params.salt_length()
        )));
    }
    Ok(())
}

fn requested_extensions(req: &X509CertificationRequest<'_>) -> Vec<RequestedExtension> {
    req.certification_request_info
        .iter_attributes()
        .filter_map(|attr| match attr.parsed_attribute() {
            ParsedCriAttribute::ExtensionRequest(r) => Some(r.extensions.iter()),
            _ => None,
        })
        .flatten()
        .map(|ext| RequestedExtension {
            oid: ext.oid.to_id_string(),
            name: algorithm_name(&ext.oid),
            critical: ext.critical,
            value: describe_extension(ext),
        })
        .collect()
}

fn describe_extension(ext: &X509Extension<'_>) -> String {
    match ext.parsed_extension() {
        ParsedExtension::BasicConstraints(bc) => {
            let mut s = format!("CA:{}", if bc.ca { "TRUE" } else { "FALSE" });
            if let Some(n) = bc.path_len_constraint {
                s.push_str(&format!(", pathlen:{n}"));
            }
            s
        }
        ParsedExtension::KeyUsage(ku) => ku.to_string(),
        ParsedExtension::ExtendedKeyUsage(eku) => {
            let mut names: Vec<String> = [
                (eku.any, "anyExtendedKeyUsage"),
                (eku.server_auth, "serverAuth"),
                (eku.client_auth, "clientAuth"),
                (eku.code_signing, "codeSigning"),
                (eku.email_protection, "emailProtection"),
                (eku.time_stamping, "timeStamping"),
                (eku.ocsp_signing, "OCSPSigning"),
            ]
            .into_iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| name.to_owned())
            .collect();
            names.extend(eku.other.iter().map(Oid::to_id_string));
            names.join(", ")
        }
        ParsedExtension::SubjectAlternativeName(san) => san
            .general_names
            .iter()
            .map(describe_general_name)
            .collect::<Vec<_>>()
            .join(", "),
        ParsedExtension::NameConstraints(nc) => {
            let list = |subtrees: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>| {
                subtrees
                    .iter()
                    .flatten()
                    .map(|s| describe_general_name(&s.base))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut parts = Vec::new();
            if nc.permitted_subtrees.is_some() {
                parts.push(format!("permitted: {}", list(&nc.permitted_subtrees)));
            }
            if nc.excluded_subtrees.is_some() {
                parts.push(format!("excluded: {}", list(&nc.excluded_subtrees)));
            }
            parts.join("; ")
        }
        ParsedExtension::SubjectKeyIdentifier(id) => hex::encode(id.0),
        ParsedExtension::ParseError { .. } => {
            format!("unparsable ({} bytes)", ext.value.len())
        }
        _ => format!("{} bytes", ext.value.len()),
    }
}

fn describe_general_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(s) => format!("DNS:{s}"),
        GeneralName::URI(s) => format!("URI:{s}"),
        GeneralName::RFC822Name(s) => format!("email:{s}"),
        GeneralName::IPAddress(b) => match b.len() {
            4 => format!("IP:{}", Ipv4Addr::new(b[0], b[1], b[2], b[3])),
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                format!("IP:{}", Ipv6Addr::from(a))
            }
            // Name constraints carry an address and a mask.
            8 => format!(
                "IP:{}/{}",
                Ipv4Addr::new(b[0], b[1], b[2], b[3]),
                Ipv4Addr::new(b[4], b[5], b[6], b[7])
            ),
            _ => format!("IP:{}", hex::encode(b)),
        },
        GeneralName::DirectoryName(dn) => format!("DirName:{dn}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use super::*;

    /// Runs `openssl` in `dir` and panics with its stderr if it fails.
    fn openssl(dir: &Path, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command is installed");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A fresh request made by `openssl req -new -nodes -subj /CN=x` with `extra` arguments
    /// (`-newkey …`, `-sha384`, `-addext …`), as PEM.
    fn openssl_csr(extra: &[&str]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            "req", "-new", "-nodes", "-keyout", "k.pem", "-out", "c.csr", "-subj", "/CN=x",
        ];
        args.extend_from_slice(extra);
        openssl(dir.path(), &args);
        std::fs::read(dir.path().join("c.csr")).unwrap()
    }

    fn ec_csr(curve: &str, extra: &[&str]) -> Vec<u8> {
        let curve = format!("ec_paramgen_curve:{curve}");
        let mut args = vec!["-newkey", "ec", "-pkeyopt", curve.as_str()];
        args.extend_from_slice(extra);
        openssl_csr(&args)
    }

    fn pem_to_der(pem: &[u8]) -> Vec<u8> {
        pem::parse(pem).unwrap().into_contents()
    }

    /// The DER SubjectPublicKeyInfo inside a request, as the request encodes it.
    fn spki_raw(csr: &Csr) -> Vec<u8> {
        let (_, req) = X509CertificationRequest::from_der(csr.der()).unwrap();
        req.certification_request_info.subject_pki.raw.to_vec()
    }

    /// What the confirmation page of cli.md tells the cluster team to compute:
    /// `openssl req -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`.
    fn openssl_spki_sha256(pem: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.csr"), pem).unwrap();
        openssl(
            dir.path(),
            &[
                "req", "-in", "c.csr", "-pubkey", "-noout", "-out", "pub.pem",
            ],
        );
        openssl(
            dir.path(),
            &[
                "pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der",
            ],
        );
        crate::keys::sha256_hex(&std::fs::read(dir.path().join("pub.der")).unwrap())
    }

    fn flip_near_end(mut der: Vec<u8>) -> Vec<u8> {
        let i = der.len() - 3;
        der[i] ^= 0x01;
        der
    }

    #[test]
    fn a_p384_key_in_a_request_signed_with_sha256_comes_out_as_p384() {
        let pem = ec_csr("P-384", &["-sha256"]);
        let csr = Csr::intake(&pem).unwrap();
        assert_eq!(csr.signature_algorithm(), "ecdsa-with-SHA256");
        assert_eq!(csr.public_key().alg(), KeyAlg::EcP384);
        assert_eq!(csr.public_key().raw().len(), 97);
    }

    #[test]
    fn a_p384_request_signed_with_sha384_is_taken_in() {
        let csr = Csr::intake(&ec_csr("P-384", &["-sha384"])).unwrap();
        assert_eq!(csr.signature_algorithm(), "ecdsa-with-SHA384");
        assert_eq!(csr.public_key().alg(), KeyAlg::EcP384);
    }

    #[test]
    fn a_p256_request_is_taken_in_with_its_subject_and_digest() {
        let pem = ec_csr("P-256", &[]);
        let csr = Csr::intake(&pem).unwrap();
        assert_eq!(csr.public_key().alg(), KeyAlg::EcP256);
        assert_eq!(csr.public_key().raw().len(), 65);
        assert_eq!(csr.subject(), "CN=x");
        assert_eq!(csr.der(), pem_to_der(&pem).as_slice());
        assert_eq!(
            csr.sha256_hex(),
            hex::encode(Sha256::digest(pem_to_der(&pem)))
        );
        assert!(csr.requested_extensions().is_empty());
    }

    #[test]
    fn rsa_2048_and_4096_requests_report_their_modulus_size() {
        let csr = Csr::intake(&openssl_csr(&["-newkey", "rsa:2048"])).unwrap();
        assert_eq!(csr.public_key().alg(), KeyAlg::Rsa { bits: 2048 });
        assert_eq!(csr.signature_algorithm(), "sha256WithRSAEncryption");
        let csr = Csr::intake(&openssl_csr(&["-newkey", "rsa:4096"])).unwrap();
        assert_eq!(csr.public_key().alg(), KeyAlg::Rsa { bits: 4096 });
    }

    #[test]
    fn an_rsa_1024_request_is_identified_and_left_for_policy_to_refuse() {
        let pem = openssl_csr(&["-newkey", "rsa:1024"]);
        let csr = Csr::intake(&pem).unwrap();
        assert_eq!(csr.public_key().alg(), KeyAlg::Rsa { bits: 1024 });
        // The fallback verifier really verifies: a damaged RSA-1024 request is refused.
        let damaged = flip_near_end(pem_to_der(&pem));
        assert_eq!(Csr::intake(&damaged), Err(CsrError::BadSignature));
    }

    #[test]
    fn an_rsa_1024_request_signed_with_sha384_or_sha512_is_verified_by_the_fallback_too() {
        for (digest, name) in [
            ("-sha384", "sha384WithRSAEncryption"),
            ("-sha512", "sha512WithRSAEncryption"),
        ] {
            let pem = openssl_csr(&["-newkey", "rsa:1024", digest]);
            let csr = Csr::intake(&pem).unwrap();
            assert_eq!(
                (csr.public_key().alg(), csr.signature_algorithm().as_str()),
                (KeyAlg::Rsa { bits: 1024 }, name)
            );
            let damaged = flip_near_end(pem_to_der(&pem));
            assert_eq!(Csr::intake(&damaged), Err(CsrError::BadSignature));
        }
    }

    #[test]
    fn signature_algorithms_the_registry_does_not_name_are_named_as_openssl_names_them() {
        assert_eq!(
            Csr::intake(&openssl_csr(&["-newkey", "rsa:2048", "-sha224"])),
            Err(CsrError::UnsupportedSignatureAlgorithm(
                "sha224WithRSAEncryption with an rsa-2048 key".into()
            ))
        );
        // A request that claims a DSA signature algorithm over an EC key.
        for (last, name) in [(1u8, "dsa_with_SHA224"), (2, "dsa_with_SHA256")] {
            let der = pem_to_der(&ec_csr("P-256", &[]));
            let csr = tlvs(&der);
            let parts = tlvs(csr[0].1);
            let oid = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, last];
            let bad = tlv(
                0x30,
                &[
                    tlv(parts[0].0, parts[0].1),
                    tlv(0x30, &tlv(0x06, &oid)),
                    tlv(parts[2].0, parts[2].1),
                ]
                .concat(),
            );
            assert_eq!(
                Csr::intake(&bad),
                Err(CsrError::UnsupportedSignatureAlgorithm(format!(
                    "{name} with an ecdsa-p256 key"
                )))
            );
        }
    }

    #[test]
    fn an_odd_sized_rsa_modulus_counts_only_significant_bits() {
        let csr = Csr::intake(&openssl_csr(&["-newkey", "rsa:2047"])).unwrap();
        assert_eq!(csr.public_key().alg(), KeyAlg::Rsa { bits: 2047 });
    }

    #[test]
    fn extracted_keys_encode_to_the_requests_own_spki_bytes() {
        for pem in [
            ec_csr("P-256", &[]),
            ec_csr("P-384", &["-sha256"]),
            openssl_csr(&["-newkey", "rsa:2048"]),
        ] {
            let csr = Csr::intake(&pem).unwrap();
            assert_eq!(
                csr.public_key().spki_der(),
                spki_raw(&csr),
                "{}",
                csr.public_key().alg()
            );
            assert_eq!(
                csr.public_key().spki_sha256_hex(),
                openssl_spki_sha256(&pem)
            );
        }
    }

    #[test]
    fn a_p521_request_is_refused_as_an_unsupported_key() {
        assert_eq!(
            Csr::intake(&ec_csr("P-521", &[])),
            Err(CsrError::UnsupportedKey("P-521".into()))
        );
    }

    #[test]
    fn an_ed25519_request_is_refused_as_an_unsupported_key() {
        assert_eq!(
            Csr::intake(&openssl_csr(&["-newkey", "ed25519"])),
            Err(CsrError::UnsupportedKey("Ed25519".into()))
        );
    }

    #[test]
    fn an_ec_key_on_a_curve_not_supported_is_named_by_its_oid() {
        assert_eq!(
            Csr::intake(&ec_csr("prime192v1", &[])),
            Err(CsrError::UnsupportedKey(
                "an EC key on curve 1.2.840.10045.3.1.1".into()
            ))
        );
    }

    /// DER: each (tag, content) of a run of TLVs (short or long lengths).
    fn tlvs(mut d: &[u8]) -> Vec<(u8, &[u8])> {
        let mut out = Vec::new();
        while !d.is_empty() {
            let (tag, first) = (d[0], d[1]);
            let (len, header) = if first < 0x80 {
                (usize::from(first), 2)
            } else {
                let n = usize::from(first & 0x7f);
                let len = d[2..2 + n].iter().fold(0, |a, b| a << 8 | usize::from(*b));
                (len, 2 + n)
            };
            out.push((tag, &d[header..header + len]));
            d = &d[header + len..];
        }
        out
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let len = content.len();
        let mut out = vec![tag];
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }

    /// A P-256 request with its point replaced by `point`, every length re-encoded (the
    /// signature is not checked before the key is read).
    fn p256_csr_with_point(point: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
        let der = pem_to_der(&ec_csr("P-256", &[]));
        let csr = tlvs(&der);
        let parts = tlvs(csr[0].1);
        let info = tlvs(parts[0].1);
        let spki = tlvs(info[2].1);
        let bits = spki[1].1;
        assert_eq!((bits[0], bits[1], bits.len()), (0, 0x04, 66));
        let bits = [&[0][..], &point(&bits[1..])].concat();
        let spki = tlv(
            0x30,
            &[tlv(spki[0].0, spki[0].1), tlv(0x03, &bits)].concat(),
        );
        let info: Vec<u8> = [
            tlv(info[0].0, info[0].1),
            tlv(info[1].0, info[1].1),
            spki,
            tlv(info[3].0, info[3].1),
        ]
        .concat();
        tlv(
            0x30,
            &[
                tlv(0x30, &info),
                tlv(parts[1].0, parts[1].1),
                tlv(parts[2].0, parts[2].1),
            ]
            .concat(),
        )
    }

    #[test]
    fn a_point_is_read_only_in_its_exact_uncompressed_length() {
        let malformed = |n: usize| {
            Err(CsrError::Malformed(format!(
                "the P-256 public key is {n} bytes, but an uncompressed P-256 point is 0x04 followed by 64 bytes"
            )))
        };
        // 0x04 and one byte short, or one byte long.
        assert_eq!(
            Csr::intake(&p256_csr_with_point(|p| p[..64].to_vec())),
            malformed(64)
        );
        assert_eq!(
            Csr::intake(&p256_csr_with_point(|p| [p, &[0]].concat())),
            malformed(66)
        );
        // 0x02 with x alone is the compressed form, said as such; any other length is not.
        let compressed = |len: usize| move |p: &[u8]| [&[0x02][..], &p[1..len]].concat();
        assert_eq!(
            Csr::intake(&p256_csr_with_point(compressed(33))),
            Err(CsrError::UnsupportedKey(
                "P-256 in compressed form (regenerate the request with the point uncompressed, OpenSSL's default)".into()
            ))
        );
        assert_eq!(
            Csr::intake(&p256_csr_with_point(compressed(32))),
            malformed(32)
        );
    }

    #[test]
    fn an_ec_key_with_explicit_curve_parameters_is_refused() {
        let err =
            Csr::intake(&ec_csr("P-256", &["-pkeyopt", "ec_param_enc:explicit"])).unwrap_err();
        assert!(
            matches!(err, CsrError::UnsupportedKey(ref s) if s.contains("explicit")),
            "{err:?}"
        );
    }

    #[test]
    fn a_sha1_signed_request_is_refused_as_weak() {
        assert_eq!(
            Csr::intake(&ec_csr("P-256", &["-sha1"])),
            Err(CsrError::WeakSignatureAlgorithm("ecdsa-with-SHA1".into()))
        );
        assert_eq!(
            Csr::intake(&openssl_csr(&["-newkey", "rsa:2048", "-sha1"])),
            Err(CsrError::WeakSignatureAlgorithm(
                "sha1WithRSAEncryption".into()
            ))
        );
    }

    #[test]
    fn an_md5_signed_request_is_refused_as_weak() {
        assert_eq!(
            Csr::intake(&openssl_csr(&["-newkey", "rsa:2048", "-md5"])),
            Err(CsrError::WeakSignatureAlgorithm(
                "md5WithRSAEncryption".into()
            ))
        );
    }

    #[test]
    fn an_rsa_pss_request_with_a_digest_length_salt_is_verified() {
        let pss = [
            "-newkey",
            "rsa:2048",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sha256",
        ];
        let csr = Csr::intake(&openssl_csr(
            &[&pss[..], &["-sigopt", "rsa_pss_saltlen:digest"]].concat(),
        ))
        .unwrap();
        assert_eq!(csr.public_key().alg(), KeyAlg::Rsa { bits: 2048 });
        assert_eq!(csr.signature_algorithm(), "rsassa-pss");
        // OpenSSL's default salt is as long as possible, which ring cannot verify: that is
        // said, rather than calling the signature bad.
        let err = Csr::intake(&openssl_csr(&pss)).unwrap_err();
        assert!(
            matches!(err, CsrError::UnsupportedSignatureAlgorithm(ref s) if s.contains("222-byte salt")),
            "{err:?}"
        );
    }

    #[test]
    fn requested_ca_extensions_are_shown_as_asked() {
        let csr = Csr::intake(&ec_csr(
            "P-256",
            &[
                "-addext",
                "basicConstraints=critical,CA:TRUE,pathlen:5",
                "-addext",
                "extendedKeyUsage=codeSigning",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-addext",
                "subjectAltName=DNS:evil.example,URI:spiffe://cluster.local/ns/x,IP:10.0.0.1",
            ],
        ))
        .unwrap();
        let ext = csr.requested_extensions();
        let find = |name: &str| ext.iter().find(|e| e.name == name).unwrap().clone();
        assert_eq!(
            find("basicConstraints"),
            RequestedExtension {
                oid: "2.5.29.19".into(),
                name: "basicConstraints".into(),
                critical: true,
                value: "CA:TRUE, pathlen:5".into(),
            }
        );
        let eku = find("extendedKeyUsage");
        assert_eq!((eku.critical, eku.value.as_str()), (false, "codeSigning"));
        assert_eq!(find("keyUsage").value, "Key Cert Sign, CRL Sign");
        assert_eq!(
            find("subjectAltName").value,
            "DNS:evil.example, URI:spiffe://cluster.local/ns/x, IP:10.0.0.1"
        );
    }

    #[test]
    fn name_constraints_key_ids_and_unparsable_extensions_are_shown_as_asked() {
        let csr = Csr::intake(&ec_csr(
            "P-256",
            &[
                "-addext",
                "nameConstraints=critical,permitted;DNS:a.example,permitted;IP:10.0.0.0/255.0.0.0,excluded;DNS:b.example",
                "-addext",
                "subjectKeyIdentifier=0102a0",
                "-addext",
                "subjectAltName=IP:2001:db8::1",
                "-addext",
                "2.5.29.15=DER:0500",
            ],
        ))
        .unwrap();
        let ext = csr.requested_extensions();
        let find = |name: &str| ext.iter().find(|e| e.name == name).unwrap().value.clone();
        assert_eq!(
            find("nameConstraints"),
            "permitted: DNS:a.example, IP:10.0.0.0/255.0.0.0; excluded: DNS:b.example"
        );
        assert_eq!(find("subjectAltName"), "IP:2001:db8::1");
        assert_eq!(find("subjectKeyIdentifier"), "0102a0");
        assert_eq!(find("keyUsage"), "unparsable (2 bytes)");
    }

    #[test]
    fn a_multi_attribute_subject_is_shown_most_significant_first() {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-new",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-keyout",
                "k.pem",
                "-out",
                "c.csr",
                "-subj",
                "/C=GB/O=Example/CN=x",
            ],
        );
        let csr = Csr::intake(&std::fs::read(dir.path().join("c.csr")).unwrap()).unwrap();
        assert_eq!(csr.subject(), "C=GB, O=Example, CN=x");
    }

    #[test]
    fn an_empty_subject_is_shown_as_an_empty_string() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let der = params.serialize_request(&key).unwrap().der().to_vec();
        let csr = Csr::intake(&der).unwrap();
        assert_eq!(csr.subject(), "");
        assert_eq!(csr.public_key().alg(), KeyAlg::EcP256);
    }

    #[test]
    fn der_pem_and_the_old_pem_label_give_the_same_request() {
        let pem = ec_csr("P-256", &[]);
        let der = pem_to_der(&pem);
        let from_pem = Csr::intake(&pem).unwrap();
        assert_eq!(Csr::intake(&der).unwrap(), from_pem);
        let old = pem::encode(&pem::Pem::new("NEW CERTIFICATE REQUEST", der.clone()));
        assert_eq!(Csr::intake(old.as_bytes()).unwrap(), from_pem);
        let padded = format!("\n\n  {}\r\n\n", String::from_utf8(pem.clone()).unwrap());
        assert_eq!(Csr::intake(padded.as_bytes()).unwrap(), from_pem);
        let crlf = String::from_utf8(pem).unwrap().replace('\n', "\r\n");
        assert_eq!(Csr::intake(crlf.as_bytes()).unwrap(), from_pem);
    }

    #[test]
    fn openssls_text_dump_before_the_pem_block_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-new",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-keyout",
                "k.pem",
                "-out",
                "c.csr",
                "-subj",
                "/CN=x",
                "-text",
            ],
        );
        let bytes = std::fs::read(dir.path().join("c.csr")).unwrap();
        assert!(bytes.starts_with(b"Certificate Request:"));
        assert_eq!(Csr::intake(&bytes).unwrap().subject(), "CN=x");
    }

    #[test]
    fn garbage_is_refused_as_not_a_csr() {
        assert_eq!(
            Csr::intake(b"hello, this is not a request\n"),
            Err(CsrError::NotACsr)
        );
        assert_eq!(
            Csr::intake(&[0xff, 0xfe, 0x00, 0x01]),
            Err(CsrError::NotACsr)
        );
    }

    #[test]
    fn an_empty_or_blank_file_is_refused_as_empty() {
        assert_eq!(Csr::intake(b""), Err(CsrError::Empty));
        assert_eq!(Csr::intake(b" \n\t\r\n"), Err(CsrError::Empty));
    }

    #[test]
    fn a_file_over_64_kib_is_refused_before_parsing() {
        let mut big = ec_csr("P-256", &[]);
        big.resize(65 * 1024, b'\n');
        assert_eq!(
            Csr::intake(&big),
            Err(CsrError::TooLarge { len: 65 * 1024 })
        );
        // Exactly the limit is still read (and here found to be garbage).
        assert_eq!(
            Csr::intake(&vec![b'x'; MAX_CSR_BYTES]),
            Err(CsrError::NotACsr)
        );
    }

    #[test]
    fn truncated_der_is_refused_as_malformed() {
        let der = pem_to_der(&ec_csr("P-256", &[]));
        for cut in [1, 10, der.len() / 2, der.len() - 1] {
            let err = Csr::intake(&der[..cut]).unwrap_err();
            assert!(
                matches!(err, CsrError::Malformed(_)),
                "cut at {cut}: {err:?}"
            );
        }
        let err = Csr::intake(&der[..der.len() - 1]).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn der_garbage_and_trailing_bytes_are_refused_as_malformed() {
        assert!(matches!(
            Csr::intake(&[0x30, 0x03, 0x02, 0x01, 0x00]),
            Err(CsrError::Malformed(_))
        ));
        let mut der = pem_to_der(&ec_csr("P-256", &[]));
        der.push(0x00);
        assert_eq!(
            Csr::intake(&der),
            Err(CsrError::Malformed(
                "1 bytes follow the end of the request".into()
            ))
        );
    }

    #[test]
    fn two_requests_in_one_file_are_refused() {
        let a = ec_csr("P-256", &[]);
        let b = ec_csr("P-384", &[]);
        let both = [a.clone(), b.clone()].concat();
        assert_eq!(
            Csr::intake(&both),
            Err(CsrError::MultipleRequests { count: 2 })
        );
        let der = [pem_to_der(&a), pem_to_der(&b)].concat();
        assert_eq!(
            Csr::intake(&der),
            Err(CsrError::MultipleRequests { count: 2 })
        );
    }

    fn self_signed_certificate() -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-new",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-keyout",
                "k.pem",
                "-out",
                "c.pem",
                "-subj",
                "/CN=x",
                "-days",
                "1",
            ],
        );
        let pem = std::fs::read(dir.path().join("c.pem")).unwrap();
        let der = pem_to_der(&pem);
        (pem, der)
    }

    #[test]
    fn a_certificate_is_recognised_as_pem_and_as_der() {
        let (pem, der) = self_signed_certificate();
        assert_eq!(
            Csr::intake(&pem),
            Err(CsrError::WrongPemType {
                label: "CERTIFICATE".into()
            })
        );
        assert_eq!(
            Csr::intake(&pem).unwrap_err().to_string(),
            "this is a CERTIFICATE, not a certificate signing request; ask the cluster team for the request (.csr) made with the intermediate key"
        );
        assert_eq!(Csr::intake(&der), Err(CsrError::Certificate));
        // A certificate wrapped in a request label is still a certificate.
        let disguised = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der));
        assert_eq!(
            Csr::intake(disguised.as_bytes()),
            Err(CsrError::Certificate)
        );
    }

    #[test]
    fn a_private_key_is_refused_with_a_warning_even_beside_a_request() {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-new",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-keyout",
                "k.pem",
                "-out",
                "c.csr",
                "-subj",
                "/CN=x",
            ],
        );
        let key = std::fs::read(dir.path().join("k.pem")).unwrap();
        let csr = std::fs::read(dir.path().join("c.csr")).unwrap();
        let err = Csr::intake(&[csr, key].concat()).unwrap_err();
        assert_eq!(
            err,
            CsrError::WrongPemType {
                label: "PRIVATE KEY".into()
            }
        );
        assert!(err.to_string().contains("never leave the cluster"), "{err}");
    }

    #[test]
    fn bad_base64_and_broken_framing_are_refused_as_bad_pem() {
        let bad = b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB!!!not*base64\n-----END CERTIFICATE REQUEST-----\n";
        assert!(matches!(Csr::intake(bad), Err(CsrError::BadPem(_))));
        let pem = String::from_utf8(ec_csr("P-256", &[])).unwrap();
        let no_end = pem.replace("-----END CERTIFICATE REQUEST-----", "");
        assert!(matches!(
            Csr::intake(no_end.as_bytes()),
            Err(CsrError::BadPem(_))
        ));
        let mismatched = pem.replace(
            "-----END CERTIFICATE REQUEST-----",
            "-----END CERTIFICATE-----",
        );
        assert!(matches!(
            Csr::intake(mismatched.as_bytes()),
            Err(CsrError::BadPem(_))
        ));
    }

    #[test]
    fn a_flipped_signature_byte_is_refused_as_a_bad_signature() {
        for pem in [ec_csr("P-256", &[]), openssl_csr(&["-newkey", "rsa:2048"])] {
            let damaged = flip_near_end(pem_to_der(&pem));
            assert_eq!(Csr::intake(&damaged), Err(CsrError::BadSignature));
        }
    }

    #[test]
    fn a_changed_subject_breaks_the_signature() {
        let mut der = pem_to_der(&ec_csr("P-256", &[]));
        let at = der
            .windows(3)
            .position(|w| w == [0x0c, 0x01, b'x'])
            .unwrap();
        der[at + 2] = b'y';
        assert_eq!(Csr::intake(&der), Err(CsrError::BadSignature));
    }

    #[test]
    fn every_refusal_is_an_input_rejection_with_a_lower_case_message() {
        let all = [
            CsrError::TooLarge { len: 70000 },
            CsrError::Empty,
            CsrError::NotACsr,
            CsrError::BadPem("x".into()),
            CsrError::WrongPemType { label: "X".into() },
            CsrError::MultipleRequests { count: 2 },
            CsrError::Certificate,
            CsrError::Malformed("x".into()),
            CsrError::UnsupportedKey("x".into()),
            CsrError::WeakSignatureAlgorithm("x".into()),
            CsrError::UnsupportedSignatureAlgorithm("x".into()),
            CsrError::BadSignature,
        ];
        for e in all {
            let msg = e.to_string();
            assert!(e.is_input_rejection());
            assert!(msg.starts_with(|c: char| c.is_lowercase()), "{msg}");
            assert!(!msg.ends_with('.'), "{msg}");
            assert!(msg.contains(';'), "no hint in: {msg}");
        }
    }
}
